//! Bulk actions on orders: a confirmation that says exactly how many orders
//! change, then one transaction that keeps the rules of single edits.

use crate::harness::TestApp;
use rocket::http::Status;

async fn statuses(app: &TestApp) -> Vec<(i64, String, i32)> {
    sqlx::query_as("SELECT id, status, version FROM orders ORDER BY id").fetch_all(&app.pool).await.unwrap()
}

#[rocket::async_test]
async fn mark_every_matching_order_paid_after_confirming_the_count() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada", "ada@example.com").await;
    let bob = app.customer("Bob", "bob@example.com").await;
    let mug = app.product("Stoneware Mug", "MUG", 1000, 1000).await;
    for _ in 0..3 {
        app.place_order_with_status(ada, "pending", &[(mug, 1)]).await;
    }
    let january = app.place_order_with_status(bob, "pending", &[(mug, 2)]).await;
    app.place_order_with_status(bob, "shipped", &[(mug, 1)]).await;
    app.set_placed_on(january, "2026-01-15").await;

    // The list offers it; the confirmation counts and shows what will change.
    app.get("/orders?status=pending").await.assert_contains("all 4 orders matching the filters");
    let confirm = app.review_bulk_orders("action=paid&scope=all&filters.status=pending").await;
    assert_eq!(confirm.status, Status::Ok);
    confirm.assert_contains("Mark as paid: 4 orders?");
    confirm.assert_contains("name=\"confirmed\" value=\"4\"");
    assert_eq!(confirm.rows_linking_to("/orders/"), 4, "a sample of the orders");
    assert!(statuses(&app).await.iter().filter(|(_, s, _)| s == "pending").count() == 4, "nothing changed yet");

    // A month's unpaid orders only.
    let month = app
        .review_bulk_orders(
            "action=paid&scope=all&filters.status=pending&filters.from=2026-01-01&filters.to=2026-01-31",
        )
        .await;
    month.assert_contains("Mark as paid: 1 order?");
    month.assert_contains(&format!("href=\"/orders/{january}\""));

    let done = app.confirm_bulk_orders(&confirm).await;
    done.assert_contains("4 orders are now paid.");
    let after = statuses(&app).await;
    assert_eq!(after.iter().filter(|(_, s, _)| s == "paid").count(), 4);
    assert!(after.iter().filter(|(_, s, _)| s == "paid").all(|(_, _, v)| *v == 2), "versions move on");
    let audited = app
        .scalar_i64(
            "SELECT count(*) FROM audit_log WHERE entity = 'order' AND action = 'update' AND staff_id IS NOT NULL",
        )
        .await;
    assert_eq!(audited, 4, "one audit row per changed order, naming the admin");
    app.assert_figures_exact().await;

    // Orders already in the wanted state are counted, left alone and reported.
    let shipped = app.review_bulk_orders("action=shipped&scope=all").await;
    shipped.assert_contains("Mark as shipped: 5 orders?");
    app.confirm_bulk_orders(&shipped).await.assert_contains("4 orders are now shipped. 1 was already shipped.");
    app.assert_figures_exact().await;
}

#[rocket::async_test]
async fn a_changed_selection_or_short_stock_changes_nothing() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada", "ada@example.com").await;
    let mug = app.product("Stoneware Mug", "MUG", 1000, 100).await;
    let first = app.place_order_with_status(ada, "pending", &[(mug, 1)]).await;
    let second = app.place_order_with_status(ada, "pending", &[(mug, 1)]).await;
    let confirm = app.review_bulk_orders("action=shipped&scope=all&filters.status=pending").await;
    confirm.assert_contains("Mark as shipped: 2 orders?");

    // Someone places another pending order between reviewing and confirming:
    // nothing changes, and the review shows the new count, ready to confirm.
    app.place_order_with_status(ada, "pending", &[(mug, 1)]).await;
    let again = app.confirm_bulk_orders(&confirm).await;
    again.assert_contains(
        "Nothing was changed: the orders changed since you reviewed them (3 match now; you confirmed 2).",
    );
    again.assert_contains("Mark as shipped: 3 orders?");
    assert!(statuses(&app).await.iter().all(|(_, s, _)| s == "pending"));

    // The same count, but one of them was edited meanwhile: still nothing changes.
    sqlx::query("UPDATE orders SET version = version + 1, updated_at = now() WHERE id = $1")
        .bind(second)
        .execute(&app.pool)
        .await
        .unwrap();
    app.confirm_bulk_orders(&again).await.assert_contains(
        "Nothing was changed: the orders changed since you reviewed them (3 match now; you confirmed 3).",
    );
    assert!(statuses(&app).await.iter().all(|(_, s, _)| s == "pending"));

    // Reviving a cancelled order needs stock that is no longer there.
    let cancelled = app.place_order_with_status(ada, "cancelled", &[(mug, 50)]).await;
    sqlx::query("UPDATE products SET stock = 10 WHERE id = $1").bind(mug).execute(&app.pool).await.unwrap();
    let confirm = app.review_bulk_orders(&format!("action=paid&scope=selected&ids={cancelled}&ids={first}")).await;
    confirm.assert_contains("Mark as paid: 2 orders?");
    let page = app.confirm_bulk_orders(&confirm).await;
    page.assert_contains("not enough stock to revive the cancelled orders (Stoneware Mug: 10 available, 50 needed)");
    let after = statuses(&app).await;
    assert!(after.iter().any(|(id, s, _)| *id == cancelled && s == "cancelled"));
    assert!(after.iter().any(|(id, s, _)| *id == first && s == "pending"), "all or nothing");
    assert_eq!(app.scalar_i64("SELECT stock::BIGINT FROM products").await, 10);
    app.assert_figures_exact().await;
}

