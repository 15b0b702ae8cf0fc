//! Test harness: every test gets its own freshly created database, an app
//! built by the same `build_rocket` that `main` uses, and a pool to check
//! what the database holds. The database is dropped when the test ends.

#![allow(dead_code)]

pub mod live;

use std::sync::atomic::{AtomicU32, Ordering};

use rocket::figment::providers::Serialized;
use rocket::http::{ContentType, Status};
use rocket::local::asynchronous::Client;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Executor, PgPool};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The server the tests create their databases on.
pub fn server_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

pub struct TestApp {
    pub client: Client,
    pub pool: PgPool,
    pub db_name: String,
    /// The test database's URL.
    pub url: String,
    /// The CSRF token of the client's browser session, sent with every post.
    csrf: std::sync::Mutex<String>,
}

/// The password every test account gets.
pub const PASSWORD: &str = "a long test password";

/// The bearer token `/metrics` asks the tests' scrapers for.
pub const METRICS_TOKEN: &str = "test-metrics-token-0123456789";

/// A response reduced to what the tests look at.
pub struct Page {
    pub status: Status,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    pub fn assert_contains(&self, needle: &str) {
        assert!(
            self.body.contains(needle),
            "expected page to contain {needle:?}; status {}; body:\n{}",
            self.status,
            self.body
        );
    }
    pub fn assert_lacks(&self, needle: &str) {
        assert!(!self.body.contains(needle), "expected page not to contain {needle:?}; body:\n{}", self.body);
    }
}

/// The CSRF token in a page's forms.
pub fn csrf_in(body: &str) -> Option<String> {
    let at = body.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    body[at..].split('"').next().map(str::to_string)
}

/// The hidden fields of the page's form that posts to `action`, unescaped.
pub fn hidden_fields(body: &str, action: &str) -> Vec<(String, String)> {
    let opening = format!("<form method=\"post\" action=\"{action}\"");
    let Some(start) = body.find(&opening) else { return Vec::new() };
    let form = &body[start..];
    let form = &form[..form.find("</form>").unwrap_or(form.len())];
    let attribute = |tag: &str, name: &str| {
        let key = format!("{name}=\"");
        tag.find(&key).map(|at| tag[at + key.len()..].split('"').next().unwrap_or("").to_string())
    };
    let unescape = |s: String| {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&#x27;", "'")
            .replace("&amp;", "&")
    };
    form.split("<input")
        .skip(1)
        .map(|tag| &tag[..tag.find('>').unwrap_or(tag.len())])
        .filter(|tag| tag.contains("type=\"hidden\""))
        .filter_map(|tag| Some((attribute(tag, "name")?, unescape(attribute(tag, "value").unwrap_or_default()))))
        .collect()
}

/// Encodes form fields as `application/x-www-form-urlencoded`.
pub fn encode_form(fields: &[(&str, &str)]) -> String {
    fields.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(*b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl TestApp {
    /// An app with an admin signed in.
    pub async fn new() -> TestApp {
        let app = Self::with_demo(false).await;
        app.sign_in_as("admin@test.example", "admin").await;
        app
    }

    /// An app with a read-only viewer signed in.
    pub async fn as_viewer() -> TestApp {
        let app = Self::with_demo(false).await;
        app.sign_in_as("viewer@test.example", "viewer").await;
        app
    }

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
        let page = self.post("/sign-in", &[("email", email), ("password", PASSWORD), ("next", "/")]).await;
        assert_eq!(page.status, Status::SeeOther, "sign-in failed: {}", page.body);
        self.refresh_csrf("/").await;
        id
    }

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

    /// An app whose start-up loads the demo shop, as a first run does.
    pub async fn with_demo(demo: bool) -> TestApp {
        Self::configured(demo, &[]).await
    }

    /// An app with these settings on top of the tests' usual ones, e.g.
    /// `("auth.require_two_factor_for_admins", true.into())`.
    pub async fn configured(demo: bool, settings: &[(&str, serde_json::Value)]) -> TestApp {
        let server: PgConnectOptions = server_url().parse().expect("DATABASE_URL is a PostgreSQL URL");
        let db_name = format!(
            "shopdesk_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0)
        );
        let mut admin = server.connect().await.expect("PostgreSQL must be reachable at DATABASE_URL");
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{db_name}\"")))
            .await
            .expect("create test database");
        let url = server.clone().database(&db_name).to_url_lossy().to_string();
        let mut figment = shopdesk::figment()
            .merge(Serialized::global("databases.shop.url", &url))
            .merge(Serialized::global("databases.shop.max_connections", 8))
            .merge(Serialized::global("demo", demo))
            .merge(Serialized::global("metrics_token", METRICS_TOKEN))
            .merge(Serialized::global("log_level", "off"));
        for (key, value) in settings {
            figment = figment.merge(Serialized::global(key, value.clone()));
        }
        let client = Client::tracked(shopdesk::build_rocket(figment)).await.expect("app starts");
        let pool = PgPool::connect(&url).await.expect("connect to test database");
        TestApp { client, pool, db_name, url, csrf: std::sync::Mutex::new(String::new()) }
    }

    /// `/metrics`, as Prometheus asks for it.
    pub async fn metrics(&self) -> Page {
        let response = self
            .client
            .get("/metrics")
            .header(rocket::http::Header::new("Authorization", format!("Bearer {METRICS_TOKEN}")))
            .dispatch()
            .await;
        Page {
            status: response.status(),
            location: response.headers().get_one("Location").map(str::to_string),
            body: response.into_string().await.unwrap_or_default(),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        let response = self.client.get(path.to_string()).dispatch().await;
        Page {
            status: response.status(),
            location: response.headers().get_one("Location").map(str::to_string),
            body: response.into_string().await.unwrap_or_default(),
        }
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
        let response =
            self.client.post(path.to_string()).header(ContentType::Form).body(encode_form(fields)).dispatch().await;
        Page {
            status: response.status(),
            location: response.headers().get_one("Location").map(str::to_string),
            body: response.into_string().await.unwrap_or_default(),
        }
    }

    /// Posts a form that must succeed, and returns the page it redirects to.
    pub async fn post_ok(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let posted = self.post(path, fields).await;
        assert_eq!(posted.status, Status::SeeOther, "expected a redirect from {path}; body:\n{}", posted.body);
        let to = posted.location.expect("redirect has a location");
        self.get(&to).await
    }

    /// Presses the submit button of `page`'s form posting to `action` (its
    /// hidden fields, CSRF token included) and returns the page it redirects to.
    pub async fn submit(&self, page: &Page, action: &str) -> Page {
        let fields = hidden_fields(&page.body, action);
        assert!(!fields.is_empty(), "expected a form posting to {action}; body:\n{}", page.body);
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let posted = self.post_raw(action, &fields).await;
        assert_eq!(posted.status, Status::SeeOther, "expected a redirect from {action}; body:\n{}", posted.body);
        let to = posted.location.expect("redirect has a location");
        self.get(&to).await
    }

    pub async fn scalar_i64(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.expect("query runs")
    }

    /// Creates a customer directly in the database; returns its id.
    pub async fn user(&self, name: &str, email: &str) -> i64 {
        sqlx::query_scalar("INSERT INTO users (name, email) VALUES ($1, $2) RETURNING id")
            .bind(name)
            .bind(email)
            .fetch_one(&self.pool)
            .await
            .expect("insert user")
    }

    /// Creates a product directly in the database; returns its id.
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
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let name = self.db_name.clone();
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
