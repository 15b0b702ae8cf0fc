//! Template filters: money, counts, times and statuses as pages show them.
//! Every date and time is shown in the shop's time zone, given as the
//! filter's argument (`{{ at|datetime(chrome.zone) }}`); the zone's name is
//! shown once, in the page footer.

use askama::Values;
use chrono::{DateTime, Utc};

use crate::domain::{group_digits, Money, ShopZone, Status};

/// A count with thousands separators, sign included.
pub fn format_count(n: i64) -> String {
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", group_digits(n.unsigned_abs()))
}

/// A count with its noun: `1 order`, `1,204 orders`.
pub fn counted(n: i64, one: &str, many: &str) -> String {
    format!("{} {}", format_count(n), if n == 1 { one } else { many })
}

/// A moment as people read it in the shop: `Jan 31, 2026 23:30`.
pub fn format_datetime(at: &DateTime<Utc>, zone: ShopZone) -> String {
    at.with_timezone(&zone.0).format("%b %-d, %Y %H:%M").to_string()
}

/// The shop's day of a moment: `Jan 31, 2026`.
pub fn format_date(at: &DateTime<Utc>, zone: ShopZone) -> String {
    at.with_timezone(&zone.0).format("%b %-d, %Y").to_string()
}

/// Cents as dollars (see [`Money`]'s `Display`), for amounts and plain figures alike.
#[askama::filter_fn]
pub fn money<T: Copy + Into<Money>>(cents: &T, _: &dyn Values) -> askama::Result<Money> {
    Ok((*cents).into())
}

#[askama::filter_fn]
pub fn datetime(at: &DateTime<Utc>, _: &dyn Values, zone: &ShopZone) -> askama::Result<String> {
    Ok(format_datetime(at, *zone))
}

#[askama::filter_fn]
pub fn date(at: &DateTime<Utc>, _: &dyn Values, zone: &ShopZone) -> askama::Result<String> {
    Ok(format_date(at, *zone))
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn times_are_shown_in_the_shops_zone() {
        let at = Utc.with_ymd_and_hms(2026, 1, 31, 22, 30, 0).single().expect("a time");
        let berlin = ShopZone::parse("Europe/Berlin").expect("a zone");
        assert_eq!(format_datetime(&at, berlin), "Jan 31, 2026 23:30");
        assert_eq!(format_date(&at, ShopZone::parse("Asia/Tokyo").expect("a zone")), "Feb 1, 2026");
        assert_eq!(format_datetime(&at, ShopZone::default()), "Jan 31, 2026 22:30");
    }
}
