//! Template filters: money, counts, times and statuses as pages show them.

use askama::Values;
use chrono::{DateTime, Utc};

use crate::domain::{group_digits, Money, Status};

/// A count with thousands separators, sign included.
pub fn format_count(n: i64) -> String {
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", group_digits(n.unsigned_abs()))
}

/// A count with its noun: `1 order`, `1,204 orders`.
pub fn counted(n: i64, one: &str, many: &str) -> String {
    format!("{} {}", format_count(n), if n == 1 { one } else { many })
}

/// Cents as dollars (see [`Money`]'s `Display`), for amounts and plain figures alike.
#[askama::filter_fn]
pub fn money<T: Copy + Into<Money>>(cents: &T, _: &dyn Values) -> askama::Result<Money> {
    Ok((*cents).into())
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
pub fn status_label(status: &Status, _: &dyn Values) -> askama::Result<&'static str> {
    Ok(status.label())
}
