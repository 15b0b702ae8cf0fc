//! Every list the shop pages through: what each list is (a [`Listing`]),
//! and, written once for all of them, its page, its count and its export.
//! A page is found by comparing `(sort value, id)` with the row at the
//! page's edge (keyset, or seek, pagination), so page 10,000 costs what
//! page 1 costs: an index range scan of one page.

use chrono::NaiveDate;
use futures::{Stream, TryStreamExt};
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::DbError;

/// One list: its rows, the table and joins they come from, its filters and
/// its sort keys. Each list implements this once; [`search`],
/// [`count_matching`] and [`export`] serve them all.
pub trait Listing {
    /// One row of the list.
    type Row: for<'r> sqlx::FromRow<'r, PgRow> + Keyed + Send + Unpin + 'static;
    /// What narrows the list (a search, a date range, the record it belongs to).
    type Filter: Send + Sync + 'static;
    /// The row's columns, named as the row's fields.
    const COLUMNS: &'static str;
    /// The table and its joins.
    const FROM: &'static str;
    /// The table the list counts (its `row_count`), with the alias
    /// [`Listing::push_filter`] uses, for estimates: `users u`.
    const COUNTED: (&'static str, &'static str);
    /// The keys the list sorts by; the first is the default.
    const SORTS: &'static [SortColumn];
    /// Whether each page is planned afresh with its values: for filters
    /// whose matches are skewed (one customer has thousands of orders,
    /// another none), where a cached generic plan chosen for the average
    /// can be slow for the extremes.
    const REPLAN: bool;
    /// Appends ` WHERE ` and the conditions of `filter`.
    fn push_filter(query: &mut QueryBuilder<Postgres>, filter: &Self::Filter);
    /// Whether `filter` keeps every row of the counted table.
    fn keeps_all(filter: &Self::Filter) -> bool;
}

fn select<L: Listing>(seek: &Seek, filter: &L::Filter) -> QueryBuilder<Postgres> {
    let mut query = QueryBuilder::new(format!("SELECT {}, {} FROM {}", L::COLUMNS, seek.sort_key(), L::FROM));
    L::push_filter(&mut query, filter);
    query
}

/// One page of the rows matching `filter`, sorted and positioned by `seek`.
pub async fn search<L: Listing>(
    conn: &mut PgConnection,
    filter: &L::Filter,
    seek: &Seek,
) -> Result<Page<L::Row>, DbError> {
    let mut query = select::<L>(seek, filter);
    seek.finish(&mut query);
    let rows = query.build_query_as::<L::Row>().persistent(!L::REPLAN).fetch_all(conn).await?;
    Ok(Page::from_rows(seek, rows))
}

/// Every row matching `filter` in `seek`'s order, streamed from the database
/// as it is read, so exporting a million rows holds only a few in memory.
pub fn export<L: Listing>(
    mut conn: PoolConnection<Postgres>,
    filter: L::Filter,
    seek: Seek,
) -> impl Stream<Item = Result<L::Row, sqlx::Error>> + Send + 'static {
    async_stream::try_stream! {
        let mut query = select::<L>(&seek, &filter);
        seek.finish_unlimited(&mut query);
        let mut rows = query.build_query_as::<L::Row>().fetch(&mut *conn);
        while let Some(row) = rows.try_next().await? {
            yield row;
        }
    }
}

/// How many rows match: counted, or estimated from table statistics, for
/// the whole table; estimated by the planner when filtered. Either costs
/// one planning step or one row, never a scan.
pub async fn count_matching<L: Listing>(conn: &mut PgConnection, filter: &L::Filter) -> Result<Count, DbError> {
    let (table, alias) = L::COUNTED;
    if L::keeps_all(filter) {
        return super::table_count(conn, table).await;
    }
    let mut query = QueryBuilder::new(format!("EXPLAIN (FORMAT JSON) SELECT 1 FROM {table} {alias}"));
    L::push_filter(&mut query, filter);
    Ok(Count::Estimate(super::estimated_rows(conn, query).await?))
}

/// Appends ` AND` a condition that `column` (a timestamp) falls on or after
/// the day `from` and on or before the day `to` (days in the shop's time zone), each optional.
pub fn push_days(query: &mut QueryBuilder<Postgres>, column: &str, from: Option<NaiveDate>, to: Option<NaiveDate>) {
    if let Some(from) = from {
        query
            .push(format!(" AND {column} >= "))
            .push_bind(from)
            .push("::DATE::TIMESTAMP AT TIME ZONE shop_time_zone()");
    }
    if let Some(to) = to {
        query
            .push(format!(" AND {column} < ("))
            .push_bind(to)
            .push("::DATE + 1)::TIMESTAMP AT TIME ZONE shop_time_zone()");
    }
}

