//! Lists written as files (CSV and XLSX): the cells of each row, the two
//! formats, and large exports run as jobs. It sits below the web layer, so a
//! download request and the job worker write a file the same way.

mod cells;
pub mod job;
mod records;
mod xlsx;

pub use cells::{neutralise, write_csv_cells, write_csv_header, write_csv_rows, Cell, Column, Record};
pub use records::{ExportList, OrderRecord, ProductRecord, UserRecord};
pub use xlsx::{write_xlsx, Batch, XlsxFailure, XLSX_MAX_ROWS};

/// The file type of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        [Format::Csv, Format::Xlsx].into_iter().find(|f| f.extension() == s)
    }
}
