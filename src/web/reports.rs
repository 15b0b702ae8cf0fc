//! The reports page: who buys most, who brings the most revenue, what sells,
//! and revenue by month; each also as a CSV or XLSX download. Rankings show ties as
//! ties (a shared rank, every leader named) and break them by a stated
//! second figure; shares are of the shop's whole total.

use askama::Template;
use askama_web::WebTemplate;
use futures::StreamExt;
use rocket::{get, routes, State};
use rocket_db_pools::Connection;

use super::export::{Cell, Column, ExportFile, Exports, Format, Record};
use super::{filters, AppError, Chrome};
use crate::db::reports::{self, CustomerFigures, Month, ProductFigures, ReportTotals, TIE_COUNT_LIMIT};
use crate::db::staff::Staff;
use crate::db::Db;

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

#[get("/reports")]
async fn page(chrome: Chrome, mut db: Connection<Db>) -> Result<ReportsPage, AppError> {
    let top_customers = reports::top_customers(&mut db, REPORT_ROWS).await?;
    let revenue = reports::revenue_per_customer(&mut db, REPORT_ROWS).await?;
    let best_sellers = reports::best_sellers(&mut db, REPORT_ROWS).await?;
    let months = reports::revenue_by_month(&mut db, CHART_MONTHS).await?;
    let chart = super::charts::revenue_by_month(&months, "revenue-chart");
    let totals = reports::report_totals(&mut db).await?;
    Ok(ReportsPage { chrome: chrome.on("reports"), top_customers, revenue, best_sellers, months, chart, totals })
}

/// One customer in a ranking's exports.
struct CustomerRecord(CustomerFigures);

impl Record for CustomerRecord {
    const COLUMNS: &'static [Column] = &[
        // Shared by customers level on the ranked figure.
        Column::new("rank", 8.0),
        Column::new("customer_id", 12.0),
        Column::new("name", 28.0),
        Column::new("email", 32.0),
        Column::new("orders", 10.0),
        Column::new("revenue", 14.0),
    ];

    fn cells(self) -> Vec<Cell> {
        let c = self.0;
        vec![
            c.rank.into(),
            c.user_id.into(),
            c.name.into(),
            c.email.to_string().into(),
            c.order_count.into(),
            c.revenue_cents.into(),
        ]
    }
}

async fn customers_export(
    format: Format,
    stem: &str,
    db: &Db,
    exports: &Exports,
    by_revenue: bool,
) -> Result<ExportFile, AppError> {
    let (slot, conn) = exports.open(db).await?;
    let rows = reports::export_customers(conn, by_revenue).map(|row| row.map(CustomerRecord));
    ExportFile::spool(exports, slot, format, stem, rows).await
}

#[get("/reports/top-customers.csv")]
async fn top_customers_csv(_signed_in: Staff, db: &Db, exports: &State<Exports>) -> Result<ExportFile, AppError> {
    customers_export(Format::Csv, "top-customers", db, exports, false).await
}

#[get("/reports/top-customers.xlsx")]
async fn top_customers_xlsx(_signed_in: Staff, db: &Db, exports: &State<Exports>) -> Result<ExportFile, AppError> {
    customers_export(Format::Xlsx, "top-customers", db, exports, false).await
}

#[get("/reports/revenue-per-customer.csv")]
async fn revenue_csv(_signed_in: Staff, db: &Db, exports: &State<Exports>) -> Result<ExportFile, AppError> {
    customers_export(Format::Csv, "revenue-per-customer", db, exports, true).await
}

#[get("/reports/revenue-per-customer.xlsx")]
async fn revenue_xlsx(_signed_in: Staff, db: &Db, exports: &State<Exports>) -> Result<ExportFile, AppError> {
    customers_export(Format::Xlsx, "revenue-per-customer", db, exports, true).await
}

/// One product in the best sellers' exports.
struct ProductRecord(ProductFigures);

impl Record for ProductRecord {
    const COLUMNS: &'static [Column] = &[
        Column::new("rank", 8.0),
        Column::new("product_id", 12.0),
        Column::new("name", 28.0),
        Column::new("sku", 16.0),
        Column::new("units_sold", 12.0),
        Column::new("revenue", 14.0),
    ];

    fn cells(self) -> Vec<Cell> {
        let p = self.0;
        vec![
            p.rank.into(),
            p.product_id.into(),
            p.name.into(),
            p.sku.to_string().into(),
            p.units_sold.into(),
            p.revenue_cents.into(),
        ]
    }
}

async fn best_sellers_export(format: Format, db: &Db, exports: &Exports) -> Result<ExportFile, AppError> {
    let (slot, conn) = exports.open(db).await?;
    let rows = reports::export_best_sellers(conn).map(|row| row.map(ProductRecord));
    ExportFile::spool(exports, slot, format, "best-sellers", rows).await
}

#[get("/reports/best-sellers.csv")]
async fn best_sellers_csv(_signed_in: Staff, db: &Db, exports: &State<Exports>) -> Result<ExportFile, AppError> {
    best_sellers_export(Format::Csv, db, exports).await
}

#[get("/reports/best-sellers.xlsx")]
async fn best_sellers_xlsx(_signed_in: Staff, db: &Db, exports: &State<Exports>) -> Result<ExportFile, AppError> {
    best_sellers_export(Format::Xlsx, db, exports).await
}

/// One month in the revenue-by-month exports.
struct MonthRecord(Month);

impl Record for MonthRecord {
    const COLUMNS: &'static [Column] =
        &[Column::new("month", 10.0), Column::new("orders", 10.0), Column::new("revenue", 14.0)];

    fn cells(self) -> Vec<Cell> {
        let m = self.0;
        vec![Cell::Month(m.month), m.order_count.into(), m.revenue_cents.into()]
    }
}

async fn months_export(format: Format, db: &Db, exports: &Exports) -> Result<ExportFile, AppError> {
    let (slot, mut conn) = exports.open(db).await?;
    let months = reports::revenue_by_month(&mut conn, i64::MAX).await?;
    let rows = futures::stream::iter(months.into_iter().map(|m| Ok::<_, AppError>(MonthRecord(m))));
    ExportFile::spool(exports, slot, format, "revenue-by-month", rows).await
}

#[get("/reports/revenue-by-month.csv")]
async fn months_csv(_signed_in: Staff, db: &Db, exports: &State<Exports>) -> Result<ExportFile, AppError> {
    months_export(Format::Csv, db, exports).await
}

#[get("/reports/revenue-by-month.xlsx")]
async fn months_xlsx(_signed_in: Staff, db: &Db, exports: &State<Exports>) -> Result<ExportFile, AppError> {
    months_export(Format::Xlsx, db, exports).await
}

pub fn routes() -> Vec<rocket::Route> {
    routes![
        page,
        top_customers_csv,
        top_customers_xlsx,
        revenue_csv,
        revenue_xlsx,
        best_sellers_csv,
        best_sellers_xlsx,
        months_csv,
        months_xlsx
    ]
}

/// Mounts these pages.
pub fn stage() -> rocket::fairing::AdHoc {
    super::stage("Reports", routes())
}
