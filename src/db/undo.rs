//! Taking mistakes back: undoing a change set (an import or a bulk action)
//! from its audit entries, and restoring a deleted customer, product or
//! order (with its lines) from its last audit entry. Each is one
//! transaction, filed as a change set of its own, with the rules of single
//! edits: constraints, stock, versions, audit entries, maintained figures.
//!
//! What an undo does to each record is decided in one place, the database
//! function `change_set_plan` (migration 0011), read both by the
//! confirmation page and, under row locks, by the undo itself.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::PgConnection;

use super::change_sets::{self, Kind};
use super::orders::{check_stock, move_stock};
use super::{Actor, BulkError, DbError};

/// How many untouched records a confirmation page lists (the rest are counted).
pub const LISTED: i64 = 50;

/// A kind of record that can be restored, as the audit trail names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    Customer,
    Product,
    Order,
}

impl Record {
    /// The `audit_log.entity` of this kind.
    pub fn entity(self) -> &'static str {
        match self {
            Record::Customer => "user",
            Record::Product => "product",
            Record::Order => "order",
        }
    }

    pub fn noun(self) -> &'static str {
        match self {
            Record::Customer => "customer",
            Record::Product => "product",
            Record::Order => "order",
        }
    }
}

/// Why an undo or a restore changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum TakeBackError {
    #[error("no such change set or deleted record")]
    NotFound,
    /// Undos and restores are not themselves undone (restore or redo instead).
    #[error("this kind of change set cannot be undone")]
    NotUndoable,
    #[error("already undone")]
    AlreadyUndone,
    /// The job making the change is still at work (or waiting to start).
    #[error("its job is still running")]
    StillRunning,
    /// Every record the set touched changed since, or nothing is left to do.
    #[error("nothing left to undo")]
    NothingToUndo,
    /// The record to restore exists (it was restored already, or never deleted).
    #[error("the record exists")]
    Exists,
    /// A restored customer's email is used by another customer now: (email, who).
    #[error("email taken")]
    EmailTaken(String, String),
    /// A restored product's SKU is used by another product now: (SKU, which).
    #[error("SKU taken")]
    SkuTaken(String, String),
    /// A restored order's customer is gone: their id and last known name.
    #[error("customer missing")]
    MissingCustomer(i64, String),
    /// A restored order's products that are gone: (id, last known name).
    #[error("products missing")]
    MissingProducts(Vec<(i64, String)>),
    /// Products without enough stock for orders that would hold it again:
    /// name, available, needed.
    #[error("not enough stock")]
    OutOfStock(Vec<(String, i64, i64)>),
    /// A constraint refused the change (another record took an email or SKU,
    /// or a record it needs is gone): the constraint's name.
    #[error("constraint {0} refused the change")]
    Clash(String),
    #[error(transparent)]
    Db(DbError),
}

impl From<DbError> for TakeBackError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Constraint { constraint } => TakeBackError::Clash(constraint),
            DbError::NotFound => TakeBackError::NotFound,
            other => TakeBackError::Db(other),
        }
    }
}

impl From<sqlx::Error> for TakeBackError {
    fn from(e: sqlx::Error) -> Self {
        DbError::from(e).into()
    }
}

impl From<BulkError> for TakeBackError {
    fn from(e: BulkError) -> Self {
        match e {
            BulkError::OutOfStock(short) => TakeBackError::OutOfStock(short),
            BulkError::Db(e) => e.into(),
            BulkError::Changed { .. } => TakeBackError::NothingToUndo,
        }
    }
}

/// A record an undo leaves alone, and why (`outcome`: changed, referenced).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Untouched {
    pub entity: String,
    pub entity_id: i64,
    /// Its name as the set left it (empty for orders).
    pub name: String,
    pub outcome: String,
}

