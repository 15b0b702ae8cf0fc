//! Low stock: each product's reorder point, the dashboard and products list
//! showing what is at or below it with its pace of sale, and the signed
//! webhook sent (with retries) when a product crosses its reorder point.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use rocket::tokio::io::{AsyncReadExt, AsyncWriteExt};
use rocket::tokio::net::TcpListener;
use sha2::Sha256;

use crate::harness::{SqlOrder, TestApp};

/// A request the test's webhook received: its headers (lower-cased names) and body.
#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Reads one HTTP/1.1 request (headers, then a body of Content-Length).
async fn read_request(stream: &mut rocket::tokio::net::TcpStream) -> Option<Received> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize =
        headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    while raw.len() < head_end + length {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8_lossy(&raw[head_end..head_end + length]).to_string();
    Some(Received { headers, body })
}

/// A webhook that answers its first request 503 and records the others (answered 200).
async fn flaky_webhook() -> (u16, Arc<Mutex<Vec<Received>>>, Arc<Mutex<usize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let port = listener.local_addr().expect("its address").port();
    let recorded = Arc::new(Mutex::new(Vec::new()));
    let attempts = Arc::new(Mutex::new(0usize));
    let (rec, att) = (recorded.clone(), attempts.clone());
    rocket::tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let Some(request) = read_request(&mut stream).await else { continue };
            let first = {
                let mut n = att.lock().unwrap();
                *n += 1;
                *n == 1
            };
            let answer: &[u8] = if first {
                b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            } else {
                rec.lock().unwrap().push(request);
                b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            };
            let _ = stream.write_all(answer).await;
            let _ = stream.shutdown().await;
        }
    });
    (port, recorded, attempts)
}

#[rocket::async_test]
async fn crossing_the_reorder_point_sends_a_signed_webhook_retried_after_a_failure() {
    let (port, recorded, attempts) = flaky_webhook().await;
    let url = format!("http://127.0.0.1:{port}/stock");
    let app = TestApp::configured(
        false,
        &[
            ("jobs.workers", 1.into()),
            ("jobs.poll_seconds", 0.05.into()),
            ("alerts.webhook_url", url.into()),
            ("alerts.webhook_secret", "s3cret".into()),
            ("alerts.retry_seconds", 0.2.into()),
        ],
    )
    .await;
    let lamp = app.product("Desk Lamp", "LAMP", 5000, 10).await;
    let mug = app.product("Stoneware Mug", "MUG", 1000, 10).await;

    // Still above (mug), then across (lamp), then lower while already below (lamp).
    for (product, stock) in [(mug, 6), (lamp, 4), (lamp, 3)] {
        sqlx::query("UPDATE products SET stock = $2 WHERE id = $1")
            .bind(product)
            .bind(stock)
            .execute(&app.pool)
            .await
            .unwrap();
    }

    let started = Instant::now();
    while recorded.lock().unwrap().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(20), "no alert delivered");
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // One more moment for any alert that should not exist.
    rocket::tokio::time::sleep(Duration::from_millis(500)).await;
    let received = recorded.lock().unwrap().clone();
    assert_eq!(*attempts.lock().unwrap(), 2, "one failure, then one delivery");
    assert_eq!(received.len(), 1, "one crossing, one alert: {received:?}");
    let alert = &received[0];

    let body: serde_json::Value = serde_json::from_str(&alert.body).expect("a JSON body");
    assert_eq!(body["product_id"], lamp);
    assert_eq!(body["sku"], "LAMP");
    assert_eq!(body["name"], "Desk Lamp");
    assert_eq!(body["stock"], 4);
    assert_eq!(body["reorder_point"], 5);
    assert!(body["at"].as_str().is_some_and(|at| at.ends_with('Z')), "{body}");
    assert_eq!(alert.header("content-type"), Some("application/json"));
    let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
    mac.update(alert.body.as_bytes());
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(alert.header("x-shopdesk-signature"), Some(expected.as_str()));

    let (delivered, tries): (bool, i32) =
        sqlx::query_as("SELECT delivered_at IS NOT NULL, attempts FROM stock_alerts WHERE product_id = $1")
            .bind(lamp)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(delivered);
    assert_eq!(tries, 2);
}

