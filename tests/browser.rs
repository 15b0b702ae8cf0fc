//! The whole story in a real browser (Debian's headless Chromium through
//! chromedriver): sign in, create customers and products, place orders with
//! the search pickers, find a customer's orders, change an email, delete an
//! order, read the reports, see validation messages; with a screenshot of each
//! main page (in target/browser-screenshots/) and an axe-core accessibility
//! check of each.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::TestApp;
use fantoccini::{Client as Browser, ClientBuilder, Locator};
use rocket::figment::providers::Serialized;

const AXE: &str = include_str!("vendor/axe-core/axe.min.js");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

async fn wait_for_port(port: u16) {
    for _ in 0..100 {
        if rocket::tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        rocket::tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nothing listens on port {port}");
}

/// chromedriver, stopped when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn browser() -> (Browser, Driver) {
    let port = free_port();
    let driver = Command::new(std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()))
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver must be installed (Debian: apt-get install chromium chromium-driver)");
    let driver = Driver(driver);
    wait_for_port(port).await;
    let profile = std::env::temp_dir().join(format!("shopdesk-chromium-{}-{port}", std::process::id()));
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", format!("--user-data-dir={}", profile.display())]
        }),
    );
    let client = ClientBuilder::rustls()
        .expect("TLS setup")
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session");
    (client, driver)
}

/// Serves the app over real HTTP on a free port, for the browser.
async fn serve(app: &TestApp) -> String {
    let port = free_port();
    let figment = shopdesk::figment()
        .merge(Serialized::global("databases.shop.url", &app.url))
        .merge(Serialized::global("port", port))
        .merge(Serialized::global("address", "127.0.0.1"))
        .merge(Serialized::global("demo", false))
        .merge(Serialized::global("log_level", "off"));
    let rocket = shopdesk::build_rocket(figment).ignite().await.expect("app ignites");
    rocket::tokio::spawn(rocket.launch());
    wait_for_port(port).await;
    format!("http://127.0.0.1:{port}")
}

struct Story {
    b: Browser,
    base: String,
    shots: std::path::PathBuf,
}

impl Story {
    async fn go(&self, path: &str) {
        self.b.goto(&format!("{}{path}", self.base)).await.expect("navigate");
    }

    async fn fill(&self, css: &str, text: &str) {
        let field = self.b.find(Locator::Css(css)).await.unwrap_or_else(|_| panic!("no field {css}"));
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("type");
    }

    /// Clicks a link or button that loads a new page, and waits for it.
    async fn click(&self, css: &str) {
        let old = self.b.find(Locator::Css("body")).await.expect("body");
        self.b
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("no button {css}"))
            .click()
            .await
            .expect("click");
        for _ in 0..100 {
            if old.tag_name().await.is_err() {
                return;
            }
            rocket::tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("clicking {css} loaded no new page");
    }

    async fn text(&self) -> String {
        self.b.find(Locator::Css("body")).await.expect("body").text().await.expect("text")
    }

    async fn shot(&self, name: &str) {
        let png = self.b.screenshot().await.expect("screenshot");
        std::fs::write(self.shots.join(format!("{name}.png")), png).expect("write screenshot");
    }

