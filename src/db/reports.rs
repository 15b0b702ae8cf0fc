//! Aggregates for the dashboard and the reports page. Each function is one SQL
//! statement, whatever the number of rows it returns.

use sqlx::PgConnection;

use super::DbError;

/// Headline figures for the dashboard.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct Totals {
    pub users: i64,
    pub products: i64,
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
        "SELECT (SELECT count(*) FROM users) AS users,
                (SELECT count(*) FROM products) AS products,
                s.orders, s.revenue_cents, s.pending, s.paid, s.shipped, s.cancelled,
                (SELECT count(*) FROM products WHERE stock <= $1) AS low_stock
           FROM (SELECT count(*) AS orders,
                        coalesce(sum(total_cents) FILTER (WHERE status <> 'cancelled'), 0)::BIGINT AS revenue_cents,
                        count(*) FILTER (WHERE status = 'pending') AS pending,
                        count(*) FILTER (WHERE status = 'paid') AS paid,
                        count(*) FILTER (WHERE status = 'shipped') AS shipped,
                        count(*) FILTER (WHERE status = 'cancelled') AS cancelled
                   FROM orders) s",
    )
    .bind(LOW_STOCK)
    .fetch_one(conn)
    .await?)
}

/// Customers with the most orders (any status), most first.
pub async fn top_customers(conn: &mut PgConnection, limit: i64) -> Result<Vec<CustomerFigures>, DbError> {
    Ok(sqlx::query_as::<_, CustomerFigures>(
        "SELECT u.id AS user_id, u.name, u.email, count(*) AS order_count,
                coalesce(sum(o.total_cents) FILTER (WHERE o.status <> 'cancelled'), 0)::BIGINT AS revenue_cents
           FROM orders o JOIN users u ON u.id = o.user_id
          GROUP BY u.id
          ORDER BY order_count DESC, revenue_cents DESC, u.id
          LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Revenue per customer (quantity × unit price over orders not cancelled), highest first.
pub async fn revenue_per_customer(conn: &mut PgConnection, limit: i64) -> Result<Vec<CustomerFigures>, DbError> {
    Ok(sqlx::query_as::<_, CustomerFigures>(
        "SELECT u.id AS user_id, u.name, u.email, count(DISTINCT o.id) AS order_count,
                sum(i.quantity * i.unit_price_cents)::BIGINT AS revenue_cents
           FROM orders o
           JOIN order_items i ON i.order_id = o.id
           JOIN users u ON u.id = o.user_id
          WHERE o.status <> 'cancelled'
          GROUP BY u.id
          ORDER BY revenue_cents DESC, u.id
          LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Products by units sold over orders not cancelled, most first.
pub async fn best_sellers(conn: &mut PgConnection, limit: i64) -> Result<Vec<ProductFigures>, DbError> {
    Ok(sqlx::query_as::<_, ProductFigures>(
        "SELECT p.id AS product_id, p.name, p.sku,
                sum(i.quantity)::BIGINT AS units_sold,
                sum(i.quantity * i.unit_price_cents)::BIGINT AS revenue_cents
           FROM order_items i
           JOIN orders o ON o.id = i.order_id
           JOIN products p ON p.id = i.product_id
          WHERE o.status <> 'cancelled'
          GROUP BY p.id
          ORDER BY units_sold DESC, revenue_cents DESC, p.id
          LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?)
}
