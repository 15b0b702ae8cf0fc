//! The home page: headline figures, recent orders, and health endpoints.

use askama::Template;
use askama_web::WebTemplate;
use rocket::http::Status;
use rocket::{get, routes};
use rocket_db_pools::Connection;

use super::{filters, AppError, Chrome};
use crate::db::orders::{self, OrderRow};
use crate::db::reports::{self, Totals};
use crate::db::Db;

#[derive(Template, WebTemplate)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    totals: Totals,
    recent: Vec<OrderRow>,
}

#[get("/")]
async fn dashboard(chrome: Chrome, mut db: Connection<Db>) -> Result<DashboardPage, AppError> {
    let totals = reports::totals(&mut db).await?;
    let recent = orders::recent(&mut db, 10).await?;
    Ok(DashboardPage { chrome: chrome.on("dashboard"), totals, recent })
}

/// The process is up and serving.
#[get("/healthz")]
fn healthz() -> &'static str {
    "ok"
}

/// The database answers: ready to take traffic.
#[get("/readyz")]
async fn readyz(db: &Db) -> (Status, &'static str) {
    let pool: &sqlx::PgPool = db;
    match sqlx::query("SELECT 1").execute(pool).await {
        Ok(_) => (Status::Ok, "ready"),
        Err(_) => (Status::ServiceUnavailable, "database unavailable"),
    }
}

pub fn routes() -> Vec<rocket::Route> {
    routes![dashboard, healthz, readyz]
}
