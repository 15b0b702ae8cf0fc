//! Refunds and returns: giving back money for some of an order's lines (and
//! optionally shipping or goodwill), putting returned items back on the
//! shelf, and the order's timeline of what happened to it.
//!
//! A refund is one transaction: the order and its lines are locked first, so
//! two refunds at once are applied one after the other and the second sees
//! what the first took; the database's checks (`order_items_refunded_within_
//! quantity`, `orders_refund_within_total`) refuse anything that would still
//! over-refund.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{Actor, DbError};
use crate::domain::{Money, Status};

/// Most events a timeline shows (the latest ones).
pub const TIMELINE_EVENTS: i64 = 50;

/// Most refunds an order page lists (the latest ones).
pub const REFUNDS_SHOWN: i64 = 50;

/// One line of a refund as asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnedLine {
    pub product_id: i64,
    pub quantity: i32,
    /// Whether the returned items go back into stock.
    pub restock: bool,
}

/// A refund as a validated form describes it.
#[derive(Debug, Clone)]
pub struct RefundDraft {
    pub lines: Vec<ReturnedLine>,
    /// Shipping or goodwill given back on top of the lines.
    pub extra: Money,
    pub reason: String,
}

/// Why a refund was refused, in terms a form can show.
#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error("the order cannot be refunded in its status")]
    NotRefundable(Status),
    #[error("more than is left to refund of a line")]
    TooMany { product_id: i64, left: i32 },
    #[error("a line that is not on the order")]
    NotOnOrder { product_id: i64 },
    #[error("more than was paid")]
    MoreThanPaid { left: Money },
    #[error("nothing to refund")]
    Nothing,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for RefundError {
    fn from(e: sqlx::Error) -> Self {
        RefundError::Db(e.into())
    }
}

