//! Read replicas, proven on a real streaming replica: each test starts a
//! PostgreSQL primary of its own (initdb, in a temporary folder, on a free
//! port, with replication allowed), copies it with `pg_basebackup -R` into a
//! replica on another port, and points the app at both. The shared test
//! server is left alone: it may not allow replication, and changing that
//! would need a restart.
//!
//! Run as root (as CI does), the PostgreSQL programs run as `postgres`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Datelike;
use rocket::http::Status;
use serde_json::json;
use shopdesk::db::replica::Lsn;
use sqlx::PgPool;

use crate::harness::{free_port, TestApp};

/// The folder of the newest installed PostgreSQL's programs.
fn pg_bin(program: &str) -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| dir.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    versions.sort_by_key(|p| p.file_name().and_then(|n| n.to_str()).and_then(|n| n.parse::<u32>().ok()).unwrap_or(0));
    match versions.last() {
        Some(version) => version.join("bin").join(program),
        None => PathBuf::from(program),
    }
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// A PostgreSQL program, to be run as `postgres` when we are root.
fn pg_command(program: &str) -> Command {
    if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(pg_bin(program));
        command
    } else {
        Command::new(pg_bin(program))
    }
}

/// Runs a PostgreSQL program; panics with its output if it fails.
fn run_pg(program: &str, args: &[&str]) {
    let output = pg_command(program).args(args).output().unwrap_or_else(|e| panic!("could not run {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A running PostgreSQL server in a folder of its own, stopped when dropped.
struct Server {
    data: PathBuf,
    port: u16,
    running: bool,
}

impl Server {
    fn start(data: &Path, port: u16, settings: &[&str]) -> Server {
        let socket_dir = data.parent().expect("a parent folder").display().to_string();
        let mut options = format!("-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={socket_dir}");
        for setting in settings {
            options.push_str(" -c ");
            options.push_str(setting);
        }
        let log = data.with_extension("log").display().to_string();
        let data_dir = data.display().to_string();
        run_pg("pg_ctl", &["-D", &data_dir, "-l", &log, "-o", &options, "-w", "-t", "60", "start"]);
        Server { data: data.to_path_buf(), port, running: true }
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn stop(&mut self) {
        if self.running {
            run_pg("pg_ctl", &["-D", &self.data.display().to_string(), "-m", "fast", "-w", "stop"]);
            self.running = false;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.running {
            let _ = pg_command("pg_ctl")
                .args(["-D", &self.data.display().to_string(), "-m", "immediate", "-w", "stop"])
                .output();
        }
    }
}

/// A primary with a streaming replica of it, and the shop database on both.
struct Replicated {
    // Dropped in this order: the replica, the primary, then their folder.
    replica: Server,
    primary: Server,
    _dir: tempfile::TempDir,
}

const DATABASE: &str = "shop";

impl Replicated {
    async fn start() -> Replicated {
        let dir = tempfile::tempdir().expect("a temporary folder");
        if running_as_root() {
            let status = Command::new("chown").args(["postgres:postgres"]).arg(dir.path()).status();
            assert!(status.is_ok_and(|s| s.success()), "chown the temporary folder to postgres");
        }
        let primary_data = dir.path().join("primary");
        let replica_data = dir.path().join("replica");
        // initdb's pg_hba.conf trusts local replication connections too.
        run_pg(
            "initdb",
            &["-D", &primary_data.display().to_string(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
        );
        let quick = ["fsync=off", "synchronous_commit=off", "full_page_writes=off", "shared_buffers=16MB"];
        let mut primary_settings = vec!["wal_level=replica", "max_wal_senders=4"];
        primary_settings.extend(quick);
        let primary = Server::start(&primary_data, free_port(), &primary_settings);
        let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&primary.url("postgres"))
            .await
            .expect("connect to the test primary");
        sqlx::Executor::execute(&mut admin, sqlx::AssertSqlSafe(format!("CREATE DATABASE {DATABASE}")))
            .await
            .expect("create the shop database");
        run_pg(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &primary.port.to_string(),
                "-U",
                "postgres",
                "-D",
                &replica_data.display().to_string(),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
            ],
        );
        let replica = Server::start(&replica_data, free_port(), &quick);
        Replicated { replica, primary, _dir: dir }
    }

    /// The replica settings an app needs to read from this replica. The lag
    /// bound is generous: these tests pause replay and still want the
    /// replica read, to show what a session that did not write sees.
    fn settings(&self) -> Vec<(&'static str, serde_json::Value)> {
        vec![
            ("databases.shop.replica_url", json!(self.replica.url(DATABASE))),
            ("databases.shop.replica_max_lag_ms", json!(600_000)),
            ("secret_key", json!("hPRYyVRiMyxpw5sBB1XeCMN1kFsDCqKvBi2QJxBVHQk=")),
        ]
    }

    async fn replica_pool(&self) -> PgPool {
        PgPool::connect(&self.replica.url(DATABASE)).await.expect("connect to the replica")
    }

    /// Waits until the replica has replayed everything the primary has
    /// written, then for the app's measure of it (kept about a second) to
    /// be taken afresh.
    async fn caught_up(&self, app: &TestApp) {
        let replica = self.replica_pool().await;
        let target = lsn(&app.pool, "SELECT pg_current_wal_lsn()::text").await;
        let started = Instant::now();
        while lsn(&replica, "SELECT pg_last_wal_replay_lsn()::text").await < target {
            assert!(started.elapsed() < Duration::from_secs(30), "the replica did not catch up");
            rocket::tokio::time::sleep(Duration::from_millis(50)).await;
        }
        replica.close().await;
        rocket::tokio::time::sleep(shopdesk::db::replica::CHECK_EVERY + Duration::from_millis(200)).await;
    }
}

async fn lsn(pool: &PgPool, sql: &'static str) -> Lsn {
    let text: String = sqlx::query_scalar(sql).fetch_one(pool).await.expect("a WAL position");
    Lsn::parse(&text).expect("a WAL position in text")
}

/// Whether a statement the app ran on the replica was a page's (the list's
/// last statement), not the app's own measure of the replica's lag.
fn a_page_read(statements: &[String]) -> bool {
    statements.iter().any(|q| !q.contains("pg_last_wal_replay_lsn") && q.contains("SELECT"))
}

/// The last statements of the app's connections to the replica.
async fn replica_statements(replicated: &Replicated) -> Vec<String> {
    let replica = replicated.replica_pool().await;
    let statements: Vec<String> = sqlx::query_scalar(
        "SELECT query FROM pg_stat_activity WHERE application_name = 'shopdesk-replica' AND datname = $1",
    )
    .bind(DATABASE)
    .fetch_all(&replica)
    .await
    .expect("pg_stat_activity on the replica");
    replica.close().await;
    statements
}

/// Ends the app's connections to the replica (waiting until they are gone),
/// so that the statements found there next are those of the next page.
async fn forget_replica_statements(replicated: &Replicated) {
    let replica = replicated.replica_pool().await;
    sqlx::query(
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
          WHERE application_name = 'shopdesk-replica' AND datname = $1",
    )
    .bind(DATABASE)
    .execute(&replica)
    .await
    .expect("end the app's replica connections");
    replica.close().await;
}

/// `path` as `app` shows it, having checked that the page was read on the
/// replica: the app's replica connections are ended first, so only this
/// page's statements can be found there.
async fn read_on_replica(replicated: &Replicated, app: &TestApp, path: &str) -> crate::harness::Page {
    forget_replica_statements(replicated).await;
    let page = app.get(path).await;
    assert_eq!(page.status, Status::Ok, "{path}: {}", page.body);
    let on_replica = replica_statements(replicated).await;
    assert!(a_page_read(&on_replica), "{path} was not read on the replica: {on_replica:?}");
    page
}

/// A page's own content, without the navigation around it (which names the
/// staff member signed in).
fn main_of(body: &str) -> &str {
    let start = body.find("<main").unwrap_or(0);
    let end = body[start..].find("</main>").map_or(body.len(), |end| start + end);
    &body[start..end]
}

fn fallbacks(metrics: &str, reason: &str) -> u64 {
    let prefix = format!("shopdesk_replica_fallbacks_total{{reason=\"{reason}\"}} ");
    metrics.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|n| n.trim().parse().ok()).unwrap_or(0)
}

#[rocket::async_test]
async fn lists_read_from_the_replica_and_a_session_sees_its_own_edit_while_replay_is_paused() {
    let replicated = Replicated::start().await;
    let settings = replicated.settings();
    let app = TestApp::on_database(&replicated.primary.url(DATABASE), &settings).await;
    app.sign_in_as("admin@test.example", "admin").await;
    let other = app.second_app(&settings).await;
    other.sign_in_as("viewer@test.example", "viewer").await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    // The first read after signing in (a write) goes to the primary, and
    // learns the log position the replica must reach before the next.
    app.get("/users").await;
    other.get("/users").await;
    replicated.caught_up(&app).await;

    // A list page reads from the replica.
    let list = app.get("/users").await;
    assert_eq!(list.status, Status::Ok);
    assert!(list.body.contains("Ada Lovelace"), "{}", list.body);
    let on_replica = replica_statements(&replicated).await;
    assert!(
        a_page_read(&on_replica),
        "the list was not read on the replica: {on_replica:?}\n{}\n{}",
        app.get("/readyz").await.body,
        app.metrics().await.body
    );

    // Replay stops: what the primary gets now, the replica does not show.
    let replica = replicated.replica_pool().await;
    sqlx::query("SELECT pg_wal_replay_pause()").execute(&replica).await.expect("pause replay");
    app.customer("Grace Hopper", "grace@example.com").await;
    let stale = app.get("/users").await;
    assert!(stale.body.contains("Ada Lovelace"), "{}", stale.body);
    assert!(!stale.body.contains("Grace Hopper"), "the list was not read from the paused replica");

    // An edit, and the page it redirects to, show the new value...
    let version: i64 = sqlx::query_scalar("SELECT version::BIGINT FROM users WHERE id = $1")
        .bind(ada)
        .fetch_one(&app.pool)
        .await
        .expect("the customer's version");
    let after_edit = app.edit_customer(ada, "Ada King", "ada@example.com", version).await;
    assert_eq!(after_edit.status, Status::Ok, "{}", after_edit.body);
    assert!(after_edit.body.contains("Ada King"), "{}", after_edit.body);
    // ...and so do the lists and searches this session reads next.
    for path in ["/users", "/users?q=ada", "/pickers/customers?q=ada"] {
        let page = app.get(path).await;
        assert_eq!(page.status, Status::Ok, "{path}");
        assert!(
            page.body.contains("Ada King"),
            "{path} showed a stale value after the session's own edit: {}",
            page.body
        );
        assert!(!page.body.contains("Ada Lovelace"), "{path}: {}", page.body);
    }
    assert!(fallbacks(&app.metrics().await.body, "recent_write") > 0);
    // A session that changed nothing still reads the paused replica.
    let elsewhere = other.get("/users").await;
    assert!(elsewhere.body.contains("Ada Lovelace"), "{}", elsewhere.body);

    // Replay resumes; once the replica has the edit, everyone reads it there.
    sqlx::query("SELECT pg_wal_replay_resume()").execute(&replica).await.expect("resume replay");
    replica.close().await;
    replicated.caught_up(&app).await;
    let caught_up = other.get("/users").await;
    assert!(caught_up.body.contains("Ada King") && caught_up.body.contains("Grace Hopper"), "{}", caught_up.body);
    let before = fallbacks(&app.metrics().await.body, "recent_write");
    let mine = app.get("/users").await;
    assert!(mine.body.contains("Ada King"), "{}", mine.body);
    assert_eq!(fallbacks(&app.metrics().await.body, "recent_write"), before, "the session still avoided the replica");
}

#[rocket::async_test]
async fn a_stopped_replica_changes_nothing_a_user_sees() {
    let mut replicated = Replicated::start().await;
    let app = TestApp::on_database(&replicated.primary.url(DATABASE), &replicated.settings()).await;
    app.sign_in_as("admin@test.example", "admin").await;
    let customer = app.customer("Ada Lovelace", "ada@example.com").await;
    let product = app.product("Lamp", "LAMP-1", 2500, 10).await;
    app.place_order(customer, &[(product, 2)]).await;
    app.get("/products").await;
    replicated.caught_up(&app).await;
    assert_eq!(app.get("/products").await.status, Status::Ok);
    let on_replica = replica_statements(&replicated).await;
    assert!(a_page_read(&on_replica), "the list was not read on the replica: {on_replica:?}");
    let ready = app.get("/readyz").await;
    assert!(ready.body.contains("ok ("), "{}", ready.body);

    replicated.replica.stop();
    // At once (the app last saw the replica answering) and after its next check.
    for round in 0..2 {
        for (path, shows) in [
            ("/users", "Ada Lovelace"),
            ("/users?q=ada", "Ada Lovelace"),
            ("/products", "LAMP-1"),
            ("/orders", "Ada Lovelace"),
            ("/audit", "Lamp"),
            ("/pickers/customers?q=ada", "Ada Lovelace"),
            ("/pickers/products?q=lamp", "LAMP-1"),
            ("/", "Ada Lovelace"),
            ("/?period=year", "Ada Lovelace"),
            ("/reports", "Ada Lovelace"),
            ("/reports?period=30d", "Ada Lovelace"),
            ("/reports/top-customers.csv?period=30d", "Ada Lovelace"),
            ("/orders.csv", "Ada Lovelace"),
        ] {
            let page = app.get(path).await;
            assert_eq!(page.status, Status::Ok, "round {round}: {path}: {}", page.body);
            assert!(page.body.contains(shows), "round {round}: {path} does not show {shows}: {}", page.body);
        }
        rocket::tokio::time::sleep(shopdesk::db::replica::CHECK_EVERY + Duration::from_millis(200)).await;
    }
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, Status::Ok, "a replica outage must not fail the readiness check");
    assert!(ready.body.contains("down"), "{}", ready.body);
    let metrics = app.metrics().await.body;
    assert!(fallbacks(&metrics, "down") > 0, "{metrics}");
    assert!(metrics.contains("shopdesk_replica_lag_seconds{replica=") && metrics.contains("} -1"), "{metrics}");
}

/// The pages of figures a replica serves: the dashboard of 30 days and of
/// the year, the reports of all time and of 30 days, a report download and
/// a list's export.
const FIGURES: [&str; 6] = [
    "/?period=30d",
    "/?period=year",
    "/reports",
    "/reports?period=30d",
    "/reports/top-customers.csv?period=30d",
    "/orders.csv",
];

#[rocket::async_test]
async fn the_dashboard_reports_and_report_downloads_read_from_the_replica_with_the_primarys_figures() {
    let replicated = Replicated::start().await;
    // Page views work the leaders out themselves (no refresher), so that a
    // view on the replica has to work out what nothing kept there yet.
    let mut settings = replicated.settings();
    settings.push(("dashboard.refresh_seconds", json!(0)));
    let app = TestApp::on_database(&replicated.primary.url(DATABASE), &settings).await;
    app.sign_in_as("admin@test.example", "admin").await;
    // Another server of the shop, with no replica: it reads the primary.
    let primary_only = app.second_app(&[("dashboard.refresh_seconds", json!(0))]).await;
    primary_only.sign_in_as("manager@test.example", "admin").await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let grace = app.customer("Grace Hopper", "grace@example.com").await;
    let lamp = app.product("Lamp", "LAMP-1", 2500, 6).await;
    let vase = app.product("Vase", "VASE-1", 4000, 50).await;
    app.place_order(ada, &[(lamp, 2), (vase, 1)]).await;
    let earlier = app.place_order(ada, &[(vase, 3)]).await;
    // Earlier this year, outside the last 30 days.
    let this_year = chrono::Utc::now().date_naive().with_ordinal(1).expect("the first of January");
    let day = std::cmp::max(this_year, chrono::Utc::now().date_naive() - chrono::Days::new(60));
    app.set_placed_on(earlier, &day.to_string()).await;
    app.get("/users").await;
    replicated.caught_up(&app).await;

    // Served from the replica, they show what the primary shows.
    for path in FIGURES {
        let replica = read_on_replica(&replicated, &app, path).await;
        let primary = primary_only.get(path).await;
        assert_eq!(primary.status, Status::Ok, "{path}: {}", primary.body);
        assert!(replica.body.contains("Ada Lovelace"), "{path}: {}", replica.body);
        assert_eq!(main_of(&replica.body), main_of(&primary.body), "{path}: the replica's figures differ");
    }
    // The lamp running low, with its pace summed on the replica.
    let dashboard = app.get("/?period=30d").await;
    assert!(dashboard.body.contains("2 sold in 30 days"), "{}", main_of(&dashboard.body));

    // Replay stops: an order the primary gets now is missing from every
    // one of those pages, so they were all read on the replica.
    let replica = replicated.replica_pool().await;
    sqlx::query("SELECT pg_wal_replay_pause()").execute(&replica).await.expect("pause replay");
    primary_only.place_order(grace, &[(vase, 4)]).await;
    for path in FIGURES {
        assert!(primary_only.get(path).await.body.contains("Grace Hopper"), "{path} on the primary");
        let stale = app.get(path).await;
        assert_eq!(stale.status, Status::Ok, "{path}: {}", stale.body);
        assert!(!stale.body.contains("Grace Hopper"), "{path} was not read from the paused replica");
    }

    // Replay resumes: once the replica has the order, it shows it too.
    sqlx::query("SELECT pg_wal_replay_resume()").execute(&replica).await.expect("resume replay");
    replica.close().await;
    replicated.caught_up(&app).await;
    for path in FIGURES {
        let replica = read_on_replica(&replicated, &app, path).await;
        let primary = primary_only.get(path).await;
        assert!(replica.body.contains("Grace Hopper"), "{path}: {}", replica.body);
        assert_eq!(main_of(&replica.body), main_of(&primary.body), "{path}: the replica's figures differ");
    }
}
