//! Shopdesk: a server-rendered admin dashboard for a small shop's customers,
//! products and orders. `build_rocket` is the one place the app is assembled;
//! `main` and the tests both use it.

pub mod db;
pub mod demo;
pub mod domain;
pub mod export;
pub mod generate;
pub mod import;
pub mod jobs;
pub mod passwords;
pub mod two_factor;
pub mod web;

use std::path::PathBuf;

use rocket::fairing::AdHoc;
use rocket::figment::providers::{Env, Format, Serialized, Toml};
use rocket::figment::{Figment, Profile};
use rocket::fs::FileServer;
use rocket::{Build, Rocket};
use rocket_db_pools::Database;

use db::Db;

/// Where the shop's database lives when nothing else says.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/shopdesk";

/// The configuration file in use: `ROCKET_CONFIG` if set; else `Rocket.toml`
/// in the working directory or the nearest folder above it (where Rocket
/// looks); else `Rocket.toml` next to the `shopdesk` binary. `None` when
/// there is none: built-in defaults and environment variables apply.
pub fn config_file() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ROCKET_CONFIG") {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let cwd = std::env::current_dir().ok();
    let beside_binary = std::env::current_exe().ok().and_then(|exe| exe.parent().map(|dir| dir.join("Rocket.toml")));
    cwd.iter()
        .flat_map(|dir| dir.ancestors().map(|d| d.join("Rocket.toml")).collect::<Vec<_>>())
        .chain(beside_binary)
        .find(|path| path.is_file())
}

/// Rocket's configuration (the [`config_file`], `ROCKET_*`), with
/// `DATABASE_URL` overriding the pool URL as every sqlx user expects.
///
/// Two of Rocket's defaults change: no `Server` header is sent, and no
/// request header is trusted for the client's address (`ip_header = false`;
/// see `[default.proxy]` for running behind a proxy).
pub fn figment() -> Figment {
    let defaults = Figment::from(rocket::Config::default())
        .merge(Serialized::default("ident", false))
        .merge(Serialized::default("ip_header", false))
        .merge(Serialized::default("databases.shop.url", DEFAULT_DATABASE_URL));
    let with_file = match config_file() {
        Some(path) => defaults.merge(Toml::file_exact(path).nested()),
        None => defaults,
    };
    let figment = with_file
        .merge(Env::prefixed("ROCKET_").ignore(&["PROFILE"]).global())
        .select(Profile::from_env_or("ROCKET_PROFILE", rocket::Config::DEFAULT_PROFILE));
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => figment.merge(Serialized::global("databases.shop.url", url)),
        _ => figment,
    }
    .merge(Env::prefixed("SHOPDESK_").only(&["demo"]).global())
}

/// Whether the demo shop (with its published read-only login) is loaded:
/// as configured (`demo`, `SHOPDESK_DEMO`, `--demo`), else only in a debug
/// build (`cargo run`), never by default on a release build.
pub fn demo_enabled(figment: &Figment) -> bool {
    figment.extract_inner::<bool>("demo").unwrap_or_else(|_| *figment.profile() == rocket::Config::DEBUG_PROFILE)
}

/// The database URL the app will use under `figment`.
pub fn database_url(figment: &Figment) -> String {
    figment.extract_inner::<String>("databases.shop.url").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_string())
}

/// Assembles the whole application: pool, migrations, demo data, routes.
pub fn build_rocket(figment: Figment) -> Rocket<Build> {
    let static_dir =
        figment.extract_inner::<String>("static_dir").unwrap_or_else(|_| rocket::fs::relative!("static").to_string());
    let auth = web::auth::AuthConfig::from_figment(&figment);
    let proxy = match web::security::ProxyConfig::from_figment(&figment) {
        Ok(proxy) => proxy,
        Err(e) => {
            // Trusting nothing is the safe reading of a setting we cannot read.
            tracing::error!(error = %e, "the proxy setting is ignored");
            web::security::ProxyConfig::default()
        }
    };
    let timeouts = web::security::Timeouts::from_figment(&figment);
    let exports = web::export::Exports::from_figment(&figment);
    let export_jobs = export::job::JobSettings::from_figment(&figment);
    let metrics_token = web::observe::MetricsToken::from_figment(&figment);
    let security_headers = web::security::SecurityHeaders { secure_cookies: auth.secure_cookies };
    let zone = shop_zone(&figment);
    let dashboard = web::dashboard::DashboardConfig::from_figment(&figment);
    let leaders_refresher = dashboard.refresher();
    let job_worker = jobs::stage(&figment);
    let rocket = rocket::custom(figment)
        .manage(auth)
        .manage(proxy)
        .manage(timeouts)
        .manage(exports)
        .manage(export_jobs)
        .manage(metrics_token)
        .manage(dashboard)
        .attach(web::observe::RequestLog);
    let rocket = match zone {
        Ok(zone) => rocket.manage(zone),
        Err(message) => rocket.attach(AdHoc::try_on_ignite("Time zone", move |rocket| async move {
            tracing::error!("{message}");
            eprintln!("shopdesk: {message}");
            Err(rocket)
        })),
    };
    let rocket = match web::observe::Metrics::new() {
        Ok(metrics) => rocket.manage(metrics),
        Err(e) => {
            tracing::error!(error = %e, "metrics are unavailable");
            rocket
        }
    };
    rocket
        // Our own headers replace Rocket's default Shield, which would otherwise
        // set weaker values for some of the same headers.
        .attach(rocket::shield::Shield::new())
        .attach(security_headers)
        .attach(Db::init())
        .attach(AdHoc::try_on_ignite("Read replicas", connect_replicas))
        .attach(web::read::ReadYourWrites)
        .attach(AdHoc::try_on_ignite("Migrations and demo data", prepare_database))
        .attach(leaders_refresher)
        .attach(job_worker)
        .attach(web::auth::stage())
        .attach(web::account::stage())
        .attach(web::audit::stage())
        .attach(web::undo::stage())
        .attach(web::staff::stage())
        .attach(web::dashboard::stage())
        .attach(web::users::stage())
        .attach(web::products::stage())
        .attach(web::imports::stage())
        .attach(web::orders::stage())
        .attach(web::reports::stage())
        .attach(web::saved_views::stage())
        .attach(web::jobs::stage())
        .attach(web::export::stage())
        .attach(web::pickers::stage())
        .attach(web::observe::stage())
        .mount("/static", FileServer::from(static_dir))
        .register("/", web::errors::catchers())
}

