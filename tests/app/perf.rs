//! What the speed work must not change: the dashboard's buckets, summed in
//! the database, hold exactly the days they cover and the same days of the
//! period before; a search answers the same rows in the same order whether
//! its matches are fetched first or found by walking the list; and the
//! pool's waits are counted for `/metrics`, and a page takes one pooled
//! connection, its session check included.

use chrono::{TimeZone, Utc};

use crate::harness::{Page, SqlOrder, TestApp};

fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).single().expect("a time")
}

fn paid(customer: i64, product: i64, quantity: i32, placed_at: chrono::DateTime<Utc>) -> SqlOrder {
    SqlOrder { customer, product, quantity, unit_price_cents: None, placed_at }
}

/// The trend table's row for `label`: its revenue and the previous period's.
fn trend_row(body: &str, label: &str) -> (String, String) {
    let marker = format!("<tr><td>{label}</td>");
    let row = body.split(&marker).nth(1).unwrap_or_else(|| panic!("no trend row {label}"));
    let row = row.split("</tr>").next().expect("the row's end");
    let cells: Vec<String> = row
        .split("<td class=\"num\">")
        .skip(1)
        .map(|c| c.split("</td>").next().unwrap_or_default().to_string())
        .collect();
    (cells[0].clone(), cells[1].clone())
}

#[rocket::async_test]
async fn weekly_buckets_hold_their_days_and_the_same_days_of_the_period_before() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let mug = app.product("Mug", "MUG", 1000, 1000).await;
    // 120 days from Wed Jan 1, 2025: weeks from Jan 1, the last one Apr 30
    // alone; the period before is the 120 days Sep 3 – Dec 31, 2024.
    app.paid_orders_in_sql(&[
        paid(ada, mug, 1, at(2025, 1, 7, 23, 30)),   // last minutes of the first week
        paid(ada, mug, 3, at(2025, 1, 8, 0, 30)),    // first minutes of the second
        paid(ada, mug, 4, at(2025, 4, 30, 12, 0)),   // the last bucket, one day
        paid(ada, mug, 2, at(2024, 9, 3, 0, 10)),    // first day of the period before
        paid(ada, mug, 5, at(2024, 12, 31, 23, 50)), // its last day
        paid(ada, mug, 7, at(2024, 9, 2, 23, 59)),   // before both periods
        paid(ada, mug, 9, at(2025, 5, 1, 0, 0)),     // after them
    ])
    .await;
    let page = app.get("/?period=custom&from=2025-01-01&to=2025-04-30").await;
    page.assert_contains("Revenue per week");
    assert_eq!(trend_row(&page.body, "Jan 1 – Jan 7, 2025"), ("$10.00".into(), "$20.00".into()));
    assert_eq!(trend_row(&page.body, "Jan 8 – Jan 14, 2025"), ("$30.00".into(), "$0.00".into()));
    assert_eq!(trend_row(&page.body, "Jan 15 – Jan 21, 2025"), ("$0.00".into(), "$0.00".into()));
    assert_eq!(trend_row(&page.body, "Apr 30, 2025"), ("$40.00".into(), "$50.00".into()));
    // 18 buckets (17 weeks and a day), each drawn once wide and once narrow.
    assert_eq!(page.body.matches("<rect class=\"current\"").count(), 2 * 18);
    assert_eq!(crate::dashboard::card(&page, "Revenue"), "$80.00");
    page.assert_contains("$70.00 in the previous period");
    assert_eq!(crate::dashboard::card(&page, "Units sold"), "8");
    // Tooltips and links once per bucket (the wide chart), the previous
    // period as one faint path per chart.
    page.assert_contains("<title>Jan 1 – Jan 7, 2025: $10.00 (previous period: $20.00)</title>");
    assert_eq!(page.body.matches("(previous period: ").count(), 18);
    assert_eq!(page.body.matches("<path class=\"previous\"").count(), 2);
}

/// The customers' names on a list page, in order.
fn names(body: &str) -> Vec<String> {
    body.split("<a href=\"/users/")
        .skip(1)
        .filter(|s| s.starts_with(|c: char| c.is_ascii_digit()))
        .filter_map(|s| s.split('>').nth(1))
        .filter_map(|s| s.split('<').next())
        .map(str::to_string)
        .filter(|s| !s.is_empty())
        .collect()
}

