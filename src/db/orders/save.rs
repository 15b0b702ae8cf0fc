//! Saving an order with its lines and the stock it takes, in one
//! transaction, step by step: lock the order and see what stock it holds,
//! work out how much stock each product gives or takes, lock those
//! products, check and price the lines, then move the stock and write the
//! order and its lines.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::PgConnection;

use super::lock_order;
use crate::db::{Actor, DbError};
use crate::domain::{Money, Status};

/// An order as a validated form describes it.
#[derive(Debug, Clone)]
pub struct Draft {
    pub user_id: i64,
    pub status: Status,
    pub lines: Vec<DraftLine>,
}

#[derive(Debug, Clone)]
pub struct DraftLine {
    pub product_id: i64,
    pub quantity: i32,
    /// `None` charges the product's current price.
    pub unit_price_cents: Option<Money>,
}

/// Why an order could not be saved, in terms a form can show.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("not enough stock")]
    OutOfStock { line: usize, product: String, available: i64, requested: i64 },
    #[error("product missing")]
    MissingProduct { line: usize },
    /// The status asked for is not the order's to choose: an order with
    /// refunds keeps its refund status (`current`), and one without cannot
    /// be given one by hand.
    #[error("the status follows the order's refunds")]
    StatusFollowsRefunds { current: Option<Status> },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for SaveError {
    fn from(e: sqlx::Error) -> Self {
        SaveError::Db(e.into())
    }
}

/// Creates (`existing = None`) or replaces an order with its lines, moving
/// stock between the shelf and the order in the same transaction. An edit is
/// refused with `Conflict` if the order changed since `version` was read.
pub async fn save(
    conn: &mut PgConnection,
    actor: Actor,
    existing: Option<(i64, i32)>,
    draft: &Draft,
) -> Result<i64, SaveError> {
    let mut tx = crate::db::begin_as(conn, actor).await?;
    let held = match existing {
        Some((id, version)) => {
            let current = lock_order(&mut tx, id, version).await?;
            refuse_refund_status_change(Some(current), draft.status)?;
            held_stock(&mut tx, id, current).await?
        }
        None => {
            refuse_refund_status_change(None, draft.status)?;
            Vec::new()
        }
    };
    let deltas = stock_deltas(&held, draft);
    let ids: BTreeSet<i64> = deltas.keys().copied().chain(draft.lines.iter().map(|l| l.product_id)).collect();
    let products = lock_products(&mut tx, &ids).await?;
    let lines = price_lines(draft, &deltas, &products)?;
    move_stock(&mut tx, &deltas).await?;
    let order_id = write_order(&mut tx, existing.map(|(id, _)| id), draft, &lines).await?;
    write_lines(&mut tx, order_id, &lines).await?;
    tx.commit().await?;
    Ok(order_id)
}

/// Refuses a status that contradicts the order's refunds before anything is
/// written, so the form can say so next to the status field. The database
/// holds the same rule for every other path (`orders_refunds_keep_refund_status`).
fn refuse_refund_status_change(current: Option<Status>, to: Status) -> Result<(), SaveError> {
    let follows = current.is_some_and(Status::follows_refunds) || to.follows_refunds();
    if follows && current != Some(to) {
        return Err(SaveError::StatusFollowsRefunds { current: current.filter(|s| s.follows_refunds()) });
    }
    Ok(())
}

/// The stock the lines of the order being edited (locked, in status
/// `current`) hold now, as (product, quantity): none if it is cancelled.
async fn held_stock(conn: &mut PgConnection, id: i64, current: Status) -> Result<Vec<(i64, i32)>, SaveError> {
    if !current.holds_stock() {
        return Ok(Vec::new());
    }
    let held =
        sqlx::query!("SELECT product_id, quantity FROM order_items WHERE order_id = $1", id).fetch_all(conn).await?;
    Ok(held.into_iter().map(|line| (line.product_id, line.quantity)).collect())
}

