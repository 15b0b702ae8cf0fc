-- Who bought what: per customer and product, the units, spend, number of
-- orders and the last purchase, kept by the database in the same statement as
-- every order change, so "which products did this customer buy" and "which
-- customers bought this product" page through an index however many orders
-- there are.
--
-- One definition of a purchase everywhere: an order line counts while its
-- order is not cancelled, as revenue always has. A customer's orders are
-- therefore also counted without the cancelled ones (`active_order_count`);
-- `order_count` still counts every order, for what only that can answer (a
-- customer with any order cannot be deleted, the orders list's length).

CREATE TABLE customer_products (
    user_id         BIGINT NOT NULL,
    product_id      BIGINT NOT NULL,
    units           BIGINT NOT NULL,
    spend_cents     BIGINT NOT NULL,
    order_count     BIGINT NOT NULL,
    last_bought_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT customer_products_pkey PRIMARY KEY (user_id, product_id)
);

ALTER TABLE customer_stats
    ADD COLUMN active_order_count BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN product_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE product_stats ADD COLUMN customer_count BIGINT NOT NULL DEFAULT 0;
-- Units sold per month, so the share of all units sold is a sum of few rows.
ALTER TABLE monthly_revenue ADD COLUMN units_sold BIGINT NOT NULL DEFAULT 0;

-- Customer and month figures, now also counting each customer's orders that
-- are not cancelled.
CREATE OR REPLACE FUNCTION stats_apply_orders(user_ids BIGINT[], statuses TEXT[], totals BIGINT[],
                                              placed TIMESTAMPTZ[], signs INTEGER[]) RETURNS void LANGUAGE sql AS $$
    WITH d AS (
        SELECT user_id, status, sign,
               sign * CASE WHEN status <> 'cancelled' THEN total ELSE 0 END AS revenue,
               sign * (status <> 'cancelled')::INT AS active,
               date_trunc('month', placed_at AT TIME ZONE 'UTC')::DATE AS month
          FROM unnest(user_ids, statuses, totals, placed, signs) AS d(user_id, status, total, placed_at, sign)
    ), customers AS (
        INSERT INTO customer_stats AS s (user_id, order_count, active_order_count, revenue_cents)
        SELECT user_id, sum(sign), sum(active), sum(revenue) FROM d GROUP BY user_id
        HAVING sum(sign) <> 0 OR sum(active) <> 0 OR sum(revenue) <> 0
         ORDER BY user_id  -- rows are locked in one order, so concurrent changes never deadlock
            ON CONFLICT (user_id) DO UPDATE
            SET order_count = s.order_count + EXCLUDED.order_count,
                active_order_count = s.active_order_count + EXCLUDED.active_order_count,
                revenue_cents = s.revenue_cents + EXCLUDED.revenue_cents
    ), months AS (
        SELECT month, sum(sign) AS order_count, sum(revenue) AS revenue_cents,
               sum(sign * (status = 'pending')::INT) AS pending, sum(sign * (status = 'paid')::INT) AS paid,
               sum(sign * (status = 'shipped')::INT) AS shipped, sum(sign * (status = 'cancelled')::INT) AS cancelled
          FROM d GROUP BY month
    )
    INSERT INTO monthly_revenue AS r (month, order_count, revenue_cents, pending, paid, shipped, cancelled)
    SELECT * FROM months
     WHERE (order_count, revenue_cents, pending, paid, shipped, cancelled) <> (0, 0, 0, 0, 0, 0)
     ORDER BY month
        ON CONFLICT (month) DO UPDATE
        SET order_count = r.order_count + EXCLUDED.order_count, revenue_cents = r.revenue_cents + EXCLUDED.revenue_cents,
            pending = r.pending + EXCLUDED.pending, paid = r.paid + EXCLUDED.paid,
            shipped = r.shipped + EXCLUDED.shipped, cancelled = r.cancelled + EXCLUDED.cancelled;
$$;

-- Adds signed purchases to the figures: each element is one order line of an
-- order that is not cancelled, bought by `user_ids` at `placed`, counted
-- `signs` (+1 added, -1 taken off). Updates, in one statement and each row
-- once: the customer-product rows (created at the first purchase, removed
-- with the last), each product's units, revenue, orders and number of
-- buyers, each customer's number of products, and each month's units. `gone`
-- names orders about to be deleted, which no longer count when the last
-- purchase is looked for.
CREATE FUNCTION stats_apply_purchases(user_ids BIGINT[], product_ids BIGINT[], quantities INTEGER[], prices BIGINT[],
                                      placed TIMESTAMPTZ[], signs INTEGER[], gone BIGINT[] DEFAULT '{}')
RETURNS void LANGUAGE sql AS $$
    WITH l AS (
        SELECT * FROM unnest(user_ids, product_ids, quantities, prices, placed, signs)
                   AS l(user_id, product_id, quantity, price, placed_at, sign)
    ), d AS (
        SELECT user_id, product_id, sum(sign * quantity)::BIGINT AS units,
               sum(sign * quantity * price)::BIGINT AS spend, sum(sign)::BIGINT AS orders,
               max(placed_at) FILTER (WHERE sign > 0) AS added, max(placed_at) FILTER (WHERE sign < 0) AS removed
          FROM l
         GROUP BY user_id, product_id
    ), months AS (
        INSERT INTO monthly_revenue AS r (month, units_sold)
        SELECT date_trunc('month', placed_at AT TIME ZONE 'UTC')::DATE, sum(sign * quantity) FROM l
         GROUP BY 1 HAVING sum(sign * quantity) <> 0
         ORDER BY 1
            ON CONFLICT (month) DO UPDATE SET units_sold = r.units_sold + EXCLUDED.units_sold
    ), known AS (
        SELECT d.*, s.user_id IS NOT NULL AS present
          FROM d LEFT JOIN customer_products s ON s.user_id = d.user_id AND s.product_id = d.product_id
    ), dropped AS (
        -- The customer no longer has any order of this product.
        DELETE FROM customer_products s USING d
         WHERE s.user_id = d.user_id AND s.product_id = d.product_id AND s.order_count + d.orders <= 0
        RETURNING s.user_id, s.product_id
    ), changed AS (
        UPDATE customer_products s
           SET units = s.units + d.units, spend_cents = s.spend_cents + d.spend,
               order_count = s.order_count + d.orders,
               last_bought_at = CASE
                   -- The latest purchase went and nothing later came: look up
                   -- the latest one left from whichever side has fewer orders
                   -- to read: the customer's orders, newest first until one
                   -- has the product, or the product's lines, each looking up
                   -- its order by id. Both are written so that one plan suits
                   -- every customer and product, however skewed.
                   WHEN d.removed >= s.last_bought_at AND (d.added IS NULL OR d.added < d.removed) THEN coalesce(
                       CASE WHEN (SELECT c.order_count FROM customer_stats c WHERE c.user_id = s.user_id)
                                 <= (SELECT p.order_count FROM product_stats p WHERE p.product_id = s.product_id)
                       THEN (SELECT o.placed_at FROM orders o
                              WHERE o.user_id = s.user_id AND o.status <> 'cancelled' AND o.id <> ALL (gone)
                                AND EXISTS (SELECT 1 FROM order_items i
                                             WHERE i.order_id = o.id AND i.product_id = s.product_id)
                              ORDER BY o.user_id DESC, o.placed_at DESC, o.id DESC LIMIT 1)
                       ELSE (SELECT max((SELECT o.placed_at FROM orders o
                                          WHERE o.id = i.order_id AND o.user_id = s.user_id
                                            AND o.status <> 'cancelled' AND o.id <> ALL (gone)))
                               FROM order_items i WHERE i.product_id = s.product_id)
                       END,
                       s.last_bought_at)
                   ELSE greatest(s.last_bought_at, d.added)
               END
          FROM d
         WHERE s.user_id = d.user_id AND s.product_id = d.product_id AND s.order_count + d.orders > 0
           AND ((d.units, d.spend, d.orders) <> (0, 0, 0) OR d.added IS DISTINCT FROM d.removed)
    ), created AS (
        INSERT INTO customer_products AS s (user_id, product_id, units, spend_cents, order_count, last_bought_at)
        SELECT user_id, product_id, units, spend, orders, added FROM known
         WHERE NOT present AND orders > 0 AND added IS NOT NULL
         ORDER BY user_id, product_id
            ON CONFLICT (user_id, product_id) DO UPDATE
            SET units = s.units + EXCLUDED.units, spend_cents = s.spend_cents + EXCLUDED.spend_cents,
                order_count = s.order_count + EXCLUDED.order_count,
                last_bought_at = greatest(s.last_bought_at, EXCLUDED.last_bought_at)
        RETURNING s.user_id, s.product_id, s.xmax = 0 AS inserted
    ), buyers AS (
        SELECT user_id, product_id, 1 AS n FROM created WHERE inserted
        UNION ALL
        SELECT user_id, product_id, -1 FROM dropped
    ), customers AS (
        UPDATE customer_stats c SET product_count = c.product_count + b.n
          FROM (SELECT user_id, sum(n) AS n FROM buyers GROUP BY user_id HAVING sum(n) <> 0) b
         WHERE c.user_id = b.user_id
    )
    UPDATE product_stats p
       SET units_sold = p.units_sold + x.units, revenue_cents = p.revenue_cents + x.spend,
           order_count = p.order_count + x.orders, customer_count = p.customer_count + x.buyers
      FROM (SELECT product_id, sum(units)::BIGINT AS units, sum(spend)::BIGINT AS spend,
                   sum(orders)::BIGINT AS orders, sum(buyers)::BIGINT AS buyers
              FROM (SELECT product_id, units, spend, orders, 0 AS buyers FROM d
                    UNION ALL
                    SELECT product_id, 0, 0, 0, n FROM buyers) c
             GROUP BY product_id
            HAVING (sum(units), sum(spend), sum(orders), sum(buyers)) <> (0, 0, 0, 0)) x
     WHERE p.product_id = x.product_id;
$$;

-- Order lines: what they count for, with their order as it is now (lines of
-- cancelled orders, or of orders deleted with them, count for nothing).
CREATE OR REPLACE FUNCTION stats_lines_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM stats_apply_purchases(array_agg(o.user_id), array_agg(l.product_id), array_agg(l.quantity),
                                      array_agg(l.unit_price_cents), array_agg(o.placed_at), array_agg(1))
           FROM new_lines l JOIN orders o ON o.id = l.order_id AND o.status <> 'cancelled';
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM stats_apply_purchases(array_agg(o.user_id), array_agg(l.product_id), array_agg(l.quantity),
                                      array_agg(l.unit_price_cents), array_agg(o.placed_at), array_agg(-1))
           FROM old_lines l JOIN orders o ON o.id = l.order_id AND o.status <> 'cancelled';
    ELSE
        PERFORM stats_apply_purchases(array_agg(c.user_id), array_agg(c.product_id), array_agg(c.quantity),
                                      array_agg(c.unit_price_cents), array_agg(c.placed_at), array_agg(c.sign))
           FROM (SELECT o.user_id, l.product_id, l.quantity, l.unit_price_cents, o.placed_at, -1 AS sign
                   FROM old_lines l JOIN orders o ON o.id = l.order_id AND o.status <> 'cancelled'
                 UNION ALL
                 SELECT o.user_id, l.product_id, l.quantity, l.unit_price_cents, o.placed_at, 1
                   FROM new_lines l JOIN orders o ON o.id = l.order_id AND o.status <> 'cancelled') c;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION stats_orders_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Orders whose figures changed: take the old contribution off, add the new.
    PERFORM stats_apply_orders(array_agg(c.user_id), array_agg(c.status), array_agg(c.total_cents),
                               array_agg(c.placed_at), array_agg(c.sign))
       FROM (SELECT side.*
               FROM old_orders o JOIN new_orders n ON n.id = o.id
              CROSS JOIN LATERAL (VALUES (o.user_id, o.status, o.total_cents, o.placed_at, -1),
                                         (n.user_id, n.status, n.total_cents, n.placed_at, 1))
                    AS side(user_id, status, total_cents, placed_at, sign)
              WHERE (o.user_id, o.status, o.total_cents, o.placed_at)
                    IS DISTINCT FROM (n.user_id, n.status, n.total_cents, n.placed_at)) c;
    -- Their lines, where who bought, when, or whether it counts changed:
    -- taken off as the order was (if it counted), added as it is (if it counts).
    PERFORM stats_apply_purchases(array_agg(c.user_id), array_agg(i.product_id), array_agg(i.quantity),
                                  array_agg(i.unit_price_cents), array_agg(c.placed_at), array_agg(c.sign))
       FROM (SELECT n.id, side.user_id, side.placed_at, side.sign
               FROM old_orders o JOIN new_orders n ON n.id = o.id
              CROSS JOIN LATERAL (VALUES (o.user_id, o.placed_at, o.status, -1),
                                         (n.user_id, n.placed_at, n.status, 1))
                    AS side(user_id, placed_at, status, sign)
              WHERE side.status <> 'cancelled'
                AND (o.user_id, o.placed_at, o.status = 'cancelled')
                    IS DISTINCT FROM (n.user_id, n.placed_at, n.status = 'cancelled')) c
       JOIN order_items i ON i.order_id = c.id;
    RETURN NULL;
END $$;

-- Before an order goes, its lines still exist: take them off the figures
-- (the application deletes the lines first, so usually none are left).
CREATE OR REPLACE FUNCTION stats_order_deleting() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 'cancelled' THEN
        PERFORM stats_apply_purchases(array_agg(OLD.user_id), array_agg(i.product_id), array_agg(i.quantity),
                                      array_agg(i.unit_price_cents), array_agg(OLD.placed_at), array_agg(-1),
                                      ARRAY[OLD.id])
           FROM order_items i WHERE i.order_id = OLD.id;
    END IF;
    RETURN OLD;
END $$;

DROP FUNCTION stats_apply_lines_of(BIGINT[], INTEGER[]);
DROP FUNCTION stats_apply_line_rows(BIGINT[], BIGINT[], INTEGER[], BIGINT[], INTEGER[]);

-- Recomputes every aggregate from the orders themselves, after bulk loads.
-- `shopdesk verify-stats` compares the kept figures against the same sums.
-- The customer-product figures are loaded without their sort indexes, which
-- are then built once: far quicker than keeping them up row by row.
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
    TRUNCATE customer_stats, product_stats, monthly_revenue, customer_products;
    INSERT INTO customer_products (user_id, product_id, units, spend_cents, order_count, last_bought_at)
    SELECT o.user_id, i.product_id, sum(i.quantity), sum(i.quantity * i.unit_price_cents), count(*), max(o.placed_at)
      FROM order_items i JOIN orders o ON o.id = i.order_id AND o.status <> 'cancelled'
     GROUP BY o.user_id, i.product_id;
    INSERT INTO customer_stats (user_id, order_count, active_order_count, revenue_cents, product_count)
    SELECT u.id, coalesce(o.orders, 0), coalesce(o.active, 0), coalesce(o.revenue, 0), coalesce(b.products, 0)
      FROM users u
      LEFT JOIN (SELECT user_id, count(*) AS orders, count(*) FILTER (WHERE status <> 'cancelled') AS active,
                        sum(total_cents) FILTER (WHERE status <> 'cancelled') AS revenue
                   FROM orders GROUP BY user_id) o ON o.user_id = u.id
      LEFT JOIN (SELECT user_id, count(*) AS products FROM customer_products GROUP BY user_id) b ON b.user_id = u.id;
    INSERT INTO product_stats (product_id, units_sold, revenue_cents, order_count, customer_count)
    SELECT p.id, coalesce(sum(c.units), 0), coalesce(sum(c.spend_cents), 0), coalesce(sum(c.order_count), 0),
           count(c.user_id)
      FROM products p LEFT JOIN customer_products c ON c.product_id = p.id
     GROUP BY p.id;
    INSERT INTO monthly_revenue (month, order_count, revenue_cents, pending, paid, shipped, cancelled, units_sold)
    SELECT m.*, coalesce(u.units, 0)
      FROM (SELECT date_trunc('month', placed_at AT TIME ZONE 'UTC')::DATE AS month, count(*),
                   coalesce(sum(total_cents) FILTER (WHERE status <> 'cancelled'), 0),
                   count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'paid'),
                   count(*) FILTER (WHERE status = 'shipped'), count(*) FILTER (WHERE status = 'cancelled')
              FROM orders GROUP BY 1) m
      LEFT JOIN (SELECT date_trunc('month', o.placed_at AT TIME ZONE 'UTC')::DATE AS month, sum(i.quantity) AS units
                   FROM order_items i JOIN orders o ON o.id = i.order_id AND o.status <> 'cancelled'
                  GROUP BY 1) u ON u.month = m.month;
    FOREACH definition IN ARRAY sort_indexes LOOP
        EXECUTE definition;
    END LOOP;
