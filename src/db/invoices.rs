//! Invoices: the number an order's invoice carries, from a gap-free
//! sequence, and what the documents (invoice, packing slip) print.
//!
//! An invoice is issued the first time staff open it: the number is taken
//! from the one-row `invoice_counter` in the same transaction that records
//! the invoice, so numbers are never skipped (a failed issue rolls back the
//! counter too) and never repeated (the counter row is locked until commit,
//! and `invoices_number_key` is unique).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{Actor, DbError};

/// An order's invoice number and when it was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Invoice {
    pub number: i64,
    pub issued_at: DateTime<Utc>,
}

/// The order's invoice, issued now (with the next number) if it has none.
/// `None` if the order does not exist.
pub async fn issue(conn: &mut PgConnection, actor: Actor, order_id: i64) -> Result<Option<Invoice>, DbError> {
    if let Some(invoice) = issued(&mut *conn, order_id).await? {
        return Ok(Some(invoice));
    }
    let mut tx = super::begin_as(conn, actor).await?;
    // The counter row first: whoever holds it is the only one issuing, and
    // sees every invoice issued before it got the lock.
    let next = sqlx::query_scalar!("SELECT next FROM invoice_counter FOR UPDATE").fetch_one(&mut *tx).await?;
    if let Some(invoice) = issued(&mut tx, order_id).await? {
        return Ok(Some(invoice));
    }
    let exists = sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM orders WHERE id = $1) AS "exists!""#, order_id)
        .fetch_one(&mut *tx)
        .await?;
    if !exists {
        return Ok(None);
    }
    let invoice = sqlx::query_as!(
        Invoice,
        "INSERT INTO invoices (order_id, number, staff_id) VALUES ($1, $2, $3) RETURNING number, issued_at",
        order_id,
        next,
        actor
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!("UPDATE invoice_counter SET next = next + 1").execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(Some(invoice))
}

/// The order's invoice, if one was issued.
pub async fn issued(conn: &mut PgConnection, order_id: i64) -> Result<Option<Invoice>, DbError> {
    Ok(sqlx::query_as!(Invoice, "SELECT number, issued_at FROM invoices WHERE order_id = $1", order_id)
        .fetch_optional(conn)
        .await?)
}

/// Most orders one batch of packing slips prints.
pub const SLIPS_PER_BATCH: usize = 200;

/// One line of a packing slip.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SlipLine {
    pub order_id: i64,
    pub product_name: String,
    pub sku: String,
    pub quantity: i32,
}

/// One order's packing slip: where it goes and what goes in the box.
#[derive(Debug, Clone)]
pub struct Slip {
    pub order_id: i64,
    pub user_name: String,
    pub user_email: String,
    pub placed_at: DateTime<Utc>,
    pub lines: Vec<SlipLine>,
}

/// The packing slips of `ids` (existing orders only, in the order given, at
/// most [`SLIPS_PER_BATCH`]) in two statements. Items refunded are left out:
/// they do not go in the box.
pub async fn slips(conn: &mut PgConnection, ids: &[i64]) -> Result<Vec<Slip>, DbError> {
    let ids = &ids[..ids.len().min(SLIPS_PER_BATCH)];
    let orders = sqlx::query!(
        "SELECT o.id, u.name, u.email, o.placed_at
           FROM unnest($1::BIGINT[]) WITH ORDINALITY AS w(id, n)
           JOIN orders o ON o.id = w.id JOIN users u ON u.id = o.user_id
          ORDER BY w.n",
        ids
    )
    .fetch_all(&mut *conn)
    .await?;
    let lines = sqlx::query_as!(
        SlipLine,
        r#"SELECT i.order_id, p.name AS product_name, p.sku, i.quantity - i.refunded_quantity AS "quantity!"
             FROM order_items i JOIN products p ON p.id = i.product_id
            WHERE i.order_id = ANY($1) AND i.quantity > i.refunded_quantity
            ORDER BY i.order_id, p.name, p.id"#,
        ids
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut by_order: std::collections::HashMap<i64, Vec<SlipLine>> = std::collections::HashMap::new();
    for line in lines {
        by_order.entry(line.order_id).or_default().push(line);
    }
    Ok(orders
        .into_iter()
        .map(|o| Slip {
            order_id: o.id,
            user_name: o.name,
            user_email: o.email,
            placed_at: o.placed_at,
            lines: by_order.remove(&o.id).unwrap_or_default(),
        })
        .collect())
}
