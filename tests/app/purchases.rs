//! Who bought what, from both sides: a product's buyers, a customer's
//! products and latest orders, the orders list filtered by product, and one
//! way of counting orders (not cancelled) on every page.

use crate::harness::{OrderForm, Page, SqlOrder, TestApp};
use chrono::{TimeZone, Utc};
use rocket::http::Status;
use shopdesk::web::filters::format_count;

fn format_money(cents: i64) -> String {
    shopdesk::domain::Money::from_cents(cents).to_string()
}

/// One row of who bought what as a record's page shows it: the buyer's name
/// and email (or the product's name and SKU), units, spend, orders, last bought.
type Shown = Vec<String>;

/// Whose purchases: a product's buyers, or a customer's products.
enum Of {
    Product(i64),
    Customer(i64),
}

/// The purchases the page lists, computed from the orders themselves, in the
/// page's default order.
async fn bought_in_sql(app: &TestApp, of: Of) -> Vec<Shown> {
    // Whom or what each row names, the join that names it, and whose purchases.
    let (row, named, join, whose, id) = match of {
        Of::Product(id) => ("u.id", "u.name, u.email", "users u ON u.id = o.user_id", "i.product_id", id),
        Of::Customer(id) => ("p.id", "p.name, p.sku", "products p ON p.id = i.product_id", "o.user_id", id),
    };
    let sql = format!(
        "SELECT {named}, sum(i.quantity)::BIGINT, sum(i.quantity * i.unit_price_cents)::BIGINT, count(*), max(o.placed_at)
           FROM order_items i JOIN orders o ON o.id = i.order_id JOIN {join}
          WHERE {whose} = $1 AND o.status <> 'cancelled'
          GROUP BY {row} ORDER BY 4 DESC, {row} DESC"
    );
    let rows: Vec<(String, String, i64, i64, i64, chrono::DateTime<Utc>)> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_all(&app.pool).await.unwrap();
    rows.into_iter()
        .map(|(name, detail, units, spend, orders, last)| {
            vec![
                format!("{name} {detail}"),
                format_count(units),
                format_money(spend),
                format_count(orders),
                last.format("%b %-d, %Y").to_string(),
            ]
        })
        .collect()
}

fn order_rows(page: &Page) -> usize {
    page.rows_linking_to("/orders/")
}

