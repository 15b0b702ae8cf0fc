-- Imports too large for one request are committed by the job worker: the
-- rows to write are staged when the import is queued, and the job applies
-- them in batches like any other long job.
ALTER TABLE jobs DROP CONSTRAINT jobs_kind_known;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_known CHECK (kind IN ('orders_bulk', 'products_bulk', 'import'));

-- An import is 'running' while its job applies it, and 'stopped' when the
-- job was cancelled or failed part way (the batches it applied stay).
ALTER TABLE imports DROP CONSTRAINT imports_committed_has_set;
ALTER TABLE imports DROP CONSTRAINT imports_status_known;
ALTER TABLE imports ADD CONSTRAINT imports_status_known
    CHECK (status IN ('uploaded', 'running', 'committed', 'stopped'));
ALTER TABLE imports ADD CONSTRAINT imports_committed_has_set
    CHECK ((status <> 'uploaded') = (change_set_id IS NOT NULL));
-- The job that applies the import, when it ran as one.
ALTER TABLE imports ADD COLUMN job_id BIGINT REFERENCES jobs (id) ON DELETE SET NULL;
CREATE UNIQUE INDEX imports_job_idx ON imports (job_id) WHERE job_id IS NOT NULL;
-- Rows the commit left out for their errors (downloadable to fix), and what
-- it wrote. A job adds to the written counts batch by batch, in the
-- transaction of the batch.
ALTER TABLE imports ADD COLUMN invalid_rows INTEGER NOT NULL DEFAULT 0
    CONSTRAINT imports_invalid_rows_nonnegative CHECK (invalid_rows >= 0);
ALTER TABLE imports ADD COLUMN created_rows INTEGER NOT NULL DEFAULT 0
    CONSTRAINT imports_created_rows_nonnegative CHECK (created_rows >= 0);
ALTER TABLE imports ADD COLUMN updated_rows INTEGER NOT NULL DEFAULT 0
    CONSTRAINT imports_updated_rows_nonnegative CHECK (updated_rows >= 0);
-- Imports committed before this count existed said how many rows they left
-- out in their change set's summary ("; 12 rows with errors not imported").
UPDATE imports i
   SET invalid_rows = replace(substring(c.summary FROM '; ([0-9,]+) rows? with errors not imported'), ',', '')::INTEGER
  FROM change_sets c
 WHERE c.id = i.change_set_id AND c.summary ~ '; [0-9,]+ rows? with errors not imported';

-- The rows a queued import writes, as its dry run planned them: a new
-- record (record_id NULL), or an update of the record the key matched at
-- the version the dry run saw. The job's targets are these rows' ids.
CREATE TABLE import_rows (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    import_id    BIGINT NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    -- The row's number in the file.
    line         BIGINT NOT NULL,
    -- The email or SKU.
    key          TEXT NOT NULL,
    name         TEXT NOT NULL,
    price_cents  BIGINT,
    stock        INTEGER,
    record_id    BIGINT,
    version      INTEGER,
    CONSTRAINT import_rows_update_has_version CHECK ((record_id IS NULL) = (version IS NULL))
);
CREATE INDEX import_rows_import_idx ON import_rows (import_id);

-- The import follows its job to the end, whichever way the job ends
-- (finished by the worker, cancelled from its page before it started, or
-- failed), so the import page never says "running" for a job that is over.
-- Its staged rows are then of no further use: what was written is in the
-- tables and the audit log.
CREATE FUNCTION imports_follow_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE imports
       SET status = CASE NEW.state WHEN 'done' THEN 'committed' ELSE 'stopped' END
     WHERE job_id = NEW.id AND status = 'running';
    DELETE FROM import_rows WHERE import_id IN (SELECT id FROM imports WHERE job_id = NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_imports_follow AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (NEW.kind = 'import' AND NEW.state IN ('done', 'failed', 'cancelled')
                       AND OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION imports_follow_job();
