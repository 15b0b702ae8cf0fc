//! Streaming read replicas: their pools, how far behind the primary each one
//! is (checked at most about once a second, not per request), and the choice
//! of where a read may go. Writes and transactions never come here.
//!
//! A read goes to a replica only when one is configured, answers, lags less
//! than `replica_max_lag_ms`, and has replayed past the last write of the
//! session asking (its `after` position); otherwise it goes to the primary
//! and the fallback is counted by reason.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rocket::figment::Figment;
use rocket::tokio::sync::Mutex;
use serde::Deserialize;
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgConnectOptions;
use sqlx::Postgres;

/// The `application_name` of replica connections, so operators (and tests)
/// can tell them apart in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "shopdesk-replica";

/// How long a replica's measured health is trusted before it is measured again.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// A position in the write-ahead log (`pg_lsn`), comparable across servers
/// of one replication chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Lsn(pub u64);

impl Lsn {
    /// Parses PostgreSQL's text form, two hex halves: `16/B374D848`.
    pub fn parse(text: &str) -> Option<Lsn> {
        let (high, low) = text.trim().split_once('/')?;
        let high = u32::from_str_radix(high, 16).ok()?;
        let low = u32::from_str_radix(low, 16).ok()?;
        Some(Lsn((u64::from(high) << 32) | u64::from(low)))
    }
}

impl std::fmt::Display for Lsn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// What the last check of a replica found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Health {
    /// Not checked yet.
    Unknown,
    /// It refused or failed the check (or a connection since).
    Down,
    /// It answers; `lag` is how far its replay is behind (zero when it has
    /// replayed all it received while streaming), `replayed` how far it got.
    Up { lag: Duration, replayed: Lsn },
}

/// Why a read went to the primary although replicas are configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// No replica answered.
    Down,
    /// Every answering replica lagged more than the bound.
    Lagging,
    /// The session wrote something the replicas have not replayed yet.
    RecentWrite,
}

impl Fallback {
    pub const ALL: [Fallback; 3] = [Fallback::Down, Fallback::Lagging, Fallback::RecentWrite];

    pub fn label(self) -> &'static str {
        match self {
            Fallback::Down => "down",
            Fallback::Lagging => "lagging",
            Fallback::RecentWrite => "recent_write",
        }
    }
}

/// The replica settings under `[default.databases.shop]`.
#[derive(Debug, Deserialize, Default)]
struct Settings {
    #[serde(default)]
    replica_url: Option<Urls>,
    #[serde(default)]
    replica_max_lag_ms: Option<u64>,
    #[serde(default)]
    read_your_writes_seconds: Option<u64>,
    #[serde(default)]
    max_connections: Option<usize>,
    #[serde(default)]
    idle_timeout: Option<u64>,
}

/// One URL or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Urls {
    One(String),
    Many(Vec<String>),
}

impl Urls {
    fn into_vec(self) -> Vec<String> {
        let all = match self {
            Urls::One(url) => vec![url],
            Urls::Many(urls) => urls,
        };
        all.into_iter().map(|u| u.trim().to_string()).filter(|u| !u.is_empty()).collect()
    }
}

/// One replica: its pool and its last measured health.
pub struct Replica {
    pub pool: sqlx::PgPool,
    /// The URL without its password, for logs and `/readyz`.
    pub name: String,
    checked: Mutex<(Option<Instant>, Health)>,
}

/// The configured replicas (possibly none) and what reads have done.
pub struct Replicas {
    list: Vec<Replica>,
    /// Lag beyond which a replica is not read.
    pub max_lag: Duration,
    /// How long after a write its session may still be sent to the primary.
    pub read_your_writes: Duration,
    next: AtomicUsize,
    fallbacks: [AtomicU64; 3],
}

impl Replicas {
    /// No replicas: every read goes to the primary and nothing is counted.
    pub fn none() -> Replicas {
        Replicas {
            list: Vec::new(),
            max_lag: Duration::from_secs(5),
            read_your_writes: Duration::from_secs(60),
            next: AtomicUsize::new(0),
            fallbacks: Default::default(),
        }
    }

