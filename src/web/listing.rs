//! What a list page shows around its rows: sortable column headers, the
//! count of matching rows, and links to the first, previous, next and last
//! pages. Every link keeps the filters, so any view can be bookmarked.

use rocket::FromForm;

use crate::db::listing::{Count, Cursor, Dir, Page, Position, Seek, SortColumn};

use super::encode;

pub struct ListState {
    /// The list's path with its filters, e.g. `/users?q=ada`.
    base: String,
    sort: &'static str,
    dir: Dir,
    default_sort: &'static str,
    pub count: Count,
    noun: (&'static str, &'static str),
    pub first: Option<String>,
    pub prev: Option<String>,
    pub next: Option<String>,
    pub last: Option<String>,
    /// Where the CSV export of this list is, when not at the list's path + `.csv`.
    csv_path: Option<String>,
    /// The id of the page section the list sits in, for links that stay on it.
    anchor: Option<&'static str>,
}

impl ListState {
    pub fn new<T>(
        base: String,
        seek: &Seek,
        default_sort: &'static str,
        count: Count,
        noun: (&'static str, &'static str),
        page: &Page<T>,
    ) -> ListState {
        let mut state = ListState {
            base,
            sort: seek.column.key,
            dir: seek.dir,
            default_sort,
            count: count.with_page(seek, page),
            noun,
            first: None,
            prev: None,
            next: None,
            last: None,
            csv_path: None,
            anchor: None,
        };
        let at_start = page.prev.is_none();
        let at_end = page.next.is_none();
        if !at_start {
            state.first = Some(state.href(""));
            state.prev = page.prev.as_ref().map(|c| state.href(&format!("before={}", encode(&c.to_param()))));
        }
        if !at_end {
            state.next = page.next.as_ref().map(|c: &Cursor| state.href(&format!("after={}", encode(&c.to_param()))));
            state.last = Some(state.href("last=1"));
        }
        state
    }

    /// For a list that is one section of a bigger page: its CSV export lives
    /// at `csv_path`, and its sort and page links come back to the section
    /// `anchor` rather than to the top of the page.
    pub fn section(mut self, csv_path: String, anchor: &'static str) -> ListState {
        let fragment = format!("#{anchor}");
        for link in [&mut self.first, &mut self.prev, &mut self.next, &mut self.last].into_iter().flatten() {
            link.push_str(&fragment);
        }
        self.csv_path = Some(csv_path);
        self.anchor = Some(anchor);
        self
    }

    /// A link to this list with the current sort and `extra` parameters.
    fn href(&self, extra: &str) -> String {
        let mut url = self.with_sort(self.sort, self.dir);
        if !extra.is_empty() {
            url.push('&');
            url.push_str(extra);
        }
        url
    }

    fn with_sort(&self, key: &str, dir: Dir) -> String {
        let sep = if self.base.ends_with('?') { "" } else { "&" };
        format!("{}{sep}sort={key}&dir={}", self.base, dir.as_str())
    }

    /// A link for a column header or a sort choice: the list sorted by
    /// `key` in `dir`, from the first page.
    fn sort_link(&self, key: &str, dir: Dir) -> String {
        let mut url = self.with_sort(key, dir);
        if let Some(anchor) = self.anchor {
            url.push('#');
            url.push_str(anchor);
        }
        url
    }

    /// The header link for a column: flips the direction when already sorted by it.
    pub fn sort_href(&self, key: &str, default_dir: &str) -> String {
        let dir = if key == self.sort { self.dir.flip() } else { Dir::parse(Some(default_dir)).unwrap_or(Dir::Asc) };
        self.sort_link(key, dir)
    }

