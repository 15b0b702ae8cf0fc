//! The reports' downloads: each table of the reports page as CSV or Excel
//! (XLSX), for all time or the chosen period.

use futures::StreamExt;
use rocket::{get, State};

use super::super::export::{Cell, Column, ExportFile, Exports, Format, Record};
use super::super::period::PeriodQuery;
use super::super::read::Reader;
use super::super::AppError;
use super::PRESETS;
use crate::db::reports::{self, CustomerFigures, Month, ProductFigures};
use crate::db::staff::Staff;
use crate::domain::{Preset, ShopZone};

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

pub(super) async fn customers_export(
    (format, stem): (Format, &str),
    reader: &Reader<'_>,
    exports: &Exports,
    by_revenue: bool,
    period: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
) -> Result<ExportFile, AppError> {
    let (slot, conn) = exports.open_reading(reader).await?;
    let rows = match period {
        None => reports::export_customers(conn, by_revenue).left_stream(),
        Some((from, to)) => reports::export_customers_between(conn, by_revenue, from, to).right_stream(),
    };
    let rows = rows.map(|row| row.map(CustomerRecord));
    ExportFile::spool(exports, slot, format, stem, rows).await
}

#[get("/reports/top-customers.csv?<period..>")]
pub(super) async fn top_customers_csv(
    _signed_in: Staff,
    reader: Reader<'_>,
    exports: &State<Exports>,
    zone: &State<ShopZone>,
    period: PeriodQuery,
) -> Result<ExportFile, AppError> {
    customers_export((Format::Csv, "top-customers"), &reader, exports, false, csv_period(&period, **zone)).await
}

#[get("/reports/top-customers.xlsx?<period..>")]
pub(super) async fn top_customers_xlsx(
    _signed_in: Staff,
    reader: Reader<'_>,
    exports: &State<Exports>,
    zone: &State<ShopZone>,
    period: PeriodQuery,
) -> Result<ExportFile, AppError> {
    customers_export((Format::Xlsx, "top-customers"), &reader, exports, false, csv_period(&period, **zone)).await
}

#[get("/reports/revenue-per-customer.csv?<period..>")]
pub(super) async fn revenue_csv(
    _signed_in: Staff,
    reader: Reader<'_>,
    exports: &State<Exports>,
    zone: &State<ShopZone>,
    period: PeriodQuery,
) -> Result<ExportFile, AppError> {
    customers_export((Format::Csv, "revenue-per-customer"), &reader, exports, true, csv_period(&period, **zone)).await
}

#[get("/reports/revenue-per-customer.xlsx?<period..>")]
pub(super) async fn revenue_xlsx(
    _signed_in: Staff,
    reader: Reader<'_>,
    exports: &State<Exports>,
    zone: &State<ShopZone>,
    period: PeriodQuery,
) -> Result<ExportFile, AppError> {
    customers_export((Format::Xlsx, "revenue-per-customer"), &reader, exports, true, csv_period(&period, **zone)).await
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

pub(super) async fn best_sellers_export(
    format: Format,
    reader: &Reader<'_>,
    exports: &Exports,
    period: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
) -> Result<ExportFile, AppError> {
    let (slot, conn) = exports.open_reading(reader).await?;
    let rows = match period {
        None => reports::export_best_sellers(conn).left_stream(),
        Some((from, to)) => reports::export_best_sellers_between(conn, from, to).right_stream(),
    };
    let rows = rows.map(|row| row.map(ProductRecord));
    ExportFile::spool(exports, slot, format, "best-sellers", rows).await
}

#[get("/reports/best-sellers.csv?<period..>")]
pub(super) async fn best_sellers_csv(
    _signed_in: Staff,
    reader: Reader<'_>,
    exports: &State<Exports>,
    zone: &State<ShopZone>,
    period: PeriodQuery,
) -> Result<ExportFile, AppError> {
    best_sellers_export(Format::Csv, &reader, exports, csv_period(&period, **zone)).await
}

#[get("/reports/best-sellers.xlsx?<period..>")]
pub(super) async fn best_sellers_xlsx(
    _signed_in: Staff,
    reader: Reader<'_>,
    exports: &State<Exports>,
    zone: &State<ShopZone>,
    period: PeriodQuery,
) -> Result<ExportFile, AppError> {
    best_sellers_export(Format::Xlsx, &reader, exports, csv_period(&period, **zone)).await
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

pub(super) async fn months_export(
    format: Format,
    reader: &Reader<'_>,
    exports: &Exports,
    period: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
) -> Result<ExportFile, AppError> {
    let (slot, mut conn) = exports.open_reading(reader).await?;
    let months = match period {
        None => reports::revenue_by_month(&mut conn, i64::MAX).await?,
        Some((from, to)) => reports::revenue_by_month_between(&mut conn, from, to).await?,
    };
    let rows = futures::stream::iter(months.into_iter().map(|m| Ok::<_, AppError>(MonthRecord(m))));
    ExportFile::spool(exports, slot, format, "revenue-by-month", rows).await
}

#[get("/reports/revenue-by-month.csv?<period..>")]
pub(super) async fn months_csv(
    _signed_in: Staff,
    reader: Reader<'_>,
    exports: &State<Exports>,
    zone: &State<ShopZone>,
    period: PeriodQuery,
) -> Result<ExportFile, AppError> {
    months_export(Format::Csv, &reader, exports, csv_period(&period, **zone)).await
}

#[get("/reports/revenue-by-month.xlsx?<period..>")]
pub(super) async fn months_xlsx(
    _signed_in: Staff,
    reader: Reader<'_>,
    exports: &State<Exports>,
    zone: &State<ShopZone>,
    period: PeriodQuery,
) -> Result<ExportFile, AppError> {
    months_export(Format::Xlsx, &reader, exports, csv_period(&period, **zone)).await
}