/// How much stock each product gives to the order (positive) or gets back
/// from it (negative) when the order as it stands (`held`) becomes `draft`.
fn stock_deltas(held: &[(i64, i32)], draft: &Draft) -> BTreeMap<i64, i64> {
    let mut deltas: BTreeMap<i64, i64> = BTreeMap::new();
    for (product_id, quantity) in held {
        *deltas.entry(*product_id).or_default() -= i64::from(*quantity);
    }
    if draft.status.holds_stock() {
        for line in &draft.lines {
            *deltas.entry(line.product_id).or_default() += i64::from(line.quantity);
        }
    }
    deltas
}

/// A product an order names, locked until the order is saved.
#[derive(Debug, Clone)]
struct LockedProduct {
    id: i64,
    name: String,
    price_cents: Money,
    stock: i32,
}

/// Locks the products, in id order so concurrent orders never deadlock.
async fn lock_products(conn: &mut PgConnection, ids: &BTreeSet<i64>) -> Result<BTreeMap<i64, LockedProduct>, DbError> {
    let ids: Vec<i64> = ids.iter().copied().collect();
    let locked = sqlx::query_as!(
        LockedProduct,
        r#"SELECT id, name, price_cents AS "price_cents: Money", stock
             FROM products WHERE id = ANY($1) ORDER BY id FOR UPDATE"#,
        &ids
    )
    .fetch_all(conn)
    .await?;
    Ok(locked.into_iter().map(|p| (p.id, p)).collect())
}

/// The order's lines as they are written: one entry per line in each column.
#[derive(Debug, Default, PartialEq, Eq)]
struct PricedLines {
    product_ids: Vec<i64>,
    quantities: Vec<i32>,
    unit_prices: Vec<i64>,
    total_cents: i64,
    item_count: i32,
}

/// Checks every line names a product with enough stock for what the order
/// takes of it, and prices it (the product's current price unless the line
/// names one).
fn price_lines(
    draft: &Draft,
    deltas: &BTreeMap<i64, i64>,
    products: &BTreeMap<i64, LockedProduct>,
) -> Result<PricedLines, SaveError> {
    let mut priced = PricedLines::default();
    for (index, line) in draft.lines.iter().enumerate() {
        let Some(product) = products.get(&line.product_id) else {
            return Err(SaveError::MissingProduct { line: index });
        };
        let needed = deltas.get(&line.product_id).copied().unwrap_or(0);
        if needed > i64::from(product.stock) {
            return Err(SaveError::OutOfStock {
                line: index,
                product: product.name.clone(),
                available: i64::from(product.stock) + i64::from(line.quantity) - needed,
                requested: i64::from(line.quantity),
            });
        }
        let price = line.unit_price_cents.unwrap_or(product.price_cents).cents();
        priced.total_cents = priced.total_cents.saturating_add(price.saturating_mul(i64::from(line.quantity)));
        priced.item_count += line.quantity;
        priced.product_ids.push(line.product_id);
        priced.quantities.push(line.quantity);
        priced.unit_prices.push(price);
    }
    Ok(priced)
}

