//! Several instances of one shop: starting together on a new database, they
//! migrate it and load the demo once and make one first admin; serving it,
//! any request may land on any of them (behind nginx, consecutive requests
//! of one browser often do), so sign-in, CSRF, flash messages, throttling
//! and bulk confirmations must not care which instance answers.

use std::collections::BTreeMap;

use serde_json::json;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Executor};

use crate::harness::live::{Answer, Http, LiveServer};
use crate::harness::{csrf_in, encode_form, hidden_fields, server_url, TestApp, PASSWORD};

/// The secret every instance of the shop shares: session cookies sealed by
/// one are opened by the others.
const SECRET: &str = "hPRYyVRiMyxpw5sBB1XeCMN1kFsDCqKvBi2QJxBVHQk=";

/// A new, empty database on the test server, dropped when the guard goes.
struct EmptyDatabase {
    name: String,
    url: String,
}

impl EmptyDatabase {
    async fn create() -> EmptyDatabase {
        let server: PgConnectOptions = server_url().parse().expect("a PostgreSQL URL");
        let name = format!("shopdesk_test_instances_{}_{}", std::process::id(), rand_suffix());
        let mut admin = server.connect().await.expect("PostgreSQL");
        admin.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).await.expect("create database");
        let url = server.database(&name).to_url_lossy().to_string();
        EmptyDatabase { name, url }
    }
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0)
}

impl Drop for EmptyDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
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

#[rocket::async_test]
async fn instances_starting_together_migrate_and_load_the_demo_once() {
    let database = EmptyDatabase::create().await;
    let demo = [("demo", json!(true))];
    // Four instances start at the same moment on the empty database; each
    // one's start-up fails if migrating or seeding collides with another's.
    let (a, b, c, d) = futures::join!(
        TestApp::on_database(&database.url, &demo),
        TestApp::on_database(&database.url, &demo),
        TestApp::on_database(&database.url, &demo),
        TestApp::on_database(&database.url, &demo),
    );
    let applied = a.scalar_i64("SELECT count(*) FROM _sqlx_migrations WHERE success").await;
    assert_eq!(applied, shopdesk::db::MIGRATOR.iter().count() as i64, "every migration applied once");
    let viewers: i64 = sqlx::query_scalar("SELECT count(*) FROM staff WHERE lower(email) = lower($1)")
        .bind(shopdesk::demo::DEMO_VIEWER_EMAIL)
        .fetch_one(&a.pool)
        .await
        .expect("count");
    assert_eq!(viewers, 1, "the demo was loaded once");
    let customers = a.scalar_i64("SELECT count(*) FROM users").await;
    assert!(customers > 0);
    // Starting again loads nothing more.
    let again = b.second_app(&demo).await;
    assert_eq!(again.scalar_i64("SELECT count(*) FROM users").await, customers);
    drop((a, b, c, d, again));
}

#[rocket::async_test]
async fn the_first_admin_is_created_once_whichever_instance_starts_first() {
    let app = TestApp::with_demo(false).await;
    let hash = shopdesk::passwords::hash(PASSWORD).expect("hash");
    let admin = |n: usize| shopdesk::db::staff::NewStaff {
        email: shopdesk::domain::Email::parse(&format!("admin{n}@test.example")).expect("an email"),
        display_name: "Administrator".into(),
        role: shopdesk::db::staff::Role::Admin,
        password_hash: hash.clone(),
    };
    let accounts: Vec<_> = (0..4).map(admin).collect();
    let created = futures::future::join_all(accounts.iter().map(|a| shopdesk::create_first_admin(&app.pool, a))).await;
    let created: Vec<bool> = created.into_iter().map(|c| c.expect("no instance fails")).collect();
    assert_eq!(created.iter().filter(|c| **c).count(), 1, "{created:?}");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM staff").await, 1);
}

/// A browser whose consecutive requests go to whichever instance is next,
/// as a round-robin proxy sends them. It keeps its cookies.
struct Browser {
    instances: Vec<Http>,
    next: usize,
    cookies: BTreeMap<String, String>,
    /// Which instance answered each request, in order.
    served_by: Vec<usize>,
}

impl Browser {
    fn new(instances: Vec<Http>) -> Browser {
        Browser { instances, next: 0, cookies: BTreeMap::new(), served_by: Vec::new() }
    }

