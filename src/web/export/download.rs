//! Exports too large for one request: the request queues a job (see
//! `crate::export::job`) and goes to its progress page; the finished file is
//! downloaded from there, by the staff member who asked for it or an admin.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::StreamExt;
use rocket::http::Header;
use rocket::response::stream::ReaderStream;
use rocket::response::{self, Flash, Redirect, Responder, Response};
use rocket::tokio::io::{AsyncRead, ReadBuf};
use rocket::{get, routes, Request, State};

use super::{content_type, Download, ExportFile, ExportSlot, Exports};
use crate::db::exports::{self, Part};
use crate::db::staff::Staff;
use crate::db::Db;
use crate::domain::JobState;
use crate::export::job;
use crate::export::{ExportList, Format};
use crate::web::listing::{self as list_view, Paging};
use crate::web::{done, AppError};

/// What asking for an export answers: the file, or (for a large export)
/// the way to the progress page of the job that writes it.
#[derive(Responder)]
pub enum ExportAnswer {
    File(ExportFile),
    Queued(Flash<Redirect>),
}

/// Exports list `L` (the rows matching `filter`, in `paging`'s sort) as
/// `format`: at once, or as a job when more rows match than
/// `[exports] job_threshold_rows`. The caller holds the download slot and
/// its connection (see [`Exports::open`]).
pub async fn export_list<L: ExportList>(
    db: &crate::db::Db,
    exports: &Exports,
    staff: &Staff,
    (slot, mut conn): (ExportSlot, sqlx::pool::PoolConnection<sqlx::Postgres>),
    (filter, paging): (L::Filter, Paging),
    format: Format,
) -> Result<ExportAnswer, AppError> {
    if job::is_large::<L>(&mut conn, &filter, &exports.jobs).await? {
        // Queuing takes moments; the slot is for files written here. The
        // rows were counted where the list is read (a replica's connection,
        // perhaps); the job is queued on the primary.
        drop((slot, conn));
        let seek = paging.seek(L::SORTS, crate::web::PAGE_SIZE).from_start();
        let mut primary = db.conn().await?;
        let id = job::queue::<L>(&mut primary, staff.id, (&filter, &seek), format).await?;
        return Ok(ExportAnswer::Queued(done(
            crate::web::jobs::progress_uri(id),
            "This export is large, so it is written in the background. A Download button appears here when it is ready.",
        )));
    }
    let file = list_view::export::<L, _>(exports, (slot, conn), (filter, paging), format, L::NAME, L::record).await?;
    Ok(ExportAnswer::File(file))
}

/// A finished export job's file, sent chunk by chunk.
pub struct JobFile {
    format: Format,
    filename: String,
    size: u64,
    body: Pin<Box<dyn AsyncRead + Send>>,
    download_timeout: Duration,
}

impl<'r> Responder<'r, 'static> for JobFile {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let body = Download::watch(self.body, self.download_timeout);
        Response::build()
            .header(content_type(self.format))
            .header(Header::new("Content-Disposition", format!("attachment; filename=\"{}\"", self.filename)))
            .header(Header::new("Content-Length", self.size.to_string()))
            .streamed_body(body)
            .ok()
    }
}

/// One chunk of a file as the body reads it, or the read that failed.
enum Piece {
    Bytes(io::Cursor<Vec<u8>>),
    Failed,
}

impl AsyncRead for Piece {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Piece::Bytes(bytes) => Pin::new(bytes).poll_read(cx, buf),
            // Ends the response short of its length: the browser reports a
            // failed download rather than keeping a truncated file.
            Piece::Failed => Poll::Ready(Err(io::Error::other("a chunk of the file could not be read"))),
        }
    }
}

#[get("/jobs/<id>/download")]
async fn download(staff: Staff, db: &Db, exports: &State<Exports>, id: i64) -> Result<JobFile, AppError> {
    let file = {
        let mut conn = db.conn().await?;
        exports::file(&mut conn, id).await?
    };
    let file = file.ok_or(AppError::NotFound)?;
    // Only the staff member who asked for it, or an admin, may have the
    // file; to anyone else it does not exist.
    if file.staff_id != Some(staff.id) && !staff.is_admin() {
        return Err(AppError::NotFound);
    }
    let (Some(size), false, JobState::Done) = (file.size, file.gone, file.state) else {
        return Err(AppError::BadRequest(
            "This file is not available: it is still being written, its job did not finish, or it was deleted \
             after the time files are kept. Export the list again from its page."
                .into(),
        ));
    };
    let format = Format::parse(&file.format)
        .ok_or_else(|| AppError::internal("an export file of unknown format", file.format.clone()))?;
    let pool: sqlx::PgPool = (***db).clone();
    let chunks = futures::stream::iter(0..file.chunks).then(move |seq| {
        let pool = pool.clone();
        async move {
            // A connection per chunk, returned before the chunk is sent: a
            // slow client holds none.
            let read = match pool.acquire().await {
                Ok(mut conn) => exports::chunk(&mut conn, id, Part::File, seq).await,
                Err(e) => Err(e.into()),
            };
            match read {
                Ok(Some(bytes)) => Piece::Bytes(io::Cursor::new(bytes)),
                Ok(None) => {
                    tracing::error!(job = id, seq, "a chunk of an export file is missing");
                    Piece::Failed
                }
                Err(e) => {
                    tracing::error!(job = id, seq, error = %e, "could not read a chunk of an export file");
                    Piece::Failed
                }
            }
        }
    });
    Ok(JobFile {
        format,
        filename: file.filename,
        size: u64::try_from(size).unwrap_or(0),
        body: Box::pin(ReaderStream::from(chunks)),
        download_timeout: exports.download_timeout,
    })
}

/// Mounts the download of export jobs' files.
pub fn stage() -> rocket::fairing::AdHoc {
    super::super::stage("Export files", routes![download])
}