#[rocket::async_test]
async fn a_products_buyers_match_sql_and_on_n_orders_leads_to_those_orders() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let bob = app.customer("Bob Builder", "bob@example.com").await;
    let cy = app.customer("Cy Young", "cy@example.com").await;
    let mug = app.product("Stoneware Mug", "MUG", 1250, 100).await;
    let tea = app.product("Green Tea", "TEA", 400, 100).await;
    let lamp = app.product("Desk Lamp", "LAMP", 4500, 10).await;

    let first = app.place_order_with_status(ada, "paid", &[(mug, 2)]).await;
    app.set_placed_on(first, "2026-01-10").await;
    let second = app.place_order_with_status(ada, "shipped", &[(mug, 1), (tea, 3)]).await;
    app.set_placed_on(second, "2026-03-05").await;
    let cancelled = app.place_order_with_status(bob, "cancelled", &[(mug, 5)]).await;
    app.set_placed_on(cancelled, "2026-03-20").await;
    let cys = app.place_order_with_status(cy, "pending", &[(mug, 1)]).await;
    app.set_placed_on(cys, "2026-02-14").await;

    let page = app.get(&format!("/products/{mug}")).await;
    assert_eq!(page.status, Status::Ok);
    page.assert_contains("Bought by 2 customers");
    let shown = page.rows_after("id=\"bought-by\"");
    assert_eq!(shown, bought_in_sql(&app, Of::Product(mug)).await);
    assert_eq!(shown[0][0], "Ada Lovelace ada@example.com");
    assert_eq!(shown[0][1..], ["3", "$37.50", "2", "Mar 5, 2026"]);
    assert!(!page.body.contains("Bob Builder"), "cancelled orders buy nothing");
    // Units sold "on 3 orders", the same count as the orders it links to.
    page.assert_contains(&format!(
        "on <a href=\"/orders?product_id={mug}&amp;status=active\">3 orders</a> not cancelled"
    ));
    page.assert_contains(&format!("<a href=\"/orders?user_id={ada}&amp;product_id={mug}&amp;status=active\""));

    let orders = app.get(&format!("/orders?product_id={mug}&status=active")).await;
    orders.assert_contains("<h1>Orders containing Stoneware Mug</h1>");
    assert_eq!(order_rows(&orders), 3);
    orders.assert_contains("<span class=\"count\">3 orders</span>");
    assert!(!orders.body.contains(&format!("href=\"/orders/{cancelled}\"")));
    let with_cancelled = app.get(&format!("/orders?product_id={mug}")).await;
    assert_eq!(order_rows(&with_cancelled), 4, "every order with the mug, cancelled ones too");
    let adas = app.get(&format!("/orders?user_id={ada}&product_id={mug}&status=active")).await;
    adas.assert_contains("Orders of Ada Lovelace containing Stoneware Mug");
    adas.assert_contains("<span class=\"count\">2 orders</span>");
    assert_eq!(order_rows(&adas), 2);

    // The delete page counts the same orders, and says which are cancelled.
    let delete = app.get(&format!("/products/{mug}/delete")).await;
    delete.assert_contains("it appears on <strong>4 orders</strong> (3 not cancelled and 1 cancelled)");

    // Nobody bought the lamp; nobody bought tea either once Ada's order is cancelled.
    let lamp_page = app.get(&format!("/products/{lamp}")).await;
    lamp_page.assert_contains("Bought by nobody yet");
    lamp_page.assert_contains("Nobody has bought Desk Lamp on an order that is not cancelled.");
    lamp_page.assert_contains("on 0 orders");

    // Cancelling Ada's later order takes it off: her last purchase goes back to January.
    app.edit_order(second, &OrderForm::for_customer(ada).status("cancelled").version(1).lines(&[(mug, 1), (tea, 3)]))
        .await;
    let page = app.get(&format!("/products/{mug}")).await;
    let shown = page.rows_after("id=\"bought-by\"");
    assert_eq!(shown, bought_in_sql(&app, Of::Product(mug)).await);
    assert_eq!(shown[0][1..], ["2", "$25.00", "1", "Jan 10, 2026"]);
    let tea_page = app.get(&format!("/products/{tea}")).await;
    tea_page.assert_contains("Bought by nobody yet");
}

/// Adds `n` customers named `Buyer NN`, each with one paid order of `product`
/// (quantity `1 + id % 4`, at a price that grows with their id), set-based in SQL.
async fn buyers(app: &TestApp, product: i64, n: i64) {
    let customers: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO users (name, email)
         SELECT 'Buyer ' || lpad(g::TEXT, 2, '0'), 'buyer' || g || '@example.com' FROM generate_series(1, $1) g
         RETURNING id",
    )
    .bind(n)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let new_year = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let orders: Vec<SqlOrder> = customers
        .iter()
        .map(|&customer| SqlOrder {
            customer,
            product,
            quantity: 1 + (customer % 4) as i32,
            unit_price_cents: Some(100 * customer),
            placed_at: new_year + chrono::Duration::hours(customer),
        })
        .collect();
    app.paid_orders_in_sql(&orders).await;
}

