//! Aggregates for the dashboard and the reports page. Each function is one SQL
//! statement, whatever the number of rows it returns.

use futures::{Stream, TryStreamExt};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, Postgres};

use super::DbError;

/// Headline figures for the dashboard.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct Totals {
    pub users: i64,
    /// False when `users` is the planner's estimate rather than a count.
    pub users_exact: bool,
    pub products: i64,
    pub products_exact: bool,
    pub orders: i64,
    pub revenue_cents: i64,
    pub pending: i64,
    pub paid: i64,
    pub shipped: i64,
    pub cancelled: i64,
    pub low_stock: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CustomerFigures {
    pub user_id: i64,
    pub name: String,
    pub email: String,
    pub order_count: i64,
    pub revenue_cents: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProductFigures {
    pub product_id: i64,
    pub name: String,
    pub sku: String,
    pub units_sold: i64,
    pub revenue_cents: i64,
}

/// Products at or below this stock level count as running low.
pub const LOW_STOCK: i32 = 5;

pub async fn totals(conn: &mut PgConnection) -> Result<Totals, DbError> {
    Ok(sqlx::query_as::<_, Totals>(
        "SELECT u.n AS users, u.exact AS users_exact, p.n AS products, p.exact AS products_exact,
                coalesce(sum(m.order_count), 0)::BIGINT AS orders,
                coalesce(sum(m.revenue_cents), 0)::BIGINT AS revenue_cents,
                coalesce(sum(m.pending), 0)::BIGINT AS pending, coalesce(sum(m.paid), 0)::BIGINT AS paid,
                coalesce(sum(m.shipped), 0)::BIGINT AS shipped, coalesce(sum(m.cancelled), 0)::BIGINT AS cancelled,
                (SELECT count(*) FROM products WHERE stock <= $1) AS low_stock
           FROM monthly_revenue m,
                LATERAL (SELECT * FROM row_count('users')) u,
                LATERAL (SELECT * FROM row_count('products')) p
          GROUP BY u.n, u.exact, p.n, p.exact",
    )
    .bind(LOW_STOCK)
    .fetch_optional(conn)
    .await?
    .unwrap_or_default())
}

/// Customers with the most orders (any status), most first.
pub async fn top_customers(conn: &mut PgConnection, limit: i64) -> Result<Vec<CustomerFigures>, DbError> {
    Ok(sqlx::query_as::<_, CustomerFigures>(
        "SELECT s.user_id, u.name, u.email, s.order_count, s.revenue_cents
           FROM customer_stats s JOIN users u ON u.id = s.user_id
          WHERE s.order_count > 0
          ORDER BY s.order_count DESC, s.user_id DESC
          LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Revenue per customer (quantity × unit price over orders not cancelled), highest first.
pub async fn revenue_per_customer(conn: &mut PgConnection, limit: i64) -> Result<Vec<CustomerFigures>, DbError> {
    Ok(sqlx::query_as::<_, CustomerFigures>(
        "SELECT s.user_id, u.name, u.email, s.order_count, s.revenue_cents
           FROM customer_stats s JOIN users u ON u.id = s.user_id
          WHERE s.revenue_cents > 0
          ORDER BY s.revenue_cents DESC, s.user_id DESC
          LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Products by units sold over orders not cancelled, most first.
pub async fn best_sellers(conn: &mut PgConnection, limit: i64) -> Result<Vec<ProductFigures>, DbError> {
    Ok(sqlx::query_as::<_, ProductFigures>(
        "SELECT s.product_id, p.name, p.sku, s.units_sold, s.revenue_cents
           FROM product_stats s JOIN products p ON p.id = s.product_id
          WHERE s.units_sold > 0
          ORDER BY s.units_sold DESC, s.product_id DESC
          LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Month {
    pub month: chrono::NaiveDate,
    pub order_count: i64,
    pub revenue_cents: i64,
}

/// Orders and revenue for each of the last `months` calendar months that had orders.
pub async fn revenue_by_month(conn: &mut PgConnection, months: i64) -> Result<Vec<Month>, DbError> {
    Ok(sqlx::query_as::<_, Month>(
        "SELECT month, order_count, revenue_cents FROM (
             SELECT month, order_count, revenue_cents FROM monthly_revenue
              WHERE order_count > 0 ORDER BY month DESC LIMIT $1) m
          ORDER BY month",
    )
    .bind(months)
    .fetch_all(conn)
    .await?)
}

/// Every customer with orders, by order count or by revenue, streamed.
pub fn export_customers(
    mut conn: PoolConnection<Postgres>,
    by_revenue: bool,
) -> impl Stream<Item = Result<CustomerFigures, sqlx::Error>> + Send + 'static {
    async_stream::try_stream! {
        let sql = if by_revenue {
            "SELECT s.user_id, u.name, u.email, s.order_count, s.revenue_cents
               FROM customer_stats s JOIN users u ON u.id = s.user_id
              WHERE s.revenue_cents > 0 ORDER BY s.revenue_cents DESC, s.user_id DESC"
        } else {
            "SELECT s.user_id, u.name, u.email, s.order_count, s.revenue_cents
               FROM customer_stats s JOIN users u ON u.id = s.user_id
              WHERE s.order_count > 0 ORDER BY s.order_count DESC, s.user_id DESC"
        };
        let mut rows = sqlx::query_as::<_, CustomerFigures>(sql).fetch(&mut *conn);
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
        let mut rows = sqlx::query_as::<_, ProductFigures>(
            "SELECT s.product_id, p.name, p.sku, s.units_sold, s.revenue_cents
               FROM product_stats s JOIN products p ON p.id = s.product_id
              WHERE s.units_sold > 0 ORDER BY s.units_sold DESC, s.product_id DESC",
        )
        .fetch(&mut *conn);
        while let Some(row) = rows.try_next().await? {
            yield row;
        }
    }
}
