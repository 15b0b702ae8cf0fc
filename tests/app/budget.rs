//! A query budget for every page: the number of SQL statements a page sends
//! is small, fixed, and does not grow with the rows it shows. Adding a query
//! inside a loop makes this test fail.

use std::cell::Cell;

use crate::harness::{hidden_fields, Line, OrderForm, SqlOrder, TestApp};
use chrono::{TimeZone, Utc};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

thread_local! {
    /// The statements sent from this thread, if it counts them.
    static SENT: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Counts the statements sqlx sends, from its `sqlx::query` log events, on
/// the threads that ask for it, and ignores every other thread: the other
/// tests of this binary, running at the same time, are neither counted nor
/// slowed.
struct Statements;

impl<S: Subscriber> Layer<S> for Statements {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if metadata.target() == "sqlx::query" {
            // Asked again at each event, as only some threads count.
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        metadata.target() == "sqlx::query" && SENT.get().is_some()
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::DEBUG)
    }

    fn on_event(&self, _: &Event<'_>, _: Context<'_, S>) {
        SENT.set(SENT.get().map(|sent| sent + 1));
    }
}

impl Statements {
    /// Runs `test` with every statement that it, and the app it starts,
    /// send counted. The count is kept by this thread, and a current-thread
    /// runtime keeps the app's tasks on this thread.
    ///
    /// The subscriber is the process's (a thread's own subscriber would miss
    /// the sqlx events that another thread happened to log first, since
    /// `tracing` caches per callsite whether anyone listens), installed once.
    fn count<F: std::future::Future>(test: impl FnOnce(Statements) -> F) -> F::Output {
        static INSTALLED: std::sync::Once = std::sync::Once::new();
        INSTALLED.call_once(|| {
            tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Statements))
                .expect("no other test installs a subscriber");
        });
        SENT.set(Some(0));
        let runtime = rocket::tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let outcome = runtime.block_on(test(Statements));
        SENT.set(None);
        outcome
    }

    fn reset(&self) {
        SENT.set(Some(0));
    }

    fn sent(&self) -> usize {
        SENT.get().unwrap_or_default()
    }

    /// The statements one page view sends.
    async fn of_page(&self, app: &TestApp, path: &str) -> usize {
        self.reset();
        let page = app.get(path).await;
        assert_eq!(page.status, rocket::http::Status::Ok, "{path}");
        self.sent()
    }
}

/// The bytes of HTML one page view sends.
async fn html_bytes(app: &TestApp, path: &str) -> usize {
    let page = app.get(path).await;
    assert_eq!(page.status, rocket::http::Status::Ok, "{path}");
    page.body.len()
}

/// `n` paid one-line orders, for each of `customers` in turn, over `products`
/// in turn, at the products' prices, written set-based in SQL.
fn paid_orders(customers: &[i64], products: &[i64], n: usize) -> Vec<SqlOrder> {
    let new_year = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    (0..n)
        .map(|k| SqlOrder {
            customer: customers[k % customers.len()],
            product: products[k % products.len()],
            quantity: 1 + (k % 3) as i32,
            unit_price_cents: None,
            placed_at: new_year + chrono::Duration::minutes(k as i64),
        })
        .collect()
}

/// Places a paid order of one of each of `products` through the order form;
/// returns its id.
async fn order(app: &TestApp, customer: i64, products: &[i64]) -> i64 {
    let lines: Vec<(i64, i32)> = products.iter().map(|p| (*p, 1)).collect();
    app.place_order_with_status(customer, "paid", &lines).await
}

