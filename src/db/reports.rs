//! Aggregates for the reports page. Each function is one SQL
//! statement, whatever the number of rows it returns.

use futures::{Stream, TryStreamExt};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Map;
use sqlx::{PgConnection, Postgres};

use super::DbError;
use crate::domain::{Email, Money, Sku};

/// A customer in a ranking. Rankings count orders that are not cancelled.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CustomerFigures {
    /// 1 for first place; customers level on the ranked figure share a rank
    /// (1, 1, 3), listed by the stated second figure.
    pub rank: i64,
    /// Whether another customer has the same ranked figure.
    pub tied: bool,
    pub user_id: i64,
    pub name: String,
    pub email: Email,
    pub order_count: i64,
    pub revenue_cents: Money,
}

/// A product in the best sellers ranking (units, then revenue).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProductFigures {
    pub rank: i64,
    pub tied: bool,
    pub product_id: i64,
    pub name: String,
    pub sku: Sku,
    pub units_sold: i64,
    pub revenue_cents: Money,
}

/// The totals the reports' shares are of, and how many share each first place.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct ReportTotals {
    /// Orders that are not cancelled.
    pub orders: i64,
    pub revenue_cents: Money,
    pub units_sold: i64,
    /// Customers with the most orders (counted up to 1,000).
    pub first_by_orders: i64,
    /// Customers with the most revenue (counted up to 1,000).
    pub first_by_revenue: i64,
    /// Products with the most units sold (counted up to 1,000).
    pub first_by_units: i64,
}

/// How many share first place are counted up to, so a tie across a whole
/// shop of one-order customers still costs a bounded read.
pub const TIE_COUNT_LIMIT: i64 = 1000;

/// Products at or below this stock level count as running low.
pub const LOW_STOCK: i32 = 5;

/// The whole-shop totals and first-place ties of the reports, in one statement.
pub async fn report_totals(conn: &mut PgConnection) -> Result<ReportTotals, DbError> {
    Ok(sqlx::query_as!(
        ReportTotals,
        r#"WITH top AS (
               SELECT (SELECT active_order_count FROM customer_stats
                        ORDER BY active_order_count DESC, revenue_cents DESC, user_id LIMIT 1) AS orders,
                      (SELECT revenue_cents FROM customer_stats
                        ORDER BY revenue_cents DESC, active_order_count DESC, user_id LIMIT 1) AS revenue,
                      (SELECT units_sold FROM product_stats
                        ORDER BY units_sold DESC, revenue_cents DESC, product_id LIMIT 1) AS units
           )
           SELECT (SELECT coalesce(sum(order_count - cancelled), 0) FROM monthly_revenue)::BIGINT AS "orders!",
                  (SELECT coalesce(sum(revenue_cents), 0) FROM monthly_revenue)::BIGINT AS "revenue_cents!: Money",
                  (SELECT coalesce(sum(units_sold), 0) FROM monthly_revenue)::BIGINT AS "units_sold!",
                  (SELECT count(*) FROM (SELECT 1 FROM customer_stats
                                          WHERE active_order_count = top.orders AND top.orders > 0 LIMIT $1) t)
                      AS "first_by_orders!",
                  (SELECT count(*) FROM (SELECT 1 FROM customer_stats
                                          WHERE revenue_cents = top.revenue AND top.revenue > 0 LIMIT $1) t)
                      AS "first_by_revenue!",
                  (SELECT count(*) FROM (SELECT 1 FROM product_stats
                                          WHERE units_sold = top.units AND top.units > 0 LIMIT $1) t)
                      AS "first_by_units!"
             FROM top"#,
        TIE_COUNT_LIMIT
    )
    .fetch_one(conn)
    .await?)
}

/// What a customer ranking puts first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ranked {
    /// Orders that are not cancelled, then revenue.
    Orders,
    /// Revenue, then orders that are not cancelled.
    Revenue,
}

/// Customers ranked by `ranked` (customers with none of it are left out):
/// the first `limit`, or all of them when `None`, with their rank.
///
/// Each ranking reads its own index in order, so a page costs its few rows
/// however many customers there are: the branch for the other ranking is
/// switched off by `$1` (a one-time filter) and reads nothing.
fn customers_ranked(
    ranked: Ranked,
    limit: Option<i64>,
) -> Map<'static, Postgres, impl FnMut(PgRow) -> Result<CustomerFigures, sqlx::Error> + Send, PgArguments> {
    sqlx::query_as!(
        CustomerFigures,
        r#"SELECT rank() OVER (ORDER BY t.ranked DESC) AS "rank!",
                  CASE WHEN $1 THEN EXISTS (SELECT 1 FROM customer_stats x
                                             WHERE x.revenue_cents = t.ranked AND x.user_id <> t.user_id)
                       ELSE EXISTS (SELECT 1 FROM customer_stats x
                                     WHERE x.active_order_count = t.ranked AND x.user_id <> t.user_id)
                  END AS "tied!",
                  t.user_id AS "user_id!", u.name, u.email AS "email: Email",
                  t.order_count AS "order_count!", t.revenue_cents AS "revenue_cents!: Money"
             FROM ((SELECT s.user_id, s.active_order_count AS order_count, s.revenue_cents,
                           s.active_order_count AS ranked, s.revenue_cents AS then_by
                      FROM customer_stats s
                     WHERE NOT $1 AND s.active_order_count > 0
                     ORDER BY s.active_order_count DESC, s.revenue_cents DESC, s.user_id
                     LIMIT $2)
                   UNION ALL
                   (SELECT s.user_id, s.active_order_count, s.revenue_cents, s.revenue_cents, s.active_order_count
                      FROM customer_stats s
                     WHERE $1 AND s.revenue_cents > 0
                     ORDER BY s.revenue_cents DESC, s.active_order_count DESC, s.user_id
                     LIMIT $2)) t
             JOIN users u ON u.id = t.user_id
            ORDER BY t.ranked DESC, t.then_by DESC, t.user_id"#,
        ranked == Ranked::Revenue,
        limit
    )
}

