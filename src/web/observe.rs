//! What operators watch: every response is logged with its method, path,
//! status, duration and a request id (also sent as `X-Request-Id`) and
//! counted for `/metrics` in Prometheus' text format; `/healthz` says the
//! process serves and `/readyz` that its database answers (and how its read
//! replicas are, without failing on them).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};
use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{ContentType, Header, Status};
use rocket::request::{FromRequest, Outcome};
use rocket::{get, routes, Data, Request, Response, State};

use crate::db::replica::{Fallback, Health, Replicas};
use crate::db::Db;

/// The metrics of this process.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    durations: HistogramVec,
    pool: IntGaugeVec,
    replica_lag: prometheus::GaugeVec,
    replica_fallbacks: IntCounterVec,
    pool_acquired: IntGauge,
    pool_waited: Gauge,
    pool_slow: IntGauge,
    pool_longest: Gauge,
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("shopdesk_http_requests_total", "HTTP requests answered, by method, route and status"),
            &["method", "route", "status"],
        )?;
        let durations = HistogramVec::new(
            HistogramOpts::new(
                "shopdesk_http_request_duration_seconds",
                "Time to answer HTTP requests, by method and route",
            )
            .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
            &["method", "route"],
        )?;
        let pool = IntGaugeVec::new(
            Opts::new(
                "shopdesk_db_pool_connections",
                "Database pool connections by state (open, idle, max), and requests waiting for one",
            ),
            &["state"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(durations.clone()))?;
        // Totals kept by the pool itself, copied in when scraped.
        let pool_acquired = IntGauge::new("shopdesk_db_pool_acquired", "Database connections handed out since start")?;
        let pool_waited = Gauge::new(
            "shopdesk_db_pool_wait_seconds",
            "Time requests spent waiting for a database connection since start",
        )?;
        let pool_slow = IntGauge::new(
            "shopdesk_db_pool_slow_waits",
            "Requests that waited more than 100 ms for a database connection since start",
        )?;
        let pool_longest = Gauge::new(
            "shopdesk_db_pool_longest_wait_seconds",
            "The longest a request waited for a database connection since start",
        )?;
        registry.register(Box::new(pool.clone()))?;
        let replica_lag = prometheus::GaugeVec::new(
            Opts::new(
                "shopdesk_replica_lag_seconds",
                "How far each read replica's replay is behind the primary, as last measured; -1 while it is down",
            ),
            &["replica"],
        )?;
        let replica_fallbacks = IntCounterVec::new(
            Opts::new(
                "shopdesk_replica_fallbacks_total",
                "Reads sent to the primary although replicas are configured, by reason (down, lagging, recent_write)",
            ),
            &["reason"],
        )?;
        registry.register(Box::new(replica_lag.clone()))?;
        registry.register(Box::new(replica_fallbacks.clone()))?;
        registry.register(Box::new(pool_acquired.clone()))?;
        registry.register(Box::new(pool_waited.clone()))?;
        registry.register(Box::new(pool_slow.clone()))?;
        registry.register(Box::new(pool_longest.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            durations,
            pool,
            replica_lag,
            replica_fallbacks,
            pool_acquired,
            pool_waited,
            pool_slow,
            pool_longest,
        })
    }
}

/// When the request arrived and its id, kept for the response.
struct Started(Instant, u64);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub struct RequestLog;

#[rocket::async_trait]
impl Fairing for RequestLog {
    fn info(&self) -> Info {
        Info { name: "Request log and metrics", kind: Kind::Request | Kind::Response }
    }