/// What undoing a change set would do, for its confirmation page.
#[derive(Debug, Clone, Default)]
pub struct UndoPlan {
    /// Records updated by the set that get their before values back.
    pub reverted: i64,
    /// Records created by the set that are deleted.
    pub deleted: i64,
    /// Records deleted by the set that come back.
    pub restored: i64,
    /// Records changed since, left alone.
    pub changed: i64,
    /// Records created by the set that others now refer to, left alone.
    pub referenced: i64,
    /// The first [`LISTED`] records left alone.
    pub untouched: Vec<Untouched>,
}

impl UndoPlan {
    /// Whether the undo would change anything.
    pub fn does_something(&self) -> bool {
        self.reverted + self.deleted + self.restored > 0
    }

    /// Records left alone beyond those listed.
    pub fn unlisted(&self) -> i64 {
        self.changed + self.referenced - self.untouched.len() as i64
    }
}

/// What undoing `set` would do now: one evaluation of the plan gives both
/// the counts and the first [`LISTED`] records left alone.
pub async fn plan(conn: &mut PgConnection, set: i64) -> Result<UndoPlan, DbError> {
    let read = sqlx::query!(
        r#"WITH p AS MATERIALIZED (
               SELECT entity, entity_id, outcome, coalesce(coalesce(after, before) ->> 'name', '') AS name
                 FROM change_set_plan($1))
           SELECT (SELECT coalesce(jsonb_object_agg(outcome, n), '{}')
                     FROM (SELECT outcome, count(*) AS n FROM p GROUP BY outcome) c)
                      AS "counts!: Json<std::collections::HashMap<String, i64>>",
                  (SELECT coalesce(jsonb_agg(u ORDER BY u.entity, u.entity_id), '[]')
                     FROM (SELECT entity, entity_id, name, outcome FROM p WHERE outcome IN ('changed', 'referenced')
                            ORDER BY entity, entity_id LIMIT $2) u)
                      AS "untouched!: Json<Vec<Untouched>>""#,
        set,
        LISTED
    )
    .fetch_one(conn)
    .await?;
    let count = |outcome: &str| read.counts.0.get(outcome).copied().unwrap_or(0);
    Ok(UndoPlan {
        reverted: count("revert"),
        deleted: count("delete"),
        restored: count("restore"),
        changed: count("changed"),
        referenced: count("referenced"),
        untouched: read.untouched.0,
    })
}

/// What an undo did.
#[derive(Debug, Clone, Copy)]
pub struct Undone {
    /// The undo's own change set.
    pub set: i64,
    pub reverted: usize,
    pub deleted: usize,
    pub restored: usize,
    /// Records left alone (changed since, or referred to).
    pub untouched: usize,
}

/// The records of a set, by kind, that an undo acts on.
#[derive(Debug, Default)]
struct Acts {
    revert: [Vec<i64>; 3],
    delete: [Vec<i64>; 3],
    restore: [Vec<i64>; 3],
    untouched: usize,
}

const USERS: usize = 0;
const PRODUCTS: usize = 1;
const ORDERS: usize = 2;