    /// The replicas configured under `databases.shop` (`replica_url`, one
    /// or a list; `replica_max_lag_ms`, default 5000;
    /// `read_your_writes_seconds`, default 60). Their pools open connections
    /// on demand, so a replica that is down at start-up is picked up later.
    pub fn from_figment(figment: &Figment) -> Result<Replicas, String> {
        let settings: Settings = match figment.extract_inner("databases.shop") {
            Ok(settings) => settings,
            Err(e) if e.missing() => Settings::default(),
            Err(e) => return Err(format!("the replica settings under databases.shop cannot be read: {e}")),
        };
        let mut replicas = Replicas::none();
        if let Some(ms) = settings.replica_max_lag_ms {
            replicas.max_lag = Duration::from_millis(ms);
        }
        if let Some(seconds) = settings.read_your_writes_seconds {
            replicas.read_your_writes = Duration::from_secs(seconds);
        }
        for url in settings.replica_url.map(Urls::into_vec).unwrap_or_default() {
            let connect: PgConnectOptions =
                url.parse().map_err(|e| format!("a replica_url is not a PostgreSQL URL: {e}"))?;
            let name = describe(&connect);
            let connect = connect.application_name(APPLICATION_NAME);
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(u32::try_from(settings.max_connections.unwrap_or(16)).unwrap_or(16))
                // A slow or unreachable replica must not hold a page up for
                // long: the primary answers instead.
                .acquire_timeout(Duration::from_secs(1))
                .idle_timeout(settings.idle_timeout.map(Duration::from_secs))
                // A replica stopped or restarted leaves dead idle connections;
                // a ping on checkout finds them before a page uses one.
                .test_before_acquire(true)
                .connect_lazy_with(connect);
            replicas.list.push(Replica { pool, name, checked: Mutex::new((None, Health::Unknown)) });
        }
        Ok(replicas)
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn list(&self) -> &[Replica] {
        &self.list
    }

    /// Reads sent to the primary for `reason` since start.
    pub fn fallbacks(&self, reason: Fallback) -> u64 {
        self.fallbacks[reason as usize].load(Ordering::Relaxed)
    }

    /// Counts one read sent to the primary for `reason`.
    pub fn count(&self, reason: Fallback) {
        self.fallbacks[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A replica connection for a read by a session whose last write is at
    /// `after` (if it is still within its window), or `None` when the read
    /// must go to the primary (the reason is counted). Replicas take turns.
    pub async fn connection(&self, after: Option<Lsn>) -> Option<PoolConnection<Postgres>> {
        if self.list.is_empty() {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut reason = Fallback::Down;
        for offset in 0..self.list.len() {
            let replica = &self.list[(start + offset) % self.list.len()];
            match replica.health().await {
                Health::Unknown | Health::Down => continue,
                Health::Up { lag, .. } if lag > self.max_lag => {
                    reason = reason.max_of(Fallback::Lagging);
                    continue;
                }
                Health::Up { replayed, .. } if after.is_some_and(|lsn| replayed < lsn) => {
                    reason = reason.max_of(Fallback::RecentWrite);
                    continue;
                }
                Health::Up { .. } => {}
            }
            match replica.pool.acquire().await {
                Ok(conn) => return Some(conn),
                Err(e) => {
                    tracing::warn!(replica = %replica.name, error = %e, "replica unavailable; reading from the primary");
                    replica.mark_down().await;
                }
            }
        }
        self.count(reason);
        None
    }
}

impl Fallback {
    /// The more telling of two reasons: a recent write explains a skipped
    /// replica better than lag, and lag better than an outage.
    fn max_of(self, other: Fallback) -> Fallback {
        let rank = |f: Fallback| match f {
            Fallback::Down => 0,
            Fallback::Lagging => 1,
            Fallback::RecentWrite => 2,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

impl Replica {
    /// Its health, measured again when the last measure is older than
    /// [`CHECK_EVERY`]. Concurrent callers wait for one measure.
    pub async fn health(&self) -> Health {
        let mut checked = self.checked.lock().await;
        if checked.0.is_some_and(|at| at.elapsed() < CHECK_EVERY) {
            return checked.1;
        }
        let health = match rocket::tokio::time::timeout(Duration::from_secs(1), self.measure()).await {
            Ok(Ok(health)) => health,
            Ok(Err(e)) => {
                if checked.1 != Health::Down {
                    tracing::warn!(replica = %self.name, error = %e, "replica unavailable");
                }
                Health::Down
            }
            Err(_) => Health::Down,
        };
        *checked = (Some(Instant::now()), health);
        health
    }

    async fn mark_down(&self) {
        *self.checked.lock().await = (Some(Instant::now()), Health::Down);
    }

    async fn measure(&self) -> Result<Health, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        let replay = replay_state(&mut conn).await?;
        Ok(match replay {
            // Not a replica at all (a primary given as replica_url): always current.
            ReplayState { in_recovery: false, .. } => Health::Up { lag: Duration::ZERO, replayed: Lsn(u64::MAX) },
            ReplayState { replayed: Some(replayed), lag_ms: Some(ms), .. } => {
                Health::Up { lag: Duration::from_secs_f64(ms.max(0.0) / 1000.0), replayed }
            }
            // Nothing replayed to measure against: treat as too far behind.
            ReplayState { replayed, .. } => Health::Up { lag: Duration::MAX, replayed: replayed.unwrap_or(Lsn(0)) },
        })
    }
}

/// How far a server has replayed the primary's log.
#[derive(Debug)]
pub struct ReplayState {
    pub in_recovery: bool,
    pub replayed: Option<Lsn>,
    /// Milliseconds its replay is behind: zero while streaming with all it
    /// received replayed, else the age of the last transaction it replayed.
    pub lag_ms: Option<f64>,
}

/// How far this server (a replica) has replayed the primary's log.
pub async fn replay_state(conn: &mut sqlx::PgConnection) -> Result<ReplayState, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT pg_is_in_recovery() AS "in_recovery!",
                  pg_last_wal_replay_lsn()::text AS replayed,
                  CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
                             AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')
                       THEN 0::float8
                       ELSE (EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000)::float8
                  END AS lag_ms"#
    )
    .fetch_one(conn)
    .await?;
    Ok(ReplayState {
        in_recovery: row.in_recovery,
        replayed: row.replayed.as_deref().and_then(Lsn::parse),
        lag_ms: row.lag_ms,
    })
}

/// Where the primary's log ends now: every transaction committed before this
/// call is at or before it. The insert position, not the write position:
/// with `synchronous_commit = off` a commit returns before its record is
/// written, so the write position can still be short of it.
pub async fn current_position(conn: &mut sqlx::PgConnection) -> Result<Lsn, sqlx::Error> {
    let text = sqlx::query_scalar!(r#"SELECT pg_current_wal_insert_lsn()::text AS "lsn!""#).fetch_one(conn).await?;
    Lsn::parse(&text).ok_or_else(|| sqlx::Error::Protocol(format!("unexpected WAL position {text:?}")))
}

/// A replica's name fit for logs: its host, port and database, no password.
fn describe(connect: &PgConnectOptions) -> String {
    format!("{}:{}/{}", connect.get_host(), connect.get_port(), connect.get_database().unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_positions_parse_and_order_like_postgresql() {
        assert_eq!(Lsn::parse("0/16B3748"), Some(Lsn(0x16B3748)));
        assert_eq!(Lsn::parse("16/B374D848"), Some(Lsn((0x16 << 32) | 0xB374D848)));
        assert!(Lsn::parse("1/0") > Lsn::parse("0/FFFFFFFF"));
        assert_eq!(Lsn::parse("16/B374D848").map(|l| l.to_string()).as_deref(), Some("16/B374D848"));
        assert_eq!(Lsn::parse("nonsense"), None);
        assert_eq!(Lsn::parse("1/"), None);
        assert_eq!(Lsn::parse("100000000/0"), None);
    }

    #[test]
    fn replica_urls_are_logged_without_passwords() {
        let connect: PgConnectOptions = "postgres://app:secret@db2:5433/shop".parse().expect("a URL");
        assert_eq!(describe(&connect), "db2:5433/shop");
    }

    #[test]
    fn one_url_or_a_list_configures_replicas() {
        use rocket::figment::providers::Serialized;
        let one = Figment::new().merge(Serialized::global("databases.shop.replica_url", "postgres://a/shop"));
        let many = Figment::new()
            .merge(Serialized::global("databases.shop.replica_url", vec!["postgres://a/shop", "postgres://b/shop"]))
            .merge(Serialized::global("databases.shop.replica_max_lag_ms", 250));
        let none = Figment::new().merge(Serialized::global("databases.shop.url", "postgres://p/shop"));
        let rt = rocket::tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            assert_eq!(Replicas::from_figment(&one).map(|r| r.list().len()), Ok(1));
            let many = Replicas::from_figment(&many).expect("two replicas");
            assert_eq!(many.list().len(), 2);
            assert_eq!(many.max_lag, Duration::from_millis(250));
            assert!(Replicas::from_figment(&none).expect("none").is_empty());
        });
    }
}