/// Appends the condition that one of `columns` contains `q` literally, in
/// any letter case (served by their trigram indexes): `(a ILIKE .. OR b ILIKE ..)`.
pub fn push_contains(query: &mut QueryBuilder<Postgres>, columns: &[&str], q: &str) {
    let pattern = format!("%{}%", super::escape_like(q));
    query.push("(");
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            query.push(" OR ");
        }
        query.push(format!("{column} ILIKE ")).push_bind(pattern.clone());
    }
    query.push(")");
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Asc,
    Desc,
}

impl Dir {
    pub fn parse(s: Option<&str>) -> Option<Dir> {
        match s {
            Some("asc") => Some(Dir::Asc),
            Some("desc") => Some(Dir::Desc),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Dir::Asc => "asc",
            Dir::Desc => "desc",
        }
    }

    pub fn flip(self) -> Dir {
        match self {
            Dir::Asc => Dir::Desc,
            Dir::Desc => Dir::Asc,
        }
    }
}

/// A column a list can be sorted by.
#[derive(Debug, Clone, Copy)]
pub struct SortColumn {
    /// The name in URLs (`?sort=name`).
    pub key: &'static str,
    /// The SQL expression sorted on; an index on `(expr, id)` serves it.
    pub expr: &'static str,
    /// The SQL type the cursor's text is cast back to.
    pub sql_type: &'static str,
    /// The unique id that breaks ties, matching the index's last column.
    pub id: &'static str,
    /// The direction a first click sorts in.
    pub default_dir: Dir,
}

/// A position in a sorted list: the edge row's sort value and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub value: String,
    pub id: i64,
}

impl Cursor {
    /// Parses `value~id` as found in `?after=` and `?before=`.
    pub fn parse(raw: Option<&str>) -> Option<Cursor> {
        let (value, id) = raw?.rsplit_once('~')?;
        Some(Cursor { value: value.to_string(), id: id.parse().ok()? })
    }

    /// Whether the value can be cast to the column's SQL type.
    fn fits(&self, sql_type: &str) -> bool {
        match sql_type {
            "BIGINT" => self.value.parse::<i64>().is_ok(),
            "INTEGER" => self.value.parse::<i32>().is_ok(),
            // Only years PostgreSQL stores and prints as four digits: chrono
            // also reads year 0 and years BC, which PostgreSQL refuses.
            "TIMESTAMPTZ" => chrono::DateTime::parse_from_str(&self.value, "%Y-%m-%d %H:%M:%S%.f%#z")
                .is_ok_and(|t| (1..=9999).contains(&chrono::Datelike::year(&t))),
            _ => !self.value.contains('\0'),
        }
    }

    pub fn to_param(&self) -> String {
        format!("{}~{}", self.value, self.id)
    }
}

/// Where the requested page is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    First,
    After(Cursor),
    Before(Cursor),
    Last,
}

impl Position {
    pub fn from_query(after: Option<&str>, before: Option<&str>, last: bool) -> Position {
        if last {
            return Position::Last;
        }
        match (Cursor::parse(after), Cursor::parse(before)) {
            (Some(c), _) => Position::After(c),
            (None, Some(c)) => Position::Before(c),
            _ => Position::First,
        }
    }
}

/// A list request: sort column, direction, position and page size.
#[derive(Debug, Clone)]
pub struct Seek {
    pub column: SortColumn,
    pub dir: Dir,
    pub position: Position,
    pub limit: i64,
}

impl Seek {
    /// Chooses the column named `sort` (or the first), the direction `dir` (or the column's default).
    pub fn new(columns: &[SortColumn], sort: Option<&str>, dir: Option<&str>, position: Position, limit: i64) -> Seek {
        let column = columns.iter().find(|c| Some(c.key) == sort).copied().unwrap_or(columns[0]);
        let dir = Dir::parse(dir).unwrap_or(column.default_dir);
        // A cursor that cannot be a value of the sorted column (a hand-edited
        // or stale link) starts again from the first page.
        let position = match position {
            Position::After(c) | Position::Before(c) if !c.fits(column.sql_type) => Position::First,
            other => other,
        };
        Seek { column, dir, position, limit }
    }

    /// The same sort from the first row: for exports, which take every page.
    pub fn from_start(self) -> Seek {
        Seek { position: Position::First, ..self }
    }

    /// Whether rows are fetched in reverse and must be flipped back.
    pub fn reversed(&self) -> bool {
        matches!(self.position, Position::Before(_) | Position::Last)
    }

    /// Appends ` AND <keyset condition>` (if there is a cursor), then the
    /// `ORDER BY` and `LIMIT` of this page, with one look-ahead row.
    pub fn finish(&self, query: &mut QueryBuilder<Postgres>) {
        let scan = if self.reversed() { self.dir.flip() } else { self.dir };
        let (expr, id, ty) = (self.column.expr, self.column.id, self.column.sql_type);
        if let Position::After(c) | Position::Before(c) = &self.position {
            let op = if scan == Dir::Asc { ">" } else { "<" };
            query.push(format!(" AND ({expr}, {id}) {op} ("));
            query.push_bind(c.value.clone()).push(format!("::{ty}, ")).push_bind(c.id).push(")");
        }
        let dir = match scan {
            Dir::Asc => "ASC",
            Dir::Desc => "DESC",
        };
        query.push(format!(" ORDER BY {expr} {dir}, {id} {dir} LIMIT ")).push_bind(self.limit + 1);
    }

