//! Lists: search, sort in both directions, filters, keyset pages at every
//! edge, counts, and CSV exports of lists and reports.

use crate::harness::{Page, TestApp};
use rocket::http::Status;

/// The names in a customers list page, in the order shown.
fn names(page: &Page) -> Vec<String> {
    page.names_linking_to("/users/")
}

async fn customers(app: &TestApp, n: usize) {
    for i in 0..n {
        // Names sort differently from ids: "Customer 064" was created first.
        app.customer(&format!("Customer {:03}", n - i), &format!("c{i}@example.com")).await;
    }
}

#[rocket::async_test]
async fn pages_walk_forward_and_back_and_reach_both_ends() {
    let app = TestApp::new().await;
    customers(&app, 120).await;
    let first = app.get("/users?sort=name&dir=asc").await;
    let page1 = names(&first);
    assert_eq!(page1.len(), 50);
    assert_eq!(page1[0], "Customer 001");
    assert_eq!(page1[49], "Customer 050");
    assert!(first.link_before("« First").is_none() && first.link_before("‹ Previous").is_none());
    first.assert_contains("120 customers");

    let next = first.link_before("Next ›").expect("a next link");
    let second = app.get(&next).await;
    let page2 = names(&second);
    assert_eq!(page2[0], "Customer 051");
    assert_eq!(page2.len(), 50);

    let back = app.get(&second.link_before("‹ Previous").expect("a previous link")).await;
    assert_eq!(names(&back), page1, "previous returns exactly the page before");

    let last = app.get(&first.link_before("Last »").expect("a last link")).await;
    let tail = names(&last);
    assert_eq!(tail.len(), 50, "the last page is full, ending at the last row");
    assert_eq!(tail.last().map(String::as_str), Some("Customer 120"));
    assert!(last.link_before("Next ›").is_none() && last.link_before("Last »").is_none());

    let third = app.get(&second.link_before("Next ›").unwrap()).await;
    assert_eq!(names(&third).len(), 20);
    assert!(third.link_before("Next ›").is_none(), "no next page after the end");

    // Past the end, or a cursor that is not a value of the column.
    let past = app.get("/users?sort=name&dir=asc&after=zzzz~999999").await;
    assert_eq!(past.status, Status::Ok);
    past.assert_contains("No customers here.");
    let garbage = app.get("/users?sort=orders&dir=desc&after=not-a-number~1").await;
    assert_eq!(garbage.status, Status::Ok);
    assert_eq!(names(&garbage).len(), 50, "a bad cursor starts from the first page");
    let nonsense = app.get("/users?sort=password&dir=sideways").await;
    assert_eq!(nonsense.status, Status::Ok);
}

#[rocket::async_test]
async fn every_column_sorts_both_ways() {
    let app = TestApp::new().await;
    let ada = app.customer("ada", "zed@example.com").await;
    let bob = app.customer("Bob", "amy@example.com").await;
    let mug = app.product("Mug", "MUG", 1000, 100).await;
    app.place_order_with_status(bob, "paid", &[(mug, 1)]).await;
    app.place_order_with_status(bob, "paid", &[(mug, 1)]).await;
    app.place_order_with_status(ada, "paid", &[(mug, 5)]).await;
    let order = |sort: &str, dir: &str| {
        let app = &app;
        let path = format!("/users?sort={sort}&dir={dir}");
        async move { names(&app.get(&path).await) }
    };
    // Letter case does not matter to the name sort.
    assert_eq!(order("name", "asc").await, ["ada", "Bob"]);
    assert_eq!(order("name", "desc").await, ["Bob", "ada"]);
    assert_eq!(order("email", "asc").await, ["Bob", "ada"]);
    assert_eq!(order("email", "desc").await, ["ada", "Bob"]);
    assert_eq!(order("orders", "desc").await, ["Bob", "ada"]);
    assert_eq!(order("orders", "asc").await, ["ada", "Bob"]);
    assert_eq!(order("revenue", "desc").await, ["ada", "Bob"]);
    assert_eq!(order("joined", "desc").await, ["Bob", "ada"]);
    // The header shows the sort and links to the other direction.
    let page = app.get("/users?sort=name&dir=asc").await;
    page.assert_contains("aria-sort=\"ascending\"");
    page.assert_contains(
        "href=\"/users?q=&#38;has_orders=&#38;joined_from=&#38;joined_to=&#38;sort=name&#38;dir=desc\"",
    );

    // Orders sort by total, both ways; products by price.
    let orders = app.get("/orders?sort=total&dir=asc").await;
    let first_total = orders.body.find("$10.00").unwrap();
    assert!(first_total < orders.body.find("$50.00").unwrap());
    let orders = app.get("/orders?sort=total&dir=desc").await;
    assert!(orders.body.find("$50.00").unwrap() < orders.body.find("$10.00").unwrap());
    app.product("Tea", "TEA", 300, 5).await;
    let products = app.get("/products?sort=price&dir=asc").await;
    assert!(products.body.find("Tea").unwrap() < products.body.find("Mug").unwrap());
}

