//! Bulk actions on orders: a new status, or deletion, for every order
//! ticked or matching the list's filters, in one transaction.

use sqlx::{PgConnection, QueryBuilder};

use super::list::{Filter, List, ROW_COLUMNS};
use super::OrderRow;
use crate::db::bulk::{lock_confirmed, preview};
use crate::db::change_sets::{self, counted, Kind};
use crate::db::jobs::Skipped;
use crate::db::listing::Listing;
use crate::db::{Actor, Applied, BulkError, BulkPreview, DbError};
use crate::domain::Status;

/// What a bulk action does to each targeted order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkAction {
    SetStatus(Status),
    Delete,
}

/// Why a new status leaves an order with refunds alone.
pub const HAS_REFUNDS: &str = "Has refunds, so its status follows its refunds.";
/// Why a refund status is not given to an order without refunds.
pub const HAS_NO_REFUNDS: &str = "Has no refunds, so it can't be marked refunded.";

/// Leaves out of `rows` (read with their `status`) the orders that new
/// status `to` must not touch because their status follows their refunds,
/// and counts them by reason. The database refuses these changes too
/// (`orders_refunds_keep_refund_status`); leaving them out lets the rest of a
/// bulk action go ahead and say what it skipped.
pub fn keep_refund_statuses<R>(rows: &mut Vec<R>, status: impl Fn(&R) -> Status, to: Status) -> Vec<Skipped> {
    let mut skipped: Vec<Skipped> = Vec::new();
    rows.retain(|row| {
        let reason = match (status(row), to) {
            (from, to) if from == to => return true,
            (from, _) if from.follows_refunds() => HAS_REFUNDS,
            (_, to) if to.follows_refunds() => HAS_NO_REFUNDS,
            _ => return true,
        };
        match skipped.iter_mut().find(|s| s.reason == reason) {
            Some(s) => s.count += 1,
            None => skipped.push(Skipped { reason: reason.to_string(), count: 1 }),
        }
        false
    });
    skipped
}

/// How many orders a bulk action would change, their fingerprint, and the
/// newest few of them.
pub async fn bulk_preview(
    conn: &mut PgConnection,
    filter: &Filter,
    ids: Option<&[i64]>,
) -> Result<BulkPreview<OrderRow>, DbError> {
    let sample = QueryBuilder::new(format!("SELECT {ROW_COLUMNS} FROM {}", List::FROM));
    preview::<List, OrderRow>(conn, filter, ids, sample, "o.id DESC").await
}

/// Applies `action` to every targeted order in one transaction, keeping the
/// rules of single edits: stock moves (and is checked), versions move on, and
/// the triggers write audit rows and keep the report figures. Refused whole,
/// changing nothing, if the targets no longer match the confirmed `token`
/// (orders joined or left the selection, or were edited) or stock is short.
/// Orders whose status follows their refunds are left alone by a new status
/// and counted as skipped. Returns how many orders changed. The change is filed as a 'bulk' change
/// set ("Marked 120 orders shipped") that can be undone as one.
pub async fn bulk_apply(
    conn: &mut PgConnection,
    actor: Actor,
    filter: &Filter,
    ids: Option<&[i64]>,
    confirmed: (i64, &str),
    action: BulkAction,
) -> Result<Applied, BulkError> {
    let mut tx = crate::db::begin_as(conn, actor).await?;
    let mut targets = lock_confirmed::<List, (i64, Status, i32)>(
        &mut tx,
        "o.id, o.status, o.version",
        filter,
        ids,
        confirmed,
        |&(id, _, version)| (id, version),
    )
    .await?;
    let skipped = match action {
        BulkAction::SetStatus(to) => keep_refund_statuses(&mut targets, |&(_, status, _)| status, to),
        BulkAction::Delete => Vec::new(),
    };
    let ids_where = |keep: &dyn Fn(Status) -> bool| -> Vec<i64> {
        targets.iter().filter(|(_, status, _)| keep(*status)).map(|(id, _, _)| *id).collect()
    };
    let summary = match action {
        BulkAction::SetStatus(to) => format!(
            "Marked {} {}",
            counted(ids_where(&|s| s != to).len(), "order", "orders"),
            to.label().to_lowercase()
        ),
        BulkAction::Delete => format!("Deleted {}", counted(targets.len(), "order", "orders")),
    };
    change_sets::open(&mut tx, Kind::Bulk, &summary, None).await?;
    let (taking, returning, changing) = match action {
        BulkAction::SetStatus(to) => (
            ids_where(&|s| !s.holds_stock() && to.holds_stock()),
            ids_where(&|s| s.holds_stock() && !to.holds_stock()),
            ids_where(&|s| s != to),
        ),
        BulkAction::Delete => (Vec::new(), ids_where(&Status::holds_stock), Vec::new()),
    };
    if !taking.is_empty() {
        check_stock(&mut tx, &taking).await?;
    }
    for (orders, sign) in [(&taking, -1i64), (&returning, 1i64)] {
        if !orders.is_empty() {
            move_stock(&mut tx, orders, sign).await?;
        }
    }
    let changed = match action {
        BulkAction::SetStatus(to) => {
            sqlx::query!(
                "UPDATE orders SET status = $2, version = version + 1, updated_at = now() WHERE id = ANY($1)",
                &changing,
                to.as_str()
            )
            .execute(&mut *tx)
            .await?;
            changing.len()
        }
        BulkAction::Delete => {
            let all = ids_where(&|_| true);
            sqlx::query!("DELETE FROM order_items WHERE order_id = ANY($1)", &all).execute(&mut *tx).await?;
            sqlx::query!("DELETE FROM orders WHERE id = ANY($1)", &all).execute(&mut *tx).await?;
            all.len()
        }
    };
    tx.commit().await?;
    Ok(Applied { changed, skipped })
}

/// Locks the products of `orders` (which are to take stock again), in id
/// order, and refuses with those that are short.
pub(crate) async fn check_stock(conn: &mut PgConnection, orders: &[i64]) -> Result<(), BulkError> {
    sqlx::query!(
        "SELECT id FROM products WHERE id IN (SELECT product_id FROM order_items WHERE order_id = ANY($1))
          ORDER BY id FOR UPDATE",
        orders
    )
    .fetch_all(&mut *conn)
    .await?;
    let short = sqlx::query!(
        r#"SELECT p.name, p.stock::BIGINT AS "stock!", n.needed AS "needed!" FROM products p
             JOIN (SELECT product_id, sum(quantity)::BIGINT AS needed FROM order_items
                    WHERE order_id = ANY($1) GROUP BY product_id) n ON n.product_id = p.id
            WHERE p.stock < n.needed ORDER BY p.name"#,
        orders
    )
    .fetch_all(conn)
    .await?;
    if short.is_empty() {
        return Ok(());
    }
    Err(BulkError::OutOfStock(short.into_iter().map(|p| (p.name, p.stock, p.needed)).collect()))
}

/// Moves the stock of every line of `orders` off the shelf (`sign` −1) or
/// back onto it (`sign` 1), in one statement.
pub(crate) async fn move_stock(conn: &mut PgConnection, orders: &[i64], sign: i64) -> Result<(), DbError> {
    sqlx::query!(
        "UPDATE products p SET stock = p.stock + $2 * s.quantity, version = p.version + 1, updated_at = now()
           FROM (SELECT product_id, sum(quantity)::BIGINT AS quantity FROM order_items
                  WHERE order_id = ANY($1) GROUP BY product_id) s
          WHERE p.id = s.product_id",
        orders,
        sign
    )
    .execute(conn)
    .await?;
    Ok(())
}
