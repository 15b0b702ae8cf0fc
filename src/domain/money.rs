//! Money: integer cents end to end, parsed from what people type and
//! written in one place, as dollars on pages and as a plain decimal in
//! form fields and spreadsheets.

use std::fmt;

/// An amount in cents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, sqlx::Type)]
#[sqlx(transparent)]
pub struct Money(i64);

impl Money {
    /// The largest price accepted: $10,000,000.00.
    pub const MAX_PRICE: Money = Money(1_000_000_000);

    pub const fn from_cents(cents: i64) -> Money {
        Money(cents)
    }

    pub const fn cents(self) -> i64 {
        self.0
    }

    /// Parses an amount such as `12`, `12.5`, `$1,234.50`; the message says
    /// what to type instead.
    pub fn parse(raw: &str) -> Result<Money, &'static str> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("Enter a price, like 12.50.");
        }
        let s = s.strip_prefix('$').unwrap_or(s).trim();
        if s.starts_with('-') {
            return Err("The price can't be negative.");
        }
        let s: String = s.chars().filter(|c| *c != ',').collect();
        let (whole, frac) = match s.split_once('.') {
            Some((w, f)) => (w, f),
            None => (s.as_str(), ""),
        };
        let digits_only = |t: &str| t.chars().all(|c| c.is_ascii_digit());
        if (whole.is_empty() && frac.is_empty()) || !digits_only(whole) || !digits_only(frac) {
            return Err("Enter a price as a number, like 12.50.");
        }
        if frac.len() > 2 {
            return Err("Use at most two digits after the decimal point.");
        }
        let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| "That price is too large.")? };
        let cents: i64 = format!("{frac:0<2}").parse().unwrap_or(0);
        whole
            .checked_mul(100)
            .and_then(|c| c.checked_add(cents))
            .filter(|c| *c <= Money::MAX_PRICE.0)
            .map(Money)
            .ok_or("That price is too large (at most $10,000,000.00).")
    }

    /// A plain decimal, for form fields and spreadsheets: `123456` → `1234.56`.
    pub fn decimal(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        format!("{sign}{}.{:02}", self.0.unsigned_abs() / 100, self.0.unsigned_abs() % 100)
    }
}

impl From<i64> for Money {
    fn from(cents: i64) -> Money {
        Money(cents)
    }
}

/// US dollars with thousands separators: `123456` → `$1,234.56`.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}${}.{:02}", super::group_digits(abs / 100), abs % 100)
    }
}

/// In a CSV export, the plain decimal a spreadsheet reads as a number.
impl serde::Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.decimal())
    }
}

/// Reads back what [`Money`]'s `Serialize` writes (`-1234.56`): an amount
/// kept with an export job, for one.
impl<'de> serde::Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Money, D::Error> {
        let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
        let unsigned = text.strip_prefix('-').unwrap_or(&text);
        let (whole, cents) = unsigned.split_once('.').unwrap_or((unsigned, "00"));
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        let amount = (digits(whole) && cents.len() == 2 && digits(cents))
            .then(|| whole.parse::<i64>().ok()?.checked_mul(100)?.checked_add(cents.parse::<i64>().ok()?))
            .flatten()
            .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not an amount like 12.50")))?;
        Ok(Money(if text.starts_with('-') { -amount } else { amount }))
    }
}

#[cfg(test)]
mod tests {
    use super::Money;

    #[test]
    fn amounts_read_back_as_written() {
        for cents in [0, 5, 1250, -1250, 123_456_789] {
            let written = serde_json::to_value(Money(cents)).expect("an amount serialises");
            assert_eq!(serde_json::from_value::<Money>(written).ok(), Some(Money(cents)));
        }
        assert!(serde_json::from_value::<Money>(serde_json::json!("1.5")).is_err());
    }

    #[test]
    fn money_is_grouped_and_has_cents() {
        let shown = |cents: i64| Money(cents).to_string();
        assert_eq!(shown(0), "$0.00");
        assert_eq!(shown(5), "$0.05");
        assert_eq!(shown(123456), "$1,234.56");
        assert_eq!(shown(100_000_000), "$1,000,000.00");
        assert_eq!(shown(-250), "-$2.50");
        assert_eq!(Money(-1250).decimal(), "-12.50");
        assert_eq!(Money(-50).decimal(), "-0.50");
        assert_eq!(Money(1250).decimal(), "12.50");
    }

    #[test]
    fn money_accepts_what_people_type() {
        let parsed = |raw: &str| Money::parse(raw).map(Money::cents);
        assert_eq!(parsed("12"), Ok(1200));
        assert_eq!(parsed(" 12.5 "), Ok(1250));
        assert_eq!(parsed("$1,234.56"), Ok(123456));
        assert_eq!(parsed(".99"), Ok(99));
        assert_eq!(parsed("0"), Ok(0));
    }

    #[test]
    fn money_refuses_nonsense_with_a_reason() {
        assert_eq!(Money::parse("-1"), Err("The price can't be negative."));
        for bad in ["", "abc", "1.234", "1e5", "99999999999999999999999", "10000000.01", "."] {
            assert!(Money::parse(bad).is_err(), "{bad}");
        }
    }
}
