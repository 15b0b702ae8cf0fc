//! Dashboard, reports, demo data, static assets, errors and the command line.

use std::time::Duration;

use crate::harness::live::Http;
use crate::harness::{free_port, wait_for_port, Process, TestApp};
use rocket::http::Status;

#[rocket::async_test]
async fn the_reports_show_the_top_customer_revenue_and_best_sellers() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let bob = app.customer("Bob Builder", "bob@example.com").await;
    let mug = app.product("Stoneware Mug", "MUG", 1000, 100).await;
    let grinder = app.product("Burr Grinder", "GRND", 9000, 100).await;
    // Ada: three orders, one cancelled. Bob: one big order.
    app.place_order_with_status(ada, "paid", &[(mug, 1)]).await;
    app.place_order_with_status(ada, "shipped", &[(mug, 2)]).await;
    app.place_order_with_status(ada, "cancelled", &[(grinder, 5)]).await;
    app.place_order_with_status(bob, "pending", &[(grinder, 2)]).await;

    let page = app.get("/reports").await;
    assert_eq!(page.status, Status::Ok);
    // The leader card names the customer with the most orders.
    let leader = page.body.split("class=\"leader-name\"").nth(1).unwrap();
    assert!(leader.split("</p>").next().unwrap().contains("Ada Lovelace"));
    // Orders count when not cancelled, like revenue: Ada has 2 (and 1 cancelled).
    page.assert_contains("2 orders · $30.00 revenue");
    // Revenue per customer ignores the cancelled order: Bob $180, Ada $30.
    let revenue = page.body.split("id=\"revenue\"").nth(1).unwrap().split("</section>").next().unwrap();
    let bob_at = revenue.find("Bob Builder").unwrap();
    let ada_at = revenue.find("Ada Lovelace").unwrap();
    assert!(bob_at < ada_at, "highest revenue first");
    assert!(revenue.contains("$180.00") && revenue.contains("$30.00"));
    assert!(!revenue.contains("$480.00"), "cancelled orders earn nothing");
    // Best sellers: 3 mugs, 2 grinders (the cancelled 5 do not count).
    let best = page.body.split("id=\"best-sellers\"").nth(1).unwrap();
    assert!(best.find("Stoneware Mug").unwrap() < best.find("Burr Grinder").unwrap());
    assert!(best.contains("<td class=\"num\">3</td>") && best.contains("<td class=\"num\">2</td>"));
}

#[rocket::async_test]
async fn empty_reports_and_dashboard_say_so() {
    let app = TestApp::new().await;
    let page = app.get("/reports").await;
    page.assert_contains("No orders yet, so there is nothing to rank.");
    let home = app.get("/").await;
    assert_eq!(home.status, Status::Ok);
    home.assert_contains("No orders yet.");
    home.assert_contains("$0.00");
}

#[rocket::async_test]
async fn the_dashboard_shows_counts_revenue_and_recent_orders() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let mug = app.product("Stoneware Mug", "MUG", 1250, 100).await;
    app.place_order_with_status(ada, "paid", &[(mug, 2)]).await;
    app.place_order_with_status(ada, "cancelled", &[(mug, 1)]).await;
    let page = app.get("/").await;
    // The last 30 days: revenue and orders count orders not cancelled.
    assert_eq!(crate::dashboard::card(&page, "Revenue"), "$25.00");
    assert_eq!(crate::dashboard::card(&page, "Orders"), "1");
    assert_eq!(crate::dashboard::card(&page, "New customers"), "1");
    page.assert_contains("href=\"/orders/");
    for link in ["/users", "/products", "/orders", "/reports", "/orders/new"] {
        page.assert_contains(&format!("href=\"{link}\""));
    }
}

