//! An email address as people type it: trimmed, with a domain, no spaces.

use std::fmt;

/// A valid email address (customers' and staff accounts').
#[derive(Debug, Clone, PartialEq, Eq, sqlx::Type, serde::Serialize)]
#[sqlx(transparent)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Parses a typed address; the message says what to type instead.
    pub fn parse(raw: &str) -> Result<Email, &'static str> {
        let email = raw.trim();
        if email.is_empty() {
            return Err("Enter an email address.");
        }
        if email.len() > 254 {
            return Err("That email address is too long.");
        }
        let valid = email_address::EmailAddress::parse_with_options(
            email,
            email_address::Options::default().with_required_tld().without_display_text(),
        )
        .is_ok();
        if !valid || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("Enter a valid email address, like name@example.com.");
        }
        Ok(Email(email.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Email {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

#[cfg(test)]
mod tests {
    use super::Email;

    #[test]
    fn emails_need_a_domain_and_no_spaces() {
        assert_eq!(Email::parse(" ada@example.com ").map(|e| e.to_string()), Ok("ada@example.com".into()));
        assert_eq!(Email::parse(""), Err("Enter an email address."));
        for bad in ["ada", "ada@example", "a da@example.com", "Ada <ada@example.com>"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}
