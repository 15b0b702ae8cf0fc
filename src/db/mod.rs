//! The data layer: the connection pool and one module per aggregate.
//!
//! Functions here take a plain `&mut PgConnection` (or a transaction) and return
//! plain structs; nothing in this module knows about HTTP.

pub mod alerts;
pub mod audit;
mod bulk;
pub mod calendar;
pub mod change_sets;
pub mod exports;
pub mod imports;
pub mod invoices;
pub mod jobs;
pub mod listing;
pub mod orders;
pub mod products;
pub mod purchases;
pub mod refunds;
mod replanning;
pub mod reports;
// Read replicas: their pools and where a read may go.
pub mod replica;
pub mod saved_views;
pub mod staff;
pub mod stats;
pub mod undo;
pub mod users;

pub use bulk::{Applied, BulkError, BulkPreview};
pub use replanning::Replanning;

use std::time::Duration;

use rocket::figment::Figment;
use rocket_db_pools::Database;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// The shop database, configured under `[default.databases.shop]` in `Rocket.toml`.
#[derive(Database)]
#[database("shop")]
pub struct Db(PgPool);

/// A current `sqlx::PgPool` wrapped so rocket_db_pools can manage it without
/// pulling in the old sqlx its own `sqlx` feature pins.
#[derive(Clone)]
pub struct PgPool(pub sqlx::PgPool, Waiters);

/// How many requests wait for one of this pool's connections right now,
/// and how long checkouts have waited so far (for `/metrics`): the evidence
/// that tells a slow page caused by a starved pool from one caused by its
/// statements.
#[derive(Clone, Default)]
pub struct Waiters(std::sync::Arc<WaitStats>);

#[derive(Default)]
struct WaitStats {
    now: std::sync::atomic::AtomicI64,
    acquired: std::sync::atomic::AtomicU64,
    waited_micros: std::sync::atomic::AtomicU64,
    slow: std::sync::atomic::AtomicU64,
    longest_micros: std::sync::atomic::AtomicU64,
}

/// A checkout that waits longer than this counts as slow.
const SLOW_WAIT: Duration = Duration::from_millis(100);

/// How long this pool's checkouts have waited since the process started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WaitTotals {
    /// Connections handed out.
    pub acquired: u64,
    /// Time spent waiting for them, in all.
    pub waited: Duration,
    /// Checkouts that waited longer than 100 ms.
    pub slow: u64,
    /// The longest single wait.
    pub longest: Duration,
}

impl Waiters {
    /// Counts one waiter until the returned guard is dropped: when the wait
    /// ends with a connection or an error, or the waiting request is itself
    /// dropped (a client gone, a timeout), so the count never drifts.
    fn enter(&self) -> Waiting {
        self.0.now.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Waiting(self.0.clone())
    }

