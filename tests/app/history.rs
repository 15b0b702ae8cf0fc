//! History that people can read: the audit log and each record's History
//! tell what happened in sentences with names, and the demo shop's story
//! holds together (dates, shape, no changes made by the seeding itself).

use crate::harness::{Line, OrderForm, TestApp};

/// The History section of a record's page.
fn history_of(body: &str) -> &str {
    let start = body.find("id=\"history-heading\"").expect("the page has a History section");
    let end = body[start..].find("</section>").map(|e| start + e).unwrap_or(body.len());
    &body[start..end]
}

#[rocket::async_test]
async fn a_customer_s_history_says_what_changed_in_words() {
    let app = TestApp::new().await;
    app.create_customer("Ana Nguyen", "ana@example.com").await;
    let page = app.edit_customer(1, "Ana Nguyen", "ana@shop.example", 1).await;
    let history = history_of(&page.body);
    assert!(
        history.contains("Changed email from <del>ana@example.com</del> to <ins>ana@shop.example</ins>"),
        "{history}"
    );
    assert!(history.contains("Changed customer Ana Nguyen"), "{history}");
    assert!(history.contains("Created customer Ana Nguyen"), "{history}");
    assert!(!history.contains("#1"), "names, not ids: {history}");

    let log = app.get("/audit").await;
    log.assert_contains("Changed email from <del>ana@example.com</del> to <ins>ana@shop.example</ins>");
    log.assert_contains("Created customer Ana Nguyen");
}

#[rocket::async_test]
async fn an_order_s_history_names_products_and_statuses() {
    let app = TestApp::new().await;
    let ana = app.customer("Ana Nguyen", "ana@example.com").await;
    let kettle = app.product("Gooseneck Kettle", "KETL-1", 5900, 10).await;
    let filters = app.product("Paper Filters", "FILT-1", 699, 10).await;
    let order = app.place_order_with_status(ana, "pending", &[(kettle, 2), (filters, 1)]).await;

    let placed = app.get(&format!("/orders/{order}")).await;
    let history = history_of(&placed.body);
    assert!(history.contains("Added 2 × Gooseneck Kettle at $59.00 each"), "{history}");
    assert!(history.contains("Added 1 × Paper Filters"), "{history}");
    assert!(history.contains(&format!("Placed order #{order} for Ana Nguyen")), "{history}");

    let paid = OrderForm::for_customer(ana).status("paid").version(1).with(Line::of(kettle, 2).unit_price("59.00"));
    let page = app.edit_order(order, &paid).await;
    let history = history_of(&page.body);
    assert!(history.contains("Status: <del>Pending</del> → <ins>Paid</ins>"), "{history}");
    assert!(history.contains("Removed 1 × Paper Filters"), "{history}");
    assert!(history.contains("Total: <del>$124.99</del> → <ins>$118.00</ins>"), "{history}");
    assert!(!history.contains("product #") && !history.contains("customer #"), "names, not ids: {history}");
    assert!(!history.contains("_cents") && !history.contains("Placed At"), "no raw fields: {history}");

    // The first entry is the latest change, and "Last changed" says the same time.
    let first_time = history.split("<time datetime=").nth(1).and_then(|t| t.split('>').nth(1)).unwrap_or_default();
    let first_time = first_time.trim_end_matches("</time");
    assert!(!first_time.is_empty(), "{history}");
    page.assert_contains(&format!("Last changed {first_time}"));
}

#[rocket::async_test]
async fn a_price_change_and_a_deletion_read_as_sentences() {
    let app = TestApp::new().await;
    let mug = app.product("Travel Mug", "MUG-T", 1200, 5).await;
    let page = app.edit_product(mug, "Travel Mug", "MUG-T", "13.20", "5", 1).await;
    let history = history_of(&page.body);
    assert!(history.contains("Price: <del>$12.00</del> → <ins>$13.20</ins>"), "{history}");
    assert!(history.contains("Changed product Travel Mug"), "{history}");

    app.delete_product(mug, 2).await;
    let log = app.get("/audit").await;
    log.assert_contains("Deleted product Travel Mug");
    let ana = app.customer("Ana Nguyen", "ana@example.com").await;
    app.delete_customer(ana, 1).await;
    app.get("/audit").await.assert_contains("Deleted customer Ana Nguyen");
}

#[rocket::async_test]
async fn long_values_are_cut_short_in_the_log() {
    let app = TestApp::new().await;
    let long = format!("Ana {}", "Nguyen".repeat(30));
    app.customer(&long, "ana@example.com").await;
    let log = app.get("/audit").await;
    log.assert_lacks(&long);
    let kept: String = long.chars().take(80).collect();
    log.assert_contains(&format!("{}…", kept.trim_end()));
}

