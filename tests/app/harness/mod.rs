//! Test harness: every test gets its own freshly created database, an app
//! built by the same `build_rocket` that `main` uses, a browser session on
//! it, and a pool to check what the database holds. The database is dropped
//! when the test ends.
//!
//! `TestApp`'s methods speak a person's intent (`create_customer`,
//! `place_order`, `confirm_bulk_orders`, `sign_out`) and send the same forms
//! a browser sends; see `shop`. Records a test only needs to exist are
//! written straight into the database (`customer`, `product`), as are large
//! amounts of data.

pub mod live;
mod page;
mod shop;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rocket::figment::providers::Serialized;
use rocket::figment::Figment;
use rocket::http::{Method, Status};
use rocket::local::asynchronous::Client;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Executor, PgPool};

pub use page::{csrf_in, encode_form, hidden_fields, url_encode, Page};
pub use shop::{Line, OrderForm};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The password every test account gets.
pub const PASSWORD: &str = "a long test password";

/// The bearer token `/metrics` asks the tests' scrapers for.
pub const METRICS_TOKEN: &str = "test-metrics-token-0123456789";

/// The server the tests create their databases on.
pub fn server_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// The app's settings for the database at `url`, quiet and never a demo:
/// the base every app of the tests starts from, whatever serves it.
pub fn figment(url: &str) -> Figment {
    shopdesk::figment()
        .merge(Serialized::global("databases.shop.url", url))
        .merge(Serialized::global("demo", false))
        .merge(Serialized::global("log_level", "off"))
        // Statement counts and figures are asserted per request: no
        // background refresher's statements in between.
        .merge(Serialized::global("dashboard.refresh_seconds", 0))
        // Nor a job worker's polling: the tests of jobs start their own.
        .merge(Serialized::global("jobs.workers", 0))
}

