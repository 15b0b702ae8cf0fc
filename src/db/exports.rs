//! Export jobs' files: queued with the list's filter, written chunk by chunk
//! by the worker (each batch's chunk and cursor in one transaction, so a
//! resumed job neither repeats nor skips rows), read back chunk by chunk for
//! the download, and deleted when they expire.

use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::jobs::Step;
use super::listing::{Cursor, Listing};
use super::DbError;
use crate::domain::{JobKind, JobState};

/// Which bytes a chunk holds: the finished file's, or (for a workbook still
/// being written) serialised rows of cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Rows,
    File,
}

impl Part {
    fn as_str(self) -> &'static str {
        match self {
            Part::Rows => "rows",
            Part::File => "file",
        }
    }
}

/// Whether more than `n` rows of list `L` match `filter`: reads at most
/// `n + 1` of them, however many match.
pub async fn more_than<L: Listing>(conn: &mut PgConnection, filter: &L::Filter, n: i64) -> Result<bool, DbError> {
    let (table, alias) = L::COUNTED;
    let mut query: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("SELECT count(*) FROM (SELECT 1 FROM {table} {alias}"));
    L::push_filter(&mut query, filter);
    query.push(" LIMIT ").push_bind(n.saturating_add(1)).push(") matching");
    let (count,): (i64,) = query.build_query_as().fetch_one(conn).await?;
    Ok(count > n)
}

/// What an export job is to write.
pub struct NewExport<'a> {
    pub staff_id: i64,
    pub summary: &'a str,
    /// The list, its filter, sort and format, as the job reads them back.
    pub params: serde_json::Value,
    /// The rows expected (an estimate; the job counts what it writes).
    pub total: i64,
    pub format: &'a str,
    pub filename: &'a str,
}

