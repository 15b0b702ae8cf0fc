//! What an export writes: its columns and typed cells, stated once for
//! every format, and CSV's rows with formulas neutralised.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::Money;

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

/// One column of an export: its header, and its width in an XLSX sheet
/// (in characters).
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub width: f64,
}

impl Column {
    pub const fn new(name: &'static str, width: f64) -> Column {
        Column { name, width }
    }
}

/// One cell of an export, typed: an XLSX sheet gets a number, a currency
/// amount or a date cell, a CSV file the plain text of each. An export job
/// keeps an XLSX file's rows as cells (serialised) until the last batch.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Cell {
    Number(i64),
    /// Written in units (dollars), not cents.
    Money(Money),
    Text(String),
    /// A moment, in UTC.
    Time(DateTime<Utc>),
    /// A calendar month, given by its first day.
    Month(NaiveDate),
}

impl Cell {
    /// The cell as CSV text: numbers plain, money as `1234.56`, times in
    /// RFC 3339, months as `2024-05`, text neutralised.
    fn csv(&self) -> Cow<'_, str> {
        match self {
            Cell::Number(n) => Cow::Owned(n.to_string()),
            Cell::Money(m) => Cow::Owned(m.decimal()),
            Cell::Text(text) => neutralise(text),
            Cell::Time(at) => Cow::Owned(at.to_rfc3339()),
            Cell::Month(month) => Cow::Owned(month.format("%Y-%m").to_string()),
        }
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Cell {
        Cell::Number(n)
    }
}

impl From<i32> for Cell {
    fn from(n: i32) -> Cell {
        Cell::Number(n.into())
    }
}

impl From<Money> for Cell {
    fn from(m: Money) -> Cell {
        Cell::Money(m)
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell::Text(text)
    }
}

impl From<DateTime<Utc>> for Cell {
    fn from(at: DateTime<Utc>) -> Cell {
        Cell::Time(at)
    }
}

/// One row of an export: its columns, stated once for every format, and
/// the row's cells in the same order.
pub trait Record: Send + 'static {
    const COLUMNS: &'static [Column];
    fn cells(self) -> Vec<Cell>;
}

/// Writes `records` as CSV rows.
pub fn write_csv_rows<R: Record>(records: Vec<R>, out: &mut Vec<u8>) -> Result<(), csv::Error> {
    write_csv_cells(records.into_iter().map(Record::cells), out)
}

/// Writes rows of cells as CSV rows.
pub fn write_csv_cells(rows: impl IntoIterator<Item = Vec<Cell>>, out: &mut Vec<u8>) -> Result<(), csv::Error> {
    let mut writer = csv::WriterBuilder::new().has_headers(false).flexible(true).from_writer(out);
    for cells in rows {
        writer.write_record(cells.iter().map(|cell| cell.csv().into_owned()))?;
    }
    writer.flush()?;
    Ok(())
}

/// Writes the header row of `columns`.
pub fn write_csv_header(columns: &[Column], out: &mut Vec<u8>) -> Result<(), csv::Error> {
    let mut writer = csv::WriterBuilder::new().has_headers(false).from_writer(out);
    writer.write_record(columns.iter().map(|c| c.name))?;
    writer.flush()?;
    Ok(())
}