#[rocket::async_test]
async fn a_first_start_loads_demo_data_once() {
    let app = TestApp::with_demo(true).await;
    let users = app.scalar_i64("SELECT count(*) FROM users").await;
    let products = app.scalar_i64("SELECT count(*) FROM products").await;
    let orders = app.scalar_i64("SELECT count(*) FROM orders").await;
    assert!(users >= 8 && products >= 12 && orders >= 30, "{users} users, {products} products, {orders} orders");
    let statuses = app.scalar_i64("SELECT count(DISTINCT status) FROM orders").await;
    assert_eq!(statuses, 4, "every status is represented");
    let lines_out_of_range = app
        .scalar_i64("SELECT count(*) FROM (SELECT order_id FROM order_items GROUP BY order_id HAVING count(*) NOT BETWEEN 1 AND 5) x")
        .await;
    assert_eq!(lines_out_of_range, 0);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM orders WHERE total_cents <= 0").await, 0);

    // Seeding again (as `shopdesk seed` does) adds nothing.
    let again = shopdesk::demo::seed(&app.pool).await.unwrap();
    assert!(again.is_none());
    assert_eq!(app.scalar_i64("SELECT count(*) FROM orders").await, orders);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, users);

    // The documented read-only account signs in and sees the shop.
    app.refresh_csrf("/sign-in").await;
    let signed_in = app.sign_in(shopdesk::demo::DEMO_VIEWER_EMAIL, shopdesk::demo::DEMO_VIEWER_PASSWORD).await;
    assert_eq!(signed_in.status, Status::SeeOther);
    let home = app.get("/").await;
    home.assert_contains("read-only account");
    // Over the demo's year one customer clearly leads, and the reports say so.
    let leader: String = sqlx::query_scalar(
        "SELECT u.name FROM users u JOIN orders o ON o.user_id = u.id WHERE o.status <> 'cancelled'
          GROUP BY u.id ORDER BY sum(o.total_cents) DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(leader, "Ada Lovelace");
    app.get("/reports").await.assert_contains("Ada Lovelace");
}

#[rocket::async_test]
async fn demo_data_is_not_loaded_into_a_shop_that_has_data() {
    let app = TestApp::new().await;
    app.customer("Real Customer", "real@example.com").await;
    assert!(shopdesk::demo::seed_if_empty(&app.pool).await.unwrap().is_none());
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 1);
}

#[rocket::async_test]
async fn styles_are_served_locally() {
    let app = TestApp::new().await;
    let home = app.get("/").await;
    home.assert_contains("/static/vendor/pico/pico.min.css");
    home.assert_lacks("https://");
    let css = app.get("/static/vendor/pico/pico.min.css").await;
    assert_eq!(css.status, Status::Ok);
    assert!(css.body.contains("Pico CSS"));
    assert_eq!(app.get("/static/app.css").await.status, Status::Ok);
}

#[rocket::async_test]
async fn unknown_pages_and_oversized_forms_get_friendly_errors() {
    let app = TestApp::new().await;
    let page = app.get("/no/such/page").await;
    assert_eq!(page.status, Status::NotFound);
    page.assert_contains("Page not found");
    page.assert_contains("Back to the dashboard");

    let huge = "x".repeat(200 * 1024);
    let page = app.post_new_customer(&huge, "a@example.com").await;
    assert!(page.status == Status::PayloadTooLarge || page.status == Status::UnprocessableEntity, "{}", page.status);
    assert!(!page.body.contains("panicked"));
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 0);
}

#[rocket::async_test]
async fn health_endpoints_answer() {
    let app = TestApp::new().await;
    let live = app.get("/healthz").await;
    assert_eq!((live.status, live.body.as_str()), (Status::Ok, "ok"));
    let ready = app.get("/readyz").await;
    assert_eq!((ready.status, ready.body.as_str()), (Status::Ok, "ready"));
}

