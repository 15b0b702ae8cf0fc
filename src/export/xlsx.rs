//! Writing an export as one XLSX sheet in constant memory.

use std::io;

use super::cells::{Cell, Column};

/// The most data rows one XLSX sheet holds (1,048,576 rows less the header).
pub const XLSX_MAX_ROWS: u32 = 1_048_575;

/// What the XLSX writer is sent: rows of cells, then the word that all were read.
pub enum Batch {
    Rows(Vec<Vec<Cell>>),
    End,
}

/// Why an XLSX file was not written.
#[derive(Debug, thiserror::Error)]
pub enum XlsxFailure {
    #[error("the rows stopped before the end")]
    Abandoned,
    #[error("more rows than one sheet holds")]
    TooManyRows,
    #[error(transparent)]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// The cell formats of an XLSX export.
struct XlsxFormats {
    header: rust_xlsxwriter::Format,
    money: rust_xlsxwriter::Format,
    time: rust_xlsxwriter::Format,
    month: rust_xlsxwriter::Format,
}

impl XlsxFormats {
    fn new() -> XlsxFormats {
        use rust_xlsxwriter::Format as F;
        XlsxFormats {
            header: F::new().set_bold(),
            money: F::new().set_num_format("$#,##0.00;-$#,##0.00"),
            time: F::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
            month: F::new().set_num_format("yyyy-mm"),
        }
    }
}

/// Writes one XLSX sheet of `columns` from the batches `rows` receives, in
/// a blocking thread: the sheet keeps only its current row in memory, the
/// rest goes to a temporary file. Answers the finished workbook, or why not.
pub fn write_xlsx(
    columns: &[Column],
    mut rows: rocket::tokio::sync::mpsc::Receiver<Batch>,
) -> Result<std::fs::File, XlsxFailure> {
    use rust_xlsxwriter::Workbook;
    let formats = XlsxFormats::new();
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet_with_constant_memory()?;
    for (col, column) in (0u16..).zip(columns) {
        sheet.set_column_width(col, column.width)?;
        sheet.write_string_with_format(0, col, column.name, &formats.header)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    let mut row: u32 = 0;
    loop {
        match rows.blocking_recv() {
            Some(Batch::Rows(records)) => {
                for cells in records {
                    if row == XLSX_MAX_ROWS {
                        return Err(XlsxFailure::TooManyRows);
                    }
                    row += 1;
                    for (col, cell) in (0u16..).zip(cells) {
                        // Text only ever goes through write_string: a cell
                        // that looks like a formula stays text.
                        match cell {
                            Cell::Number(n) => sheet.write_number(row, col, n as f64)?,
                            Cell::Money(m) => {
                                sheet.write_number_with_format(row, col, m.cents() as f64 / 100.0, &formats.money)?
                            }
                            Cell::Text(text) => sheet.write_string(row, col, text)?,
                            Cell::Time(at) => {
                                sheet.write_datetime_with_format(row, col, at.naive_utc(), &formats.time)?
                            }
                            Cell::Month(month) => sheet.write_datetime_with_format(row, col, month, &formats.month)?,
                        };
                    }
                }
            }
            Some(Batch::End) => break,
            None => return Err(XlsxFailure::Abandoned),
        }
    }
    let mut file = tempfile::tempfile()?;
    workbook.save_to_writer(&mut file)?;
    Ok(file)
}
