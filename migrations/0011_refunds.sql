-- Refunds and returns, and invoices.
--
-- A refund gives back money for some of an order's lines (a quantity of
-- each, at the price paid) and optionally a shipping or goodwill amount, and
-- may put returned items back on the shelf. Each line keeps what has been
-- refunded of it, and the order keeps its refunded total, so the database
-- itself refuses to refund more than was bought or paid; the refund code
-- locks the order and its lines first, so two refunds at once cannot
-- over-refund. Refunds are permanent: an order with refunds can be neither
-- cancelled nor deleted, and a refunded line cannot be removed.
--
-- Figures: revenue is net of refunds, counted on the day (and month) the
-- order was placed, like everything else about an order, so a day's revenue
-- is what its orders earned in the end. `refunded_cents` beside each day and
-- month keeps the refunds, so gross = revenue + refunded. Units sold are net
-- of refunded quantities (restocked or not).

ALTER TABLE orders DROP CONSTRAINT orders_status_valid;
ALTER TABLE orders
    ADD CONSTRAINT orders_status_valid
        CHECK (status IN ('pending', 'paid', 'shipped', 'cancelled', 'partially_refunded', 'refunded')),
    ADD COLUMN refunded_cents BIGINT NOT NULL DEFAULT 0,
    ADD CONSTRAINT orders_refund_within_total CHECK (refunded_cents >= 0 AND refunded_cents <= total_cents),
    ADD CONSTRAINT orders_refunded_not_cancelled CHECK (status <> 'cancelled' OR refunded_cents = 0),
    ADD CONSTRAINT orders_refund_status_needs_refund
        CHECK (status NOT IN ('partially_refunded', 'refunded') OR refunded_cents > 0);

ALTER TABLE order_items
    ADD COLUMN refunded_quantity INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN refunded_cents BIGINT NOT NULL DEFAULT 0,
    ADD CONSTRAINT order_items_refunded_within_quantity CHECK (refunded_quantity >= 0 AND refunded_quantity <= quantity),
    ADD CONSTRAINT order_items_refund_within_paid
        CHECK (refunded_cents >= 0 AND refunded_cents <= quantity * unit_price_cents);

ALTER TABLE daily_figures ADD COLUMN refunded_cents BIGINT NOT NULL DEFAULT 0;
ALTER TABLE monthly_revenue ADD COLUMN refunded_cents BIGINT NOT NULL DEFAULT 0;

CREATE TABLE refunds (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id     BIGINT NOT NULL,
    staff_id     BIGINT,
    at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    reason       TEXT NOT NULL,
    -- Shipping or goodwill given back on top of the lines.
    extra_cents  BIGINT NOT NULL DEFAULT 0,
    -- The lines' amounts plus extra_cents.
    total_cents  BIGINT NOT NULL,
    CONSTRAINT refunds_order_id_fkey FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE RESTRICT,
    CONSTRAINT refunds_staff_id_fkey FOREIGN KEY (staff_id) REFERENCES staff (id) ON DELETE SET NULL,
    CONSTRAINT refunds_reason_present CHECK (btrim(reason) <> '' AND length(reason) <= 500),
    CONSTRAINT refunds_extra_nonnegative CHECK (extra_cents >= 0),
    CONSTRAINT refunds_total_positive CHECK (total_cents > 0 AND total_cents >= extra_cents)
);
CREATE INDEX refunds_order_idx ON refunds (order_id, at DESC, id DESC);

CREATE TABLE refund_lines (
    refund_id     BIGINT NOT NULL,
    order_id      BIGINT NOT NULL,
    product_id    BIGINT NOT NULL,
    quantity      INTEGER NOT NULL,
    amount_cents  BIGINT NOT NULL,
    -- Whether the returned items went back on the shelf (not if damaged).
    restock       BOOLEAN NOT NULL,
    CONSTRAINT refund_lines_pkey PRIMARY KEY (refund_id, product_id),
    CONSTRAINT refund_lines_refund_id_fkey FOREIGN KEY (refund_id) REFERENCES refunds (id) ON DELETE RESTRICT,
    CONSTRAINT refund_lines_item_fkey FOREIGN KEY (order_id, product_id)
        REFERENCES order_items (order_id, product_id) ON DELETE RESTRICT,
    CONSTRAINT refund_lines_quantity_positive CHECK (quantity > 0),
    CONSTRAINT refund_lines_amount_nonnegative CHECK (amount_cents >= 0)
);
CREATE INDEX refund_lines_item_idx ON refund_lines (order_id, product_id);

