//! Exports too large for one request, run as jobs by the worker. Each batch
//! reads the list's next rows in its sort order (keyset: after the last row
//! written, never one long query held open) and stores them as one chunk in
//! PostgreSQL, in one short transaction with the cursor, so any instance can
//! serve the download and a resumed job neither repeats nor skips a row. A
//! CSV file's chunks are the file itself; a workbook can only be compressed
//! once all its rows are known, so its rows are kept as cells until the last
//! batch, then written out (again from the start, after a restart).

use std::time::Duration;

use rocket::figment::Figment;
use rocket::tokio::io::{AsyncReadExt, AsyncSeekExt};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres};

use super::records::ExportList;
use super::{write_csv_cells, write_csv_header, write_xlsx, Batch, Cell, Column, Format, Record, XlsxFailure};
use crate::db::exports::{self, NewExport, Part};
use crate::db::jobs::Step;
use crate::db::listing::{self, Keyed, Position, Seek};
use crate::db::{orders, products, users, DbError};
use crate::domain::{group_digits, JobState};

/// A workbook is stored in pieces of this many bytes.
const PIECE: u64 = 1024 * 1024;

/// Expired files are looked for at most this often.
pub const PURGE_EVERY: Duration = Duration::from_secs(60);

/// What an export job's page says when its file could not be written.
pub const FAILED: &str = "The file could not be written, and what was written of it is deleted. \
                          The server log has the details; export the list again to retry.";

/// `[default.exports]` settings of export jobs.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// An export of more rows than this runs as a job.
    pub threshold_rows: i64,
    /// How long a finished file may be downloaded before it is deleted.
    pub keep_hours: f64,
}

impl JobSettings {
    /// `exports.job_threshold_rows` (by default the bulk actions'
    /// `jobs.threshold_rows`) and `exports.keep_hours` (24).
    pub fn from_figment(figment: &Figment) -> JobSettings {
        let int = |key: &str| figment.extract_inner::<i64>(key).ok().filter(|n| *n >= 0);
        let threshold = int("exports.job_threshold_rows").or_else(|| int("jobs.threshold_rows")).unwrap_or(10_000);
        let keep_hours = figment
            .extract_inner::<f64>("exports.keep_hours")
            .ok()
            .filter(|h| (0.0..=24.0 * 366.0).contains(h))
            .unwrap_or(24.0);
        JobSettings { threshold_rows: threshold, keep_hours }
    }
}

/// What an export job writes, as kept in `jobs.params`.
#[derive(Debug, Serialize, Deserialize)]
struct Spec {
    list: String,
    format: Format,
    sort: String,
    dir: String,
    filter: serde_json::Value,
}

/// Whether an export of list `L` matching `filter` is large enough to run as a job.
pub async fn is_large<L: ExportList>(
    conn: &mut sqlx::PgConnection,
    filter: &L::Filter,
    settings: &JobSettings,
) -> Result<bool, DbError> {
    exports::more_than::<L>(conn, filter, settings.threshold_rows).await
}

/// Queues an export of list `L` (the rows matching `filter`, in `seek`'s
/// sort) as `format`, asked for by `staff_id`; returns the job's id.
pub async fn queue<L: ExportList>(
    conn: &mut sqlx::PgConnection,
    staff_id: i64,
    (filter, seek): (&L::Filter, &Seek),
    format: Format,
) -> Result<i64, DbError> {
    let spec = Spec {
        list: L::NAME.to_string(),
        format,
        sort: seek.column.key.to_string(),
        dir: seek.dir.as_str().to_string(),
        filter: serde_json::to_value(filter).map_err(|e| DbError::Sqlx(sqlx::Error::Encode(e.into())))?,
    };
    let params = serde_json::to_value(&spec).map_err(|e| DbError::Sqlx(sqlx::Error::Encode(e.into())))?;
    let total = listing::count_matching::<L>(conn, filter).await?;
    let total = match total {
        listing::Count::Exact(n) | listing::Count::Estimate(n) => n,
    };
    let filename = format!("{}.{}", L::NAME, format.extension());
    let summary = format!(
        "Export {} as {} (about {} rows)",
        L::NAME,
        format.extension().to_uppercase(),
        group_digits(total.max(0) as u64)
    );
    exports::queue(
        conn,
        NewExport { staff_id, summary: &summary, params, total, format: format.extension(), filename: &filename },
    )
    .await
}

