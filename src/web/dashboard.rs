//! The home page: headline figures and recent orders.

use askama::Template;
use askama_web::WebTemplate;
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

pub fn routes() -> Vec<rocket::Route> {
    routes![dashboard]
}

/// Mounts these pages.
pub fn stage() -> rocket::fairing::AdHoc {
    super::stage("Dashboard", routes())
}
