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
    sqlx::query_scalar!("SELECT set_config('shopdesk.change_set', $1, true)", id.to_string())
        .fetch_one(&mut *tx)
        .await?;
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

/// Opens a new set of `kind`, or joins `existing` (see [`join`]); returns
/// the set's id.
pub async fn open_or_join(
    tx: &mut PgConnection,
    existing: Option<i64>,
    kind: Kind,
    summary: &str,
) -> Result<i64, DbError> {
    match existing {
        Some(id) => join(tx, id).await.map(|()| id),
        None => open(tx, kind, summary, None).await,
    }
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