#[rocket::async_test]
async fn a_rare_and_a_common_search_list_the_same_rows_either_way_newest_first() {
    let app = TestApp::new().await;
    for n in 0..120 {
        let name = if n % 40 == 7 { format!("Zephyrine Rare {n:03}") } else { format!("Common Person {n:03}") };
        app.customer(&name, &format!("person{n:03}@example.com")).await;
    }
    // Statistics as a live shop has them, so the estimate is PostgreSQL's.
    sqlx::query("ANALYZE users").execute(&app.pool).await.expect("analyse");
    let rare = app.get("/users?q=zephyr").await;
    assert_eq!(names(&rare.body), ["Zephyrine Rare 087", "Zephyrine Rare 047", "Zephyrine Rare 007"]);
    let sorted = app.get("/users?q=ZEPHYR&sort=name&dir=asc").await;
    assert_eq!(names(&sorted.body), ["Zephyrine Rare 007", "Zephyrine Rare 047", "Zephyrine Rare 087"]);
    // A common term: a full page, then the rest after its cursor, newest first.
    let first = app.get("/users?q=common").await;
    let first_names = names(&first.body);
    assert_eq!(first_names.len(), 50, "{first_names:?}");
    assert_eq!(first_names[0], "Common Person 119");
    let next = first.link_before("rel=\"next\"").expect("a next page");
    let second = app.get(&next.replace("&amp;", "&").replace("&#38;", "&")).await;
    let second_names = names(&second.body);
    assert_eq!(second_names.first().map(String::as_str), Some("Common Person 068"), "{second_names:?}");
}

#[test]
fn the_matches_come_first_only_when_walking_would_read_more() {
    use shopdesk::db::users::matches_first;
    // 100,000 customers, a page of 51: a walk reads about 51 × 100,000 ÷ m rows.
    assert!(matches_first(300, Some(100_000), 51));
    assert!(matches_first(2_000, Some(100_000), 51));
    // "nguyen": estimated 3,073 matches (2,514 real), faster walked.
    assert!(!matches_first(3_073, Some(100_000), 51));
    assert!(!matches_first(20_000, Some(100_000), 51));
    assert!(!matches_first(100_000, Some(100_000), 51));
    // A table never analysed: only a term expected to match under a page or two.
    assert!(matches_first(50, None, 51));
    assert!(!matches_first(500, None, 51));
}

/// One of `/metrics`' figures.
fn metric(metrics: &Page, name: &str) -> f64 {
    metrics
        .body
        .lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {}", metrics.body))
}

#[rocket::async_test]
async fn metrics_say_how_long_requests_waited_for_a_connection() {
    let app = TestApp::new().await;
    for _ in 0..3 {
        app.get("/users").await;
    }
    let metrics = app.metrics().await;
    assert!(metric(&metrics, "shopdesk_db_pool_acquired") >= 3.0);
    assert!(metric(&metrics, "shopdesk_db_pool_wait_seconds") >= 0.0);
    assert_eq!(metric(&metrics, "shopdesk_db_pool_slow_waits"), 0.0);
    assert!(metric(&metrics, "shopdesk_db_pool_longest_wait_seconds") < 5.0);
}

#[rocket::async_test]
async fn a_page_checks_its_session_on_its_own_connection() {
    let app = TestApp::new().await;
    let customer = app.customer("Ada Lovelace", "ada@example.com").await;
    let product = app.product("Gooseneck Kettle", "KET-1", 4_900, 10).await;
    let order = app.place_order(customer, &[(product, 2)]).await;
    let acquired = |page: &Page| metric(page, "shopdesk_db_pool_acquired");
    // What asking for the figures takes by itself.
    let (first, second) = (app.metrics().await, app.metrics().await);
    let by_metrics = acquired(&second) - acquired(&first);

    let pages = [
        "/users".to_string(),
        format!("/users/{customer}"),
        format!("/orders/{order}"),
        format!("/orders/{order}/edit"),
        "/orders".to_string(),
        format!("/products/{product}"),
        "/staff".to_string(),
    ];
    for path in &pages {
        let page = app.get(path).await;
        assert_eq!(page.status, rocket::http::Status::Ok, "{path}: {}", page.body);
    }
    let after = app.metrics().await;
    assert_eq!(
        acquired(&after) - acquired(&second) - by_metrics,
        pages.len() as f64,
        "each page, session check included, takes one pooled connection"
    );

    // Signed out, the pages answer with the sign-in page and take none.
    app.sign_out().await;
    let after = app.metrics().await;
    for path in &pages {
        let page = app.get(path).await;
        assert_eq!(page.status, rocket::http::Status::SeeOther, "{path}: {}", page.body);
        assert!(page.location.as_deref().is_some_and(|to| to.starts_with("/sign-in")), "{path}: {:?}", page.location);
    }
    let signed_out = app.metrics().await;
    assert_eq!(acquired(&signed_out) - acquired(&after) - by_metrics, 0.0, "signed out, a page takes no connection");
}