#[test]
fn no_page_sends_a_query_per_row() {
    Statements::count(|counted| async move {
        let app = TestApp::new().await;
        let pages = [
            "/",
            "/?period=90d",
            "/?period=year",
            "/?period=custom&from=2025-12-01&to=2026-02-28",
            "/reports?period=90d",
            "/reports?period=custom&from=2025-12-01&to=2026-02-28",
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
            "/jobs",
        ];
        let mut empty = Vec::new();
        for path in pages {
            empty.push(counted.of_page(&app, path).await);
        }

        // A customer with 0 orders and one with 100; an order with 1 line and one with 20.
        let quiet = app.customer("Quiet", "quiet@example.com").await;
        let busy = app.customer("Busy", "busy@example.com").await;
        let mut products = Vec::new();
        for n in 0..20 {
            products.push(app.product(&format!("P{n:02}"), &format!("P{n:02}"), 100 + n, 10_000).await);
        }
        let unsold = products[19];
        let unsold_page = counted.of_page(&app, &format!("/products/{unsold}")).await;
        let quiet_page = counted.of_page(&app, &format!("/users/{quiet}")).await;
        let no_orders_of_product = counted.of_page(&app, &format!("/orders?product_id={unsold}")).await;
        let no_live_orders_of_product =
            counted.of_page(&app, &format!("/orders?product_id={unsold}&status=active")).await;
        let one_line = order(&app, busy, &products[..1]).await;
        let twenty_lines = order(&app, busy, &products).await;
        assert_eq!(
            counted.of_page(&app, &format!("/orders/{one_line}")).await,
            counted.of_page(&app, &format!("/orders/{twenty_lines}")).await
        );
        assert_eq!(
            counted.of_page(&app, &format!("/orders/{one_line}/edit")).await,
            counted.of_page(&app, &format!("/orders/{twenty_lines}/edit")).await
        );
        // An order's documents and refund form: as many statements for 1 line as for 20.
        for document in ["invoice", "packing-slip", "refund"] {
            // The first view of an invoice issues it; count the views after.
            counted.of_page(&app, &format!("/orders/{one_line}/{document}")).await;
            counted.of_page(&app, &format!("/orders/{twenty_lines}/{document}")).await;
            assert_eq!(
                counted.of_page(&app, &format!("/orders/{one_line}/{document}")).await,
                counted.of_page(&app, &format!("/orders/{twenty_lines}/{document}")).await,
                "{document}"
            );
        }
        // Packing slips of 1 order or of 2 (of 21 lines in all): the same statements.
        assert_eq!(
            counted.of_page(&app, &format!("/orders/packing-slips?ids={one_line}")).await,
            counted.of_page(&app, &format!("/orders/packing-slips?ids={one_line}&ids={twenty_lines}")).await
        );
        // The order form without JavaScript: searching products on 1 line or on 20.
        let find = |lines: usize| {
            let app = &app;
            let counted = &counted;
            async move {
                let find = (0..lines).fold(OrderForm::new(), |form, _| form.with(Line::new().search("p0").quantity(1)));
                counted.reset();
                let page = app.post_order(&find.action("find")).await;
                assert_eq!(page.status, rocket::http::Status::Ok);
                assert!(page.body.matches("<option value=\"").count() >= lines * 10, "each line offers its matches");
                counted.sent()
            }
        };
        assert_eq!(find(1).await, find(20).await, "searching products on 1 line and on 20");

        for _ in 0..98 {
            order(&app, busy, &products[..2]).await;
        }
        for n in 0..60 {
            app.customer(&format!("Customer {n}"), &format!("c{n}@example.com")).await;
        }
        assert_eq!(
            counted.of_page(&app, &format!("/users/{busy}")).await,
            quiet_page,
            "a customer page with 100 orders"
        );
        assert_eq!(
            counted.of_page(&app, &format!("/users/{busy}?sort=units&dir=asc")).await,
            quiet_page,
            "a customer's products sorted otherwise"
        );
        for n in 0..60 {
            order(&app, n + 3, &products[..3]).await;
        }
        let best = products[0];
        assert_eq!(
            counted.of_page(&app, &format!("/products/{best}")).await,
            unsold_page,
            "a product bought by 61 customers, and one bought by none"
        );
        assert_eq!(counted.of_page(&app, &format!("/products/{best}?sort=last&dir=asc")).await, unsold_page);
        assert_eq!(counted.of_page(&app, &format!("/orders?product_id={best}")).await, no_orders_of_product);
        assert_eq!(
            counted.of_page(&app, &format!("/orders?product_id={best}&status=active")).await,
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
            full.push(counted.of_page(&app, path).await);
        }
        for ((path, before), after) in pages.iter().zip(&empty).zip(&full) {
            assert_eq!(before, after, "{path} sent {before} statements with no rows and {after} with many");
            assert!(*after <= 8, "{path} sends {after} statements; the budget is 8");
        }
        // The session check is one of them; the reports page is one aggregate per report.
        let reports = pages.iter().position(|p| *p == "/reports").unwrap();
        assert_eq!(full[reports], 1 + 5, "session + top customers, revenue, best sellers, months, totals and ties");

        // A bulk action is set-based: cancelling 1 order or 99 sends the same statements.
        let bulk = |query: String| {
            let app = &app;
            let counted = &counted;
            async move {
                let review = app.review_bulk_orders(&query).await;
                let fields = hidden_fields(&review.body, "/orders/bulk");
                let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                counted.reset();
                let posted = app.post_raw("/orders/bulk", &fields).await;
                let sent = counted.sent();
                let done = app.get(&posted.location.unwrap_or_default()).await;
                done.assert_contains("now cancelled");
                sent
            }
        };
        let one = bulk(format!("action=cancelled&scope=selected&ids={one_line}")).await;
        let many = bulk(format!("action=cancelled&scope=all&filters.user_id={busy}")).await;
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
#[rocket::async_test]
async fn pages_stay_the_same_size_however_many_orders_are_behind_them() {
    let app = TestApp::new().await;
    let big = app.customer("Big Spender", "big@example.com").await;
    let mut products = Vec::new();
    for n in 0..30 {
        products.push(app.product(&format!("Product {n:02}"), &format!("P{n:02}"), 100 + n, 100_000).await);
    }
    let customer = format!("/users/{big}");
    let product = format!("/products/{}", products[0]);

    app.paid_orders_in_sql(&paid_orders(&[big], &products[..1], 1)).await;
    let (customer_1, product_1) = (html_bytes(&app, &customer).await, html_bytes(&app, &product).await);
    app.paid_orders_in_sql(&paid_orders(&[big], &products, 99)).await;
    let customer_100 = html_bytes(&app, &customer).await;
    let mut at_100 = Vec::new();
    for path in [
        "/?period=year",
        "/?period=custom&from=2025-12-01&to=2026-02-28",
        "/reports?period=custom&from=2025-12-01&to=2026-02-28",
    ] {
        at_100.push(html_bytes(&app, path).await);
    }
    app.paid_orders_in_sql(&paid_orders(&[big], &products, 9_900)).await;
    assert_eq!(app.scalar_i64("SELECT count(*) FROM orders").await, 10_000);
    let customer_10k = html_bytes(&app, &customer).await;
    // The dashboard of a year and of a quarter, and the reports of that
    // quarter, with 10,000 orders in them: only the figures' digits change.
    let periods = [
        "/?period=year",
        "/?period=custom&from=2025-12-01&to=2026-02-28",
        "/reports?period=custom&from=2025-12-01&to=2026-02-28",
    ];
    let mut at_10k = Vec::new();
    for path in periods {
        at_10k.push(html_bytes(&app, path).await);
    }

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
    for ((path, small), large) in periods.iter().zip(&at_100).zip(&at_10k) {
        assert!(large.abs_diff(*small) < small / 50, "{path}: {small} bytes at 100 orders, {large} at 10,000");
        assert!(*large < 120_000, "{path} is {large} bytes");
    }

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
    app.paid_orders_in_sql(&paid_orders(&buyers, &products[..1], buyers.len())).await;
    let product_2k = html_bytes(&app, &product).await;
    assert!(product_2k < product_1 + 10_000, "{product_1} bytes with 1 buyer, {product_2k} with 2,001");
    assert!(product_2k < 60_000, "the product page is {product_2k} bytes");
    app.assert_figures_exact().await;
    println!(
        "HTML bytes: customer page {customer_1} (1 order), {customer_100} (100), {customer_10k} (10,000); \
         product page {product_1} (1 buyer), {product_2k} (2,001 buyers)"
    );
}

/// The pickers plan every search afresh with its pattern (a plan cached for
/// a common pattern can be slow for a rare one), so they leave no prepared
/// statement on the connection, where a fixed lookup leaves one to reuse.
#[rocket::async_test]
async fn pickers_are_planned_for_each_search() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    app.product("Mug", "MUG-1", 1200, 5).await;
    let mut conn = app.pool.acquire().await.expect("a connection");
    for _ in 0..6 {
        assert_eq!(shopdesk::db::users::pick(&mut conn, "ada").await.expect("picks").len(), 1);
        assert_eq!(shopdesk::db::products::pick(&mut conn, "mug").await.expect("picks").len(), 1);
    }
    assert!(shopdesk::db::users::choice(&mut conn, ada).await.expect("finds").is_some());
    let kept: Vec<String> = sqlx::query_scalar("SELECT statement FROM pg_prepared_statements")
        .fetch_all(&mut *conn)
        .await
        .expect("reads prepared statements");
    assert!(kept.iter().any(|s| s.contains("FROM users WHERE id = $1")), "{kept:#?}");
    assert!(!kept.iter().any(|s| s.contains("ILIKE")), "{kept:#?}");
}

/// Undo and restore are set-based: a change set's page, its undo's
/// confirmation page and the undo itself send as many statements for one
/// record as for fifty-nine, and a deleted order's history page as many for one
/// line as for twenty.
#[test]
fn undo_and_restore_send_the_same_statements_however_many_records() {
    Statements::count(|counted| async move {
        let app = TestApp::new().await;
        let mut products = Vec::new();
        for n in 0..60 {
            products.push(app.product(&format!("P{n:02}"), &format!("P{n:02}"), 100 + n, 10_000).await);
        }
        let set_of = |query: String| {
            let app = &app;
            async move {
                let review = app.review_bulk_products(&query).await;
                app.confirm_bulk_products(&review).await.assert_contains("changed");
                sqlx::query_scalar::<_, i64>("SELECT max(id) FROM change_sets").fetch_one(&app.pool).await.unwrap()
            }
        };
        let one = set_of(format!("change=price&percent=10&scope=selected&ids={}", products[0])).await;
        let rest: String = products[1..].iter().map(|id| format!("&ids={id}")).collect();
        let sixty = set_of(format!("change=price&percent=-5&scope=selected{rest}")).await;
        let mut sent = Vec::new();
        for set in [one, sixty] {
            let show = counted.of_page(&app, &format!("/changes/{set}")).await;
            let confirm = counted.of_page(&app, &format!("/changes/{set}/undo")).await;
            let page = app.get(&format!("/changes/{set}/undo")).await;
            let fields = hidden_fields(&page.body, &format!("/changes/{set}/undo"));
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            counted.reset();
            let posted = app.post_raw(&format!("/changes/{set}/undo"), &fields).await;
            let undo = counted.sent();
            assert!(posted.location.is_some(), "{}: {}", posted.status, posted.body);
            app.get(&posted.location.unwrap_or_default()).await.assert_contains("Undone:");
            sent.push((show, confirm, undo));
        }
        assert_eq!(sent[0], sent[1], "a set of 1 record and one of 59: (page, confirmation, undo)");
        let (show, confirm, _) = sent[0];
        assert!(show <= 8 && confirm <= 8, "change set page {show}, undo confirmation {confirm}; the budget is 8");

        let customer = app.customer("Busy", "busy@example.com").await;
        let deleted_order = |lines: usize| {
            let app = &app;
            let products = &products;
            async move {
                let id = order(app, customer, &products[..lines]).await;
                let version: i32 = sqlx::query_scalar("SELECT version FROM orders WHERE id = $1")
                    .bind(id)
                    .fetch_one(&app.pool)
                    .await
                    .unwrap();
                app.delete_order(id, version).await;
                id
            }
        };
        let one_line = deleted_order(1).await;
        let twenty_lines = deleted_order(20).await;
        let history = counted.of_page(&app, &format!("/orders/{one_line}/history")).await;
        assert_eq!(history, counted.of_page(&app, &format!("/orders/{twenty_lines}/history")).await);
        // The page tries the restore and rolls it back, so what it promises
        // is what the button does: a fixed number of statements more than a
        // plain page.
        assert!(history <= 24, "a deleted order's history page sends {history} statements");
        println!("statements: change set page {show}, undo confirmation {confirm}, deleted order's history {history}");
    });
}