#[rocket::async_test]
async fn buyers_sort_page_and_export_through_every_row() {
    let app = TestApp::new().await;
    let mug = app.product("Stoneware Mug", "MUG", 1250, 100).await;
    buyers(&app, mug, 45).await;
    let expected = bought_in_sql(&app, Of::Product(mug)).await;
    assert_eq!(expected.len(), 45);

    // Three pages of 20, 20 and 5, forward by the Next links and back.
    let mut seen = Vec::new();
    let mut path = format!("/products/{mug}");
    let mut pages = Vec::new();
    loop {
        let page = app.get(&path).await;
        assert_eq!(page.status, Status::Ok, "{path}");
        page.assert_contains("45 customers");
        let rows = page.rows_after("id=\"bought-by\"");
        seen.extend(rows.clone());
        pages.push(rows);
        match page.link_before("rel=\"next\"") {
            Some(next) => {
                assert!(next.ends_with("#bought-by"), "page links come back to the section: {next}");
                path = next;
            }
            None => break,
        }
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [20, 20, 5]);
    assert_eq!(seen, expected, "every buyer once, by spend");
    let last = app.get(&path).await;
    let back = last.link_before("rel=\"prev\"").expect("a previous page");
    assert_eq!(app.get(&back).await.rows_after("id=\"bought-by\""), pages[1]);

    // Other sorts, both ways, agree with SQL.
    for (sort, sql) in [
        ("units&dir=asc", "ORDER BY c.units, c.user_id"),
        ("units&dir=desc", "ORDER BY c.units DESC, c.user_id DESC"),
        ("last&dir=desc", "ORDER BY c.last_bought_at DESC, c.user_id DESC"),
        ("spend&dir=asc", "ORDER BY c.spend_cents, c.user_id"),
    ] {
        let names: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT u.name FROM customer_products c JOIN users u ON u.id = c.user_id WHERE c.product_id = $1 {sql} LIMIT 20"
        )))
        .bind(mug)
        .fetch_all(&app.pool)
        .await
        .unwrap();
        let page = app.get(&format!("/products/{mug}?sort={sort}")).await;
        let shown: Vec<String> = page
            .rows_after("id=\"bought-by\"")
            .iter()
            .map(|row| row[0].split(" buyer").next().unwrap_or_default().to_string())
            .collect();
        assert_eq!(shown, names, "sorted by {sort}");
    }

    // The CSV holds every buyer, in the page's order.
    let page = app.get(&format!("/products/{mug}")).await;
    page.assert_contains(&format!("href=\"/products/{mug}/buyers.csv?sort=spend&#38;dir=desc\""));
    let csv = app.get(&format!("/products/{mug}/buyers.csv?sort=spend&dir=desc")).await;
    assert_eq!(csv.status, Status::Ok);
    let csv = csv.body;
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("customer_id,name,email,units,spend,orders,last_bought"));
    let names: Vec<String> = lines.map(|l| l.split(',').nth(1).unwrap_or_default().to_string()).collect();
    let expected_names: Vec<String> =
        expected.iter().map(|row| row[0].split(" buyer").next().unwrap_or_default().to_string()).collect();
    assert_eq!(names, expected_names);
}

