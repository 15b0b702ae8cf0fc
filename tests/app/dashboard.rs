//! The dashboard: a period's figures against the period before, checked
//! against what the orders add up to in SQL, the lists behind each figure,
//! the leading products and customers, and the period picker's mistakes.

use chrono::{Duration, Utc};
use rocket::http::Status;

use crate::harness::{Page, SqlOrder, TestApp};

/// The value shown on the card labelled `label`.
pub fn card(page: &Page, label: &str) -> String {
    let marker = format!("<span class=\"card-label\">{label}</span>");
    let after = page.body.split(&marker).nth(1).unwrap_or_else(|| panic!("no {label} card in {}", page.body));
    let value = after.split("<span class=\"card-value\">").nth(1).expect("a value");
    value.split("</span>").next().expect("the value's end").to_string()
}

/// The whole card labelled `label`, from its link to its end.
fn card_html(page: &Page, label: &str) -> String {
    let marker = format!("<span class=\"card-label\">{label}</span>");
    let at = page.body.find(&marker).expect("the card");
    let start = page.body[..at].rfind("<a class=\"card\"").expect("the card's link");
    let end = page.body[at..].find("</a>").expect("the card's end");
    page.body[start..at + end].to_string()
}

fn one(customer: i64, product: i64, quantity: i32, days_ago: i64) -> SqlOrder {
    SqlOrder { customer, product, quantity, unit_price_cents: None, placed_at: Utc::now() - Duration::days(days_ago) }
}

fn href_of(html: &str) -> String {
    html.split("href=\"")
        .nth(1)
        .and_then(|h| h.split('"').next())
        .expect("a link")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

#[rocket::async_test]
async fn the_dashboard_compares_the_period_with_the_one_before_and_links_to_the_orders_behind() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let bob = app.customer("Bob Builder", "bob@example.com").await;
    let kettle = app.product("Gooseneck Kettle", "KET", 1000, 3).await;
    let tea = app.product("Green Tea", "TEA", 250, 100).await;
    // This period (the last 30 days): Ada 2 kettles, Bob 4 teas, and a
    // cancelled order; the period before: Ada 1 kettle.
    let ids = app
        .paid_orders_in_sql(&[
            one(ada, kettle, 2, 10),
            one(bob, tea, 4, 2),
            one(ada, kettle, 1, 45),
            one(bob, kettle, 9, 3),
        ])
        .await;
    sqlx::query("UPDATE orders SET status = 'cancelled' WHERE id = $1").bind(ids[3]).execute(&app.pool).await.unwrap();

    let page = app.get("/?period=30d").await;
    assert_eq!(page.status, Status::Ok);
    // The figures, and the same figures added up from the orders in SQL.
    let revenue: i64 = sqlx::query_scalar(
        "SELECT sum(total_cents)::BIGINT FROM orders
          WHERE status <> 'cancelled' AND placed_at >= (current_date - 29)::TIMESTAMP AT TIME ZONE 'UTC'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(revenue, 3000);
    assert_eq!(card(&page, "Revenue"), "$30.00");
    assert_eq!(card(&page, "Orders"), "2");
    assert_eq!(card(&page, "Average order"), "$15.00");
    assert_eq!(card(&page, "Units sold"), "6");
    assert_eq!(card(&page, "New customers"), "2");
    // Against the period before: $10.00, 1 order, 1 unit, no new customers.
    let revenue_card = card_html(&page, "Revenue");
    assert!(revenue_card.contains("▲</span> 200%"), "{revenue_card}");
    assert!(revenue_card.contains("title=\"Previous period: $10.00\""), "{revenue_card}");
    assert!(revenue_card.contains("$10.00 in the previous period"), "{revenue_card}");
    assert!(card_html(&page, "Units sold").contains("500%"));
    assert!(card_html(&page, "Average order").contains("▲</span> 50%"), "$15 against $10");
    let newcomers = card_html(&page, "New customers");
    assert!(newcomers.contains(">new</span>") && !newcomers.contains('∞'), "{newcomers}");
    assert!(revenue_card.contains("<svg class=\"spark\""), "a sparkline");

    // The revenue card links to the orders list filtered to the same days.
    let today = Utc::now().date_naive();
    let from = today - Duration::days(29);
    let link = href_of(&revenue_card);
    assert!(link.contains(&format!("from={from}")) && link.contains(&format!("to={today}")), "{link}");
    assert!(link.contains("status=active"), "{link}");
    let orders = app.get(&link).await;
    for (id, listed) in ids.iter().zip([true, true, false, false]) {
        let shown = orders.body.contains(&format!("href=\"/orders/{id}\""));
        assert_eq!(shown, listed, "order {id} in the list behind the card: {link}");
    }
    let newcomers = app.get(&href_of(&newcomers)).await;
    assert_eq!(newcomers.rows_linking_to("/users/"), 2);

    // Top products by units (4 teas, then 2 kettles), top customers by revenue.
    let products = page.body.split("id=\"top-products\"").nth(1).unwrap().split("</section>").next().unwrap();
    assert!(products.find("Green Tea").unwrap() < products.find("Gooseneck Kettle").unwrap(), "{products}");
    assert!(products.contains("4 sold · $10.00"));
    let customers = page.body.split("id=\"top-customers\"").nth(1).unwrap().split("</section>").next().unwrap();
    assert!(customers.find("Ada Lovelace").unwrap() < customers.find("Bob Builder").unwrap(), "{customers}");
    // Running low: the kettle, 3 left.
    let low = page.body.split("id=\"running-low\"").nth(1).unwrap().split("</section>").next().unwrap();
    assert!(low.contains("Gooseneck Kettle") && low.contains("3 left") && !low.contains("Green Tea"), "{low}");

    // A new order in the period changes the leaders at once.
    app.paid_orders_in_sql(&[one(bob, kettle, 5, 1)]).await;
    let again = app.get("/?period=30d").await;
    let products = again.body.split("id=\"top-products\"").nth(1).unwrap().split("</section>").next().unwrap();
    assert!(products.find("Gooseneck Kettle").unwrap() < products.find("Green Tea").unwrap(), "{products}");
    assert!(products.contains("7 sold · $70.00"), "{products}");
    let customers = again.body.split("id=\"top-customers\"").nth(1).unwrap().split("</section>").next().unwrap();
    assert!(customers.find("Bob Builder").unwrap() < customers.find("Ada Lovelace").unwrap(), "{customers}");
    assert_eq!(card(&again, "Revenue"), "$80.00");
    app.assert_figures_exact().await;
}

#[rocket::async_test]
async fn the_trend_draws_each_bucket_with_the_previous_period_behind_and_a_table() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let mug = app.product("Mug", "MUG", 1234, 100).await;
    app.paid_orders_in_sql(&[one(ada, mug, 1, 0), one(ada, mug, 2, 7)]).await;
    // 7 days: one bar per day.
    let week = app.get("/?period=7d").await;
    assert_eq!(week.body.matches("<rect class=\"current\"").count(), 2 * 7, "7 days, wide and narrow");
    week.assert_contains("Revenue per day");
    let today = Utc::now().date_naive();
    // Today, against the same day of the week before (the previous period).
    week.assert_contains(&format!(
        "<title>{}: $12.34 (previous period: $24.68)</title>",
        today.format("%a %b %-d, %Y")
    ));
    // The data table behind a disclosure.
    week.assert_contains("<summary>Revenue per day as a table</summary>");
    week.assert_contains(&format!(
        "<td>{}</td><td class=\"num\">$12.34</td><td class=\"num\">$24.68</td>",
        today.format("%a %b %-d, %Y")
    ));
    // A year: weeks; longer: months.
    let year = app.get("/?period=custom&from=2025-01-01&to=2025-12-31").await;
    year.assert_contains("Revenue per week");
    let long = app.get("/?period=custom&from=2023-01-01&to=2025-12-31").await;
    long.assert_contains("Revenue per month");
    assert_eq!(long.body.matches("<rect class=\"current\"").count(), 2 * 36);
    for page in [&week, &year, &long] {
        page.assert_lacks("style=");
    }
}