/// A TCP port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Waits until something listens on `port`; says whether it did in time.
pub async fn wait_for_port(port: u16, within: Duration) -> bool {
    let started = Instant::now();
    while rocket::tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        if started.elapsed() > within {
            return false;
        }
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

/// A process a test started (a `shopdesk` server, chromedriver), killed
/// when dropped so that a failing test leaves nothing running.
pub struct Process(pub std::process::Child);

impl Process {
    /// Kills it; returns what it wrote to its standard output, if piped.
    pub fn kill_and_read_output(&mut self) -> String {
        use std::io::Read;
        let _ = self.0.kill();
        let _ = self.0.wait();
        let mut output = String::new();
        if let Some(mut stdout) = self.0.stdout.take() {
            let _ = stdout.read_to_string(&mut output);
        }
        output
    }
}

impl std::ops::Deref for Process {
    type Target = std::process::Child;

    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for Process {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub struct TestApp {
    /// The browser: it keeps the cookies it is given.
    pub client: Client,
    pub pool: PgPool,
    /// The test database's URL.
    pub url: String,
    /// The database this app created, and drops when it ends; `None` for a
    /// second app on another's database.
    created: Option<String>,
    /// The CSRF token of the client's browser session, sent with every post.
    csrf: std::sync::Mutex<String>,
}

impl TestApp {
    /// An app with an admin signed in.
    pub async fn new() -> TestApp {
        let app = Self::with_demo(false).await;
        app.sign_in_as("admin@test.example", "admin").await;
        app
    }

    /// An app with nobody signed in; with `demo`, its start-up loads the
    /// demo shop, as a first run does.
    pub async fn with_demo(demo: bool) -> TestApp {
        Self::configured(demo, &[]).await
    }

    /// An app with these settings on top of the tests' usual ones, e.g.
    /// `("auth.require_two_factor_for_admins", true.into())`.
    pub async fn configured(demo: bool, settings: &[(&str, serde_json::Value)]) -> TestApp {
        let server: PgConnectOptions = server_url().parse().expect("DATABASE_URL is a PostgreSQL URL");
        let name = format!(
            "shopdesk_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0)
        );
        let mut admin = server.connect().await.expect("PostgreSQL must be reachable at DATABASE_URL");
        admin.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).await.expect("create test database");
        let url = server.clone().database(&name).to_url_lossy().to_string();
        let client = Self::start(&url, demo, settings).await;
        let pool = PgPool::connect(&url).await.expect("connect to test database");
        TestApp { client, pool, url, created: Some(name), csrf: std::sync::Mutex::new(String::new()) }
    }

    /// A second app on this app's database, not a demo, with these settings
    /// on top of the usual ones, and a browser of its own that is signed in
    /// as nobody yet: another web server of the same shop, or the same one
    /// started again.
    pub async fn second_app(&self, settings: &[(&str, serde_json::Value)]) -> TestApp {
        let client = Self::start(&self.url, false, settings).await;
        TestApp {
            client,
            pool: self.pool.clone(),
            url: self.url.clone(),
            created: None,
            csrf: std::sync::Mutex::new(String::new()),
        }
    }

    /// An app on an existing database at `url` (one a test made on a
    /// PostgreSQL server of its own), not a demo, with these settings and a
    /// browser signed in as nobody. The database is left as it is.
    pub async fn on_database(url: &str, settings: &[(&str, serde_json::Value)]) -> TestApp {
        let client = Self::start(url, false, settings).await;
        let pool = PgPool::connect(url).await.expect("connect to the test database");
        TestApp { client, pool, url: url.to_string(), created: None, csrf: std::sync::Mutex::new(String::new()) }
    }

    async fn start(url: &str, demo: bool, settings: &[(&str, serde_json::Value)]) -> Client {
        let mut figment = figment(url)
            .merge(Serialized::global("databases.shop.max_connections", 8))
            .merge(Serialized::global("demo", demo))
            .merge(Serialized::global("metrics_token", METRICS_TOKEN));
        for (key, value) in settings {
            figment = figment.merge(Serialized::global(key, value.clone()));
        }
        Client::tracked(shopdesk::build_rocket(figment)).await.expect("app starts")
    }

    /// Every route of the app as a concrete path, with `1` for each dynamic segment.
    pub fn routes(&self, method: Method) -> Vec<String> {
        let mut paths: Vec<String> = self
            .client
            .rocket()
            .routes()
            .filter(|r| r.method == method)
            .map(|r| {
                r.uri
                    .path()
                    .split('/')
                    .map(|seg| if seg.starts_with('<') { "1" } else { seg })
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .collect();
        paths.sort();
        paths.dedup();
        paths
    }

    // The browser.

    /// Reads the CSRF token from a page's forms, as a browser would hold it.
    pub async fn refresh_csrf(&self, path: &str) {
        let page = self.get(path).await;
        if let Some(token) = csrf_in(&page.body) {
            *self.csrf.lock().expect("csrf lock") = token;
        }
    }

    pub fn csrf(&self) -> String {
        self.csrf.lock().expect("csrf lock").clone()
    }

    /// Asks for `path` as a browser would: without its `#fragment`.
    pub async fn get(&self, path: &str) -> Page {
        let path = path.split('#').next().unwrap_or(path);
        Page::read(self.client.get(path.to_string()).dispatch().await).await
    }

    /// Downloads `path` as a file: its status, content type and bytes.
    pub async fn download(&self, path: &str) -> (rocket::http::Status, Option<String>, Vec<u8>) {
        let response = self.client.get(path.to_string()).dispatch().await;
        let status = response.status();
        let content_type = response.headers().get_one("Content-Type").map(str::to_string);
        (status, content_type, response.into_bytes().await.unwrap_or_default())
    }

    /// Posts a form as the browser would, with its CSRF token.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.csrf();
        let mut with_token: Vec<(&str, &str)> = vec![("csrf", token.as_str())];
        with_token.extend_from_slice(fields);
        self.post_raw(path, &with_token).await
    }

    /// Posts exactly these fields: no CSRF token unless given.
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let request = self.client.post(path.to_string()).header(rocket::http::ContentType::Form);
        Page::read(request.body(encode_form(fields)).dispatch().await).await
    }

    /// Posts a form that must succeed, and returns the page it redirects to.
    pub async fn post_ok(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let posted = self.post(path, fields).await;
        self.follow(path, posted).await
    }

    /// Presses the submit button of `page`'s form posting to `action` (its
    /// hidden fields, CSRF token included) and returns the answer as it is.
    pub async fn press(&self, page: &Page, action: &str) -> Page {
        let fields = hidden_fields(&page.body, action);
        assert!(!fields.is_empty(), "expected a form posting to {action}; body:\n{}", page.body);
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.post_raw(action, &fields).await
    }

    /// Presses the submit button of `page`'s form posting to `action` and
    /// returns the page it redirects to.
    pub async fn submit(&self, page: &Page, action: &str) -> Page {
        let posted = self.press(page, action).await;
        self.follow(action, posted).await
    }

    /// The page a post to `path` that must succeed redirected to.
    async fn follow(&self, path: &str, posted: Page) -> Page {
        assert_eq!(posted.status, Status::SeeOther, "expected a redirect from {path}; body:\n{}", posted.body);
        let to = posted.location.expect("redirect has a location");
        self.get(&to).await
    }

    /// `/metrics`, as Prometheus asks for it.
    /// Opens the undo's confirmation page of change set `set` and presses its button.
    pub async fn undo_change_set(&self, set: i64) -> Page {
        let confirm = self.get(&format!("/changes/{set}/undo")).await;
        assert_eq!(confirm.status, rocket::http::Status::Ok, "{}", confirm.body);
        self.submit(&confirm, &format!("/changes/{set}/undo")).await
    }

    pub async fn metrics(&self) -> Page {
        let bearer = rocket::http::Header::new("Authorization", format!("Bearer {METRICS_TOKEN}"));
        Page::read(self.client.get("/metrics").header(bearer).dispatch().await).await
    }

    // Staff and their sessions.

    /// Creates a staff account with [`PASSWORD`]; returns its id.
    pub async fn staff(&self, email: &str, role: &str) -> i64 {
        let new = shopdesk::db::staff::NewStaff {
            email: shopdesk::domain::Email::parse(email).expect("a valid email"),
            display_name: format!("Test {role}"),
            role: shopdesk::db::staff::Role::parse(role).expect("admin or viewer"),
            password_hash: shopdesk::passwords::hash(PASSWORD).expect("hash"),
        };
        let mut conn = self.pool.acquire().await.expect("connection");
        shopdesk::db::staff::create(&mut conn, None, &new).await.expect("create staff")
    }

    /// Creates a staff account and signs in as it through the sign-in form.
    pub async fn sign_in_as(&self, email: &str, role: &str) -> i64 {
        let id = self.staff(email, role).await;
        self.refresh_csrf("/sign-in").await;
        let page = self.sign_in(email, PASSWORD).await;
        assert_eq!(page.status, Status::SeeOther, "sign-in failed: {}", page.body);
        self.refresh_csrf("/").await;
        id
    }

    /// Sends the sign-in form (with the token the browser holds, from the
    /// sign-in page), going on to the dashboard; returns the answer.
    pub async fn sign_in(&self, email: &str, password: &str) -> Page {
        self.sign_in_to(email, password, "/").await
    }

    /// Sends the sign-in form, going on to `next`; returns the answer.
    pub async fn sign_in_to(&self, email: &str, password: &str, next: &str) -> Page {
        self.post("/sign-in", &[("email", email), ("password", password), ("next", next)]).await
    }

    /// Signs out with the button on a signed-in page, and lands on the
    /// sign-in page, whose token the next sign-in sends.
    pub async fn sign_out(&self) {
        self.refresh_csrf("/").await;
        self.post("/sign-out", &[]).await;
        self.refresh_csrf("/sign-in").await;
    }

    // Records written straight into the database.

    /// Creates a customer; returns its id.
    pub async fn customer(&self, name: &str, email: &str) -> i64 {
        sqlx::query_scalar("INSERT INTO users (name, email) VALUES ($1, $2) RETURNING id")
            .bind(name)
            .bind(email)
            .fetch_one(&self.pool)
            .await
            .expect("insert customer")
    }

    /// Creates `n` customers, `C0` (`c0@example.com`) and on; returns their ids.
    pub async fn numbered_customers(&self, n: usize) -> Vec<i64> {
        let mut ids = Vec::new();
        for k in 0..n {
            ids.push(self.customer(&format!("C{k}"), &format!("c{k}@example.com")).await);
        }
        ids
    }

    /// Creates a product; returns its id.
    pub async fn product(&self, name: &str, sku: &str, price_cents: i64, stock: i32) -> i64 {
        sqlx::query_scalar("INSERT INTO products (name, sku, price_cents, stock) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(name)
            .bind(sku)
            .bind(price_cents)
            .bind(stock)
            .fetch_one(&self.pool)
            .await
            .expect("insert product")
    }

    /// Adds synthetic customers, products and orders, as `shopdesk generate` does.
    pub async fn generate(&self, sizes: shopdesk::generate::Sizes, seed: u64) {
        let mut conn = self.pool.acquire().await.expect("connection");
        shopdesk::generate::generate(&mut conn, sizes, seed, false).await.expect("generate data");
    }

    /// Moves an order to noon (UTC) of `day` (`YYYY-MM-DD`).
    pub async fn set_placed_on(&self, order: i64, day: &str) {
        sqlx::query("UPDATE orders SET placed_at = $2::DATE + TIME '12:00' AT TIME ZONE 'UTC' WHERE id = $1")
            .bind(order)
            .bind(day)
            .execute(&self.pool)
            .await
            .expect("move the order");
    }

    /// Writes paid one-line orders in three set-based statements (as quick
    /// for 10,000 as for one) in one transaction; the database's triggers
    /// keep the figures, as for any order. Returns their ids, in order.
    pub async fn paid_orders_in_sql(&self, orders: &[SqlOrder]) -> Vec<i64> {
        let column = |f: fn(&SqlOrder) -> i64| orders.iter().map(f).collect::<Vec<i64>>();
        let placed_at: Vec<chrono::DateTime<chrono::Utc>> = orders.iter().map(|o| o.placed_at).collect();
        let quantities: Vec<i32> = orders.iter().map(|o| o.quantity).collect();
        let prices: Vec<Option<i64>> = orders.iter().map(|o| o.unit_price_cents).collect();
        let mut tx = self.pool.begin().await.expect("a transaction");
        let mut ids: Vec<i64> = sqlx::query_scalar(
            "INSERT INTO orders (user_id, status, placed_at)
             SELECT customer, 'paid', placed_at
               FROM unnest($1::BIGINT[], $2::TIMESTAMPTZ[]) WITH ORDINALITY AS o(customer, placed_at, n)
              ORDER BY n
             RETURNING id",
        )
        .bind(column(|o| o.customer))
        .bind(&placed_at)
        .fetch_all(&mut *tx)
        .await
        .expect("insert orders");
        // Identities are handed out in the order the rows go in.
        ids.sort_unstable();
        sqlx::query(
            "INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents)
             SELECT l.order_id, l.product_id, l.quantity, coalesce(l.price, p.price_cents)
               FROM unnest($1::BIGINT[], $2::BIGINT[], $3::INT[], $4::BIGINT[]) AS l(order_id, product_id, quantity, price)
               JOIN products p ON p.id = l.product_id",
        )
        .bind(&ids)
        .bind(column(|o| o.product))
        .bind(&quantities)
        .bind(&prices)
        .execute(&mut *tx)
        .await
        .expect("insert order lines");
        sqlx::query(
            "UPDATE orders o SET total_cents = i.quantity * i.unit_price_cents, item_count = i.quantity
               FROM order_items i WHERE i.order_id = o.id AND o.id = ANY($1)",
        )
        .bind(&ids)
        .execute(&mut *tx)
        .await
        .expect("order totals");
        tx.commit().await.expect("commit the orders");
        ids
    }

    // What the database holds.

    /// A row's version (`table` is one of the shop's own tables).
    pub async fn version_of(&self, table: &str, id: i64) -> i32 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT version FROM {table} WHERE id = $1")))
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .expect("the row's version")
    }

    pub async fn scalar_i64(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.expect("query runs")
    }

    /// The units of a product in stock.
    pub async fn stock_of(&self, product: i64) -> i32 {
        sqlx::query_scalar("SELECT stock FROM products WHERE id = $1")
            .bind(product)
            .fetch_one(&self.pool)
            .await
            .expect("the product's stock")
    }

    /// Each kept report figure that differs from what the orders add up to,
    /// as `shopdesk verify-stats` lists them.
    pub async fn figure_differences(&self) -> Vec<String> {
        let mut conn = self.pool.acquire().await.expect("connection");
        let found = shopdesk::db::stats::verify(&mut conn).await.expect("verify the figures");
        found.iter().map(ToString::to_string).collect()
    }

    pub async fn assert_figures_exact(&self) {
        let found = self.figure_differences().await;
        assert!(found.is_empty(), "the report figures differ from the orders: {found:?}");
    }
}

/// A paid order of one line, for [`TestApp::paid_orders_in_sql`].
pub struct SqlOrder {
    pub customer: i64,
    pub product: i64,
    pub quantity: i32,
    /// The price paid; `None` for the product's price.
    pub unit_price_cents: Option<i64>,
    pub placed_at: chrono::DateTime<chrono::Utc>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let Some(name) = self.created.take() else { return };
        // Drop the database from a thread of its own: Drop cannot await.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = rocket::tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            runtime.block_on(async move {
                let Ok(server) = server_url().parse::<PgConnectOptions>() else { return };
                if let Ok(mut admin) = server.connect().await {
                    let _ = admin
                        .execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")))
                        .await;
                }
            });
        })
        .join();
    }
}
