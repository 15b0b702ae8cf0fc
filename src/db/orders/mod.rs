//! Orders and their lines: reading, filtering, and saving an order with its
//! lines and the stock it takes, all in one transaction.

mod bulk;
mod list;
mod save;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

pub use self::bulk::{bulk_apply, bulk_preview, keep_refund_statuses, BulkAction};
pub(crate) use self::bulk::{check_stock, move_stock};
pub use self::list::{count_matching, Filter, List, StatusFilter};
pub use self::save::{save, Draft, DraftLine, SaveError};
use super::listing::keyed;
use super::{Actor, DbError};
use crate::domain::{Money, Status};

/// A row of an orders list.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderRow {
    pub id: i64,
    pub user_id: i64,
    pub user_name: String,
    pub status: Status,
    pub total_cents: Money,
    pub item_count: i32,
    pub placed_at: DateTime<Utc>,
    /// The sorted column's value, for keyset cursors (empty where unsorted).
    #[sqlx(default)]
    pub sort_key: String,
}

keyed!(OrderRow, id);

/// One order with its customer.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Order {
    pub id: i64,
    pub user_id: i64,
    pub user_name: String,
    pub user_email: String,
    pub status: Status,
    pub total_cents: Money,
    /// What its refunds gave back (lines, shipping and goodwill).
    pub refunded_cents: Money,
    pub item_count: i32,
    pub version: i32,
    pub placed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One line of an order, with the product it names.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Line {
    pub product_id: i64,
    pub product_name: String,
    pub sku: String,
    pub quantity: i32,
    pub unit_price_cents: Money,
    pub line_total_cents: Money,
    /// How many of the line were refunded, and for how much.
    pub refunded_quantity: i32,
    pub refunded_cents: Money,
}

impl Line {
    /// How many of the line can still be refunded.
    pub fn refundable(&self) -> i32 {
        self.quantity - self.refunded_quantity
    }
}

impl Order {
    /// What the customer paid in the end: the total less refunds.
    pub fn net_cents(&self) -> Money {
        Money::from_cents(self.total_cents.cents() - self.refunded_cents.cents())
    }
}

/// The most recently placed orders.
pub async fn recent(conn: &mut PgConnection, limit: i64) -> Result<Vec<OrderRow>, DbError> {
    // Not paged, so no cursor: the sort key is left empty.
    Ok(sqlx::query_as!(
        OrderRow,
        r#"SELECT o.id, o.user_id, u.name AS user_name, o.status AS "status: Status",
                  o.total_cents AS "total_cents: Money", o.item_count, o.placed_at, '' AS "sort_key!"
             FROM orders o JOIN users u ON u.id = o.user_id
            ORDER BY o.placed_at DESC, o.id DESC
            LIMIT $1"#,
        limit
    )
    .fetch_all(conn)
    .await?)
}

pub async fn find(conn: &mut PgConnection, id: i64) -> Result<Option<Order>, DbError> {
    Ok(sqlx::query_as!(
        Order,
        r#"SELECT o.id, o.user_id, u.name AS user_name, u.email AS user_email, o.status AS "status: Status",
                  o.total_cents AS "total_cents: Money", o.refunded_cents AS "refunded_cents: Money",
                  o.item_count, o.version, o.placed_at, o.updated_at
             FROM orders o JOIN users u ON u.id = o.user_id
            WHERE o.id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?)
}

pub async fn lines(conn: &mut PgConnection, order_id: i64) -> Result<Vec<Line>, DbError> {
    Ok(sqlx::query_as!(
        Line,
        r#"SELECT i.product_id, p.name AS product_name, p.sku, i.quantity,
                  i.unit_price_cents AS "unit_price_cents: Money",
                  i.quantity * i.unit_price_cents AS "line_total_cents!: Money",
                  i.refunded_quantity, i.refunded_cents AS "refunded_cents: Money"
             FROM order_items i JOIN products p ON p.id = i.product_id
            WHERE i.order_id = $1
            ORDER BY p.name, p.id"#,
        order_id
    )
    .fetch_all(conn)
    .await?)
}

/// Deletes an order and its lines, returning held stock to the shelf.
pub async fn delete(conn: &mut PgConnection, actor: Actor, id: i64, version: i32) -> Result<(), DbError> {
    let mut tx = super::begin_as(conn, actor).await?;
    let status = lock_order(&mut tx, id, version).await?;
    if status.holds_stock() {
        sqlx::query!(
            "UPDATE products p SET stock = p.stock + i.quantity, version = p.version + 1, updated_at = now()
               FROM order_items i
              WHERE i.order_id = $1 AND p.id = i.product_id",
            id
        )
        .execute(&mut *tx)
        .await?;
    }
    // Lines first, in one statement, while the order still says whether they count.
    sqlx::query!("DELETE FROM order_items WHERE order_id = $1", id).execute(&mut *tx).await?;
    sqlx::query!("DELETE FROM orders WHERE id = $1", id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn count(conn: &mut PgConnection) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM orders"#).fetch_one(conn).await?)
}

/// Locks the order for a change and returns its status: refused if it is
/// gone, or was changed since `version` was read.
async fn lock_order(conn: &mut PgConnection, id: i64, version: i32) -> Result<Status, DbError> {
    let current =
        sqlx::query!(r#"SELECT status AS "status: Status", version FROM orders WHERE id = $1 FOR UPDATE"#, id)
            .fetch_optional(conn)
            .await?
            .ok_or(DbError::NotFound)?;
    if current.version != version {
        return Err(DbError::Conflict);
    }
    Ok(current.status)
}
