//! CSV downloads of every list and report. Rows stream from the database
//! through the `csv` writer to the browser in chunks, so a million-row export
//! neither buffers everything in memory nor waits for the last row to start.

use futures::{Stream, StreamExt};
use rocket::http::{ContentType, Header};
use rocket::response::stream::ByteStream;
use rocket::response::{self, Responder};
use rocket::Request;
use serde::Serialize;

/// Rows written per chunk sent to the browser.
const CHUNK: usize = 500;

/// A CSV file download built from a stream of records.
pub struct Csv {
    filename: String,
    body: std::pin::Pin<Box<dyn Stream<Item = Vec<u8>> + Send>>,
}

impl Csv {
    /// `header` names the columns; each record serialises to one row.
    pub fn new<R, E, S>(filename: &str, header: &'static [&'static str], records: S) -> Csv
    where
        R: Serialize + Send + 'static,
        E: std::fmt::Display + Send + 'static,
        S: Stream<Item = Result<R, E>> + Send + 'static,
    {
        let mut first = csv::Writer::from_writer(Vec::new());
        let head = first.write_record(header).ok().and_then(|_| first.into_inner().ok()).unwrap_or_default();
        let rows = records.chunks(CHUNK).map(|chunk| {
            let mut writer =
                csv::WriterBuilder::new().has_headers(false).from_writer(Vec::with_capacity(chunk.len() * 80));
            for record in chunk {
                match record {
                    Ok(record) => {
                        if let Err(e) = writer.serialize(record) {
                            tracing::error!(error = %e, "could not write a CSV row");
                        }
                    }
                    // The status line is already sent: log, and end the file here.
                    Err(e) => tracing::error!(error = %e, "CSV export stopped early"),
                }
            }
            writer.into_inner().unwrap_or_default()
        });
        Csv { filename: filename.to_string(), body: Box::pin(futures::stream::once(async move { head }).chain(rows)) }
    }
}

impl<'r> Responder<'r, 'r> for Csv {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'r> {
        let mut response = ByteStream(self.body).respond_to(request)?;
        response.set_header(ContentType::new("text", "csv").with_params(("charset", "utf-8")));
        response.set_header(Header::new("Content-Disposition", format!("attachment; filename=\"{}\"", self.filename)));
        Ok(response)
    }
}

/// Cents as a plain decimal for spreadsheets: `123456` → `1234.56`.
pub fn decimal(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.unsigned_abs() / 100, cents.unsigned_abs() % 100)
}