    async fn exchange(&mut self, method: &str, path: &str, form: &[(&str, &str)]) -> Answer {
        let which = self.next % self.instances.len();
        self.next += 1;
        self.served_by.push(which);
        let cookie = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let headers: Vec<(&str, &str)> = if cookie.is_empty() { vec![] } else { vec![("Cookie", cookie.as_str())] };
        let answer = self.instances[which].exchange(method, path, &headers, &encode_form(form)).await;
        for (_, value) in answer.headers.iter().filter(|(k, _)| k == "set-cookie") {
            let pair = value.split(';').next().unwrap_or("");
            if let Some((k, v)) = pair.split_once('=') {
                if v.is_empty() || value.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_string(), v.to_string());
                }
            }
        }
        answer
    }

    async fn get(&mut self, path: &str) -> Answer {
        self.exchange("GET", path, &[]).await
    }

    /// Posts `fields` with the CSRF token of the page at `form_page`
    /// (fetched from the next instance), to the instance after it.
    async fn post_form(&mut self, form_page: &str, action: &str, fields: &[(&str, &str)]) -> Answer {
        let page = self.get(form_page).await;
        let token = csrf_in(&page.body).unwrap_or_else(|| panic!("a CSRF token on {form_page}: {}", page.body));
        let mut with_token = vec![("csrf", token.as_str())];
        with_token.extend_from_slice(fields);
        self.exchange("POST", action, &with_token).await
    }
}

#[rocket::async_test]
async fn a_session_signs_in_on_one_instance_and_works_on_the_other() {
    let app = TestApp::with_demo(false).await;
    app.staff("admin@test.example", "admin").await;
    let customer = app.customer("Ada Lovelace", "ada@example.com").await;
    for _ in 0..3 {
        sqlx::query("INSERT INTO orders (user_id, status) VALUES ($1, 'pending')")
            .bind(customer)
            .execute(&app.pool)
            .await
            .expect("an order");
    }
    let settings = [("secret_key", json!(SECRET)), ("auth.max_failures_per_account", json!(3))];
    let one = LiveServer::start(&app.url, &settings).await;
    let two = LiveServer::start(&app.url, &settings).await;
    let mut browser = Browser::new(vec![*one, *two]);

    // Signing in: the form comes from one instance, is posted to the other,
    // and the dashboard it leads to is served by the first again.
    let signed = browser
        .post_form("/sign-in", "/sign-in", &[("email", "admin@test.example"), ("password", PASSWORD), ("next", "/")])
        .await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    let home = browser.get("/").await;
    assert_eq!(home.status, 200, "signed in on the other instance: {}", home.body);

    // A form with its CSRF token from one instance, posted to the other; its
    // flash message shows on the page the first one serves next.
    let created =
        browser.post_form("/users/new", "/users", &[("name", "Grace Hopper"), ("email", "grace@example.com")]).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let next = created.header("location").expect("a redirect").to_string();
    let shown = browser.get(&next).await;
    assert_eq!(shown.status, 200);
    assert!(shown.body.contains("Grace Hopper"), "{}", shown.body);
    assert!(
        shown.body.contains("flash-success") && shown.body.contains("Grace Hopper created."),
        "the flash message set by the other instance: {}",
        shown.body
    );

    // A bulk change reviewed on one instance and confirmed on the other.
    let review = browser.get("/orders/bulk?action=paid&scope=all&filters.status=pending").await;
    assert!(review.body.contains("Mark as paid: 3 orders?"), "{}", review.body);
    let fields = hidden_fields(&review.body, "/orders/bulk");
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let confirmed = browser.exchange("POST", "/orders/bulk", &fields).await;
    assert_eq!(confirmed.status, 303, "{}", confirmed.body);
    let done = browser.get(confirmed.header("location").expect("a redirect")).await;
    assert!(done.body.contains("3 orders are now paid."), "{}", done.body);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM orders WHERE status = 'paid'").await, 3);

    // Failed sign-ins count across instances: the limit is reached with
    // attempts spread over both.
    let mut stranger = Browser::new(vec![*one, *two]);
    for _ in 0..3 {
        let refused = stranger
            .post_form("/sign-in", "/sign-in", &[("email", "admin@test.example"), ("password", "wrong"), ("next", "/")])
            .await;
        assert_ne!(refused.status, 303);
    }
    let throttled = stranger
        .post_form("/sign-in", "/sign-in", &[("email", "admin@test.example"), ("password", PASSWORD), ("next", "/")])
        .await;
    assert_ne!(throttled.status, 303, "the right password is refused once the limit is reached");
    assert!(throttled.body.contains("Too many failed sign-ins"), "{}", throttled.body);

    assert!(browser.served_by.contains(&0) && browser.served_by.contains(&1));
    drop((one, two));
}