    pub fn sort_mark(&self, key: &str) -> &'static str {
        match (key == self.sort, self.dir) {
            (false, _) => "",
            (true, Dir::Asc) => "▲",
            (true, Dir::Desc) => "▼",
        }
    }

    pub fn aria_sort(&self, key: &str) -> &'static str {
        match (key == self.sort, self.dir) {
            (false, _) => "none",
            (true, Dir::Asc) => "ascending",
            (true, Dir::Desc) => "descending",
        }
    }

    /// "1,234 customers" or "about 100,000 customers (estimated)".
    pub fn count_text(&self) -> String {
        let noun = |n: i64| if n == 1 { self.noun.0 } else { self.noun.1 };
        match self.count {
            Count::Exact(n) => format!("{} {}", super::filters::format_count(n), noun(n)),
            Count::Estimate(n) => format!("about {} {} (estimated)", super::filters::format_count(n), noun(n)),
        }
    }

    /// The CSV export of exactly this filtered and sorted list.
    pub fn csv_href(&self) -> String {
        let url = self.with_sort(self.sort, self.dir);
        if let Some(path) = &self.csv_path {
            let query = url.split_once('?').map(|(_, query)| query).unwrap_or("");
            return format!("{path}?{query}");
        }
        match url.split_once('?') {
            Some((path, query)) => format!("{path}.csv?{query}"),
            None => format!("{url}.csv"),
        }
    }

    /// Whether the list is sorted other than by default, for a "reset" link.
    pub fn custom_sort(&self) -> bool {
        self.sort != self.default_sort
    }
}

/// The query string the lists understand: search, filters, sort and position.
#[derive(Debug, Default, FromForm)]
pub struct ListQuery<'r> {
    pub q: Option<&'r str>,
    /// Customers: `yes` (has orders) or `no`.
    pub has_orders: Option<&'r str>,
    /// Customers: signed up from / until (YYYY-MM-DD).
    pub joined_from: Option<&'r str>,
    pub joined_to: Option<&'r str>,
    /// Products: `in`, `low` or `out` of stock; `low` at or below `low_at`.
    pub stock: Option<&'r str>,
    pub low_at: Option<&'r str>,
    pub sort: Option<&'r str>,
    pub dir: Option<&'r str>,
    pub after: Option<&'r str>,
    pub before: Option<&'r str>,
    pub last: Option<&'r str>,
}

/// A day that is not a YYYY-MM-DD date between 0001-01-01 and 9999-12-31.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadDay;

/// Reads a day typed as YYYY-MM-DD; blank is none, anything else an error.
/// Only four-digit years from 0001 are days: PostgreSQL cannot compute with
/// some years chrono accepts (before 4713 BC, or year 0), and nobody filters
/// a shop's data by them.
pub fn parse_day(raw: Option<&str>) -> Result<Option<chrono::NaiveDate>, BadDay> {
    let Some(s) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let shaped = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    if !shaped {
        return Err(BadDay);
    }
    match chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        Ok(day) if chrono::Datelike::year(&day) >= 1 => Ok(Some(day)),
        _ => Err(BadDay),
    }
}

impl ListQuery<'_> {
    /// The search text, trimmed and bounded.
    pub fn search(&self) -> String {
        self.q.unwrap_or("").trim().chars().take(200).collect()
    }

    pub fn seek(&self, columns: &[SortColumn]) -> Seek {
        self.seek_rows(columns, super::PAGE_SIZE)
    }

    /// [`Self::seek`] with pages of `rows` rows.
    pub fn seek_rows(&self, columns: &[SortColumn], rows: i64) -> Seek {
        let position = Position::from_query(self.after, self.before, self.last.is_some());
        Seek::new(columns, self.sort, self.dir, position, rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_four_digit_years_postgresql_can_store() {
        assert_eq!(parse_day(Some(" 2024-02-29 ")), Ok(chrono::NaiveDate::from_ymd_opt(2024, 2, 29)));
        assert_eq!(parse_day(Some("")), Ok(None));
        assert_eq!(parse_day(None), Ok(None));
        for bad in ["-4714-01-01", "0000-01-01", "-262143-01-01", "12345-01-01", "2024-2-3", "2023-02-29", "yesterday"]
        {
            assert_eq!(parse_day(Some(bad)), Err(BadDay), "{bad}");
        }
    }
}