/// Why a step stopped short.
enum Stop {
    Db(DbError),
    /// The file cannot be written (unreadable parameters, too many rows for
    /// a sheet); the job fails with this reason.
    Broken(String),
}

impl From<DbError> for Stop {
    fn from(e: DbError) -> Stop {
        Stop::Db(e)
    }
}

impl From<sqlx::Error> for Stop {
    fn from(e: sqlx::Error) -> Stop {
        Stop::Db(e.into())
    }
}

fn broken(what: &str) -> impl Fn(&dyn std::fmt::Display) -> Stop + '_ {
    move |e| {
        tracing::error!(error = %e, "{what}");
        Stop::Broken(FAILED.to_string())
    }
}

/// Runs the next batch of export job `id`, claimed by `instance`: writes
/// `batch_rows` more rows, or, when none is left, completes the file.
pub async fn run_batch(
    pool: &PgPool,
    instance: &str,
    id: i64,
    settings: &JobSettings,
    batch_rows: i64,
) -> Result<Step, DbError> {
    match step(pool, instance, id, settings, batch_rows).await {
        Ok(step) => Ok(step),
        Err(Stop::Db(e)) => Err(e),
        Err(Stop::Broken(reason)) => {
            let mut conn = pool.acquire().await?;
            crate::db::jobs::fail(&mut conn, id, instance, &reason).await?;
            Ok(Step::Over(JobState::Failed))
        }
    }
}

async fn step(pool: &PgPool, instance: &str, id: i64, settings: &JobSettings, batch_rows: i64) -> Result<Step, Stop> {
    let mut conn = pool.acquire().await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let Some(locked) = exports::lock(&mut tx, id, instance).await? else {
        return Ok(Step::Lost);
    };
    if locked.cancel_requested {
        return Ok(exports::cancelled(tx, id).await?);
    }
    let spec: Spec = serde_json::from_value(locked.params.clone()).map_err(|e| broken("unreadable export")(&e))?;
    match spec.list.as_str() {
        products::List::NAME => {
            write_batch::<products::List>(pool, tx, (instance, id), &spec, &locked, settings, batch_rows).await
        }
        users::List::NAME => {
            write_batch::<users::List>(pool, tx, (instance, id), &spec, &locked, settings, batch_rows).await
        }
        orders::List::NAME => {
            write_batch::<orders::List>(pool, tx, (instance, id), &spec, &locked, settings, batch_rows).await
        }
        other => Err(broken("unknown list to export")(&other)),
    }
}

/// Writes the next batch of rows of list `L`, or completes the file.
async fn write_batch<L: ExportList>(
    pool: &PgPool,
    mut tx: sqlx::Transaction<'_, Postgres>,
    (instance, id): (&str, i64),
    spec: &Spec,
    locked: &exports::Locked,
    settings: &JobSettings,
    batch_rows: i64,
) -> Result<Step, Stop> {
    let filter: L::Filter =
        serde_json::from_value(spec.filter.clone()).map_err(|e| broken("unreadable export filter")(&e))?;
    let position = locked.after.clone().map_or(Position::First, Position::After);
    let seek = Seek::new(L::SORTS, Some(&spec.sort), Some(&spec.dir), position, batch_rows);
    let page = listing::search::<L>(&mut tx, &filter, &seek).await?;
    let more = page.next.is_some();
    let last = page.rows.last().map(Keyed::cursor);
    let rows = page.rows.len() as i64;
    let cells: Vec<Vec<Cell>> = page.rows.into_iter().map(|row| L::record(row).cells()).collect();
    let columns = <L::Record as Record>::COLUMNS;
    let chunk = match spec.format {
        Format::Csv => {
            let mut out = Vec::with_capacity(cells.len() * 100);
            // The header leads the first chunk, even of a file without rows.
            if locked.next_seq == 0 {
                write_csv_header(columns, &mut out).map_err(|e| broken("could not write CSV")(&e))?;
            }
            write_csv_cells(cells, &mut out).map_err(|e| broken("could not write CSV")(&e))?;
            (!out.is_empty()).then_some((Part::File, out))
        }
        Format::Xlsx if cells.is_empty() => None,
        Format::Xlsx => Some((Part::Rows, serde_json::to_vec(&cells).map_err(|e| broken("could not keep rows")(&e))?)),
    };
    if let Some((part, bytes)) = chunk {
        exports::append(&mut tx, id, (part, locked.next_seq), &bytes, last.as_ref(), rows).await?;
    }
    if more {
        tx.commit().await?;
        return Ok(Step::More);
    }
    match spec.format {
        Format::Csv => Ok(exports::complete(tx, id, settings.keep_hours).await?),
        Format::Xlsx => {
            tx.commit().await?;
            workbook(pool, (instance, id), columns, settings).await
        }
    }
}