    async fn on_request(&self, request: &mut Request<'_>, _: &mut Data<'_>) {
        request.local_cache(|| Started(Instant::now(), NEXT_ID.fetch_add(1, Ordering::Relaxed)));
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        let Started(at, id) = request.local_cache(|| Started(Instant::now(), 0));
        let elapsed = at.elapsed();
        let route = request.route().map(|r| r.uri.to_string()).unwrap_or_else(|| "unmatched".into());
        let method = request.method().as_str();
        let status = response.status().code;
        // Instance-unique enough to find one request in the logs.
        let request_id = format!("{:x}-{id}", std::process::id());
        tracing::info!(
            target: "shopdesk::request",
            request_id = %request_id,
            method,
            path = %request.uri().path(),
            status,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
        response.set_header(Header::new("X-Request-Id", request_id));
        if let Some(metrics) = request.rocket().state::<Metrics>() {
            metrics.requests.with_label_values(&[method, route.as_str(), &status.to_string()]).inc();
            metrics.durations.with_label_values(&[method, route.as_str()]).observe(elapsed.as_secs_f64());
        }
    }
}

/// The bearer token `/metrics` asks for (`metrics_token` in the
/// configuration, or `ROCKET_METRICS_TOKEN`). Without one, `/metrics` is off.
pub struct MetricsToken(Option<String>);

impl MetricsToken {
    pub fn from_figment(figment: &rocket::figment::Figment) -> MetricsToken {
        let token = figment.extract_inner::<String>("metrics_token").ok().filter(|t| !t.trim().is_empty());
        if token.as_ref().is_some_and(|t| t.len() < 16) {
            tracing::warn!("metrics_token is shorter than 16 characters; use a long random one");
        }
        MetricsToken(token)
    }
}

/// Whether the request may read the metrics.
enum Access {
    /// No token is configured: there is no such page.
    Off,
    /// A token is configured and this request did not send it.
    Denied,
    Granted,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Access {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let Some(MetricsToken(Some(token))) = req.rocket().state::<MetricsToken>() else {
            return Outcome::Success(Access::Off);
        };
        let sent = req.headers().get_one("Authorization").and_then(|h| h.strip_prefix("Bearer ")).unwrap_or("");
        // Constant time, so the token cannot be guessed from response times.
        if bool::from(subtle::ConstantTimeEq::ct_eq(sent.trim().as_bytes(), token.as_bytes())) {
            Outcome::Success(Access::Granted)
        } else {
            Outcome::Success(Access::Denied)
        }
    }
}

/// Why the metrics were not shown.
#[derive(rocket::Responder)]
enum Refused {
    #[response(status = 404)]
    Off(super::errors::ErrorPageFor),
    /// Scrapers get a plain 401 asking for the token, not the sign-in page.
    #[response(status = 401, content_type = "plain")]
    Denied(&'static str, Header<'static>),
}

/// Prometheus' text format, for scrapers that send `Authorization: Bearer <metrics_token>`.
#[get("/metrics")]
async fn metrics(
    access: Access,
    metrics: &State<Metrics>,
    db: &Db,
    replicas: &State<Replicas>,
) -> Result<(ContentType, String), Refused> {
    match access {
        Access::Off => return Err(Refused::Off(super::errors::ErrorPageFor(Status::NotFound))),
        Access::Denied => {
            return Err(Refused::Denied(
                "the metrics need the bearer token configured as metrics_token\n",
                Header::new("WWW-Authenticate", "Bearer realm=\"metrics\""),
            ))
        }
        Access::Granted => {}
    }
    let pool: &sqlx::PgPool = db;
    metrics.pool.with_label_values(&["open"]).set(i64::from(pool.size()));
    metrics.pool.with_label_values(&["idle"]).set(pool.num_idle() as i64);
    metrics.pool.with_label_values(&["max"]).set(i64::from(pool.options().get_max_connections()));
    metrics.pool.with_label_values(&["waiting"]).set(db.waiting());
    for replica in replicas.list() {
        let lag = match replica.health().await {
            Health::Up { lag, .. } => lag.as_secs_f64().min(1e9),
            Health::Down | Health::Unknown => -1.0,
        };
        metrics.replica_lag.with_label_values(&[replica.name.as_str()]).set(lag);
    }
    if !replicas.is_empty() {
        for reason in Fallback::ALL {
            let counter = metrics.replica_fallbacks.with_label_values(&[reason.label()]);
            counter.inc_by(replicas.fallbacks(reason).saturating_sub(counter.get()));
        }
    }
    let waits = db.wait_totals();
    metrics.pool_acquired.set(i64::try_from(waits.acquired).unwrap_or(i64::MAX));
    metrics.pool_waited.set(waits.waited.as_secs_f64());
    metrics.pool_slow.set(i64::try_from(waits.slow).unwrap_or(i64::MAX));
    metrics.pool_longest.set(waits.longest.as_secs_f64());
    let mut body = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&metrics.registry.gather(), &mut body) {
        tracing::error!(error = %e, "could not encode metrics");
    }
    Ok((
        ContentType::new("text", "plain").with_params(("version", "0.0.4")),
        String::from_utf8_lossy(&body).into_owned(),
    ))
}

/// The process is up and serving.
#[get("/healthz")]
fn healthz() -> &'static str {
    "ok"
}

/// The database answers: ready to take traffic. Each read replica's state
/// is stated on a line of its own but never fails the check: reads fall
/// back to the primary while a replica is down or behind.
#[get("/readyz")]
async fn readyz(db: &Db, replicas: &State<Replicas>) -> (Status, String) {
    let mut answer = match crate::db::ping(db).await {
        Ok(()) => (Status::Ok, "ready".to_string()),
        Err(_) => (Status::ServiceUnavailable, "database unavailable".to_string()),
    };
    for replica in replicas.list() {
        let state = match replica.health().await {
            Health::Up { lag, .. } if lag > replicas.max_lag => {
                format!("lagging ({:.1} s behind; reads go to the primary)", lag.as_secs_f64().min(1e9))
            }
            Health::Up { lag, .. } => format!("ok ({:.3} s behind)", lag.as_secs_f64()),
            Health::Down | Health::Unknown => "down (reads go to the primary)".to_string(),
        };
        answer.1.push_str(&format!("\nreplica {}: {state}", replica.name));
    }
    answer
}

pub fn routes() -> Vec<rocket::Route> {
    routes![metrics, healthz, readyz]
}

/// Mounts these pages.
pub fn stage() -> rocket::fairing::AdHoc {
    super::stage("Health and metrics", routes())
}
