//! Demo data: a small, realistic shop to explore and to show stakeholders.
//! Loading is idempotent: a shop that already has the demo customers is left alone.

use chrono::{DateTime, Datelike, Duration, Utc};
use sqlx::{Acquire, PgConnection, PgPool};

use crate::db::staff::{self, NewStaff, Role};
use crate::db::{audit, DbError};
use crate::domain::{Email, Status};

/// The read-only demo account, documented in the README.
pub const DEMO_VIEWER_EMAIL: &str = "viewer@shopdesk.demo";
pub const DEMO_VIEWER_PASSWORD: &str = "look-but-dont-touch";

/// A day, in seconds.
const DAY: i64 = 86_400;

/// Customers: name, email, days before today they signed up, and how often
/// they buy compared with the others. Ada signed up first and buys most.
const USERS: [(&str, &str, i64, usize); 14] = [
    ("Ada Lovelace", "ada@example.com", 362, 7),
    ("Grace Hopper", "grace@example.com", 340, 3),
    ("Ana Nguyen", "ana@example.com", 331, 3),
    ("Alan Turing", "alan@example.com", 300, 2),
    ("Katherine Johnson", "katherine@example.com", 276, 2),
    ("Linus Torvalds", "linus@example.com", 241, 2),
    ("Kenji Tanaka", "kenji@example.com", 213, 2),
    ("Margaret Hamilton", "margaret@example.com", 198, 2),
    ("Dennis Ritchie", "dennis@example.com", 160, 1),
    ("Barbara Liskov", "barbara@example.com", 122, 2),
    ("Lucia Rossi", "lucia@example.com", 95, 2),
    ("Ken Thompson", "ken@example.com", 74, 1),
    ("Frances Allen", "frances@example.com", 41, 2),
    ("Felix Bauer", "felix@example.com", 9, 1),
];

/// Products: name, SKU, price in cents, days before today it was added,
/// stock left today (three run low), and how well it sells.
const PRODUCTS: [(&str, &str, i64, i64, i32, usize); 14] = [
    ("Ceramic Pour-Over Coffee Dripper", "KIT-DRIP-01", 2499, 364, 84, 3),
    ("Stoneware Mug, 350 ml", "MUG-350-SND", 1450, 364, 140, 4),
    ("Single-Origin Beans, Ethiopia 250 g", "BEAN-ETH-250", 1699, 364, 3, 5),
    ("Single-Origin Beans, Colombia 250 g", "BEAN-COL-250", 1599, 302, 96, 4),
    ("Burr Grinder", "GRND-BURR-02", 8900, 364, 4, 2),
    ("Gooseneck Kettle", "KETL-GOOSE-1", 5900, 364, 31, 2),
    ("Paper Filters (100)", "FILT-100", 699, 364, 260, 5),
    ("Linen Tea Towel", "TOWL-LIN-GRY", 1200, 251, 57, 2),
    ("Loose Leaf Green Tea 100 g", "TEA-GRN-100", 1100, 203, 88, 3),
    ("Glass Storage Jar", "JAR-GLS-1L", 1850, 181, 44, 2),
    ("Cold Brew Bottle", "BTL-COLD-1L", 3200, 152, 2, 3),
    ("Digital Coffee Scale", "SCAL-DIG-01", 4500, 118, 22, 2),
    ("Walnut Serving Board", "BRD-WAL-L", 6400, 83, 12, 1),
    ("Gift Card $50", "GIFT-50", 5000, 47, 480, 2),
];

/// How busy each calendar month is (January first), in tenths: quiet after
/// the holidays, a summer lift from cold brew, and a busy November and December.
const SEASON: [i64; 12] = [8, 7, 8, 9, 10, 11, 12, 11, 9, 10, 15, 19];

/// A small deterministic generator, so every demo shop looks the same.
struct Sequence(u64);

impl Sequence {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % below.max(1) as u64) as usize
    }

    /// One of `choices`, each as likely as its weight.
    fn weighted<T: Copy>(&mut self, choices: &[(T, usize)]) -> Option<T> {
        let total: usize = choices.iter().map(|(_, w)| w).sum();
        let mut pick = self.next(total);
        for &(choice, weight) in choices {
            if pick < weight {
                return Some(choice);
            }
            pick -= weight;
        }
        None
    }
}

