//! Products: list, search, view, create, edit and delete, through HTTP.

use crate::harness::TestApp;
use rocket::http::Status;

#[rocket::async_test]
async fn a_new_product_is_created_with_its_price_in_cents() {
    let app = TestApp::new().await;
    let page = app.create_product("Stoneware Mug", "MUG-350", "$1,234.5", "12").await;
    page.assert_contains("Product Stoneware Mug created.");
    page.assert_contains("$1,234.50");
    let row: (String, String, i64, i32) =
        sqlx::query_as("SELECT name, sku, price_cents, stock FROM products").fetch_one(&app.pool).await.unwrap();
    assert_eq!(row, ("Stoneware Mug".into(), "MUG-350".into(), 123450, 12));
    app.get("/products").await.assert_contains("Stoneware Mug");
}

#[rocket::async_test]
async fn negative_and_malformed_numbers_are_refused_next_to_their_fields() {
    let app = TestApp::new().await;
    let page = app.post_new_product("Mug", "MUG", "-3", "-1").await;
    assert_eq!(page.status, Status::Ok);
    page.assert_contains("The price can&#39;t be negative.");
    page.assert_contains("The stock can&#39;t be negative.");
    page.assert_contains("value=\"-3\"");
    page.assert_contains("value=\"-1\"");

    let page = app.post_new_product("Mug", "MUG", "twelve", "1.5").await;
    page.assert_contains("Enter a price as a number");
    page.assert_contains("Enter the stock as a whole number");

    let page = app.post_new_product("Mug", "MUG", "99999999999999999999", "99999999999999999999").await;
    page.assert_contains("That price is too large");
    page.assert_contains("The stock can be at most");

    let page = app.post_new_product("", "", "", "").await;
    page.assert_contains("Enter a product name.");
    page.assert_contains("Enter a SKU.");
    page.assert_contains("Enter a price");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM products").await, 0);
}

#[rocket::async_test]
async fn a_duplicate_sku_in_any_letter_case_is_refused() {
    let app = TestApp::new().await;
    app.product("Mug", "MUG-350", 1000, 1).await;
    let page = app.post_new_product("Other mug", "mug-350", "10", "1").await;
    assert_eq!(page.status, Status::Ok);
    page.assert_contains("Another product already uses this SKU");
    page.assert_contains("value=\"Other mug\"");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM products").await, 1);
}

#[rocket::async_test]
async fn editing_a_product_saves_and_keeps_history_prices() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada", "ada@example.com").await;
    let id = app.product("Mug", "MUG", 1000, 10).await;
    app.place_order(ada, &[(id, 2)]).await;
    // The order took stock, so the product is at version 2.
    let form = app.get(&format!("/products/{id}/edit")).await;
    form.assert_contains("value=\"10.00\"");
    form.assert_contains("value=\"8\"");
    form.assert_contains("name=\"version\" value=\"2\"");
    let page = app.edit_product(id, "Big Mug", "MUG", "15", "8", 2).await;
    page.assert_contains("Product Big Mug saved.");
    page.assert_contains("$15.00");
    let paid: i64 = sqlx::query_scalar("SELECT unit_price_cents FROM order_items").fetch_one(&app.pool).await.unwrap();
    assert_eq!(paid, 1000, "a price change never rewrites what was paid");
}

#[rocket::async_test]
async fn a_stale_product_edit_shows_both_versions() {
    let app = TestApp::new().await;
    let id = app.product("Mug", "MUG", 1000, 10).await;
    app.edit_product(id, "Mug", "MUG", "11", "10", 1).await;
    let page = app.post_product_edit(id, "Mug", "MUG", "9", "10", 1).await;
    assert_eq!(page.status, Status::Ok);
    page.assert_contains("Someone else changed this product");
    page.assert_contains("$11.00");
    page.assert_contains("value=\"9\"");
    let price: i64 = sqlx::query_scalar("SELECT price_cents FROM products").fetch_one(&app.pool).await.unwrap();
    assert_eq!(price, 1100);
}

#[rocket::async_test]
async fn search_finds_by_name_or_sku() {
    let app = TestApp::new().await;
    app.product("Stoneware Mug", "MUG-350", 1000, 1).await;
    app.product("Burr Grinder", "GRND-02", 9000, 1).await;
    let page = app.get("/products?q=grnd").await;
    page.assert_contains("Burr Grinder");
    page.assert_lacks("Stoneware Mug");
    let page = app.get("/products?q=stoneware").await;
    page.assert_contains("Stoneware Mug");
    page.assert_lacks("Burr Grinder");
}

