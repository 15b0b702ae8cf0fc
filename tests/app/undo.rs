//! Undoing an import or a bulk action from its change set: a confirmation
//! page that says what will be restored, deleted and left alone (and why),
//! then one transaction, itself audited, with the stock rules of bulk actions.

use crate::harness::TestApp;
use rocket::http::Status;

/// The newest change set of `kind`.
async fn latest_set(app: &TestApp, kind: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM change_sets WHERE kind = $1 ORDER BY id DESC LIMIT 1")
        .bind(kind)
        .fetch_one(&app.pool)
        .await
        .expect("a change set of that kind")
}

#[rocket::async_test]
async fn undo_a_bulk_price_change_from_its_audit_entry() {
    let app = TestApp::new().await;
    let mug = app.product("Stoneware Mug", "MUG", 1000, 10).await;
    let tea = app.product("Green Tea", "TEA", 2550, 10).await;
    let review = app.review_bulk_products("change=price&percent=10&scope=all").await;
    app.confirm_bulk_products(&review).await;
    let prices: Vec<i64> =
        sqlx::query_scalar("SELECT price_cents FROM products ORDER BY id").fetch_all(&app.pool).await.unwrap();
    assert_eq!(prices, [1100, 2805]);
    let set = latest_set(&app, "bulk").await;

    // The audit log names the bulk action beside each of its entries.
    let log = app.get("/audit").await;
    log.assert_contains(&format!("Part of: <a href=\"/changes/{set}\">Raised 2 products&#39; prices by 10%</a>"));
    let page = app.get(&format!("/changes/{set}")).await;
    page.assert_contains("Raised 2 products&#39; prices by 10%");
    page.assert_contains(&format!("href=\"/changes/{set}/undo\""));
    page.assert_contains(&format!("<a href=\"/products/{mug}\">Product #{mug}</a>"));
    page.assert_contains(&format!("<a href=\"/products/{tea}\">Product #{tea}</a>"));

    let confirm = app.get(&format!("/changes/{set}/undo")).await;
    confirm.assert_contains("2 records get</strong> its values from before the change back");
    confirm.assert_contains("0 records</strong> it created are deleted");
    let done = app.undo_change_set(set).await;
    done.assert_contains("Undone: 2 records restored to their earlier values, 0 created records deleted");
    done.assert_contains("Undid: Raised 2 products&#39; prices by 10%");

    let prices: Vec<i64> =
        sqlx::query_scalar("SELECT price_cents FROM products ORDER BY id").fetch_all(&app.pool).await.unwrap();
    assert_eq!(prices, [1000, 2550], "prices back");
    assert_eq!(app.version_of("products", mug).await, 3, "the undo is an edit: versions move on");
    assert_eq!(app.version_of("products", tea).await, 3);
    let undo = latest_set(&app, "undo").await;
    let undoes: Option<i64> = sqlx::query_scalar("SELECT undoes FROM change_sets WHERE id = $1")
        .bind(undo)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(undoes, Some(set));
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE change_set_id = $1 AND entity = 'product' AND action = 'update'
            AND staff_id IS NOT NULL",
    )
    .bind(undo)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited, 2, "the undo is audited as its own set, naming the admin");
    app.assert_figures_exact().await;

    // A second undo is refused: the page says so, and a replayed form changes nothing.
    app.get(&format!("/changes/{set}")).await.assert_contains("This change was undone");
    app.get(&format!("/changes/{set}/undo")).await.assert_contains("This change was already undone");
    let again = app.post_ok(&format!("/changes/{set}/undo"), &[]).await;
    again.assert_contains("Nothing was changed: this change was already undone.");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM change_sets WHERE kind = 'undo'").await, 1);
    // An undo itself is not undone.
    app.post_ok(&format!("/changes/{undo}/undo"), &[])
        .await
        .assert_contains("Nothing was changed: only imports and bulk actions can be undone.");
    let prices: Vec<i64> =
        sqlx::query_scalar("SELECT price_cents FROM products ORDER BY id").fetch_all(&app.pool).await.unwrap();
    assert_eq!(prices, [1000, 2550]);
}

