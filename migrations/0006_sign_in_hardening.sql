-- Sign-in that holds up under attack: throttling per account and address,
-- two-factor sign-in (TOTP and recovery codes), and names that cannot hide
-- behind invisible or direction-changing characters.

-- Which factor an attempt checked, and whether the throttle refused it
-- before anything was checked (such attempts never count as failures).
ALTER TABLE sign_in_attempts
    ADD COLUMN factor TEXT NOT NULL DEFAULT 'password',
    ADD COLUMN throttled BOOLEAN NOT NULL DEFAULT false,
    ADD CONSTRAINT sign_in_attempts_factor_valid CHECK (factor IN ('password', 'code'));
CREATE INDEX sign_in_attempts_pair_idx ON sign_in_attempts (lower(email), address, at DESC);
-- For pruning old attempts.
CREATE INDEX sign_in_attempts_at_idx ON sign_in_attempts (at);

-- Two-factor sign-in. `totp_pending_secret` holds a secret being enrolled
-- until a code from it is confirmed; `totp_last_step` is the last time step
-- whose code was accepted, so a code is never accepted twice.
ALTER TABLE staff
    ADD COLUMN totp_secret TEXT,
    ADD COLUMN totp_pending_secret TEXT,
    ADD COLUMN totp_enabled_at TIMESTAMPTZ,
    ADD COLUMN totp_last_step BIGINT,
    ADD CONSTRAINT staff_totp_consistent CHECK ((totp_secret IS NULL) = (totp_enabled_at IS NULL));

-- Single-use recovery codes, stored as argon2 hashes like passwords.
CREATE TABLE staff_recovery_codes (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    staff_id   BIGINT NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    used_at    TIMESTAMPTZ
);
CREATE INDEX staff_recovery_codes_unused_idx ON staff_recovery_codes (staff_id) WHERE used_at IS NULL;

ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_valid;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_valid CHECK (action IN (
    'create', 'update', 'delete', 'sign_in', 'sign_out', 'role_change', 'password_change', 'disable', 'enable',
    'two_factor_on', 'two_factor_off', 'two_factor_reset', 'recovery_codes', 'recovery_code_used'));

-- A name must show something, and must not reorder the text around it
-- (right-to-left overrides and isolates). Existing rows are left as they
-- are (NOT VALID); every new or edited row is checked.
ALTER TABLE users ADD CONSTRAINT users_name_visible CHECK (
    regexp_replace(name, '[[:space:]\u00A0\u00AD\u034F\u061C\u115F\u1160\u1680\u17B4\u17B5\u180B-\u180F\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\u3164\uFE00-\uFE0F\uFEFF\uFFA0\U000E0000-\U000E007F]', '', 'g') <> ''
    AND name !~ '[\u202A-\u202E\u2066-\u2069]') NOT VALID;
ALTER TABLE products ADD CONSTRAINT products_name_visible CHECK (
    regexp_replace(name, '[[:space:]\u00A0\u00AD\u034F\u061C\u115F\u1160\u1680\u17B4\u17B5\u180B-\u180F\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\u3164\uFE00-\uFE0F\uFEFF\uFFA0\U000E0000-\U000E007F]', '', 'g') <> ''
    AND name !~ '[\u202A-\u202E\u2066-\u2069]') NOT VALID;
ALTER TABLE staff ADD CONSTRAINT staff_name_visible CHECK (
    regexp_replace(display_name, '[[:space:]\u00A0\u00AD\u034F\u061C\u115F\u1160\u1680\u17B4\u17B5\u180B-\u180F\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\u3164\uFE00-\uFE0F\uFEFF\uFFA0\U000E0000-\U000E007F]', '', 'g') <> ''
    AND display_name !~ '[\u202A-\u202E\u2066-\u2069]') NOT VALID;