#[rocket::async_test]
async fn an_empty_shop_and_wrong_dates_are_shown_as_such() {
    let app = TestApp::new().await;
    let page = app.get("/").await;
    assert_eq!(page.status, Status::Ok);
    page.assert_contains("No orders yet.");
    assert_eq!(card(&page, "Revenue"), "$0.00");
    assert!(card_html(&page, "Revenue").contains("none yet"));
    page.assert_lacks("NaN");

    // Wrong custom days: a message next to the field, the value kept, the
    // default period shown, never an error page.
    let wrong = app.get("/?period=custom&from=2026-02-30&to=2026-01-01").await;
    assert_eq!(wrong.status, Status::Ok);
    wrong.assert_contains("value=\"2026-02-30\"");
    wrong.assert_contains("<small class=\"field-error\" id=\"from-error\">Enter a day as YYYY-MM-DD.</small>");
    wrong.assert_contains("aria-invalid=\"true\"");
    let reversed = app.get("/?period=custom&from=2026-03-01&to=2026-01-01").await;
    assert_eq!(reversed.status, Status::Ok);
    reversed.assert_contains("The start must be on or before the end.");
    let forever = app.get("/?period=custom&from=1900-01-01&to=2026-01-01").await;
    forever.assert_contains("Choose at most ten years.");
    for junk in ["/?period=%00", "/?period=custom&from=99999-01-01&to=x", "/?period=year&from=&to="] {
        assert_eq!(app.get(junk).await.status, Status::Ok, "{junk}");
    }
    // A chosen custom period is kept in the URL the picker writes.
    let custom = app.get("/?period=custom&from=2026-01-01&to=2026-01-31").await;
    custom.assert_contains("Jan 1 – Jan 31, 2026");
    custom.assert_contains("compared with Dec 1 – Dec 31, 2025");
}

