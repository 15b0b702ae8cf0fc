//! The home page: a period's figures against the period before, its revenue
//! trend, leading products and customers, products running low and the
//! latest orders. Every figure links to the list that explains it, filtered
//! to the same days.

use askama::Template;
use askama_web::WebTemplate;
use chrono::NaiveDate;
use rocket::figment::Figment;
use rocket::{get, routes, uri, State};

use super::charts::{self, TrendPoint};
use super::orders::OrdersQuery;
use super::period::{Chosen, PeriodQuery};
use super::products::ProductsQuery;
use super::read::ReadConn;
use super::users::UsersQuery;
use super::{filters, AppError, Chrome};
use crate::db::calendar::{self, Day, Leaders, LowStock};
use crate::db::orders::{self, OrderRow, StatusFilter};
use crate::db::users;
use crate::domain::{BucketSize, Money, Period, Preset, ShopZone, Status};

/// How many products and customers each list shows.
const LEADERS: i64 = 5;
/// How many of the products running low are listed.
const LOW_ROWS: i64 = 5;
/// How many of the latest orders are listed.
const RECENT: i64 = 5;

/// The dashboard's settings (`[default.dashboard]` in Rocket.toml).
#[derive(Debug, Clone, Copy)]
pub struct DashboardConfig {
    /// A product with this many or fewer in stock is running low.
    pub low_stock: i32,
    /// How often the leaders of the preset periods are worked out again in
    /// the background when their days changed; `None` turns that off (then
    /// a page view works out leaders that nothing kept yet).
    pub refresh_every: Option<std::time::Duration>,
}

impl DashboardConfig {
    pub fn from_figment(figment: &Figment) -> DashboardConfig {
        let low_stock = figment
            .extract_inner::<i32>("dashboard.reorder_point")
            .ok()
            .or_else(|| figment.extract_inner::<i32>("dashboard.low_stock").ok())
            .filter(|n| (0..=1_000_000).contains(n))
            .unwrap_or(crate::db::reports::LOW_STOCK);
        let refresh_seconds = figment.extract_inner::<u64>("dashboard.refresh_seconds").unwrap_or(60);
        let refresh_every = (refresh_seconds > 0).then(|| std::time::Duration::from_secs(refresh_seconds.min(86_400)));
        DashboardConfig { low_stock, refresh_every }
    }

    /// Whether a page view of `period` works out its leaders when those kept
    /// are out of date: only when no refresher keeps them (it refreshes the
    /// preset periods; custom dates are worked out when viewed).
    pub fn works_out(&self, period: &Period) -> bool {
        self.refresh_every.is_none() || period.preset == Preset::Custom
    }

    /// Keeps the preset periods' leaders worked out in the background, from
    /// lift-off, when configured.
    pub fn refresher(&self) -> rocket::fairing::AdHoc {
        let every = self.refresh_every;
        rocket::fairing::AdHoc::on_liftoff("Dashboard leaders", move |rocket| {
            Box::pin(async move {
                let (Some(every), Some(db), Some(zone)) = (
                    every,
                    <crate::db::Db as rocket_db_pools::Database>::fetch(rocket),
                    rocket.state::<ShopZone>().copied(),
                ) else {
                    return;
                };
                let pool: sqlx::PgPool = (***db).clone();
                rocket::tokio::spawn(crate::db::calendar::keep_leaders_fresh(pool, zone, every));
            })
        })
    }
}

/// A figure's change against the previous period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Up(String),
    Down(String),
    Same,
    /// Nothing in the previous period to compare with.
    New,
    /// Nothing in either period.
    Nothing,
}

impl Change {
    pub fn of(now: i64, before: i64) -> Change {
        match (now, before) {
            (0, 0) => Change::Nothing,
            (_, 0) => Change::New,
            _ if now == before => Change::Same,
            _ => {
                let permille = (i128::from(now) - i128::from(before)) * 1000 / i128::from(before);
                let pct = permille.abs();
                let text = if pct < 100 { format!("{}.{}%", pct / 10, pct % 10) } else { format!("{}%", pct / 10) };
                if now > before {
                    Change::Up(text)
                } else {
                    Change::Down(text)
                }
            }
        }
    }
}