/// One demo order as it stands today.
struct DemoOrder {
    /// Seconds before today's anchor it was placed.
    ago: i64,
    customer: usize,
    status: Status,
    /// (product index, quantity)
    lines: Vec<(usize, i32)>,
}

/// The demo's orders over the last twelve months before `now`: more in
/// busy months and as the shop grows, each by a customer who had signed up
/// and of products already added. The same for the same day.
fn orders(now: DateTime<Utc>, signed_up: &[i64], added: &[i64]) -> Vec<DemoOrder> {
    let mut seq = Sequence(20_240_601);
    let mut orders = Vec::new();
    for days_ago in (0..364i64).rev() {
        let month = (now - Duration::days(days_ago)).month0() as usize;
        // Orders per day in hundredths: about half an order a day, times the
        // season (in tenths), times growth from 0.6 to 1.4 (in thousandths).
        let rate = 45 * SEASON[month] * (600 + 800 * (364 - days_ago) / 364) / 10_000;
        let count = rate / 100 + i64::from((seq.next(100) as i64) < rate % 100);
        for _ in 0..count {
            let ago = days_ago * DAY + seq.next(DAY as usize) as i64;
            let customers: Vec<(usize, usize)> = USERS
                .iter()
                .enumerate()
                .filter(|(i, _)| signed_up[*i] > ago)
                .map(|(i, (_, _, _, weight))| (i, *weight))
                .collect();
            let summer = (5..=7).contains(&month);
            let products: Vec<(usize, usize)> = PRODUCTS
                .iter()
                .enumerate()
                .filter(|(i, _)| added[*i] > ago)
                .map(|(i, (_, sku, _, _, _, weight))| {
                    let weight = match *sku {
                        "BTL-COLD-1L" if summer => 6,
                        "GIFT-50" if month >= 10 => 6,
                        _ => *weight,
                    };
                    (i, weight)
                })
                .collect();
            let Some(customer) = seq.weighted(&customers) else { continue };
            let wanted = [1, 1, 1, 2, 2, 3, 4][seq.next(7)].min(products.len());
            let mut lines: Vec<(usize, i32)> = Vec::new();
            while lines.len() < wanted {
                let Some(product) = seq.weighted(&products) else { break };
                if lines.iter().all(|(p, _)| *p != product) {
                    lines.push((product, [1, 1, 1, 1, 2, 2, 3][seq.next(7)]));
                }
            }
            if lines.is_empty() {
                continue;
            }
            orders.push(DemoOrder { ago, customer, status: Status::Shipped, lines });
        }
    }
    // The newest orders are still moving (pending, then paid), older ones
    // have shipped, and one in 25 was cancelled: every status is there.
    let mut newest_first: Vec<usize> = (0..orders.len()).collect();
    newest_first.sort_by_key(|&i| orders[i].ago);
    for (rank, i) in newest_first.into_iter().enumerate() {
        orders[i].status = match rank {
            _ if rank % 25 == 12 => Status::Cancelled,
            0..=3 => Status::Pending,
            4..=9 => Status::Paid,
            _ => Status::Shipped,
        };
    }
    orders
}

/// Ids for `count` new rows of `table`, from its own sequence.
async fn new_ids(conn: &mut PgConnection, table: &str, count: usize) -> Result<Vec<i64>, DbError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT nextval(pg_get_serial_sequence($1, 'id')) AS "id!" FROM generate_series(1, $2::INTEGER)"#,
        table,
        i32::try_from(count).unwrap_or(i32::MAX)
    )
    .fetch_all(conn)
    .await?)
}

/// The demo customers, signed up `signed_up` seconds before `now`.
async fn insert_customers(conn: &mut PgConnection, now: DateTime<Utc>, signed_up: &[i64]) -> Result<Vec<i64>, DbError> {
    let ids = new_ids(conn, "users", USERS.len()).await?;
    let names: Vec<String> = USERS.iter().map(|u| u.0.to_string()).collect();
    let emails: Vec<String> = USERS.iter().map(|u| u.1.to_string()).collect();
    let joined: Vec<DateTime<Utc>> = signed_up.iter().map(|ago| now - Duration::seconds(*ago)).collect();
    sqlx::query!(
        "INSERT INTO users (id, name, email, created_at, updated_at)
         SELECT id, name, email, at, at FROM unnest($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TIMESTAMPTZ[])
             AS d(id, name, email, at)",
        &ids,
        &names,
        &emails,
        &joined
    )
    .execute(conn)
    .await?;
    Ok(ids)
}

