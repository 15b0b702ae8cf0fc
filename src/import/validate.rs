//! Checking each row of a file with the single-record forms' parsers (and so
//! in their words), and refusing keys that appear on more than one row.

use std::collections::HashMap;

use super::{Field, Mapping, Table, Target, MAX_CELL_CHARS};
use crate::domain::parse_count;
use crate::domain::{parse_text, Email, Money, Sku};

/// A row whose mapped cells all parsed. A field is `None` when no column
/// feeds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The row's number in the file.
    pub row: u64,
    /// The row's index in [`Table::rows`].
    pub index: usize,
    /// The email or SKU, as typed (trimmed).
    pub key: String,
    pub name: Option<String>,
    pub price: Option<Money>,
    pub stock: Option<i32>,
}

/// A row that cannot be imported, with each field's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub row: u64,
    pub index: usize,
    /// The email or SKU when it parsed, else empty.
    pub key: String,
    pub errors: Vec<(Field, String)>,
}

impl Invalid {
    /// Every error, as one line: "Email: Enter an email address. Name: …".
    pub fn sentence(&self) -> String {
        self.errors.iter().map(|(f, e)| format!("{}: {e}", f.label())).collect::<Vec<_>>().join(" ")
    }
}

/// The rows of a file sorted into those that parsed and those that did not.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    pub valid: Vec<Record>,
    pub invalid: Vec<Invalid>,
}

/// The error for a field left out of the file that a new record needs:
/// the form's own message for an empty field.
pub fn missing(target: Target, field: Field) -> String {
    parse(target, field, "").err().unwrap_or_else(|| format!("Enter the {}.", field.label()))
}

/// What a field's cell holds, parsed as its form parses it.
enum Value {
    Key(String),
    Name(String),
    Price(Money),
    Stock(i32),
}

fn parse(target: Target, field: Field, cell: &str) -> Result<Value, String> {
    if cell.chars().count() > MAX_CELL_CHARS {
        return Err(format!(
            "This cell is longer than {} characters; shorten it.",
            crate::domain::group_digits(MAX_CELL_CHARS as u64)
        ));
    }
    if cell.trim_start().starts_with('=') {
        return Err("This cell holds a formula (it starts with “=”); put its value in the file instead.".into());
    }
    match field {
        Field::Email => Email::parse(cell).map(|e| Value::Key(e.to_string())).map_err(str::to_string),
        Field::Sku => Sku::parse(cell).map(|s| Value::Key(s.to_string())),
        Field::Name => {
            let what = if target == Target::Customers { "a name" } else { "a product name" };
            parse_text(cell, 200, what).map(Value::Name)
        }
        Field::Price => Money::parse(cell).map(Value::Price).map_err(str::to_string),
        Field::Stock => parse_count(cell, 0, "stock").map(Value::Stock),
    }
}

/// Checks every row of `table` under `mapping` (which must have the key
/// mapped), calling `progress` with the rows done so far now and then.
pub fn check(target: Target, table: &Table, mapping: &Mapping, progress: &mut dyn FnMut(usize)) -> Checked {
    let mut checked = Checked::default();
    // Lower-cased key → the rows it is on, for rows whose key parsed.
    let mut rows_of_key: HashMap<String, Vec<u64>> = HashMap::new();
    for (index, row) in table.rows.iter().enumerate() {
        if index % 4096 == 0 {
            progress(index);
        }
        let mut record = Record { row: row.line, index, key: String::new(), name: None, price: None, stock: None };
        let mut errors = Vec::new();
        for &field in target.fields() {
            let Some(column) = mapping.column(field) else { continue };
            match parse(target, field, row.cell(column)) {
                Ok(Value::Key(key)) => record.key = key,
                Ok(Value::Name(name)) => record.name = Some(name),
                Ok(Value::Price(price)) => record.price = Some(price),
                Ok(Value::Stock(stock)) => record.stock = Some(stock),
                Err(message) => errors.push((field, message)),
            }
        }
        if !record.key.is_empty() {
            rows_of_key.entry(record.key.to_lowercase()).or_default().push(row.line);
        }
        if errors.is_empty() {
            checked.valid.push(record);
        } else {
            checked.invalid.push(Invalid { row: row.line, index, key: record.key, errors });
        }
    }
    progress(table.rows.len());
    refuse_duplicates(target, &mut checked, &rows_of_key);
    checked
}

