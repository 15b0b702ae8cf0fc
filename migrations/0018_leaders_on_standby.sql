-- A period's leaders read on a hot standby (a read replica). The leaders kept
-- in `period_leaders` reach the standby with the rest of the primary's log,
-- but a standby refuses every write, so where the primary would work them out
-- and keep them, a standby works them out for this statement only: the same
-- figures, marked current, nothing kept. The primary's refresher keeps the
-- preset periods, so a standby mostly reads what is kept; a period nothing
-- kept (a custom one viewed only on standbys) it works out at each view.
--
-- The pace of the products running low (`product_pace`, `units_sold_30_days`)
-- needs nothing here: pages only read the kept pace and sum it on the spot
-- when it is missing or old, which a standby can do; only the refresher on
-- the primary writes it.
CREATE OR REPLACE FUNCTION period_leaders_of(since_day DATE, until_day DATE, top INTEGER, work_out BOOLEAN)
RETURNS TABLE (products JSONB, customers_by_revenue JSONB, customers_by_orders JSONB, computed_at TIMESTAMPTZ,
               current BOOLEAN)
LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    zone TEXT := shop_time_zone();
    keep INTEGER := greatest(top, 25);
    standby BOOLEAN := pg_is_in_recovery();
    changed BIGINT;
    kept period_leaders;
    by_units JSONB;
    by_revenue JSONB;
    by_orders JSONB;
BEGIN
    SELECT coalesce(sum(d.changes), 0) INTO changed FROM daily_figures d WHERE d.day BETWEEN since_day AND until_day;
    SELECT * INTO kept FROM period_leaders l WHERE l.period_from = since_day AND l.period_to = until_day;
    -- A standby takes no lock: working the leaders out there keeps nothing,
    -- so two sessions doing it at once cost time, never a conflict.
    IF FOUND AND kept.kept_top >= top
       AND (kept.changes = changed OR NOT work_out
            OR (NOT standby
                AND NOT pg_try_advisory_xact_lock(7, hashtext(since_day::TEXT || ' ' || until_day::TEXT)))) THEN
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
    SELECT (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]')
              FROM (SELECT * FROM product_sums p ORDER BY p.figure DESC, p.revenue DESC, p.id LIMIT keep) t),
           (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]')
              FROM (SELECT * FROM customer_sums c ORDER BY c.revenue DESC, c.figure DESC, c.id LIMIT keep) t),
           (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]')
              FROM (SELECT * FROM customer_sums c ORDER BY c.figure DESC, c.revenue DESC, c.id LIMIT keep) t)
      INTO by_units, by_revenue, by_orders;
    IF standby THEN
        RETURN QUERY SELECT by_units, by_revenue, by_orders, now(), true;
        RETURN;
    END IF;
    INSERT INTO period_leaders AS l (period_from, period_to, changes, computed_at, products, customers_by_revenue,
                                     customers_by_orders, kept_top)
    VALUES (since_day, until_day, changed, now(), by_units, by_revenue, by_orders, keep)
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