/// The shop's time zone: `time_zone` (an IANA name such as
/// `Europe/Berlin`), UTC when unset, or why the setting cannot be used.
pub fn shop_zone(figment: &Figment) -> Result<domain::ShopZone, String> {
    match figment.extract_inner::<String>("time_zone") {
        Ok(name) => domain::ShopZone::parse(&name),
        Err(e) if e.missing() => Ok(domain::ShopZone::default()),
        Err(e) => Err(format!("time_zone must be a text such as \"Europe/Berlin\": {e}")),
    }
}

/// The read replicas configured (`replica_url` under `databases.shop`),
/// possibly none; a setting that cannot be read stops the start.
async fn connect_replicas(rocket: Rocket<Build>) -> rocket::fairing::Result {
    match db::replica::Replicas::from_figment(rocket.figment()) {
        Ok(replicas) => {
            for replica in replicas.list() {
                tracing::info!(replica = %replica.name, "lists, searches, reports and the dashboard read from a replica");
            }
            Ok(rocket.manage(replicas))
        }
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("shopdesk: {message}");
            Err(rocket)
        }
    }
}

/// Creates `new` as the first admin unless some staff account exists: once,
/// even when several instances start at the same moment (they queue on an
/// advisory lock, and the later ones find the account made). `true` if it
/// was created by this call.
pub async fn create_first_admin(pool: &sqlx::PgPool, new: &db::staff::NewStaff) -> Result<bool, db::DbError> {
    use sqlx::Connection;
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    sqlx::query!("SELECT FROM pg_advisory_xact_lock(4242002)").execute(&mut *tx).await?;
    if db::staff::count(&mut tx).await? > 0 {
        return Ok(false);
    }
    db::staff::create(&mut tx, None, new).await?;
    tx.commit().await?;
    Ok(true)
}

/// Applies pending migrations, counts days in the shop's time zone and,
/// when enabled, loads demo data into an empty shop.
async fn prepare_database(rocket: Rocket<Build>) -> rocket::fairing::Result {
    let Some(db) = Db::fetch(&rocket) else {
        return Err(rocket);
    };
    let pool: sqlx::PgPool = (***db).clone();
    // sqlx's migrator holds a PostgreSQL advisory lock while it applies
    // migrations: instances starting together apply them once, in turn.
    if let Err(e) = db::migrate(&pool).await {
        tracing::error!(error = %e, "could not apply migrations");
        return Err(rocket);
    }
    let Some(zone) = rocket.state::<domain::ShopZone>().copied() else {
        return Err(rocket);
    };
    let changed = match pool.acquire().await {
        Ok(mut conn) => db::calendar::use_time_zone(&mut conn, zone.name()).await,
        Err(e) => Err(e.into()),
    };
    match changed {
        Ok(true) => tracing::info!("days and months are now counted in {zone}; their figures were recomputed"),
        Ok(false) => {}
        Err(e) => {
            tracing::error!(error = %e, "could not count days in the time zone {zone}");
            return Err(rocket);
        }
    }
    if demo_enabled(rocket.figment()) {
        match demo::seed_if_empty(&pool).await {
            Ok(Some(summary)) => tracing::info!("{summary}"),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "could not load demo data");
                return Err(rocket);
            }
        }
    } else {
        match demo::retire_published_login(&pool).await {
            Ok(true) => tracing::warn!(
                "disabled the demo account {} because its password is published and this server is not a demo",
                demo::DEMO_VIEWER_EMAIL
            ),
            Ok(false) => {}
            Err(e) => {
                tracing::error!(error = %e, "could not check for the published demo login");
                return Err(rocket);
            }
        }
    }
    Ok(rocket)
}
