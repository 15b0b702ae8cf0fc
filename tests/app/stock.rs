//! Stock integrity under concurrency: many orders at once for products with
//! little stock never oversell, and every unit is accounted for.

use crate::harness::TestApp;
use rocket::http::{ContentType, Status};

#[rocket::async_test]
async fn two_hundred_concurrent_orders_never_oversell() {
    let app = TestApp::new().await;
    let mut customers = Vec::new();
    for n in 0..10 {
        customers.push(app.user(&format!("C{n}"), &format!("c{n}@example.com")).await);
    }
    let start = [(app.product("Scarce A", "A", 100, 40).await, 40), (app.product("Scarce B", "B", 200, 25).await, 25)];
    let token = app.csrf();
    let app = &app;
    let submissions = (0..200usize).map(|n| {
        let (a, b) = (start[0].0, start[1].0);
        let mut fields = vec![
            ("csrf".to_string(), token.clone()),
            ("user_id".to_string(), customers[n % customers.len()].to_string()),
            ("status".to_string(), if n % 7 == 0 { "paid" } else { "pending" }.to_string()),
            ("lines[0].product_id".to_string(), a.to_string()),
            ("lines[0].quantity".to_string(), (1 + n % 3).to_string()),
        ];
        if n % 2 == 0 {
            fields.push(("lines[1].product_id".to_string(), b.to_string()));
            fields.push(("lines[1].quantity".to_string(), "1".to_string()));
        }
        let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let body = crate::harness::encode_form(&borrowed);
        async move {
            let response = app.client.post("/orders").header(ContentType::Form).body(body).dispatch().await;
            let status = response.status();
            let page = response.into_string().await.unwrap_or_default();
            (status, page)
        }
    });
    let results = futures::future::join_all(submissions).await;
    let placed = results.iter().filter(|(s, _)| *s == Status::SeeOther).count();
    let refused: Vec<&String> = results.iter().filter(|(s, _)| *s == Status::Ok).map(|(_, p)| p).collect();
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
    let mut conn = app.pool.acquire().await.unwrap();
    assert!(shopdesk::db::stats::verify(&mut conn).await.unwrap().is_empty());
}