/// Undoes change set `set` in one transaction, filed as an 'undo' change
/// set naming it: records it updated get their before values back, records
/// it created go (unless referred to), records it deleted come back, and
/// records changed since are left alone. Orders whose status comes back
/// take or give back stock as a bulk action would; refused whole if stock
/// is short, or if the set was undone already (the unique index on
/// `change_sets.undoes` settles two undos racing).
pub async fn undo(conn: &mut PgConnection, actor: Actor, set: i64) -> Result<Undone, TakeBackError> {
    let mut tx = super::begin_as(conn, actor).await?;
    let undone = sqlx::query!("SELECT kind, summary FROM change_sets WHERE id = $1 FOR UPDATE", set)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(undone) = undone else {
        return Err(TakeBackError::NotFound);
    };
    if !matches!(undone.kind.as_str(), "import" | "bulk") {
        return Err(TakeBackError::NotUndoable);
    }
    if change_sets::undone_by(&mut tx, set).await?.is_some() {
        return Err(TakeBackError::AlreadyUndone);
    }
    // A job still adding to the set: the lock waits out a batch in flight
    // (each batch updates its job's row), so none lands after the undo.
    let jobs = sqlx::query_scalar!("SELECT state FROM jobs WHERE change_set_id = $1 FOR UPDATE", set)
        .fetch_all(&mut *tx)
        .await?;
    if jobs.iter().any(|state| matches!(state.as_str(), "queued" | "running")) {
        return Err(TakeBackError::StillRunning);
    }
    lock_records(&mut tx, set).await?;
    let acts = acts(&mut tx, set).await?;
    let (reverted, deleted, restored) = (
        acts.revert.iter().map(Vec::len).sum::<usize>(),
        acts.delete.iter().map(Vec::len).sum::<usize>(),
        acts.restore.iter().map(Vec::len).sum::<usize>(),
    );
    if reverted + deleted + restored == 0 {
        return Err(TakeBackError::NothingToUndo);
    }
    let summary: String = format!("Undid: {}", undone.summary).chars().take(500).collect();
    let own = match change_sets::open(&mut tx, Kind::Undo, &summary, Some(set)).await {
        Err(DbError::Constraint { constraint }) if constraint == "change_sets_undone_once" => {
            return Err(TakeBackError::AlreadyUndone)
        }
        other => other?,
    };

    // Records the set deleted come back first, so what refers to them can.
    let entries = deleted_entries(&mut tx, set, "user", &acts.restore[USERS]).await?;
    insert_users(&mut tx, &entries).await?;
    let entries = deleted_entries(&mut tx, set, "product", &acts.restore[PRODUCTS]).await?;
    insert_products(&mut tx, &entries).await?;

    revert_users(&mut tx, set, &acts.revert[USERS]).await?;
    revert_products(&mut tx, set, &acts.revert[PRODUCTS]).await?;
    revert_orders(&mut tx, set, &acts.revert[ORDERS]).await?;

    if !acts.restore[ORDERS].is_empty() {
        let orders = deleted_entries(&mut tx, set, "order", &acts.restore[ORDERS]).await?;
        let lines = deleted_entries(&mut tx, set, "order_line", &acts.restore[ORDERS]).await?;
        insert_orders(&mut tx, &orders, &lines, &acts.restore[ORDERS]).await?;
    }

    delete_orders(&mut tx, &acts.delete[ORDERS]).await?;
    sqlx::query!("DELETE FROM products WHERE id = ANY($1)", &acts.delete[PRODUCTS]).execute(&mut *tx).await?;
    sqlx::query!("DELETE FROM users WHERE id = ANY($1)", &acts.delete[USERS]).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(Undone { set: own, reverted, deleted, restored, untouched: acts.untouched })
}

