//! Restoring a deleted customer, product or order (with its lines) from its
//! history page: a confirmation first, then the record back with its number,
//! under the same constraints and stock rules as an edit, audited as a
//! 'restore' change set; every refusal is a sentence.

use crate::harness::TestApp;

#[rocket::async_test]
async fn restore_a_deleted_customer_from_the_audit_log() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    app.delete_customer(ada, 1).await;
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 0);

    let log = app.get("/audit").await;
    log.assert_contains(&format!("href=\"/users/{ada}/history\""));
    let history = app.get(&format!("/users/{ada}/history")).await;
    history.assert_contains("Restore Ada Lovelace?");
    history.assert_contains("Email: ada@example.com");
    history.assert_contains("Deleted customer");
    let shown = app.submit(&history, &format!("/users/{ada}/restore")).await;
    shown.assert_contains(&format!("Restored the customer with its number #{ada}."));
    let (name, email): (String, String) =
        sqlx::query_as("SELECT name, email FROM users WHERE id = $1").bind(ada).fetch_one(&app.pool).await.unwrap();
    assert_eq!((name.as_str(), email.as_str()), ("Ada Lovelace", "ada@example.com"));
    let (summary, entries): (String, i64) = sqlx::query_as(
        "SELECT c.summary, (SELECT count(*) FROM audit_log a WHERE a.change_set_id = c.id AND a.action = 'create')
           FROM change_sets c WHERE c.kind = 'restore'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((summary.as_str(), entries), ("Restored customer Ada Lovelace", 1));
    app.assert_figures_exact().await;

    // Restored already: the page says so, and a replayed form changes nothing.
    app.get(&format!("/users/{ada}/history")).await.assert_contains("This customer exists");
    let again = app.post_ok(&format!("/users/{ada}/restore"), &[]).await;
    again.assert_contains("Nothing was changed: this customer exists, so there is nothing to restore");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 1);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM change_sets WHERE kind = 'restore'").await, 1);
    // A record that never existed has no history.
    assert_eq!(app.get("/users/999999/history").await.status, rocket::http::Status::NotFound);
}

#[rocket::async_test]
async fn a_customer_whose_email_is_taken_since_is_not_restored() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada", "ada@example.com").await;
    app.delete_customer(ada, 1).await;
    app.customer("Another Ada", "ADA@example.com").await;
    let history = app.get(&format!("/users/{ada}/history")).await;
    let reason =
        "This customer can&#39;t be restored: their email ada@example.com is used by the customer Another Ada now.";
    history.assert_contains(reason);
    history.assert_lacks(&format!("action=\"/users/{ada}/restore\""));
    app.post_ok(&format!("/users/{ada}/restore"), &[]).await.assert_contains(reason);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 1);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM change_sets").await, 0);
}

#[rocket::async_test]
async fn a_product_is_restored_unless_its_sku_is_taken() {
    let app = TestApp::new().await;
    let mug = app.product("Stoneware Mug", "MUG", 1250, 7).await;
    app.delete_product(mug, 1).await;
    let other = app.product("Other Mug", "mug", 100, 1).await;
    app.post_ok(&format!("/products/{mug}/restore"), &[])
        .await
        .assert_contains("This product can&#39;t be restored: its SKU MUG is used by the product Other Mug now.");
    sqlx::query("UPDATE products SET sku = 'MUG-2' WHERE id = $1").bind(other).execute(&app.pool).await.unwrap();
    let history = app.get(&format!("/products/{mug}/history")).await;
    history.assert_contains("Price: $12.50");
    app.submit(&history, &format!("/products/{mug}/restore")).await.assert_contains("Restored the product");
    let (sku, price, stock): (String, i64, i32) =
        sqlx::query_as("SELECT sku, price_cents, stock FROM products WHERE id = $1")
            .bind(mug)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((sku.as_str(), price, stock), ("MUG", 1250, 7));
    app.assert_figures_exact().await;
}

#[rocket::async_test]
async fn restore_an_order_with_its_lines_taking_stock_again() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada", "ada@example.com").await;
    let mug = app.product("Stoneware Mug", "MUG", 1000, 100).await;
    let tea = app.product("Green Tea", "TEA", 500, 100).await;
    let order = app.place_order_with_status(ada, "paid", &[(mug, 3), (tea, 2)]).await;
    let total = app.scalar_i64("SELECT total_cents FROM orders").await;
    app.delete_order(order, app.version_of("orders", order).await).await;
    assert_eq!(app.stock_of(mug).await, 100);

    // Mugs sold out meanwhile: refused, naming the product short.
    let version = app.version_of("products", mug).await;
    app.edit_product(mug, "Stoneware Mug", "MUG", "10.00", "1", version).await;
    let history = app.get(&format!("/orders/{order}/history")).await;
    history.assert_contains("3 × Stoneware Mug at $10.00");
    history.assert_contains("not enough stock for the orders to hold again: Stoneware Mug (1 in stock, 3 needed)");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM orders").await, 0);

    let version = app.version_of("products", mug).await;
    app.edit_product(mug, "Stoneware Mug", "MUG", "10.00", "10", version).await;
    let history = app.get(&format!("/orders/{order}/history")).await;
    history.assert_contains("Its items are taken from stock again.");
    app.submit(&history, &format!("/orders/{order}/restore")).await.assert_contains("Restored the order");
    assert_eq!(app.scalar_i64("SELECT total_cents FROM orders").await, total);
    let lines: Vec<(i64, i32)> =
        sqlx::query_as("SELECT product_id, quantity FROM order_items WHERE order_id = $1 ORDER BY product_id")
            .bind(order)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(lines, [(mug, 3), (tea, 2)]);
    assert_eq!(app.stock_of(mug).await, 7);
    assert_eq!(app.stock_of(tea).await, 98);
    app.assert_figures_exact().await;
}

#[rocket::async_test]
async fn an_order_whose_customer_or_product_is_gone_asks_to_restore_them_first() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada", "ada@example.com").await;
    let mug = app.product("Stoneware Mug", "MUG", 1000, 100).await;
    let order = app.place_order_with_status(ada, "cancelled", &[(mug, 1)]).await;
    app.delete_order(order, app.version_of("orders", order).await).await;
    app.delete_product(mug, app.version_of("products", mug).await).await;
    app.delete_customer(ada, app.version_of("users", ada).await).await;

    app.post_ok(&format!("/orders/{order}/restore"), &[]).await.assert_contains("its customer Ada (customer #");
    app.post_ok(&format!("/users/{ada}/restore"), &[]).await;
    app.get(&format!("/orders/{order}/history")).await.assert_contains(&format!(
        "This order can&#39;t be restored: Stoneware Mug (#{mug}) no longer exists. Restore it first."
    ));
    app.post_ok(&format!("/products/{mug}/restore"), &[]).await;
    app.post_ok(&format!("/orders/{order}/restore"), &[]).await.assert_contains("Restored the order");
    assert_eq!(app.stock_of(mug).await, 100, "a cancelled order takes no stock");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM change_sets WHERE kind = 'restore'").await, 3);
    app.assert_figures_exact().await;
}
