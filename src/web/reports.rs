//! The reports page: who buys most, who brings the most revenue, what sells,
//! and revenue by month, for all time or a chosen period; each also as a CSV
//! or Excel (XLSX) download of the same period. Rankings show ties as ties (a shared rank,
//! every leader named) and break them by a stated second figure; shares are
//! of the period's whole total.

use askama::Template;
use askama_web::WebTemplate;
use futures::StreamExt;
use rocket::{get, routes, uri, State};
use rocket_db_pools::Connection;

use super::charts::{self, short_money, Bar};
use super::dashboard::DashboardConfig;
use super::export::{Cell, Column, ExportFile, Exports, Format, Record};
use super::period::{Chosen, PeriodQuery};
use super::{filters, AppError, Chrome};
use crate::db::calendar::{self, Leader};
use crate::db::reports::{self, CustomerFigures, Month, ProductFigures, ReportTotals, TIE_COUNT_LIMIT};
use crate::db::staff::Staff;
use crate::db::Db;
use crate::domain::{Money, Preset, ShopZone};

/// Rows shown in each report.
const REPORT_ROWS: i64 = 10;
/// Months shown in the revenue chart.
const CHART_MONTHS: i64 = 24;

/// The presets the reports offer: all time first.
const PRESETS: [Preset; 8] = [
    Preset::AllTime,
    Preset::Last7,
    Preset::Last30,
    Preset::Last90,
    Preset::ThisMonth,
    Preset::ThisQuarter,
    Preset::ThisYear,
    Preset::Custom,
];

#[derive(Template, WebTemplate)]
#[template(path = "reports.html")]
pub(super) struct ReportsPage {
    chrome: Chrome,
    chosen: Chosen,
    presets: Vec<(&'static str, &'static str, String)>,
    /// The period's query string, for the download links.
    csv_query: String,
    all_time: bool,
    top_customers: Vec<CustomerFigures>,
    revenue: Vec<CustomerFigures>,
    best_sellers: Vec<ProductFigures>,
    months: Vec<Month>,
    chart: String,
    totals: ReportTotals,
    /// Ties for first place are counted up to this many.
    tie_limit: i64,
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

    /// The width (of 100) of a share's bar: the share itself, but at least
    /// 2 when there is any, so that a tiny share still shows.
    fn share_width(&self, part: &i64, whole: &i64) -> String {
        if *whole <= 0 || *part <= 0 {
            return "0".to_string();
        }
        let width = (*part as f64 / *whole as f64 * 100.0).clamp(2.0, 100.0);
        format!("{width:.1}")
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
            let at_least = if all >= self.tie_limit { "at least " } else { "" };
            format!("{at_least}{}", filters::counted(more, "more customer", "more customers"))
        })
    }

    fn period_text(&self) -> String {
        match self.chosen.describe().as_str() {
            "all time" => "All time".to_string(),
            days => days.to_string(),
        }
    }
}

/// Ranks `rows` (sorted, first place first) by `figure`: level figures
/// share a rank, and a row is tied when another has its figure. Returns
/// the first `shown` rows and how many share first place.
fn ranked<T>(
    rows: Vec<T>,
    shown: usize,
    figure: impl Fn(&T) -> i64,
    mut set: impl FnMut(&mut T, i64, bool),
) -> (Vec<T>, i64) {
    let figures: Vec<i64> = rows.iter().map(&figure).collect();
    let first = figures.first().map(|top| figures.iter().filter(|f| *f == top).count() as i64).unwrap_or(0);
    let mut rows = rows;
    for (i, row) in rows.iter_mut().enumerate() {
        let rank = 1 + figures.iter().filter(|f| **f > figures[i]).count() as i64;
        let tied = figures.iter().enumerate().any(|(j, f)| j != i && *f == figures[i]);
        set(row, rank, tied);
    }
    rows.truncate(shown);
    (rows, first)
}

fn customers(leaders: &[Leader]) -> Vec<CustomerFigures> {
    leaders
        .iter()
        .filter_map(|c| {
            Some(CustomerFigures {
                rank: 0,
                tied: false,
                user_id: c.id,
                name: c.name.clone(),
                email: c.email.clone()?,
                order_count: c.figure,
                revenue_cents: c.revenue_cents,
            })
        })
        .collect()
}

