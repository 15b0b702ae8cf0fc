//! Customers: reading, searching and writing the `users` table.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::listing::{self, keyed, Dir, Listing, SortColumn};
use super::{Actor, DbError, Versioned};
use crate::domain::{Email, Money};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub email: Email,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A row of the customers list, with the customer's order figures.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub name: String,
    pub email: Email,
    pub created_at: DateTime<Utc>,
    /// Orders that are not cancelled.
    pub order_count: i64,
    pub revenue_cents: Money,
    pub sort_key: String,
}

keyed!(UserRow, id);

/// Filters of the customers list. Stored with an export job, which applies
/// them when it runs.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Filter {
    /// Part of the name or email, in any letter case.
    pub q: String,
    /// Only customers with (`Some(true)`) or without (`Some(false)`) orders.
    pub has_orders: Option<bool>,
    /// Signed up on or after this day (in the shop's time zone).
    pub joined_from: Option<chrono::NaiveDate>,
    /// Signed up on or before this day (in the shop's time zone).
    pub joined_to: Option<chrono::NaiveDate>,
}

/// The customers list.
pub struct List;

impl Listing for List {
    type Row = UserRow;
    type Filter = Filter;
    const COLUMNS: &'static str =
        "u.id, u.name, u.email, u.created_at, s.active_order_count AS order_count, s.revenue_cents";
    const FROM: &'static str = "users u JOIN customer_stats s ON s.user_id = u.id";
    const COUNTED: (&'static str, &'static str) = ("users", "u");
    const SORTS: &'static [SortColumn] = &[
        SortColumn { key: "joined", expr: "u.created_at", sql_type: "TIMESTAMPTZ", id: "u.id", default_dir: Dir::Desc },
        SortColumn { key: "name", expr: "lower(u.name)", sql_type: "TEXT", id: "u.id", default_dir: Dir::Asc },
        SortColumn { key: "email", expr: "lower(u.email)", sql_type: "TEXT", id: "u.id", default_dir: Dir::Asc },
        SortColumn {
            key: "orders",
            expr: "s.active_order_count",
            sql_type: "BIGINT",
            id: "s.user_id",
            default_dir: Dir::Desc,
        },
        SortColumn {
            key: "revenue",
            expr: "s.revenue_cents",
            sql_type: "BIGINT",
            id: "s.user_id",
            default_dir: Dir::Desc,
        },
    ];
    const REPLAN: bool = true;

    fn keeps_all(filter: &Filter) -> bool {
        filter.q.is_empty() && filter.has_orders.is_none() && filter.joined_from.is_none() && filter.joined_to.is_none()
    }

    fn push_filter(query: &mut QueryBuilder<Postgres>, filter: &Filter) {
        query.push(" WHERE true");
        if !filter.q.is_empty() {
            query.push(" AND ");
            listing::push_contains(query, &["u.name", "u.email"], &filter.q);
        }
        match filter.has_orders {
            Some(true) => {
                query.push(" AND u.id IN (SELECT user_id FROM customer_stats WHERE order_count > 0)");
            }
            Some(false) => {
                query.push(" AND u.id IN (SELECT user_id FROM customer_stats WHERE order_count = 0)");
            }
            None => {}
        }
        listing::push_days(query, "u.created_at", filter.joined_from, filter.joined_to);
    }
}

/// The customers list with no filter: the same statement, kept prepared on
/// the connection (one round trip, no parsing). Only filtered pages need
/// planning afresh for their values; this one's plan is always the walk of
/// its sort's index.
struct Everyone;

impl Listing for Everyone {
    type Row = UserRow;
    type Filter = Filter;
    const COLUMNS: &'static str = List::COLUMNS;
    const FROM: &'static str = List::FROM;
    const COUNTED: (&'static str, &'static str) = List::COUNTED;
    const SORTS: &'static [SortColumn] = List::SORTS;
    const REPLAN: bool = false;

    fn keeps_all(_: &Filter) -> bool {
        true
    }

