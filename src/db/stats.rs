//! The aggregates behind the reports (per customer, per product, per
//! customer and product, per month and per day in the shop's zone), kept up
//! to date by database triggers in the same transaction as every order
//! change and every refund, and the check that recomputes them from scratch.
//!
//! Revenue and units sold are net of refunds, counted on the day and month
//! the refunded order was placed (migration 0011); `refunded_cents` beside
//! each day and month keeps what was refunded, so gross is the sum of both.

use sqlx::{Connection, PgConnection};

use super::DbError;

/// One figure that differs from what the orders add up to.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Difference {
    pub kind: String,
    pub key: String,
    pub figure: String,
    pub kept: i64,
    pub expected: i64,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {} is {} but the orders add up to {}",
            self.kind, self.key, self.figure, self.kept, self.expected
        )
    }
}

/// Recomputes every kept figure from orders and lines, on one consistent
/// snapshot, and lists the differences. An empty list means all is exact.
pub async fn verify(conn: &mut PgConnection) -> Result<Vec<Difference>, DbError> {
    let mut tx = conn.begin().await?;
    sqlx::query!("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY").execute(&mut *tx).await?;
    let differences = sqlx::query_as!(
        Difference,
        r#"WITH refunded_lines AS (
             SELECT order_id, product_id, sum(quantity)::BIGINT AS quantity, sum(amount_cents)::BIGINT AS amount
               FROM refund_lines GROUP BY order_id, product_id
         ),
         refund_totals AS (
             SELECT order_id, sum(total_cents)::BIGINT AS total FROM refunds GROUP BY order_id
         ),
         line_totals AS (
             SELECT order_id, sum(quantity * unit_price_cents)::BIGINT AS total, sum(quantity)::BIGINT AS items,
                    sum(quantity * unit_price_cents - refunded_cents)::BIGINT AS net,
                    sum(quantity - refunded_quantity)::BIGINT AS net_items
               FROM order_items GROUP BY order_id
         ),
         order_check AS (
             SELECT 'order' AS kind, o.id::TEXT AS key, f.figure, f.kept, f.expected
               FROM orders o LEFT JOIN line_totals l ON l.order_id = o.id
               LEFT JOIN refund_totals r ON r.order_id = o.id,
                    LATERAL (VALUES ('total_cents', o.total_cents, coalesce(l.total, 0)),
                                    ('item_count', o.item_count::BIGINT, coalesce(l.items, 0)),
                                    ('refunded_cents', o.refunded_cents, coalesce(r.total, 0))) f(figure, kept, expected)
              WHERE f.kept <> f.expected
         ),
         line_check AS (
             SELECT 'order line' AS kind, 'order ' || i.order_id || ' product ' || i.product_id AS key,
                    f.figure, f.kept, f.expected
               FROM order_items i
               LEFT JOIN refunded_lines r ON r.order_id = i.order_id AND r.product_id = i.product_id,
                    LATERAL (VALUES ('refunded_quantity', i.refunded_quantity::BIGINT, coalesce(r.quantity, 0)),
                                    ('refunded_cents', i.refunded_cents, coalesce(r.amount, 0))) f(figure, kept, expected)
              WHERE (i.refunded_quantity > 0 OR r.order_id IS NOT NULL) AND f.kept <> f.expected
         ),
         refund_check AS (
             SELECT 'refund' AS kind, r.id::TEXT AS key, 'total_cents' AS figure, r.total_cents AS kept,
                    r.extra_cents + coalesce((SELECT sum(l.amount_cents) FROM refund_lines l WHERE l.refund_id = r.id), 0)::BIGINT
                        AS expected
               FROM refunds r
         ),
         refund_mismatch AS (
             SELECT * FROM refund_check WHERE kept <> expected
         ),
         purchase_expected AS (
             SELECT o.user_id, i.product_id, sum(i.quantity - i.refunded_quantity)::BIGINT AS units,
                    sum(i.quantity * i.unit_price_cents - i.refunded_cents)::BIGINT AS spend_cents,
                    count(*)::BIGINT AS order_count,
                    max(o.placed_at) AS last_bought_at
               FROM order_items i JOIN orders o ON o.id = i.order_id AND o.status <> 'cancelled'
              GROUP BY o.user_id, i.product_id
         ),
         purchase_check AS (
             SELECT 'purchase' AS kind,
                    'customer ' || coalesce(e.user_id, s.user_id) || ' product ' || coalesce(e.product_id, s.product_id)
                        AS key,
                    f.figure, f.kept, f.expected
               FROM purchase_expected e
               FULL JOIN customer_products s ON s.user_id = e.user_id AND s.product_id = e.product_id,
                    LATERAL (VALUES ('units', coalesce(s.units, 0), coalesce(e.units, 0)),
                                    ('spend_cents', coalesce(s.spend_cents, 0), coalesce(e.spend_cents, 0)),
                                    ('order_count', coalesce(s.order_count, 0), coalesce(e.order_count, 0)),
                                    ('last_bought_at (µs since 1970)',
                                     coalesce((extract(epoch FROM s.last_bought_at) * 1000000)::BIGINT, 0),
                                     coalesce((extract(epoch FROM e.last_bought_at) * 1000000)::BIGINT, 0)))
                        f(figure, kept, expected)
              WHERE f.kept <> f.expected
         ),
         customer_expected AS (
             SELECT u.id, count(o.id)::BIGINT AS order_count,
                    count(o.id) FILTER (WHERE o.status <> 'cancelled')::BIGINT AS active_order_count,
                    coalesce(sum(coalesce(l.total, 0) - coalesce(r.total, 0)) FILTER (WHERE o.status <> 'cancelled'), 0)::BIGINT
                        AS revenue_cents
               FROM users u LEFT JOIN orders o ON o.user_id = u.id LEFT JOIN line_totals l ON l.order_id = o.id
               LEFT JOIN refund_totals r ON r.order_id = o.id
              GROUP BY u.id
         ),
         products_bought AS (
             SELECT user_id, count(*)::BIGINT AS product_count FROM purchase_expected GROUP BY user_id
         ),
         customer_check AS (
             SELECT 'customer' AS kind, coalesce(e.id, s.user_id)::TEXT AS key, f.figure, f.kept, f.expected
               FROM (SELECT c.*, coalesce(b.product_count, 0) AS product_count
                       FROM customer_expected c LEFT JOIN products_bought b ON b.user_id = c.id) e
               FULL JOIN customer_stats s ON s.user_id = e.id,
                    LATERAL (VALUES ('order_count', coalesce(s.order_count, -1), coalesce(e.order_count, 0)),
                                    ('active_order_count', coalesce(s.active_order_count, -1),
                                     coalesce(e.active_order_count, 0)),
                                    ('revenue_cents', coalesce(s.revenue_cents, -1), coalesce(e.revenue_cents, 0)),
                                    ('product_count', coalesce(s.product_count, -1), coalesce(e.product_count, 0)))
                        f(figure, kept, expected)
              WHERE f.kept <> f.expected
         ),
         product_expected AS (
             SELECT p.id, coalesce(sum(b.units), 0)::BIGINT AS units_sold,
                    coalesce(sum(b.spend_cents), 0)::BIGINT AS revenue_cents,
                    coalesce(sum(b.order_count), 0)::BIGINT AS order_count, count(b.user_id)::BIGINT AS customer_count
               FROM products p LEFT JOIN purchase_expected b ON b.product_id = p.id
              GROUP BY p.id
         ),
         product_check AS (
             SELECT 'product' AS kind, coalesce(e.id, s.product_id)::TEXT AS key, f.figure, f.kept, f.expected
               FROM product_expected e FULL JOIN product_stats s ON s.product_id = e.id,
                    LATERAL (VALUES ('units_sold', coalesce(s.units_sold, -1), coalesce(e.units_sold, 0)),
                                    ('revenue_cents', coalesce(s.revenue_cents, -1), coalesce(e.revenue_cents, 0)),
                                    ('order_count', coalesce(s.order_count, -1), coalesce(e.order_count, 0)),
                                    ('customer_count', coalesce(s.customer_count, -1), coalesce(e.customer_count, 0)))
                        f(figure, kept, expected)
              WHERE f.kept <> f.expected
         ),
         month_expected AS (
             SELECT date_trunc('month', o.placed_at AT TIME ZONE shop_time_zone())::DATE AS month, count(*)::BIGINT AS order_count,
                    coalesce(sum(coalesce(l.total, 0) - coalesce(r.total, 0)) FILTER (WHERE o.status <> 'cancelled'), 0)::BIGINT
                        AS revenue_cents,
                    coalesce(sum(r.total), 0)::BIGINT AS refunded_cents,
                    count(*) FILTER (WHERE o.status = 'pending')::BIGINT AS pending,
                    count(*) FILTER (WHERE o.status = 'paid')::BIGINT AS paid,
                    count(*) FILTER (WHERE o.status = 'shipped')::BIGINT AS shipped,
                    count(*) FILTER (WHERE o.status = 'cancelled')::BIGINT AS cancelled,
                    coalesce(sum(l.net_items) FILTER (WHERE o.status <> 'cancelled'), 0)::BIGINT AS units_sold
               FROM orders o LEFT JOIN line_totals l ON l.order_id = o.id LEFT JOIN refund_totals r ON r.order_id = o.id
              GROUP BY 1
         ),
         month_check AS (
             SELECT 'month' AS kind, to_char(coalesce(e.month, m.month), 'YYYY-MM') AS key, f.figure, f.kept, f.expected
               FROM month_expected e FULL JOIN monthly_revenue m ON m.month = e.month,
                    LATERAL (VALUES ('order_count', coalesce(m.order_count, 0), coalesce(e.order_count, 0)),
                                    ('revenue_cents', coalesce(m.revenue_cents, 0), coalesce(e.revenue_cents, 0)),
                                    ('refunded_cents', coalesce(m.refunded_cents, 0), coalesce(e.refunded_cents, 0)),
                                    ('pending', coalesce(m.pending, 0), coalesce(e.pending, 0)),
                                    ('paid', coalesce(m.paid, 0), coalesce(e.paid, 0)),
                                    ('shipped', coalesce(m.shipped, 0), coalesce(e.shipped, 0)),
                                    ('cancelled', coalesce(m.cancelled, 0), coalesce(e.cancelled, 0)),
                                    ('units_sold', coalesce(m.units_sold, 0), coalesce(e.units_sold, 0)))
                        f(figure, kept, expected)
              WHERE f.kept <> f.expected
         ),
         day_expected AS (
             SELECT (o.placed_at AT TIME ZONE shop_time_zone())::DATE AS day, count(*)::BIGINT AS order_count,
                    coalesce(sum(coalesce(l.total, 0) - coalesce(r.total, 0)) FILTER (WHERE o.status <> 'cancelled'), 0)::BIGINT
                        AS revenue_cents,
                    coalesce(sum(r.total), 0)::BIGINT AS refunded_cents,
                    count(*) FILTER (WHERE o.status = 'pending')::BIGINT AS pending,
                    count(*) FILTER (WHERE o.status = 'paid')::BIGINT AS paid,
                    count(*) FILTER (WHERE o.status = 'shipped')::BIGINT AS shipped,
                    count(*) FILTER (WHERE o.status = 'cancelled')::BIGINT AS cancelled,
                    coalesce(sum(l.net_items) FILTER (WHERE o.status <> 'cancelled'), 0)::BIGINT AS units_sold
               FROM orders o LEFT JOIN line_totals l ON l.order_id = o.id LEFT JOIN refund_totals r ON r.order_id = o.id
              GROUP BY 1
         ),
         signups_expected AS (
             SELECT (created_at AT TIME ZONE shop_time_zone())::DATE AS day, count(*)::BIGINT AS new_customers
               FROM users GROUP BY 1
         ),
         day_check AS (
             SELECT 'day' AS kind, coalesce(d.day, e.day, s.day)::TEXT AS key, f.figure, f.kept, f.expected
               FROM day_expected e
               FULL JOIN signups_expected s ON s.day = e.day
               FULL JOIN daily_figures d ON d.day = coalesce(e.day, s.day),
                    LATERAL (VALUES ('order_count', coalesce(d.order_count, 0), coalesce(e.order_count, 0)),
                                    ('revenue_cents', coalesce(d.revenue_cents, 0), coalesce(e.revenue_cents, 0)),
                                    ('refunded_cents', coalesce(d.refunded_cents, 0), coalesce(e.refunded_cents, 0)),
                                    ('pending', coalesce(d.pending, 0), coalesce(e.pending, 0)),
                                    ('paid', coalesce(d.paid, 0), coalesce(e.paid, 0)),
                                    ('shipped', coalesce(d.shipped, 0), coalesce(e.shipped, 0)),
                                    ('cancelled', coalesce(d.cancelled, 0), coalesce(e.cancelled, 0)),
                                    ('units_sold', coalesce(d.units_sold, 0), coalesce(e.units_sold, 0)),
                                    ('new_customers', coalesce(d.new_customers, 0), coalesce(s.new_customers, 0)))
                        f(figure, kept, expected)
              WHERE f.kept <> f.expected
         )
         SELECT kind AS "kind!", key AS "key!", figure AS "figure!", kept AS "kept!", expected AS "expected!"
           FROM order_check
         UNION ALL SELECT * FROM line_check UNION ALL SELECT * FROM refund_mismatch
         UNION ALL SELECT * FROM customer_check UNION ALL SELECT * FROM product_check
         UNION ALL SELECT * FROM purchase_check UNION ALL SELECT * FROM month_check
         UNION ALL SELECT * FROM day_check
         ORDER BY 1, 2, 3
         LIMIT 1000"#
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(differences)
}

/// Recomputes every kept figure from scratch (after a bulk load).
pub async fn rebuild(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    // `FROM`, because the function returns nothing (`void`) to read.
    sqlx::query!("SELECT FROM stats_rebuild()").execute(conn).await?;
    Ok(())
}