/// Queues an export job; returns its id.
pub async fn queue(conn: &mut PgConnection, export: NewExport<'_>) -> Result<i64, DbError> {
    let mut tx = super::begin_as(conn, Some(export.staff_id)).await?;
    let id = sqlx::query_scalar!(
        "INSERT INTO jobs (kind, staff_id, summary, params, total) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        JobKind::Export.as_str(),
        export.staff_id,
        export.summary,
        export.params,
        export.total.max(0)
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO export_files (job_id, format, filename) VALUES ($1, $2, $3)",
        id,
        export.format,
        export.filename
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// An export job as its next batch finds it, locked.
pub struct Locked {
    pub cancel_requested: bool,
    pub params: serde_json::Value,
    /// The last row written, if any.
    pub after: Option<Cursor>,
    pub next_seq: i32,
}

/// Locks export job `id` for a batch, if `instance` still runs it.
pub async fn lock(conn: &mut PgConnection, id: i64, instance: &str) -> Result<Option<Locked>, DbError> {
    let row = sqlx::query!(
        r#"SELECT j.state AS "state: JobState", j.claimed_by, j.cancel_requested, j.params,
                  f.after_value, f.after_id, f.next_seq
             FROM jobs j JOIN export_files f ON f.job_id = j.id
            WHERE j.id = $1 FOR UPDATE OF j, f"#,
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.filter(|r| r.state == JobState::Running && r.claimed_by.as_deref() == Some(instance)).map(|r| Locked {
        cancel_requested: r.cancel_requested,
        params: r.params,
        after: match (r.after_value, r.after_id) {
            (Some(value), Some(id)) => Some(Cursor { value, id }),
            _ => None,
        },
        next_seq: r.next_seq,
    }))
}

/// Stores a batch's chunk (inside the batch's transaction), moves the
/// cursor past its last row and counts its `rows`.
pub async fn append(
    conn: &mut PgConnection,
    id: i64,
    (part, seq): (Part, i32),
    bytes: &[u8],
    after: Option<&Cursor>,
    rows: i64,
) -> Result<(), DbError> {
    put(&mut *conn, id, part, seq, bytes).await?;
    sqlx::query!(
        "UPDATE export_files SET next_seq = $2 + 1,
                after_value = coalesce($3, after_value), after_id = coalesce($4, after_id)
          WHERE job_id = $1",
        id,
        seq,
        after.map(|c| c.value.as_str()),
        after.map(|c| c.id)
    )
    .execute(&mut *conn)
    .await?;
    // Rows added since the job was queued are exported too: the total grows
    // with them, so the counts stay consistent.
    sqlx::query!(
        "UPDATE jobs SET done = done + $2, total = greatest(total, done + $2), heartbeat_at = now() WHERE id = $1",
        id,
        rows
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Completes an export job whose file is written: its length is recorded,
/// its intermediate rows are dropped, it may be downloaded for `keep_hours`,
/// and the job is done with the rows it wrote as its total.
pub async fn complete(mut tx: sqlx::Transaction<'_, Postgres>, id: i64, keep_hours: f64) -> Result<Step, DbError> {
    sqlx::query!("DELETE FROM export_chunks WHERE job_id = $1 AND part = 'rows'", id).execute(&mut *tx).await?;
    sqlx::query!(
        "UPDATE export_files
            SET size = (SELECT coalesce(sum(octet_length(bytes)), 0) FROM export_chunks WHERE job_id = $1),
                expires_at = now() + make_interval(secs => $2)
          WHERE job_id = $1",
        id,
        keep_hours * 3600.0
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("UPDATE jobs SET total = done WHERE id = $1", id).execute(&mut *tx).await?;
    super::jobs::finish(tx, id, JobState::Done).await
}

/// Ends an export job as cancelled, deleting what it wrote.
pub async fn cancelled(mut tx: sqlx::Transaction<'_, Postgres>, id: i64) -> Result<Step, DbError> {
    discard(&mut tx, id).await?;
    super::jobs::finish(tx, id, JobState::Cancelled).await
}

/// Deletes a file's chunks, and marks it deleted.
async fn discard(conn: &mut PgConnection, id: i64) -> Result<(), DbError> {
    sqlx::query!("DELETE FROM export_chunks WHERE job_id = $1", id).execute(&mut *conn).await?;
    sqlx::query!("UPDATE export_files SET deleted_at = now() WHERE job_id = $1", id).execute(&mut *conn).await?;
    Ok(())
}

/// Deletes the chunks of one `part` of a file (a workbook written again
/// from its rows after a restart starts from nothing).
pub async fn clear(conn: &mut PgConnection, id: i64, part: Part) -> Result<(), DbError> {
    sqlx::query!("DELETE FROM export_chunks WHERE job_id = $1 AND part = $2", id, part.as_str()).execute(conn).await?;
    Ok(())
}

/// How many chunks one `part` of a file has (numbered from 0).
pub async fn chunk_count(conn: &mut PgConnection, id: i64, part: Part) -> Result<i32, DbError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*)::INTEGER AS "n!" FROM export_chunks WHERE job_id = $1 AND part = $2"#,
        id,
        part.as_str()
    )
    .fetch_one(conn)
    .await?)
}

/// One chunk's bytes.
pub async fn chunk(conn: &mut PgConnection, id: i64, part: Part, seq: i32) -> Result<Option<Vec<u8>>, DbError> {
    Ok(sqlx::query_scalar!(
        "SELECT bytes FROM export_chunks WHERE job_id = $1 AND part = $2 AND seq = $3",
        id,
        part.as_str(),
        seq
    )
    .fetch_optional(conn)
    .await?)
}

/// Whether `instance` still runs job `id` (and it was not asked to stop);
/// beats its heart, so no other instance takes a long step over.
pub async fn still_running(conn: &mut PgConnection, id: i64, instance: &str) -> Result<bool, DbError> {
    let done = sqlx::query!(
        "UPDATE jobs SET heartbeat_at = now()
          WHERE id = $1 AND claimed_by = $2 AND state = 'running' AND NOT cancel_requested",
        id,
        instance
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Stores one chunk outside a batch (a workbook's file, piece by piece).
pub async fn put(conn: &mut PgConnection, id: i64, part: Part, seq: i32, bytes: &[u8]) -> Result<(), DbError> {
    sqlx::query!(
        "INSERT INTO export_chunks (job_id, part, seq, bytes) VALUES ($1, $2, $3, $4)",
        id,
        part.as_str(),
        seq,
        bytes
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// An export job's file as its download needs it.
#[derive(Debug, Clone)]
pub struct ExportFile {
    pub job_id: i64,
    pub staff_id: Option<i64>,
    pub state: JobState,
    pub format: String,
    pub filename: String,
    /// Set once the file is complete.
    pub size: Option<i64>,
    /// Whether it was deleted (expired, cancelled or failed).
    pub gone: bool,
    pub chunks: i32,
}

/// The file of export job `id`, if the job is an export.
pub async fn file(conn: &mut PgConnection, id: i64) -> Result<Option<ExportFile>, DbError> {
    Ok(sqlx::query_as!(
        ExportFile,
        r#"SELECT f.job_id, j.staff_id, j.state AS "state: JobState", f.format, f.filename, f.size,
                  (f.deleted_at IS NOT NULL OR coalesce(f.expires_at <= now(), false)) AS "gone!",
                  (SELECT count(*)::INTEGER FROM export_chunks c WHERE c.job_id = f.job_id AND c.part = 'file') AS "chunks!"
             FROM export_files f JOIN jobs j ON j.id = f.job_id
            WHERE f.job_id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?)
}

/// Deletes the files that expired, or whose job failed or was cancelled,
/// at most `limit` files at a time; returns how many.
pub async fn purge(conn: &mut PgConnection, limit: i64) -> Result<usize, DbError> {
    let ids = sqlx::query_scalar!(
        "SELECT f.job_id FROM export_files f JOIN jobs j ON j.id = f.job_id
          WHERE f.deleted_at IS NULL AND (f.expires_at <= now() OR j.state IN ('failed', 'cancelled'))
          ORDER BY f.job_id LIMIT $1",
        limit
    )
    .fetch_all(&mut *conn)
    .await?;
    for &id in &ids {
        // One file per transaction: a large file's chunks are many rows.
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        discard(&mut tx, id).await?;
        tx.commit().await?;
    }
    Ok(ids.len())
}
