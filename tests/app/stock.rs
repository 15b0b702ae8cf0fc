//! Stock integrity under concurrency: many orders at once for products with
//! little stock never oversell, and every unit is accounted for.

use crate::harness::{OrderForm, TestApp};
use rocket::http::Status;

#[rocket::async_test]
async fn two_hundred_concurrent_orders_never_oversell() {
    let app = TestApp::new().await;
    let customers = app.numbered_customers(10).await;
    let start = [(app.product("Scarce A", "A", 100, 40).await, 40), (app.product("Scarce B", "B", 200, 25).await, 25)];
    let (a, b) = (start[0].0, start[1].0);
    let forms: Vec<OrderForm> = (0..200usize)
        .map(|n| {
            let status = if n % 7 == 0 { "paid" } else { "pending" };
            let form = OrderForm::for_customer(customers[n % customers.len()]).status(status).line(a, 1 + n % 3);
            if n % 2 == 0 {
                form.line(b, 1)
            } else {
                form
            }
        })
        .collect();
    let results = futures::future::join_all(forms.iter().map(|form| app.post_order(form))).await;
    let placed = results.iter().filter(|page| page.status == Status::SeeOther).count();
    let refused: Vec<&String> =
        results.iter().filter(|page| page.status == Status::Ok).map(|page| &page.body).collect();
    assert_eq!(placed + refused.len(), 200, "every submission was answered with a redirect or the form");
    assert!(placed > 0 && !refused.is_empty(), "{placed} placed, {} refused", refused.len());
    for page in &refused {
        assert!(page.contains("Not enough Scarce"), "a refusal names the product");
    }

    for (product, initial) in start {
        let (stock, sold): (i32, i64) = sqlx::query_as(
            "SELECT p.stock, coalesce((SELECT sum(quantity) FROM order_items WHERE product_id = p.id), 0)::BIGINT
               FROM products p WHERE p.id = $1",
        )
        .bind(product)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert!(stock >= 0);
        assert_eq!(i64::from(stock) + sold, i64::from(initial), "sold + remaining = starting stock");
    }
    assert_eq!(app.scalar_i64("SELECT count(*) FROM orders").await, placed as i64);
    app.assert_figures_exact().await;
}
