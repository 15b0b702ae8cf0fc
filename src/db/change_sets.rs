//! Change sets: one import, bulk action, undo or restore, named once so the
//! audit entries it writes can be shown together and taken back together.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::DbError;

/// What kind of change a set records (the `change_sets.kind` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Import,
    Bulk,
    Undo,
    Restore,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Import => "import",
            Kind::Bulk => "bulk",
            Kind::Undo => "undo",
            Kind::Restore => "restore",
        }
    }
}

/// A change set as the audit pages show it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChangeSet {
    pub id: i64,
    pub kind: String,
    pub staff_id: Option<i64>,
    pub at: DateTime<Utc>,
    pub summary: String,
    pub undoes: Option<i64>,
}

/// Opens a change set inside `tx` (a transaction begun with
/// [`super::begin_as`], whose actor the set records): every audit entry the
/// transaction writes from here on is filed under the returned id. `undoes`
/// names the set an undo takes back (and only an undo names one).
pub async fn open(tx: &mut PgConnection, kind: Kind, summary: &str, undoes: Option<i64>) -> Result<i64, DbError> {
    let id = sqlx::query_scalar!(
        r#"INSERT INTO change_sets (kind, staff_id, summary, undoes)
           VALUES ($1, nullif(current_setting('shopdesk.staff_id', true), '')::BIGINT, $2, $3)
           RETURNING id"#,
        kind.as_str(),
        summary,
        undoes
    )
    .fetch_one(&mut *tx)
    .await?;
    join(tx, id).await?;
    Ok(id)
}

/// Files the rest of `tx`'s audit entries under the existing set `id`: a
/// big change made in batches, each its own transaction, is still one set.
pub async fn join(tx: &mut PgConnection, id: i64) -> Result<(), DbError> {
    sqlx::query_scalar!("SELECT set_config('shopdesk.change_set', $1, true)", id.to_string())
        .fetch_one(&mut *tx)
        .await?;
    Ok(())
}

/// "1 order", "40 orders": a count with its noun, for a set's summary.
pub fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Rewrites the open set's summary once the change knows its own outcome
/// ("12 new, 3 updated").
pub async fn describe(tx: &mut PgConnection, id: i64, summary: &str) -> Result<(), DbError> {
    sqlx::query!("UPDATE change_sets SET summary = $2 WHERE id = $1", id, summary).execute(&mut *tx).await?;
    Ok(())
}

/// One change set, if it exists.
pub async fn find(conn: &mut PgConnection, id: i64) -> Result<Option<ChangeSet>, DbError> {
    Ok(sqlx::query_as!(ChangeSet, "SELECT id, kind, staff_id, at, summary, undoes FROM change_sets WHERE id = $1", id)
        .fetch_optional(conn)
        .await?)
}

/// The undo that took `id` back, if one did.
pub async fn undone_by(conn: &mut PgConnection, id: i64) -> Result<Option<i64>, DbError> {
    Ok(sqlx::query_scalar!("SELECT id FROM change_sets WHERE undoes = $1", id).fetch_optional(conn).await?)
}

/// A change set as its page shows it: who made it, and how it relates to
/// the undo that took it back or the set it took back.
#[derive(Debug, Clone)]
pub struct Described {
    pub id: i64,
    pub kind: String,
    pub at: DateTime<Utc>,
    pub summary: String,
    pub staff_name: Option<String>,
    /// The set this one took back (an undo).
    pub undoes: Option<i64>,
    pub undoes_summary: Option<String>,
    /// The undo that took this set back.
    pub undone_by: Option<i64>,
}

impl Described {
    /// Whether an undo may be offered: imports and bulk actions not yet undone.
    pub fn undoable(&self) -> bool {
        matches!(self.kind.as_str(), "import" | "bulk") && self.undone_by.is_none()
    }

    /// The kind as a page names it.
    pub fn kind_label(&self) -> &'static str {
        match self.kind.as_str() {
            "import" => "Import",
            "bulk" => "Bulk action",
            "undo" => "Undo",
            "restore" => "Restore",
            _ => "Change",
        }
    }
}

/// Change set `id` with its staff member and related sets, if it exists.
pub async fn described(conn: &mut PgConnection, id: i64) -> Result<Option<Described>, DbError> {
    Ok(sqlx::query_as!(
        Described,
        r#"SELECT c.id, c.kind, c.at, c.summary, s.display_name AS "staff_name?", c.undoes,
                  (SELECT p.summary FROM change_sets p WHERE p.id = c.undoes) AS "undoes_summary?",
                  (SELECT u.id FROM change_sets u WHERE u.undoes = c.id) AS "undone_by?"
             FROM change_sets c LEFT JOIN staff s ON s.id = c.staff_id
            WHERE c.id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?)
}

/// The audit entries of set `id` after entry `after`, oldest first, at most
/// `limit` of them (keyset paging by entry id).
pub async fn entries(
    conn: &mut PgConnection,
    id: i64,
    after: i64,
    limit: i64,
) -> Result<Vec<super::audit::Entry>, DbError> {
    use serde_json::Value;
    use sqlx::types::Json;
    Ok(sqlx::query_as!(
        super::audit::Entry,
        r#"SELECT a.id, a.at, a.staff_id, s.display_name AS "staff_name?", a.entity, a.entity_id, a.action,
                  a.before AS "before?: Json<Value>", a.after AS "after?: Json<Value>",
                  (SELECT u.name FROM users u WHERE u.id = (coalesce(a.after, a.before) ->> 'user_id')::BIGINT)
                      AS "customer_name?",
                  (SELECT u.name FROM users u WHERE u.id = (a.before ->> 'user_id')::BIGINT
                      AND (a.before ->> 'user_id') IS DISTINCT FROM (a.after ->> 'user_id')) AS "former_customer_name?",
                  (SELECT p.name FROM products p WHERE p.id = (coalesce(a.after, a.before) ->> 'product_id')::BIGINT)
                      AS "product_name?",
                  '' AS "sort_key!"
             FROM audit_log a LEFT JOIN staff s ON s.id = a.staff_id
            WHERE a.change_set_id = $1 AND a.id > $2
            ORDER BY a.id LIMIT $3"#,
        id,
        after,
        limit
    )
    .fetch_all(conn)
    .await?)
}

/// Which set an audit entry is part of.
#[derive(Debug, Clone)]
pub struct Membership {
    pub entry_id: i64,
    pub set_id: i64,
    pub summary: String,
}

/// The sets the audit entries `entry_ids` are part of (one statement for a
/// whole page of entries).
pub async fn of_entries(conn: &mut PgConnection, entry_ids: &[i64]) -> Result<Vec<Membership>, DbError> {
    Ok(sqlx::query_as!(
        Membership,
        r#"SELECT a.id AS entry_id, c.id AS set_id, c.summary
             FROM audit_log a JOIN change_sets c ON c.id = a.change_set_id
            WHERE a.id = ANY($1)"#,
        entry_ids
    )
    .fetch_all(conn)
    .await?)
}