/// Locks every customer, product and order the set touched, in id order
/// per table, so the plan read next holds until the undo commits.
async fn lock_records(conn: &mut PgConnection, set: i64) -> Result<(), DbError> {
    sqlx::query!(
        "SELECT id FROM users WHERE id IN (SELECT entity_id FROM audit_log WHERE change_set_id = $1 AND entity = 'user')
          ORDER BY id FOR UPDATE",
        set
    )
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query!(
        "SELECT id FROM products
          WHERE id IN (SELECT entity_id FROM audit_log WHERE change_set_id = $1 AND entity = 'product')
          ORDER BY id FOR UPDATE",
        set
    )
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query!(
        "SELECT id FROM orders
          WHERE id IN (SELECT entity_id FROM audit_log WHERE change_set_id = $1 AND entity IN ('order', 'order_line'))
          ORDER BY id FOR UPDATE",
        set
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(())
}

/// The set's plan as it stands (read once, before anything changes).
async fn acts(conn: &mut PgConnection, set: i64) -> Result<Acts, DbError> {
    let rows = sqlx::query!(
        r#"SELECT entity AS "entity!", entity_id AS "entity_id!", outcome AS "outcome!"
             FROM change_set_plan($1) WHERE outcome NOT IN ('follows', 'nothing')"#,
        set
    )
    .fetch_all(conn)
    .await?;
    let mut acts = Acts::default();
    for row in rows {
        let kind = match row.entity.as_str() {
            "user" => USERS,
            "product" => PRODUCTS,
            _ => ORDERS,
        };
        match row.outcome.as_str() {
            "revert" => acts.revert[kind].push(row.entity_id),
            "delete" => acts.delete[kind].push(row.entity_id),
            "restore" => acts.restore[kind].push(row.entity_id),
            _ => acts.untouched += 1,
        }
    }
    Ok(acts)
}

/// The ids of the set's 'delete' entries of `entity` about `ids`.
async fn deleted_entries(conn: &mut PgConnection, set: i64, entity: &str, ids: &[i64]) -> Result<Vec<i64>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_scalar!(
        "SELECT id FROM audit_log
          WHERE change_set_id = $1 AND entity = $2 AND action = 'delete' AND entity_id = ANY($3) ORDER BY id",
        set,
        entity,
        ids
    )
    .fetch_all(conn)
    .await?)
}