/// Takes stock off the shelf (or puts it back) for every product whose
/// stock changes, in one statement.
async fn move_stock(conn: &mut PgConnection, deltas: &BTreeMap<i64, i64>) -> Result<(), DbError> {
    let (ids, moved): (Vec<i64>, Vec<i64>) = deltas.iter().filter(|(_, d)| **d != 0).map(|(id, d)| (*id, *d)).unzip();
    if !ids.is_empty() {
        sqlx::query!(
            "UPDATE products p SET stock = p.stock - d.delta, version = p.version + 1, updated_at = now()
               FROM unnest($1::BIGINT[], $2::BIGINT[]) AS d(id, delta)
              WHERE p.id = d.id",
            &ids,
            &moved
        )
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// Inserts the order, or updates it (`existing`) and removes the lines the
/// draft no longer has; returns its id.
async fn write_order(
    conn: &mut PgConnection,
    existing: Option<i64>,
    draft: &Draft,
    lines: &PricedLines,
) -> Result<i64, DbError> {
    let Some(id) = existing else {
        return Ok(sqlx::query_scalar!(
            "INSERT INTO orders (user_id, status, total_cents, item_count) VALUES ($1, $2, $3, $4) RETURNING id",
            draft.user_id,
            draft.status.as_str(),
            lines.total_cents,
            lines.item_count
        )
        .fetch_one(conn)
        .await?);
    };
    sqlx::query!(
        "UPDATE orders SET user_id = $2, status = $3, total_cents = $4, item_count = $5,
                version = version + 1, updated_at = now()
          WHERE id = $1",
        id,
        draft.user_id,
        draft.status.as_str(),
        lines.total_cents,
        lines.item_count
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!("DELETE FROM order_items WHERE order_id = $1 AND product_id <> ALL($2)", id, &lines.product_ids)
        .execute(conn)
        .await?;
    Ok(id)
}

/// Writes the lines that are new or changed. Lines that did not change are
/// left alone, so the audit trail records exactly the lines that were added,
/// changed or removed.
async fn write_lines(conn: &mut PgConnection, order_id: i64, lines: &PricedLines) -> Result<(), DbError> {
    sqlx::query!(
        "INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents)
         SELECT $1, * FROM unnest($2::BIGINT[], $3::INT[], $4::BIGINT[])
         ON CONFLICT (order_id, product_id) DO UPDATE
            SET quantity = EXCLUDED.quantity, unit_price_cents = EXCLUDED.unit_price_cents
          WHERE (order_items.quantity, order_items.unit_price_cents)
                IS DISTINCT FROM (EXCLUDED.quantity, EXCLUDED.unit_price_cents)",
        order_id,
        &lines.product_ids,
        &lines.quantities,
        &lines.unit_prices
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(status: Status, lines: &[(i64, i32)]) -> Draft {
        let lines = lines
            .iter()
            .map(|&(product_id, quantity)| DraftLine { product_id, quantity, unit_price_cents: None })
            .collect();
        Draft { user_id: 1, status, lines }
    }

    fn shelf(products: &[(i64, i32)]) -> BTreeMap<i64, LockedProduct> {
        products
            .iter()
            .map(|&(id, stock)| {
                let name = format!("Product {id}");
                (id, LockedProduct { id, name, price_cents: Money::from_cents(250), stock })
            })
            .collect()
    }

    #[test]
    fn an_edit_moves_only_the_difference_and_cancelling_gives_everything_back() {
        let held = [(1, 2), (2, 1)];
        let edited = stock_deltas(&held, &draft(Status::Paid, &[(1, 3), (3, 1)]));
        assert_eq!(edited, BTreeMap::from([(1, 1), (2, -1), (3, 1)]));
        let cancelled = stock_deltas(&held, &draft(Status::Cancelled, &[(1, 3)]));
        assert_eq!(cancelled, BTreeMap::from([(1, -2), (2, -1)]));
    }

    #[test]
    fn a_short_line_says_what_this_order_could_have() {
        // The order holds 2 of product 1 already; 1 more is on the shelf.
        let draft = draft(Status::Paid, &[(1, 4)]);
        let deltas = stock_deltas(&[(1, 2)], &draft);
        match price_lines(&draft, &deltas, &shelf(&[(1, 1)])) {
            Err(SaveError::OutOfStock { line: 0, available: 3, requested: 4, .. }) => {}
            other => panic!("expected out of stock, got {other:?}"),
        }
        let priced = price_lines(&draft, &deltas, &shelf(&[(1, 2)])).unwrap();
        assert_eq!((priced.total_cents, priced.item_count, priced.unit_prices), (1000, 4, vec![250]));
        assert!(matches!(price_lines(&draft, &deltas, &shelf(&[])), Err(SaveError::MissingProduct { line: 0 })));
    }

    #[test]
    fn refund_statuses_are_kept_never_chosen() {
        let refunded = Some(Status::PartiallyRefunded);
        assert!(refuse_refund_status_change(refunded, Status::PartiallyRefunded).is_ok());
        assert!(matches!(
            refuse_refund_status_change(refunded, Status::Paid),
            Err(SaveError::StatusFollowsRefunds { current: Some(Status::PartiallyRefunded) })
        ));
        assert!(refuse_refund_status_change(refunded, Status::Refunded).is_err());
        assert!(matches!(
            refuse_refund_status_change(Some(Status::Paid), Status::Refunded),
            Err(SaveError::StatusFollowsRefunds { current: None })
        ));
        assert!(refuse_refund_status_change(None, Status::Refunded).is_err());
        assert!(refuse_refund_status_change(Some(Status::Paid), Status::Shipped).is_ok());
    }
}