/// Products by units sold, then by revenue: the first `limit` (all of them
/// when `None`), with their rank.
fn products_by_units(
    limit: Option<i64>,
) -> Map<'static, Postgres, impl FnMut(PgRow) -> Result<ProductFigures, sqlx::Error> + Send, PgArguments> {
    sqlx::query_as!(
        ProductFigures,
        r#"SELECT rank() OVER (ORDER BY t.units_sold DESC) AS "rank!",
                  EXISTS (SELECT 1 FROM product_stats x
                           WHERE x.units_sold = t.units_sold AND x.product_id <> t.product_id) AS "tied!",
                  t.product_id, t.name, t.sku AS "sku: Sku", t.units_sold, t.revenue_cents AS "revenue_cents: Money"
             FROM (SELECT s.product_id, p.name, p.sku, s.units_sold, s.revenue_cents
                     FROM product_stats s JOIN products p ON p.id = s.product_id
                    WHERE s.units_sold > 0
                    ORDER BY s.units_sold DESC, s.revenue_cents DESC, s.product_id
                    LIMIT $1) t
            ORDER BY t.units_sold DESC, t.revenue_cents DESC, t.product_id"#,
        limit
    )
}

/// Customers with the most orders that are not cancelled; ties broken by revenue.
pub async fn top_customers(conn: &mut PgConnection, limit: i64) -> Result<Vec<CustomerFigures>, DbError> {
    Ok(customers_ranked(Ranked::Orders, Some(limit.max(0))).fetch_all(conn).await?)
}

/// Revenue per customer (quantity × unit price over orders not cancelled),
/// highest first; ties broken by number of orders.
pub async fn revenue_per_customer(conn: &mut PgConnection, limit: i64) -> Result<Vec<CustomerFigures>, DbError> {
    Ok(customers_ranked(Ranked::Revenue, Some(limit.max(0))).fetch_all(conn).await?)
}

/// Products by units sold over orders not cancelled, most first; ties broken by revenue.
pub async fn best_sellers(conn: &mut PgConnection, limit: i64) -> Result<Vec<ProductFigures>, DbError> {
    Ok(products_by_units(Some(limit.max(0))).fetch_all(conn).await?)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Month {
    pub month: chrono::NaiveDate,
    pub order_count: i64,
    /// Net of refunds: what the month's orders earned in the end.
    pub revenue_cents: Money,
    /// Refunded on the month's orders (whenever refunded).
    pub refunded_cents: Money,
}

impl Month {
    /// Revenue before refunds.
    pub fn gross_cents(&self) -> Money {
        Money::from_cents(self.revenue_cents.cents() + self.refunded_cents.cents())
    }
}

/// Orders and revenue for each of the last `months` calendar months that had orders.
pub async fn revenue_by_month(conn: &mut PgConnection, months: i64) -> Result<Vec<Month>, DbError> {
    Ok(sqlx::query_as!(
        Month,
        r#"SELECT month AS "month!", order_count AS "order_count!", revenue_cents AS "revenue_cents!: Money",
                  refunded_cents AS "refunded_cents!: Money" FROM (
               SELECT month, order_count, revenue_cents, refunded_cents FROM monthly_revenue
                WHERE order_count > 0 ORDER BY month DESC LIMIT $1) m
            ORDER BY month"#,
        months
    )
    .fetch_all(conn)
    .await?)
}

/// Every customer with orders, by order count or by revenue, streamed.
pub fn export_customers(
    mut conn: PoolConnection<Postgres>,
    by_revenue: bool,
) -> impl Stream<Item = Result<CustomerFigures, sqlx::Error>> + Send + 'static {
    async_stream::try_stream! {
        let ranked = if by_revenue { Ranked::Revenue } else { Ranked::Orders };
        let mut rows = customers_ranked(ranked, None).fetch(&mut *conn);
        while let Some(row) = rows.try_next().await? {
            yield row;
        }
    }
}

/// Every product that has sold, best first, streamed.
pub fn export_best_sellers(
    mut conn: PoolConnection<Postgres>,
) -> impl Stream<Item = Result<ProductFigures, sqlx::Error>> + Send + 'static {
    async_stream::try_stream! {
        let mut rows = products_by_units(None).fetch(&mut *conn);
        while let Some(row) = rows.try_next().await? {
            yield row;
        }
    }
}

