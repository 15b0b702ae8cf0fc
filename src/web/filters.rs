//! Template filters: money and time are formatted here and nowhere else.

use askama::Values;
use chrono::{DateTime, Utc};

/// Formats integer cents as US dollars: `123456` → `$1,234.56`.
pub fn format_money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}${}.{:02}", group_digits(abs / 100), abs % 100)
}

/// A count with thousands separators, sign included.
pub fn format_count(n: i64) -> String {
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", group_digits(n.unsigned_abs()))
}

/// A count with its noun: `1 order`, `1,204 orders`.
pub fn counted(n: i64, one: &str, many: &str) -> String {
    format!("{} {}", format_count(n), if n == 1 { one } else { many })
}

/// Writes a number with thousands separators: `1234567` → `1,234,567`.
fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    grouped
}

#[askama::filter_fn]
pub fn money(cents: &i64, _: &dyn Values) -> askama::Result<String> {
    Ok(format_money(*cents))
}

/// Cents as a plain decimal for a form field: `1250` → `12.50`.
#[askama::filter_fn]
pub fn decimal(cents: &i64, _: &dyn Values) -> askama::Result<String> {
    Ok(format!("{}.{:02}", cents / 100, (cents % 100).abs()))
}

#[askama::filter_fn]
pub fn datetime(at: &DateTime<Utc>, _: &dyn Values) -> askama::Result<String> {
    Ok(at.format("%b %-d, %Y %H:%M UTC").to_string())
}

#[askama::filter_fn]
pub fn date(at: &DateTime<Utc>, _: &dyn Values) -> askama::Result<String> {
    Ok(at.format("%b %-d, %Y").to_string())
}

/// Thousands separators for counts: `12345` → `12,345`.
#[askama::filter_fn]
pub fn count(n: &i64, _: &dyn Values) -> askama::Result<String> {
    Ok(format_count(*n))
}

/// An order status as people read it: `pending` → `Pending`.
#[askama::filter_fn]
pub fn status_label(status: &str, _: &dyn Values) -> askama::Result<&'static str> {
    Ok(crate::db::orders::Status::parse(status).map(|s| s.label()).unwrap_or("Unknown"))
}

#[cfg(test)]
mod tests {
    use super::{format_money, group_digits};

    #[test]
    fn money_is_grouped_and_has_cents() {
        assert_eq!(format_money(0), "$0.00");
        assert_eq!(format_money(5), "$0.05");
        assert_eq!(format_money(123456), "$1,234.56");
        assert_eq!(format_money(100_000_000), "$1,000,000.00");
        assert_eq!(format_money(-250), "-$2.50");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1_000), "1,000");
    }
}