#[rocket::async_test]
async fn order_filters_combine_with_each_other_and_with_sort() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let bob = app.customer("Bob Builder", "bob@builder.example").await;
    let mug = app.product("Mug", "MUG", 1000, 100).await;
    // Spread over two months.
    for (customer, status, day) in [
        (ada, "paid", "2026-01-15"),
        (ada, "pending", "2026-02-15"),
        (bob, "paid", "2026-01-15"),
        (bob, "shipped", "2026-02-15"),
    ] {
        let order = app.place_order_with_status(customer, status, &[(mug, 1)]).await;
        app.set_placed_on(order, day).await;
    }
    let rows = |page: Page| page.rows_linking_to("/orders/");

    assert_eq!(rows(app.get("/orders?q=builder").await), 2);
    assert_eq!(rows(app.get("/orders?q=LOVELACE&status=paid").await), 1);
    assert_eq!(rows(app.get("/orders?from=2026-02-01").await), 2);
    assert_eq!(rows(app.get("/orders?from=2026-01-01&to=2026-01-31").await), 2);
    assert_eq!(rows(app.get("/orders?from=2026-01-01&to=2026-01-31&status=paid&q=ada").await), 1);
    let by_user = app.get(&format!("/orders?user_id={bob}&sort=placed&dir=asc")).await;
    assert_eq!(by_user.rows_linking_to("/orders/"), 2);
    by_user.assert_contains("Orders of Bob Builder");
    // Filter links keep the filters when sorting.
    let filtered = app.get("/orders?status=paid&q=ada").await;
    filtered.assert_contains("status=paid&#38;q=ada&#38;from=&#38;to=&#38;min_total=&#38;max_total=&#38;sort=total");
    filtered.assert_contains("1 order");
    // Counts: exact from the kept monthly figures when unfiltered or by status.
    app.get("/orders").await.assert_contains("4 orders");
    app.get("/orders?status=paid").await.assert_contains("2 orders");
    // A date that cannot be read is explained, not fatal.
    let bad = app.get("/orders?from=last-tuesday").await;
    assert_eq!(bad.status, Status::Ok);
    bad.assert_contains("Enter dates as YYYY-MM-DD and amounts as numbers");
    assert_eq!(bad.rows_linking_to("/orders/"), 4);
}

#[rocket::async_test]
async fn csv_exports_hold_every_matching_row() {
    let app = TestApp::new().await;
    customers(&app, 1_205).await;
    app.customer("Ünïcödé, \"quoted\"", "q@example.com").await;
    let mug = app.product("Mug, large", "MUG", 1250, 100).await;
    app.place_order_with_status(3, "paid", &[(mug, 2)]).await;

    let export = app.get("/users.csv?sort=name&dir=asc").await;
    assert_eq!(export.status, Status::Ok);
    assert_eq!(export.header("Content-Type"), Some("text/csv; charset=utf-8"));
    assert_eq!(export.header("Content-Disposition"), Some("attachment; filename=\"customers.csv\""));
    let mut reader = csv::Reader::from_reader(export.body.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        ["id", "name", "email", "customer_since", "orders", "revenue"]
    );
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 1_206, "every row, across many chunks");
    assert_eq!(&records[0][1], "Customer 001");
    assert!(records.iter().any(|r| &r[1] == "Ünïcödé, \"quoted\""), "quoting survives");
    let buyer = records.iter().find(|r| &r[0] == "3").unwrap();
    assert_eq!((&buyer[4], &buyer[5]), ("1", "25.00"));

    let filtered = app.get("/users.csv?q=%C3%BCn%C3%AF").await.body;
    assert_eq!(filtered.lines().count(), 2, "{filtered}");

    let orders = app.get("/orders.csv?status=paid").await.body;
    assert!(orders.starts_with("id,customer_id,customer,placed_at,status,items,total\n"), "{orders}");
    assert!(orders.contains(",paid,2,25.00\n"), "{orders}");
    let products = app.get("/products.csv").await.body;
    assert!(products.contains("\"Mug, large\",MUG,12.50,98,2"), "{products}");
    let top = app.get("/reports/top-customers.csv").await.body;
    assert_eq!(top.lines().count(), 2, "{top}");
    assert!(top.lines().nth(1).unwrap().starts_with("1,3,"), "{top}");
    let best = app.get("/reports/best-sellers.csv").await.body;
    assert!(best.contains("1,1,\"Mug, large\",MUG,2,25.00"), "{best}");
    let months = app.get("/reports/revenue-by-month.csv").await.body;
    assert!(months.starts_with("month,orders,revenue\n") && months.contains(",1,25.00"), "{months}");
    // Exports need a session like every page.
    app.sign_out().await;
    assert_eq!(app.get("/users.csv").await.status, Status::SeeOther);
}