#[get("/reports?<period..>")]
pub(super) async fn page(
    chrome: Chrome,
    mut db: Connection<Db>,
    zone: &State<ShopZone>,
    dashboard: &State<DashboardConfig>,
    period: PeriodQuery,
) -> Result<ReportsPage, AppError> {
    let chosen = period.choose(zone.today(), Preset::AllTime, &PRESETS);
    let all_time = chosen.period.preset == Preset::AllTime;
    let (from, to) = (chosen.period.from, chosen.period.to);
    let (top_customers, revenue, best_sellers, months, totals, tie_limit) = if all_time {
        let top_customers = reports::top_customers(&mut db, REPORT_ROWS).await?;
        let revenue = reports::revenue_per_customer(&mut db, REPORT_ROWS).await?;
        let best_sellers = reports::best_sellers(&mut db, REPORT_ROWS).await?;
        let months = reports::revenue_by_month(&mut db, CHART_MONTHS).await?;
        let totals = reports::report_totals(&mut db).await?;
        (top_customers, revenue, best_sellers, months, totals, TIE_COUNT_LIMIT)
    } else {
        // One more than shown, so that a tie with the last one shown is seen.
        let leaders =
            calendar::leaders(&mut db, from, to, REPORT_ROWS + 1, dashboard.works_out(&chosen.period)).await?;
        let months = reports::revenue_by_month_between(&mut db, from, to).await?;
        let mut totals = reports::totals_between(&mut db, from, to).await?;
        let shown = REPORT_ROWS as usize;
        let (top_customers, first_by_orders) = ranked(
            customers(&leaders.customers_by_orders),
            shown,
            |c| c.order_count,
            |c, rank, tied| (c.rank, c.tied) = (rank, tied),
        );
        let (revenue, first_by_revenue) = ranked(
            customers(&leaders.customers_by_revenue),
            shown,
            |c| c.revenue_cents.cents(),
            |c, rank, tied| (c.rank, c.tied) = (rank, tied),
        );
        let products: Vec<ProductFigures> = leaders
            .products
            .iter()
            .filter_map(|p| {
                Some(ProductFigures {
                    rank: 0,
                    tied: false,
                    product_id: p.id,
                    name: p.name.clone(),
                    sku: p.sku.clone()?,
                    units_sold: p.figure,
                    revenue_cents: p.revenue_cents,
                })
            })
            .collect();
        let (best_sellers, first_by_units) =
            ranked(products, shown, |p| p.units_sold, |p, rank, tied| (p.rank, p.tied) = (rank, tied));
        totals.first_by_orders = first_by_orders;
        totals.first_by_revenue = first_by_revenue;
        totals.first_by_units = first_by_units;
        (top_customers, revenue, best_sellers, months, totals, REPORT_ROWS + 1)
    };
    let bars: Vec<Bar> = months
        .iter()
        .map(|m| Bar {
            label: m.month.format("%b %Y").to_string(),
            value: m.revenue_cents.cents(),
            value_text: short_money(m.revenue_cents.cents()),
            title: format!(
                "{}: {} from {}",
                m.month.format("%B %Y"),
                m.revenue_cents,
                filters::counted(m.order_count, "order", "orders")
            ),
        })
        .collect();
    let total = Money::from_cents(months.iter().map(|m| m.revenue_cents.cents()).sum());
    let description = match (months.first(), months.last(), months.iter().max_by_key(|m| m.revenue_cents)) {
        (Some(first), Some(last), Some(best)) => format!(
            "Bars of revenue for each month from {} to {}: {} in total; the best month was {} with {}.",
            first.month.format("%B %Y"),
            last.month.format("%B %Y"),
            total,
            best.month.format("%B %Y"),
            best.revenue_cents
        ),
        _ => "No revenue recorded in this period.".to_string(),
    };
    let chart = charts::bars(&bars, "revenue-chart", "Revenue by month", &description);
    let presets = PRESETS
        .iter()
        .filter(|p| **p != Preset::Custom)
        .map(|p| {
            let query = PeriodQuery { period: Some(p.key().into()), from: None, to: None };
            (p.key(), p.label(), uri!(page(query)).to_string())
        })
        .collect();
    let csv_query = uri!(page(PeriodQuery::of(&chosen.period))).query().map(|q| q.to_string()).unwrap_or_default();
    Ok(ReportsPage {
        chrome: chrome.on("reports"),
        chosen,
        presets,
        csv_query,
        all_time,
        top_customers,
        revenue,
        best_sellers,
        months,
        chart,
        totals,
        tie_limit,
    })
}

/// The period a download covers: `None` for all time.
fn csv_period(period: &PeriodQuery, zone: ShopZone) -> Option<(chrono::NaiveDate, chrono::NaiveDate)> {
    let chosen = period.choose(zone.today(), Preset::AllTime, &PRESETS);
    (chosen.period.preset != Preset::AllTime).then_some((chosen.period.from, chosen.period.to))
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
    (format, stem): (Format, &str),
    db: &Db,
    exports: &Exports,
    by_revenue: bool,
    period: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
) -> Result<ExportFile, AppError> {
    let (slot, conn) = exports.open(db).await?;
    let rows = match period {
        None => reports::export_customers(conn, by_revenue).left_stream(),
        Some((from, to)) => reports::export_customers_between(conn, by_revenue, from, to).right_stream(),
    };
    let rows = rows.map(|row| row.map(CustomerRecord));
    ExportFile::spool(exports, slot, format, stem, rows).await
}