/// A headline figure of the period.
pub struct Card {
    pub label: &'static str,
    pub value: String,
    pub previous: String,
    pub change: Change,
    pub href: String,
    pub spark: String,
    /// What the figure counts.
    pub note: &'static str,
}

/// One row of the trend's data table.
pub struct TrendRow {
    pub label: String,
    pub value: Money,
    pub previous: Money,
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    chosen: Chosen,
    presets: Vec<(&'static str, &'static str, String)>,
    previous: Period,
    cards: Vec<Card>,
    trend: String,
    trend_rows: Vec<TrendRow>,
    trend_unit: &'static str,
    statuses: Vec<(Status, i64, String)>,
    leaders: Leaders,
    low: Vec<LowStock>,
    low_count: i64,
    low_href: String,
    recent: Vec<OrderRow>,
    any_orders: bool,
    leaders_since: String,
    /// Links of the leaders' figures, by product and by customer id.
    product_orders: Vec<String>,
    customer_orders: Vec<String>,
}

impl DashboardPage {
    fn period_text(&self) -> String {
        self.chosen.period.describe()
    }
}

/// A bucket's figures and those of the same bucket of the period before.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct BucketFigures {
    now: Day,
    before: Day,
}

/// Adds a day's figures to `into`.
fn add(into: &mut Day, d: &Day) {
    into.orders += d.orders;
    into.revenue_cents = Money::from_cents(into.revenue_cents.cents() + d.revenue_cents.cents());
    into.units_sold += d.units_sold;
    into.new_customers += d.new_customers;
    into.pending += d.pending;
    into.paid += d.paid;
    into.shipped += d.shipped;
    into.cancelled += d.cancelled;
}

/// The `days` (of this period and of the one before, sorted or not) summed
/// per bucket in one pass: bucket `i` holds the days from `starts[i]` to the
/// day before `starts[i + 1]`, and, as `before`, the days `shift` days
/// earlier. A year's 730 days cost 730 steps, not 730 per bucket.
fn per_bucket(days: &[Day], starts: &[NaiveDate], shift: u64) -> Vec<BucketFigures> {
    let mut out = vec![BucketFigures::default(); starts.len()];
    let Some(first) = starts.first().copied() else {
        return out;
    };
    for d in days {
        let (day, before) = if d.day >= first {
            (Some(d.day), false)
        } else {
            (d.day.checked_add_days(chrono::Days::new(shift)), true)
        };
        let Some(day) = day.filter(|day| *day >= first) else {
            continue;
        };
        // The last start on or before the day.
        let Some(slot) = starts.partition_point(|s| *s <= day).checked_sub(1).and_then(|i| out.get_mut(i)) else {
            continue;
        };
        add(if before { &mut slot.before } else { &mut slot.now }, d);
    }
    out
}

/// Sums of the buckets' figures (this period's, or with `before` the
/// period before's).
fn total(buckets: &[BucketFigures], before: bool) -> Day {
    buckets.iter().map(|b| if before { &b.before } else { &b.now }).fold(Day::default(), |mut t, d| {
        add(&mut t, d);
        t
    })
}

/// Orders not cancelled placed in the days `from` to `to` (and more filters).
fn orders_uri(from: NaiveDate, to: NaiveDate, more: orders::Filter) -> String {
    OrdersQuery::list_uri(&orders::Filter {
        status: more.status.or(Some(StatusFilter::NotCancelled)),
        from: Some(from),
        to: Some(to),
        ..more
    })
}

fn average(revenue: Money, orders: i64) -> i64 {
    if orders > 0 {
        revenue.cents() / orders
    } else {
        0
    }
}

#[allow(clippy::too_many_arguments)]
fn card(
    label: &'static str,
    note: &'static str,
    now: i64,
    before: i64,
    show: impl Fn(i64) -> String,
    series: Vec<i64>,
    unit: &str,
    href: String,
) -> Card {
    let spark = charts::sparkline(&series, &format!("{label} per {unit} in the period"));
    Card { label, note, value: show(now), previous: show(before), change: Change::of(now, before), href, spark }
}

