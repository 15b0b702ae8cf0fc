//! A query budget for every page: the number of SQL statements a page sends
//! is small, fixed, and does not grow with the rows it shows. Adding a query
//! inside a loop makes this test fail.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::TestApp;
use tracing_subscriber::layer::SubscriberExt;

/// Statements sqlx has sent, counted from its `sqlx::query` log events.
static STATEMENTS: AtomicUsize = AtomicUsize::new(0);

/// The tests of this file run one at a time: they share the count above.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

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

/// The bytes of HTML one page view sends.
async fn html_bytes(app: &TestApp, path: &str) -> usize {
    let page = app.get(path).await;
    assert_eq!(page.status, rocket::http::Status::Ok, "{path}");
    page.body.len()
}

/// Gives `user` `n` more paid orders, one line each over `products` in turn,
/// set-based in SQL (as fast for 10,000 as for 1); the triggers keep the figures.
async fn orders_in_bulk(app: &TestApp, user: i64, products: &[i64], n: i64) {
    let mut tx = app.pool.begin().await.unwrap();
    let ids: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO orders (user_id, status, placed_at)
         SELECT $1, 'paid', '2026-01-01'::TIMESTAMPTZ + g * INTERVAL '1 minute' FROM generate_series(1, $2) g
         RETURNING id",
    )
    .bind(user)
    .bind(n)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents)
         SELECT o.id, p.id, 1 + o.id % 3, p.price_cents
           FROM unnest($1::BIGINT[]) AS o(id)
           JOIN products p ON p.id = ($2::BIGINT[])[1 + o.id % array_length($2::BIGINT[], 1)]",
    )
    .bind(&ids)
    .bind(products)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE orders o SET total_cents = t.total, item_count = t.items
           FROM (SELECT order_id, sum(quantity * unit_price_cents) AS total, sum(quantity) AS items
                   FROM order_items WHERE order_id = ANY($1) GROUP BY order_id) t
          WHERE t.order_id = o.id",
    )
    .bind(&ids)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
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
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
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
        let unsold = products[19];
        let unsold_page = statements(&app, &format!("/products/{unsold}")).await;
        let quiet_page = statements(&app, &format!("/users/{quiet}")).await;
        let no_orders_of_product = statements(&app, &format!("/orders?product_id={unsold}")).await;
        let no_live_orders_of_product = statements(&app, &format!("/orders?product_id={unsold}&status=active")).await;
        order(&app, busy, &products[..1]).await;
        order(&app, busy, &products).await;
        let one_line: i64 = 1;
        let twenty_lines: i64 = 2;
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
        assert_eq!(
            statements(&app, &format!("/users/{busy}?sort=units&dir=asc")).await,
            quiet_page,
            "a customer's products sorted otherwise"
        );
        for n in 0..60 {
            order(&app, n + 3, &products[..3]).await;
        }
        let best = products[0];
        assert_eq!(
            statements(&app, &format!("/products/{best}")).await,
            unsold_page,
            "a product bought by 61 customers, and one bought by none"
        );
        assert_eq!(statements(&app, &format!("/products/{best}?sort=last&dir=asc")).await, unsold_page);
        assert_eq!(statements(&app, &format!("/orders?product_id={best}")).await, no_orders_of_product);
        assert_eq!(
            statements(&app, &format!("/orders?product_id={best}&status=active")).await,
            no_live_orders_of_product
        );
        for (path, sent) in [
            ("/products/<id>", unsold_page),
            ("/users/<id>", quiet_page),
            ("/orders?product_id=", no_orders_of_product),
            ("/orders?product_id=&status=active", no_live_orders_of_product),
        ] {
            assert!(sent <= 8, "{path} sends {sent} statements; the budget is 8");
        }

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
        assert_eq!(full[reports], 1 + 5, "session + top customers, revenue, best sellers, months, totals and ties");

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
        let live: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE status <> 'cancelled' AND user_id = $1")
            .bind(busy)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(live, 0);
        println!("statements per page: {:?}; per bulk action: {many}", pages.iter().zip(&full).collect::<Vec<_>>());
        println!(
            "statements: product page {unsold_page}, customer page {quiet_page}, orders of a product {no_orders_of_product}, \
             orders of a product not cancelled {no_live_orders_of_product}"
        );
    });
}

