//! The shop's calendar: its time zone, and the periods that figures are
//! shown for (a run of whole days in that zone), with the period before each
//! of equal length and the buckets a chart splits it into.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc};
use chrono_tz::Tz;

/// The shop's time zone: every date and time is shown in it, and days and
/// months are counted in it. UTC unless configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShopZone(pub Tz);

impl Default for ShopZone {
    fn default() -> ShopZone {
        ShopZone(Tz::UTC)
    }
}

impl ShopZone {
    /// Reads an IANA zone name such as `Europe/Berlin`.
    pub fn parse(name: &str) -> Result<ShopZone, String> {
        name.trim().parse::<Tz>().map(ShopZone).map_err(|_| {
            format!(
                "time_zone = {name:?} is not a time zone name; use an IANA name such as \"Europe/Berlin\" or \"UTC\""
            )
        })
    }

    /// The IANA name, as PostgreSQL also knows it.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// The day it is in the shop at `at`.
    pub fn day_of(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.0).date_naive()
    }

    /// Today in the shop.
    pub fn today(&self) -> NaiveDate {
        self.day_of(Utc::now())
    }
}

impl std::fmt::Display for ShopZone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The longest custom period, in days (about ten years): charts and figures
/// stay bounded whatever is typed.
pub const MAX_DAYS: i64 = 3660;

/// The named periods of the picker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Last7,
    Last30,
    Last90,
    ThisMonth,
    ThisQuarter,
    ThisYear,
    /// Every day with orders (reports only): the shop's whole history.
    AllTime,
    Custom,
}

impl Preset {
    pub const PICKER: [Preset; 7] = [
        Preset::Last7,
        Preset::Last30,
        Preset::Last90,
        Preset::ThisMonth,
        Preset::ThisQuarter,
        Preset::ThisYear,
        Preset::Custom,
    ];

    /// The value in URLs.
    pub fn key(self) -> &'static str {
        match self {
            Preset::Last7 => "7d",
            Preset::Last30 => "30d",
            Preset::Last90 => "90d",
            Preset::ThisMonth => "month",
            Preset::ThisQuarter => "quarter",
            Preset::ThisYear => "year",
            Preset::AllTime => "all",
            Preset::Custom => "custom",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Preset::Last7 => "Last 7 days",
            Preset::Last30 => "Last 30 days",
            Preset::Last90 => "Last 90 days",
            Preset::ThisMonth => "This month",
            Preset::ThisQuarter => "This quarter",
            Preset::ThisYear => "This year",
            Preset::AllTime => "All time",
            Preset::Custom => "Custom dates",
        }
    }

    pub fn parse(key: &str) -> Option<Preset> {
        [Preset::AllTime].into_iter().chain(Preset::PICKER).find(|p| p.key() == key.trim())
    }
}

/// A run of whole days in the shop's zone, `from` to `to` inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub preset: Preset,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// How a chart splits a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketSize {
    Day,
    Week,
    Month,
}

