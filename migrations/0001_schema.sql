-- The shop's schema. Every invariant the application relies on is enforced here
-- and every constraint is named, so the web layer can turn a violation into a
-- message next to the right form field (see src/db/mod.rs, `constraint_message`).

CREATE TABLE users (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT users_name_present CHECK (btrim(name) <> '' AND length(name) <= 200),
    CONSTRAINT users_email_valid CHECK (email ~ '^[^@\s]+@[^@\s]+$' AND length(email) <= 254)
);
-- Case-insensitive uniqueness: Ada@Example.com and ada@example.com are one customer.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE products (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         TEXT NOT NULL,
    sku          TEXT NOT NULL,
    price_cents  BIGINT NOT NULL,
    stock        INTEGER NOT NULL,
    version      INTEGER NOT NULL DEFAULT 1,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT products_name_present CHECK (btrim(name) <> '' AND length(name) <= 200),
    CONSTRAINT products_sku_present CHECK (btrim(sku) <> '' AND length(sku) <= 64),
    CONSTRAINT products_price_nonnegative CHECK (price_cents >= 0),
    CONSTRAINT products_stock_nonnegative CHECK (stock >= 0)
);
CREATE UNIQUE INDEX products_sku_key ON products (lower(sku));

CREATE TABLE orders (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      BIGINT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending',
    -- Sum of quantity * unit_price_cents over the order's lines, written in the
    -- same transaction as the lines so lists and reports never re-add them.
    total_cents  BIGINT NOT NULL DEFAULT 0,
    item_count   INTEGER NOT NULL DEFAULT 0,
    version      INTEGER NOT NULL DEFAULT 1,
    placed_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT orders_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE RESTRICT,
    CONSTRAINT orders_status_valid CHECK (status IN ('pending', 'paid', 'shipped', 'cancelled')),
    CONSTRAINT orders_total_nonnegative CHECK (total_cents >= 0 AND item_count >= 0)
);
CREATE INDEX orders_user_placed_idx ON orders (user_id, placed_at DESC, id DESC);
CREATE INDEX orders_status_placed_idx ON orders (status, placed_at DESC, id DESC);
CREATE INDEX orders_placed_idx ON orders (placed_at DESC, id DESC);

CREATE TABLE order_items (
    order_id          BIGINT NOT NULL,
    product_id        BIGINT NOT NULL,
    quantity          INTEGER NOT NULL,
    -- The price actually paid; later price changes never rewrite history.
    unit_price_cents  BIGINT NOT NULL,
    CONSTRAINT order_items_pkey PRIMARY KEY (order_id, product_id),
    CONSTRAINT order_items_order_id_fkey FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE,
    CONSTRAINT order_items_product_id_fkey FOREIGN KEY (product_id) REFERENCES products (id) ON DELETE RESTRICT,
    CONSTRAINT order_items_quantity_positive CHECK (quantity > 0),
    CONSTRAINT order_items_unit_price_nonnegative CHECK (unit_price_cents >= 0)
);
CREATE INDEX order_items_product_idx ON order_items (product_id);