/// Gives customers `ids` the values they had before set `set`.
async fn revert_users(conn: &mut PgConnection, set: i64, ids: &[i64]) -> Result<(), DbError> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "UPDATE users u SET name = b.name, email = b.email, version = u.version + 1, updated_at = now()
           FROM (SELECT DISTINCT ON (a.entity_id) r.id, r.name, r.email
                   FROM audit_log a, jsonb_populate_record(NULL::users, a.before) r
                  WHERE a.change_set_id = $1 AND a.entity = 'user' AND a.entity_id = ANY($2)
                  ORDER BY a.entity_id, a.id) b
          WHERE u.id = b.id",
        set,
        ids
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Gives products `ids` the values they had before set `set`.
async fn revert_products(conn: &mut PgConnection, set: i64, ids: &[i64]) -> Result<(), DbError> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "UPDATE products p SET name = b.name, sku = b.sku, price_cents = b.price_cents, stock = b.stock,
                version = p.version + 1, updated_at = now()
           FROM (SELECT DISTINCT ON (a.entity_id) r.id, r.name, r.sku, r.price_cents, r.stock
                   FROM audit_log a, jsonb_populate_record(NULL::products, a.before) r
                  WHERE a.change_set_id = $1 AND a.entity = 'product' AND a.entity_id = ANY($2)
                  ORDER BY a.entity_id, a.id) b
          WHERE p.id = b.id",
        set,
        ids
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Gives orders `ids` the values they had before set `set`, moving stock
/// as their status comes back: a cancelled order that was paid takes its
/// stock again (refused if short), a paid one that was cancelled gives it back.
async fn revert_orders(conn: &mut PgConnection, set: i64, ids: &[i64]) -> Result<(), TakeBackError> {
    if ids.is_empty() {
        return Ok(());
    }
    let moves = sqlx::query!(
        r#"SELECT o.id AS "id!", (o.status = 'cancelled') AS "gave_back!", (b.status = 'cancelled') AS "gives_back!"
             FROM orders o
             JOIN (SELECT DISTINCT ON (a.entity_id) a.entity_id AS id, a.before ->> 'status' AS status
                     FROM audit_log a
                    WHERE a.change_set_id = $1 AND a.entity = 'order' AND a.entity_id = ANY($2)
                    ORDER BY a.entity_id, a.id) b ON b.id = o.id
            ORDER BY o.id"#,
        set,
        ids
    )
    .fetch_all(&mut *conn)
    .await?;
    let taking: Vec<i64> = moves.iter().filter(|m| m.gave_back && !m.gives_back).map(|m| m.id).collect();
    let returning: Vec<i64> = moves.iter().filter(|m| !m.gave_back && m.gives_back).map(|m| m.id).collect();
    if !taking.is_empty() {
        check_stock(&mut *conn, &taking).await?;
        move_stock(&mut *conn, &taking, -1).await?;
    }
    if !returning.is_empty() {
        move_stock(&mut *conn, &returning, 1).await?;
    }
    sqlx::query!(
        "UPDATE orders o SET user_id = b.user_id, status = b.status, total_cents = b.total_cents,
                item_count = b.item_count, placed_at = b.placed_at, version = o.version + 1, updated_at = now()
           FROM (SELECT DISTINCT ON (a.entity_id) r.id, r.user_id, r.status, r.total_cents, r.item_count, r.placed_at
                   FROM audit_log a, jsonb_populate_record(NULL::orders, a.before) r
                  WHERE a.change_set_id = $1 AND a.entity = 'order' AND a.entity_id = ANY($2)
                  ORDER BY a.entity_id, a.id) b
          WHERE o.id = b.id",
        set,
        ids
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Deletes orders `ids` with their lines, giving back the stock of those
/// not cancelled.
async fn delete_orders(conn: &mut PgConnection, ids: &[i64]) -> Result<(), DbError> {
    if ids.is_empty() {
        return Ok(());
    }
    let holding =
        sqlx::query_scalar!("SELECT id FROM orders WHERE id = ANY($1) AND status <> 'cancelled' ORDER BY id", ids)
            .fetch_all(&mut *conn)
            .await?;
    if !holding.is_empty() {
        move_stock(&mut *conn, &holding, 1).await?;
    }
    sqlx::query!("DELETE FROM order_items WHERE order_id = ANY($1)", ids).execute(&mut *conn).await?;
    sqlx::query!("DELETE FROM orders WHERE id = ANY($1)", ids).execute(&mut *conn).await?;
    Ok(())
}

/// Brings back the customers whose 'delete' entries are `entries`, with
/// their ids.
async fn insert_users(conn: &mut PgConnection, entries: &[i64]) -> Result<(), DbError> {
    if entries.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "INSERT INTO users (id, name, email, created_at) OVERRIDING SYSTEM VALUE
         SELECT r.id, r.name, r.email, r.created_at
           FROM audit_log a, jsonb_populate_record(NULL::users, a.before) r
          WHERE a.id = ANY($1) ORDER BY r.id",
        entries
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Brings back the products whose 'delete' entries are `entries`, with
/// their ids (their figures start again from nothing: orders of a deleted
/// product were gone before it could be deleted).
async fn insert_products(conn: &mut PgConnection, entries: &[i64]) -> Result<(), DbError> {
    if entries.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "INSERT INTO products (id, name, sku, price_cents, stock, created_at) OVERRIDING SYSTEM VALUE
         SELECT r.id, r.name, r.sku, r.price_cents, r.stock, r.created_at
           FROM audit_log a, jsonb_populate_record(NULL::products, a.before) r
          WHERE a.id = ANY($1) ORDER BY r.id",
        entries
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Brings back orders `ids` and their lines from their 'delete' entries
/// (`orders`, `lines`), with their ids; those not cancelled take their stock
/// again, refused with the products short.
async fn insert_orders(
    conn: &mut PgConnection,
    orders: &[i64],
    lines: &[i64],
    ids: &[i64],
) -> Result<(), TakeBackError> {
    sqlx::query!(
        "INSERT INTO orders (id, user_id, status, total_cents, item_count, placed_at) OVERRIDING SYSTEM VALUE
         SELECT r.id, r.user_id, r.status, r.total_cents, r.item_count, r.placed_at
           FROM audit_log a, jsonb_populate_record(NULL::orders, a.before) r
          WHERE a.id = ANY($1) ORDER BY r.id",
        orders
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents)
         SELECT r.order_id, r.product_id, r.quantity, r.unit_price_cents
           FROM audit_log a, jsonb_populate_record(NULL::order_items, a.before) r
          WHERE a.id = ANY($1) ORDER BY r.order_id, r.product_id",
        lines
    )
    .execute(&mut *conn)
    .await?;
    let holding =
        sqlx::query_scalar!("SELECT id FROM orders WHERE id = ANY($1) AND status <> 'cancelled' ORDER BY id", ids)
            .fetch_all(&mut *conn)
            .await?;
    if !holding.is_empty() {
        check_stock(&mut *conn, &holding).await?;
        move_stock(&mut *conn, &holding, -1).await?;
    }
    Ok(())
}

/// A deleted record as its last 'delete' entry holds it.
#[derive(Debug, Clone)]
pub struct Deleted {
    pub entry_id: i64,
    pub at: DateTime<Utc>,
    pub staff_name: Option<String>,
    pub before: Json<Value>,
    /// For an order: the 'delete' entries of its lines, written with it.
    pub line_entries: Vec<i64>,
}

impl Deleted {
    /// A text field of the record as it was.
    pub fn field(&self, key: &str) -> String {
        match self.before.0.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        }
    }

    /// A whole-number field of the record as it was.
    pub fn number(&self, key: &str) -> i64 {
        self.before.0.get(key).and_then(Value::as_i64).unwrap_or_default()
    }
}

/// The last time record `id` of kind `record` was deleted, if it was.
pub async fn last_deleted(conn: &mut PgConnection, record: Record, id: i64) -> Result<Option<Deleted>, DbError> {
    let entry = sqlx::query!(
        r#"SELECT a.id, a.at, s.display_name AS "staff_name?", a.before AS "before!: Json<Value>"
             FROM audit_log a LEFT JOIN staff s ON s.id = a.staff_id
            WHERE a.entity = $1 AND a.entity_id = $2 AND a.action = 'delete' AND a.before IS NOT NULL
            ORDER BY a.at DESC, a.id DESC LIMIT 1"#,
        record.entity(),
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(entry) = entry else {
        return Ok(None);
    };
    // An order's lines are deleted in the same transaction as the order, so
    // their entries carry the same time (the transaction's).
    let line_entries = if record == Record::Order {
        sqlx::query_scalar!(
            "SELECT id FROM audit_log
              WHERE entity = 'order_line' AND entity_id = $1 AND action = 'delete' AND at = $2 ORDER BY id",
            id,
            entry.at
        )
        .fetch_all(&mut *conn)
        .await?
    } else {
        Vec::new()
    };
    Ok(Some(Deleted {
        entry_id: entry.id,
        at: entry.at,
        staff_name: entry.staff_name,
        before: entry.before,
        line_entries,
    }))
}

/// A line of a deleted order, with its product's name as last recorded.
#[derive(Debug, Clone)]
pub struct DeletedLine {
    pub product_id: i64,
    pub product_name: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
}

/// The lines of a deleted order, as their 'delete' entries hold them.
pub async fn deleted_lines(conn: &mut PgConnection, deleted: &Deleted) -> Result<Vec<DeletedLine>, DbError> {
    Ok(sqlx::query_as!(
        DeletedLine,
        r#"SELECT (a.before ->> 'product_id')::BIGINT AS "product_id!",
                  coalesce((SELECT coalesce(p.after, p.before) ->> 'name' FROM audit_log p
                             WHERE p.entity = 'product' AND p.entity_id = (a.before ->> 'product_id')::BIGINT
                             ORDER BY p.id DESC LIMIT 1), '') AS "product_name!",
                  (a.before ->> 'quantity')::BIGINT AS "quantity!",
                  (a.before ->> 'unit_price_cents')::BIGINT AS "unit_price_cents!"
             FROM audit_log a WHERE a.id = ANY($1) ORDER BY a.id"#,
        &deleted.line_entries
    )
    .fetch_all(conn)
    .await?)
}

/// Restores record `id` of kind `record` from its last 'delete' entry, with
/// its id, in one transaction filed as a 'restore' change set: refused if
/// it exists, if its email or SKU is used by another record now, if an
/// order's customer or products are gone, or if stock is short for an order
/// that holds stock. With `commit` false nothing is kept: the confirmation
/// page learns whether (and why not) the restore would go ahead.
pub async fn restore(
    conn: &mut PgConnection,
    actor: Actor,
    record: Record,
    id: i64,
    commit: bool,
) -> Result<(), TakeBackError> {
    let mut tx = super::begin_as(conn, actor).await?;
    let deleted = last_deleted(&mut tx, record, id).await?.ok_or(TakeBackError::NotFound)?;
    let name = deleted.field("name");
    let summary = match record {
        Record::Order => format!("Restored order #{id}"),
        _ => format!("Restored {} {}", record.noun(), if name.is_empty() { format!("#{id}") } else { name.clone() }),
    };
    change_sets::open(&mut tx, Kind::Restore, &summary.chars().take(500).collect::<String>(), None).await?;
    match record {
        Record::Customer => {
            let taken = sqlx::query!(
                "SELECT id, name FROM users WHERE id = $1 OR lower(email) = lower($2) ORDER BY id <> $1 LIMIT 1",
                id,
                deleted.field("email")
            )
            .fetch_optional(&mut *tx)
            .await?;
            match taken {
                Some(user) if user.id == id => return Err(TakeBackError::Exists),
                Some(user) => return Err(TakeBackError::EmailTaken(deleted.field("email"), user.name)),
                None => insert_users(&mut tx, &[deleted.entry_id]).await?,
            }
        }
        Record::Product => {
            let taken = sqlx::query!(
                "SELECT id, name FROM products WHERE id = $1 OR lower(sku) = lower($2) ORDER BY id <> $1 LIMIT 1",
                id,
                deleted.field("sku")
            )
            .fetch_optional(&mut *tx)
            .await?;
            match taken {
                Some(product) if product.id == id => return Err(TakeBackError::Exists),
                Some(product) => return Err(TakeBackError::SkuTaken(deleted.field("sku"), product.name)),
                None => insert_products(&mut tx, &[deleted.entry_id]).await?,
            }
        }
        Record::Order => {
            let exists = sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM orders WHERE id = $1) AS "e!""#, id)
                .fetch_one(&mut *tx)
                .await?;
            if exists {
                return Err(TakeBackError::Exists);
            }
            let customer = deleted.number("user_id");
            let missing_customer = sqlx::query!(
                r#"SELECT coalesce((SELECT coalesce(a.after, a.before) ->> 'name' FROM audit_log a
                                     WHERE a.entity = 'user' AND a.entity_id = $1
                                     ORDER BY a.id DESC LIMIT 1), '') AS "name!"
                    WHERE NOT EXISTS (SELECT 1 FROM users WHERE id = $1)"#,
                customer
            )
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(missing) = missing_customer {
                return Err(TakeBackError::MissingCustomer(customer, missing.name));
            }
            let missing: Vec<(i64, String)> =
                deleted_lines(&mut tx, &deleted).await?.into_iter().map(|l| (l.product_id, l.product_name)).collect();
            let ids: Vec<i64> = missing.iter().map(|(id, _)| *id).collect();
            let present = sqlx::query_scalar!("SELECT id FROM products WHERE id = ANY($1) FOR KEY SHARE", &ids)
                .fetch_all(&mut *tx)
                .await?;
            let missing: Vec<(i64, String)> = missing.into_iter().filter(|(id, _)| !present.contains(id)).collect();
            if !missing.is_empty() {
                return Err(TakeBackError::MissingProducts(missing));
            }
            insert_orders(&mut tx, &[deleted.entry_id], &deleted.line_entries, &[id]).await?;
        }
    }
    if commit {
        tx.commit().await?;
    }
    Ok(())
}
