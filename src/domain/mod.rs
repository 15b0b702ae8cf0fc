//! The shop's values, parsed once where they enter (a form, a query string,
//! a row) and carried typed from then on: an email address, an amount of
//! money, a SKU, an order's status, a staff member's role and the lists
//! whose views can be saved.

mod count;
mod email;
mod job;
mod money;
mod period;
mod sku;
mod status;

pub use count::{parse_count, MAX_COUNT};
pub use email::Email;
pub use job::{JobKind, JobState};
pub use money::Money;
pub use period::{Bucket, BucketSize, Period, Preset, ShopZone, MAX_DAYS};
pub use sku::Sku;
pub use status::{Role, SavedList, Status};

/// Writes a number with thousands separators: `1234567` → `1,234,567`.
pub fn group_digits(n: u64) -> String {
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

/// Characters that show nothing on their own: zero-width spaces and joiners,
/// direction marks, fillers, variation selectors, tags. A text made only of
/// them (and spaces) looks empty, so it is refused like an empty one.
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
            | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}' | '\u{FFA0}' | '\u{E0000}'..='\u{E007F}')
}

/// Embeddings, overrides and isolates, which reorder the text around them
/// ("Trojan Source"): a name carrying one could show as something else.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Trims a typed text and checks it is present, visible and not too long;
/// `what` names it in the message ("a name").
pub fn parse_text(raw: &str, max: usize, what: &str) -> Result<String, String> {
    let s = raw.trim();
    if s.chars().all(is_invisible) {
        return Err(format!("Enter {what}."));
    }
    if s.chars().any(is_bidi_control) {
        return Err(format!("{} can't contain text-direction controls (such as U+202E).", capitalise(what)));
    }
    if s.chars().count() > max {
        return Err(format!("Keep {what} to {max} characters or fewer."));
    }
    if s.chars().any(|c| c.is_control()) {
        return Err(format!("{} can't contain control characters.", capitalise(what)));
    }
    Ok(s.to_string())
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// For an enum written as text through its `as_str` and read back with its
/// `parse`: `Display` and serde's `Serialize` as that text, and sqlx's
/// `Type`, `Encode` and `Decode` for the TEXT column it is stored in. (sqlx's
/// derive would declare the SQL type by name, which costs every connection a
/// type lookup the first time it binds one; this declares PostgreSQL's own
/// `text`, known without asking.)
macro_rules! text_enum {
    ($ty:ty) => {
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
                <$ty>::parse(&text)
                    .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a {}", stringify!($ty))))
            }
        }

        impl sqlx::Type<sqlx::Postgres> for $ty {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <str as sqlx::Type<sqlx::Postgres>>::type_info()
            }
            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        impl sqlx::Encode<'_, sqlx::Postgres> for $ty {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::Postgres>>::encode(self.as_str(), buf)
            }
        }

        impl sqlx::Decode<'_, sqlx::Postgres> for $ty {
            fn decode(value: sqlx::postgres::PgValueRef<'_>) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
                <$ty>::parse(text).ok_or_else(|| format!("{text:?} is not a {}", stringify!($ty)).into())
            }
        }
    };
}
use text_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_or_reordering_text_is_refused() {
        assert_eq!(parse_text("\u{200B}\u{200B}", 200, "a name"), Err("Enter a name.".into()));
        assert_eq!(parse_text(" \u{3000}\u{FEFF} ", 200, "a name"), Err("Enter a name.".into()));
        assert!(parse_text("Ada \u{202E}ecalevol", 200, "a name").unwrap_err().contains("text-direction"));
        assert_eq!(parse_text("  Ada\u{200D}Lovelace ", 200, "a name"), Ok("Ada\u{200D}Lovelace".into()));
        assert_eq!(parse_text("שלום", 200, "a name"), Ok("שלום".into()));
    }

    #[test]
    fn digits_are_grouped_by_thousands() {
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1_000), "1,000");
        assert_eq!(group_digits(1_234_567), "1,234,567");
    }
}
