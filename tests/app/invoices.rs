//! Invoices and packing slips: the shop's details from the config, invoice
//! numbers from a gap-free sequence (also when many are issued at once),
//! and packing slips, one order or a batch.

use crate::harness::TestApp;
use rocket::http::Status;

async fn shop_app() -> TestApp {
    let shop = serde_json::json!({
        "name": "Corner Coffee Ltd",
        "address": ["12 Bean Street", "Portland, OR 97201"],
        "tax_rate_percent": 20.0,
        "invoice_prefix": "CC-",
    });
    let app = TestApp::configured(false, &[("shop", shop)]).await;
    app.sign_in_as("admin@test.example", "admin").await;
    app
}

#[rocket::async_test]
async fn an_invoice_shows_the_shop_the_customer_lines_tax_refunds_and_keeps_its_number() {
    let app = shop_app().await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let mug = app.product("Stoneware Mug", "MUG", 1000, 10).await;
    let beans = app.product("Coffee Beans", "BEANS", 2500, 5).await;
    let order = app.place_order_with_status(ada, "paid", &[(mug, 3), (beans, 2)]).await;
    let other = app.place_order_with_status(ada, "shipped", &[(mug, 1)]).await;

    let page = app.get(&format!("/orders/{order}")).await;
    page.assert_contains(&format!("href=\"/orders/{order}/invoice\""));
    page.assert_contains(&format!("href=\"/orders/{order}/packing-slip\""));

    let invoice = app.get(&format!("/orders/{order}/invoice")).await;
    assert_eq!(invoice.status, Status::Ok);
    invoice.assert_contains("Corner Coffee Ltd");
    invoice.assert_contains("12 Bean Street");
    invoice.assert_contains("Portland, OR 97201");
    invoice.assert_contains("CC-000001");
    invoice.assert_contains("Ada Lovelace");
    invoice.assert_contains("Stoneware Mug");
    invoice.assert_contains("$80.00");
    // 20% included in $80.00 is $13.33.
    invoice.assert_contains("Of which tax (20%, included in the prices)");
    invoice.assert_contains("$13.33");
    invoice.assert_contains("Save as PDF");
    invoice.assert_contains("/static/print.css");
    invoice.assert_lacks("class=\"nav-links");

    // The other order gets the next number; opening the first again keeps its own.
    app.get(&format!("/orders/{other}/invoice")).await.assert_contains("CC-000002");
    app.get(&format!("/orders/{order}/invoice")).await.assert_contains("CC-000001");
    assert_eq!(app.scalar_i64("SELECT next FROM invoice_counter").await, 3);

    // A refund shows on the invoice, with the net total and its tax.
    let posted = app
        .post(
            &format!("/orders/{order}/refund"),
            &[
                ("lines[0].product_id", &mug.to_string()),
                ("lines[0].quantity", "1"),
                ("lines[0].restock", "true"),
                ("extra", ""),
                ("reason", "Chipped"),
            ],
        )
        .await;
    assert_eq!(posted.status, Status::SeeOther, "{}", posted.body);
    let invoice = app.get(&format!("/orders/{order}/invoice")).await;
    invoice.assert_contains("CC-000001");
    invoice.assert_contains("1 × Stoneware Mug (restocked)");
    invoice.assert_contains("−$10.00");
    invoice.assert_contains("$70.00");
    invoice.assert_contains("$11.67");

    // The packing slip: lines and quantities still to ship, no prices.
    let slip = app.get(&format!("/orders/{order}/packing-slip")).await;
    assert_eq!(slip.status, Status::Ok);
    slip.assert_contains("Packing slip");
    slip.assert_contains("Coffee Beans");
    slip.assert_contains("<td class=\"num\">2</td>");
    slip.assert_lacks("$");
    assert_eq!(app.get("/orders/999999/invoice").await.status, Status::NotFound);
    assert_eq!(app.get("/orders/999999/packing-slip").await.status, Status::NotFound);
}

#[rocket::async_test]
async fn invoice_numbers_issued_at_once_have_no_gaps_and_no_duplicates() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let mug = app.product("Stoneware Mug", "MUG", 1000, 1000).await;
    let mut orders = Vec::new();
    for _ in 0..24 {
        orders.push(app.place_order_with_status(ada, "paid", &[(mug, 1)]).await);
    }
    // Every invoice opened three times at once, all 72 views together.
    let paths: Vec<String> = orders.iter().flat_map(|id| vec![format!("/orders/{id}/invoice"); 3]).collect();
    let pages = futures::future::join_all(paths.iter().map(|p| app.get(p))).await;
    assert!(pages.iter().all(|p| p.status == Status::Ok));
    let numbers: Vec<i64> =
        sqlx::query_scalar("SELECT number FROM invoices ORDER BY number").fetch_all(&app.pool).await.unwrap();
    assert_eq!(numbers, (1..=24).collect::<Vec<i64>>(), "one number per order, 1 to 24");
    assert_eq!(app.scalar_i64("SELECT next FROM invoice_counter").await, 25);
    // Each order's three views showed the same number.
    for (id, chunk) in orders.iter().zip(pages.chunks(3)) {
        let number: i64 = sqlx::query_scalar("SELECT number FROM invoices WHERE order_id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        for page in chunk {
            page.assert_contains(&format!("INV-{number:06}"));
        }
    }
}

#[rocket::async_test]
async fn the_ticked_orders_packing_slips_print_as_one_document() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let bob = app.customer("Bob Builder", "bob@example.com").await;
    let mug = app.product("Stoneware Mug", "MUG", 1000, 100).await;
    let beans = app.product("Coffee Beans", "BEANS", 2500, 100).await;
    let first = app.place_order_with_status(ada, "paid", &[(mug, 2)]).await;
    let second = app.place_order_with_status(bob, "paid", &[(beans, 5), (mug, 1)]).await;

    let list = app.get("/orders").await;
    list.assert_contains("formaction=\"/orders/packing-slips\"");

    let slips = app.get(&format!("/orders/packing-slips?scope=selected&action=&ids={second}&ids={first}")).await;
    assert_eq!(slips.status, Status::Ok);
    assert_eq!(slips.body.matches("<article class=\"sheet slip\">").count(), 2);
    let (at_second, at_first) = (slips.body.find("Bob Builder").unwrap(), slips.body.find("Ada Lovelace").unwrap());
    assert!(at_second < at_first, "in the order ticked");
    slips.assert_lacks("$");

    let none = app.get("/orders/packing-slips?scope=selected&action=").await;
    assert_eq!(none.status, Status::Ok);
    none.assert_contains("No orders were ticked");

    let many: String = (1..=230).map(|i| format!("ids={i}&")).collect();
    let capped = app.get(&format!("/orders/packing-slips?{many}")).await;
    capped.assert_contains("Only the first 200 of the 230 ticked orders are printed here");
}