    /// Appends the `ORDER BY` for exporting every matching row (no page limit).
    pub fn finish_unlimited(&self, query: &mut QueryBuilder<Postgres>) {
        let (expr, id) = (self.column.expr, self.column.id);
        let dir = match self.dir {
            Dir::Asc => "ASC",
            Dir::Desc => "DESC",
        };
        query.push(format!(" ORDER BY {expr} {dir}, {id} {dir}"));
    }

    /// The sort value column every list query selects, for cursors.
    pub fn sort_key(&self) -> String {
        format!("({})::TEXT AS sort_key", self.column.expr)
    }
}

/// A row that can mark a page's edge.
pub trait Keyed {
    /// The row's sort value as text (the query selects it as `sort_key`) and id.
    fn cursor(&self) -> Cursor;
}

/// Implements [`Keyed`] for a list's row: its `sort_key` field (which every
/// list query selects) and the id field named, `keyed!(UserRow, id)`.
macro_rules! keyed {
    ($row:ty, $id:ident) => {
        impl $crate::db::listing::Keyed for $row {
            fn cursor(&self) -> $crate::db::listing::Cursor {
                $crate::db::listing::Cursor { value: self.sort_key.clone(), id: self.$id }
            }
        }
    };
}
pub(crate) use keyed;

/// One page of rows and the positions around it.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub prev: Option<Cursor>,
    pub next: Option<Cursor>,
}

impl<T: Keyed> Page<T> {
    /// Builds the page from rows fetched with one look-ahead row.
    pub fn from_rows(seek: &Seek, mut rows: Vec<T>) -> Page<T> {
        let limit = usize::try_from(seek.limit).unwrap_or(50);
        let more = rows.len() > limit;
        rows.truncate(limit);
        if seek.reversed() {
            rows.reverse();
        }
        let first = rows.first().map(Keyed::cursor);
        let last = rows.last().map(Keyed::cursor);
        let (has_prev, has_next) = match seek.position {
            Position::First => (false, more),
            Position::After(_) => (true, more),
            Position::Before(_) => (more, true),
            Position::Last => (more, false),
        };
        Page { rows, prev: if has_prev { first } else { None }, next: if has_next { last } else { None } }
    }
}

/// How many rows match: exact, or an estimate (shown as one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    Exact(i64),
    Estimate(i64),
}

impl Count {
    /// Refines the count with what the page itself shows: a single page that
    /// holds every match is an exact count, and an estimate is never below
    /// the rows already seen.
    pub fn with_page<T>(self, seek: &Seek, page: &Page<T>) -> Count {
        let seen = page.rows.len() as i64;
        match self {
            _ if seek.position == Position::First && page.next.is_none() => Count::Exact(seen),
            Count::Estimate(n) => Count::Estimate(n.max(seen)),
            exact => exact,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_must_fit_their_column() {
        let c = |v: &str| Cursor { value: v.into(), id: 1 };
        assert!(c("42").fits("BIGINT"));
        assert!(!c("abc").fits("BIGINT"));
        assert!(!c("99999999999").fits("INTEGER"));
        assert!(c("2026-11-29 04:33:23.091826+00").fits("TIMESTAMPTZ"));
        assert!(c("2026-11-29 04:33:23+00").fits("TIMESTAMPTZ"));
        assert!(!c("yesterday").fits("TIMESTAMPTZ"));
        assert!(!c("0000-01-01 00:00:00+00").fits("TIMESTAMPTZ"));
        assert!(!c("-2026-11-29 04:33:23+00").fits("TIMESTAMPTZ"));
        assert!(!c("-4714-01-01 00:00:00+00").fits("TIMESTAMPTZ"));
        assert!(c("any text ~ at all").fits("TEXT"));
        assert_eq!(Cursor::parse(Some("a~b~7")), Some(Cursor { value: "a~b".into(), id: 7 }));
        assert_eq!(Cursor::parse(Some("no-id")), None);
    }

    #[test]
    fn a_single_full_page_is_an_exact_count() {
        struct Row;
        let seek = Seek::new(
            &[SortColumn { key: "id", expr: "id", sql_type: "BIGINT", id: "id", default_dir: Dir::Asc }],
            None,
            None,
            Position::First,
            50,
        );
        let page = Page { rows: vec![Row, Row], prev: None, next: None };
        assert_eq!(Count::Estimate(900).with_page(&seek, &page), Count::Exact(2));
        let more = Page { rows: vec![Row, Row], prev: None, next: Some(Cursor { value: "2".into(), id: 2 }) };
        assert_eq!(Count::Estimate(1).with_page(&seek, &more), Count::Estimate(2));
    }
}
