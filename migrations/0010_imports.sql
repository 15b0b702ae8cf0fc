-- Uploaded import files, kept in the database (not on one server's disk) so
-- that the mapping, preview and commit pages work on any web process. A file
-- is kept as uploaded; every page parses it again with the mapping chosen.
CREATE TABLE imports (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    staff_id       BIGINT REFERENCES staff (id) ON DELETE SET NULL,
    target         TEXT NOT NULL CONSTRAINT imports_target_known CHECK (target IN ('users', 'products')),
    file_name      TEXT NOT NULL CONSTRAINT imports_file_name_size CHECK (length(file_name) BETWEEN 1 AND 255),
    bytes          BYTEA NOT NULL CONSTRAINT imports_bytes_size CHECK (length(bytes) <= 20 * 1024 * 1024),
    -- The worksheet of an XLSX file the rows are read from; NULL for CSV.
    sheet          TEXT,
    -- Field name -> column index, e.g. {"email": 0, "name": 2}; NULL until
    -- chosen, when it is guessed from the headers.
    mapping        JSONB,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    status         TEXT NOT NULL DEFAULT 'uploaded' CONSTRAINT imports_status_known CHECK (status IN ('uploaded', 'committed')),
    change_set_id  BIGINT REFERENCES change_sets (id),
    CONSTRAINT imports_committed_has_set CHECK ((status = 'committed') = (change_set_id IS NOT NULL))
);
-- Pruning old uploads reads them by age.
CREATE INDEX imports_uploaded_at_idx ON imports (created_at) WHERE status = 'uploaded';
