//! What a list page shows around its rows: sortable column headers, the
//! count of matching rows, and links to the first, previous, next and last
//! pages; and the query string every list reads: its own typed filters
//! ([`Paged`]'s `filter`), then the [`Paging`]. Every link keeps the
//! filters, so any view can be bookmarked; every link is written by `uri!`
//! from the route it goes to.

use std::fmt;

use rocket::form::{self, DataField, FromForm, Options, ValueField};
use rocket::http::uri::fmt::{Formatter, FromUriParam, Query, UriDisplay};
use rocket::http::uri::Origin;
use rocket::UriDisplayQuery;

use futures::StreamExt;
use sqlx::pool::PoolConnection;
use sqlx::Postgres;

use super::export::{ExportFile, ExportSlot, Exports, Format, Record};
use super::AppError;
use crate::db::listing::{self, Count, Dir, Listing, Page, Position, Seek, SortColumn};

/// Where a list is: its sort, and the page's edge. Every list's query
/// string ends with these.
#[derive(Debug, Default, Clone, PartialEq, Eq, FromForm, UriDisplayQuery)]
pub struct Paging {
    pub sort: Option<String>,
    pub dir: Option<String>,
    pub after: Option<String>,
    pub before: Option<String>,
    pub last: Option<String>,
}

impl Paging {
    const FIELDS: [&'static str; 5] = ["sort", "dir", "after", "before", "last"];

    /// The first page sorted by `key` in `dir`.
    pub fn sorted(key: &str, dir: Dir) -> Paging {
        Paging { sort: Some(key.to_string()), dir: Some(dir.as_str().to_string()), ..<Paging as Default>::default() }
    }

    /// The request as a [`Seek`] over `columns`, `rows` to a page.
    pub fn seek(&self, columns: &[SortColumn], rows: i64) -> Seek {
        let position = Position::from_query(self.after.as_deref(), self.before.as_deref(), self.last.is_some());
        Seek::new(columns, self.sort.as_deref(), self.dir.as_deref(), position, rows)
    }
}

/// A list's query string: its own filters `F` (each list's typed struct),
/// then the [`Paging`], both unprefixed (`?q=ada&sort=name`).
#[derive(Debug, Default, Clone)]
pub struct Paged<F> {
    pub filter: F,
    pub paging: Paging,
}

impl<F> Paged<F> {
    pub fn new(filter: F, paging: Paging) -> Paged<F> {
        Paged { filter, paging }
    }
}

#[rocket::async_trait]
impl<'r, F: FromForm<'r>> FromForm<'r> for Paged<F> {
    type Context = (F::Context, <Paging as FromForm<'r>>::Context);

    fn init(opts: Options) -> Self::Context {
        (F::init(opts), Paging::init(opts))
    }

    fn push_value((filter, paging): &mut Self::Context, field: ValueField<'r>) {
        if Paging::FIELDS.contains(&field.name.key_lossy().as_str()) {
            Paging::push_value(paging, field);
        } else {
            F::push_value(filter, field);
        }
    }

    async fn push_data((filter, _): &mut Self::Context, field: DataField<'r, '_>) {
        F::push_data(filter, field).await;
    }

    fn finalize((filter, paging): Self::Context) -> form::Result<'r, Self> {
        Ok(Paged { filter: F::finalize(filter)?, paging: Paging::finalize(paging)? })
    }
}

impl<F: UriDisplay<Query>> UriDisplay<Query> for Paged<F> {
    fn fmt(&self, f: &mut Formatter<'_, Query>) -> fmt::Result {
        self.filter.fmt(f)?;
        self.paging.fmt(f)
    }
}

impl<F: UriDisplay<Query>> FromUriParam<Query, Paged<F>> for Paged<F> {
    type Target = Paged<F>;
    fn from_uri_param(paged: Paged<F>) -> Paged<F> {
        paged
    }
}

/// Writes the link to one view of a list: the same list and filters, sorted
/// and positioned as the [`Paging`] says.
type Link = Box<dyn Fn(Paging) -> Origin<'static> + Send + Sync>;

pub struct ListState {
    link: Link,
    sort: &'static str,
    dir: Dir,
    /// `None` for a list that is not counted (counting would cost a query).
    count: Option<Count>,
    noun: (&'static str, &'static str),
    pub first: Option<String>,
    pub prev: Option<String>,
    pub next: Option<String>,
    pub last: Option<String>,
    /// The CSV and XLSX exports of exactly this filtered and sorted list.
    csv: String,
    xlsx: String,
    /// The id of the page section the list sits in, for links that stay on it.
    anchor: Option<&'static str>,
}