/// Writes the workbook from the job's rows, and stores it in pieces; the
/// rows are dropped once the file is complete. A pooled connection is held
/// only for each statement, not while the workbook is compressed.
async fn workbook(
    pool: &PgPool,
    (instance, id): (&str, i64),
    columns: &'static [Column],
    settings: &JobSettings,
) -> Result<Step, Stop> {
    let chunks = {
        let mut conn = pool.acquire().await?;
        // A workbook begun before a restart is written again from the start.
        exports::clear(&mut conn, id, Part::File).await?;
        exports::chunk_count(&mut conn, id, Part::Rows).await?
    };
    let (rows, batches) = rocket::tokio::sync::mpsc::channel::<Batch>(4);
    let writer = rocket::tokio::task::spawn_blocking(move || write_xlsx(columns, batches));
    for seq in 0..chunks {
        let bytes = {
            let mut conn = pool.acquire().await?;
            if !exports::still_running(&mut conn, id, instance).await? {
                // Dropping `rows` without `End` makes the writer give up.
                drop(rows);
                let _ = writer.await;
                return interrupted(pool, (instance, id)).await;
            }
            exports::chunk(&mut conn, id, Part::Rows, seq).await?
        };
        let bytes = bytes.ok_or_else(|| broken("a chunk of rows is missing")(&seq))?;
        let cells: Vec<Vec<Cell>> = serde_json::from_slice(&bytes).map_err(|e| broken("unreadable rows")(&e))?;
        if rows.send(Batch::Rows(cells)).await.is_err() {
            // The writer stopped; its answer says why.
            break;
        }
    }
    let _ = rows.send(Batch::End).await;
    drop(rows);
    let file = match writer.await {
        Ok(Ok(file)) => file,
        Ok(Err(XlsxFailure::TooManyRows)) => {
            return Err(Stop::Broken(format!(
                "The list has more rows than one Excel sheet holds ({}). Filter the list, or export CSV.",
                group_digits(super::XLSX_MAX_ROWS.into())
            )))
        }
        Ok(Err(e)) => return Err(broken("could not write the workbook")(&e)),
        Err(e) => return Err(broken("could not write the workbook")(&e)),
    };
    let mut file = rocket::tokio::fs::File::from_std(file);
    file.rewind().await.map_err(|e| broken("could not read the workbook")(&e))?;
    let mut seq = 0;
    loop {
        let mut piece = Vec::with_capacity(PIECE as usize);
        (&mut file).take(PIECE).read_to_end(&mut piece).await.map_err(|e| broken("could not read the workbook")(&e))?;
        if piece.is_empty() {
            break;
        }
        let mut conn = pool.acquire().await?;
        if !exports::still_running(&mut conn, id, instance).await? {
            drop(conn);
            return interrupted(pool, (instance, id)).await;
        }
        exports::put(&mut conn, id, Part::File, seq, &piece).await?;
        seq += 1;
    }
    let mut conn = pool.acquire().await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    match exports::lock(&mut tx, id, instance).await? {
        None => Ok(Step::Lost),
        Some(locked) if locked.cancel_requested => Ok(exports::cancelled(tx, id).await?),
        Some(_) => Ok(exports::complete(tx, id, settings.keep_hours).await?),
    }
}

/// The job stopped being this instance's, or was asked to stop, while its
/// workbook was written: says which, ending it when cancelled.
async fn interrupted(pool: &PgPool, (instance, id): (&str, i64)) -> Result<Step, Stop> {
    let mut conn = pool.acquire().await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    match exports::lock(&mut tx, id, instance).await? {
        Some(locked) if locked.cancel_requested => Ok(exports::cancelled(tx, id).await?),
        _ => Ok(Step::Lost),
    }
}

/// Deletes the files that expired or whose job did not finish.
pub async fn purge(pool: &PgPool) {
    let purged = match pool.acquire().await {
        Ok(mut conn) => exports::purge(&mut conn, 20).await,
        Err(e) => Err(e.into()),
    };
    match purged {
        Ok(0) => {}
        Ok(n) => tracing::info!(files = n, "expired export files deleted"),
        Err(e) => tracing::warn!(error = %e, "could not delete expired export files"),
    }
}