/// The demo products, added `added` seconds before `now`, with the stock left today.
async fn insert_products(conn: &mut PgConnection, now: DateTime<Utc>, added: &[i64]) -> Result<Vec<i64>, DbError> {
    let ids = new_ids(conn, "products", PRODUCTS.len()).await?;
    let names: Vec<String> = PRODUCTS.iter().map(|p| p.0.to_string()).collect();
    let skus: Vec<String> = PRODUCTS.iter().map(|p| p.1.to_string()).collect();
    let prices: Vec<i64> = PRODUCTS.iter().map(|p| p.2).collect();
    let stock: Vec<i32> = PRODUCTS.iter().map(|p| p.4).collect();
    let at: Vec<DateTime<Utc>> = added.iter().map(|ago| now - Duration::seconds(*ago)).collect();
    sqlx::query!(
        "INSERT INTO products (id, name, sku, price_cents, stock, created_at, updated_at)
         SELECT id, name, sku, price, stock, at, at
           FROM unnest($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::INTEGER[], $6::TIMESTAMPTZ[])
             AS d(id, name, sku, price, stock, at)",
        &ids,
        &names,
        &skus,
        &prices,
        &stock,
        &at
    )
    .execute(conn)
    .await?;
    Ok(ids)
}

/// The demo orders and their lines as they stand today: totals added up,
/// each line at the product's price.
async fn insert_orders(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    orders: &[DemoOrder],
    user_ids: &[i64],
    product_ids: &[i64],
) -> Result<Vec<i64>, DbError> {
    let ids = new_ids(conn, "orders", orders.len()).await?;
    let customers: Vec<i64> = orders.iter().map(|o| user_ids[o.customer]).collect();
    let statuses: Vec<String> = orders.iter().map(|o| o.status.as_str().to_string()).collect();
    let totals: Vec<i64> =
        orders.iter().map(|o| o.lines.iter().map(|(p, q)| PRODUCTS[*p].2 * i64::from(*q)).sum()).collect();
    let items: Vec<i32> = orders.iter().map(|o| o.lines.iter().map(|(_, q)| q).sum()).collect();
    let placed: Vec<DateTime<Utc>> = orders.iter().map(|o| now - Duration::seconds(o.ago)).collect();
    sqlx::query!(
        "INSERT INTO orders (id, user_id, status, total_cents, item_count, placed_at, updated_at)
         SELECT id, user_id, status, total, items, at, at
           FROM unnest($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::BIGINT[], $5::INTEGER[], $6::TIMESTAMPTZ[])
             AS d(id, user_id, status, total, items, at)",
        &ids,
        &customers,
        &statuses,
        &totals,
        &items,
        &placed
    )
    .execute(&mut *conn)
    .await?;
    let mut line_orders = Vec::new();
    let mut line_products = Vec::new();
    let mut quantities = Vec::new();
    let mut prices = Vec::new();
    for (id, order) in ids.iter().zip(orders) {
        for (product, quantity) in &order.lines {
            line_orders.push(*id);
            line_products.push(product_ids[*product]);
            quantities.push(*quantity);
            prices.push(PRODUCTS[*product].2);
        }
    }
    sqlx::query!(
        "INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents)
         SELECT * FROM unnest($1::BIGINT[], $2::BIGINT[], $3::INTEGER[], $4::BIGINT[])",
        &line_orders,
        &line_products,
        &quantities,
        &prices
    )
    .execute(conn)
    .await?;
    Ok(ids)
}