#[rocket::async_test]
async fn the_dashboard_and_products_list_show_what_is_at_its_reorder_point_with_its_pace() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada", "ada@example.com").await;
    let lamp = app.product("Desk Lamp", "LAMP", 5000, 6).await;
    let mug = app.product("Stoneware Mug", "MUG", 1000, 40).await;
    let kettle = app.product("Gooseneck Kettle", "KETTLE", 3000, 3).await;

    // The lamp's reorder point is raised on its form; typed badly first.
    let form = app.get(&format!("/products/{lamp}/edit")).await;
    form.assert_contains("name=\"reorder_point\" value=\"5\"");
    let bad = app
        .post(
            &format!("/products/{lamp}"),
            &[
                ("name", "Desk Lamp"),
                ("sku", "LAMP"),
                ("price", "50.00"),
                ("stock", "6"),
                ("reorder_point", "-2"),
                ("version", "1"),
            ],
        )
        .await;
    bad.assert_contains("value=\"-2\"");
    assert_eq!(app.scalar_i64("SELECT reorder_point::BIGINT FROM products WHERE sku = 'LAMP'").await, 5);
    let saved = app
        .post(
            &format!("/products/{lamp}"),
            &[
                ("name", "Desk Lamp"),
                ("sku", "LAMP"),
                ("price", "50.00"),
                ("stock", "6"),
                ("reorder_point", "8"),
                ("version", "1"),
            ],
        )
        .await;
    assert_eq!(saved.status, rocket::http::Status::SeeOther, "{}", saved.body);
    assert_eq!(app.scalar_i64("SELECT reorder_point::BIGINT FROM products WHERE sku = 'LAMP'").await, 8);

    // Six lamps sold in the last 30 days (one order cancelled, one too old).
    let now = chrono::Utc::now();
    let line = |product, quantity, days_ago: i64| SqlOrder {
        customer: ada,
        product,
        quantity,
        unit_price_cents: None,
        placed_at: now - chrono::Duration::days(days_ago),
    };
    let orders =
        app.paid_orders_in_sql(&[line(lamp, 2, 1), line(lamp, 4, 10), line(lamp, 5, 3), line(lamp, 9, 45)]).await;
    sqlx::query("UPDATE orders SET status = 'cancelled' WHERE id = $1")
        .bind(orders[2])
        .execute(&app.pool)
        .await
        .unwrap();

    let page = app.get("/").await;
    let low = page.body.split("id=\"running-low\"").nth(1).unwrap().split("</section>").next().unwrap();
    assert!(low.contains("Desk Lamp") && low.contains("Gooseneck Kettle") && !low.contains("Stoneware Mug"), "{low}");
    assert!(low.contains("6 sold in 30 days · 30 days of stock at that pace"), "{low}");
    assert!(low.contains("6 left · reorder at 8"), "{low}");
    assert!(low.contains("0 sold in 30 days · no recent sales"), "{low}");
    assert!(low.contains("2 products at or below their reorder point"), "{low}");

    // A pace the background refresher kept is read as kept while it is fresh,
    // and summed again once it is older than ten minutes.
    sqlx::query("INSERT INTO product_pace (product_id, sold_30_days) VALUES ($1, 12)")
        .bind(lamp)
        .execute(&app.pool)
        .await
        .unwrap();
    let kept = app.get("/").await;
    kept.assert_contains("12 sold in 30 days");
    sqlx::query("UPDATE product_pace SET computed_at = now() - INTERVAL '11 minutes'")
        .execute(&app.pool)
        .await
        .unwrap();
    app.get("/").await.assert_contains("6 sold in 30 days");

    let list = app.get("/products?stock=reorder").await;
    assert_eq!(list.rows_linking_to("/products/"), 2, "the lamp and the kettle");
    list.assert_lacks("Stoneware Mug");
    let _ = (mug, kettle);
}
