-- Keep the audit trail and the customer, month and product figures per
-- statement rather than per row. One statement that changes 100,000 orders (a bulk action) now
-- updates each customer's and each month's figures once, summed, instead of
-- once per order: per row, a busy customer's or a month's single figures row
-- took thousands of successive versions inside one transaction, and each
-- update had to walk past all the earlier ones. Single edits behave exactly
-- as before: they are statements of one row.

DROP TRIGGER orders_stats ON orders;
DROP FUNCTION stats_orders();

-- Adds signed order contributions to customer and month figures: for each
-- element, `sign` (+1 or -1) times the order (user, status, total, placed).
CREATE FUNCTION stats_apply_orders(user_ids BIGINT[], statuses TEXT[], totals BIGINT[], placed TIMESTAMPTZ[],
                                   signs INTEGER[]) RETURNS void LANGUAGE sql AS $$
    WITH d AS (
        SELECT user_id, status, sign,
               sign * CASE WHEN status <> 'cancelled' THEN total ELSE 0 END AS revenue,
               date_trunc('month', placed_at AT TIME ZONE 'UTC')::DATE AS month
          FROM unnest(user_ids, statuses, totals, placed, signs) AS d(user_id, status, total, placed_at, sign)
    ), customers AS (
        INSERT INTO customer_stats AS s (user_id, order_count, revenue_cents)
        SELECT user_id, sum(sign), sum(revenue) FROM d GROUP BY user_id
        HAVING sum(sign) <> 0 OR sum(revenue) <> 0
         ORDER BY user_id  -- rows are locked in one order, so concurrent changes never deadlock
            ON CONFLICT (user_id) DO UPDATE
            SET order_count = s.order_count + EXCLUDED.order_count,
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

-- Adds (sign +1) or takes off (sign -1) the lines of these orders from the
-- product figures, each product once.
CREATE FUNCTION stats_apply_lines_of(order_ids BIGINT[], signs INTEGER[]) RETURNS void LANGUAGE sql AS $$
    UPDATE product_stats p
       SET units_sold = p.units_sold + d.units, revenue_cents = p.revenue_cents + d.revenue,
           order_count = p.order_count + d.orders
      FROM (SELECT i.product_id, sum(o.sign * i.quantity) AS units,
                   sum(o.sign * i.quantity * i.unit_price_cents) AS revenue, sum(o.sign) AS orders
              FROM unnest(order_ids, signs) AS o(id, sign) JOIN order_items i ON i.order_id = o.id
             GROUP BY i.product_id) d
     WHERE p.product_id = d.product_id;
$$;

-- Before an order goes, its lines still exist: take them off the products
-- (the application deletes the lines first, so usually none are left).
CREATE OR REPLACE FUNCTION stats_order_deleting() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 'cancelled' THEN
        PERFORM stats_apply_lines_of(ARRAY[OLD.id], ARRAY[-1]);
    END IF;
    RETURN OLD;
END $$;
DROP FUNCTION stats_apply_lines(BIGINT, INTEGER);

CREATE FUNCTION stats_orders_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stats_apply_orders(array_agg(user_id), array_agg(status), array_agg(total_cents), array_agg(placed_at),
                               array_agg(1))
       FROM new_orders;
    RETURN NULL;
END $$;
CREATE TRIGGER orders_stats_inserted AFTER INSERT ON orders
    REFERENCING NEW TABLE AS new_orders FOR EACH STATEMENT EXECUTE FUNCTION stats_orders_inserted();

CREATE FUNCTION stats_orders_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stats_apply_orders(array_agg(user_id), array_agg(status), array_agg(total_cents), array_agg(placed_at),
                               array_agg(-1))
       FROM old_orders;
    RETURN NULL;
END $$;
CREATE TRIGGER orders_stats_deleted AFTER DELETE ON orders
    REFERENCING OLD TABLE AS old_orders FOR EACH STATEMENT EXECUTE FUNCTION stats_orders_deleted();

CREATE FUNCTION stats_orders_updated() RETURNS trigger LANGUAGE plpgsql AS $$
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
    -- Lines count toward products only while their order is not cancelled.
    PERFORM stats_apply_lines_of(array_agg(n.id), array_agg(CASE WHEN n.status = 'cancelled' THEN -1 ELSE 1 END))
       FROM old_orders o JOIN new_orders n ON n.id = o.id
      WHERE (o.status = 'cancelled') <> (n.status = 'cancelled');
    RETURN NULL;
END $$;
CREATE TRIGGER orders_stats_updated AFTER UPDATE ON orders
    REFERENCING OLD TABLE AS old_orders NEW TABLE AS new_orders
    FOR EACH STATEMENT EXECUTE FUNCTION stats_orders_updated();

-- Order lines: product figures per statement, each product once. Lines count
-- only while their order is not cancelled; lines deleted with their order
-- were already taken off by `stats_order_deleting`, and find no order here.
DROP TRIGGER order_items_stats ON order_items;
DROP FUNCTION stats_order_items();

CREATE FUNCTION stats_apply_line_rows(order_ids BIGINT[], product_ids BIGINT[], quantities INTEGER[],
                                      prices BIGINT[], signs INTEGER[]) RETURNS void LANGUAGE sql AS $$
    UPDATE product_stats p
       SET units_sold = p.units_sold + d.units, revenue_cents = p.revenue_cents + d.revenue,
           order_count = p.order_count + d.orders
      FROM (SELECT l.product_id, sum(l.sign * l.quantity) AS units, sum(l.sign * l.quantity * l.price) AS revenue,
                   sum(l.sign) AS orders
              FROM unnest(order_ids, product_ids, quantities, prices, signs)
                   AS l(order_id, product_id, quantity, price, sign)
              JOIN orders o ON o.id = l.order_id AND o.status <> 'cancelled'
             GROUP BY l.product_id
             ORDER BY l.product_id) d
     WHERE p.product_id = d.product_id;
$$;

CREATE FUNCTION stats_lines_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM stats_apply_line_rows(array_agg(order_id), array_agg(product_id), array_agg(quantity),
                                      array_agg(unit_price_cents), array_agg(-1))
           FROM old_lines;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM stats_apply_line_rows(array_agg(order_id), array_agg(product_id), array_agg(quantity),
                                      array_agg(unit_price_cents), array_agg(1))
           FROM new_lines;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER order_items_stats_inserted AFTER INSERT ON order_items
    REFERENCING NEW TABLE AS new_lines FOR EACH STATEMENT EXECUTE FUNCTION stats_lines_changed();
CREATE TRIGGER order_items_stats_updated AFTER UPDATE ON order_items
    REFERENCING OLD TABLE AS old_lines NEW TABLE AS new_lines FOR EACH STATEMENT EXECUTE FUNCTION stats_lines_changed();
CREATE TRIGGER order_items_stats_deleted AFTER DELETE ON order_items
    REFERENCING OLD TABLE AS old_lines FOR EACH STATEMENT EXECUTE FUNCTION stats_lines_changed();

-- The audit trail: one INSERT per statement writes a row per changed record,
-- with the same contents as before (before/after JSON without version and
-- updated_at; unchanged updates skipped; lines filed under their order).
DROP TRIGGER users_audit ON users;
DROP TRIGGER products_audit ON products;
DROP TRIGGER orders_audit ON orders;
DROP TRIGGER order_items_audit ON order_items;
DROP FUNCTION audit_change();

CREATE FUNCTION audit_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    actor BIGINT := nullif(current_setting('shopdesk.staff_id', true), '')::BIGINT;
    kind  TEXT := CASE TG_TABLE_NAME WHEN 'users' THEN 'user' WHEN 'products' THEN 'product'
                                     WHEN 'orders' THEN 'order' ELSE 'order_line' END;
    lines BOOLEAN := TG_TABLE_NAME = 'order_items';
BEGIN
    IF current_setting('shopdesk.audit', true) = 'off' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO audit_log (staff_id, entity, entity_id, action, before, after)
        SELECT actor, kind, (n.j ->> CASE WHEN lines THEN 'order_id' ELSE 'id' END)::BIGINT, 'create', NULL, n.j
          FROM (SELECT to_jsonb(r) - 'version' - 'updated_at' AS j FROM new_rows r) n
         ORDER BY 3;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO audit_log (staff_id, entity, entity_id, action, before, after)
        SELECT actor, kind, (o.j ->> CASE WHEN lines THEN 'order_id' ELSE 'id' END)::BIGINT, 'delete', o.j, NULL
          FROM (SELECT to_jsonb(r) - 'version' - 'updated_at' AS j FROM old_rows r) o
         ORDER BY 3;
    ELSE
        -- Pair each record's old and new versions by its key.
        INSERT INTO audit_log (staff_id, entity, entity_id, action, before, after)
        SELECT actor, kind, (coalesce(n.j, o.j) ->> CASE WHEN lines THEN 'order_id' ELSE 'id' END)::BIGINT,
               'update', o.j, n.j
          FROM (SELECT to_jsonb(r) - 'version' - 'updated_at' AS j FROM old_rows r) o
          FULL JOIN (SELECT to_jsonb(r) - 'version' - 'updated_at' AS j FROM new_rows r) n
            ON CASE WHEN lines THEN (o.j ->> 'order_id') || ':' || (o.j ->> 'product_id') ELSE o.j ->> 'id' END
             = CASE WHEN lines THEN (n.j ->> 'order_id') || ':' || (n.j ->> 'product_id') ELSE n.j ->> 'id' END
         WHERE o.j IS DISTINCT FROM n.j
         ORDER BY 3;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER users_audit_inserted AFTER INSERT ON users
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
CREATE TRIGGER users_audit_updated AFTER UPDATE ON users
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
CREATE TRIGGER users_audit_deleted AFTER DELETE ON users
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
CREATE TRIGGER products_audit_inserted AFTER INSERT ON products
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
CREATE TRIGGER products_audit_updated AFTER UPDATE ON products
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
CREATE TRIGGER products_audit_deleted AFTER DELETE ON products
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
CREATE TRIGGER orders_audit_inserted AFTER INSERT ON orders
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
CREATE TRIGGER orders_audit_updated AFTER UPDATE ON orders
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
CREATE TRIGGER orders_audit_deleted AFTER DELETE ON orders
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
CREATE TRIGGER order_items_audit_inserted AFTER INSERT ON order_items
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
CREATE TRIGGER order_items_audit_updated AFTER UPDATE ON order_items
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
CREATE TRIGGER order_items_audit_deleted AFTER DELETE ON order_items
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
