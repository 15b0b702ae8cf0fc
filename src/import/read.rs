//! Reading an uploaded file into a header and rows of text cells: CSV in
//! UTF-8 (with or without a byte-order mark), UTF-16 or Windows-1252, with
//! commas, semicolons or tabs; or one worksheet of an XLSX workbook, whose
//! formula cells give the value Excel last calculated for them.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};

/// One row of the file: its number as a spreadsheet shows it (the header is
/// row 1) and its cells as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub line: u64,
    pub cells: Vec<String>,
}

impl Row {
    /// The cell in `column`, empty when the row is shorter.
    pub fn cell(&self, column: usize) -> &str {
        self.cells.get(column).map(String::as_str).unwrap_or("")
    }
}

/// A file as read: its header, its rows, what the reader had to assume, and
/// for a workbook its sheets and the one read.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Row>,
    /// Things the reader assumed that the person should know ("Columns are
    /// separated by semicolons.").
    pub notes: Vec<String>,
    /// A workbook's sheets; empty for CSV.
    pub sheets: Vec<String>,
    /// The sheet read, for a workbook.
    pub sheet: Option<String>,
}

/// Why a file cannot be imported at all, in a sentence that says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ReadError(pub String);

fn refuse<T>(message: &str) -> Result<T, ReadError> {
    Err(ReadError(message.to_string()))
}

/// Reads `bytes` (named `file_name`), from `sheet` if it is a workbook (its
/// first sheet when `None` or not found).
pub fn read(bytes: &[u8], file_name: &str, sheet: Option<&str>) -> Result<Table, ReadError> {
    if bytes.starts_with(b"PK\x03\x04") {
        return read_xlsx(bytes, sheet);
    }
    let lower = file_name.to_lowercase();
    if lower.ends_with(".xls") || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return refuse("This is an old Excel (.xls) file. Save it as an Excel workbook (.xlsx) or as CSV UTF-8, then upload it again.");
    }
    if lower.ends_with(".xlsx") {
        return refuse("This file could not be read as an Excel workbook (.xlsx). Save it again as .xlsx or as CSV UTF-8, then upload it again.");
    }
    read_csv(bytes)
}

/// The file's text, and a note when it was not UTF-8.
fn decode(bytes: &[u8]) -> (String, Option<String>) {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return (String::from_utf8_lossy(rest).into_owned(), None);
    }
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        let (text, _, _) = encoding_rs::UTF_16LE.decode(bytes);
        return (text.into_owned(), None);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_string(), None),
        Err(_) => {
            let (text, _, _) = encoding_rs::WINDOWS_1252.decode(bytes);
            (
                text.into_owned(),
                Some("The file is not UTF-8, so it was read as Windows-1252 (Western European). If letters look wrong below, save it as CSV UTF-8 and upload it again.".to_string()),
            )
        }
    }
}

/// The delimiter the header line uses most: comma, semicolon or tab
/// (outside quotes).
fn sniff_delimiter(text: &str) -> u8 {
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for c in text.bytes() {
        match c {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            _ if !quoted => {
                for (d, n) in counts.iter_mut() {
                    if *d == c {
                        *n += 1;
                    }
                }
            }
            _ => {}
        }
    }
    // The first of the most frequent wins, so a tie goes to the comma.
    counts.iter().fold((b',', 0), |best, &(d, n)| if n > best.1 { (d, n) } else { best }).0
}

fn read_csv(bytes: &[u8]) -> Result<Table, ReadError> {
    let (text, note) = decode(bytes);
    if text.trim_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}').is_empty() {
        return refuse("The file is empty: there is nothing to import. Choose the file with your rows in it.");
    }
    let delimiter = sniff_delimiter(&text);
    let mut table = Table { notes: note.into_iter().collect(), ..Table::default() };
    match delimiter {
        b';' => table.notes.push("Columns are separated by semicolons.".into()),
        b'\t' => table.notes.push("Columns are separated by tabs.".into()),
        _ => {}
    }
    let mut reader =
        csv::ReaderBuilder::new().delimiter(delimiter).has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    let mut header: Option<Vec<String>> = None;
    // The csv crate's own line numbers lag behind; count line ends up to
    // where each record starts instead (a row's number as an editor shows it).
    let (mut line, mut counted_to) = (1u64, 0usize);
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                return Err(ReadError(format!(
                    "A row after row {line} could not be read ({e}). Check its quotes, then upload the file again."
                )))
            }
        }
        // A record's position is where the previous one ended, before the
        // rest of its line end and any blank lines: skip those too.
        let mut start = record.position().map(|p| p.byte() as usize).unwrap_or(counted_to).min(text.len());
        start += text.as_bytes()[start..].iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
        if start > counted_to {
            line += text.as_bytes()[counted_to..start].iter().filter(|&&b| b == b'\n').count() as u64;
            counted_to = start;
        }
        let cells: Vec<String> = record.iter().map(str::to_string).collect();
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        match header {
            None => header = Some(cells.iter().map(|c| c.trim().to_string()).collect()),
            Some(_) => table.rows.push(Row { line, cells }),
        }
    }
    let header = header.unwrap_or_default();
    if header.len() == 1 && header[0].contains(['|', ':']) {
        return refuse("Only one column was found, so the columns seem to be separated by something other than commas, semicolons or tabs. Save the file as CSV (comma-separated) and upload it again.");
    }
    table.header = header;
    if table.rows.is_empty() {
        return refuse("The file has a header row but no rows below it: there is nothing to import.");
    }
    Ok(table)
}

