//! Pages as the tests read them: a response reduced to its status, redirect
//! and HTML, and the few readings of that HTML the tests share (rows of a
//! list, links, the hidden fields and CSRF token of a form).

use rocket::http::Status;
use rocket::local::asynchronous::LocalResponse;

/// A response reduced to what the tests look at.
pub struct Page {
    pub status: Status,
    pub location: Option<String>,
    pub body: String,
    headers: Vec<(String, String)>,
}

impl Page {
    pub(crate) async fn read(response: LocalResponse<'_>) -> Page {
        let headers = response.headers().iter().map(|h| (h.name().to_string(), h.value().to_string())).collect();
        Page {
            status: response.status(),
            location: response.headers().get_one("Location").map(str::to_string),
            headers,
            body: response.into_string().await.unwrap_or_default(),
        }
    }

    /// The first value of the header `name` (in any letter case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every value of the header `name`, such as each `Set-Cookie`.
    pub fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn assert_contains(&self, needle: &str) {
        assert!(
            self.body.contains(needle),
            "expected page to contain {needle:?}; status {}; body:\n{}",
            self.status,
            self.body
        );
    }

    pub fn assert_lacks(&self, needle: &str) {
        assert!(!self.body.contains(needle), "expected page not to contain {needle:?}; body:\n{}", self.body);
    }

    /// How many rows of the page's tables start with a link to a record
    /// under `path` (`/orders/` counts the orders a list shows).
    pub fn rows_linking_to(&self, path: &str) -> usize {
        self.body.matches(&format!("<td><a href=\"{path}")).count()
    }

    /// The text of the links that start those rows, in the order shown
    /// (`/users/` gives the names in a customers list).
    pub fn names_linking_to(&self, path: &str) -> Vec<String> {
        self.body
            .split(&format!("<td><a href=\"{path}"))
            .skip(1)
            .filter_map(|s| s.split('>').nth(1)?.split('<').next().map(str::to_string))
            .collect()
    }

    /// The address of the link that `marker` stands in: its label (`Next ›`)
    /// or an attribute after its `href` (`rel="next"`), entities decoded.
    pub fn link_before(&self, marker: &str) -> Option<String> {
        let end = self.body.find(marker)?;
        let start = self.body[..end].rfind("href=\"")? + "href=\"".len();
        Some(self.body[start..].split('"').next()?.replace("&#38;", "&").replace("&amp;", "&"))
    }

    /// The text of each cell of each body row of the first table after `marker`.
    pub fn rows_after(&self, marker: &str) -> Vec<Vec<String>> {
        let Some(start) = self.body.find(marker) else { return Vec::new() };
        let rest = &self.body[start..];
        let Some(tbody) = rest.find("<tbody>") else { return Vec::new() };
        let rest = &rest[tbody..];
        let rest = &rest[..rest.find("</tbody>").unwrap_or(rest.len())];
        rest.split("<tr")
            .skip(1)
            .map(|row| row.split("<td").skip(1).map(|cell| text_of(&format!("<td{cell}"))).collect())
            .collect()
    }
}

/// Text without tags, entities for `&` and `'` decoded, whitespace squeezed.
fn text_of(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let out = out.replace("&amp;", "&").replace("&#38;", "&").replace("&#39;", "'");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The CSRF token in a page's forms.
pub fn csrf_in(body: &str) -> Option<String> {
    let at = body.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    body[at..].split('"').next().map(str::to_string)
}

/// The hidden fields of the page's form that posts to `action`, unescaped.
pub fn hidden_fields(body: &str, action: &str) -> Vec<(String, String)> {
    let opening = format!("<form method=\"post\" action=\"{action}\"");
    let Some(start) = body.find(&opening) else { return Vec::new() };
    let form = &body[start..];
    let form = &form[..form.find("</form>").unwrap_or(form.len())];
    let attribute = |tag: &str, name: &str| {
        let key = format!("{name}=\"");
        tag.find(&key).map(|at| tag[at + key.len()..].split('"').next().unwrap_or("").to_string())
    };
    let unescape = |s: String| {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&#x27;", "'")
            .replace("&amp;", "&")
    };
    form.split("<input")
        .skip(1)
        .map(|tag| &tag[..tag.find('>').unwrap_or(tag.len())])
        .filter(|tag| tag.contains("type=\"hidden\""))
        .filter_map(|tag| Some((attribute(tag, "name")?, unescape(attribute(tag, "value").unwrap_or_default()))))
        .collect()
}

/// Encodes form fields as `application/x-www-form-urlencoded`.
pub fn encode_form(fields: &[(&str, &str)]) -> String {
    fields.iter().map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v))).collect::<Vec<_>>().join("&")
}

/// Percent-encodes one value for a form body or a query string.
pub fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(*b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