#[rocket::async_test]
async fn deleting_and_cancelling_ticked_orders_return_their_stock() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada", "ada@example.com").await;
    let mug = app.product("Stoneware Mug", "MUG", 1000, 100).await;
    let a = app.place_order_with_status(ada, "paid", &[(mug, 5)]).await;
    let b = app.place_order_with_status(ada, "pending", &[(mug, 7)]).await;
    let c = app.place_order_with_status(ada, "shipped", &[(mug, 3)]).await;
    assert_eq!(app.stock_of(mug).await, 85);

    // The list's tick boxes belong to the bulk form.
    app.get("/orders").await.assert_contains(&format!("name=\"ids\" value=\"{a}\" form=\"bulk\""));
    let confirm = app.review_bulk_orders(&format!("action=delete&scope=selected&ids={a}&ids={b}")).await;
    confirm.assert_contains("Delete: 2 orders?");
    confirm.assert_contains("This can't be undone.");
    app.confirm_bulk_orders(&confirm).await.assert_contains("Deleted 2 orders and their lines.");
    assert_eq!(app.stock_of(mug).await, 97);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM order_items").await, 1);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM audit_log WHERE entity = 'order' AND action = 'delete'").await, 2);

    app.bulk_orders(&format!("action=cancelled&scope=selected&ids={c}"))
        .await
        .assert_contains("1 order is now cancelled.");
    assert_eq!(app.stock_of(mug).await, 100);
    app.assert_figures_exact().await;

    // Nothing ticked, or no action chosen: the page says so, next to the choice.
    app.review_bulk_orders("action=paid&scope=selected").await.assert_contains("No orders to change");
    let no_action = app.review_bulk_orders(&format!("action=&scope=selected&ids={c}&filters.status=cancelled")).await;
    no_action.assert_contains("Choose what to do with the orders.");
    no_action.assert_contains(&format!("name=\"ids\" value=\"{c}\""));
    no_action.assert_contains("name=\"filters.status\" value=\"cancelled\"");
    app.review_bulk_orders("action=paid&scope=all&filters.from=2026-13-45")
        .await
        .assert_contains("A date or amount in the orders list filters could not be read.");
    // A hand-made post without a confirmation goes back to the review.
    let posted = app.post("/orders/bulk", &[("action", "paid"), ("scope", "all")]).await;
    assert_eq!(posted.status, Status::SeeOther);
    assert!(posted.location.unwrap_or_default().starts_with("/orders/bulk?action=paid&scope=all"));
    assert_eq!(app.stock_of(mug).await, 100);
}

#[rocket::async_test]
async fn products_change_price_or_stock_by_a_percentage_after_confirming() {
    let app = TestApp::new().await;
    let mug = app.product("Stoneware Mug", "MUG", 1000, 40).await;
    let tea = app.product("Green Tea", "TEA", 250, 3).await;
    app.product("Kettle", "KTL", 5000, 0).await;

    // All products in stock: +10% on prices, with the new prices shown first.
    let confirm = app.review_bulk_products("change=price&percent=10&scope=all&stock=in").await;
    confirm.assert_contains("Change prices by +10%: 2 products?");
    confirm.assert_contains("name=\"confirmed\" value=\"2\"");
    confirm.assert_contains("<td class=\"num\">$2.50</td><td class=\"num\">$2.75</td>");
    app.confirm_bulk_products(&confirm).await.assert_contains("Change prices by +10%: 2 products changed.");
    let prices: Vec<(String, i64, i32)> = sqlx::query_as("SELECT sku, price_cents, version FROM products ORDER BY sku")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(prices, [("KTL".into(), 5000, 1), ("MUG".into(), 1100, 2), ("TEA".into(), 275, 2)]);

    // Ticked ones: stock down 25%, rounded half away from zero to whole units.
    let confirm =
        app.review_bulk_products(&format!("change=stock&percent=-25&scope=selected&ids={mug}&ids={tea}")).await;
    confirm.assert_contains("<td class=\"num\">3</td><td class=\"num\">2</td>");
    app.confirm_bulk_products(&confirm).await.assert_contains("Change stock by -25%: 2 products changed.");
    let stock: Vec<i32> =
        sqlx::query_scalar("SELECT stock FROM products ORDER BY sku").fetch_all(&app.pool).await.unwrap();
    assert_eq!(stock, [0, 30, 2]);
    assert_eq!(
        app.scalar_i64("SELECT count(*) FROM audit_log WHERE entity = 'product' AND action = 'update'").await,
        4
    );

    // Nonsense percentages are explained next to the field, with the value back.
    let lots = app.review_bulk_products("change=stock&percent=lots&scope=all&stock=in").await;
    lots.assert_contains("Enter the percentage as a number");
    lots.assert_contains("name=\"percent\" value=\"lots\"");
    lots.assert_contains("<option value=\"stock\" selected>");
    lots.assert_contains("name=\"stock\" value=\"in\"");
    app.review_bulk_products("change=price&percent=-150&scope=all").await.assert_contains("between -100 and 1000");

    // A product that sells between review and confirmation stops the change.
    let confirm = app.review_bulk_products("change=price&percent=5&scope=all").await;
    confirm.assert_contains("Change prices by +5%: 3 products?");
    sqlx::query("UPDATE products SET stock = stock - 1, version = version + 1 WHERE id = $1")
        .bind(mug)
        .execute(&app.pool)
        .await
        .unwrap();
    let again = app.confirm_bulk_products(&confirm).await;
    again.assert_contains(
        "Nothing was changed: the products changed since you reviewed them (3 match now; you confirmed 3).",
    );
    again.assert_contains("Change prices by +5%: 3 products?");
    assert_eq!(app.scalar_i64("SELECT sum(price_cents)::BIGINT FROM products").await, 5000 + 1100 + 275);
}