/// A workbook cell as text: whole numbers without a decimal point, dates as
/// YYYY-MM-DD (with the time when it has one).
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(n) => n.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => format!("{f}"),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        Data::DateTime(d) => match d.as_datetime() {
            Some(t) if t.time() == chrono::NaiveTime::MIN => t.format("%Y-%m-%d").to_string(),
            Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
            None => cell.to_string(),
        },
        other => other.to_string(),
    }
}

fn read_xlsx(bytes: &[u8], sheet: Option<&str>) -> Result<Table, ReadError> {
    let unreadable = "This file could not be read as an Excel workbook (.xlsx). Save it again as .xlsx or as CSV UTF-8, then upload it again.";
    let mut workbook: Xlsx<_> = match calamine::open_workbook_from_rs(Cursor::new(bytes)) {
        Ok(workbook) => workbook,
        Err(_) => return refuse(unreadable),
    };
    let sheets = workbook.sheet_names();
    let Some(first) = sheets.first().cloned() else {
        return refuse("The workbook has no worksheets: there is nothing to import.");
    };
    let chosen = match sheet.filter(|s| sheets.iter().any(|n| n == s)) {
        Some(s) => s.to_string(),
        // Unchosen: the first sheet with rows to read (a workbook often
        // starts with a cover or notes sheet).
        None => sheets
            .iter()
            .find(|name| {
                workbook.worksheet_range(name).is_ok_and(|r| {
                    r.rows().filter(|row| row.iter().any(|c| !cell_text(c).trim().is_empty())).nth(1).is_some()
                })
            })
            .cloned()
            .unwrap_or(first),
    };
    let range = match workbook.worksheet_range(&chosen) {
        Ok(range) => range,
        Err(_) => return refuse(unreadable),
    };
    let mut table = Table { sheets: sheets.clone(), sheet: Some(chosen.clone()), ..Table::default() };
    if sheets.len() > 1 {
        table.notes.push(format!("The workbook has {} sheets; rows are read from “{chosen}”.", sheets.len()));
    }
    let first_row = range.start().map(|(r, _)| u64::from(r)).unwrap_or(0);
    let mut header: Option<Vec<String>> = None;
    for (i, cells) in range.rows().enumerate() {
        let cells: Vec<String> = cells.iter().map(cell_text).collect();
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        match header {
            None => header = Some(cells.iter().map(|c| c.trim().to_string()).collect()),
            Some(_) => table.rows.push(Row { line: first_row + i as u64 + 1, cells }),
        }
    }
    let Some(header) = header else {
        return refuse(&format!(
            "The sheet “{chosen}” is empty: there is nothing to import. Choose another sheet or file."
        ));
    };
    table.header = header;
    if table.rows.is_empty() {
        return refuse(&format!(
            "The sheet “{chosen}” has a header row but no rows below it: there is nothing to import."
        ));
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semicolons_bom_and_windows_line_ends_are_read() {
        let table = read(
            b"\xEF\xBB\xBFEmail;Name\r\nada@example.com;Ada\r\n\r\nbob@example.com;\"Bob; Jr\"\r\n",
            "a.csv",
            None,
        )
        .expect("readable");
        assert_eq!(table.header, vec!["Email", "Name"]);
        assert_eq!(table.rows.len(), 2);
        assert_eq!(table.rows[1].cells, vec!["bob@example.com", "Bob; Jr"]);
        assert_eq!(table.rows[1].line, 4);
        assert!(table.notes.iter().any(|n| n.contains("semicolons")));
    }

    #[test]
    fn windows_1252_is_decoded_with_a_note() {
        let table = read(b"name,email\nJos\xE9,jose@example.com\n", "a.csv", None).expect("readable");
        assert_eq!(table.rows[0].cells[0], "José");
        assert!(table.notes.iter().any(|n| n.contains("Windows-1252")));
    }

    #[test]
    fn empty_and_header_only_files_are_refused() {
        assert!(read(b"", "a.csv", None).unwrap_err().0.contains("empty"));
        assert!(read(b"\xEF\xBB\xBF\r\n  \n", "a.csv", None).unwrap_err().0.contains("empty"));
        assert!(read(b"email,name\r\n", "a.csv", None).unwrap_err().0.contains("no rows"));
        assert!(read(b"email|name\na|b\n", "a.csv", None).unwrap_err().0.contains("separated"));
        assert!(read(b"garbage", "a.xlsx", None).unwrap_err().0.contains(".xlsx"));
    }

    #[test]
    fn tabs_are_sniffed() {
        assert_eq!(sniff_delimiter("a\tb\tc\n1,2"), b'\t');
        assert_eq!(sniff_delimiter("\"a,b\";c;d\n"), b';');
        assert_eq!(sniff_delimiter("a\n"), b',');
    }
}