/// Records a refund of `order_id` by `actor`, restocks what it says, and
/// moves the order to partially refunded or refunded. Returns the refund's
/// id and the amount given back.
pub async fn refund(
    conn: &mut PgConnection,
    actor: Actor,
    order_id: i64,
    draft: &RefundDraft,
) -> Result<(i64, Money), RefundError> {
    let mut tx = super::begin_as(conn, actor).await?;
    let order = sqlx::query!(
        r#"SELECT status AS "status: Status", total_cents, refunded_cents FROM orders WHERE id = $1 FOR UPDATE"#,
        order_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(DbError::NotFound)?;
    if !order.status.refundable() {
        return Err(RefundError::NotRefundable(order.status));
    }
    let items = sqlx::query!(
        "SELECT product_id, quantity, refunded_quantity, unit_price_cents
           FROM order_items WHERE order_id = $1 ORDER BY product_id FOR UPDATE",
        order_id
    )
    .fetch_all(&mut *tx)
    .await?;

    let (mut products, mut quantities, mut amounts, mut restocks) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut lines_total: i64 = 0;
    for line in draft.lines.iter().filter(|l| l.quantity > 0) {
        let item = items
            .iter()
            .find(|i| i.product_id == line.product_id)
            .ok_or(RefundError::NotOnOrder { product_id: line.product_id })?;
        let left = item.quantity - item.refunded_quantity;
        if line.quantity > left {
            return Err(RefundError::TooMany { product_id: line.product_id, left });
        }
        let amount = i64::from(line.quantity) * item.unit_price_cents;
        lines_total += amount;
        products.push(line.product_id);
        quantities.push(line.quantity);
        amounts.push(amount);
        restocks.push(line.restock);
    }
    let total = lines_total + draft.extra.cents();
    if total <= 0 {
        return Err(RefundError::Nothing);
    }
    let left = order.total_cents - order.refunded_cents;
    if total > left {
        return Err(RefundError::MoreThanPaid { left: Money::from_cents(left) });
    }

    let refund_id = sqlx::query_scalar!(
        "INSERT INTO refunds (order_id, staff_id, reason, extra_cents, total_cents)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
        order_id,
        actor,
        draft.reason.trim(),
        draft.extra.cents(),
        total
    )
    .fetch_one(&mut *tx)
    .await?;
    if !products.is_empty() {
        sqlx::query!(
            "INSERT INTO refund_lines (refund_id, order_id, product_id, quantity, amount_cents, restock)
             SELECT $1, $2, * FROM unnest($3::BIGINT[], $4::INT[], $5::BIGINT[], $6::BOOLEAN[])",
            refund_id,
            order_id,
            &products,
            &quantities,
            &amounts,
            &restocks
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "UPDATE order_items i
                SET refunded_quantity = i.refunded_quantity + r.quantity, refunded_cents = i.refunded_cents + r.amount
               FROM unnest($2::BIGINT[], $3::INT[], $4::BIGINT[]) AS r(product_id, quantity, amount)
              WHERE i.order_id = $1 AND i.product_id = r.product_id",
            order_id,
            &products,
            &quantities,
            &amounts
        )
        .execute(&mut *tx)
        .await?;
        restock(&mut tx, &products, &quantities, &restocks).await?;
    }
    let everything_back = items.iter().all(|i| {
        let now = products.iter().position(|p| *p == i.product_id).map_or(0, |k| quantities[k]);
        i.refunded_quantity + now >= i.quantity
    });
    let status = if everything_back || total >= left { Status::Refunded } else { Status::PartiallyRefunded };
    sqlx::query!(
        "UPDATE orders SET refunded_cents = refunded_cents + $2, status = $3, version = version + 1, updated_at = now()
          WHERE id = $1",
        order_id,
        total,
        status.as_str()
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((refund_id, Money::from_cents(total)))
}

/// Puts the restocked quantities back on the shelf, locking the products in
/// id order as saving an order does, so the two never deadlock.
async fn restock(
    conn: &mut PgConnection,
    products: &[i64],
    quantities: &[i32],
    restocks: &[bool],
) -> Result<(), sqlx::Error> {
    let (mut ids, mut back) = (Vec::new(), Vec::new());
    for ((id, quantity), restock) in products.iter().zip(quantities).zip(restocks) {
        if *restock {
            ids.push(*id);
            back.push(*quantity);
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query!("SELECT id FROM products WHERE id = ANY($1) ORDER BY id FOR UPDATE", &ids)
        .fetch_all(&mut *conn)
        .await?;
    sqlx::query!(
        "UPDATE products p SET stock = p.stock + r.quantity, version = p.version + 1, updated_at = now()
           FROM unnest($1::BIGINT[], $2::INT[]) AS r(id, quantity)
          WHERE p.id = r.id",
        &ids,
        &back
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// One refund of an order, as its page lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Refund {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub staff_name: Option<String>,
    pub reason: String,
    pub extra_cents: Money,
    pub total_cents: Money,
    /// "2 × Mug (restocked), 1 × Plate": what came back.
    pub items: String,
}

/// The latest refunds of an order, newest first, each with what came back.
pub async fn refunds_of(conn: &mut PgConnection, order_id: i64) -> Result<Vec<Refund>, DbError> {
    Ok(sqlx::query_as!(
        Refund,
        r#"SELECT r.id, r.at, s.display_name AS "staff_name?", r.reason,
                  r.extra_cents AS "extra_cents: Money", r.total_cents AS "total_cents: Money",
                  coalesce((SELECT string_agg(l.quantity || ' × ' || p.name
                                              || CASE WHEN l.restock THEN ' (restocked)' ELSE '' END,
                                              ', ' ORDER BY p.name, p.id)
                              FROM refund_lines l JOIN products p ON p.id = l.product_id
                             WHERE l.refund_id = r.id), '') AS "items!"
             FROM refunds r LEFT JOIN staff s ON s.id = r.staff_id
            WHERE r.order_id = $1
            ORDER BY r.at DESC, r.id DESC
            LIMIT $2"#,
        order_id,
        REFUNDS_SHOWN
    )
    .fetch_all(conn)
    .await?)
}

/// What happened to an order, for its timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Placed,
    StatusChanged,
    Refunded,
}

/// One event of an order's timeline.
#[derive(Debug, Clone)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub kind: EventKind,
    /// The status it was placed with or moved to.
    pub status: Option<Status>,
    /// Who did it; `None` for the system (imports, demo data) or a removed account.
    pub staff_name: Option<String>,
    /// A refund's amount and reason.
    pub amount: Option<Money>,
    pub reason: Option<String>,
}

/// The order's latest events, oldest first: placed, each change of status
/// (the refunded statuses come with their refunds, so they are not repeated)
/// and each refund, with who did it. One statement, at most
/// [`TIMELINE_EVENTS`] events.
pub async fn timeline(conn: &mut PgConnection, order_id: i64) -> Result<Vec<Event>, DbError> {
    let rows = sqlx::query!(
        r#"SELECT e.at AS "at!", e.kind AS "kind!", e.status, s.display_name AS "staff_name?",
                  e.amount, e.reason
             FROM (
                 (SELECT o.placed_at AS at, 'placed' AS kind, coalesce(c.status, o.status) AS status,
                         c.staff_id, NULL::BIGINT AS amount, NULL::TEXT AS reason
                    FROM orders o
                    LEFT JOIN LATERAL (SELECT a.staff_id, a.after ->> 'status' AS status FROM audit_log a
                                        WHERE a.entity = 'order' AND a.entity_id = o.id AND a.action = 'create'
                                        ORDER BY a.at, a.id LIMIT 1) c ON true
                   WHERE o.id = $1)
                 UNION ALL
                 (SELECT a.at, 'status', a.after ->> 'status', a.staff_id, NULL, NULL
                    FROM audit_log a
                   WHERE a.entity = 'order' AND a.entity_id = $1 AND a.action = 'update'
                     AND a.before ->> 'status' IS DISTINCT FROM a.after ->> 'status'
                     AND a.after ->> 'status' NOT IN ('partially_refunded', 'refunded')
                   ORDER BY a.at DESC, a.id DESC
                   LIMIT $2)
                 UNION ALL
                 (SELECT r.at, 'refund', NULL, r.staff_id, r.total_cents, r.reason
                    FROM refunds r WHERE r.order_id = $1
                   ORDER BY r.at DESC, r.id DESC
                   LIMIT $2)
             ) e LEFT JOIN staff s ON s.id = e.staff_id
            ORDER BY e.at DESC
            LIMIT $2"#,
        order_id,
        TIMELINE_EVENTS
    )
    .fetch_all(conn)
    .await?;
    let mut events: Vec<Event> = rows
        .into_iter()
        .map(|r| Event {
            at: r.at,
            kind: match r.kind.as_str() {
                "placed" => EventKind::Placed,
                "refund" => EventKind::Refunded,
                _ => EventKind::StatusChanged,
            },
            status: r.status.as_deref().and_then(Status::parse),
            staff_name: r.staff_name,
            amount: r.amount.map(Money::from_cents),
            reason: r.reason,
        })
        .collect();
    events.reverse();
    Ok(events)
}