#[rocket::async_test]
async fn a_customer_page_reads_kept_figures_shows_latest_orders_and_pages_products() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let quiet = app.customer("Quiet Person", "quiet@example.com").await;
    let mut products = Vec::new();
    for n in 0..25 {
        products.push(app.product(&format!("Product {n:02}"), &format!("P{n:02}"), 100 + 10 * n, 1000).await);
    }
    // 15 orders, 2 of them cancelled, over the 25 products.
    let mut orders = Vec::new();
    for n in 0..15usize {
        let status = if n % 7 == 3 { "cancelled" } else { "paid" };
        let lines: Vec<(i64, i32)> = (0..3).map(|k| (products[(n * 3 + k) % 25], 1 + (n % 3) as i32)).collect();
        let id = app.place_order_with_status(ada, status, &lines).await;
        app.set_placed_on(id, &format!("2026-02-{:02}", 1 + n)).await;
        orders.push(id);
    }

    let page = app.get(&format!("/users/{ada}")).await;
    assert_eq!(page.status, Status::Ok);
    let revenue: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(total_cents), 0)::BIGINT FROM orders WHERE user_id = $1 AND status <> 'cancelled'",
    )
    .bind(ada)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let bought = bought_in_sql(&app, Of::Customer(ada)).await;
    page.assert_contains(
        "<span class=\"stat-label\">Orders</span><span class=\"stat-value\">13</span><span class=\"stat-note\">not cancelled · 2 cancelled</span>",
    );
    page.assert_contains(&format!(
        "<span class=\"stat-label\">Revenue</span><span class=\"stat-value\">{}</span>",
        format_money(revenue)
    ));
    page.assert_contains(&format!(
        "<span class=\"stat-label\">Products bought</span><span class=\"stat-value\">{}</span>",
        bought.len()
    ));

    // The latest 10 orders, newest first, and a link to all 15.
    let latest: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM orders WHERE user_id = $1 ORDER BY placed_at DESC, id DESC LIMIT 10")
            .bind(ada)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let shown: Vec<String> = page.rows_after("id=\"orders-heading\"").iter().map(|row| row[0].clone()).collect();
    assert_eq!(shown, latest.iter().map(|id| format!("#{id}")).collect::<Vec<_>>());
    page.assert_contains(&format!(
        "<a href=\"/orders?user_id={ada}\" role=\"button\" class=\"secondary outline small\">See all 15 orders</a>"
    ));

    // Products bought: the first page of 20 by spend, then the rest.
    let first = page.rows_after("id=\"products-bought\"");
    assert_eq!(first, bought[..20]);
    let next = page.link_before("rel=\"next\"").expect("a second page of products");
    assert!(next.ends_with("#products-bought"), "{next}");
    assert_eq!(app.get(&next).await.rows_after("id=\"products-bought\""), bought[20..]);
    let csv = app.get(&format!("/users/{ada}/products.csv")).await.body;
    assert_eq!(csv.lines().count(), 1 + bought.len());
    assert!(csv.starts_with("product_id,name,sku,units,spend,orders,last_bought\n"), "{csv}");

    // Someone who never ordered.
    let page = app.get(&format!("/users/{quiet}")).await;
    page.assert_contains("Quiet Person has not placed any orders yet.");
    page.assert_contains("Quiet Person has not bought anything on an order that is not cancelled.");
    page.assert_lacks("See all");

    // The customers list counts the same orders and links to exactly them.
    let list = app.get("/users?sort=orders&dir=desc").await;
    list.assert_contains(&format!("<a href=\"/orders?user_id={ada}&amp;status=active\">13</a>"));
    let theirs = app.get(&format!("/orders?user_id={ada}&status=active")).await;
    theirs.assert_contains("<span class=\"count\">13 orders</span>");
    let delete = app.get(&format!("/users/{ada}/delete")).await;
    delete.assert_contains("they have <strong>15 orders</strong> (13 not cancelled and 2 cancelled)");
}

