//! The kept report figures stay exact through every kind of order change,
//! including concurrent ones, and `verify-stats` catches a corrupted figure.

use crate::harness::{OrderForm, TestApp};

/// A customer's orders and revenue, as kept.
async fn customer(app: &TestApp, id: i64) -> (i64, i64) {
    sqlx::query_as("SELECT order_count, revenue_cents FROM customer_stats WHERE user_id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// A product's units sold and revenue, as kept.
async fn product(app: &TestApp, id: i64) -> (i64, i64) {
    sqlx::query_as("SELECT units_sold, revenue_cents FROM product_stats WHERE product_id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// What a customer bought of a product, as kept: units, spend, orders, and
/// the day of the last purchase; `None` when the figures hold no such row.
async fn bought(app: &TestApp, user: i64, product: i64) -> Option<(i64, i64, i64, String)> {
    sqlx::query_as(
        "SELECT units, spend_cents, order_count, to_char(last_bought_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')
           FROM customer_products WHERE user_id = $1 AND product_id = $2",
    )
    .bind(user)
    .bind(product)
    .fetch_optional(&app.pool)
    .await
    .unwrap()
}

/// Buyers of a product and products of a customer, as kept.
async fn counts(app: &TestApp, user: i64, product: i64) -> (i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT customer_count FROM product_stats WHERE product_id = $2),
                (SELECT product_count FROM customer_stats WHERE user_id = $1)",
    )
    .bind(user)
    .bind(product)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[rocket::async_test]
async fn figures_stay_exact_through_every_kind_of_order_change() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada", "ada@example.com").await;
    let bob = app.customer("Bob", "bob@example.com").await;
    let mug = app.product("Mug", "MUG", 1000, 100).await;
    let tea = app.product("Tea", "TEA", 250, 100).await;

    // Create.
    let order = app.place_order_with_status(ada, "paid", &[(mug, 2), (tea, 4)]).await;
    assert_eq!(customer(&app, ada).await, (1, 3000));
    assert_eq!(product(&app, mug).await, (2, 2000));
    assert_eq!(bought(&app, ada, mug).await.map(|b| (b.0, b.1, b.2)), Some((2, 2000, 1)));
    assert_eq!(counts(&app, ada, mug).await, (1, 2));
    app.assert_figures_exact().await;

    // Edit lines: change a quantity, drop a line, add none.
    app.edit_order(order, &OrderForm::for_customer(ada).status("paid").version(1).lines(&[(mug, 3)])).await;
    assert_eq!(customer(&app, ada).await, (1, 3000));
    assert_eq!(product(&app, tea).await, (0, 0));
    assert_eq!(bought(&app, ada, mug).await.map(|b| (b.0, b.1, b.2)), Some((3, 3000, 1)));
    assert_eq!(bought(&app, ada, tea).await, None, "no longer bought: no row");
    assert_eq!(counts(&app, ada, tea).await, (0, 1));
    app.assert_figures_exact().await;

    // Cancel: revenue and units leave, the order still counts.
    app.edit_order(order, &OrderForm::for_customer(ada).status("cancelled").version(2).lines(&[(mug, 3)])).await;
    assert_eq!(customer(&app, ada).await, (1, 0));
    assert_eq!(product(&app, mug).await, (0, 0));
    assert_eq!(bought(&app, ada, mug).await, None);
    assert_eq!(counts(&app, ada, mug).await, (0, 0));
    app.assert_figures_exact().await;

    // Un-cancel while changing lines and customer.
    app.edit_order(order, &OrderForm::for_customer(bob).status("shipped").version(3).lines(&[(mug, 1), (tea, 2)]))
        .await;
    assert_eq!(customer(&app, ada).await, (0, 0));
    assert_eq!(customer(&app, bob).await, (1, 1500));
    assert_eq!(product(&app, tea).await, (2, 500));
    assert_eq!(bought(&app, ada, mug).await, None);
    assert_eq!(bought(&app, bob, tea).await.map(|b| (b.0, b.1, b.2)), Some((2, 500, 1)));
    assert_eq!(counts(&app, bob, tea).await, (1, 2));
    app.assert_figures_exact().await;

    // Delete.
    app.delete_order(order, 4).await;
    assert_eq!(customer(&app, bob).await, (0, 0));
    assert_eq!(product(&app, mug).await, (0, 0));
    assert_eq!(bought(&app, bob, tea).await, None);
    assert_eq!(counts(&app, bob, tea).await, (0, 0));
    let months: i64 = app.scalar_i64("SELECT coalesce(sum(order_count), 0)::BIGINT FROM monthly_revenue").await;
    assert_eq!(months, 0);
    app.assert_figures_exact().await;

    // The reports read the kept figures.
    app.place_order_with_status(bob, "pending", &[(tea, 1)]).await;
    let reports = app.get("/reports").await;
    reports.assert_contains("1 order · $2.50 revenue");

    // Changed outside the application, in SQL: the database keeps the figures
    // itself, also when a live order's lines go with it by cascade.
    sqlx::query("UPDATE orders SET status = 'cancelled'").execute(&app.pool).await.unwrap();
    assert_eq!(product(&app, tea).await, (0, 0));
    sqlx::query("UPDATE orders SET status = 'paid'").execute(&app.pool).await.unwrap();
    assert_eq!(product(&app, tea).await, (1, 250));
    sqlx::query("DELETE FROM orders").execute(&app.pool).await.unwrap();
    assert_eq!(customer(&app, bob).await, (0, 0));
    assert_eq!(product(&app, tea).await, (0, 0));
    app.assert_figures_exact().await;
}

#[rocket::async_test]
async fn the_last_purchase_follows_every_change_to_the_orders_behind_it() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada", "ada@example.com").await;
    let bob = app.customer("Bob", "bob@example.com").await;
    let mug = app.product("Mug", "MUG", 1000, 100).await;
    let tea = app.product("Tea", "TEA", 250, 100).await;
    for (day, lines) in
        [("2026-01-10", vec![(mug, 1)]), ("2026-02-10", vec![(mug, 2), (tea, 1)]), ("2026-03-10", vec![(mug, 3)])]
    {
        let id = app.place_order_with_status(ada, "paid", &lines).await;
        app.set_placed_on(id, day).await;
    }
    let day = |b: Option<(i64, i64, i64, String)>| b.map(|b| (b.2, b.3));
    assert_eq!(day(bought(&app, ada, mug).await), Some((3, "2026-03-10".into())));
    app.assert_figures_exact().await;

    // Cancelling the latest order: the one before becomes the last purchase.
    app.edit_order(3, &OrderForm::for_customer(ada).status("cancelled").version(1).lines(&[(mug, 3)])).await;
    assert_eq!(day(bought(&app, ada, mug).await), Some((2, "2026-02-10".into())));
    // Back-dating an order in SQL moves it; reviving the cancelled one brings March back.
    app.set_placed_on(2, "2025-12-01").await;
    assert_eq!(day(bought(&app, ada, mug).await), Some((2, "2026-01-10".into())));
    assert_eq!(day(bought(&app, ada, tea).await), Some((1, "2025-12-01".into())));
    app.edit_order(3, &OrderForm::for_customer(ada).status("shipped").version(2).lines(&[(mug, 3)])).await;
    assert_eq!(day(bought(&app, ada, mug).await), Some((3, "2026-03-10".into())));
    app.assert_figures_exact().await;

    // Giving the March order to Bob: Ada's last mug is January's again.
    sqlx::query("UPDATE orders SET user_id = $1 WHERE id = 3").bind(bob).execute(&app.pool).await.unwrap();
    assert_eq!(day(bought(&app, ada, mug).await), Some((2, "2026-01-10".into())));
    assert_eq!(day(bought(&app, bob, mug).await), Some((1, "2026-03-10".into())));
    // Removing a line in SQL (with the order's total, as the application
    // keeps it), then deleting an order with its lines by cascade.
    sqlx::query("DELETE FROM order_items WHERE order_id = 1").execute(&app.pool).await.unwrap();
    sqlx::query("UPDATE orders SET total_cents = 0, item_count = 0 WHERE id = 1").execute(&app.pool).await.unwrap();
    assert_eq!(day(bought(&app, ada, mug).await), Some((1, "2025-12-01".into())));
    sqlx::query("DELETE FROM orders WHERE id = 2").execute(&app.pool).await.unwrap();
    assert_eq!(bought(&app, ada, mug).await, None);
    assert_eq!(bought(&app, ada, tea).await, None);
    assert_eq!(counts(&app, ada, mug).await, (1, 0), "only Bob still buys mugs");
    app.assert_figures_exact().await;

    // Many orders changed by one statement: figures exact, each row written once.
    sqlx::query("UPDATE orders SET status = 'cancelled'").execute(&app.pool).await.unwrap();
    assert_eq!(app.scalar_i64("SELECT count(*) FROM customer_products").await, 0);
    sqlx::query("UPDATE orders SET status = 'pending'").execute(&app.pool).await.unwrap();
    app.assert_figures_exact().await;
}

#[rocket::async_test]
async fn concurrent_orders_keep_figures_exact() {
    let app = TestApp::new().await;
    let users = app.numbered_customers(4).await;
    let mut products = Vec::new();
    for n in 0..3 {
        products.push(app.product(&format!("P{n}"), &format!("P{n}"), 100 + n, 1000).await);
    }
    let forms: Vec<OrderForm> = (0..30usize)
        .map(|n| {
            let status = ["pending", "paid", "shipped", "cancelled"][n % 4];
            let lines = [(products[n % 3], 1 + (n % 2) as i32), (products[(n + 1) % 3], 2)];
            OrderForm::for_customer(users[n % 4]).status(status).lines(&lines)
        })
        .collect();
    let answers = futures::future::join_all(forms.iter().map(|form| app.post_order(form))).await;
    let statuses: Vec<_> = answers.iter().map(|page| page.status).collect();
    assert!(statuses.iter().all(|s| *s == rocket::http::Status::SeeOther), "{statuses:?}");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM orders").await, 30);
    app.assert_figures_exact().await;
}

#[rocket::async_test]
async fn verify_stats_reports_a_corrupted_figure() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada", "ada@example.com").await;
    let mug = app.product("Mug", "MUG", 1000, 100).await;
    app.place_order_with_status(ada, "paid", &[(mug, 2)]).await;
    app.assert_figures_exact().await;

    sqlx::query("UPDATE customer_stats SET revenue_cents = revenue_cents + 1 WHERE user_id = $1")
        .bind(ada)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE product_stats SET units_sold = 7 WHERE product_id = $1")
        .bind(mug)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE customer_products SET spend_cents = 1, last_bought_at = '2001-01-01' WHERE user_id = $1")
        .bind(ada)
        .execute(&app.pool)
        .await
        .unwrap();
    let found = app.figure_differences().await;
    assert_eq!(found.len(), 4, "{found:?}");
    assert!(
        found.contains(&format!(
            "purchase customer {ada} product {mug}: spend_cents is 1 but the orders add up to 2000"
        )),
        "{found:?}"
    );
    assert!(found.iter().any(|d| d.contains("last_bought_at")), "{found:?}");
    assert!(
        found.contains(&format!("customer {ada}: revenue_cents is 2001 but the orders add up to 2000")),
        "{found:?}"
    );
    assert!(found.contains(&format!("product {mug}: units_sold is 7 but the orders add up to 2")), "{found:?}");

    // The command says so and fails; rebuilding makes it exact again.
    let url = app.url.clone();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_shopdesk"))
        .arg("verify-stats")
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("4 report figure(s) differ"), "{stdout}");
    let mut conn = app.pool.acquire().await.unwrap();
    shopdesk::db::stats::rebuild(&mut conn).await.unwrap();
    app.assert_figures_exact().await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_shopdesk"))
        .arg("verify-stats")
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
}

