-- The shop's calendar: every day and month is a day or month in the shop's
-- time zone (`time_zone` in Rocket.toml, written here at start-up), and the
-- figures per day that the dashboard reads for any period: orders by status,
-- revenue, units sold and new customers, kept exact by the same statement
-- triggers as the monthly figures. `changes` counts every change to a day's
-- orders and lines, so a period's rankings computed earlier are known to be
-- current exactly when the period's count is what it was then.

CREATE TABLE shop_settings (
    only_row   BOOLEAN PRIMARY KEY DEFAULT true CONSTRAINT shop_settings_one_row CHECK (only_row),
    time_zone  TEXT NOT NULL DEFAULT 'UTC'
);
INSERT INTO shop_settings DEFAULT VALUES;

CREATE FUNCTION shop_time_zone() RETURNS TEXT LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT time_zone FROM shop_settings), 'UTC')
$$;

CREATE TABLE daily_figures (
    day            DATE PRIMARY KEY,
    order_count    BIGINT NOT NULL DEFAULT 0,
    revenue_cents  BIGINT NOT NULL DEFAULT 0,
    pending        BIGINT NOT NULL DEFAULT 0,
    paid           BIGINT NOT NULL DEFAULT 0,
    shipped        BIGINT NOT NULL DEFAULT 0,
    cancelled      BIGINT NOT NULL DEFAULT 0,
    units_sold     BIGINT NOT NULL DEFAULT 0,
    new_customers  BIGINT NOT NULL DEFAULT 0,
    changes        BIGINT NOT NULL DEFAULT 0
);

-- A period's first products (by units, then revenue) and customers (by
-- revenue, then orders; and by orders, then revenue), as ids and figures,
-- with the period's `changes` when they were worked out; names are looked
-- up when shown.
CREATE TABLE period_leaders (
    period_from          DATE NOT NULL,
    period_to            DATE NOT NULL,
    changes              BIGINT NOT NULL,
    computed_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    products             JSONB NOT NULL,
    customers_by_revenue JSONB NOT NULL,
    customers_by_orders  JSONB NOT NULL,
    -- How many of each were kept: a view asking for more works them out again.
    kept_top             INTEGER NOT NULL,
    CONSTRAINT period_leaders_pkey PRIMARY KEY (period_from, period_to)
);

-- The first `top` (at least 25 are kept) products and customers of the days
-- `since_day` to `until_day`: those kept, while none of the period's days
-- changed since they were worked out; else worked out afresh from the
-- period's orders and kept. Kept ones that are out of date still serve,
-- marked not current, when `work_out` is false (a page view: the server's
-- own refresher works them out again in the background) or when another
-- session is already at it. Planned statement by statement, so that reading
-- what is kept never plans (or compiles) the working out.
CREATE FUNCTION period_leaders_of(since_day DATE, until_day DATE, top INTEGER, work_out BOOLEAN)
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
        SELECT o.id AS order_id, o.user_id, i.product_id, i.quantity::BIGINT AS quantity,
               i.quantity * i.unit_price_cents AS spend
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