CREATE FUNCTION refunds_are_permanent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'refunds are permanent and cannot be changed or removed' USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER refunds_permanent BEFORE UPDATE OR DELETE ON refunds
    FOR EACH ROW EXECUTE FUNCTION refunds_are_permanent();
CREATE TRIGGER refund_lines_permanent BEFORE UPDATE OR DELETE ON refund_lines
    FOR EACH ROW EXECUTE FUNCTION refunds_are_permanent();

-- A refund takes its total off the customer's revenue and off the revenue
-- of the day and month its order was placed.
CREATE FUNCTION stats_refund_added() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    o orders;
    placed_day DATE;
BEGIN
    SELECT * INTO o FROM orders WHERE id = NEW.order_id;
    placed_day := (o.placed_at AT TIME ZONE shop_time_zone())::DATE;
    UPDATE customer_stats SET revenue_cents = revenue_cents - NEW.total_cents WHERE user_id = o.user_id;
    INSERT INTO daily_figures AS r (day, revenue_cents, refunded_cents, changes)
    VALUES (placed_day, -NEW.total_cents, NEW.total_cents, 1)
        ON CONFLICT (day) DO UPDATE
        SET revenue_cents = r.revenue_cents + EXCLUDED.revenue_cents,
            refunded_cents = r.refunded_cents + EXCLUDED.refunded_cents, changes = r.changes + 1;
    INSERT INTO monthly_revenue AS r (month, revenue_cents, refunded_cents)
    VALUES (date_trunc('month', placed_day)::DATE, -NEW.total_cents, NEW.total_cents)
        ON CONFLICT (month) DO UPDATE
        SET revenue_cents = r.revenue_cents + EXCLUDED.revenue_cents,
            refunded_cents = r.refunded_cents + EXCLUDED.refunded_cents;
    RETURN NULL;
END $$;
CREATE TRIGGER refunds_stats AFTER INSERT ON refunds FOR EACH ROW EXECUTE FUNCTION stats_refund_added();

-- A refunded line takes its quantity off the units sold (of the product, of
-- the customer's purchases of it, of the order's day and month) and its
-- amount off the product's and the purchase's revenue.
CREATE FUNCTION stats_refund_line_added() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    o orders;
    placed_day DATE;
BEGIN
    SELECT * INTO o FROM orders WHERE id = NEW.order_id;
    placed_day := (o.placed_at AT TIME ZONE shop_time_zone())::DATE;
    UPDATE product_stats
       SET units_sold = units_sold - NEW.quantity, revenue_cents = revenue_cents - NEW.amount_cents
     WHERE product_id = NEW.product_id;
    UPDATE customer_products
       SET units = units - NEW.quantity, spend_cents = spend_cents - NEW.amount_cents
     WHERE user_id = o.user_id AND product_id = NEW.product_id;
    UPDATE daily_figures SET units_sold = units_sold - NEW.quantity WHERE day = placed_day;
    UPDATE monthly_revenue SET units_sold = units_sold - NEW.quantity WHERE month = date_trunc('month', placed_day)::DATE;
    RETURN NULL;
END $$;
CREATE TRIGGER refund_lines_stats AFTER INSERT ON refund_lines FOR EACH ROW EXECUTE FUNCTION stats_refund_line_added();

-- Invoices: a number from a gap-free sequence, given when the invoice is
-- first issued. The counter is one row, moved on in the transaction that
-- issues the invoice, so a rolled-back issue leaves no gap.
CREATE TABLE invoice_counter (
    only_row  BOOLEAN PRIMARY KEY DEFAULT true CONSTRAINT invoice_counter_one_row CHECK (only_row),
    next      BIGINT NOT NULL DEFAULT 1 CONSTRAINT invoice_counter_positive CHECK (next > 0)
);
INSERT INTO invoice_counter DEFAULT VALUES;

CREATE TABLE invoices (
    order_id   BIGINT PRIMARY KEY,
    number     BIGINT NOT NULL,
    issued_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    staff_id   BIGINT,
    CONSTRAINT invoices_order_id_fkey FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE RESTRICT,
    CONSTRAINT invoices_staff_id_fkey FOREIGN KEY (staff_id) REFERENCES staff (id) ON DELETE SET NULL,
    CONSTRAINT invoices_number_key UNIQUE (number)
);

