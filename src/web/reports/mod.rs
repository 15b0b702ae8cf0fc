//! The reports page: who buys most, who brings the most revenue, what sells,
//! and revenue by month, for all time or a chosen period; each also as a CSV
//! or Excel (XLSX) download of the same period. Rankings show ties as ties (a shared rank,
//! every leader named) and break them by a stated second figure; shares are
//! of the period's whole total.

use askama::Template;
use askama_web::WebTemplate;
use rocket::{get, routes, uri, State};

use super::charts::{self, short_money, Bar};
use super::dashboard::DashboardConfig;
use super::period::{Chosen, PeriodQuery};
use super::read::ReadConn;
use super::{filters, AppError, Chrome};
use crate::db::calendar::{self, Leader};
use crate::db::reports::{self, CustomerFigures, Month, ProductFigures, ReportTotals, TIE_COUNT_LIMIT};
use crate::domain::{Money, Preset, ShopZone};

mod downloads;

use downloads::*;

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
    mut db: ReadConn,
    chrome: Chrome,
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
