//! Orders and their lines: reading, filtering, and saving an order with its
//! lines and the stock it takes, all in one transaction.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::listing::{Count, Cursor, Dir, Keyed, Listing, SortColumn};
use super::{Actor, BulkError, BulkPreview, DbError};
use crate::domain::{Money, Status};

/// The orders list's status filter: one status, or every order that is not
/// cancelled (the orders a product's or customer's figures count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    Only(Status),
    NotCancelled,
}

impl StatusFilter {
    /// The value in URLs: a status, or `active` for "not cancelled".
    pub fn as_str(self) -> &'static str {
        match self {
            StatusFilter::Only(status) => status.as_str(),
            StatusFilter::NotCancelled => "active",
        }
    }

    pub fn parse(s: &str) -> Option<StatusFilter> {
        match s {
            "active" => Some(StatusFilter::NotCancelled),
            other => Status::parse(other).map(StatusFilter::Only),
        }
    }
}

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

impl Keyed for OrderRow {
    fn cursor(&self) -> Cursor {
        Cursor { value: self.sort_key.clone(), id: self.id }
    }
}

/// One order with its customer.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Order {
    pub id: i64,
    pub user_id: i64,
    pub user_name: String,
    pub user_email: String,
    pub status: Status,
    pub total_cents: Money,
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
}

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
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for SaveError {
    fn from(e: sqlx::Error) -> Self {
        SaveError::Db(e.into())
    }
}

/// Filters of the orders list; all optional and combinable.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub user_id: Option<i64>,
    /// Orders with this product on a line.
    pub product_id: Option<i64>,
    pub status: Option<StatusFilter>,
    /// Part of the customer's name or email.
    pub customer: String,
    /// Placed on or after this day (UTC).
    pub from: Option<NaiveDate>,
    /// Placed on or before this day (UTC).
    pub to: Option<NaiveDate>,
    /// Totals from this many cents.
    pub min_total: Option<Money>,
    /// Totals up to this many cents.
    pub max_total: Option<Money>,
}

impl Filter {
    /// Whether nothing but the customer, the product and the status is filtered on.
    fn only_who_and_what(&self) -> bool {
        self.customer.is_empty()
            && self.from.is_none()
            && self.to.is_none()
            && self.min_total.is_none()
            && self.max_total.is_none()
    }
}

/// The orders list. Sorting by customer groups each customer's orders
/// together (by customer number).
pub struct List;

impl Listing for List {
    type Row = OrderRow;
    type Filter = Filter;
    const COLUMNS: &'static str = ROW_COLUMNS;
    const FROM: &'static str = "orders o JOIN users u ON u.id = o.user_id";
    const COUNTED: (&'static str, &'static str) = ("orders", "o");
    const SORTS: &'static [SortColumn] = &[
        SortColumn { key: "number", expr: "o.id", sql_type: "BIGINT", id: "o.id", default_dir: Dir::Desc },
        SortColumn { key: "placed", expr: "o.placed_at", sql_type: "TIMESTAMPTZ", id: "o.id", default_dir: Dir::Desc },
        SortColumn { key: "customer", expr: "o.user_id", sql_type: "BIGINT", id: "o.id", default_dir: Dir::Asc },
        SortColumn { key: "status", expr: "o.status", sql_type: "TEXT", id: "o.id", default_dir: Dir::Asc },
        SortColumn { key: "items", expr: "o.item_count", sql_type: "INTEGER", id: "o.id", default_dir: Dir::Desc },
        SortColumn { key: "total", expr: "o.total_cents", sql_type: "BIGINT", id: "o.id", default_dir: Dir::Desc },
    ];
    const REPLAN: bool = true;

    fn keeps_all(filter: &Filter) -> bool {
        filter.only_who_and_what() && filter.user_id.is_none() && filter.product_id.is_none() && filter.status.is_none()
    }

    fn push_filter(query: &mut QueryBuilder<Postgres>, filter: &Filter) {
        query.push(" WHERE true");
        if let Some(user_id) = filter.user_id {
            query.push(" AND o.user_id = ").push_bind(user_id);
        }
        if let Some(product_id) = filter.product_id {
            query
                .push(" AND o.id IN (SELECT order_id FROM order_items WHERE product_id = ")
                .push_bind(product_id)
                .push(")");
        }
        match filter.status {
            Some(StatusFilter::Only(status)) => {
                query.push(" AND o.status = ").push_bind(status.as_str());
            }
            Some(StatusFilter::NotCancelled) => {
                query.push(" AND o.status <> 'cancelled'");
            }
            None => {}
        }
        if let Some(from) = filter.from {
            query.push(" AND o.placed_at >= ").push_bind(from).push("::DATE::TIMESTAMP AT TIME ZONE 'UTC'");
        }
        if let Some(to) = filter.to {
            query.push(" AND o.placed_at < (").push_bind(to).push("::DATE + 1)::TIMESTAMP AT TIME ZONE 'UTC'");
        }
        if let Some(min) = filter.min_total {
            query.push(" AND o.total_cents >= ").push_bind(min.cents());
        }
        if let Some(max) = filter.max_total {
            query.push(" AND o.total_cents <= ").push_bind(max.cents());
        }
        if !filter.customer.is_empty() {
            // Matching customers first (trigram indexes), then their orders.
            let pattern = format!("%{}%", super::escape_like(&filter.customer));
            query
                .push(" AND o.user_id IN (SELECT id FROM users WHERE name ILIKE ")
                .push_bind(pattern.clone())
                .push(" OR email ILIKE ")
                .push_bind(pattern)
                .push(")");
        }
    }
}

