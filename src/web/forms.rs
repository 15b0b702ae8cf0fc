//! Shared form plumbing: per-field error messages and parsers for the
//! numbers people type (money, counts), with messages that say what to do.

use std::collections::BTreeMap;

/// Error messages keyed by form field name, shown next to the field.
#[derive(Debug, Default, Clone)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.entry(field.to_string()).or_insert_with(|| message.into());
    }

    /// Records the message for a violated database constraint; `false` if the
    /// constraint is not one a form field can explain.
    pub fn add_constraint(&mut self, constraint: &str) -> bool {
        match crate::db::constraint_message(constraint) {
            Some((field, message)) => {
                self.add(field, message);
                true
            }
            None => false,
        }
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `aria-invalid` value for a field, for accessible error styling.
    pub fn invalid(&self, field: &str) -> &'static str {
        if self.0.contains_key(field) {
            "true"
        } else {
            "false"
        }
    }
}

/// Largest price accepted: $10,000,000.00.
pub const MAX_PRICE_CENTS: i64 = 1_000_000_000;
/// Largest stock level or line quantity accepted.
pub const MAX_COUNT: i64 = 1_000_000;

/// Parses an amount of money such as `12`, `12.5`, `$1,234.50` into cents.
pub fn parse_money(raw: &str) -> Result<i64, &'static str> {
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
        .filter(|c| *c <= MAX_PRICE_CENTS)
        .ok_or("That price is too large (at most $10,000,000.00).")
}

/// Parses a whole number of items between `min` and [`MAX_COUNT`].
pub fn parse_count(raw: &str, min: i64, what: &str) -> Result<i32, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(format!("Enter the {what}."));
    }
    let n: i64 = match s.parse::<i64>() {
        Ok(n) => n,
        Err(_) if s.starts_with('-') && s[1..].chars().all(|c| c.is_ascii_digit()) => i64::MIN,
        Err(_) if s.chars().all(|c| c.is_ascii_digit()) => i64::MAX,
        Err(_) => return Err(format!("Enter the {what} as a whole number, like 3.")),
    };
    if n < min {
        return Err(if min == 0 {
            format!("The {what} can't be negative.")
        } else {
            format!("The {what} must be at least {min}.")
        });
    }
    if n > MAX_COUNT {
        return Err(format!("The {what} can be at most {MAX_COUNT}."));
    }
    i32::try_from(n).map_err(|_| format!("The {what} is too large."))
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

/// Trims a text field and checks it is present and not too long.
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

/// Parses the hidden version field of an edit form.
pub fn parse_version(raw: &str) -> Option<i32> {
    raw.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_accepts_what_people_type() {
        assert_eq!(parse_money("12"), Ok(1200));
        assert_eq!(parse_money(" 12.5 "), Ok(1250));
        assert_eq!(parse_money("$1,234.56"), Ok(123456));
        assert_eq!(parse_money(".99"), Ok(99));
        assert_eq!(parse_money("0"), Ok(0));
    }

    #[test]
    fn money_refuses_nonsense_with_a_reason() {
        assert_eq!(parse_money("-1"), Err("The price can't be negative."));
        assert!(parse_money("").is_err());
        assert!(parse_money("abc").is_err());
        assert!(parse_money("1.234").is_err());
        assert!(parse_money("1e5").is_err());
        assert!(parse_money("99999999999999999999999").is_err());
        assert!(parse_money("10000000.01").is_err());
        assert!(parse_money(".").is_err());
    }

    #[test]
    fn invisible_or_reordering_text_is_refused() {
        assert_eq!(parse_text("\u{200B}\u{200B}", 200, "a name"), Err("Enter a name.".into()));
        assert_eq!(parse_text(" \u{3000}\u{FEFF} ", 200, "a name"), Err("Enter a name.".into()));
        assert!(parse_text("Ada \u{202E}ecalevol", 200, "a name").unwrap_err().contains("text-direction"));
        assert_eq!(parse_text("  Ada\u{200D}Lovelace ", 200, "a name"), Ok("Ada\u{200D}Lovelace".into()));
        assert_eq!(parse_text("שלום", 200, "a name"), Ok("שלום".into()));
    }

    #[test]
    fn counts_have_bounds() {
        assert_eq!(parse_count("3", 1, "quantity"), Ok(3));
        assert_eq!(parse_count("0", 1, "quantity"), Err("The quantity must be at least 1.".into()));
        assert_eq!(parse_count("-4", 0, "stock"), Err("The stock can't be negative.".into()));
        assert!(parse_count("-99999999999999999999", 0, "stock").unwrap_err().contains("negative"));
        assert!(parse_count("99999999999999999999", 0, "stock").unwrap_err().contains("at most"));
        assert!(parse_count("2.5", 1, "quantity").is_err());
    }
}