/// A page's size is as flat as its statement count: a customer with one
/// order and one with 10,000, a product with one buyer and with 2,000, send
/// pages of one bounded size (a page of rows), not one that grows with them.
#[test]
fn pages_stay_the_same_size_however_many_orders_are_behind_them() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let runtime = rocket::tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let app = TestApp::new().await;
        let big = app.user("Big Spender", "big@example.com").await;
        let mut products = Vec::new();
        for n in 0..30 {
            products.push(app.product(&format!("Product {n:02}"), &format!("P{n:02}"), 100 + n, 100_000).await);
        }
        let customer = format!("/users/{big}");
        let product = format!("/products/{}", products[0]);

        orders_in_bulk(&app, big, &products[..1], 1).await;
        let (customer_1, product_1) = (html_bytes(&app, &customer).await, html_bytes(&app, &product).await);
        orders_in_bulk(&app, big, &products, 99).await;
        let customer_100 = html_bytes(&app, &customer).await;
        orders_in_bulk(&app, big, &products, 9_900).await;
        assert_eq!(app.scalar_i64("SELECT count(*) FROM orders").await, 10_000);
        let customer_10k = html_bytes(&app, &customer).await;

        // Rows shown: at most 10 orders and 20 products, whatever the count;
        // from 100 orders to 10,000 only the figures' digits change.
        assert!(
            customer_10k.abs_diff(customer_100) < customer_100 / 50,
            "{customer_100} bytes at 100 orders, {customer_10k} at 10,000"
        );
        assert!(
            customer_10k < customer_1 + 20_000,
            "{customer_1} bytes at 1 order, {customer_10k} at 10,000: a page of rows at most"
        );
        assert!(customer_10k < 60_000, "the customer page is {customer_10k} bytes");

        // 2,000 more buyers of the same product.
        for chunk in 0..4 {
            sqlx::query(
                "INSERT INTO users (name, email) SELECT 'Buyer ' || g, 'buyer' || g || '@example.com'
                   FROM generate_series($1 * 500 + 1, $1 * 500 + 500) g",
            )
            .bind(chunk)
            .execute(&app.pool)
            .await
            .unwrap();
        }
        let buyers: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM users WHERE email LIKE 'buyer%'").fetch_all(&app.pool).await.unwrap();
        for buyer in &buyers {
            orders_in_bulk(&app, *buyer, &products[..1], 1).await;
        }
        let product_2k = html_bytes(&app, &product).await;
        assert!(product_2k < product_1 + 10_000, "{product_1} bytes with 1 buyer, {product_2k} with 2,001");
        assert!(product_2k < 60_000, "the product page is {product_2k} bytes");
        let mut conn = app.pool.acquire().await.unwrap();
        assert!(shopdesk::db::stats::verify(&mut conn).await.unwrap().is_empty());
        println!(
            "HTML bytes: customer page {customer_1} (1 order), {customer_100} (100), {customer_10k} (10,000); \
             product page {product_1} (1 buyer), {product_2k} (2,001 buyers)"
        );
    });
}

/// The pickers plan every search afresh with its pattern (a plan cached for
/// a common pattern can be slow for a rare one), so they leave no prepared
/// statement on the connection, where a fixed lookup leaves one to reuse.
#[test]
fn pickers_are_planned_for_each_search() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let runtime = rocket::tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let app = TestApp::new().await;
        let ada = app.user("Ada Lovelace", "ada@example.com").await;
        app.product("Mug", "MUG-1", 1200, 5).await;
        let mut conn = app.pool.acquire().await.unwrap();
        for _ in 0..6 {
            assert_eq!(shopdesk::db::users::pick(&mut conn, "ada").await.unwrap().len(), 1);
            assert_eq!(shopdesk::db::products::pick(&mut conn, "mug").await.unwrap().len(), 1);
        }
        assert!(shopdesk::db::users::choice(&mut conn, ada).await.unwrap().is_some());
        let kept: Vec<String> =
            sqlx::query_scalar("SELECT statement FROM pg_prepared_statements").fetch_all(&mut *conn).await.unwrap();
        assert!(kept.iter().any(|s| s.contains("FROM users WHERE id = $1")), "{kept:#?}");
        assert!(!kept.iter().any(|s| s.contains("ILIKE")), "{kept:#?}");
    });
}
