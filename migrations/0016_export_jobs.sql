-- Large exports run as jobs: the worker writes the file batch by batch into
-- the database, so whichever instance serves the download has all of it.
ALTER TABLE jobs DROP CONSTRAINT jobs_kind_known;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_known CHECK (kind IN ('orders_bulk', 'products_bulk', 'import', 'export'));

-- One export job's file: what it is called, how far its rows got, and until
-- when it may be downloaded.
CREATE TABLE export_files (
    job_id      BIGINT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    format      TEXT NOT NULL CONSTRAINT export_files_format_known CHECK (format IN ('csv', 'xlsx')),
    filename    TEXT NOT NULL CONSTRAINT export_files_filename_present CHECK (btrim(filename) <> '' AND length(filename) <= 200),
    -- The sort value and id of the last row written; the next batch starts after it.
    after_value TEXT,
    after_id    BIGINT,
    -- The next chunk's number.
    next_seq    INTEGER NOT NULL DEFAULT 0 CONSTRAINT export_files_next_seq_nonnegative CHECK (next_seq >= 0),
    -- Set when the file is complete: its length in bytes.
    size        BIGINT CONSTRAINT export_files_size_nonnegative CHECK (size >= 0),
    -- The file is deleted once this has passed.
    expires_at  TIMESTAMPTZ,
    deleted_at  TIMESTAMPTZ
);
CREATE INDEX export_files_expiring_idx ON export_files (expires_at) WHERE deleted_at IS NULL;

-- The file's bytes in order. An XLSX workbook can only be compressed once
-- every row is known, so its rows are kept as typed cells ('rows') until the
-- last batch, then written out as the file ('file'); a CSV file is written
-- as 'file' chunks directly.
CREATE TABLE export_chunks (
    job_id BIGINT NOT NULL REFERENCES export_files (job_id) ON DELETE CASCADE,
    part   TEXT NOT NULL CONSTRAINT export_chunks_part_known CHECK (part IN ('rows', 'file')),
    seq    INTEGER NOT NULL CONSTRAINT export_chunks_seq_nonnegative CHECK (seq >= 0),
    bytes  BYTEA NOT NULL,
    CONSTRAINT export_chunks_pkey PRIMARY KEY (job_id, part, seq)
);
