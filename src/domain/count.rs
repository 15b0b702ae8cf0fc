//! A count of items (stock, a line's quantity) as typed, with the messages
//! every form and the import use for it.

/// Largest stock level or line quantity accepted.
pub const MAX_COUNT: i64 = 1_000_000;

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
