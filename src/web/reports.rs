//! The reports page: who buys most, who brings the most revenue, what sells.

use askama::Template;
use askama_web::WebTemplate;
use rocket::{get, routes};
use rocket_db_pools::Connection;

use super::{filters, AppError, Chrome};
use crate::db::reports::{self, CustomerFigures, ProductFigures};
use crate::db::Db;

/// Rows shown in each report.
const REPORT_ROWS: i64 = 10;

#[derive(Template, WebTemplate)]
#[template(path = "reports.html")]
struct ReportsPage {
    chrome: Chrome,
    top_customers: Vec<CustomerFigures>,
    revenue: Vec<CustomerFigures>,
    best_sellers: Vec<ProductFigures>,
}

#[get("/reports")]
async fn page(chrome: Chrome, mut db: Connection<Db>) -> Result<ReportsPage, AppError> {
    let top_customers = reports::top_customers(&mut db, REPORT_ROWS).await?;
    let revenue = reports::revenue_per_customer(&mut db, REPORT_ROWS).await?;
    let best_sellers = reports::best_sellers(&mut db, REPORT_ROWS).await?;
    Ok(ReportsPage { chrome: chrome.on("reports"), top_customers, revenue, best_sellers })
}

pub fn routes() -> Vec<rocket::Route> {
    routes![page]
}