    pub fn now(&self) -> i64 {
        self.0.now.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Records a checkout that waited `waited`.
    fn record(&self, waited: Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        let micros = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
        self.0.acquired.fetch_add(1, Relaxed);
        self.0.waited_micros.fetch_add(micros, Relaxed);
        self.0.longest_micros.fetch_max(micros, Relaxed);
        if waited > SLOW_WAIT {
            self.0.slow.fetch_add(1, Relaxed);
        }
    }

    pub fn totals(&self) -> WaitTotals {
        use std::sync::atomic::Ordering::Relaxed;
        WaitTotals {
            acquired: self.0.acquired.load(Relaxed),
            waited: Duration::from_micros(self.0.waited_micros.load(Relaxed)),
            slow: self.0.slow.load(Relaxed),
            longest: Duration::from_micros(self.0.longest_micros.load(Relaxed)),
        }
    }
}

/// One request waiting for a connection; see [`Waiters::enter`].
struct Waiting(std::sync::Arc<WaitStats>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl PgPool {
    /// Requests waiting for a connection of this pool right now.
    pub fn waiting(&self) -> i64 {
        self.1.now()
    }

    /// How long checkouts of this pool have waited so far.
    pub fn wait_totals(&self) -> WaitTotals {
        self.1.totals()
    }

    async fn acquire_counted(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, sqlx::Error> {
        let _waiting = self.1.enter();
        let started = std::time::Instant::now();
        let conn = self.0.acquire().await;
        if conn.is_ok() {
            self.1.record(started.elapsed());
        }
        conn
    }
}

impl std::ops::Deref for PgPool {
    type Target = sqlx::PgPool;
    fn deref(&self) -> &sqlx::PgPool {
        &self.0
    }
}

impl Db {
    /// A pooled connection. Routes that read a form take `&Db` and call this
    /// only after the form has arrived, so no connection waits on a client.
    pub async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, sqlx::Error> {
        self.0.acquire_counted().await
    }

    /// Requests waiting for a connection right now.
    pub fn waiting(&self) -> i64 {
        self.0.waiting()
    }

    /// How long checkouts have waited so far.
    pub fn wait_totals(&self) -> WaitTotals {
        self.0.wait_totals()
    }
}

/// Why the pool could not be built or could not hand out a connection.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("invalid database configuration: {0}")]
    Config(#[from] rocket::figment::Error),
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
}

/// Builds pool options from the rocket_db_pools configuration block.
pub fn pool_options(config: &rocket_db_pools::Config) -> Result<(PgPoolOptions, PgConnectOptions), sqlx::Error> {
    let connect: PgConnectOptions = config.url.parse()?;
    let options = PgPoolOptions::new()
        .max_connections(u32::try_from(config.max_connections).unwrap_or(u32::MAX))
        .min_connections(config.min_connections.unwrap_or(0))
        .acquire_timeout(Duration::from_secs(config.connect_timeout))
        .idle_timeout(config.idle_timeout.map(Duration::from_secs))
        // A broken connection surfaces as an error on use and is then discarded;
        // pinging before every checkout would add a round trip to every page.
        .test_before_acquire(false);
    Ok((options, connect))
}

#[rocket::async_trait]
impl rocket_db_pools::Pool for PgPool {
    type Connection = sqlx::pool::PoolConnection<sqlx::Postgres>;
    type Error = PoolError;

    async fn init(figment: &Figment) -> Result<Self, Self::Error> {
        let config: rocket_db_pools::Config = figment.extract()?;
        let (options, connect) = pool_options(&config)?;
        // Lazy: the pool opens connections on demand, so a database that goes
        // away and comes back is picked up again without a restart.
        Ok(PgPool(options.connect_lazy_with(connect), Waiters::default()))
    }

    async fn get(&self) -> Result<Self::Connection, Self::Error> {
        Ok(self.acquire_counted().await?)
    }

    async fn close(&self) {
        self.0.close().await;
    }
}

/// Errors of the data layer that callers must tell apart.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A named constraint refused the write; the web layer maps it to a field.
    #[error("constraint {constraint} violated")]
    Constraint { constraint: String },
    /// The row was changed by someone else since the caller read it.
    #[error("the record was changed concurrently")]
    Conflict,
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Sqlx(sqlx::Error),
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(ref db) = e {
            if let Some(name) = db.constraint() {
                return DbError::Constraint { constraint: name.to_string() };
            }
        }
        match e {
            sqlx::Error::RowNotFound => DbError::NotFound,
            other => DbError::Sqlx(other),
        }
    }
}

/// Whether the database answers.
pub async fn ping(pool: &sqlx::PgPool) -> Result<(), sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT 1 AS "one!""#).fetch_one(pool).await.map(|_| ())
}