#[get("/?<period..>")]
async fn dashboard(
    mut db: ReadConn,
    chrome: Chrome,
    zone: &State<ShopZone>,
    config: &State<DashboardConfig>,
    period: PeriodQuery,
) -> Result<DashboardPage, AppError> {
    let chosen = period.choose(zone.today(), Preset::Last30, &Preset::PICKER);
    let current = chosen.period;
    let previous = current.previous();
    let buckets = current.buckets();
    let size = current.bucket_size();
    let days = calendar::days(&mut db, previous.from, current.to).await?;
    let leaders = calendar::leaders(&mut db, current.from, current.to, LEADERS, config.works_out(&current)).await?;
    let (low, low_count) = calendar::running_low(&mut db, LOW_ROWS).await?;
    let recent = orders::recent(&mut db, RECENT).await?;
    drop(db);

    let starts: Vec<NaiveDate> = buckets.iter().map(|b| b.from).collect();
    let per_bucket = per_bucket(&days, &starts, u64::try_from(current.days()).unwrap_or(0));
    let (now, before) = (total(&per_bucket, false), total(&per_bucket, true));
    let unit = match size {
        BucketSize::Day => "day",
        BucketSize::Week => "week",
        BucketSize::Month => "month",
    };
    let series = |f: &dyn Fn(&Day) -> i64| per_bucket.iter().map(|b| f(&b.now)).collect::<Vec<i64>>();
    let money = |c: i64| Money::from_cents(c).to_string();
    let count = filters::format_count;
    let (from, to) = (current.from, current.to);
    let cards = vec![
        card(
            "Revenue",
            "orders not cancelled",
            now.revenue_cents.cents(),
            before.revenue_cents.cents(),
            money,
            series(&|d| d.revenue_cents.cents()),
            unit,
            orders_uri(from, to, orders::Filter::default()),
        ),
        card(
            "Orders",
            "not cancelled",
            now.orders,
            before.orders,
            count,
            series(&|d| d.orders),
            unit,
            orders_uri(from, to, orders::Filter::default()),
        ),
        card(
            "Average order",
            "revenue ÷ orders",
            average(now.revenue_cents, now.orders),
            average(before.revenue_cents, before.orders),
            money,
            series(&|d| average(d.revenue_cents, d.orders)),
            unit,
            orders_uri(from, to, orders::Filter::default()),
        ),
        card(
            "New customers",
            "signed up",
            now.new_customers,
            before.new_customers,
            count,
            series(&|d| d.new_customers),
            unit,
            UsersQuery::list_uri(&users::Filter { joined_from: Some(from), joined_to: Some(to), ..Default::default() }),
        ),
        card(
            "Units sold",
            "on orders not cancelled",
            now.units_sold,
            before.units_sold,
            count,
            series(&|d| d.units_sold),
            unit,
            format!("{}#best-sellers", uri!(super::reports::page(PeriodQuery::of(&current)))),
        ),
    ];

    let points: Vec<TrendPoint> = buckets
        .iter()
        .zip(&per_bucket)
        .map(|(b, f)| TrendPoint {
            label: b.label(size),
            describe: b.describe(size),
            value: f.now.revenue_cents.cents(),
            previous: f.before.revenue_cents.cents(),
            href: orders_uri(b.from, b.to, orders::Filter::default()),
        })
        .collect();
    let best = points.iter().max_by_key(|p| p.value);
    let description = match best {
        Some(best) if now.revenue_cents.cents() > 0 => format!(
            "Revenue per {unit} from {}: {} in total against {} in the previous period; the best {unit} was {} with {}.",
            current.describe(),
            now.revenue_cents,
            before.revenue_cents,
            best.describe,
            Money::from_cents(best.value)
        ),
        _ => format!("No revenue from {}.", current.describe()),
    };
    let trend = charts::trend(&points, "trend", &format!("Revenue per {unit}"), &description);
    let trend_rows = points
        .iter()
        .map(|p| TrendRow {
            label: p.describe.clone(),
            value: Money::from_cents(p.value),
            previous: Money::from_cents(p.previous),
        })
        .collect();

    let statuses = [
        (Status::Pending, now.pending),
        (Status::Paid, now.paid),
        (Status::Shipped, now.shipped),
        (Status::Cancelled, now.cancelled),
    ]
    .into_iter()
    .map(|(s, n)| {
        (s, n, orders_uri(from, to, orders::Filter { status: Some(StatusFilter::Only(s)), ..Default::default() }))
    })
    .collect();
    let product_orders = leaders
        .products
        .iter()
        .map(|p| orders_uri(from, to, orders::Filter { product_id: Some(p.id), ..Default::default() }))
        .collect();
    let customer_orders = leaders
        .customers_by_revenue
        .iter()
        .map(|c| orders_uri(from, to, orders::Filter { user_id: Some(c.id), ..Default::default() }))
        .collect();
    let leaders_since = match (leaders.current, leaders.computed_at) {
        (false, Some(at)) => filters::format_datetime(&at, **zone),
        _ => String::new(),
    };
    let presets = Preset::PICKER
        .iter()
        .filter(|p| **p != Preset::Custom)
        .map(|p| {
            let query = PeriodQuery { period: Some(p.key().into()), from: None, to: None };
            (p.key(), p.label(), uri!(dashboard(query)).to_string())
        })
        .collect();
    Ok(DashboardPage {
        chrome: chrome.on("dashboard"),
        any_orders: !recent.is_empty(),
        chosen,
        presets,
        previous,
        cards,
        trend,
        trend_rows,
        trend_unit: unit,
        statuses,
        leaders,
        low,
        low_count,
        low_href: ProductsQuery::running_low_uri(config.low_stock),
        recent,
        leaders_since,
        product_orders,
        customer_orders,
    })
}

