//! Importing customers and products from a CSV or XLSX file: reading it
//! ([`read`]), mapping its columns to fields ([`mapping`]), checking each row
//! in the single-record forms' words ([`validate`]) and planning what a
//! commit changes ([`plan`]). Pure: no web, no database; the web pages and
//! the command line share it, and `db::imports` applies a plan.

pub mod mapping;
pub mod plan;
pub mod read;
pub mod validate;

pub use mapping::Mapping;
pub use plan::{Change, Existing, Plan, Updated};
pub use read::{ReadError, Row, Table};
pub use validate::{Checked, Invalid, Record};

/// The largest file the upload page takes, and the cap the database holds.
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;

/// The longest cell a mapped column may hold; longer ones are refused as a
/// field error rather than carried through the preview.
pub const MAX_CELL_CHARS: usize = 1000;

/// What an import creates or updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Customers,
    Products,
}

impl Target {
    /// The value kept in `imports.target` (and the list's path).
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Customers => "users",
            Target::Products => "products",
        }
    }

    pub fn parse(s: &str) -> Option<Target> {
        match s {
            "users" | "customers" => Some(Target::Customers),
            "products" => Some(Target::Products),
            _ => None,
        }
    }

    /// The fields a row of this target has, its key first.
    pub fn fields(self) -> &'static [Field] {
        match self {
            Target::Customers => &[Field::Email, Field::Name],
            Target::Products => &[Field::Sku, Field::Name, Field::Price, Field::Stock],
        }
    }

    /// The field rows are matched on (in any letter case).
    pub fn key(self) -> Field {
        self.fields()[0]
    }

    /// "customers" / "products".
    pub fn plural(self) -> &'static str {
        match self {
            Target::Customers => "customers",
            Target::Products => "products",
        }
    }

    /// "customer" / "product".
    pub fn singular(self) -> &'static str {
        match self {
            Target::Customers => "customer",
            Target::Products => "product",
        }
    }
}

/// One field a column can be mapped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    Email,
    Sku,
    Name,
    Price,
    Stock,
}

impl Field {
    /// The field's name in forms and in the stored mapping.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Email => "email",
            Field::Sku => "sku",
            Field::Name => "name",
            Field::Price => "price",
            Field::Stock => "stock",
        }
    }

    pub fn parse(s: &str) -> Option<Field> {
        [Field::Email, Field::Sku, Field::Name, Field::Price, Field::Stock].into_iter().find(|f| f.as_str() == s)
    }

    /// The field as the forms label it.
    pub fn label(self) -> &'static str {
        match self {
            Field::Email => "Email",
            Field::Sku => "SKU",
            Field::Name => "Name",
            Field::Price => "Price",
            Field::Stock => "Stock",
        }
    }
}

/// How many rows a summary sentence counts: "12 new, 3 updated", and the
/// rows left out for their errors, so nobody takes a partial import for a
/// whole one.
pub fn summary(file_name: &str, new: usize, updated: usize, not_imported: usize) -> String {
    let name: String = file_name.chars().take(200).collect();
    let digits = |n: usize| crate::domain::group_digits(n as u64);
    let mut sentence = format!("Imported {name}: {} new, {} updated", digits(new), digits(updated));
    match not_imported {
        0 => {}
        1 => sentence.push_str("; 1 row with errors not imported"),
        n => sentence.push_str(&format!("; {} rows with errors not imported", digits(n))),
    }
    sentence
}

/// The invalid rows as CSV, to fix and upload again: the file's header and
/// each row's cells as read, with an "errors" column added.
pub fn invalid_csv(table: &Table, invalid: &[Invalid]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
    let width = table.header.len();
    writer.write_record(table.header.iter().map(String::as_str).chain(["errors"]))?;
    for row in invalid {
        let cells = table.rows.get(row.index).map(|r| r.cells.as_slice()).unwrap_or_default();
        let padded = (0..width.max(cells.len())).map(|i| cells.get(i).map(String::as_str).unwrap_or(""));
        let sentence = row.sentence();
        writer.write_record(padded.take(width.max(1)).chain([sentence.as_str()]))?;
    }
    writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}