/// Every row whose key is also on another row is refused, naming that row:
/// which of them is meant is for the person to say.
fn refuse_duplicates(target: Target, checked: &mut Checked, rows_of_key: &HashMap<String, Vec<u64>>) {
    let key = target.key();
    let noun = if key == Field::Email { "email" } else { "SKU" };
    let other = |key_text: &str, line: u64| -> Option<u64> {
        let lines = rows_of_key.get(&key_text.to_lowercase())?;
        (lines.len() > 1).then(|| lines.iter().copied().find(|&l| l != line).unwrap_or(line))
    };
    let message = |n: u64| format!("This {noun} is also on row {n}; keep one of the rows.");
    let mut still_valid = Vec::with_capacity(checked.valid.len());
    for record in std::mem::take(&mut checked.valid) {
        match other(&record.key, record.row) {
            Some(n) => checked.invalid.push(Invalid {
                row: record.row,
                index: record.index,
                key: record.key.clone(),
                errors: vec![(key, message(n))],
            }),
            None => still_valid.push(record),
        }
    }
    checked.valid = still_valid;
    for invalid in &mut checked.invalid {
        if invalid.key.is_empty() || invalid.errors.iter().any(|(f, _)| *f == key) {
            continue;
        }
        if let Some(n) = other(&invalid.key, invalid.row) {
            invalid.errors.insert(0, (key, message(n)));
        }
    }
    checked.invalid.sort_by_key(|i| i.row);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::{read, Mapping};

    fn checked(target: Target, csv: &str) -> Checked {
        let table = read::read(csv.as_bytes(), "t.csv", None).expect("readable");
        let mapping = Mapping::guess(target, &table.header);
        check(target, &table, &mapping, &mut |_| {})
    }

    #[test]
    fn errors_are_the_forms_words() {
        let c = checked(Target::Products, "sku,name,price,stock\nA 1,,abc,-1\nB-2,Mug,=1+1,3\n");
        assert!(c.valid.is_empty());
        assert_eq!(c.invalid[0].row, 2);
        assert_eq!(
            c.invalid[0].errors,
            vec![
                (Field::Sku, "A SKU can't contain spaces.".to_string()),
                (Field::Name, "Enter a product name.".to_string()),
                (Field::Price, "Enter a price as a number, like 12.50.".to_string()),
                (Field::Stock, "The stock can't be negative.".to_string()),
            ]
        );
        assert!(c.invalid[1].errors[0].1.contains("formula"));
    }

    #[test]
    fn duplicate_keys_name_each_other_in_any_case() {
        let c = checked(Target::Customers, "email,name\nada@example.com,Ada\nbob@example.com,Bob\nADA@example.com,\n");
        assert_eq!(c.valid.len(), 1);
        assert_eq!(c.invalid.len(), 2);
        assert_eq!(c.invalid[0].errors[0].1, "This email is also on row 4; keep one of the rows.");
        assert_eq!(c.invalid[1].errors[0].1, "This email is also on row 2; keep one of the rows.");
        assert_eq!(c.invalid[1].errors[1].1, "Enter a name.");
        assert_eq!(missing(Target::Products, Field::Stock), "Enter the stock.");
    }

    #[test]
    fn huge_cells_are_refused() {
        let c = checked(Target::Customers, &format!("email,name\nada@example.com,{}\n", "x".repeat(1001)));
        assert!(c.invalid[0].errors[0].1.contains("longer than 1,000"));
    }
}