#[rocket::async_test]
async fn the_reports_and_their_downloads_follow_the_period_and_tiny_shares_still_show() {
    let app = TestApp::new().await;
    let big = app.customer("Big Buyer", "big@example.com").await;
    let small = app.customer("Small Buyer", "small@example.com").await;
    let mug = app.product("Mug", "MUG", 100, 100_000).await;
    let tea = app.product("Tea", "TEA", 300, 100_000).await;
    // 2,000 orders of Big in the last 30 days and one of Small; long ago, Small bought tea.
    let mut orders: Vec<SqlOrder> = (0..2000).map(|k| one(big, mug, 1, k % 20)).collect();
    orders.push(one(small, mug, 1, 3));
    orders.push(one(small, tea, 50, 400));
    app.paid_orders_in_sql(&orders).await;

    let month = app.get("/reports?period=30d").await;
    assert_eq!(month.status, Status::Ok);
    let top = month.body.split("id=\"top-customers\"").nth(1).unwrap().split("</section>").next().unwrap();
    assert!(top.contains("Share of all 2,001 orders"), "{top}");
    // Small's one order in 2,001 is under 0.05%: written as such, with a bar that still shows.
    let small_row = top.split("Small Buyer").nth(1).unwrap().split("</tr>").next().unwrap();
    assert!(small_row.contains("&#60;0.1%") && small_row.contains("<rect class=\"fill\" width=\"2.0\""), "{small_row}");
    let best = month.body.split("id=\"best-sellers\"").nth(1).unwrap().split("</section>").next().unwrap();
    assert!(best.contains("Mug") && !best.contains("Tea"), "tea sold only long ago: {best}");
    // The downloads of the same period.
    let best_csv = app.get("/reports/best-sellers.csv?period=30d").await.body;
    assert_eq!(best_csv.lines().count(), 2, "{best_csv}");
    assert!(best_csv.contains("1,1,Mug,MUG,2001,2001.00"), "{best_csv}");
    let top_csv = app.get("/reports/top-customers.csv?period=30d").await.body;
    assert!(top_csv.contains("1,1,Big Buyer,big@example.com,2000,2000.00"), "{top_csv}");
    assert!(top_csv.contains("2,2,Small Buyer,small@example.com,1,1.00"), "{top_csv}");
    month.assert_contains("href=\"/reports/top-customers.csv?period=30d\"");
    // All time: tea is back, and Small's revenue.
    let all = app.get("/reports").await;
    let best = all.body.split("id=\"best-sellers\"").nth(1).unwrap().split("</section>").next().unwrap();
    assert!(best.contains("Tea"), "{best}");
    let all_csv = app.get("/reports/revenue-per-customer.csv").await.body;
    assert!(all_csv.contains("Small Buyer,small@example.com,2,151.00"), "{all_csv}");
}

#[rocket::async_test]
async fn with_the_refresher_on_a_view_never_waits_and_the_leaders_catch_up_in_the_background() {
    let app = TestApp::configured(false, &[("dashboard.refresh_seconds", 1.into())]).await;
    app.sign_in_as("admin@test.example", "admin").await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let bob = app.customer("Bob Builder", "bob@example.com").await;
    let tea = app.product("Green Tea", "TEA", 250, 100).await;
    app.paid_orders_in_sql(&[one(ada, tea, 4, 2)]).await;
    let top_customers = |page: &Page| {
        page.body.split("id=\"top-customers\"").nth(1).unwrap().split("</section>").next().unwrap().to_string()
    };
    // Give the refresher a pass, then the view reads the kept, current leaders.
    rocket::tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let first = app.get("/?period=30d").await;
    assert!(top_customers(&first).contains("Ada Lovelace"), "{}", top_customers(&first));
    assert!(!first.body.contains("being brought up to date"));

    // Bob outspends Ada: the next view serves what is kept, said to be as of
    // an earlier time, or (if a pass already ran) the new order; within a
    // couple of passes the leaders are current with Bob first.
    app.paid_orders_in_sql(&[one(bob, tea, 9, 1)]).await;
    let mut caught_up = false;
    for _ in 0..30 {
        let page = app.get("/?period=30d").await;
        let customers = top_customers(&page);
        if !page.body.contains("being brought up to date")
            && customers.find("Bob Builder").is_some_and(|b| customers.find("Ada Lovelace").is_some_and(|a| b < a))
        {
            caught_up = true;
            break;
        }
        rocket::tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(caught_up, "the leaders followed the new order within a few seconds");
    app.assert_figures_exact().await;
}
