-- Long jobs: bulk actions too large for one request run in batches by a
-- worker inside the server. A job snapshots its targets when it is queued
-- and keeps a cursor over them (ordered by id): each batch changes its rows
-- and moves the cursor in one transaction, so a job is never half-applied
-- and resumes from its last committed batch after a restart.
CREATE TABLE jobs (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             TEXT NOT NULL CONSTRAINT jobs_kind_known CHECK (kind IN ('orders_bulk', 'products_bulk')),
    staff_id         BIGINT REFERENCES staff (id) ON DELETE SET NULL,
    -- What it does, in a sentence ("Mark as shipped: 100,000 orders").
    summary          TEXT NOT NULL CONSTRAINT jobs_summary_present CHECK (btrim(summary) <> '' AND length(summary) <= 500),
    params           JSONB NOT NULL,
    state            TEXT NOT NULL DEFAULT 'queued'
                     CONSTRAINT jobs_state_known CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    total            BIGINT NOT NULL CONSTRAINT jobs_total_nonnegative CHECK (total >= 0),
    -- Targets dealt with (changed, already as asked, or skipped).
    done             BIGINT NOT NULL DEFAULT 0,
    changed          BIGINT NOT NULL DEFAULT 0,
    skipped          BIGINT NOT NULL DEFAULT 0,
    -- Why targets were skipped: [{"reason": ..., "count": n}], at most 20 reasons.
    skipped_reasons  JSONB NOT NULL DEFAULT '[]',
    -- The last target id dealt with; the next batch starts after it.
    cursor           BIGINT NOT NULL DEFAULT 0,
    error            TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at       TIMESTAMPTZ,
    heartbeat_at     TIMESTAMPTZ,
    finished_at      TIMESTAMPTZ,
    -- The server instance working on it; another takes over when its heartbeat stops.
    claimed_by       TEXT,
    cancel_requested BOOLEAN NOT NULL DEFAULT false,
    -- Every batch's audit entries are filed under this one change set, so the
    -- whole job can be reviewed and undone as one bulk action.
    change_set_id    BIGINT REFERENCES change_sets (id),
    CONSTRAINT jobs_counts_consistent CHECK (done >= 0 AND done <= total AND changed >= 0 AND skipped >= 0
                                             AND changed + skipped <= done),
    CONSTRAINT jobs_finished_when_over CHECK ((finished_at IS NOT NULL) = (state IN ('done', 'failed', 'cancelled')))
);
CREATE INDEX jobs_waiting_idx ON jobs (id) WHERE state IN ('queued', 'running');

-- The rows a job works on, fixed when it was queued.
CREATE TABLE job_targets (
    job_id    BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    target_id BIGINT NOT NULL,
    CONSTRAINT job_targets_pkey PRIMARY KEY (job_id, target_id)
);

-- Reorder points: a product at or below its own is running low. New
-- products get the configured default from the product form.
ALTER TABLE products ADD COLUMN reorder_point INTEGER NOT NULL DEFAULT 5
    CONSTRAINT products_reorder_point_nonnegative CHECK (reorder_point >= 0 AND reorder_point <= 1000000);
-- The reorder point a product gets when none is given: the column's default,
-- which start-up sets from the configuration (`[dashboard] reorder_point`).
CREATE FUNCTION reorder_point_default() RETURNS INTEGER LANGUAGE sql STABLE AS $$
    SELECT pg_get_expr(d.adbin, d.adrelid)::INTEGER
      FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
     WHERE d.adrelid = 'products'::REGCLASS AND a.attname = 'reorder_point'
$$;
CREATE INDEX products_at_reorder_point_idx ON products (stock, id) WHERE stock <= reorder_point;
-- Units sold in the last 30 days are read for the few low products shown
-- through order_items_product_order_idx (0005).

-- Stock alerts waiting to be sent to the configured webhook. A trigger
-- writes one whenever a product's stock goes from above its reorder point to
-- at or below it, whatever the cause, in the same transaction; the job
-- worker delivers them with retries, so none is lost to a restart.
CREATE TABLE stock_alerts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id    BIGINT NOT NULL,
    payload       JSONB NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0 CONSTRAINT stock_alerts_attempts_nonnegative CHECK (attempts >= 0),
    next_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at  TIMESTAMPTZ,
    -- Set when delivery was given up (too many attempts) or not configured.
    given_up_at   TIMESTAMPTZ,
    last_error    TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX stock_alerts_pending_idx ON stock_alerts (next_at, id) WHERE delivered_at IS NULL AND given_up_at IS NULL;

CREATE FUNCTION stock_alerts_crossed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stock_alerts (product_id, payload)
    SELECT n.id, jsonb_build_object('product_id', n.id, 'sku', n.sku, 'name', n.name, 'stock', n.stock,
                                    'reorder_point', n.reorder_point,
                                    'at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
      FROM new_products n JOIN old_products o ON o.id = n.id
     WHERE o.stock > o.reorder_point AND n.stock <= n.reorder_point
     ORDER BY n.id;
    RETURN NULL;
END $$;
CREATE TRIGGER products_stock_alerts AFTER UPDATE ON products
    REFERENCING OLD TABLE AS old_products NEW TABLE AS new_products
    FOR EACH STATEMENT EXECUTE FUNCTION stock_alerts_crossed();
