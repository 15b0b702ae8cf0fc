//! The period picker's query string (`?period=90d`, or
//! `?period=custom&from=2026-01-01&to=2026-03-31`), shared by the dashboard
//! and the reports so that a view can be shared by its URL.

use chrono::NaiveDate;
use rocket::{FromForm, UriDisplayQuery};

use super::listing::parse_day;
use crate::domain::{Period, Preset};

/// The period as typed in the URL.
#[derive(Debug, Default, Clone, PartialEq, Eq, FromForm, UriDisplayQuery)]
pub struct PeriodQuery {
    /// A preset (`7d`, `30d`, `90d`, `month`, `quarter`, `year`, `all`) or `custom`.
    pub period: Option<String>,
    /// First and last day of a custom period (YYYY-MM-DD), in the shop's zone.
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The period a page shows, with what was typed and what was wrong with it.
#[derive(Debug, Clone)]
pub struct Chosen {
    pub period: Period,
    /// The picker's values as typed, kept when they were wrong.
    pub typed: PeriodQuery,
    pub from_error: Option<&'static str>,
    pub to_error: Option<&'static str>,
}

impl Chosen {
    /// The preset shown as selected: `custom` when custom days were typed,
    /// even wrong ones.
    pub fn selected(&self) -> &str {
        match self.typed.period.as_deref().and_then(Preset::parse) {
            Some(preset) => preset.key(),
            None if self.typed.from.is_some() || self.typed.to.is_some() => Preset::Custom.key(),
            None => self.period.preset.key(),
        }
    }

    pub fn typed_from(&self) -> String {
        self.typed.from.clone().unwrap_or_else(|| self.period.from.to_string())
    }

    pub fn typed_to(&self) -> String {
        self.typed.to.clone().unwrap_or_else(|| self.period.to.to_string())
    }

    /// The period in words: "all time", or its days.
    pub fn describe(&self) -> String {
        match self.period.preset {
            Preset::AllTime => "all time".to_string(),
            _ => self.period.describe(),
        }
    }

    pub fn has_error(&self) -> bool {
        self.from_error.is_some() || self.to_error.is_some()
    }
}

impl PeriodQuery {
    /// The query string that reads back as `period`.
    pub fn of(period: &Period) -> PeriodQuery {
        match period.preset {
            Preset::Custom => PeriodQuery {
                period: Some(Preset::Custom.key().into()),
                from: Some(period.from.to_string()),
                to: Some(period.to.to_string()),
            },
            preset => PeriodQuery { period: Some(preset.key().into()), from: None, to: None },
        }
    }

    /// The period asked for, ending `today` for presets; `default` when
    /// none was asked for or the custom days cannot be used (then with a
    /// message for the field at fault). `allowed` are the presets offered.
    pub fn choose(&self, today: NaiveDate, default: Preset, allowed: &[Preset]) -> Chosen {
        let fallback = Period::preset(default, today);
        let mut chosen = Chosen { period: fallback, typed: self.clone(), from_error: None, to_error: None };
        let preset = match self.period.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            Some(key) => Preset::parse(key).filter(|p| allowed.contains(p) || *p == Preset::Custom),
            None if self.from.is_some() || self.to.is_some() => Some(Preset::Custom),
            None => Some(default),
        };
        match preset {
            Some(Preset::Custom) => {
                let from = parse_day(self.from.as_deref());
                let to = parse_day(self.to.as_deref());
                const DAY: &str = "Enter a day as YYYY-MM-DD.";
                match (from, to) {
                    (Ok(Some(from)), Ok(Some(to))) => match Period::custom(from, to) {
                        Ok(period) => chosen.period = period,
                        Err(message) => chosen.to_error = Some(message),
                    },
                    (from, to) => {
                        chosen.from_error = (!matches!(from, Ok(Some(_)))).then_some(DAY);
                        chosen.to_error = (!matches!(to, Ok(Some(_)))).then_some(DAY);
                    }
                }
            }
            Some(preset) => chosen.period = Period::preset(preset, today),
            None => chosen.typed.period = Some(default.key().into()),
        }
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a day")
    }

    fn query(period: Option<&str>, from: Option<&str>, to: Option<&str>) -> PeriodQuery {
        PeriodQuery { period: period.map(Into::into), from: from.map(Into::into), to: to.map(Into::into) }
    }

    #[test]
    fn wrong_custom_days_keep_what_was_typed_and_say_what_is_wrong() {
        let today = day("2026-11-29");
        let chosen = query(Some("custom"), Some("2026-13-01"), Some("2026-02-01")).choose(
            today,
            Preset::Last30,
            &Preset::PICKER,
        );
        assert_eq!(chosen.from_error, Some("Enter a day as YYYY-MM-DD."));
        assert_eq!(chosen.to_error, None);
        assert_eq!(chosen.typed_from(), "2026-13-01");
        assert_eq!(chosen.selected(), "custom");
        assert_eq!(chosen.period, Period::preset(Preset::Last30, today));

        let reversed = query(Some("custom"), Some("2026-03-01"), Some("2026-02-01")).choose(
            today,
            Preset::Last30,
            &Preset::PICKER,
        );
        assert!(reversed.to_error.is_some());

        let ok = query(Some("custom"), Some("2026-01-01"), Some("2026-01-31")).choose(
            today,
            Preset::Last30,
            &Preset::PICKER,
        );
        assert_eq!((ok.period.from, ok.period.to, ok.has_error()), (day("2026-01-01"), day("2026-01-31"), false));
        assert_eq!(PeriodQuery::of(&ok.period).choose(today, Preset::Last30, &Preset::PICKER).period, ok.period);

        let year = query(Some("year"), None, None).choose(today, Preset::Last30, &Preset::PICKER);
        assert_eq!(year.period.from, day("2026-01-01"));
        assert_eq!(
            query(Some("nonsense"), None, None).choose(today, Preset::Last30, &Preset::PICKER).period.preset,
            Preset::Last30
        );
    }
}