/// Loads the demo shop unless its customers are already there. Returns a
/// summary of what was loaded, or `None` when nothing needed loading.
///
/// The rows are written as they stand today, dated over the last twelve
/// months, with the audit trail's automatic entries off; each record's
/// creation is then recorded as of its own date, so the audit log tells
/// when customers signed up, products were added and orders were placed,
/// and shows no changes that nobody made.
pub async fn seed(pool: &PgPool) -> Result<Option<String>, DbError> {
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    // One seeder at a time, even across several app instances.
    // `FROM`, because the function returns nothing (`void`) to read.
    sqlx::query!("SELECT FROM pg_advisory_xact_lock(4242001)").execute(&mut *tx).await?;
    let emails: Vec<String> = USERS.iter().map(|u| u.1.to_string()).collect();
    let already = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = ANY($1)) AS "already!""#,
        &emails
    )
    .fetch_one(&mut *tx)
    .await?;
    if already {
        return Ok(None);
    }
    sqlx::query!("SELECT set_config('shopdesk.audit', 'off', true) AS off").fetch_one(&mut *tx).await?;

    // Whole seconds, so the story's spacing is exactly the same each time.
    let now = DateTime::<Utc>::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_else(Utc::now);
    let mut seq = Sequence(19_620_301);
    let signed_up: Vec<i64> = USERS.iter().map(|u| u.2 * DAY + seq.next(DAY as usize) as i64).collect();
    let added: Vec<i64> = PRODUCTS.iter().map(|p| p.3 * DAY + seq.next(DAY as usize) as i64).collect();
    let orders = orders(now, &signed_up, &added);

    let user_ids = insert_customers(&mut tx, now, &signed_up).await?;
    let product_ids = insert_products(&mut tx, now, &added).await?;
    let order_ids = insert_orders(&mut tx, now, &orders, &user_ids, &product_ids).await?;
    audit::record_creations(&mut tx, &user_ids, &product_ids, &order_ids).await?;
    sqlx::query!("SELECT set_config('shopdesk.audit', '', true) AS on").fetch_one(&mut *tx).await?;

    // A read-only account, so anyone can look around safely.
    let viewer_exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM staff WHERE lower(email) = $1) AS "exists!""#,
        DEMO_VIEWER_EMAIL
    )
    .fetch_one(&mut *tx)
    .await?;
    if !viewer_exists {
        let password_hash = crate::passwords::hash_async(DEMO_VIEWER_PASSWORD.to_string())
            .await
            .map_err(|e| DbError::Sqlx(sqlx::Error::Protocol(e)))?;
        let viewer = NewStaff {
            email: Email::parse(DEMO_VIEWER_EMAIL).map_err(|e| demo_error(e.into()))?,
            display_name: "Demo Viewer".into(),
            role: Role::Viewer,
            password_hash,
        };
        staff::create(&mut tx, None, &viewer).await?;
    }
    tx.commit().await?;
    Ok(Some(format!(
        "Loaded demo data: {} customers, {} products, {} orders over the last twelve months, and the read-only \
         account {DEMO_VIEWER_EMAIL} (password {DEMO_VIEWER_PASSWORD}).",
        USERS.len(),
        PRODUCTS.len(),
        order_ids.len()
    )))
}

/// A demo value that does not parse: a mistake in this file.
fn demo_error(message: String) -> DbError {
    DbError::Sqlx(sqlx::Error::Protocol(format!("demo data: {message}")))
}

/// Loads the demo shop only into a shop with no customers, products or orders.
pub async fn seed_if_empty(pool: &PgPool) -> Result<Option<String>, DbError> {
    let empty = sqlx::query_scalar!(
        r#"SELECT NOT EXISTS (SELECT 1 FROM users) AND NOT EXISTS (SELECT 1 FROM products)
              AND NOT EXISTS (SELECT 1 FROM orders) AS "empty!""#
    )
    .fetch_one(pool)
    .await?;
    if !empty {
        return Ok(None);
    }
    seed(pool).await
}

/// On a server not started as a demo, disables the demo's read-only account
/// if it is there, enabled, and still has its published password: anyone
/// could otherwise sign in with it. `true` if it was disabled.
pub async fn retire_published_login(pool: &PgPool) -> Result<bool, DbError> {
    let mut conn = pool.acquire().await?;
    let Some((staff, hash)) = staff::find_for_sign_in(&mut conn, DEMO_VIEWER_EMAIL).await? else {
        return Ok(false);
    };
    if staff.disabled || !crate::passwords::verify_async(DEMO_VIEWER_PASSWORD.to_string(), hash).await {
        return Ok(false);
    }
    match staff::change(&mut conn, None, staff.id, staff::Change::Disabled(true)).await {
        Ok(()) => Ok(true),
        Err(staff::ChangeError::Db(e)) => Err(e),
        // A viewer is never the last admin, and the system acts as no one.
        Err(_) => Ok(false),
    }
}
