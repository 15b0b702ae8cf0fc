//! Demo data: a small, realistic shop to explore and to show stakeholders.
//! Loading is idempotent: a shop that already has the demo customers is left alone.

use chrono::{Duration, Utc};
use sqlx::{Acquire, PgPool};

use crate::db::orders::{self, Draft, DraftLine};
use crate::db::products::{self, NewProduct};
use crate::db::staff::{self, NewStaff, Role};
use crate::db::users::{self, NewUser};
use crate::db::DbError;
use crate::domain::{Email, Money, Sku, Status};

/// The read-only demo account, documented in the README.
pub const DEMO_VIEWER_EMAIL: &str = "viewer@shopdesk.demo";
pub const DEMO_VIEWER_PASSWORD: &str = "look-but-dont-touch";

const USERS: [(&str, &str); 10] = [
    ("Ada Lovelace", "ada@example.com"),
    ("Grace Hopper", "grace@example.com"),
    ("Alan Turing", "alan@example.com"),
    ("Katherine Johnson", "katherine@example.com"),
    ("Linus Torvalds", "linus@example.com"),
    ("Margaret Hamilton", "margaret@example.com"),
    ("Dennis Ritchie", "dennis@example.com"),
    ("Barbara Liskov", "barbara@example.com"),
    ("Ken Thompson", "ken@example.com"),
    ("Frances Allen", "frances@example.com"),
];

/// Name, SKU, price in cents, stock before the demo orders.
const PRODUCTS: [(&str, &str, i64, i32); 14] = [
    ("Ceramic Pour-Over Coffee Dripper", "KIT-DRIP-01", 2499, 120),
    ("Stoneware Mug, 350 ml", "MUG-350-SND", 1450, 200),
    ("Single-Origin Beans, Ethiopia 250 g", "BEAN-ETH-250", 1699, 180),
    ("Single-Origin Beans, Colombia 250 g", "BEAN-COL-250", 1599, 180),
    ("Burr Grinder", "GRND-BURR-02", 8900, 40),
    ("Gooseneck Kettle", "KETL-GOOSE-1", 5900, 60),
    ("Paper Filters (100)", "FILT-100", 699, 400),
    ("Linen Tea Towel", "TOWL-LIN-GRY", 1200, 90),
    ("Loose Leaf Green Tea 100 g", "TEA-GRN-100", 1100, 150),
    ("Glass Storage Jar", "JAR-GLS-1L", 1850, 75),
    ("Cold Brew Bottle", "BTL-COLD-1L", 3200, 50),
    ("Digital Coffee Scale", "SCAL-DIG-01", 4500, 45),
    ("Walnut Serving Board", "BRD-WAL-L", 6400, 25),
    ("Gift Card $50", "GIFT-50", 5000, 500),
];

/// A small deterministic generator, so every demo shop looks the same.
struct Sequence(u64);

impl Sequence {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % below as u64) as usize
    }
}

/// Loads the demo shop unless its customers are already there. Returns a
/// summary of what was loaded, or `None` when nothing needed loading.
pub async fn seed(pool: &PgPool) -> Result<Option<String>, DbError> {
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    // One seeder at a time, even across several app instances.
    // `FROM`, because the function returns nothing (`void`) to read.
    sqlx::query!("SELECT FROM pg_advisory_xact_lock(4242001)").execute(&mut *tx).await?;
    let emails: Vec<String> = USERS.iter().map(|(_, e)| e.to_string()).collect();
    let already = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = ANY($1)) AS "already!""#,
        &emails
    )
    .fetch_one(&mut *tx)
    .await?;
    if already {
        return Ok(None);
    }

    let mut user_ids = Vec::new();
    for (name, email) in USERS {
        let email = Email::parse(email).map_err(|e| demo_error(e.into()))?;
        user_ids.push(users::create(&mut tx, None, &NewUser { name: name.into(), email }).await?);
    }
    let mut product_ids = Vec::new();
    for (name, sku, price_cents, stock) in PRODUCTS {
        let sku = Sku::parse(sku).map_err(demo_error)?;
        let product = NewProduct { name: name.into(), sku, price_cents: Money::from_cents(price_cents), stock };
        product_ids.push(products::create(&mut tx, None, &product).await?);
    }

    let mut seq = Sequence(20_240_601);
    let order_count = 36;
    for n in 0..order_count {
        // Skewed towards the first customers, so the reports have a clear leader.
        let customer = user_ids[seq.next(user_ids.len()).min(seq.next(user_ids.len()))];
        let status = match n % 9 {
            0..=2 => Status::Shipped,
            3 | 4 => Status::Paid,
            5..=7 => Status::Pending,
            _ => Status::Cancelled,
        };
        let line_count = 1 + seq.next(5);
        let mut lines: Vec<DraftLine> = Vec::new();
        while lines.len() < line_count {
            let product_id = product_ids[seq.next(product_ids.len())];
            if lines.iter().all(|l| l.product_id != product_id) {
                let quantity = 1 + seq.next(3) as i32;
                lines.push(DraftLine { product_id, quantity, unit_price_cents: None });
            }
        }
        let draft = Draft { user_id: customer, status, lines };
        let id = orders::save(&mut tx, None, None, &draft).await.map_err(|e| match e {
            orders::SaveError::Db(e) => e,
            other => DbError::Sqlx(sqlx::Error::Protocol(other.to_string())),
        })?;
        let placed = Utc::now() - Duration::hours((order_count - n) * 53 + seq.next(40) as i64);
        sqlx::query!("UPDATE orders SET placed_at = $2, updated_at = $2 WHERE id = $1", id, placed)
            .execute(&mut *tx)
            .await?;
    }
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
        "Loaded demo data: {} customers, {} products, {order_count} orders, and the read-only account \
         {DEMO_VIEWER_EMAIL} (password {DEMO_VIEWER_PASSWORD}).",
        USERS.len(),
        PRODUCTS.len()
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
