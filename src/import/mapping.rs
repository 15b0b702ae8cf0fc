//! Which column of the file feeds which field: guessed from the headers
//! (ignoring letter case, spaces, punctuation and a unit in brackets, with
//! the usual synonyms), changed on the mapping page, kept as JSON.

use std::collections::BTreeMap;

use super::{Field, Target};

/// Field → column index. A field without a column keeps its value on
/// updated records (and new records need it, so they are refused).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapping(BTreeMap<Field, usize>);

/// A header reduced to what identifies it: "Price (EUR)" → "price",
/// "E-mail" → "email", "full_name" → "fullname".
fn normalise(header: &str) -> String {
    let without_unit = match header.find(['(', '[']) {
        Some(at) if at > 0 => &header[..at],
        _ => header,
    };
    without_unit.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// The headers each field is recognised by, already normalised.
fn synonyms(field: Field) -> &'static [&'static str] {
    match field {
        Field::Email => &["email", "emailaddress", "mail", "emailadres", "customeremail"],
        Field::Sku => {
            &["sku", "skucode", "productcode", "itemcode", "code", "articlenumber", "itemnumber", "partnumber"]
        }
        Field::Name => &[
            "name",
            "fullname",
            "customername",
            "customer",
            "productname",
            "product",
            "title",
            "itemname",
            "description",
        ],
        Field::Price => &["price", "unitprice", "priceeach", "amount", "saleprice", "retailprice", "cost"],
        Field::Stock => &["stock", "qty", "quantity", "stocklevel", "instock", "onhand", "inventory", "available"],
    }
}

impl Mapping {
    /// The mapping guessed from `header`: each field takes the first column
    /// whose header is one of its synonyms, earlier synonyms first.
    pub fn guess(target: Target, header: &[String]) -> Mapping {
        let normalised: Vec<String> = header.iter().map(|h| normalise(h)).collect();
        let mut mapping = Mapping::default();
        for &field in target.fields() {
            let found = synonyms(field).iter().find_map(|s| {
                normalised.iter().enumerate().position(|(i, h)| h == s && !mapping.0.values().any(|&c| c == i))
            });
            if let Some(column) = found {
                mapping.0.insert(field, column);
            }
        }
        mapping
    }

    /// The column of `field`, if mapped.
    pub fn column(&self, field: Field) -> Option<usize> {
        self.0.get(&field).copied()
    }

    pub fn set(&mut self, field: Field, column: Option<usize>) {
        match column {
            Some(c) => self.0.insert(field, c),
            None => self.0.remove(&field),
        };
    }

    /// Why this mapping cannot be used for `target` on a file with
    /// `columns` columns, if it cannot.
    pub fn problem(&self, target: Target, columns: usize) -> Option<String> {
        let key = target.key();
        if self.column(key).is_none() {
            return Some(format!(
                "Choose the column that holds each {}’s {} (rows are matched on it).",
                target.singular(),
                key.label()
            ));
        }
        if self.0.values().any(|&c| c >= columns) {
            return Some("A chosen column is not in this file; choose the columns again.".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        if self.0.values().any(|c| !seen.insert(*c)) {
            return Some("Each column can feed only one field; choose a different column for one of them.".into());
        }
        None
    }

    /// As stored in `imports.mapping`: `{"email": 0, "name": 2}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(self.0.iter().map(|(f, c)| (f.as_str().to_string(), (*c).into())).collect())
    }

    /// Read back from [`Mapping::to_json`]; anything unknown is dropped.
    pub fn from_json(value: &serde_json::Value) -> Mapping {
        let mut mapping = Mapping::default();
        if let Some(object) = value.as_object() {
            for (name, column) in object {
                if let (Some(field), Some(column)) = (Field::parse(name), column.as_u64()) {
                    mapping.0.insert(field, column as usize);
                }
            }
        }
        mapping
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn common_headers_are_recognised() {
        let m = Mapping::guess(Target::Customers, &header(&["Full name", "E-mail", "Phone"]));
        assert_eq!((m.column(Field::Email), m.column(Field::Name)), (Some(1), Some(0)));
        let m = Mapping::guess(Target::Products, &header(&["Qty", "Price (EUR)", "Product_Name", "SKU"]));
        assert_eq!(m.column(Field::Sku), Some(3));
        assert_eq!(m.column(Field::Price), Some(1));
        assert_eq!(m.column(Field::Stock), Some(0));
        assert_eq!(m.column(Field::Name), Some(2));
    }

    #[test]
    fn the_key_is_required_and_columns_are_not_shared() {
        let m = Mapping::guess(Target::Customers, &header(&["Name"]));
        assert!(m.problem(Target::Customers, 1).is_some_and(|p| p.contains("Email")));
        let mut m = Mapping::default();
        m.set(Field::Email, Some(0));
        m.set(Field::Name, Some(0));
        assert!(m.problem(Target::Customers, 2).is_some_and(|p| p.contains("only one field")));
        assert_eq!(Mapping::from_json(&m.to_json()), m);
    }
}