    /// Runs axe-core on the page and returns every violation it finds.
    async fn accessibility(&self) -> Vec<String> {
        let script = format!(
            "{AXE}\nconst done = arguments[arguments.length - 1];
             axe.run(document, {{ resultTypes: ['violations'] }}).then(r => done(
               r.violations
                 .map(v => v.id + ' (' + v.impact + '): ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))));"
        );
        let found = self.b.execute_async(&script, vec![]).await.expect("axe runs");
        found.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()).unwrap_or_default()
    }

    /// Waits for the picker script to offer `value` in the select `css`, then chooses it.
    async fn pick(&self, search_css: &str, typed: &str, select_css: &str, value: &str) {
        self.fill(search_css, typed).await;
        let option = format!("{select_css} option[value=\"{value}\"]");
        self.b
            .wait()
            .at_most(Duration::from_secs(5))
            .for_element(Locator::Css(&option))
            .await
            .expect("the picker offers it");
        self.b.find(Locator::Css(select_css)).await.expect("select").select_by_value(value).await.expect("choose");
    }
}

#[rocket::async_test]
async fn a_person_runs_the_shop_in_a_real_browser() {
    let app = TestApp::with_demo(false).await;
    app.staff("admin@shop.example", "admin").await;
    let base = serve(&app).await;
    let (b, _driver) = browser().await;
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../browser-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let s = Story { b, base, shots };
    let mut problems: Vec<String> = Vec::new();

    // Sign in.
    s.go("/users").await;
    assert!(s.b.current_url().await.unwrap().as_str().contains("/sign-in?next="), "asked to sign in first");
    problems.extend(s.accessibility().await.into_iter().map(|p| format!("/sign-in: {p}")));
    s.fill("#email", "admin@shop.example").await;
    s.fill("#password", common::PASSWORD).await;
    s.click("form[action='/sign-in'] button[type=submit]").await;
    assert!(s.b.current_url().await.unwrap().as_str().ends_with("/users"), "back to the page asked for");

    // Customers, with a validation message first.
    s.go("/users/new").await;
    s.fill("#name", "Ada Lovelace").await;
    s.fill("#email", "not-an-email").await;
    s.click("form.card-form button[type=submit]").await;
    let page = s.text().await;
    assert!(page.contains("Enter a valid email address"), "{page}");
    s.shot("validation").await;
    s.fill("#email", "ada@example.com").await;
    s.click("form.card-form button[type=submit]").await;
    assert!(s.text().await.contains("Customer Ada Lovelace created."));
    s.go("/users/new").await;
    s.fill("#name", "Grace Hopper").await;
    s.fill("#email", "grace@example.com").await;
    s.click("form.card-form button[type=submit]").await;
    let ada = app.scalar_i64("SELECT id FROM users WHERE email = 'ada@example.com'").await.to_string();
    let grace = app.scalar_i64("SELECT id FROM users WHERE email = 'grace@example.com'").await.to_string();

    // Products.
    for (name, sku, price, stock) in
        [("Stoneware Mug", "MUG-1", "12.50", "10"), ("Coffee Beans", "BEAN-1", "16.99", "20")]
    {
        s.go("/products/new").await;
        s.fill("#name", name).await;
        s.fill("#sku", sku).await;
        s.fill("#price", price).await;
        s.fill("#stock", stock).await;
        s.click("form.card-form button[type=submit]").await;
        assert!(s.text().await.contains(&format!("Product {name} created.")));
    }
    let mug = app.scalar_i64("SELECT id FROM products WHERE sku = 'MUG-1'").await.to_string();
    let beans = app.scalar_i64("SELECT id FROM products WHERE sku = 'BEAN-1'").await.to_string();

    // Orders, choosing everything through the search pickers.
    let place = |customer: &'static str, who: String, lines: Vec<(&'static str, String, &'static str)>| {
        let s = &s;
        async move {
            s.go("/orders/new").await;
            s.pick("#customer_q", customer, "#user_id", &who).await;
            for (i, (typed, product, quantity)) in lines.iter().enumerate() {
                s.pick(&format!("#line-{i}-q"), typed, &format!("#line-{i}-product"), product).await;
                s.fill(&format!("#line-{i}-quantity"), quantity).await;
            }
            s.shot("order-form").await;
            s.click("button[value=save]").await;
            let page = s.text().await;
            assert!(page.contains("placed."), "{page}");
        }
    };
    place("lovelace", ada.clone(), vec![("mug", mug.clone(), "2"), ("BEAN", beans.clone(), "1")]).await;
    s.shot("order").await;
    place("grace@", grace.clone(), vec![("stoneware", mug.clone(), "1")]).await;
    place("ada", ada.clone(), vec![("coffee", beans.clone(), "1")]).await;

    // All orders of one customer.
    s.go(&format!("/users/{ada}")).await;
    s.shot("customer").await;
    s.click(&format!("a[href='/orders?user_id={ada}']")).await;
    let rows = s.b.find_all(Locator::Css("table tbody tr")).await.expect("rows");
    assert_eq!(rows.len(), 2, "Ada's two orders");

    // Change her email.
    s.go(&format!("/users/{ada}/edit")).await;
    s.fill("#email", "ada@analytical.engine").await;
    s.click("form.card-form button[type=submit]").await;
    assert!(s.text().await.contains("ada@analytical.engine"));

    // Delete Grace's order, after confirming.
    let graces = app
        .scalar_i64(
            "SELECT max(id) FROM orders WHERE user_id = (SELECT id FROM users WHERE email = 'grace@example.com')",
        )
        .await;
    s.go(&format!("/orders/{graces}")).await;
    s.click(&format!("a[href='/orders/{graces}/delete']")).await;
    assert!(s.text().await.contains(&format!("Delete order #{graces}?")));
    s.click("button.danger").await;
    assert!(s.text().await.contains(&format!("Order #{graces} and its lines deleted.")));

    // The reports name the top customer and her revenue: 2 × 12.50 + 16.99 + 16.99.
    s.go("/reports").await;
    let reports = s.text().await;
    assert!(
        reports.contains("TOP CUSTOMER\nAda Lovelace") || reports.contains("Top customer\nAda Lovelace"),
        "{reports}"
    );
    assert!(reports.contains("$58.98"), "{reports}");

    // Bulk: tick Ada's two orders on the list, mark them paid after reviewing.
    s.go(&format!("/orders?user_id={ada}")).await;
    let adas: Vec<i64> = sqlx::query_scalar("SELECT id FROM orders WHERE user_id = $1::TEXT::BIGINT")
        .bind(&ada)
        .fetch_all(&app.pool)
        .await
        .expect("Ada's orders");
    for id in adas {
        s.b.find(Locator::Css(&format!("#pick-{id}"))).await.expect("tick box").click().await.expect("tick");
    }
    s.b.find(Locator::Css("#bulk-what")).await.expect("action").select_by_value("paid").await.expect("choose");
    s.click("form#bulk button[type=submit]").await;
    assert!(s.text().await.contains("Mark as paid: 2 orders?"), "{}", s.text().await);
    s.shot("bulk-orders-review").await;
    problems.extend(s.accessibility().await.into_iter().map(|p| format!("bulk orders review: {p}")));
    s.click("form[action='/orders/bulk'] button[type=submit]").await;
    assert!(s.text().await.contains("2 orders are now paid."), "{}", s.text().await);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM orders WHERE status = 'paid'").await, 2);

    // Bulk: every product's price up 10%, seen before and after on the review.
    s.go("/products").await;
    s.b.find(Locator::Css("#bulk-scope")).await.expect("scope").select_by_value("all").await.expect("choose");
    s.fill("#bulk-percent", "10").await;
    s.click("form#bulk button[type=submit]").await;
    let review = s.text().await;
    assert!(review.contains("Change prices by +10%: 2 products?") && review.contains("$13.75"), "{review}");
    s.shot("bulk-products-review").await;
    problems.extend(s.accessibility().await.into_iter().map(|p| format!("bulk products review: {p}")));
    s.click("form[action='/products/bulk'] button[type=submit]").await;
    assert!(s.text().await.contains("Change prices by +10%: 2 products changed."));
    assert_eq!(app.scalar_i64("SELECT price_cents FROM products WHERE sku = 'MUG-1'").await, 1375);

    // Every main page: a screenshot and an accessibility check.
    for (path, name) in [
        ("/", "dashboard"),
        ("/users", "customers"),
        ("/products", "products"),
        ("/orders", "orders"),
        ("/orders/new", "new-order"),
        ("/reports", "reports"),
        ("/audit", "audit-log"),
        ("/staff", "staff"),
        (&format!("/users/{ada}/edit"), "customer-form"),
    ] {
        s.go(path).await;
        s.shot(name).await;
        problems.extend(s.accessibility().await.into_iter().map(|p| format!("{path}: {p}")));
    }
    assert!(problems.is_empty(), "accessibility problems:\n{}", problems.join("\n"));
    let _ = s.b.close().await;
}
