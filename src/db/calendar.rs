//! The shop's calendar in the database: its time zone, the figures kept per
//! day in that zone, a period's leading products and customers, and the
//! products running low.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use super::DbError;
use crate::domain::{Email, Money, Sku};

/// Makes `zone` (an IANA name) the zone that days and months are counted
/// in; when it changes, the kept day and month figures are recomputed in
/// it. Returns whether it changed.
pub async fn use_time_zone(conn: &mut PgConnection, zone: &str) -> Result<bool, DbError> {
    Ok(sqlx::query_scalar!(r#"SELECT shop_use_time_zone($1) AS "changed!""#, zone).fetch_one(conn).await?)
}

/// The zone the database counts days in.
pub async fn time_zone(conn: &mut PgConnection) -> Result<String, DbError> {
    Ok(sqlx::query_scalar!(r#"SELECT shop_time_zone() AS "zone!""#).fetch_one(conn).await?)
}

/// One day's figures in the shop's zone. Revenue, orders and units count
/// orders that are not cancelled.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Day {
    pub day: NaiveDate,
    pub orders: i64,
    pub revenue_cents: Money,
    pub units_sold: i64,
    pub new_customers: i64,
    pub pending: i64,
    pub paid: i64,
    pub shipped: i64,
    pub cancelled: i64,
}

/// The kept figures of each day from `from` to `to` that has any (at most
/// one row per day, however many orders).
pub async fn days(conn: &mut PgConnection, from: NaiveDate, to: NaiveDate) -> Result<Vec<Day>, DbError> {
    Ok(sqlx::query_as!(
        Day,
        r#"SELECT day, order_count - cancelled AS "orders!", revenue_cents AS "revenue_cents: Money", units_sold,
                  new_customers, pending, paid, shipped, cancelled
             FROM daily_figures
            WHERE day BETWEEN $1 AND $2
            ORDER BY day"#,
        from,
        to
    )
    .fetch_all(conn)
    .await?)
}

/// A product or customer leading a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leader {
    pub id: i64,
    pub name: String,
    /// Units sold (a product) or orders placed (a customer).
    pub figure: i64,
    pub revenue_cents: Money,
    /// A product's SKU.
    pub sku: Option<Sku>,
    /// A customer's email address.
    pub email: Option<Email>,
}

/// A period's first products (by units, then revenue) and customers (by
/// revenue, then orders; and by orders, then revenue), over orders that are
/// not cancelled.
#[derive(Debug, Clone, Default)]
pub struct Leaders {
    pub products: Vec<Leader>,
    pub customers_by_revenue: Vec<Leader>,
    pub customers_by_orders: Vec<Leader>,
    /// When they were worked out.
    pub computed_at: Option<DateTime<Utc>>,
    /// False when orders changed since and they are being worked out again
    /// elsewhere: shown as of `computed_at`.
    pub current: bool,
}

/// The first `limit` products and customers of the days `from` to `to`, in
/// one statement (`period_leaders_of`, migration 0007). They are worked out
/// from the period's orders and kept; later views read what was kept for as
/// long as no order or line of those days changed (each day counts its
/// changes). When they did change and the figures are already being worked
/// out again elsewhere, the kept ones are returned, marked not current,
/// rather than working them out twice.
///
/// With `work_out` false, kept ones serve however old (marked not current):
/// the server's refresher ([`keep_leaders_fresh`]) works them out again in
/// the background, so a page view never waits for that.
pub async fn leaders(
    conn: &mut PgConnection,
    from: NaiveDate,
    to: NaiveDate,
    limit: i64,
    work_out: bool,
) -> Result<Leaders, DbError> {
    let rows = sqlx::query!(
        r#"WITH c AS MATERIALIZED (SELECT * FROM period_leaders_of($1, $2, $3::BIGINT::INTEGER, $4))
           SELECT 'product' AS "kind!", x.id AS "id!", p.name AS "name!", x.figure AS "figure!",
                  x.revenue AS "revenue_cents!: Money", c.computed_at AS "computed_at!", c.current AS "current!",
                  p.sku AS "sku?: Sku", NULL::TEXT AS "email?: Email"
             FROM c
            CROSS JOIN LATERAL ROWS FROM (jsonb_to_recordset(c.products) AS (id BIGINT, figure BIGINT, revenue BIGINT))
                 WITH ORDINALITY AS x(id, figure, revenue, n)
            CROSS JOIN LATERAL (SELECT name, sku FROM products WHERE id = x.id OFFSET 0) p
            WHERE x.n <= $3
           UNION ALL
           SELECT 'by_revenue', x.id, u.name, x.figure, x.revenue, c.computed_at, c.current, NULL, u.email
             FROM c
            CROSS JOIN LATERAL ROWS FROM (jsonb_to_recordset(c.customers_by_revenue) AS (id BIGINT, figure BIGINT, revenue BIGINT))
                 WITH ORDINALITY AS x(id, figure, revenue, n)
            CROSS JOIN LATERAL (SELECT name, email FROM users WHERE id = x.id OFFSET 0) u
            WHERE x.n <= $3
           UNION ALL
           SELECT 'by_orders', x.id, u.name, x.figure, x.revenue, c.computed_at, c.current, NULL, u.email
             FROM c
            CROSS JOIN LATERAL ROWS FROM (jsonb_to_recordset(c.customers_by_orders) AS (id BIGINT, figure BIGINT, revenue BIGINT))
                 WITH ORDINALITY AS x(id, figure, revenue, n)
            CROSS JOIN LATERAL (SELECT name, email FROM users WHERE id = x.id OFFSET 0) u
            WHERE x.n <= $3"#,
        from,
        to,
        limit,
        work_out
    )
    .fetch_all(conn)
    .await?;
    let mut leaders = Leaders { current: true, ..Leaders::default() };
    for row in rows {
        leaders.computed_at = Some(row.computed_at);
        leaders.current = row.current;
        let leader = Leader {
            id: row.id,
            name: row.name,
            figure: row.figure,
            revenue_cents: row.revenue_cents,
            sku: row.sku,
            email: row.email,
        };
        match row.kind.as_str() {
            "product" => leaders.products.push(leader),
            "by_revenue" => leaders.customers_by_revenue.push(leader),
            _ => leaders.customers_by_orders.push(leader),
        }
    }
    let by_figure = |a: &Leader, b: &Leader| {
        b.figure.cmp(&a.figure).then(b.revenue_cents.cmp(&a.revenue_cents)).then(a.id.cmp(&b.id))
    };
    leaders.products.sort_by(by_figure);
    leaders.customers_by_orders.sort_by(by_figure);
    leaders
        .customers_by_revenue
        .sort_by(|a, b| b.revenue_cents.cmp(&a.revenue_cents).then(b.figure.cmp(&a.figure)).then(a.id.cmp(&b.id)));
    Ok(leaders)
}

/// A product at or below its reorder point, with its recent pace of sale.
#[derive(Debug, Clone)]
pub struct LowStock {
    pub id: i64,
    pub name: String,
    pub sku: Sku,
    pub stock: i32,
    pub reorder_point: i32,
    /// Units on orders placed in the last 30 days that are not cancelled.
    pub sold_30_days: i64,
}

impl LowStock {
    /// Whole days of stock left at the last 30 days' pace; `None` when
    /// nothing sold.
    pub fn days_left(&self) -> Option<i64> {
        super::products::days_of_stock_left(self.stock, self.sold_30_days)
    }
}

/// How many products are counted as running low, at most.
pub const LOW_STOCK_COUNT_LIMIT: i64 = 1000;

/// The `limit` products with the least stock of those at or below their
/// reorder point, least first, with units sold in the last 30 days (read for
/// those few products only), and how many there are (counted up to
/// [`LOW_STOCK_COUNT_LIMIT`]).
pub async fn running_low(conn: &mut PgConnection, limit: i64) -> Result<(Vec<LowStock>, i64), DbError> {
    let rows = sqlx::query!(
        r#"SELECT p.id AS "id?", p.name AS "name?", p.sku AS "sku?: Sku", p.stock AS "stock?",
                  p.reorder_point AS "reorder_point?", s.sold AS "sold?",
                  (SELECT count(*) FROM (SELECT 1 FROM products WHERE stock <= reorder_point LIMIT $2) t) AS "count!"
             FROM (SELECT 1) one
             LEFT JOIN LATERAL (SELECT id, name, sku, stock, reorder_point FROM products
                                 WHERE stock <= reorder_point ORDER BY stock, id LIMIT $1) p ON true
             LEFT JOIN LATERAL (SELECT coalesce((SELECT c.sold_30_days FROM product_pace c
                                                    WHERE c.product_id = p.id
                                                      AND c.computed_at > now() - INTERVAL '10 minutes'),
                                                  units_sold_30_days(p.id)) AS sold) s ON true"#,
        limit,
        LOW_STOCK_COUNT_LIMIT
    )
    .fetch_all(conn)
    .await?;
    let count = rows.first().map(|r| r.count).unwrap_or(0);
    let products = rows
        .into_iter()
        .filter_map(|r| match (r.id, r.name, r.sku, r.stock, r.reorder_point) {
            (Some(id), Some(name), Some(sku), Some(stock), Some(reorder_point)) => {
                Some(LowStock { id, name, sku, stock, reorder_point, sold_30_days: r.sold.unwrap_or(0) })
            }
            _ => None,
        })
        .collect();
    Ok((products, count))
}

/// Works out again, in the background, the leaders of the dashboard's preset
/// periods (last 7, 30 and 90 days, this month, quarter and year in the
/// shop's zone) whenever their days changed, every `every`, and the pace of
/// every product (which the dashboard's "Running low" and the products list
/// read) every [`WHOLE_PACE_EVERY`], so that a page view finds them kept and
/// current instead of working them out itself.
pub async fn keep_leaders_fresh(pool: sqlx::PgPool, zone: crate::domain::ShopZone, every: std::time::Duration) {
    use crate::domain::{Period, Preset};
    let mut whole_pace_at: Option<std::time::Instant> = None;
    loop {
        let today = zone.today();
        for preset in Preset::PICKER.into_iter().filter(|p| *p != Preset::Custom) {
            let period = Period::preset(preset, today);
            let refreshed = sqlx::query_scalar!(
                "SELECT computed_at FROM period_leaders_of($1, $2, 25, true)",
                period.from,
                period.to
            )
            .fetch_optional(&pool)
            .await;
            if let Err(e) = refreshed {
                tracing::warn!(error = %e, period = preset.key(), "could not refresh the dashboard's leaders");
            }
        }
        if whole_pace_at.is_none_or(|at| at.elapsed() >= WHOLE_PACE_EVERY) {
            match keep_every_pace(&pool).await {
                Ok(()) => whole_pace_at = Some(std::time::Instant::now()),
                Err(e) => tracing::warn!(error = %e, "could not refresh the pace of the products"),
            }
        }
        rocket::tokio::time::sleep(every).await;
    }
}

/// How often the pace of every product is worked out again: the dashboard
/// and the products list read it, and sum a product's pace themselves only
/// when it is older than ten minutes (when no refresher runs).
pub const WHOLE_PACE_EVERY: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// Works out the 30-day pace of every product in one pass over the last 30
/// days' orders (at a million orders, under a second of the server's time,
/// every five minutes), for the products list to read. A row is rewritten
/// only when its figure changed or it is getting old, so a quiet catalogue
/// costs few writes.
pub async fn keep_every_pace(pool: &sqlx::PgPool) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "WITH sold AS (
             SELECT i.product_id, sum(i.quantity - i.refunded_quantity)::BIGINT AS units
               FROM orders o JOIN order_items i ON i.order_id = o.id
              WHERE o.status <> 'cancelled' AND o.placed_at >= now() - INTERVAL '30 days'
              GROUP BY 1)
         INSERT INTO product_pace AS c (product_id, sold_30_days, computed_at)
         SELECT p.id, coalesce(s.units, 0), now() FROM products p LEFT JOIN sold s ON s.product_id = p.id
             ON CONFLICT (product_id) DO UPDATE SET sold_30_days = EXCLUDED.sold_30_days, computed_at = EXCLUDED.computed_at
          WHERE c.sold_30_days <> EXCLUDED.sold_30_days OR c.computed_at < now() - INTERVAL '4 minutes'"
    )
    .execute(pool)
    .await?;
    Ok(())
}
