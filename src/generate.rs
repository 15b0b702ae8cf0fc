//! Synthetic data at scale for trying Shopdesk and for benchmarks: customers,
//! products and orders (1–5 lines each, statuses and dates spread over two
//! years with the seasons, never before the customer signed up or the
//! products were added), streamed into PostgreSQL with COPY and added to
//! what is there.

use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use sqlx::{Connection, PgConnection};

/// How much to add.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub users: u64,
    pub products: u64,
    pub orders: u64,
}

/// What was added and how fast.
#[derive(Debug, Clone)]
pub struct Summary {
    pub users: u64,
    pub products: u64,
    pub orders: u64,
    pub lines: u64,
    pub elapsed: Duration,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rows = self.users + self.products + self.orders + self.lines;
        let seconds = self.elapsed.as_secs_f64().max(0.001);
        write!(
            f,
            "Added {} customers, {} products, {} orders with {} lines in {:.1} s ({:.0} rows/s).",
            self.users,
            self.products,
            self.orders,
            self.lines,
            seconds,
            rows as f64 / seconds
        )
    }
}

const FIRST: [&str; 40] = [
    "Ada", "Alan", "Amara", "Ana", "Arjun", "Beatriz", "Ben", "Chen", "Chloe", "Daniel", "Dmitri", "Elena", "Emma",
    "Fatima", "Felix", "Grace", "Hana", "Hugo", "Ines", "Ivan", "Jamal", "Julia", "Kenji", "Lara", "Leo", "Lucia",
    "Maya", "Mateo", "Nadia", "Noah", "Olga", "Omar", "Priya", "Rafael", "Sara", "Sven", "Tomas", "Yara", "Yusuf",
    "Zoe",
];
const LAST: [&str; 40] = [
    "Abebe",
    "Andersson",
    "Bauer",
    "Brown",
    "Chen",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Gonzalez",
    "Haddad",
    "Ivanova",
    "Jensen",
    "Kim",
    "Kowalski",
    "Larsen",
    "Lopez",
    "Martin",
    "Meyer",
    "Moreau",
    "Nakamura",
    "Nguyen",
    "Novak",
    "Okafor",
    "Olsen",
    "Patel",
    "Perez",
    "Rossi",
    "Santos",
    "Schmidt",
    "Silva",
    "Singh",
    "Smith",
    "Tanaka",
    "Taylor",
    "Varga",
    "Wang",
    "Weber",
    "Yilmaz",
];
const ADJECTIVES: [&str; 16] = [
    "Classic",
    "Compact",
    "Deluxe",
    "Everyday",
    "Handmade",
    "Heritage",
    "Light",
    "Modern",
    "Organic",
    "Premium",
    "Recycled",
    "Rustic",
    "Signature",
    "Sturdy",
    "Travel",
    "Vintage",
];
const NOUNS: [&str; 24] = [
    "Backpack",
    "Blanket",
    "Bottle",
    "Bowl",
    "Candle",
    "Chair",
    "Coffee",
    "Cup",
    "Desk Lamp",
    "Grinder",
    "Jacket",
    "Kettle",
    "Knife",
    "Lamp",
    "Mug",
    "Notebook",
    "Pan",
    "Pillow",
    "Planter",
    "Scarf",
    "Speaker",
    "Teapot",
    "Towel",
    "Watch",
];
const COLOURS: [&str; 10] = ["Black", "Blue", "Cream", "Forest", "Grey", "Navy", "Olive", "Red", "Sand", "White"];

const DAY: i64 = 24 * 3600;

/// How busy each calendar month is (January first), out of 20: quiet after
/// the holidays, a summer lift, busy November and December.
const SEASON: [u32; 12] = [11, 10, 11, 12, 13, 14, 15, 14, 12, 13, 17, 20];

/// When an order was placed: newer orders are more frequent (the shop
/// grows) and busy months more than quiet ones; never before `earliest`
/// (seconds since the epoch: its customer's signup and its products'
/// addition) nor after `now`.
fn placed_at(rng: &mut SmallRng, now: DateTime<Utc>, span: i64, earliest: i64) -> DateTime<Utc> {
    let mut at = now;
    for _ in 0..8 {
        let age = (rng.random::<f64>().sqrt() * span as f64) as i64;
        at = now - chrono::Duration::seconds(span - age);
        if rng.random_range(0..20) < SEASON[at.month0() as usize] {
            break;
        }
    }
    if at.timestamp() < earliest {
        let room = (now.timestamp() - earliest).max(1);
        at = now - chrono::Duration::seconds(rng.random_range(0..room));
    }
    at
}

/// Orders are written in batches of this many, each as two COPY streams.
const BATCH: u64 = 50_000;

