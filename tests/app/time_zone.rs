//! The shop's time zone: times are shown in it, and days and months (the
//! kept figures, the date filters, the periods) are counted in it.

use chrono::{TimeZone, Utc};
use rocket::http::Status;

use crate::harness::{figment, SqlOrder, TestApp};

async fn berlin_shop() -> TestApp {
    let app = TestApp::configured(false, &[("time_zone", "Europe/Berlin".into())]).await;
    app.sign_in_as("admin@test.example", "admin").await;
    app
}

#[rocket::async_test]
async fn an_order_at_half_past_eleven_on_the_last_evening_of_a_month_counts_in_that_month() {
    let app = berlin_shop().await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let mug = app.product("Mug", "MUG", 1000, 100).await;
    // 23:30 in Berlin on January 31 is 22:30 UTC; 00:30 on February 1 is
    // still January 31 (23:30) in UTC.
    let late = Utc.with_ymd_and_hms(2026, 1, 31, 22, 30, 0).unwrap();
    let early = Utc.with_ymd_and_hms(2026, 1, 31, 23, 30, 0).unwrap();
    let ids = app
        .paid_orders_in_sql(&[
            SqlOrder { customer: ada, product: mug, quantity: 1, unit_price_cents: None, placed_at: late },
            SqlOrder { customer: ada, product: mug, quantity: 2, unit_price_cents: None, placed_at: early },
        ])
        .await;
    let months = app.get("/reports/revenue-by-month.csv").await;
    assert_eq!(months.status, Status::Ok);
    assert!(months.body.contains("2026-01,1,10.00"), "{}", months.body);
    assert!(months.body.contains("2026-02,1,20.00"), "{}", months.body);
    let kept: i64 = app.scalar_i64("SELECT order_count FROM monthly_revenue WHERE month = '2026-01-01'").await;
    assert_eq!(kept, 1);

    // Shown in Berlin time, the zone named once in the footer.
    let order = app.get(&format!("/orders/{}", ids[0])).await;
    order.assert_contains("Placed Jan 31, 2026 23:30");
    order.assert_lacks("UTC");
    order.assert_contains("times in Europe/Berlin");
    let list = app.get("/orders").await;
    list.assert_contains("Feb 1, 2026 00:30");

    // Date filters and periods count Berlin days.
    let february = app.get("/orders?from=2026-02-01&to=2026-02-01").await;
    assert_eq!(february.rows_linking_to("/orders/"), 1, "{}", february.body);
    february.assert_contains(&format!("href=\"/orders/{}\"", ids[1]));
    let january = app.get("/?period=custom&from=2026-01-31&to=2026-01-31").await;
    assert_eq!(crate::dashboard::card(&january, "Revenue"), "$10.00");
    let reports = app.get("/reports?period=custom&from=2026-02-01&to=2026-02-28").await;
    reports.assert_contains("February 2026");
    reports.assert_lacks("January 2026");
    app.assert_figures_exact().await;

    // The same shop started in UTC counts both orders in January, its
    // figures recomputed at start-up.
    let utc = app.second_app(&[("time_zone", "UTC".into())]).await;
    utc.sign_in_as("admin2@test.example", "admin").await;
    let months = utc.get("/reports/revenue-by-month.csv").await;
    assert!(months.body.contains("2026-01,2,30.00"), "{}", months.body);
    assert!(!months.body.contains("2026-02"), "{}", months.body);
    utc.get(&format!("/orders/{}", ids[0])).await.assert_contains("Placed Jan 31, 2026 22:30");
    app.assert_figures_exact().await;
}

#[rocket::async_test]
async fn a_shop_without_a_zone_counts_in_utc_and_an_unknown_zone_stops_the_start() {
    let app = TestApp::new().await;
    app.get("/").await.assert_contains("times in UTC");
    let zone: String = sqlx::query_scalar("SELECT shop_time_zone()").fetch_one(&app.pool).await.unwrap();
    assert_eq!(zone, "UTC");

    let wrong = figment(&app.url).merge(rocket::figment::providers::Serialized::global("time_zone", "Mars/Olympus"));
    let started = rocket::local::asynchronous::Client::tracked(shopdesk::build_rocket(wrong)).await;
    match started {
        Ok(_) => panic!("an unknown time zone must stop the start"),
        Err(e) => assert!(matches!(e.kind(), rocket::error::ErrorKind::FailedFairings(_)), "{e:?}"),
    }
    assert_eq!(
        shopdesk::shop_zone(&figment(&app.url).merge(rocket::figment::providers::Serialized::global("time_zone", "Mars/Olympus")))
            .err()
            .as_deref(),
        Some("time_zone = \"Mars/Olympus\" is not a time zone name; use an IANA name such as \"Europe/Berlin\" or \"UTC\"")
    );
}