-- Customer, month and day figures from signed order contributions.
CREATE OR REPLACE FUNCTION stats_apply_orders(user_ids BIGINT[], statuses TEXT[], totals BIGINT[],
                                              placed TIMESTAMPTZ[], signs INTEGER[]) RETURNS void LANGUAGE sql AS $$
    WITH d AS (
        SELECT user_id, status, sign,
               sign * CASE WHEN status <> 'cancelled' THEN total ELSE 0 END AS revenue,
               sign * (status <> 'cancelled')::INT AS active,
               (placed_at AT TIME ZONE (SELECT shop_time_zone()))::DATE AS day
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
    ), days AS (
        SELECT day, sum(sign) AS order_count, sum(revenue) AS revenue_cents,
               sum(sign * (status = 'pending')::INT) AS pending, sum(sign * (status = 'paid')::INT) AS paid,
               sum(sign * (status = 'shipped')::INT) AS shipped, sum(sign * (status = 'cancelled')::INT) AS cancelled,
               count(*) AS changes
          FROM d GROUP BY day
    ), daily AS (
        INSERT INTO daily_figures AS r (day, order_count, revenue_cents, pending, paid, shipped, cancelled, changes)
        SELECT * FROM days ORDER BY day
            ON CONFLICT (day) DO UPDATE
            SET order_count = r.order_count + EXCLUDED.order_count,
                revenue_cents = r.revenue_cents + EXCLUDED.revenue_cents,
                pending = r.pending + EXCLUDED.pending, paid = r.paid + EXCLUDED.paid,
                shipped = r.shipped + EXCLUDED.shipped, cancelled = r.cancelled + EXCLUDED.cancelled,
                changes = r.changes + EXCLUDED.changes
    ), months AS (
        SELECT date_trunc('month', day)::DATE AS month, sum(order_count) AS order_count,
               sum(revenue_cents) AS revenue_cents, sum(pending) AS pending, sum(paid) AS paid,
               sum(shipped) AS shipped, sum(cancelled) AS cancelled
          FROM days GROUP BY 1
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

-- Units per month and per day in the shop's zone, with the other purchase figures.
CREATE OR REPLACE FUNCTION stats_apply_purchases(user_ids BIGINT[], product_ids BIGINT[], quantities INTEGER[], prices BIGINT[],
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
        SELECT date_trunc('month', (placed_at AT TIME ZONE (SELECT shop_time_zone()))::DATE)::DATE, sum(sign * quantity) FROM l
         GROUP BY 1 HAVING sum(sign * quantity) <> 0
         ORDER BY 1
            ON CONFLICT (month) DO UPDATE SET units_sold = r.units_sold + EXCLUDED.units_sold
    ), days AS (
        INSERT INTO daily_figures AS r (day, units_sold, changes)
        SELECT (placed_at AT TIME ZONE (SELECT shop_time_zone()))::DATE, sum(sign * quantity), count(*) FROM l
         GROUP BY 1
         ORDER BY 1
            ON CONFLICT (day) DO UPDATE
            SET units_sold = r.units_sold + EXCLUDED.units_sold, changes = r.changes + EXCLUDED.changes
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

-- New customers per day: signs up (+1) or goes (-1), at `joined`.
CREATE FUNCTION stats_apply_signups(joined TIMESTAMPTZ[], signs INTEGER[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO daily_figures AS r (day, new_customers)
    SELECT (j.at AT TIME ZONE (SELECT shop_time_zone()))::DATE, sum(j.sign)
      FROM unnest(joined, signs) AS j(at, sign)
     GROUP BY 1 HAVING sum(j.sign) <> 0
     ORDER BY 1
        ON CONFLICT (day) DO UPDATE SET new_customers = r.new_customers + EXCLUDED.new_customers;
$$;

CREATE FUNCTION stats_users_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM stats_apply_signups(array_agg(created_at), array_agg(1)) FROM new_users;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM stats_apply_signups(array_agg(created_at), array_agg(-1)) FROM old_users;
    ELSE
        PERFORM stats_apply_signups(array_agg(c.at), array_agg(c.sign))
           FROM (SELECT side.*
                   FROM old_users o JOIN new_users n ON n.id = o.id
                  CROSS JOIN LATERAL (VALUES (o.created_at, -1), (n.created_at, 1)) AS side(at, sign)
                  WHERE o.created_at <> n.created_at) c;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER users_signups_inserted AFTER INSERT ON users
    REFERENCING NEW TABLE AS new_users FOR EACH STATEMENT EXECUTE FUNCTION stats_users_changed();
CREATE TRIGGER users_signups_updated AFTER UPDATE ON users
    REFERENCING OLD TABLE AS old_users NEW TABLE AS new_users FOR EACH STATEMENT EXECUTE FUNCTION stats_users_changed();
CREATE TRIGGER users_signups_deleted AFTER DELETE ON users
    REFERENCING OLD TABLE AS old_users FOR EACH STATEMENT EXECUTE FUNCTION stats_users_changed();

-- Recomputes the day and month figures from the orders, lines and customers,
-- in the shop's zone (after a bulk load, or when the zone changes).
CREATE FUNCTION stats_rebuild_calendar() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    zone TEXT := shop_time_zone();
BEGIN
    TRUNCATE monthly_revenue, daily_figures, period_leaders;
    INSERT INTO daily_figures (day, order_count, revenue_cents, pending, paid, shipped, cancelled, units_sold,
                               new_customers)
    SELECT coalesce(o.day, l.day, s.day), coalesce(o.orders, 0), coalesce(o.revenue, 0), coalesce(o.pending, 0),
           coalesce(o.paid, 0), coalesce(o.shipped, 0), coalesce(o.cancelled, 0), coalesce(l.units, 0),
           coalesce(s.signups, 0)
      FROM (SELECT (placed_at AT TIME ZONE zone)::DATE AS day, count(*) AS orders,
                   coalesce(sum(total_cents) FILTER (WHERE status <> 'cancelled'), 0) AS revenue,
                   count(*) FILTER (WHERE status = 'pending') AS pending,
                   count(*) FILTER (WHERE status = 'paid') AS paid,
                   count(*) FILTER (WHERE status = 'shipped') AS shipped,
                   count(*) FILTER (WHERE status = 'cancelled') AS cancelled
              FROM orders GROUP BY 1) o
      FULL JOIN (SELECT (o.placed_at AT TIME ZONE zone)::DATE AS day, sum(i.quantity) AS units
                   FROM order_items i JOIN orders o ON o.id = i.order_id AND o.status <> 'cancelled'
                  GROUP BY 1) l ON l.day = o.day
      FULL JOIN (SELECT (created_at AT TIME ZONE zone)::DATE AS day, count(*) AS signups
                   FROM users GROUP BY 1) s ON s.day = coalesce(o.day, l.day);
    INSERT INTO monthly_revenue (month, order_count, revenue_cents, pending, paid, shipped, cancelled, units_sold)
    SELECT date_trunc('month', day)::DATE, sum(order_count), sum(revenue_cents), sum(pending), sum(paid),
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
    PERFORM stats_rebuild_calendar();
    FOREACH definition IN ARRAY sort_indexes LOOP
        EXECUTE definition;
    END LOOP;
END $$;

-- Makes `zone` the shop's time zone; when it changes, the day and month
-- figures are recomputed in it while order and customer changes wait.
-- Returns whether it changed.
CREATE FUNCTION shop_use_time_zone(zone TEXT) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
BEGIN
    PERFORM now() AT TIME ZONE zone;  -- an unknown zone fails here, before anything changes
    IF shop_time_zone() = zone THEN
        RETURN false;
    END IF;
    LOCK TABLE orders, order_items, users IN SHARE MODE;
    UPDATE shop_settings SET time_zone = zone;
    PERFORM stats_rebuild_calendar();
    RETURN true;
END $$;

SELECT stats_rebuild_calendar();