/// Orders (every status) and revenue for each month of the days `from` to
/// `to` (the first and last month cut to those days) that had orders.
pub async fn revenue_by_month_between(
    conn: &mut PgConnection,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> Result<Vec<Month>, DbError> {
    Ok(sqlx::query_as!(
        Month,
        r#"SELECT date_trunc('month', day)::DATE AS "month!", sum(order_count)::BIGINT AS "order_count!",
                  sum(revenue_cents)::BIGINT AS "revenue_cents!: Money",
                  sum(refunded_cents)::BIGINT AS "refunded_cents!: Money"
             FROM daily_figures
            WHERE day BETWEEN $1 AND $2
            GROUP BY 1 HAVING sum(order_count) > 0
            ORDER BY 1"#,
        from,
        to
    )
    .fetch_all(conn)
    .await?)
}

/// The totals that a period's shares are of: orders not cancelled, their
/// revenue and units, from the kept day figures.
pub async fn totals_between(
    conn: &mut PgConnection,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> Result<ReportTotals, DbError> {
    let row = sqlx::query!(
        r#"SELECT coalesce(sum(order_count - cancelled), 0)::BIGINT AS "orders!",
                  coalesce(sum(revenue_cents), 0)::BIGINT AS "revenue_cents!: Money",
                  coalesce(sum(units_sold), 0)::BIGINT AS "units_sold!"
             FROM daily_figures WHERE day BETWEEN $1 AND $2"#,
        from,
        to
    )
    .fetch_one(conn)
    .await?;
    Ok(ReportTotals {
        orders: row.orders,
        revenue_cents: row.revenue_cents,
        units_sold: row.units_sold,
        ..Default::default()
    })
}

/// Every customer with orders not cancelled placed in the days `from` to
/// `to`, ranked by orders (then revenue) or by revenue (then orders), streamed.
pub fn export_customers_between(
    mut conn: PoolConnection<Postgres>,
    by_revenue: bool,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> impl Stream<Item = Result<CustomerFigures, sqlx::Error>> + Send + 'static {
    async_stream::try_stream! {
        let mut rows = sqlx::query_as!(
            CustomerFigures,
            r#"SELECT rank() OVER (ORDER BY t.ranked DESC) AS "rank!", false AS "tied!", t.user_id AS "user_id!",
                      u.name, u.email AS "email: Email", t.orders AS "order_count!",
                      t.revenue AS "revenue_cents!: Money"
                 FROM (SELECT o.user_id, count(*)::BIGINT AS orders, sum(o.total_cents)::BIGINT AS revenue,
                              CASE WHEN $1 THEN sum(o.total_cents)::BIGINT ELSE count(*)::BIGINT END AS ranked,
                              CASE WHEN $1 THEN count(*)::BIGINT ELSE sum(o.total_cents)::BIGINT END AS then_by
                         FROM orders o
                        WHERE o.placed_at >= $2::DATE::TIMESTAMP AT TIME ZONE shop_time_zone()
                          AND o.placed_at < ($3::DATE + 1)::TIMESTAMP AT TIME ZONE shop_time_zone()
                          AND o.status <> 'cancelled'
                        GROUP BY o.user_id) t
                 JOIN users u ON u.id = t.user_id
                ORDER BY t.ranked DESC, t.then_by DESC, t.user_id"#,
            by_revenue,
            from,
            to
        )
        .fetch(&mut *conn);
        while let Some(row) = rows.try_next().await? {
            yield row;
        }
    }
}

/// Every product sold on orders not cancelled placed in the days `from` to
/// `to`, by units then revenue, streamed.
pub fn export_best_sellers_between(
    mut conn: PoolConnection<Postgres>,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> impl Stream<Item = Result<ProductFigures, sqlx::Error>> + Send + 'static {
    async_stream::try_stream! {
        let mut rows = sqlx::query_as!(
            ProductFigures,
            r#"SELECT rank() OVER (ORDER BY t.units DESC) AS "rank!", false AS "tied!", t.product_id AS "product_id!",
                      p.name, p.sku AS "sku: Sku", t.units AS "units_sold!", t.revenue AS "revenue_cents!: Money"
                 FROM (SELECT i.product_id, sum(i.quantity)::BIGINT AS units,
                              sum(i.quantity * i.unit_price_cents)::BIGINT AS revenue
                         FROM orders o JOIN order_items i ON i.order_id = o.id
                        WHERE o.placed_at >= $1::DATE::TIMESTAMP AT TIME ZONE shop_time_zone()
                          AND o.placed_at < ($2::DATE + 1)::TIMESTAMP AT TIME ZONE shop_time_zone()
                          AND o.status <> 'cancelled'
                        GROUP BY i.product_id) t
                 JOIN products p ON p.id = t.product_id
                ORDER BY t.units DESC, t.revenue DESC, t.product_id"#,
            from,
            to
        )
        .fetch(&mut *conn);
        while let Some(row) = rows.try_next().await? {
            yield row;
        }
    }
}