/// The number of rows in a table: exact while small, else the planner's estimate.
pub async fn table_count(conn: &mut sqlx::PgConnection, table: &'static str) -> Result<listing::Count, DbError> {
    let count = sqlx::query!(r#"SELECT n AS "n!", exact AS "exact!" FROM row_count($1::TEXT::REGCLASS)"#, table)
        .fetch_one(conn)
        .await?;
    Ok(if count.exact { listing::Count::Exact(count.n) } else { listing::Count::Estimate(count.n) })
}

/// The planner's estimate of how many rows `query` (a `SELECT`) returns:
/// a count that costs one planning step instead of a scan.
pub async fn estimated_rows(
    conn: &mut sqlx::PgConnection,
    mut query: sqlx::QueryBuilder<sqlx::Postgres>,
) -> Result<i64, DbError> {
    let plan: serde_json::Value = query.build_query_scalar().fetch_one(conn).await?;
    Ok(plan.pointer("/0/Plan/Plan Rows").and_then(serde_json::Value::as_f64).unwrap_or(0.0).round() as i64)
}

/// Escapes `%`, `_` and `\` so a search term matches literally inside ILIKE.
pub fn escape_like(q: &str) -> String {
    let mut out = String::with_capacity(q.len());
    // Control characters (NUL above all, which PostgreSQL refuses in text)
    // can match nothing a person typed, so they are dropped.
    for c in q.trim().chars().filter(|c| !c.is_control()) {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The ILIKE pattern for texts containing `q`, or `None` when nothing
/// searchable is left of it: a search of only control characters (`%00`)
/// must find nothing rather than everything.
pub fn contains_pattern(q: &str) -> Option<String> {
    let term = escape_like(q);
    (!term.is_empty()).then(|| format!("%{term}%"))
}

/// A picker's matches for `q`: none when nothing searchable is left of it,
/// else what `search` (a checked query for the ILIKE pattern it is given)
/// finds, planned afresh for this pattern. A cached plan chosen for a common
/// pattern can be slow for a rare one, and pickers run on every keystroke.
async fn pick_matching<R, F>(
    conn: &mut sqlx::PgConnection,
    q: &str,
    search: impl FnOnce(String) -> sqlx::query::Map<'static, sqlx::Postgres, F, sqlx::postgres::PgArguments>,
) -> Result<Vec<R>, DbError>
where
    F: FnMut(sqlx::postgres::PgRow) -> Result<R, sqlx::Error> + Send,
    R: Send + Unpin,
{
    let Some(pattern) = contains_pattern(q) else {
        return Ok(Vec::new());
    };
    Ok(search(pattern).fetch_all(Replanning(conn)).await?)
}

/// A table whose rows carry a `version` that every edit moves on.
#[derive(Debug, Clone, Copy)]
enum Versioned {
    Users,
    Products,
}

/// After a versioned write touched no row: tells "gone" from "changed by someone else".
async fn missing_or_conflict(conn: &mut sqlx::PgConnection, table: Versioned, id: i64) -> Result<(), DbError> {
    let exists = match table {
        Versioned::Users => {
            sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM users WHERE id = $1) AS "exists!""#, id)
                .fetch_one(conn)
                .await?
        }
        Versioned::Products => {
            sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM products WHERE id = $1) AS "exists!""#, id)
                .fetch_one(conn)
                .await?
        }
    };
    Err(if exists { DbError::Conflict } else { DbError::NotFound })
}

/// Commits a write guarded by the version the caller read (`WHERE id = $1
/// AND version = $2`) if it touched the row; otherwise changes nothing and
/// says whether the row is gone or was changed by someone else.
async fn commit_versioned(
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    done: sqlx::postgres::PgQueryResult,
    table: Versioned,
    id: i64,
) -> Result<(), DbError> {
    if done.rows_affected() == 1 {
        tx.commit().await?;
        return Ok(());
    }
    missing_or_conflict(&mut tx, table, id).await
}

/// [`commit_versioned`] for a delete of a row that others may refer to:
/// `Ok(Err(1))` when a row added since the caller's check still refers to
/// it (the foreign key refused the delete).
async fn commit_versioned_delete(
    tx: sqlx::Transaction<'_, sqlx::Postgres>,
    deleted: Result<sqlx::postgres::PgQueryResult, sqlx::Error>,
    table: Versioned,
    id: i64,
) -> Result<Result<(), i64>, DbError> {
    match deleted {
        Ok(done) => commit_versioned(tx, done, table, id).await.map(Ok),
        Err(e) => match DbError::from(e) {
            DbError::Constraint { .. } => Ok(Err(1)),
            other => Err(other),
        },
    }
}

/// The schema migrations, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

pub async fn migrate(pool: &sqlx::PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// Connects a pool for command-line work, with the app's pool settings.
pub async fn connect(figment: &Figment) -> Result<sqlx::PgPool, PoolError> {
    let config: rocket_db_pools::Config = figment
        .focus("databases.shop")
        .join(rocket::figment::providers::Serialized::default("max_connections", 4))
        .join(rocket::figment::providers::Serialized::default("connect_timeout", 5))
        .extract()?;
    let (options, connect) = pool_options(&config)?;
    Ok(options.connect_with(connect).await?)
}

/// Creates the configured database if the server does not have it yet.
pub async fn ensure_database(url: &str) -> Result<bool, sqlx::Error> {
    use sqlx::ConnectOptions;
    let options: PgConnectOptions = url.parse()?;
    let Some(name) = options.get_database().map(str::to_string) else {
        return Ok(false);
    };
    let mut admin = options.database("postgres").connect().await?;
    let exists =
        sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS "exists!""#, name)
            .fetch_one(&mut admin)
            .await?;
    if exists {
        return Ok(false);
    }
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    match sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {quoted}"))).execute(&mut admin).await {
        Ok(_) => Ok(true),
        // Another process created it first.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => Ok(false),
        Err(e) => Err(e),
    }
}

/// Who is making a change: a staff member's id, or `None` for the system
/// (demo data, command-line tools). The audit triggers record it.
pub type Actor = Option<i64>;

/// Starts a transaction whose changes the audit trail attributes to `actor`.
pub async fn begin_as(
    conn: &mut sqlx::PgConnection,
    actor: Actor,
) -> Result<sqlx::Transaction<'_, sqlx::Postgres>, sqlx::Error> {
    use sqlx::Connection;
    let mut tx = conn.begin().await?;
    if let Some(staff_id) = actor {
        sqlx::query_scalar!("SELECT set_config('shopdesk.staff_id', $1, true)", staff_id.to_string())
            .fetch_one(&mut *tx)
            .await?;
    }
    Ok(tx)
}

#[cfg(test)]
mod tests {
    #[test]
    fn search_terms_match_literally_and_drop_control_characters() {
        assert_eq!(super::escape_like(" 50%_off\\ "), "50\\%\\_off\\\\");
        assert_eq!(super::escape_like("a\0b\u{7}c"), "abc");
    }
}
