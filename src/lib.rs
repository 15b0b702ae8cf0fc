//! Shopdesk: a server-rendered admin dashboard for a small shop's customers,
//! products and orders. `build_rocket` is the one place the app is assembled;
//! `main` and the tests both use it.

pub mod db;
pub mod demo;
pub mod generate;
pub mod passwords;
pub mod web;

use rocket::fairing::AdHoc;
use rocket::figment::providers::{Env, Serialized};
use rocket::figment::Figment;
use rocket::fs::FileServer;
use rocket::{Build, Rocket};
use rocket_db_pools::Database;

use db::Db;

/// Where the shop's database lives when nothing else says.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/shopdesk";

/// Rocket's configuration (`Rocket.toml`, `ROCKET_*`), with `DATABASE_URL`
/// overriding the pool URL as every sqlx user expects.
pub fn figment() -> Figment {
    let figment = rocket::Config::figment()
        .join(Serialized::default("databases.shop.url", DEFAULT_DATABASE_URL))
        .join(Serialized::default("demo", true));
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => figment.merge(Serialized::global("databases.shop.url", url)),
        _ => figment,
    }
    .merge(Env::prefixed("SHOPDESK_").only(&["demo"]).global())
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
    let rocket = rocket::custom(figment).manage(auth).attach(web::observe::RequestLog);
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
        .attach(web::security::SecurityHeaders)
        .attach(Db::init())
        .attach(AdHoc::try_on_ignite("Migrations and demo data", prepare_database))
        .mount("/", web::auth::routes())
        .mount("/", web::audit::routes())
        .mount("/", web::staff::routes())
        .mount("/", web::dashboard::routes())
        .mount("/", web::users::routes())
        .mount("/", web::products::routes())
        .mount("/", web::orders::routes())
        .mount("/", web::reports::routes())
        .mount("/", web::pickers::routes())
        .mount("/", web::observe::routes())
        .mount("/static", FileServer::from(static_dir))
        .register("/", web::errors::catchers())
}

/// Applies pending migrations and, when enabled, loads demo data into an empty shop.
async fn prepare_database(rocket: Rocket<Build>) -> rocket::fairing::Result {
    let Some(db) = Db::fetch(&rocket) else {
        return Err(rocket);
    };
    let pool: sqlx::PgPool = (***db).clone();
    if let Err(e) = db::migrate(&pool).await {
        tracing::error!(error = %e, "could not apply migrations");
        return Err(rocket);
    }
    let demo = rocket.figment().extract_inner::<bool>("demo").unwrap_or(true);
    if demo {
        match demo::seed_if_empty(&pool).await {
            Ok(Some(summary)) => tracing::info!("{summary}"),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "could not load demo data");
                return Err(rocket);
            }
        }
    }
    Ok(rocket)
}