/// How many orders match: exact from the kept figures when only the
/// customer, the product and the status are filtered on and figures answer
/// that (all orders, one status, a customer's orders, the orders not
/// cancelled of a product or of a customer and a product); estimated by the
/// planner otherwise.
pub async fn count_matching(conn: &mut PgConnection, filter: &Filter) -> Result<Count, DbError> {
    use StatusFilter::{NotCancelled, Only};
    if filter.only_who_and_what() {
        let exact: Option<i64> = match (filter.user_id, filter.product_id, filter.status) {
            (None, None, status) => {
                let column = match status {
                    None => "order_count",
                    Some(Only(status)) => status.as_str(),
                    Some(NotCancelled) => "order_count - cancelled",
                };
                Some(
                    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT coalesce(sum({column}), 0)::BIGINT FROM monthly_revenue"
                    )))
                    .fetch_one(&mut *conn)
                    .await?,
                )
            }
            (Some(user_id), None, None | Some(NotCancelled)) => {
                let column = if filter.status.is_some() { "active_order_count" } else { "order_count" };
                let n: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT {column} FROM customer_stats WHERE user_id = $1"
                )))
                .bind(user_id)
                .fetch_optional(&mut *conn)
                .await?;
                Some(n.unwrap_or(0))
            }
            (None, Some(product_id), Some(NotCancelled)) => {
                let n: Option<i64> = sqlx::query_scalar("SELECT order_count FROM product_stats WHERE product_id = $1")
                    .bind(product_id)
                    .fetch_optional(&mut *conn)
                    .await?;
                Some(n.unwrap_or(0))
            }
            (Some(user_id), Some(product_id), Some(NotCancelled)) => {
                let n: Option<i64> = sqlx::query_scalar(
                    "SELECT order_count FROM customer_products WHERE user_id = $1 AND product_id = $2",
                )
                .bind(user_id)
                .bind(product_id)
                .fetch_optional(&mut *conn)
                .await?;
                Some(n.unwrap_or(0))
            }
            _ => None,
        };
        if let Some(n) = exact {
            return Ok(Count::Exact(n));
        }
    }
    super::listing::count_matching::<List>(conn, filter).await
}

const ROW_COLUMNS: &str = "o.id, o.user_id, u.name AS user_name, o.status, o.total_cents, o.item_count, o.placed_at";

