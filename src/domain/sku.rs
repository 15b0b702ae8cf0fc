//! A product's stock-keeping unit: short, visible, without spaces.

use std::fmt;

/// A valid SKU (unique in any letter case, which the database enforces).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::Type, serde::Serialize)]
#[sqlx(transparent)]
#[serde(transparent)]
pub struct Sku(String);

impl Sku {
    /// Parses a typed SKU; the message says what to type instead.
    pub fn parse(raw: &str) -> Result<Sku, String> {
        let sku = super::parse_text(raw, 64, "a SKU")?;
        if sku.chars().any(char::is_whitespace) {
            return Err("A SKU can't contain spaces.".to_string());
        }
        Ok(Sku(sku))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Sku;

    #[test]
    fn skus_are_visible_and_have_no_spaces() {
        assert_eq!(Sku::parse(" MUG-1 ").map(|s| s.to_string()), Ok("MUG-1".into()));
        assert_eq!(Sku::parse("MUG 1"), Err("A SKU can't contain spaces.".into()));
        assert_eq!(Sku::parse(" "), Err("Enter a SKU.".into()));
    }
}
