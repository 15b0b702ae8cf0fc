//! The job worker inside the server: on lift-off it starts `[jobs] workers`
//! tasks that claim queued jobs (see `db::jobs` for the queue and why it is
//! our own) and apply them batch by batch, and one task that delivers stock
//! alerts to the configured webhook. At shutdown they stop between batches
//! and put their job back in the queue for the next start (or another
//! instance) to resume.

use std::sync::Mutex;
use std::time::Duration;

use hmac::{Hmac, Mac};
use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket::tokio::sync::watch;
use rocket::tokio::task::JoinHandle;
use rocket::{tokio, Orbit, Rocket};
use rocket_db_pools::Database;
use sha2::Sha256;
use sqlx::PgPool;

use crate::db::jobs::{Claimed, Step, Work};
use crate::db::{self, Db};
use crate::export::job::{self as export_job, JobSettings};

/// `[default.jobs]`: how the worker runs, and when a bulk action becomes a job.
#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// Worker tasks in this server; 0 runs no job here (another instance may).
    pub workers: usize,
    /// Targets changed per batch (one transaction each).
    pub batch_rows: i64,
    /// A bulk action on more rows than this runs as a job.
    pub threshold_rows: i64,
    /// How often an idle worker looks for work.
    pub poll: Duration,
    /// A running job whose heartbeat is older than this is taken over.
    pub stale_after: Duration,
}

impl JobsConfig {
    pub fn from_figment(figment: &Figment) -> JobsConfig {
        let int = |key: &str, default: i64, range: std::ops::RangeInclusive<i64>| {
            figment.extract_inner::<i64>(key).ok().filter(|n| range.contains(n)).unwrap_or(default)
        };
        let secs = |key: &str, default: f64| {
            let value = figment.extract_inner::<f64>(key).ok().filter(|s| (0.01..=3600.0).contains(s));
            Duration::from_secs_f64(value.unwrap_or(default))
        };
        JobsConfig {
            workers: int("jobs.workers", 1, 0..=16) as usize,
            batch_rows: int("jobs.batch_rows", 1000, 1..=100_000),
            threshold_rows: int("jobs.threshold_rows", 10_000, 0..=i64::MAX),
            poll: secs("jobs.poll_seconds", 1.0),
            stale_after: secs("jobs.stale_seconds", 60.0),
        }
    }
}

/// `[default.alerts]`: where stock alerts go.
#[derive(Debug, Clone)]
pub struct AlertsConfig {
    /// The webhook's URL; no alert is sent without one.
    pub webhook_url: Option<String>,
    /// The key of the `X-Shopdesk-Signature` HMAC.
    pub webhook_secret: String,
    /// Attempts per alert before it is given up.
    pub max_attempts: i32,
    /// The wait after the first failure; it doubles with every further one.
    pub retry_after: Duration,
}

impl AlertsConfig {
    pub fn from_figment(figment: &Figment) -> AlertsConfig {
        let url = figment.extract_inner::<String>("alerts.webhook_url").ok().filter(|u| !u.trim().is_empty());
        let retry = figment.extract_inner::<f64>("alerts.retry_seconds").ok().filter(|s| (0.01..=3600.0).contains(s));
        AlertsConfig {
            webhook_url: url,
            webhook_secret: figment.extract_inner::<String>("alerts.webhook_secret").unwrap_or_default(),
            max_attempts: figment
                .extract_inner::<i32>("alerts.max_attempts")
                .ok()
                .filter(|n| (1..=50).contains(n))
                .unwrap_or(8),
            retry_after: Duration::from_secs_f64(retry.unwrap_or(30.0)),
        }
    }

    /// The wait before the attempt after `attempts` failed ones: doubling, at most a day.
    fn backoff(&self, attempts: i32) -> f64 {
        let doublings = attempts.saturating_sub(1).clamp(0, 30);
        (self.retry_after.as_secs_f64() * 2f64.powi(doublings)).min(86_400.0)
    }
}

