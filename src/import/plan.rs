//! What committing a checked file would do, given the records its keys
//! match now: which rows are new, which update a record (and how), which
//! change nothing, and which cannot be imported.

use std::collections::HashMap;

use super::validate::{missing, Checked, Invalid, Record};
use super::{Field, Target};
use crate::domain::Money;

/// A record a row's key matches, as it is now. `price` and `stock` are
/// `None` for customers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub id: i64,
    pub version: i32,
    pub key: String,
    pub name: String,
    pub price: Option<Money>,
    pub stock: Option<i32>,
}

/// One field an import changes: its value before and after, as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub field: Field,
    pub before: String,
    pub after: String,
}

/// A row that updates a record: the record's id, the whole record as it
/// will be (the record's own values for fields the file leaves out), and
/// the fields that change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Updated {
    pub row: u64,
    pub id: i64,
    /// The record's version when planned: a later write applies only to it.
    pub version: i32,
    pub record: Record,
    pub changes: Vec<Change>,
}

/// The outcome of a dry run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub target: Target,
    pub new: Vec<Record>,
    pub updated: Vec<Updated>,
    pub unchanged: usize,
    pub invalid: Vec<Invalid>,
}

impl Plan {
    /// Rows in the file.
    pub fn rows(&self) -> usize {
        self.new.len() + self.updated.len() + self.unchanged + self.invalid.len()
    }

    /// The rows a commit writes, new ones first: key, name, price, stock.
    pub fn writes(&self) -> impl Iterator<Item = &Record> {
        self.new.iter().chain(self.updated.iter().map(|u| &u.record))
    }
}

fn change(field: Field, before: String, after: String) -> Option<Change> {
    (before != after).then_some(Change { field, before, after })
}

/// Sorts `checked` against the `existing` records its keys match (matched
/// ignoring letter case; the record keeps its own spelling of the key).
pub fn plan(target: Target, checked: Checked, existing: &[Existing]) -> Plan {
    let by_key: HashMap<String, &Existing> = existing.iter().map(|e| (e.key.to_lowercase(), e)).collect();
    let mut plan = Plan { target, new: Vec::new(), updated: Vec::new(), unchanged: 0, invalid: checked.invalid };
    for record in checked.valid {
        match by_key.get(&record.key.to_lowercase()) {
            Some(found) => {
                let merged = Record {
                    key: found.key.clone(),
                    name: Some(record.name.clone().unwrap_or_else(|| found.name.clone())),
                    price: record.price.or(found.price),
                    stock: record.stock.or(found.stock),
                    ..record.clone()
                };
                let changes: Vec<Change> = [
                    record.name.as_ref().and_then(|n| change(Field::Name, found.name.clone(), n.clone())),
                    record
                        .price
                        .and_then(|p| change(Field::Price, found.price.unwrap_or_default().to_string(), p.to_string())),
                    record
                        .stock
                        .and_then(|s| change(Field::Stock, found.stock.unwrap_or_default().to_string(), s.to_string())),
                ]
                .into_iter()
                .flatten()
                .collect();
                if changes.is_empty() {
                    plan.unchanged += 1;
                } else {
                    plan.updated.push(Updated {
                        row: record.row,
                        id: found.id,
                        version: found.version,
                        record: merged,
                        changes,
                    });
                }
            }
            None => {
                let errors: Vec<(Field, String)> = target
                    .fields()
                    .iter()
                    .skip(1)
                    .filter(|&&f| match f {
                        Field::Name => record.name.is_none(),
                        Field::Price => record.price.is_none(),
                        Field::Stock => record.stock.is_none(),
                        Field::Email | Field::Sku => false,
                    })
                    .map(|&f| (f, missing(target, f)))
                    .collect();
                if errors.is_empty() {
                    plan.new.push(record);
                } else {
                    plan.invalid.push(Invalid { row: record.row, index: record.index, key: record.key, errors });
                }
            }
        }
    }
    plan.invalid.sort_by_key(|i| i.row);
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::{read, validate, Mapping};

    #[test]
    fn rows_are_new_updated_unchanged_or_missing_a_field() {
        let table = read::read(b"SKU,Stock\nmug-1,5\nCUP-2,7\nnew-3,1\n", "p.csv", None).expect("readable");
        let mapping = Mapping::guess(Target::Products, &table.header);
        let checked = validate::check(Target::Products, &table, &mapping, &mut |_| {});
        let existing = vec![
            Existing {
                id: 1,
                version: 3,
                key: "MUG-1".into(),
                name: "Mug".into(),
                price: Some(Money::from_cents(500)),
                stock: Some(5),
            },
            Existing {
                id: 2,
                version: 1,
                key: "cup-2".into(),
                name: "Cup".into(),
                price: Some(Money::from_cents(300)),
                stock: Some(2),
            },
        ];
        let plan = plan(Target::Products, checked, &existing);
        assert_eq!(plan.unchanged, 1);
        assert_eq!(plan.updated.len(), 1);
        assert_eq!(plan.updated[0].record.key, "cup-2");
        assert_eq!(plan.updated[0].record.price, Some(Money::from_cents(300)));
        assert_eq!(
            plan.updated[0].changes,
            vec![Change { field: Field::Stock, before: "2".into(), after: "7".into() }]
        );
        assert!(plan.new.is_empty());
        assert_eq!(plan.invalid[0].row, 4);
        assert_eq!(plan.invalid[0].sentence(), "Name: Enter a product name. Price: Enter a price, like 12.50.");
    }
}