-- The leaders of a period, from the lines' quantities and amounts net of refunds.
CREATE OR REPLACE FUNCTION period_leaders_of(since_day DATE, until_day DATE, top INTEGER, work_out BOOLEAN)
RETURNS TABLE (products JSONB, customers_by_revenue JSONB, customers_by_orders JSONB, computed_at TIMESTAMPTZ,
               current BOOLEAN)
LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    zone TEXT := shop_time_zone();
    keep INTEGER := greatest(top, 25);
    changed BIGINT;
    kept period_leaders;
BEGIN
    SELECT coalesce(sum(d.changes), 0) INTO changed FROM daily_figures d WHERE d.day BETWEEN since_day AND until_day;
    SELECT * INTO kept FROM period_leaders l WHERE l.period_from = since_day AND l.period_to = until_day;
    IF FOUND AND kept.kept_top >= top
       AND (kept.changes = changed OR NOT work_out
            OR NOT pg_try_advisory_xact_lock(7, hashtext(since_day::TEXT || ' ' || until_day::TEXT))) THEN
        RETURN QUERY SELECT kept.products, kept.customers_by_revenue, kept.customers_by_orders, kept.computed_at,
                            kept.changes = changed;
        RETURN;
    END IF;
    WITH lines AS MATERIALIZED (
        SELECT o.id AS order_id, o.user_id, i.product_id, (i.quantity - i.refunded_quantity)::BIGINT AS quantity,
               i.quantity * i.unit_price_cents - i.refunded_cents AS spend
          FROM orders o JOIN order_items i ON i.order_id = o.id
         WHERE o.placed_at >= since_day::TIMESTAMP AT TIME ZONE zone
           AND o.placed_at < (until_day + 1)::TIMESTAMP AT TIME ZONE zone
           AND o.status <> 'cancelled'
    ), product_sums AS MATERIALIZED (
        SELECT product_id AS id, sum(l.quantity)::BIGINT AS figure, sum(l.spend)::BIGINT AS revenue
          FROM lines l GROUP BY 1
    ), customer_sums AS MATERIALIZED (
        SELECT user_id AS id, count(DISTINCT l.order_id)::BIGINT AS figure, sum(l.spend)::BIGINT AS revenue
          FROM lines l GROUP BY 1
    )
    INSERT INTO period_leaders AS l (period_from, period_to, changes, computed_at, products, customers_by_revenue,
                                     customers_by_orders, kept_top)
    SELECT since_day, until_day, changed, now(),
           (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]')
              FROM (SELECT * FROM product_sums p ORDER BY p.figure DESC, p.revenue DESC, p.id LIMIT keep) t),
           (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]')
              FROM (SELECT * FROM customer_sums c ORDER BY c.revenue DESC, c.figure DESC, c.id LIMIT keep) t),
           (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]')
              FROM (SELECT * FROM customer_sums c ORDER BY c.figure DESC, c.revenue DESC, c.id LIMIT keep) t),
           keep
        ON CONFLICT (period_from, period_to) DO UPDATE
        SET changes = EXCLUDED.changes, computed_at = EXCLUDED.computed_at, products = EXCLUDED.products,
            customers_by_revenue = EXCLUDED.customers_by_revenue, customers_by_orders = EXCLUDED.customers_by_orders,
            kept_top = EXCLUDED.kept_top
    RETURNING * INTO kept;
    -- Periods nobody looked at for a week (the "last 30 days" of a week ago).
    DELETE FROM period_leaders l
     WHERE l.computed_at < now() - INTERVAL '7 days' AND (l.period_from, l.period_to) <> (since_day, until_day);
    RETURN QUERY SELECT kept.products, kept.customers_by_revenue, kept.customers_by_orders, kept.computed_at, true;
END $$;

