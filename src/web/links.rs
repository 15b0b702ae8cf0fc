//! Links as pages write them: an address built with `uri!` from the route it
//! names (so renaming a route breaks the build, not a page), escaped for an
//! HTML attribute.

use std::fmt;

use rocket::http::uri::Origin;

/// An address for an `href` or a form's `action`.
#[derive(Debug, Clone, PartialEq)]
pub struct Href(pub Origin<'static>);

impl From<Origin<'static>> for Href {
    fn from(uri: Origin<'static>) -> Href {
        Href(uri)
    }
}

impl fmt::Display for Href {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.to_string().chars() {
            match c {
                '&' => f.write_str("&amp;")?,
                '"' => f.write_str("&quot;")?,
                '\'' => f.write_str("&#39;")?,
                '<' => f.write_str("&lt;")?,
                '>' => f.write_str("&gt;")?,
                c => fmt::Write::write_char(f, c)?,
            }
        }
        Ok(())
    }
}

/// Already escaped for an attribute by its `Display`.
impl askama::filters::HtmlSafe for Href {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_for_an_attribute() {
        let href = Href(rocket::uri!("/orders?user_id=1&status=active"));
        assert_eq!(href.to_string(), "/orders?user_id=1&amp;status=active");
    }
}