#[rocket::async_test]
async fn generated_data_is_realistic_adds_to_what_is_there_and_keeps_figures_exact() {
    let app = TestApp::new().await;
    app.customer("Existing", "existing@example.com").await;
    let mut conn = app.pool.acquire().await.unwrap();
    let sizes = shopdesk::generate::Sizes { users: 200, products: 30, orders: 1_000 };
    let summary = shopdesk::generate::generate(&mut conn, sizes, 7, false).await.unwrap();
    assert_eq!((summary.users, summary.products, summary.orders), (200, 30, 1_000));
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 201);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM orders").await, 1_000);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM order_items").await, summary.lines as i64);
    let bad_line_counts = app
        .scalar_i64("SELECT count(*) FROM (SELECT order_id FROM order_items GROUP BY order_id HAVING count(*) NOT BETWEEN 1 AND 5) x")
        .await;
    assert_eq!(bad_line_counts, 0);
    assert_eq!(app.scalar_i64("SELECT count(DISTINCT status) FROM orders").await, 4);
    let span_days =
        app.scalar_i64("SELECT extract(day FROM max(placed_at) - min(placed_at))::BIGINT FROM orders").await;
    assert!(span_days > 365, "dates spread over two years, got {span_days} days");
    app.assert_figures_exact().await;
    // New rows after a bulk load get fresh ids from the sequences.
    let page = app.create_customer("After", "after@example.com").await;
    page.assert_contains("Customer After created.");
    // Adding again adds, rather than replacing.
    shopdesk::generate::generate(&mut conn, shopdesk::generate::Sizes { users: 10, products: 0, orders: 10 }, 8, false)
        .await
        .unwrap();
    assert_eq!(app.scalar_i64("SELECT count(*) FROM orders").await, 1_010);
    app.assert_figures_exact().await;
}