-- The day and month figures, and every aggregate, net of refunds.
CREATE OR REPLACE FUNCTION stats_rebuild_calendar() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    zone TEXT := shop_time_zone();
BEGIN
    TRUNCATE monthly_revenue, daily_figures, period_leaders;
    INSERT INTO daily_figures (day, order_count, revenue_cents, refunded_cents, pending, paid, shipped, cancelled,
                               units_sold, new_customers)
    SELECT coalesce(o.day, l.day, s.day), coalesce(o.orders, 0), coalesce(o.revenue, 0), coalesce(o.refunded, 0),
           coalesce(o.pending, 0),
           coalesce(o.paid, 0), coalesce(o.shipped, 0), coalesce(o.cancelled, 0), coalesce(l.units, 0),
           coalesce(s.signups, 0)
      FROM (SELECT (placed_at AT TIME ZONE zone)::DATE AS day, count(*) AS orders,
                   coalesce(sum(total_cents - refunded_cents) FILTER (WHERE status <> 'cancelled'), 0) AS revenue,
                   coalesce(sum(refunded_cents), 0) AS refunded,
                   count(*) FILTER (WHERE status = 'pending') AS pending,
                   count(*) FILTER (WHERE status = 'paid') AS paid,
                   count(*) FILTER (WHERE status = 'shipped') AS shipped,
                   count(*) FILTER (WHERE status = 'cancelled') AS cancelled
              FROM orders GROUP BY 1) o
      FULL JOIN (SELECT (o.placed_at AT TIME ZONE zone)::DATE AS day, sum(i.quantity - i.refunded_quantity) AS units
                   FROM order_items i JOIN orders o ON o.id = i.order_id AND o.status <> 'cancelled'
                  GROUP BY 1) l ON l.day = o.day
      FULL JOIN (SELECT (created_at AT TIME ZONE zone)::DATE AS day, count(*) AS signups
                   FROM users GROUP BY 1) s ON s.day = coalesce(o.day, l.day);
    INSERT INTO monthly_revenue (month, order_count, revenue_cents, refunded_cents, pending, paid, shipped, cancelled,
                                 units_sold)
    SELECT date_trunc('month', day)::DATE, sum(order_count), sum(revenue_cents), sum(refunded_cents), sum(pending), sum(paid),
           sum(shipped), sum(cancelled), sum(units_sold)
      FROM daily_figures
     GROUP BY 1 HAVING sum(order_count) <> 0 OR sum(units_sold) <> 0;
END $$;

-- Every aggregate from the orders themselves, as before, with the calendar
-- figures in the shop's zone.
CREATE OR REPLACE FUNCTION stats_rebuild() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    sort_indexes TEXT[];
    definition TEXT;
BEGIN
    SELECT coalesce(array_agg(indexdef), '{}') INTO sort_indexes FROM pg_indexes
     WHERE schemaname = current_schema() AND tablename = 'customer_products' AND indexname <> 'customer_products_pkey';
    FOR definition IN
        SELECT format('DROP INDEX %I', indexname) FROM pg_indexes
         WHERE schemaname = current_schema() AND tablename = 'customer_products'
           AND indexname <> 'customer_products_pkey'
    LOOP
        EXECUTE definition;
    END LOOP;
    TRUNCATE customer_stats, product_stats, customer_products;
    INSERT INTO customer_products (user_id, product_id, units, spend_cents, order_count, last_bought_at)
    SELECT o.user_id, i.product_id, sum(i.quantity - i.refunded_quantity), sum(i.quantity * i.unit_price_cents - i.refunded_cents), count(*), max(o.placed_at)
      FROM order_items i JOIN orders o ON o.id = i.order_id AND o.status <> 'cancelled'
     GROUP BY o.user_id, i.product_id;
    INSERT INTO customer_stats (user_id, order_count, active_order_count, revenue_cents, product_count)
    SELECT u.id, coalesce(o.orders, 0), coalesce(o.active, 0), coalesce(o.revenue, 0), coalesce(b.products, 0)
      FROM users u
      LEFT JOIN (SELECT user_id, count(*) AS orders, count(*) FILTER (WHERE status <> 'cancelled') AS active,
                        sum(total_cents - refunded_cents) FILTER (WHERE status <> 'cancelled') AS revenue
                   FROM orders GROUP BY user_id) o ON o.user_id = u.id
      LEFT JOIN (SELECT user_id, count(*) AS products FROM customer_products GROUP BY user_id) b ON b.user_id = u.id;
    INSERT INTO product_stats (product_id, units_sold, revenue_cents, order_count, customer_count)
    SELECT p.id, coalesce(sum(c.units), 0), coalesce(sum(c.spend_cents), 0), coalesce(sum(c.order_count), 0),
           count(c.user_id)
      FROM products p LEFT JOIN customer_products c ON c.product_id = p.id
     GROUP BY p.id;
    PERFORM stats_rebuild_calendar();
    FOREACH definition IN ARRAY sort_indexes LOOP
        EXECUTE definition;
    END LOOP;
END $$;

