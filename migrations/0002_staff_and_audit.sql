-- Staff who sign in to Shopdesk (distinct from the shop's customers), the
-- sign-in attempts that throttle guessing, and the audit trail.

CREATE TABLE staff (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email          TEXT NOT NULL,
    display_name   TEXT NOT NULL,
    role           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    -- Bumped when the password changes or the account is disabled: sessions
    -- carry the epoch they were issued under and die when it moves on.
    session_epoch  INTEGER NOT NULL DEFAULT 1,
    disabled       BOOLEAN NOT NULL DEFAULT false,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_login_at  TIMESTAMPTZ,
    CONSTRAINT staff_role_valid CHECK (role IN ('admin', 'viewer')),
    CONSTRAINT staff_email_valid CHECK (email ~ '^[^@\s]+@[^@\s]+$' AND length(email) <= 254),
    CONSTRAINT staff_name_present CHECK (btrim(display_name) <> '' AND length(display_name) <= 200)
);
CREATE UNIQUE INDEX staff_email_key ON staff (lower(email));

-- Kept in the database so throttling holds across restarts and instances.
CREATE TABLE sign_in_attempts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email       TEXT NOT NULL,
    address     TEXT NOT NULL,
    succeeded   BOOLEAN NOT NULL,
    at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX sign_in_attempts_email_idx ON sign_in_attempts (lower(email), at DESC);
CREATE INDEX sign_in_attempts_address_idx ON sign_in_attempts (address, at DESC);

CREATE TABLE audit_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    staff_id    BIGINT REFERENCES staff (id) ON DELETE SET NULL,
    entity      TEXT NOT NULL,
    entity_id   BIGINT NOT NULL,
    action      TEXT NOT NULL,
    before      JSONB,
    after       JSONB,
    CONSTRAINT audit_log_action_valid CHECK (action IN ('create', 'update', 'delete', 'sign_in', 'sign_out', 'role_change', 'password_change', 'disable', 'enable'))
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id, at DESC, id DESC);
CREATE INDEX audit_log_staff_idx ON audit_log (staff_id, at DESC, id DESC);

-- Every change to the shop's data is recorded by the database itself, in the
-- same transaction as the change, whoever makes it. The application names the
-- acting staff member with `SET LOCAL shopdesk.staff_id`.
CREATE FUNCTION audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    actor   BIGINT := nullif(current_setting('shopdesk.staff_id', true), '')::BIGINT;
    old_row JSONB;
    new_row JSONB;
    entity_id BIGINT;
BEGIN
    IF current_setting('shopdesk.audit', true) = 'off' THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN old_row := to_jsonb(OLD) - 'version' - 'updated_at'; END IF;
    IF TG_OP <> 'DELETE' THEN new_row := to_jsonb(NEW) - 'version' - 'updated_at'; END IF;
    IF TG_OP = 'UPDATE' AND old_row = new_row THEN
        RETURN NULL;
    END IF;
    -- Order lines are filed under their order.
    IF TG_TABLE_NAME = 'order_items' THEN
        entity_id := coalesce(new_row, old_row) ->> 'order_id';
    ELSE
        entity_id := coalesce(new_row, old_row) ->> 'id';
    END IF;
    INSERT INTO audit_log (staff_id, entity, entity_id, action, before, after)
    VALUES (actor,
            CASE TG_TABLE_NAME WHEN 'users' THEN 'user' WHEN 'products' THEN 'product'
                               WHEN 'orders' THEN 'order' ELSE 'order_line' END,
            entity_id,
            CASE TG_OP WHEN 'INSERT' THEN 'create' WHEN 'UPDATE' THEN 'update' ELSE 'delete' END,
            old_row, new_row);
    RETURN NULL;
END $$;

CREATE TRIGGER users_audit AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION audit_change();
CREATE TRIGGER products_audit AFTER INSERT OR UPDATE OR DELETE ON products
    FOR EACH ROW EXECUTE FUNCTION audit_change();
CREATE TRIGGER orders_audit AFTER INSERT OR UPDATE OR DELETE ON orders
    FOR EACH ROW EXECUTE FUNCTION audit_change();
CREATE TRIGGER order_items_audit AFTER INSERT OR UPDATE OR DELETE ON order_items
    FOR EACH ROW EXECUTE FUNCTION audit_change();