/// One bar or point of a chart: the days `from` to `to` inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    /// A named period ending today (or the days typed, for `Custom`).
    pub fn preset(preset: Preset, today: NaiveDate) -> Period {
        let back = |days: u64| today.checked_sub_days(Days::new(days)).unwrap_or(today);
        let from = match preset {
            Preset::Last7 => back(6),
            Preset::Last30 | Preset::Custom => back(29),
            Preset::Last90 => back(89),
            Preset::ThisMonth => today.with_day(1).unwrap_or(today),
            Preset::ThisQuarter => {
                NaiveDate::from_ymd_opt(today.year(), (today.month0() / 3) * 3 + 1, 1).unwrap_or(today)
            }
            Preset::ThisYear => NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today),
            Preset::AllTime => NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(today),
        };
        Period { preset, from, to: today }
    }

    /// Days typed by hand: `from` on or before `to`, at most [`MAX_DAYS`].
    pub fn custom(from: NaiveDate, to: NaiveDate) -> Result<Period, &'static str> {
        if from > to {
            return Err("The start must be on or before the end.");
        }
        if (to - from).num_days() + 1 > MAX_DAYS {
            return Err("Choose at most ten years.");
        }
        Ok(Period { preset: Preset::Custom, from, to })
    }

    /// Days in the period.
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// The period of equal length just before this one.
    pub fn previous(&self) -> Period {
        let len = Days::new(self.days() as u64);
        let to = self.from.pred_opt().unwrap_or(self.from);
        let from = self.from.checked_sub_days(len).unwrap_or(self.from);
        Period { preset: Preset::Custom, from, to }
    }

    /// Days up to about 90 days, weeks up to about a year, months beyond.
    pub fn bucket_size(&self) -> BucketSize {
        match self.days() {
            ..=92 => BucketSize::Day,
            93..=366 => BucketSize::Week,
            _ => BucketSize::Month,
        }
    }

    /// The period split into [`Self::bucket_size`] buckets: weeks counted
    /// from its first day, months by the calendar; the first and last may be
    /// partial, none is empty.
    pub fn buckets(&self) -> Vec<Bucket> {
        let mut buckets = Vec::new();
        let mut from = self.from;
        while from <= self.to {
            let next = match self.bucket_size() {
                BucketSize::Day => from.succ_opt(),
                BucketSize::Week => from.checked_add_days(Days::new(7)),
                BucketSize::Month => from.with_day(1).and_then(|first| first.checked_add_months(Months::new(1))),
            };
            let Some(next) = next else { break };
            let to = next.pred_opt().unwrap_or(next).min(self.to);
            buckets.push(Bucket { from, to });
            from = next;
        }
        buckets
    }

    /// The period as people read it: "Mar 1 – Mar 30, 2026".
    pub fn describe(&self) -> String {
        let (a, b) = (self.from, self.to);
        if a == b {
            a.format("%b %-d, %Y").to_string()
        } else if a.year() == b.year() {
            format!("{} – {}", a.format("%b %-d"), b.format("%b %-d, %Y"))
        } else {
            format!("{} – {}", a.format("%b %-d, %Y"), b.format("%b %-d, %Y"))
        }
    }
}

impl Bucket {
    /// A short axis label.
    pub fn label(&self, size: BucketSize) -> String {
        match size {
            BucketSize::Day | BucketSize::Week => self.from.format("%b %-d").to_string(),
            BucketSize::Month => self.from.format("%b %Y").to_string(),
        }
    }

    /// The days it covers, in words.
    pub fn describe(&self, size: BucketSize) -> String {
        match size {
            BucketSize::Day => self.from.format("%a %b %-d, %Y").to_string(),
            _ => Period { preset: Preset::Custom, from: self.from, to: self.to }.describe(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a day")
    }

    #[test]
    fn periods_end_today_and_the_previous_one_is_as_long() {
        let today = day("2026-11-29");
        let last7 = Period::preset(Preset::Last7, today);
        assert_eq!((last7.from, last7.days()), (day("2026-11-23"), 7));
        assert_eq!((last7.previous().from, last7.previous().to), (day("2026-11-16"), day("2026-11-22")));
        let quarter = Period::preset(Preset::ThisQuarter, today);
        assert_eq!(quarter.from, day("2026-10-01"));
        assert_eq!(quarter.previous().days(), quarter.days());
        assert_eq!(Period::preset(Preset::ThisYear, today).from, day("2026-01-01"));
        assert!(Period::custom(day("2026-02-01"), day("2026-01-01")).is_err());
        assert!(Period::custom(day("2000-01-01"), day("2026-01-01")).is_err());
    }

    #[test]
    fn buckets_cover_every_day_once() {
        let today = day("2026-11-29");
        for preset in Preset::PICKER {
            let period = Period::preset(preset, today);
            let buckets = period.buckets();
            assert_eq!(buckets.first().map(|b| b.from), Some(period.from));
            assert_eq!(buckets.last().map(|b| b.to), Some(period.to));
            let days: i64 = buckets.iter().map(|b| (b.to - b.from).num_days() + 1).sum();
            assert_eq!(days, period.days(), "{preset:?}");
        }
        assert_eq!(Period::preset(Preset::Last90, today).bucket_size(), BucketSize::Day);
        assert_eq!(Period::preset(Preset::ThisYear, today).bucket_size(), BucketSize::Week);
        let long = Period::custom(day("2024-01-15"), day("2026-11-29")).expect("a period");
        assert_eq!(long.bucket_size(), BucketSize::Month);
        assert_eq!(long.buckets().len(), 35);
    }

    #[test]
    fn zones_are_iana_names() {
        assert_eq!(ShopZone::parse("Europe/Berlin").map(|z| z.name()), Ok("Europe/Berlin"));
        assert!(ShopZone::parse("Mars/Olympus").is_err());
    }
}