    fn push_filter(query: &mut QueryBuilder<Postgres>, filter: &Filter) {
        List::push_filter(query, filter);
    }
}

/// Whether a search expected to match `matches` of `table` customers is
/// answered faster by fetching its matches through the trigram indexes and
/// sorting them than by walking the sort order until a page of `page` rows
/// has matched. A walk reads about `page × table ÷ matches` rows, fetching
/// the matches reads each once, so the matches come first when
/// `matches² < page × table` (measured at 100,000 customers: "nguyen", 2,514
/// matches, is faster walked; 294 matches are faster fetched). `table` is
/// `None` when the table was never analysed.
pub fn matches_first(matches: i64, table: Option<i64>, page: i64) -> bool {
    let (m, p) = (matches.max(1) as f64, page.max(1) as f64);
    let n = table.map_or(m, |n| n.max(1) as f64);
    m * m < p * n
}

/// A page of the customers list and how many match, the search planned for
/// its term: PostgreSQL's estimate of the matches (the count the page shows
/// anyway) decides between walking the sort order with the term as a filter
/// (a common term fills a page within a few rows) and fetching the matches
/// through the name and email trigram indexes, sorting them and only then
/// reading the page's figures (a rare term would make the walk read
/// thousands of rows for a page).
pub async fn search(
    conn: &mut PgConnection,
    filter: &Filter,
    seek: &listing::Seek,
) -> Result<(listing::Page<UserRow>, listing::Count), DbError> {
    let count = listing::count_matching::<List>(conn, filter).await?;
    if List::keeps_all(filter) {
        return Ok((listing::search::<Everyone>(conn, filter, seek).await?, count));
    }
    // Sorts by the kept figures walk `customer_stats` instead.
    if filter.q.is_empty() || seek.column.id != "u.id" {
        return Ok((listing::search::<List>(conn, filter, seek).await?, count));
    }
    let estimate = match count {
        listing::Count::Exact(n) | listing::Count::Estimate(n) => n,
    };
    let table = sqlx::query_scalar!(r#"SELECT reltuples::BIGINT AS "n!" FROM pg_class WHERE oid = 'users'::REGCLASS"#)
        .fetch_one(&mut *conn)
        .await?;
    if !matches_first(estimate, (table >= 0).then_some(table), seek.limit) {
        return Ok((listing::search::<List>(conn, filter, seek).await?, count));
    }
    // The matches, found through the trigram indexes alone (a materialized
    // CTE has no order to walk); then the other filters, the cursor, the
    // sort and the limit of the page; then the figures of its rows only.
    let mut query =
        QueryBuilder::new("WITH matches AS MATERIALIZED (SELECT id, name, email, created_at FROM users u WHERE ");
    listing::push_contains(&mut query, &["u.name", "u.email"], &filter.q);
    query.push("), page AS MATERIALIZED (SELECT id, name, email, created_at FROM matches u");
    List::push_filter(&mut query, &Filter { q: String::new(), ..filter.clone() });
    seek.finish(&mut query);
    let scan = if seek.reversed() { seek.dir.flip() } else { seek.dir };
    let dir = match scan {
        Dir::Asc => "ASC",
        Dir::Desc => "DESC",
    };
    query.push(format!(
        ") SELECT {}, {} FROM page u JOIN customer_stats s ON s.user_id = u.id ORDER BY {} {dir}, u.id {dir}",
        List::COLUMNS,
        seek.sort_key(),
        seek.column.expr
    ));
    let rows = query.build_query_as::<UserRow>().persistent(false).fetch_all(conn).await?;
    Ok((listing::Page::from_rows(seek, rows), count))
}

/// What a create or edit form supplies once validated.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub name: String,
    pub email: Email,
}

/// A short option for pickers and dropdowns.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserChoice {
    pub id: i64,
    pub name: String,
    pub email: Email,
}