#[rocket::async_test]
async fn requests_carry_an_id_and_are_counted_for_prometheus() {
    let app = TestApp::new().await;
    let first = app.get("/users").await;
    let id = first.header("X-Request-Id").expect("a request id");
    let other = app.get("/users").await;
    assert_ne!(other.header("X-Request-Id"), Some(id), "each request has its own id");
    app.get("/no/such/page").await;
    let metrics = app.metrics().await;
    assert_eq!(metrics.status, Status::Ok);
    metrics.assert_contains("shopdesk_http_requests_total{method=\"GET\",route=\"/users?<query..>\",status=\"200\"} 2");
    metrics.assert_contains("route=\"unmatched\",status=\"404\"");
    metrics.assert_contains(
        "shopdesk_http_request_duration_seconds_bucket{method=\"GET\",route=\"/users?<query..>\",le=\"0.001\"}",
    );
    metrics.assert_contains("shopdesk_db_pool_connections{state=\"max\"} 8");
    metrics.assert_contains("shopdesk_db_pool_connections{state=\"waiting\"} 0");
}

#[test]
fn an_unreachable_database_gets_a_clear_message_not_a_stack_trace() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_shopdesk"))
        .arg("serve")
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/shopdesk")
        .output()
        .expect("run shopdesk");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot reach PostgreSQL at 127.0.0.1:1"), "{stderr}");
    assert!(stderr.contains("docker compose up -d db"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[rocket::async_test]
async fn a_first_start_creates_an_admin_prints_its_password_once_and_serves() {
    let app = TestApp::with_demo(false).await;
    let port = free_port();
    let mut server = Process(
        std::process::Command::new(env!("CARGO_BIN_EXE_shopdesk"))
            .args(["serve", "--no-demo"])
            .env("DATABASE_URL", &app.url)
            .env("ROCKET_PORT", port.to_string())
            .env("ROCKET_LOG_LEVEL", "critical")
            .env_remove("SHOPDESK_ADMIN_PASSWORD")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let healthz = if wait_for_port(port, Duration::from_secs(10)).await {
        Some(Http { port }.exchange("GET", "/healthz", &[], "").await.status)
    } else {
        None
    };
    let stdout = server.kill_and_read_output();
    assert_eq!(healthz, Some(200), "the server must come up; it printed: {stdout}");
    assert!(stdout.contains("Created the first admin account."), "{stdout}");
    let password = stdout.split("password: ").nth(1).and_then(|s| s.split_whitespace().next()).unwrap_or_default();
    assert_eq!(password.len(), 20, "a generated password is printed: {stdout}");
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM staff WHERE email = 'admin@shopdesk.local'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(shopdesk::passwords::verify(password, &hash), "the printed password signs in");
}

#[rocket::async_test]
async fn a_shared_first_place_is_shown_as_shared_and_shares_are_of_the_whole() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let bob = app.customer("Bob Builder", "bob@example.com").await;
    let cy = app.customer("Cy Young", "cy@example.com").await;
    let dee = app.customer("Dee Dee", "dee@example.com").await;
    let mug = app.product("Stoneware Mug", "MUG", 1000, 100).await;
    let tea = app.product("Green Tea", "TEA", 500, 100).await;
    // Ada, Bob and Cy tie on 2 orders (revenue $30, $50, $10); Dee has 1; a
    // cancelled order counts for nobody.
    app.place_order_with_status(ada, "paid", &[(mug, 1)]).await;
    app.place_order_with_status(ada, "paid", &[(tea, 4)]).await;
    app.place_order_with_status(bob, "paid", &[(mug, 2)]).await;
    app.place_order_with_status(bob, "shipped", &[(mug, 3)]).await;
    app.place_order_with_status(cy, "pending", &[(tea, 1)]).await;
    app.place_order_with_status(cy, "paid", &[(tea, 1)]).await;
    app.place_order_with_status(dee, "paid", &[(tea, 2)]).await;
    app.place_order_with_status(dee, "cancelled", &[(mug, 9)]).await;

    let page = app.get("/reports").await;
    page.assert_contains("<p class=\"leader-label\">Shared first place</p>");
    let names = page.body.split("class=\"leader-names\"").nth(1).unwrap().split("</p>").next().unwrap();
    let (b, a, c) =
        (names.find("Bob Builder").unwrap(), names.find("Ada Lovelace").unwrap(), names.find("Cy Young").unwrap());
    assert!(b < a && a < c, "every leader named, listed by revenue: {names}");
    page.assert_contains("3 customers with 2 orders each · listed by revenue, Bob Builder first with $50.00");
    page.assert_lacks("Top customer</p>");

    let top = page.body.split("id=\"top-customers\"").nth(1).unwrap().split("</section>").next().unwrap();
    let ranks: Vec<&str> =
        top.split("<td class=\"rank\">").skip(1).map(|cell| &cell[..cell.find('<').unwrap()]).collect();
    assert_eq!(ranks, ["1", "1", "1", "4"]);
    assert_eq!(top.matches("(shared)").count(), 3);
    // Shares of all 7 orders that are not cancelled: 2/7 and 1/7.
    top.assert_contains_all(&["Share of all 7 orders not cancelled", "28.6%", "14.3%"]);
    assert!(top.contains("<rect class=\"fill\" width=\"28.6\""), "bars are of the whole: {top}");

    // Revenue: Bob $50, Ada $30, then Cy and Dee level at $10 (Cy first, with
    // more orders). Best sellers: tea 8 units ($40) before mug 6 ($60).
    let revenue = page.body.split("id=\"revenue\"").nth(1).unwrap().split("</section>").next().unwrap();
    revenue.assert_contains_all(&["Share is of all revenue, $100.00", "50.0%", "30.0%", "10.0%"]);
    let ranks: Vec<&str> =
        revenue.split("<td class=\"rank\">").skip(1).map(|cell| &cell[..cell.find('<').unwrap()]).collect();
    assert_eq!(ranks, ["1", "2", "3", "3"]);
    assert_eq!(revenue.matches("(shared)").count(), 2, "Cy and Dee share third place: {revenue}");
    assert!(revenue.find("Cy Young").unwrap() < revenue.find("Dee Dee").unwrap());
    let best = page.body.split("id=\"best-sellers\"").nth(1).unwrap().split("</section>").next().unwrap();
    assert!(best.find("Green Tea").unwrap() < best.find("Stoneware Mug").unwrap());
    best.assert_contains_all(&["all 14 units sold", "57.1%", "42.9%"]);

    // The CSV ranks ties alike.
    let csv = app.get("/reports/top-customers.csv").await.body;
    let ranks: Vec<&str> = csv.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(ranks, ["1", "1", "1", "4"], "{csv}");

    // More tied than the ten listed: the card says how many more.
    for n in 0..9 {
        let id = app.customer(&format!("Tied {n}"), &format!("tied{n}@example.com")).await;
        app.place_order_with_status(id, "paid", &[(tea, 1)]).await;
        app.place_order_with_status(id, "paid", &[(tea, 1)]).await;
    }
    let page = app.get("/reports").await;
    page.assert_contains("10 customers listed here and 2 more customers with 2 orders each");
    page.assert_contains("href=\"/users?sort=orders&amp;dir=desc\"");
}

#[rocket::async_test]
async fn a_single_leader_is_the_top_customer() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let bob = app.customer("Bob Builder", "bob@example.com").await;
    let mug = app.product("Stoneware Mug", "MUG", 1000, 100).await;
    app.place_order_with_status(ada, "paid", &[(mug, 1)]).await;
    app.place_order_with_status(ada, "paid", &[(mug, 1)]).await;
    app.place_order_with_status(bob, "paid", &[(mug, 5)]).await;
    let page = app.get("/reports").await;
    page.assert_contains("<p class=\"leader-label\">Top customer</p>");
    page.assert_contains("2 orders · $20.00 revenue");
    page.assert_lacks("Shared first place");
    page.assert_lacks("(shared)");
}

trait ContainsAll {
    fn assert_contains_all(&self, needles: &[&str]);
}

impl ContainsAll for str {
    fn assert_contains_all(&self, needles: &[&str]) {
        for needle in needles {
            assert!(self.contains(needle), "expected {needle:?} in:\n{self}");
        }
    }
}