#[get("/reports/top-customers.csv?<period..>")]
async fn top_customers_csv(
    _signed_in: Staff,
    db: &Db,
    exports: &State<Exports>,
    zone: &State<ShopZone>,
    period: PeriodQuery,
) -> Result<ExportFile, AppError> {
    customers_export((Format::Csv, "top-customers"), db, exports, false, csv_period(&period, **zone)).await
}

#[get("/reports/top-customers.xlsx?<period..>")]
async fn top_customers_xlsx(
    _signed_in: Staff,
    db: &Db,
    exports: &State<Exports>,
    zone: &State<ShopZone>,
    period: PeriodQuery,
) -> Result<ExportFile, AppError> {
    customers_export((Format::Xlsx, "top-customers"), db, exports, false, csv_period(&period, **zone)).await
}

#[get("/reports/revenue-per-customer.csv?<period..>")]
async fn revenue_csv(
    _signed_in: Staff,
    db: &Db,
    exports: &State<Exports>,
    zone: &State<ShopZone>,
    period: PeriodQuery,
) -> Result<ExportFile, AppError> {
    customers_export((Format::Csv, "revenue-per-customer"), db, exports, true, csv_period(&period, **zone)).await
}

#[get("/reports/revenue-per-customer.xlsx?<period..>")]
async fn revenue_xlsx(
    _signed_in: Staff,
    db: &Db,
    exports: &State<Exports>,
    zone: &State<ShopZone>,
    period: PeriodQuery,
) -> Result<ExportFile, AppError> {
    customers_export((Format::Xlsx, "revenue-per-customer"), db, exports, true, csv_period(&period, **zone)).await
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

async fn best_sellers_export(
    format: Format,
    db: &Db,
    exports: &Exports,
    period: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
) -> Result<ExportFile, AppError> {
    let (slot, conn) = exports.open(db).await?;
    let rows = match period {
        None => reports::export_best_sellers(conn).left_stream(),
        Some((from, to)) => reports::export_best_sellers_between(conn, from, to).right_stream(),
    };
    let rows = rows.map(|row| row.map(ProductRecord));
    ExportFile::spool(exports, slot, format, "best-sellers", rows).await
}

#[get("/reports/best-sellers.csv?<period..>")]
async fn best_sellers_csv(
    _signed_in: Staff,
    db: &Db,
    exports: &State<Exports>,
    zone: &State<ShopZone>,
    period: PeriodQuery,
) -> Result<ExportFile, AppError> {
    best_sellers_export(Format::Csv, db, exports, csv_period(&period, **zone)).await
}

#[get("/reports/best-sellers.xlsx?<period..>")]
async fn best_sellers_xlsx(
    _signed_in: Staff,
    db: &Db,
    exports: &State<Exports>,
    zone: &State<ShopZone>,
    period: PeriodQuery,
) -> Result<ExportFile, AppError> {
    best_sellers_export(Format::Xlsx, db, exports, csv_period(&period, **zone)).await
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

async fn months_export(
    format: Format,
    db: &Db,
    exports: &Exports,
    period: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
) -> Result<ExportFile, AppError> {
    let (slot, mut conn) = exports.open(db).await?;
    let months = match period {
        None => reports::revenue_by_month(&mut conn, i64::MAX).await?,
        Some((from, to)) => reports::revenue_by_month_between(&mut conn, from, to).await?,
    };
    let rows = futures::stream::iter(months.into_iter().map(|m| Ok::<_, AppError>(MonthRecord(m))));
    ExportFile::spool(exports, slot, format, "revenue-by-month", rows).await
}

#[get("/reports/revenue-by-month.csv?<period..>")]
async fn months_csv(
    _signed_in: Staff,
    db: &Db,
    exports: &State<Exports>,
    zone: &State<ShopZone>,
    period: PeriodQuery,
) -> Result<ExportFile, AppError> {
    months_export(Format::Csv, db, exports, csv_period(&period, **zone)).await
}

#[get("/reports/revenue-by-month.xlsx?<period..>")]
async fn months_xlsx(
    _signed_in: Staff,
    db: &Db,
    exports: &State<Exports>,
    zone: &State<ShopZone>,
    period: PeriodQuery,
) -> Result<ExportFile, AppError> {
    months_export(Format::Xlsx, db, exports, csv_period(&period, **zone)).await
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