/// A customer's kept figures (see `customer_stats`).
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct Figures {
    /// Every order, whatever its status (any order keeps the customer from being deleted).
    pub all_orders: i64,
    /// Orders that are not cancelled: what "orders" means on every page.
    pub order_count: i64,
    /// Quantity × unit price over orders that are not cancelled.
    pub revenue_cents: Money,
    /// Distinct products bought on orders that are not cancelled.
    pub product_count: i64,
}

impl Figures {
    pub fn cancelled(&self) -> i64 {
        self.all_orders - self.order_count
    }
}

/// The customer's figures, kept up to date by the database: one row, however many orders.
pub async fn figures(conn: &mut PgConnection, id: i64) -> Result<Figures, DbError> {
    Ok(sqlx::query_as!(
        Figures,
        r#"SELECT order_count AS all_orders, active_order_count AS order_count,
                  revenue_cents AS "revenue_cents: Money", product_count
             FROM customer_stats WHERE user_id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?
    .unwrap_or_default())
}

pub async fn find(conn: &mut PgConnection, id: i64) -> Result<Option<User>, DbError> {
    Ok(sqlx::query_as!(
        User,
        r#"SELECT id, name, email AS "email: Email", version, created_at, updated_at FROM users WHERE id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?)
}

/// Most matches a picker offers at once.
pub const PICK_LIMIT: i64 = 20;

/// Customers whose name or email contains `q`, by name: for pickers.
pub async fn pick(conn: &mut PgConnection, q: &str) -> Result<Vec<UserChoice>, DbError> {
    super::pick_matching(conn, q, |pattern| {
        sqlx::query_as!(
            UserChoice,
            r#"SELECT id, name, email AS "email: Email" FROM users WHERE name ILIKE $1 OR email ILIKE $1
                ORDER BY lower(name), id LIMIT $2"#,
            pattern,
            PICK_LIMIT
        )
    })
    .await
}

/// The customer with this id as a choice, if there is one.
pub async fn choice(conn: &mut PgConnection, id: i64) -> Result<Option<UserChoice>, DbError> {
    Ok(sqlx::query_as!(UserChoice, r#"SELECT id, name, email AS "email: Email" FROM users WHERE id = $1"#, id)
        .fetch_optional(conn)
        .await?)
}

pub async fn create(conn: &mut PgConnection, actor: Actor, user: &NewUser) -> Result<i64, DbError> {
    let mut tx = super::begin_as(conn, actor).await?;
    let id = sqlx::query_scalar!(
        "INSERT INTO users (name, email) VALUES ($1, $2) RETURNING id",
        user.name,
        user.email.as_str()
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Saves the edit only if nobody changed the customer since `version` was read.
pub async fn update(
    conn: &mut PgConnection,
    actor: Actor,
    id: i64,
    version: i32,
    user: &NewUser,
) -> Result<(), DbError> {
    let mut tx = super::begin_as(conn, actor).await?;
    let updated = sqlx::query!(
        "UPDATE users SET name = $3, email = $4, version = version + 1, updated_at = now()
          WHERE id = $1 AND version = $2",
        id,
        version,
        user.name,
        user.email.as_str()
    )
    .execute(&mut *tx)
    .await?;
    super::commit_versioned(tx, updated, Versioned::Users, id).await
}

/// Deletes a customer who has no orders. `Ok(Err(n))` says they still have `n` orders.
pub async fn delete(conn: &mut PgConnection, actor: Actor, id: i64, version: i32) -> Result<Result<(), i64>, DbError> {
    let mut tx = super::begin_as(conn, actor).await?;
    let order_count = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM orders WHERE user_id = $1"#, id)
        .fetch_one(&mut *tx)
        .await?;
    if order_count > 0 {
        return Ok(Err(order_count));
    }
    // An order placed between the check and the delete: the foreign key holds.
    let deleted = sqlx::query!("DELETE FROM users WHERE id = $1 AND version = $2", id, version).execute(&mut *tx).await;
    super::commit_versioned_delete(tx, deleted, Versioned::Users, id).await
}

pub async fn count(conn: &mut PgConnection) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM users"#).fetch_one(conn).await?)
}