impl ListState {
    /// The state of a list shown as `page` of `seek`, whose links `link` writes.
    pub fn new<T>(
        seek: &Seek,
        count: Option<Count>,
        noun: (&'static str, &'static str),
        page: &Page<T>,
        link: impl Fn(Paging) -> Origin<'static> + Send + Sync + 'static,
    ) -> ListState {
        let count = match count {
            Some(count) => Some(count.with_page(seek, page)),
            // A single page that holds every match counts itself.
            None if seek.position == Position::First && page.next.is_none() => {
                Some(Count::Exact(page.rows.len() as i64))
            }
            None => None,
        };
        let sorted = Paging::sorted(seek.column.key, seek.dir);
        let to = |paging: Paging| Some(link(paging).to_string());
        let (first, prev) = match &page.prev {
            Some(cursor) => (to(sorted.clone()), to(Paging { before: Some(cursor.to_param()), ..sorted.clone() })),
            None => (None, None),
        };
        let (next, last) = match &page.next {
            Some(cursor) => (
                to(Paging { after: Some(cursor.to_param()), ..sorted.clone() }),
                to(Paging { last: Some("1".into()), ..sorted.clone() }),
            ),
            None => (None, None),
        };
        ListState {
            csv: link(sorted.clone()).to_string(),
            xlsx: link(sorted).to_string(),
            link: Box::new(link),
            sort: seek.column.key,
            dir: seek.dir,
            count,
            noun,
            first,
            prev,
            next,
            last,
            anchor: None,
        }
    }

    /// Where the exports of this list are: `exports` writes the CSV and
    /// the XLSX links for the list's sort.
    pub fn exports(mut self, exports: impl FnOnce(Paging) -> [Origin<'static>; 2]) -> ListState {
        let [csv, xlsx] = exports(Paging::sorted(self.sort, self.dir));
        self.csv = csv.to_string();
        self.xlsx = xlsx.to_string();
        self
    }

    /// For a list that is one section of a bigger page: its sort and page
    /// links come back to the section `anchor` rather than to the top.
    pub fn section(mut self, anchor: &'static str) -> ListState {
        let fragment = format!("#{anchor}");
        for link in [&mut self.first, &mut self.prev, &mut self.next, &mut self.last].into_iter().flatten() {
            link.push_str(&fragment);
        }
        self.anchor = Some(anchor);
        self
    }

    /// The header link for a column: flips the direction when already sorted by it.
    pub fn sort_href(&self, key: &str, default_dir: &str) -> String {
        let dir = if key == self.sort { self.dir.flip() } else { Dir::parse(Some(default_dir)).unwrap_or(Dir::Asc) };
        let mut url = (self.link)(Paging::sorted(key, dir)).to_string();
        if let Some(anchor) = self.anchor {
            url.push('#');
            url.push_str(anchor);
        }
        url
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

    /// "1,234 customers" or "about 100,000 customers (estimated)"; empty
    /// for a list that is not counted.
    pub fn count_text(&self) -> String {
        let noun = |n: i64| if n == 1 { self.noun.0 } else { self.noun.1 };
        match self.count {
            Some(Count::Exact(n)) => format!("{} {}", super::filters::format_count(n), noun(n)),
            Some(Count::Estimate(n)) => {
                format!("about {} {} (estimated)", super::filters::format_count(n), noun(n))
            }
            None => String::new(),
        }
    }

    /// The CSV export of exactly this filtered and sorted list.
    pub fn csv_href(&self) -> &str {
        &self.csv
    }

    /// This view of the list as a query string to save: its filters and
    /// sort, without the page position.
    pub fn view_query(&self) -> String {
        (self.link)(Paging::sorted(self.sort, self.dir)).query().map(|q| q.as_str().to_string()).unwrap_or_default()
    }

    /// The XLSX export of exactly this filtered and sorted list.
    pub fn xlsx_href(&self) -> &str {
        &self.xlsx
    }
}

/// A saved query string read back through a list's own query `F`: fields
/// it does not know (any more) are dropped, one it cannot read leaves the
/// list unfiltered, and the page position is never kept.
pub fn reread<'r, F: FromForm<'r> + Default>(query: &'r str) -> Paged<F> {
    let paged = rocket::form::Form::<Paged<F>>::parse(query).unwrap_or_default();
    Paged { filter: paged.filter, paging: Paging { after: None, before: None, last: None, ..paged.paging } }
}

/// A search typed in a list's filters: trimmed, and at most 200 characters.
pub fn search_text(raw: Option<&str>) -> String {
    raw.unwrap_or("").trim().chars().take(200).collect()
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

/// Writes every row of a list in `format`, from the start in the list's
/// order, each row as `to_record` makes it. The caller takes the download
/// `slot` first, so no connection waits for one.
pub async fn export<L: Listing, R: Record>(
    exports: &Exports,
    (slot, conn): (ExportSlot, PoolConnection<Postgres>),
    (filter, paging): (L::Filter, Paging),
    format: Format,
    stem: &str,
    to_record: impl Fn(L::Row) -> R + Send + 'static,
) -> Result<ExportFile, AppError> {
    let seek = paging.seek(L::SORTS, crate::web::PAGE_SIZE).from_start();
    let rows = listing::export::<L>(conn, filter, seek).map(move |row| row.map(&to_record));
    ExportFile::spool(exports, slot, format, stem, rows).await
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