#[rocket::async_test]
async fn the_demo_shop_tells_a_consistent_story() {
    let app = TestApp::with_demo(true).await;
    app.sign_in_as("admin@test.example", "admin").await;

    // The seeding wrote its rows in their final shape: the log holds only
    // their creation, never "changed by the system".
    let changes = app
        .scalar_i64(
            "SELECT count(*) FROM audit_log
              WHERE entity IN ('user', 'product', 'order', 'order_line') AND action <> 'create'",
        )
        .await;
    assert_eq!(changes, 0, "the demo's own writes are not changes");
    let log = app.get("/audit").await;
    log.assert_lacks("Changed order");
    log.assert_lacks("Changed product");
    log.assert_contains("Placed order #");
    let order: i64 = app.scalar_i64("SELECT max(id) FROM orders").await;
    let page = app.get(&format!("/orders/{order}")).await;
    let history = history_of(&page.body);
    assert!(!history.contains("Changed order") && !history.contains("by the system ·\n"), "{history}");

    // No order before its customer signed up or before its products were added.
    let before_signup = app
        .scalar_i64("SELECT count(*) FROM orders o JOIN users u ON u.id = o.user_id WHERE o.placed_at < u.created_at")
        .await;
    assert_eq!(before_signup, 0);
    let before_added = app
        .scalar_i64(
            "SELECT count(*) FROM order_items i JOIN orders o ON o.id = i.order_id JOIN products p ON p.id = i.product_id
              WHERE o.placed_at < p.created_at",
        )
        .await;
    assert_eq!(before_added, 0);
    // Orders over the last twelve months, some in the last 30 days, none ahead.
    let outside = app
        .scalar_i64("SELECT count(*) FROM orders WHERE placed_at < now() - interval '12 months' OR placed_at > now()")
        .await;
    assert_eq!(outside, 0);
    let recent = app.scalar_i64("SELECT count(*) FROM orders WHERE placed_at >= now() - interval '30 days'").await;
    assert!(recent >= 5, "{recent} orders in the last 30 days");
    let months = app
        .scalar_i64("SELECT count(DISTINCT date_trunc('month', placed_at)) FROM orders WHERE placed_at >= now() - interval '12 months'")
        .await;
    assert!(months >= 12, "orders in {months} months");
    // Records were last changed when they were created, as their history says.
    let disagreeing = app
        .scalar_i64(
            "SELECT (SELECT count(*) FROM users u WHERE u.updated_at <> u.created_at
                        OR NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.entity = 'user' AND a.entity_id = u.id AND a.at = u.updated_at))
                  + (SELECT count(*) FROM orders o
                        WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.entity = 'order' AND a.entity_id = o.id AND a.at = o.updated_at))",
        )
        .await;
    assert_eq!(disagreeing, 0);

    // The shape: a few cancelled, a few running low, one customer clearly ahead.
    let orders = app.scalar_i64("SELECT count(*) FROM orders").await;
    let cancelled = app.scalar_i64("SELECT count(*) FROM orders WHERE status = 'cancelled'").await;
    assert!(cancelled >= 2 && cancelled * 10 <= orders, "{cancelled} of {orders} cancelled");
    let low = app.scalar_i64("SELECT count(*) FROM products WHERE stock <= 5").await;
    assert!((2..=4).contains(&low), "{low} products running low");
    let (first, second): (i64, i64) = sqlx::query_as(
        "SELECT max(n) FILTER (WHERE r = 1), max(n) FILTER (WHERE r = 2)
           FROM (SELECT sum(total_cents)::BIGINT AS n, row_number() OVER (ORDER BY sum(total_cents) DESC) AS r
                   FROM orders WHERE status <> 'cancelled' GROUP BY user_id) t",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(first * 10 >= second * 13, "the leader spends {first}, the next {second}");
    app.assert_figures_exact().await;
}

#[rocket::async_test]
async fn the_demo_shop_is_the_same_every_time() {
    const SHAPE: &str = "SELECT md5(string_agg(u.email || ':' || o.status || ':' || o.total_cents || ':' || o.item_count
                                    || ':' || extract(epoch FROM o.placed_at - (SELECT min(placed_at) FROM orders))::BIGINT,
                                    ',' ORDER BY o.id))
                           FROM orders o JOIN users u ON u.id = o.user_id";
    let first = TestApp::with_demo(true).await;
    let second = TestApp::with_demo(true).await;
    let shape = |app: &TestApp| {
        let pool = app.pool.clone();
        async move { sqlx::query_scalar::<_, String>(SHAPE).fetch_one(&pool).await.unwrap() }
    };
    assert_eq!(shape(&first).await, shape(&second).await);
}

#[rocket::async_test]
async fn generated_orders_come_after_their_customers_and_products() {
    let app = TestApp::new().await;
    app.customer("Existing", "existing@example.com").await;
    app.generate(shopdesk::generate::Sizes { users: 200, products: 30, orders: 2_000 }, 11).await;
    let before_signup = app
        .scalar_i64("SELECT count(*) FROM orders o JOIN users u ON u.id = o.user_id WHERE o.placed_at < u.created_at")
        .await;
    assert_eq!(before_signup, 0);
    let before_added = app
        .scalar_i64(
            "SELECT count(*) FROM order_items i JOIN orders o ON o.id = i.order_id JOIN products p ON p.id = i.product_id
              WHERE o.placed_at < p.created_at",
        )
        .await;
    assert_eq!(before_added, 0);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM orders WHERE placed_at > now()").await, 0);
    // Busy Decembers outsell quiet Februaries.
    let december = app.scalar_i64("SELECT count(*) FROM orders WHERE extract(month FROM placed_at) = 12").await;
    let february = app.scalar_i64("SELECT count(*) FROM orders WHERE extract(month FROM placed_at) = 2").await;
    assert!(december > february, "{december} in Decembers, {february} in Februaries");
    app.assert_figures_exact().await;
}