#[rocket::async_test]
async fn the_reports_page_has_an_accessible_revenue_chart() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada", "ada@example.com").await;
    let mug = app.product("Mug", "MUG", 1000, 100).await;
    app.place_order_with_status(ada, "paid", &[(mug, 3)]).await;
    let page = app.get("/reports").await;
    page.assert_contains(
        "<svg class=\"chart bars\" role=\"img\" aria-labelledby=\"revenue-chart-title revenue-chart-desc\"",
    );
    // The value is written at the bar's end, the month and figures in its tooltip.
    page.assert_contains(">$30</text>");
    page.assert_contains(&format!("<title>{}: $30.00 from 1 order</title>", chrono::Utc::now().format("%B %Y")));
    page.assert_contains("<summary>Revenue by month as a table</summary>");
    page.assert_contains("<title id=\"revenue-chart-title\">Revenue by month</title>");
    page.assert_contains("$30.00 in total");
}

#[rocket::async_test]
async fn column_filters_combine_with_search_sort_and_export() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let bob = app.customer("Bob Builder", "bob@example.com").await;
    app.customer("Cy Quiet", "cy@example.com").await;
    sqlx::query("UPDATE users SET created_at = '2025-03-10T10:00:00Z' WHERE id = $1")
        .bind(bob)
        .execute(&app.pool)
        .await
        .unwrap();
    let mug = app.product("Mug", "MUG", 1000, 100).await;
    let tea = app.product("Tea", "TEA", 250, 3).await;
    app.product("Kettle", "KTL", 5000, 0).await;
    app.place_order(ada, &[(mug, 5)]).await;
    app.place_order(bob, &[(tea, 1)]).await;

    // Customers: has orders, sign-up dates, with search and sort.
    assert_eq!(names(&app.get("/users?has_orders=yes&sort=name&dir=asc").await), ["Ada Lovelace", "Bob Builder"]);
    assert_eq!(names(&app.get("/users?has_orders=no").await), ["Cy Quiet"]);
    assert_eq!(names(&app.get("/users?joined_to=2025-12-31").await), ["Bob Builder"]);
    assert_eq!(names(&app.get("/users?joined_from=2026-01-01&has_orders=yes&q=love").await), ["Ada Lovelace"]);
    app.get("/users?joined_from=soon").await.assert_contains("Enter dates as YYYY-MM-DD.");

    // Products: in stock, running low (with its threshold), out of stock.
    let products = |page: Page| page.rows_linking_to("/products/");
    assert_eq!(products(app.get("/products?stock=in").await), 2);
    assert_eq!(products(app.get("/products?stock=out").await), 1);
    let low = app.get("/products?stock=low").await;
    assert_eq!(low.rows_linking_to("/products/"), 1, "Tea has 2 left");
    low.assert_contains(">Tea<");
    assert_eq!(products(app.get("/products?stock=low&low_at=100").await), 2);
    assert_eq!(products(app.get("/products?stock=in&q=tea").await), 1);

    // Orders: total range, with status.
    let orders = |page: Page| page.rows_linking_to("/orders/");
    assert_eq!(orders(app.get("/orders?min_total=10").await), 1);
    assert_eq!(orders(app.get("/orders?max_total=2.50").await), 1);
    assert_eq!(orders(app.get("/orders?min_total=1&max_total=100&status=pending").await), 2);
    app.get("/orders?min_total=lots").await.assert_contains("amounts as numbers");

    // The export keeps the filters.
    let page = app.get("/users?has_orders=no").await;
    page.assert_contains("href=\"/users.csv?q=&#38;has_orders=no");
    let csv = app.get("/users.csv?has_orders=no").await.body;
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.contains("Cy Quiet"));
}