END $$;

SELECT stats_rebuild();

-- Indexes built after the figures are filled, each ending in the other id
-- for keyset pagination: a product's buyers by spend, units or last purchase,
-- and a customer's products the same ways.
CREATE INDEX customer_products_buyers_spend ON customer_products (product_id, spend_cents, user_id);
CREATE INDEX customer_products_buyers_units ON customer_products (product_id, units, user_id);
CREATE INDEX customer_products_buyers_last ON customer_products (product_id, last_bought_at, user_id);
CREATE INDEX customer_products_bought_spend ON customer_products (user_id, spend_cents, product_id);
CREATE INDEX customer_products_bought_units ON customer_products (user_id, units, product_id);
CREATE INDEX customer_products_bought_last ON customer_products (user_id, last_bought_at, product_id);
ALTER TABLE customer_products
    ADD CONSTRAINT customer_products_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    ADD CONSTRAINT customer_products_product_id_fkey FOREIGN KEY (product_id) REFERENCES products (id) ON DELETE CASCADE;

-- The customers list sorts by orders that are not cancelled; the reports rank
-- with a stated second key (orders, then revenue; revenue, then orders;
-- units, then revenue), each served by one index.
CREATE INDEX customer_stats_active_sort ON customer_stats (active_order_count, user_id);
CREATE INDEX customer_stats_orders_rank ON customer_stats (active_order_count DESC, revenue_cents DESC, user_id);
CREATE INDEX customer_stats_revenue_rank ON customer_stats (revenue_cents DESC, active_order_count DESC, user_id);
CREATE INDEX product_stats_units_rank ON product_stats (units_sold DESC, revenue_cents DESC, product_id);

-- A customer's latest orders (their page), and their orders by date in the
-- orders list, read from one index range however many orders they have.
CREATE INDEX orders_user_placed_sort ON orders (user_id, placed_at, id);

-- Orders containing a product, found from the lines by product with the
-- order ids in the index (the orders list's product filter).
CREATE INDEX order_items_product_order_idx ON order_items (product_id, order_id);
DROP INDEX order_items_product_idx;
