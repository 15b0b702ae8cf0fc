//! The reports page: who buys most, who brings the most revenue, what sells,
//! and revenue by month; each also as a CSV download. Rankings show ties as
//! ties (a shared rank, every leader named) and break them by a stated
//! second figure; shares are of the shop's whole total.

use askama::Template;
use askama_web::WebTemplate;
use futures::StreamExt;
use rocket::{get, routes, State};
use rocket_db_pools::Connection;
use serde::Serialize;

use super::export::{Csv, Exports};
use super::period::PeriodQuery;
use super::{filters, AppError, Chrome};
use crate::db::reports::{self, CustomerFigures, Month, ProductFigures, ReportTotals, TIE_COUNT_LIMIT};
use crate::db::staff::Staff;
use crate::db::Db;
use crate::domain::{Email, Money, Sku};

/// Rows shown in each report.
const REPORT_ROWS: i64 = 10;
/// Months shown in the revenue chart.
const CHART_MONTHS: i64 = 24;

#[derive(Template, WebTemplate)]
#[template(path = "reports.html")]
struct ReportsPage {
    chrome: Chrome,
    top_customers: Vec<CustomerFigures>,
    revenue: Vec<CustomerFigures>,
    best_sellers: Vec<ProductFigures>,
    months: Vec<Month>,
    chart: String,
    totals: ReportTotals,
}

impl ReportsPage {
    /// `part` as a percentage of `whole`, to one decimal: "12.5%".
    fn share(&self, part: &i64, whole: &i64) -> String {
        if *whole <= 0 {
            return "0%".to_string();
        }
        let tenths = (i128::from(*part) * 1000 + i128::from(*whole) / 2) / i128::from(*whole);
        if tenths == 0 && *part > 0 {
            return "<0.1%".to_string();
        }
        format!("{}.{}%", tenths / 10, tenths % 10)
    }

    /// The customers sharing first place by orders (those listed).
    fn leaders(&self) -> Vec<&CustomerFigures> {
        self.top_customers.iter().filter(|c| c.rank == 1).collect()
    }

    /// How many more share first place than are listed, as words
    /// ("2 more customers"), or nothing.
    fn more_leaders(&self) -> Option<String> {
        let listed = self.leaders().len() as i64;
        let all = self.totals.first_by_orders;
        (all > listed).then(|| {
            let more = all - listed;
            let at_least = if all >= TIE_COUNT_LIMIT { "at least " } else { "" };
            format!("{at_least}{}", filters::counted(more, "more customer", "more customers"))
        })
    }
}

#[get("/reports?<period..>")]
pub(super) async fn page(chrome: Chrome, mut db: Connection<Db>, period: PeriodQuery) -> Result<ReportsPage, AppError> {
    let _ = period;
    let top_customers = reports::top_customers(&mut db, REPORT_ROWS).await?;
    let revenue = reports::revenue_per_customer(&mut db, REPORT_ROWS).await?;
    let best_sellers = reports::best_sellers(&mut db, REPORT_ROWS).await?;
    let months = reports::revenue_by_month(&mut db, CHART_MONTHS).await?;
    let chart = String::new();
    let totals = reports::report_totals(&mut db).await?;
    Ok(ReportsPage { chrome: chrome.on("reports"), top_customers, revenue, best_sellers, months, chart, totals })
}

#[derive(Serialize)]
struct CustomerCsv {
    /// Shared by customers level on the ranked figure.
    rank: i64,
    customer_id: i64,
    name: String,
    email: Email,
    orders: i64,
    revenue: Money,
}

async fn customers_csv(filename: &str, db: &Db, exports: &Exports, by_revenue: bool) -> Result<Csv, AppError> {
    let slot = exports.slot().await?;
    let rows = reports::export_customers(db.conn().await?, by_revenue).map(|row| {
        row.map(|c| CustomerCsv {
            rank: c.rank,
            customer_id: c.user_id,
            name: c.name,
            email: c.email,
            orders: c.order_count,
            revenue: c.revenue_cents,
        })
    });
    Csv::spool(exports, slot, filename, &["rank", "customer_id", "name", "email", "orders", "revenue"], rows).await
}

#[get("/reports/top-customers.csv")]
async fn top_customers_csv(_signed_in: Staff, db: &Db, exports: &State<Exports>) -> Result<Csv, AppError> {
    customers_csv("top-customers.csv", db, exports, false).await
}

#[get("/reports/revenue-per-customer.csv")]
async fn revenue_csv(_signed_in: Staff, db: &Db, exports: &State<Exports>) -> Result<Csv, AppError> {
    customers_csv("revenue-per-customer.csv", db, exports, true).await
}

#[derive(Serialize)]
struct ProductCsv {
    rank: i64,
    product_id: i64,
    name: String,
    sku: Sku,
    units_sold: i64,
    revenue: Money,
}

#[get("/reports/best-sellers.csv")]
async fn best_sellers_csv(_signed_in: Staff, db: &Db, exports: &State<Exports>) -> Result<Csv, AppError> {
    let slot = exports.slot().await?;
    let rows = reports::export_best_sellers(db.conn().await?).map(|row| {
        row.map(|p| ProductCsv {
            rank: p.rank,
            product_id: p.product_id,
            name: p.name,
            sku: p.sku,
            units_sold: p.units_sold,
            revenue: p.revenue_cents,
        })
    });
    let header = &["rank", "product_id", "name", "sku", "units_sold", "revenue"];
    Csv::spool(exports, slot, "best-sellers.csv", header, rows).await
}

#[derive(Serialize)]
struct MonthCsv {
    month: String,
    orders: i64,
    revenue: Money,
}

#[get("/reports/revenue-by-month.csv")]
async fn months_csv(_signed_in: Staff, db: &Db, exports: &State<Exports>) -> Result<Csv, AppError> {
    let slot = exports.slot().await?;
    let months = reports::revenue_by_month(&mut *db.conn().await?, i64::MAX).await?;
    let rows = futures::stream::iter(months.into_iter().map(|m| {
        Ok::<_, AppError>(MonthCsv {
            month: m.month.format("%Y-%m").to_string(),
            orders: m.order_count,
            revenue: m.revenue_cents,
        })
    }));
    Csv::spool(exports, slot, "revenue-by-month.csv", &["month", "orders", "revenue"], rows).await
}

pub fn routes() -> Vec<rocket::Route> {
    routes![page, top_customers_csv, revenue_csv, best_sellers_csv, months_csv]
}
