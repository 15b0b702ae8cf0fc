//! A query budget for every page: the number of SQL statements a page sends
//! is small, fixed, and does not grow with the rows it shows. Adding a query
//! inside a loop makes this test fail.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::TestApp;
use tracing_subscriber::layer::SubscriberExt;

/// Statements sqlx has sent, counted from its `sqlx::query` log events.
static STATEMENTS: AtomicUsize = AtomicUsize::new(0);

struct CountStatements;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CountStatements {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() == "sqlx::query" {
            STATEMENTS.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The statements one page view sends.
async fn statements(app: &TestApp, path: &str) -> usize {
    STATEMENTS.store(0, Ordering::SeqCst);
    let page = app.get(path).await;
    assert_eq!(page.status, rocket::http::Status::Ok, "{path}");
    STATEMENTS.load(Ordering::SeqCst)
}

async fn order(app: &TestApp, user: i64, products: &[i64]) {
    let mut fields = vec![("user_id".to_string(), user.to_string()), ("status".to_string(), "paid".to_string())];
    for (i, p) in products.iter().enumerate() {
        fields.push((format!("lines[{i}].product_id"), p.to_string()));
        fields.push((format!("lines[{i}].quantity"), "1".to_string()));
    }
    let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    app.post_ok("/orders", &borrowed).await;
}

#[test]
fn no_page_sends_a_query_per_row() {
    let subscriber =
        tracing_subscriber::registry().with(tracing_subscriber::filter::LevelFilter::DEBUG).with(CountStatements);
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber in this test binary");
    let runtime = rocket::tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let app = TestApp::new().await;
        let pages = [
            "/",
            "/users",
            "/products",
            "/orders",
            "/reports",
            "/audit",
            "/staff",
            "/orders/new",
            "/users?q=a",
            "/orders?status=paid&sort=total",
            "/orders?q=a",
            "/orders/bulk?action=paid&scope=all",
            "/products/bulk?change=price&percent=10&scope=all",
        ];
        let mut empty = Vec::new();
        for path in pages {
            empty.push(statements(&app, path).await);
        }

        // A customer with 0 orders and one with 100; an order with 1 line and one with 20.
        let quiet = app.user("Quiet", "quiet@example.com").await;
        let busy = app.user("Busy", "busy@example.com").await;
        let mut products = Vec::new();
        for n in 0..20 {
            products.push(app.product(&format!("P{n:02}"), &format!("P{n:02}"), 100 + n, 10_000).await);
        }
        order(&app, busy, &products[..1]).await;
        order(&app, busy, &products).await;
        let one_line: i64 = 1;
        let twenty_lines: i64 = 2;
        let quiet_page = statements(&app, &format!("/users/{quiet}")).await;
        assert_eq!(
            statements(&app, &format!("/orders/{one_line}")).await,
            statements(&app, &format!("/orders/{twenty_lines}")).await
        );
        assert_eq!(
            statements(&app, &format!("/orders/{one_line}/edit")).await,
            statements(&app, &format!("/orders/{twenty_lines}/edit")).await
        );
        // The order form without JavaScript: searching products on 1 line or on 20.
        let find = |lines: usize| {
            let app = &app;
            async move {
                let mut fields = vec![("action".to_string(), "find".to_string())];
                for i in 0..lines {
                    fields.push((format!("lines[{i}].product_q"), "p0".to_string()));
                    fields.push((format!("lines[{i}].quantity"), "1".to_string()));
                }
                let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                STATEMENTS.store(0, Ordering::SeqCst);
                let page = app.post("/orders", &borrowed).await;
                assert_eq!(page.status, rocket::http::Status::Ok);
                assert!(page.body.matches("<option value=\"").count() >= lines * 10, "each line offers its matches");
                STATEMENTS.load(Ordering::SeqCst)
            }
        };
        assert_eq!(find(1).await, find(20).await, "searching products on 1 line and on 20");

        for _ in 0..98 {
            order(&app, busy, &products[..2]).await;
        }
        for n in 0..60 {
            app.user(&format!("Customer {n}"), &format!("c{n}@example.com")).await;
        }
        assert_eq!(statements(&app, &format!("/users/{busy}")).await, quiet_page, "a customer page with 100 orders");

        let mut full = Vec::new();
        for path in pages {
            full.push(statements(&app, path).await);
        }
        for ((path, before), after) in pages.iter().zip(&empty).zip(&full) {
            assert_eq!(before, after, "{path} sent {before} statements with no rows and {after} with many");
            assert!(*after <= 8, "{path} sends {after} statements; the budget is 8");
        }
        // The session check is one of them; the reports page is one aggregate per report.
        let reports = pages.iter().position(|p| *p == "/reports").unwrap();
        assert_eq!(full[reports], 1 + 4, "session + top customers, revenue, best sellers, months");

        // A bulk action is set-based: cancelling 1 order or 99 sends the same statements.
        let bulk = |path: String| {
            let app = &app;
            async move {
                let review = app.get(&path).await;
                let fields = common::hidden_fields(&review.body, "/orders/bulk");
                let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                STATEMENTS.store(0, Ordering::SeqCst);
                let posted = app.post_raw("/orders/bulk", &fields).await;
                let sent = STATEMENTS.load(Ordering::SeqCst);
                let done = app.get(&posted.location.unwrap_or_default()).await;
                done.assert_contains("now cancelled");
                sent
            }
        };
        let one = bulk(format!("/orders/bulk?action=cancelled&scope=selected&ids={one_line}")).await;
        let many = bulk(format!("/orders/bulk?action=cancelled&scope=all&filters.user_id={busy}")).await;
        assert_eq!(one, many, "cancelling 1 order and 99 orders");
        assert_eq!(app.scalar_i64("SELECT count(*) FROM orders WHERE status <> 'cancelled'").await, 0);
        println!("statements per page: {:?}; per bulk action: {many}", pages.iter().zip(&full).collect::<Vec<_>>());
    });
}