#[rocket::async_test]
async fn the_orders_list_filters_by_a_product_chosen_or_typed_into_csv_and_bulk_actions() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let bob = app.customer("Bob Builder", "bob@example.com").await;
    let mug = app.product("Stoneware Mug", "MUG", 1250, 100).await;
    let beans = app.product("Coffee Beans", "BEANS", 1699, 100).await;
    let decaf = app.product("Decaf Coffee Beans", "DECAF", 1599, 100).await;
    app.place_order_with_status(ada, "paid", &[(mug, 1)]).await;
    app.place_order_with_status(ada, "pending", &[(mug, 2), (beans, 1)]).await;
    app.place_order_with_status(bob, "pending", &[(beans, 1)]).await;
    app.place_order_with_status(bob, "cancelled", &[(mug, 1), (decaf, 1)]).await;

    // Chosen (a link from the product page, or the picker).
    let chosen = app.get(&format!("/orders?product_id={mug}")).await;
    assert_eq!(order_rows(&chosen), 3);
    chosen.assert_contains("<h1>Orders containing Stoneware Mug</h1>");
    chosen.assert_contains(&format!("<input type=\"hidden\" name=\"filters.product_id\" value=\"{mug}\">"));
    // Typed without JavaScript: exactly one match chooses it.
    let typed = app.get("/orders?product_q=stoneware").await;
    typed.assert_contains("<h1>Orders containing Stoneware Mug</h1>");
    assert_eq!(order_rows(&typed), 3);
    typed.assert_contains(&format!("href=\"/orders.csv?user_id=&#38;product_id={mug}&#38;"));
    // Several matches: nothing is filtered until one is chosen.
    let several = app.get("/orders?product_q=beans").await;
    several.assert_contains("2 products match “beans”: choose one, then filter again.");
    several.assert_contains(&format!("<option value=\"{beans}\">Coffee Beans · BEANS"));
    several.assert_contains(&format!("<option value=\"{decaf}\">Decaf Coffee Beans · DECAF"));
    assert_eq!(order_rows(&several), 4);
    let none = app.get("/orders?product_q=teapot").await;
    none.assert_contains("No product matches “teapot”.");
    let gone = app.get("/orders?product_id=424242").await;
    gone.assert_contains("That product does not exist (any more), so no order contains it.");
    gone.assert_contains("No orders match.");
    // A name typed over the chosen product searches again.
    let retyped = app.get(&format!("/orders?product_id={mug}&product_q=decaf")).await;
    retyped.assert_contains("<h1>Orders containing Decaf Coffee Beans</h1>");
    assert_eq!(order_rows(&retyped), 1);

    // The CSV export keeps the filter.
    let csv = app
        .client
        .get(format!("/orders.csv?product_id={beans}&status=pending"))
        .dispatch()
        .await
        .into_string()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 1 + 2, "{csv}");
    assert!(csv.lines().skip(1).all(|l| l.contains(",pending,")), "{csv}");

    // A bulk action on "all matching" acts on the product's orders only.
    let review =
        app.review_bulk_orders(&format!("action=paid&scope=all&filters.product_id={mug}&filters.status=pending")).await;
    review.assert_contains("Mark as paid: 1 order?");
    let done = app.confirm_bulk_orders(&review).await;
    done.assert_contains("1 order is now paid.");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM orders WHERE status = 'pending'").await, 1);
    app.assert_figures_exact().await;
}

#[rocket::async_test]
async fn an_unreadable_or_unknown_filter_id_shows_no_orders_and_says_why() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let mug = app.product("Stoneware Mug", "MUG", 1250, 100).await;
    app.place_order_with_status(ada, "paid", &[(mug, 1)]).await;
    app.place_order_with_status(ada, "pending", &[(mug, 2)]).await;
    assert_eq!(order_rows(&app.get("/orders").await), 2);

    for id in ["abc", "-1", "0", "1.5", "99999999999999999999", "424242"] {
        let page = app.get(&format!("/orders?product_id={id}")).await;
        assert_eq!(page.status, Status::Ok, "product_id={id}");
        assert_eq!(order_rows(&page), 0, "product_id={id} must not show every order");
        page.assert_contains("That product does not exist (any more), so no order contains it.");
        page.assert_contains("No orders match.");

        let page = app.get(&format!("/orders?user_id={id}")).await;
        assert_eq!(page.status, Status::Ok, "user_id={id}");
        assert_eq!(order_rows(&page), 0, "user_id={id} must not show every order");
        page.assert_contains("No customer has that id, so no orders are shown.");

        for export in [format!("/orders.csv?product_id={id}"), format!("/orders.csv?user_id={id}")] {
            let page = app.get(&export).await;
            assert_eq!(page.status, Status::BadRequest, "{export}");
            page.assert_contains("The orders were not exported: no ");
        }
    }
    // A bulk action on "all matching" with such a filter acts on nothing.
    let review = app.review_bulk_orders("action=paid&scope=all&filters.product_id=abc&filters.status=pending").await;
    review.assert_lacks("Mark as paid: 1 order?");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM orders WHERE status = 'pending'").await, 1);
}