pub fn routes() -> Vec<rocket::Route> {
    routes![dashboard]
}

/// Mounts these pages.
pub fn stage() -> rocket::fairing::AdHoc {
    super::stage("Dashboard", routes())
}

#[cfg(test)]
mod tests {
    use super::{per_bucket, Change, Day};
    use crate::domain::{Money, Period};
    use chrono::NaiveDate;

    #[test]
    fn one_pass_bucketing_sums_what_each_bucket_and_its_earlier_twin_cover() {
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a day");
        for (from, to) in [("2025-01-01", "2025-04-30"), ("2025-12-01", "2026-11-30"), ("2023-01-15", "2025-12-31")] {
            let current = Period::custom(day(from), day(to)).expect("a period");
            let previous = current.previous();
            // A figure on every day of both periods, different each day.
            let days: Vec<Day> = previous
                .from
                .iter_days()
                .take_while(|d| *d <= current.to)
                .enumerate()
                .map(|(i, d)| Day {
                    day: d,
                    orders: i as i64 + 1,
                    revenue_cents: Money::from_cents(100 * i as i64 + 7),
                    ..Day::default()
                })
                .collect();
            let buckets = current.buckets();
            let starts: Vec<NaiveDate> = buckets.iter().map(|b| b.from).collect();
            let shift = current.days() as u64;
            let got = per_bucket(&days, &starts, shift);
            let sum = |a: NaiveDate, b: NaiveDate| -> (i64, i64) {
                days.iter()
                    .filter(|d| d.day >= a && d.day <= b)
                    .fold((0, 0), |(o, r), d| (o + d.orders, r + d.revenue_cents.cents()))
            };
            for (b, g) in buckets.iter().zip(&got) {
                let back = chrono::Days::new(shift);
                let (before_from, before_to) = (b.from - back, b.to - back);
                assert_eq!((g.now.orders, g.now.revenue_cents.cents()), sum(b.from, b.to), "{from} {b:?}");
                assert_eq!((g.before.orders, g.before.revenue_cents.cents()), sum(before_from, before_to), "{b:?}");
            }
        }
    }

    #[test]
    fn changes_say_new_rather_than_infinite() {
        assert_eq!(Change::of(150, 100), Change::Up("50%".into()));
        assert_eq!(Change::of(95, 100), Change::Down("5.0%".into()));
        assert_eq!(Change::of(5, 0), Change::New);
        assert_eq!(Change::of(0, 0), Change::Nothing);
        assert_eq!(Change::of(0, 7), Change::Down("100%".into()));
        assert_eq!(Change::of(7, 7), Change::Same);
    }
}