fn bar(total: u64, what: &str, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template("{prefix:>10} [{bar:40.green/white}] {pos}/{len} ({per_sec}, {eta})")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(what.to_string());
    bar
}

/// Streams `count` rows into the table of the `COPY ... FROM STDIN`
/// `statement`, each written as COPY text by `row(n, buffer)`, about a
/// megabyte at a time.
async fn copy_rows(
    conn: &mut PgConnection,
    statement: &str,
    count: u64,
    progress: &ProgressBar,
    mut row: impl FnMut(u64, &mut String),
) -> Result<(), sqlx::Error> {
    let mut copy = conn.copy_in_raw(statement).await?;
    let mut buf = String::with_capacity(1 << 20);
    for n in 0..count {
        row(n, &mut buf);
        if buf.len() > (1 << 20) - 512 {
            copy.send(buf.as_bytes()).await?;
            buf.clear();
            progress.set_position(n + 1);
        }
    }
    copy.send(buf.as_bytes()).await?;
    copy.finish().await?;
    progress.finish();
    Ok(())
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string()
}

/// Adds `sizes` worth of data in one transaction. Triggers (audit, stats) and
/// foreign-key checks are skipped while loading, because the data is
/// consistent by construction; the report figures are then rebuilt in full.
/// Needs a role allowed to set `session_replication_role` (a superuser).
pub async fn generate(
    conn: &mut PgConnection,
    sizes: Sizes,
    seed: u64,
    progress: bool,
) -> Result<Summary, sqlx::Error> {
    let started = Instant::now();
    let mut rng = SmallRng::seed_from_u64(seed);
    let now = Utc::now();
    let two_years = 2 * 365 * 24 * 3600;

    let mut tx = conn.begin().await?;
    sqlx::query!("SET LOCAL session_replication_role = replica").execute(&mut *tx).await?;
    sqlx::query!("LOCK TABLE users, products, orders, order_items IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    let next_id = sqlx::query!(
        r#"SELECT (SELECT coalesce(max(id), 0) + 1 FROM users) AS "user!",
                  (SELECT coalesce(max(id), 0) + 1 FROM products) AS "product!",
                  (SELECT coalesce(max(id), 0) + 1 FROM orders) AS "order!""#
    )
    .fetch_one(&mut *tx)
    .await?;

    // Customers.
    copy_rows(
        &mut tx,
        "COPY users (id, name, email, created_at, updated_at) FROM STDIN",
        sizes.users,
        &bar(sizes.users, "customers", progress),
        |n, buf| {
            let id = next_id.user + n as i64;
            let first = FIRST[rng.random_range(0..FIRST.len())];
            let last = LAST[rng.random_range(0..LAST.len())];
            // Earlier customers signed up earlier; a little jitter keeps it natural.
            let joined = two_years - two_years * n as i64 / sizes.users.max(1) as i64 - rng.random_range(0..DAY);
            let joined = timestamp(now - chrono::Duration::seconds(joined.clamp(0, two_years)));
            buf.push_str(&format!(
                "{id}\t{first} {last}\t{}.{}.{id}@example.com\t{joined}\t{joined}\n",
                first.to_lowercase(),
                last.to_lowercase()
            ));
        },
    )
    .await?;

    // Products.
    copy_rows(
        &mut tx,
        "COPY products (id, name, sku, price_cents, stock, created_at, updated_at) FROM STDIN",
        sizes.products,
        &bar(sizes.products, "products", progress),
        |n, buf| {
            let id = next_id.product + n as i64;
            let name = format!(
                "{} {} {}",
                ADJECTIVES[rng.random_range(0..ADJECTIVES.len())],
                COLOURS[rng.random_range(0..COLOURS.len())],
                NOUNS[rng.random_range(0..NOUNS.len())]
            );
            let price: i64 = rng.random_range(3..400) * 100 + [0, 49, 95, 99][rng.random_range(0..4)];
            let stock: i32 = rng.random_range(0..2_000);
            // The range grows over time: earlier products were added earlier.
            let added = two_years - two_years * n as i64 / sizes.products.max(1) as i64 - rng.random_range(0..DAY);
            let added = timestamp(now - chrono::Duration::seconds(added.clamp(0, two_years)));
            buf.push_str(&format!("{id}\t{name}\tGEN-{id:07}\t{price}\t{stock}\t{added}\t{added}\n"));
        },
    )
    .await?;

    // Orders and their lines, batch by batch. Customers are drawn with a
    // skew (a few buy a lot), products too (some sell far better).
    // When each customer signed up and each product was added (seconds
    // since the epoch), so no order comes before either.
    let users: Vec<(i64, i64)> = if sizes.orders > 0 {
        let users = sqlx::query!(
            r#"SELECT id, ceil(extract(epoch FROM created_at))::BIGINT AS "joined!" FROM users ORDER BY id"#
        )
        .fetch_all(&mut *tx)
        .await?;
        users.into_iter().map(|u| (u.id, u.joined)).collect()
    } else {
        Vec::new()
    };
    let product_ids: Vec<(i64, i64, i64)> = if sizes.orders > 0 {
        let products = sqlx::query!(
            r#"SELECT id, price_cents, ceil(extract(epoch FROM created_at))::BIGINT AS "added!" FROM products ORDER BY id"#
        )
        .fetch_all(&mut *tx)
        .await?;
        products.into_iter().map(|p| (p.id, p.price_cents, p.added)).collect()
    } else {
        Vec::new()
    };
    let mut lines_written = 0u64;
    if sizes.orders > 0 && (users.is_empty() || product_ids.is_empty()) {
        return Err(sqlx::Error::Protocol("orders need at least one customer and one product".into()));
    }
    let progress_orders = bar(sizes.orders, "orders", progress);
    let mut buf = String::with_capacity(1 << 20);
    let mut lines_buf = String::with_capacity(1 << 22);
    let mut written = 0u64;
    while written < sizes.orders {
        let batch = BATCH.min(sizes.orders - written);
        buf.clear();
        lines_buf.clear();
        for n in 0..batch {
            let id = next_id.order + (written + n) as i64;
            let skew: f64 = rng.random::<f64>().powi(3);
            let (user_id, joined) = users[((skew * users.len() as f64) as usize).min(users.len() - 1)];
            let roll = rng.random_range(0..100);
            let status = match roll {
                0..=7 => "cancelled",
                8..=19 => "pending",
                20..=37 => "paid",
                _ => "shipped",
            };
            let line_count = rng.random_range(1..=5usize).min(product_ids.len());
            let mut chosen: [usize; 5] = [usize::MAX; 5];
            let mut total = 0i64;
            let mut items = 0i32;
            let mut earliest = joined;
            for slot in 0..line_count {
                let index = loop {
                    let pick = ((rng.random::<f64>().powi(2)) * product_ids.len() as f64) as usize % product_ids.len();
                    if !chosen[..slot].contains(&pick) {
                        break pick;
                    }
                };
                chosen[slot] = index;
                let (product_id, price, added) = product_ids[index];
                earliest = earliest.max(added);
                let quantity: i32 = rng.random_range(1..=4);
                total += price * i64::from(quantity);
                items += quantity;
                lines_buf.push_str(&format!("{id}\t{product_id}\t{quantity}\t{price}\n"));
            }
            let placed = timestamp(placed_at(&mut rng, now, two_years, earliest));
            lines_written += line_count as u64;
            buf.push_str(&format!("{id}\t{user_id}\t{status}\t{total}\t{items}\t{placed}\t{placed}\n"));
        }
        let mut copy = tx
            .copy_in_raw("COPY orders (id, user_id, status, total_cents, item_count, placed_at, updated_at) FROM STDIN")
            .await?;
        copy.send(buf.as_bytes()).await?;
        copy.finish().await?;
        let mut copy =
            tx.copy_in_raw("COPY order_items (order_id, product_id, quantity, unit_price_cents) FROM STDIN").await?;
        copy.send(lines_buf.as_bytes()).await?;
        copy.finish().await?;
        written += batch;
        progress_orders.set_position(written);
    }
    progress_orders.finish();

    let rebuilding = if progress { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
    rebuilding.set_message("rebuilding report figures…");
    rebuilding.enable_steady_tick(Duration::from_millis(120));
    // New customers and products need their (empty) figure rows too.
    crate::db::stats::rebuild(&mut tx).await?;
    // Ids were written explicitly: the sequences carry on after them.
    sqlx::query!(
        "SELECT setval(pg_get_serial_sequence('users', 'id'), greatest((SELECT max(id) FROM users), 1)) AS users,
                setval(pg_get_serial_sequence('products', 'id'), greatest((SELECT max(id) FROM products), 1))
                    AS products,
                setval(pg_get_serial_sequence('orders', 'id'), greatest((SELECT max(id) FROM orders), 1)) AS orders"
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    // VACUUM as well as ANALYZE: it moves the rows just written out of the
    // trigram indexes' pending lists (which every search would otherwise scan
    // in full) and marks the pages all-visible for index-only scans.
    rebuilding.set_message("vacuuming and updating planner statistics…");
    sqlx::query!(
        "VACUUM (ANALYZE) users, products, orders, order_items, customer_stats, product_stats, customer_products"
    )
    .execute(&mut *conn)
    .await?;
    rebuilding.finish_and_clear();

    Ok(Summary {
        users: sizes.users,
        products: sizes.products,
        orders: sizes.orders,
        lines: lines_written,
        elapsed: started.elapsed(),
    })
}