#[rocket::async_test]
async fn undoing_a_bulk_cancel_takes_stock_again_or_is_refused_when_short() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada", "ada@example.com").await;
    let mug = app.product("Stoneware Mug", "MUG", 1000, 100).await;
    let first = app.place_order_with_status(ada, "paid", &[(mug, 5)]).await;
    let second = app.place_order_with_status(ada, "pending", &[(mug, 5)]).await;
    let shipped = app.place_order_with_status(ada, "shipped", &[(mug, 1)]).await;
    assert_eq!(app.stock_of(mug).await, 89);
    app.bulk_orders(&format!("action=cancelled&scope=selected&ids={first}&ids={second}"))
        .await
        .assert_contains("2 orders are now cancelled.");
    assert_eq!(app.stock_of(mug).await, 99);
    let set = latest_set(&app, "bulk").await;
    app.get(&format!("/changes/{set}")).await.assert_contains("Marked 2 orders cancelled");

    // Someone sells mugs meanwhile: 3 left, 10 needed. Nothing is undone.
    let version = app.version_of("products", mug).await;
    app.edit_product(mug, "Stoneware Mug", "MUG", "10.00", "3", version).await;
    let confirm = app.get(&format!("/changes/{set}/undo")).await;
    confirm.assert_contains("2 records get</strong>");
    let refused = app.submit(&confirm, &format!("/changes/{set}/undo")).await;
    refused.assert_contains(
        "Nothing was changed: there is not enough stock for the orders to hold again: Stoneware Mug (3 in stock, 10 needed).",
    );
    let statuses: Vec<String> =
        sqlx::query_scalar("SELECT status FROM orders ORDER BY id").fetch_all(&app.pool).await.unwrap();
    assert_eq!(statuses, ["cancelled", "cancelled", "shipped"]);
    assert_eq!(app.stock_of(mug).await, 3);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM change_sets WHERE kind = 'undo'").await, 0);

    // Restocked: the orders come back to paid and pending and take their stock again.
    let version = app.version_of("products", mug).await;
    app.edit_product(mug, "Stoneware Mug", "MUG", "10.00", "50", version).await;
    app.undo_change_set(set).await.assert_contains("Undone: 2 records restored to their earlier values");
    let statuses: Vec<String> =
        sqlx::query_scalar("SELECT status FROM orders ORDER BY id").fetch_all(&app.pool).await.unwrap();
    assert_eq!(statuses, ["paid", "pending", "shipped"]);
    assert_eq!(app.stock_of(mug).await, 40);
    assert_eq!(app.version_of("orders", first).await, 3);
    assert_eq!(app.version_of("orders", shipped).await, 1, "an order outside the set is untouched");
    app.assert_figures_exact().await;
}

#[rocket::async_test]
async fn undo_a_bulk_delete_brings_the_orders_back_with_their_lines() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada", "ada@example.com").await;
    let mug = app.product("Stoneware Mug", "MUG", 1000, 100).await;
    let tea = app.product("Green Tea", "TEA", 500, 100).await;
    let paid = app.place_order_with_status(ada, "paid", &[(mug, 2), (tea, 3)]).await;
    let cancelled = app.place_order_with_status(ada, "cancelled", &[(mug, 4)]).await;
    app.bulk_orders(&format!("action=delete&scope=selected&ids={paid}&ids={cancelled}")).await;
    assert_eq!(app.scalar_i64("SELECT count(*) FROM orders").await, 0);
    assert_eq!(app.stock_of(mug).await, 100);
    let set = latest_set(&app, "bulk").await;
    app.get(&format!("/changes/{set}/undo")).await.assert_contains("2 records</strong> it deleted come back");
    app.undo_change_set(set).await.assert_contains("2 deleted records brought back");
    let lines: Vec<(i64, i64, i32)> =
        sqlx::query_as("SELECT order_id, product_id, quantity FROM order_items ORDER BY order_id, product_id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(lines, [(paid, mug, 2), (paid, tea, 3), (cancelled, mug, 4)]);
    assert_eq!(app.stock_of(mug).await, 98, "the paid order holds its stock again, the cancelled one none");
    assert_eq!(app.stock_of(tea).await, 97);
    app.assert_figures_exact().await;
}

