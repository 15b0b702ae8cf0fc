//! Request logs and metrics: every response is logged with its method, path,
//! status, duration and a request id (also sent as `X-Request-Id`), and
//! counted for `/metrics` in Prometheus' text format.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};
use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{ContentType, Header};
use rocket::{get, routes, Data, Request, Response, State};

use crate::db::Db;

/// The metrics of this process.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    durations: HistogramVec,
    pool: IntGaugeVec,
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
        registry.register(Box::new(pool.clone()))?;
        Ok(Metrics { registry, requests, durations, pool })
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

/// Prometheus' text format; open like `/healthz`, for scrapers.
#[get("/metrics")]
fn metrics(metrics: &State<Metrics>, db: &Db) -> (ContentType, String) {
    let pool: &sqlx::PgPool = db;
    metrics.pool.with_label_values(&["open"]).set(i64::from(pool.size()));
    metrics.pool.with_label_values(&["idle"]).set(pool.num_idle() as i64);
    metrics.pool.with_label_values(&["max"]).set(i64::from(pool.options().get_max_connections()));
    metrics.pool.with_label_values(&["waiting"]).set(crate::db::WAITING.load(std::sync::atomic::Ordering::Relaxed));
    let mut body = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&metrics.registry.gather(), &mut body) {
        tracing::error!(error = %e, "could not encode metrics");
    }
    (ContentType::new("text", "plain").with_params(("version", "0.0.4")), String::from_utf8_lossy(&body).into_owned())
}

pub fn routes() -> Vec<rocket::Route> {
    routes![metrics]
}
