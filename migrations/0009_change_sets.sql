-- A change set names one import, bulk action, undo or restore: the audit
-- entries it wrote carry its id, so it can be shown as one event and taken
-- back as one. The application opens a set with `SET LOCAL
-- shopdesk.change_set` inside the transaction that makes the change.
CREATE TABLE change_sets (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       TEXT NOT NULL CONSTRAINT change_sets_kind_known CHECK (kind IN ('import', 'bulk', 'undo', 'restore')),
    staff_id   BIGINT REFERENCES staff (id) ON DELETE SET NULL,
    at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- What happened, in a sentence ("Imported customers.csv: 12 new, 3 updated").
    summary    TEXT NOT NULL CONSTRAINT change_sets_summary_present CHECK (btrim(summary) <> '' AND length(summary) <= 500),
    -- An undo names the set it took back; a set is taken back at most once.
    undoes     BIGINT REFERENCES change_sets (id),
    CONSTRAINT change_sets_undo_names_set CHECK ((kind = 'undo') = (undoes IS NOT NULL))
);
CREATE UNIQUE INDEX change_sets_undone_once ON change_sets (undoes) WHERE undoes IS NOT NULL;
CREATE INDEX change_sets_at_idx ON change_sets (at DESC, id DESC);

ALTER TABLE audit_log ADD COLUMN change_set_id BIGINT REFERENCES change_sets (id);
CREATE INDEX audit_log_change_set_idx ON audit_log (change_set_id, id) WHERE change_set_id IS NOT NULL;

-- The audit trigger of 0004, now also filing each entry under the open change set.
CREATE OR REPLACE FUNCTION audit_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    actor BIGINT := nullif(current_setting('shopdesk.staff_id', true), '')::BIGINT;
    change_set BIGINT := nullif(current_setting('shopdesk.change_set', true), '')::BIGINT;
    kind  TEXT := CASE TG_TABLE_NAME WHEN 'users' THEN 'user' WHEN 'products' THEN 'product'
                                     WHEN 'orders' THEN 'order' ELSE 'order_line' END;
    lines BOOLEAN := TG_TABLE_NAME = 'order_items';
BEGIN
    IF current_setting('shopdesk.audit', true) = 'off' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO audit_log (staff_id, entity, entity_id, action, before, after, change_set_id)
        SELECT actor, kind, (n.j ->> CASE WHEN lines THEN 'order_id' ELSE 'id' END)::BIGINT, 'create', NULL, n.j, change_set
          FROM (SELECT to_jsonb(r) - 'version' - 'updated_at' AS j FROM new_rows r) n
         ORDER BY 3;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO audit_log (staff_id, entity, entity_id, action, before, after, change_set_id)
        SELECT actor, kind, (o.j ->> CASE WHEN lines THEN 'order_id' ELSE 'id' END)::BIGINT, 'delete', o.j, NULL, change_set
          FROM (SELECT to_jsonb(r) - 'version' - 'updated_at' AS j FROM old_rows r) o
         ORDER BY 3;
    ELSE
        -- Pair each record's old and new versions by its key.
        INSERT INTO audit_log (staff_id, entity, entity_id, action, before, after, change_set_id)
        SELECT actor, kind, (coalesce(n.j, o.j) ->> CASE WHEN lines THEN 'order_id' ELSE 'id' END)::BIGINT,
               'update', o.j, n.j, change_set
          FROM (SELECT to_jsonb(r) - 'version' - 'updated_at' AS j FROM old_rows r) o
          FULL JOIN (SELECT to_jsonb(r) - 'version' - 'updated_at' AS j FROM new_rows r) n
            ON CASE WHEN lines THEN (o.j ->> 'order_id') || ':' || (o.j ->> 'product_id') ELSE o.j ->> 'id' END
             = CASE WHEN lines THEN (n.j ->> 'order_id') || ':' || (n.j ->> 'product_id') ELSE n.j ->> 'id' END
         WHERE o.j IS DISTINCT FROM n.j
         ORDER BY 3;
    END IF;
    RETURN NULL;
END $$;