/// Runs `sql` statements in one transaction filed under a new 'import'
/// change set, as an import commits; returns the set.
async fn import_like(app: &TestApp, staff: i64, statements: &[String]) -> i64 {
    let mut conn = app.pool.acquire().await.unwrap();
    let mut tx = shopdesk::db::begin_as(&mut conn, Some(staff)).await.unwrap();
    let set =
        shopdesk::db::change_sets::open(&mut tx, shopdesk::db::change_sets::Kind::Import, "Imported people.csv", None)
            .await
            .unwrap();
    for sql in statements {
        sqlx::query(sqlx::AssertSqlSafe(sql.clone())).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    set
}

#[rocket::async_test]
async fn undo_an_import_deletes_what_it_created_unless_referred_to_and_leaves_later_changes() {
    let app = TestApp::new().await;
    let admin: i64 = app.scalar_i64("SELECT id FROM staff LIMIT 1").await;
    let kept = app.customer("Kept Name", "kept@example.com").await;
    let edited_since = app.customer("Edited Since", "since@example.com").await;
    let cup = app.product("Cup", "CUP", 700, 10).await;
    let set = import_like(
        &app,
        admin,
        &[
            "INSERT INTO users (name, email) VALUES ('New Unused', 'unused@example.com'), ('New Buyer', 'buyer@example.com')"
                .to_string(),
            format!("UPDATE users SET name = 'Imported Name', version = version + 1 WHERE id = {kept}"),
            format!("UPDATE users SET name = 'Imported Too', version = version + 1 WHERE id = {edited_since}"),
            "INSERT INTO products (name, sku, price_cents, stock) VALUES ('Bowl', 'BOWL', 1500, 20)".to_string(),
            format!("UPDATE products SET price_cents = 900, version = version + 1 WHERE id = {cup}"),
        ],
    )
    .await;
    let buyer: i64 = app.scalar_i64("SELECT id FROM users WHERE email = 'buyer@example.com'").await;
    let bowl: i64 = app.scalar_i64("SELECT id FROM products WHERE sku = 'BOWL'").await;
    // Since the import: the new customer ordered the new product, and one
    // updated customer was edited again.
    app.place_order(buyer, &[(bowl, 2)]).await;
    let version = app.version_of("users", edited_since).await;
    app.edit_customer(edited_since, "Edited Later", "since@example.com", version).await;

    let confirm = app.get(&format!("/changes/{set}/undo")).await;
    confirm.assert_contains("2 records get</strong> its values from before the change back");
    confirm.assert_contains("1 record</strong> it created is deleted");
    confirm.assert_contains("3 records are</strong> left as they are: 1 changed since, 2 referred to by other records");
    confirm.assert_contains("New Buyer</a></td>");
    confirm.assert_contains("it has orders now, which must keep their customer");
    confirm.assert_contains("Bowl</a></td>");
    confirm.assert_contains("it is on order lines now, which must keep their product");
    confirm.assert_contains("Imported Too</a></td>");
    confirm.assert_contains("it was changed since, so its later changes are kept");

    app.undo_change_set(set).await.assert_contains("3 records were left as they are");
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM users ORDER BY id").fetch_all(&app.pool).await.unwrap();
    assert_eq!(names, ["Kept Name", "Edited Later", "New Buyer"], "the unused new customer is gone");
    assert_eq!(app.scalar_i64("SELECT price_cents FROM products WHERE sku = 'CUP'").await, 700);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM products WHERE sku = 'BOWL'").await, 1, "on an order: kept");
    let undo = latest_set(&app, "undo").await;
    let entries: Vec<(String, String)> =
        sqlx::query_as("SELECT entity, action FROM audit_log WHERE change_set_id = $1 ORDER BY entity, action")
            .bind(undo)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let entries: Vec<(&str, &str)> = entries.iter().map(|(e, a)| (e.as_str(), a.as_str())).collect();
    assert_eq!(entries, [("product", "update"), ("user", "delete"), ("user", "update")]);
    app.assert_figures_exact().await;

    // Undone once: a second try through a stale confirmation page is refused.
    app.post_ok(&format!("/changes/{set}/undo"), &[])
        .await
        .assert_contains("Nothing was changed: this change was already undone.");
}

#[rocket::async_test]
async fn viewers_see_the_pages_but_cannot_undo_or_restore() {
    let app = TestApp::with_demo(false).await;
    app.sign_in_as("viewer@test.example", "viewer").await;
    let mug = app.product("Stoneware Mug", "MUG", 1000, 10).await;
    let admin = app.staff("admin@test.example", "admin").await;
    let set = import_like(&app, admin, &[format!("UPDATE products SET price_cents = 1 WHERE id = {mug}")]).await;
    let gone = app.customer("Gone", "gone@example.com").await;
    sqlx::query("DELETE FROM users WHERE id = $1").bind(gone).execute(&app.pool).await.unwrap();

    let confirm = app.get(&format!("/changes/{set}/undo")).await;
    confirm.assert_contains("Only admins can undo a change.");
    let posted = app.post(&format!("/changes/{set}/undo"), &[]).await;
    assert_eq!(posted.status, Status::Forbidden);
    assert_eq!(app.scalar_i64("SELECT price_cents FROM products").await, 1);

    let history = app.get(&format!("/users/{gone}/history")).await;
    history.assert_contains("Only admins can restore a record.");
    let posted = app.post(&format!("/users/{gone}/restore"), &[]).await;
    assert_eq!(posted.status, Status::Forbidden);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 0);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM change_sets WHERE kind IN ('undo', 'restore')").await, 0);
}

#[rocket::async_test]
async fn two_undos_at_once_take_a_set_back_once() {
    let app = TestApp::new().await;
    let admin: i64 = app.scalar_i64("SELECT id FROM staff LIMIT 1").await;
    app.product("Stoneware Mug", "MUG", 1000, 10).await;
    let review = app.review_bulk_products("change=price&percent=50&scope=all").await;
    app.confirm_bulk_products(&review).await;
    let set = latest_set(&app, "bulk").await;
    let (mut first, mut second) = (app.pool.acquire().await.unwrap(), app.pool.acquire().await.unwrap());
    let (a, b) = rocket::tokio::join!(
        shopdesk::db::undo::undo(&mut first, Some(admin), set),
        shopdesk::db::undo::undo(&mut second, Some(admin), set)
    );
    let refused =
        [&a, &b].iter().filter(|r| matches!(r, Err(shopdesk::db::undo::TakeBackError::AlreadyUndone))).count();
    assert!(a.is_ok() != b.is_ok(), "exactly one undo goes ahead: {a:?} {b:?}");
    assert_eq!(refused, 1, "the other is told it was undone already");
    assert_eq!(app.scalar_i64("SELECT price_cents FROM products").await, 1000);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM change_sets WHERE kind = 'undo'").await, 1);
}