#[rocket::async_test]
async fn a_product_on_an_order_cannot_be_deleted() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada", "ada@example.com").await;
    let id = app.product("Mug", "MUG", 1000, 10).await;
    app.place_order_with_status(ada, "cancelled", &[(id, 1)]).await;
    let confirm = app.get(&format!("/products/{id}/delete")).await;
    confirm.assert_contains("Mug can't be deleted: it appears on <strong>1 order</strong>");
    let page = app.delete_product(id, 1).await;
    page.assert_contains("Mug can&#39;t be deleted: it appears on 1 order");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM products").await, 1);
}

#[rocket::async_test]
async fn deleting_a_product_asks_first_then_removes_it() {
    let app = TestApp::new().await;
    let id = app.product("Mug", "MUG", 1000, 10).await;
    let confirm = app.get(&format!("/products/{id}/delete")).await;
    confirm.assert_contains("Delete Mug?");
    confirm.assert_contains("Delete product");
    let page = app.delete_product(id, 1).await;
    page.assert_contains("Product Mug deleted.");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM products").await, 0);
}

#[rocket::async_test]
async fn a_product_page_shows_price_stock_and_sales() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada", "ada@example.com").await;
    let id = app.product("Mug", "MUG", 1250, 4).await;
    app.place_order(ada, &[(id, 3)]).await;
    let page = app.get(&format!("/products/{id}")).await;
    page.assert_contains("$12.50");
    page.assert_contains("Running low");
    page.assert_contains("$37.50");
    assert_eq!(app.get("/products/0").await.status, Status::NotFound);
}

#[rocket::async_test]
async fn the_list_shows_each_products_reorder_point_and_pace_of_the_last_30_days() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let mug = app.product("Stoneware Mug", "MUG", 1000, 40).await;
    app.product("Dinner Plate", "PLATE", 1500, 3).await;
    sqlx::query("UPDATE products SET reorder_point = CASE WHEN id = $1 THEN 8 ELSE 5 END")
        .bind(mug)
        .execute(&app.pool)
        .await
        .expect("reorder points set");
    // In the last 30 days: 3 paid and 2 pending mugs count; 4 on a cancelled
    // order do not, nor do 6 on an order placed 40 days ago.
    app.place_order_with_status(ada, "paid", &[(mug, 3)]).await;
    app.place_order_with_status(ada, "pending", &[(mug, 2)]).await;
    app.place_order_with_status(ada, "cancelled", &[(mug, 4)]).await;
    let old = app.place_order_with_status(ada, "shipped", &[(mug, 6)]).await;
    sqlx::query("UPDATE orders SET placed_at = now() - INTERVAL '40 days' WHERE id = $1")
        .bind(old)
        .execute(&app.pool)
        .await
        .expect("backdated");
    assert_eq!(app.stock_of(mug).await, 29);

    let page = app.get("/products?sort=name&dir=asc").await;
    page.assert_contains("Sold in 30 days");
    let rows = page.rows_after("<table");
    let row_of = |name: &str| rows.iter().find(|r| r.iter().any(|c| c == name)).cloned().expect(name);
    // Name, SKU, price, stock, units sold, reorder at, sold in 30 days, days left:
    // 29 mugs last 29 * 30 / 5 = 174 days at 5 a month.
    let mug_row = row_of("Stoneware Mug");
    assert_eq!(mug_row[mug_row.len() - 5..], ["29", "11", "8", "5", "174"], "{mug_row:?}");
    // 3 plates, at or below their reorder point of 5, none sold.
    let plate_row = row_of("Dinner Plate");
    assert_eq!(plate_row[plate_row.len() - 3..], ["5 Reorder", "0", "—"], "{plate_row:?}");

    // The refresher keeps every product's pace, which the list then reads
    // instead of summing it: an order placed since shows at its next pass.
    shopdesk::db::calendar::keep_every_pace(&app.pool).await.expect("pace kept");
    app.place_order_with_status(ada, "paid", &[(mug, 1)]).await;
    let kept = app.get("/products?sort=name&dir=asc").await.rows_after("<table");
    let mug_row = kept.iter().find(|r| r.iter().any(|c| c == "Stoneware Mug")).cloned().expect("mug");
    assert_eq!(mug_row[mug_row.len() - 5..], ["28", "12", "8", "5", "168"], "{mug_row:?}");
    shopdesk::db::calendar::keep_every_pace(&app.pool).await.expect("pace kept");
    let kept = app.get("/products?sort=name&dir=asc").await.rows_after("<table");
    let mug_row = kept.iter().find(|r| r.iter().any(|c| c == "Stoneware Mug")).cloned().expect("mug");
    assert_eq!(mug_row[mug_row.len() - 5..], ["28", "12", "8", "6", "140"], "{mug_row:?}");

    // The filter keeps only the products at or below their reorder point.
    let low = app.get("/products?stock=reorder").await;
    low.assert_contains("Dinner Plate");
    low.assert_lacks("Stoneware Mug");
}