/// `sha256=<hex>`: the HMAC-SHA256 of `body` under `secret`, as sent in
/// `X-Shopdesk-Signature`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The running tasks, and how to tell them to stop.
struct Running {
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// Manages the jobs' settings and starts and stops the worker with the server.
pub fn stage(figment: &Figment) -> AdHoc {
    let config = JobsConfig::from_figment(figment);
    let alerts = AlertsConfig::from_figment(figment);
    let reorder_point = figment
        .extract_inner::<i32>("dashboard.reorder_point")
        .ok()
        .or_else(|| figment.extract_inner::<i32>("dashboard.low_stock").ok())
        .filter(|n| (0..=1_000_000).contains(n));
    AdHoc::on_ignite("Jobs", move |rocket| async move {
        if let (Some(n), Some(db)) = (reorder_point, Db::fetch(&rocket)) {
            let changed = match db.acquire().await {
                Ok(mut conn) => db::alerts::use_default_reorder_point(&mut conn, n).await,
                Err(e) => Err(e.into()),
            };
            match changed {
                Ok(true) => tracing::info!("new products now get the reorder point {n}"),
                Ok(false) => {}
                Err(e) => tracing::error!(error = %e, "could not set the default reorder point"),
            }
        }
        let (stop, _) = watch::channel(false);
        rocket
            .manage(config)
            .manage(alerts)
            .manage(Running { stop, tasks: Mutex::new(Vec::new()) })
            .attach(AdHoc::on_liftoff("Job worker", |rocket| Box::pin(start(rocket))))
            .attach(AdHoc::on_shutdown("Job worker", |rocket| Box::pin(stop_all(rocket))))
    })
}

async fn start(rocket: &Rocket<Orbit>) {
    let (Some(db), Some(config), Some(alerts), Some(running), Some(exports)) = (
        Db::fetch(rocket),
        rocket.state::<JobsConfig>().cloned(),
        rocket.state::<AlertsConfig>().cloned(),
        rocket.state::<Running>(),
        rocket.state::<JobSettings>().cloned(),
    ) else {
        return;
    };
    if config.workers == 0 {
        return;
    }
    let pool: PgPool = (***db).clone();
    let instance = format!("{}-{:08x}", std::process::id(), rand::random::<u32>());
    let Ok(mut tasks) = running.tasks.lock() else {
        return;
    };
    for n in 0..config.workers {
        let worker = Worker {
            pool: pool.clone(),
            instance: format!("{instance}-{n}"),
            config: config.clone(),
            exports: exports.clone(),
            stop: running.stop.subscribe(),
        };
        tasks.push(tokio::spawn(worker.run()));
    }
    if alerts.webhook_url.is_some() {
        tasks.push(tokio::spawn(deliver_alerts(pool, alerts, config.poll, running.stop.subscribe())));
    }
    tracing::info!(workers = config.workers, instance, "job worker started");
}

async fn stop_all(rocket: &Rocket<Orbit>) {
    let Some(running) = rocket.state::<Running>() else {
        return;
    };
    running.stop.send_replace(true);
    let tasks = match running.tasks.lock() {
        Ok(mut tasks) => std::mem::take(&mut *tasks),
        Err(_) => return,
    };
    for task in tasks {
        // A batch takes moments; past this the process is going anyway.
        let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    }
}

/// Sleeps `for_`, or less if told to stop; says whether to go on.
async fn pause(stop: &mut watch::Receiver<bool>, for_: Duration) -> bool {
    if *stop.borrow() {
        return false;
    }
    tokio::select! {
        _ = tokio::time::sleep(for_) => !*stop.borrow(),
        _ = stop.changed() => false,
    }
}

struct Worker {
    pool: PgPool,
    instance: String,
    config: JobsConfig,
    exports: JobSettings,
    stop: watch::Receiver<bool>,
}

impl Worker {
    async fn run(mut self) {
        let mut purged: Option<std::time::Instant> = None;
        loop {
            if *self.stop.borrow() {
                return;
            }
            // Expired export files go while the worker has nothing else to do.
            if purged.is_none_or(|at| at.elapsed() >= export_job::PURGE_EVERY) {
                export_job::purge(&self.pool).await;
                purged = Some(std::time::Instant::now());
            }
            let stale = self.config.stale_after.as_secs_f64().ceil() as i64;
            let claimed = match self.pool.acquire().await {
                Ok(mut conn) => db::jobs::claim(&mut conn, &self.instance, stale).await,
                Err(e) => Err(e.into()),
            };
            match claimed {
                Ok(Some(job)) => self.work_on(job).await,
                Ok(None) => {
                    if !pause(&mut self.stop, self.config.poll).await {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not look for jobs");
                    if !pause(&mut self.stop, self.config.poll.max(Duration::from_secs(1))).await {
                        return;
                    }
                }
            }
        }
    }

    /// Applies batches until the job ends, is lost, or the server stops.
    async fn work_on(&mut self, job: Claimed) {
        tracing::info!(job = job.id, "job started");
        loop {
            if *self.stop.borrow() {
                if let Ok(mut conn) = self.pool.acquire().await {
                    if let Err(e) = db::jobs::release(&mut conn, job.id, &self.instance).await {
                        tracing::warn!(job = job.id, error = %e, "could not put the job back in the queue");
                    }
                }
                return;
            }
            let step = match job.work {
                // An export's batches take the connections they need themselves.
                Work::Export => {
                    export_job::run_batch(&self.pool, &self.instance, job.id, &self.exports, self.config.batch_rows)
                        .await
                }
                _ => match self.pool.acquire().await {
                    Ok(mut conn) => db::jobs::run_batch(&mut conn, &self.instance, job, self.config.batch_rows).await,
                    Err(e) => Err(e.into()),
                },
            };
            match step {
                Ok(Step::More) => {}
                Ok(Step::Over(state)) => {
                    tracing::info!(job = job.id, state = state.as_str(), "job ended");
                    return;
                }
                Ok(Step::Lost) => {
                    tracing::warn!(job = job.id, "another instance took the job over");
                    return;
                }
                Err(e) => {
                    tracing::error!(job = job.id, error = %e, "a batch of the job failed");
                    let reason = match job.work {
                        Work::Export => export_job::FAILED,
                        _ => {
                            "A batch could not be applied, so that batch changed nothing; the batches \
                             before it stay applied. The server log has the details."
                        }
                    };
                    let failed = match self.pool.acquire().await {
                        Ok(mut conn) => db::jobs::fail(&mut conn, job.id, &self.instance, reason).await,
                        Err(e) => Err(e.into()),
                    };
                    if let Err(e) = failed {
                        // Its heartbeat stops, so a worker resumes it later.
                        tracing::error!(job = job.id, error = %e, "could not mark the job failed");
                    }
                    return;
                }
            }
        }
    }
}

/// Sends due stock alerts to the webhook, signed, retrying failures with a
/// doubling wait until `max_attempts`.
async fn deliver_alerts(pool: PgPool, alerts: AlertsConfig, poll: Duration, mut stop: watch::Receiver<bool>) {
    let Some(url) = alerts.webhook_url.clone() else {
        return;
    };
    let client = match reqwest::Client::builder().timeout(Duration::from_secs(10)).build() {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "stock alerts cannot be sent");
            return;
        }
    };
    loop {
        let due = match pool.acquire().await {
            // Leased for longer than an attempt can take (the client's timeout).
            Ok(mut conn) => db::alerts::lease_due(&mut conn, 20, 60.0).await,
            Err(e) => Err(e.into()),
        };
        let due = due.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not read the stock alerts");
            Vec::new()
        });
        if due.is_empty() && !pause(&mut stop, poll).await {
            return;
        }
        for alert in due {
            let sent = client
                .post(&url)
                .header("Content-Type", "application/json")
                .header("X-Shopdesk-Signature", signature(&alerts.webhook_secret, alert.body.as_bytes()))
                .body(alert.body.clone())
                .send()
                .await;
            let error = match sent {
                Ok(answer) if answer.status().is_success() => None,
                Ok(answer) => Some(format!("the webhook answered {}", answer.status())),
                Err(e) => Some(format!("the webhook could not be reached: {e}")),
            };
            let Ok(mut conn) = pool.acquire().await else {
                continue;
            };
            let recorded = match error {
                None => db::alerts::delivered(&mut conn, alert.id).await,
                Some(error) => {
                    let give_up = alert.attempts >= alerts.max_attempts;
                    tracing::warn!(alert = alert.id, attempts = alert.attempts, give_up, "{error}");
                    db::alerts::failed(&mut conn, alert.id, &error, alerts.backoff(alert.attempts), give_up).await
                }
            };
            if let Err(e) = recorded {
                tracing::warn!(alert = alert.id, error = %e, "could not record a stock alert's delivery");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_the_hmac_sha256_of_the_body() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn retries_wait_longer_each_time_within_a_day() {
        let alerts = AlertsConfig {
            webhook_url: None,
            webhook_secret: String::new(),
            max_attempts: 8,
            retry_after: Duration::from_secs(30),
        };
        assert_eq!(alerts.backoff(1), 30.0);
        assert_eq!(alerts.backoff(3), 120.0);
        assert_eq!(alerts.backoff(40), 86_400.0);
    }
}