/// The most recently placed orders.
pub async fn recent(conn: &mut PgConnection, limit: i64) -> Result<Vec<OrderRow>, DbError> {
    Ok(sqlx::query_as::<_, OrderRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {ROW_COLUMNS}
           FROM orders o JOIN users u ON u.id = o.user_id
          ORDER BY o.placed_at DESC, o.id DESC
          LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

pub async fn find(conn: &mut PgConnection, id: i64) -> Result<Option<Order>, DbError> {
    Ok(sqlx::query_as!(
        Order,
        r#"SELECT o.id, o.user_id, u.name AS user_name, u.email AS user_email, o.status AS "status: Status",
                  o.total_cents AS "total_cents: Money", o.item_count, o.version, o.placed_at, o.updated_at
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
                  i.quantity * i.unit_price_cents AS "line_total_cents!: Money"
             FROM order_items i JOIN products p ON p.id = i.product_id
            WHERE i.order_id = $1
            ORDER BY p.name, p.id"#,
        order_id
    )
    .fetch_all(conn)
    .await?)
}

#[derive(sqlx::FromRow)]
struct LockedProduct {
    id: i64,
    name: String,
    price_cents: Money,
    stock: i32,
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
    let mut tx = super::begin_as(conn, actor).await?;

    // Stock each product gives back from the order as it stands now.
    let mut delta: BTreeMap<i64, i64> = BTreeMap::new();
    if let Some((id, version)) = existing {
        if lock_order(&mut tx, id, version).await?.holds_stock() {
            let held: Vec<(i64, i32)> =
                sqlx::query_as("SELECT product_id, quantity FROM order_items WHERE order_id = $1")
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await?;
            for (product_id, quantity) in held {
                *delta.entry(product_id).or_default() -= i64::from(quantity);
            }
        }
    }
    if draft.status.holds_stock() {
        for line in &draft.lines {
            *delta.entry(line.product_id).or_default() += i64::from(line.quantity);
        }
    }

    // Lock every product involved, in id order so concurrent orders never deadlock.
    let ids: BTreeSet<i64> = delta.keys().copied().chain(draft.lines.iter().map(|l| l.product_id)).collect();
    let ids: Vec<i64> = ids.into_iter().collect();
    let locked: Vec<LockedProduct> =
        sqlx::query_as("SELECT id, name, price_cents, stock FROM products WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await?;
    let products: BTreeMap<i64, &LockedProduct> = locked.iter().map(|p| (p.id, p)).collect();

    let mut product_ids = Vec::with_capacity(draft.lines.len());
    let mut quantities = Vec::with_capacity(draft.lines.len());
    let mut prices = Vec::with_capacity(draft.lines.len());
    let mut total: i64 = 0;
    for (index, line) in draft.lines.iter().enumerate() {
        let Some(product) = products.get(&line.product_id) else {
            return Err(SaveError::MissingProduct { line: index });
        };
        let needed = delta.get(&line.product_id).copied().unwrap_or(0);
        if needed > i64::from(product.stock) {
            return Err(SaveError::OutOfStock {
                line: index,
                product: product.name.clone(),
                available: i64::from(product.stock) + i64::from(line.quantity) - needed,
                requested: i64::from(line.quantity),
            });
        }
        let price = line.unit_price_cents.unwrap_or(product.price_cents).cents();
        total = total.saturating_add(price.saturating_mul(i64::from(line.quantity)));
        product_ids.push(line.product_id);
        quantities.push(line.quantity);
        prices.push(price);
    }

    let (moved_ids, moved): (Vec<i64>, Vec<i64>) =
        delta.iter().filter(|(_, d)| **d != 0).map(|(id, d)| (*id, *d)).unzip();
    if !moved_ids.is_empty() {
        sqlx::query(
            "UPDATE products p SET stock = p.stock - d.delta, version = p.version + 1, updated_at = now()
               FROM unnest($1::BIGINT[], $2::BIGINT[]) AS d(id, delta)
              WHERE p.id = d.id",
        )
        .bind(&moved_ids)
        .bind(&moved)
        .execute(&mut *tx)
        .await?;
    }

    let item_count: i32 = quantities.iter().sum();
    let order_id: i64 =
        match existing {
            None => sqlx::query_scalar(
                "INSERT INTO orders (user_id, status, total_cents, item_count) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(draft.user_id)
            .bind(draft.status.as_str())
            .bind(total)
            .bind(item_count)
            .fetch_one(&mut *tx)
            .await?,
            Some((id, _)) => {
                sqlx::query(
                    "UPDATE orders SET user_id = $2, status = $3, total_cents = $4, item_count = $5,
                        version = version + 1, updated_at = now()
                  WHERE id = $1",
                )
                .bind(id)
                .bind(draft.user_id)
                .bind(draft.status.as_str())
                .bind(total)
                .bind(item_count)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM order_items WHERE order_id = $1 AND product_id <> ALL($2)")
                    .bind(id)
                    .bind(&product_ids)
                    .execute(&mut *tx)
                    .await?;
                id
            }
        };
    // Lines that did not change are left alone, so the audit trail records
    // exactly the lines that were added, changed or removed.
    sqlx::query(
        "INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents)
         SELECT $1, * FROM unnest($2::BIGINT[], $3::INT[], $4::BIGINT[])
         ON CONFLICT (order_id, product_id) DO UPDATE
            SET quantity = EXCLUDED.quantity, unit_price_cents = EXCLUDED.unit_price_cents
          WHERE (order_items.quantity, order_items.unit_price_cents)
                IS DISTINCT FROM (EXCLUDED.quantity, EXCLUDED.unit_price_cents)",
    )
    .bind(order_id)
    .bind(&product_ids)
    .bind(&quantities)
    .bind(&prices)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(order_id)
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

/// What a bulk action does to each targeted order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkAction {
    SetStatus(Status),
    Delete,
}

fn push_targets(query: &mut QueryBuilder<Postgres>, filter: &Filter, ids: Option<&[i64]>) {
    List::push_filter(query, filter);
    if let Some(ids) = ids {
        query.push(" AND o.id = ANY(").push_bind(ids.to_vec()).push(")");
    }
}

/// How many orders a bulk action would change, their fingerprint, and the
/// newest few of them.
pub async fn bulk_preview(
    conn: &mut PgConnection,
    filter: &Filter,
    ids: Option<&[i64]>,
) -> Result<BulkPreview<OrderRow>, DbError> {
    let mut count = QueryBuilder::new(format!("SELECT count(*), {} FROM orders o", super::fingerprint("o")));
    push_targets(&mut count, filter, ids);
    let (count, token): (i64, String) = count.build_query_as().persistent(false).fetch_one(&mut *conn).await?;
    let mut sample = QueryBuilder::new(format!("SELECT {ROW_COLUMNS} FROM orders o JOIN users u ON u.id = o.user_id"));
    push_targets(&mut sample, filter, ids);
    sample.push(" ORDER BY o.id DESC LIMIT 10");
    let sample = sample.build_query_as::<OrderRow>().persistent(false).fetch_all(conn).await?;
    Ok(BulkPreview { count, token, sample })
}

/// Applies `action` to every targeted order in one transaction, keeping the
/// rules of single edits: stock moves (and is checked), versions move on, and
/// the triggers write audit rows and keep the report figures. Refused whole,
/// changing nothing, if the targets no longer match the confirmed `token`
/// (orders joined or left the selection, or were edited) or stock is short.
/// Returns how many orders changed.
pub async fn bulk_apply(
    conn: &mut PgConnection,
    actor: Actor,
    filter: &Filter,
    ids: Option<&[i64]>,
    confirmed: (i64, &str),
    action: BulkAction,
) -> Result<usize, BulkError> {
    let mut tx = super::begin_as(conn, actor).await?;
    let mut lock = QueryBuilder::new("SELECT o.id, o.status, o.version FROM orders o");
    push_targets(&mut lock, filter, ids);
    lock.push(" ORDER BY o.id FOR UPDATE OF o");
    let targets: Vec<(i64, Status, i32)> = lock.build_query_as().persistent(false).fetch_all(&mut *tx).await?;
    let versions: Vec<(i64, i32)> = targets.iter().map(|(id, _, version)| (*id, *version)).collect();
    if super::fingerprint_of(&mut tx, &versions).await? != confirmed.1 {
        return Err(BulkError::Changed { now: targets.len() as i64, confirmed: confirmed.0 });
    }
    let ids_where = |keep: &dyn Fn(Status) -> bool| -> Vec<i64> {
        targets.iter().filter(|(_, status, _)| keep(*status)).map(|(id, _, _)| *id).collect()
    };
    let (taking, returning, changing) = match action {
        BulkAction::SetStatus(to) => (
            ids_where(&|s| !s.holds_stock() && to.holds_stock()),
            ids_where(&|s| s.holds_stock() && !to.holds_stock()),
            ids_where(&|s| s != to),
        ),
        BulkAction::Delete => (Vec::new(), ids_where(&Status::holds_stock), Vec::new()),
    };
    if !taking.is_empty() {
        // Lock the products first, in id order, then check what is short.
        sqlx::query(
            "SELECT id FROM products WHERE id IN (SELECT product_id FROM order_items WHERE order_id = ANY($1))
              ORDER BY id FOR UPDATE",
        )
        .bind(&taking)
        .execute(&mut *tx)
        .await?;
        let short: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT p.name, p.stock::BIGINT, n.needed FROM products p
               JOIN (SELECT product_id, sum(quantity)::BIGINT AS needed FROM order_items
                      WHERE order_id = ANY($1) GROUP BY product_id) n ON n.product_id = p.id
              WHERE p.stock < n.needed ORDER BY p.name",
        )
        .bind(&taking)
        .fetch_all(&mut *tx)
        .await?;
        if !short.is_empty() {
            return Err(BulkError::OutOfStock(short));
        }
    }
    for (orders, sign) in [(&taking, -1i64), (&returning, 1i64)] {
        if orders.is_empty() {
            continue;
        }
        sqlx::query(
            "UPDATE products p SET stock = p.stock + $2 * s.quantity, version = p.version + 1, updated_at = now()
               FROM (SELECT product_id, sum(quantity)::BIGINT AS quantity FROM order_items
                      WHERE order_id = ANY($1) GROUP BY product_id) s
              WHERE p.id = s.product_id",
        )
        .bind(orders)
        .bind(sign)
        .execute(&mut *tx)
        .await?;
    }
    let changed = match action {
        BulkAction::SetStatus(to) => {
            sqlx::query("UPDATE orders SET status = $2, version = version + 1, updated_at = now() WHERE id = ANY($1)")
                .bind(&changing)
                .bind(to.as_str())
                .execute(&mut *tx)
                .await?;
            changing.len()
        }
        BulkAction::Delete => {
            let all = ids_where(&|_| true);
            sqlx::query("DELETE FROM order_items WHERE order_id = ANY($1)").bind(&all).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM orders WHERE id = ANY($1)").bind(&all).execute(&mut *tx).await?;
            all.len()
        }
    };
    tx.commit().await?;
    Ok(changed)
}
