//! Who bought what, from both sides: a product's buyers, a customer's
//! products and latest orders, the orders list filtered by product, and one
//! way of counting orders (not cancelled) on every page.

mod common;

use common::{Page, TestApp};
use rocket::http::Status;
use shopdesk::web::filters::format_count;

fn format_money(cents: i64) -> String {
    shopdesk::domain::Money::from_cents(cents).to_string()
}

/// Places an order through the form; returns its id.
async fn place(app: &TestApp, user: i64, status: &str, lines: &[(i64, i32)]) -> i64 {
    let mut fields = vec![("user_id".to_string(), user.to_string()), ("status".to_string(), status.to_string())];
    for (i, (product, quantity)) in lines.iter().enumerate() {
        fields.push((format!("lines[{i}].product_id"), product.to_string()));
        fields.push((format!("lines[{i}].quantity"), quantity.to_string()));
    }
    let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let page = app.post_ok("/orders", &borrowed).await;
    page.assert_contains("placed.");
    sqlx::query_scalar("SELECT max(id) FROM orders").fetch_one(&app.pool).await.unwrap()
}

async fn placed_on(app: &TestApp, order: i64, day: &str) {
    sqlx::query("UPDATE orders SET placed_at = $2::DATE + TIME '12:00' AT TIME ZONE 'UTC' WHERE id = $1")
        .bind(order)
        .bind(day)
        .execute(&app.pool)
        .await
        .unwrap();
}

/// The text of each cell of each body row of the first table after `marker`.
fn rows_after(body: &str, marker: &str) -> Vec<Vec<String>> {
    let Some(start) = body.find(marker) else { return Vec::new() };
    let rest = &body[start..];
    let Some(tbody) = rest.find("<tbody>") else { return Vec::new() };
    let rest = &rest[tbody..];
    let rest = &rest[..rest.find("</tbody>").unwrap_or(rest.len())];
    rest.split("<tr")
        .skip(1)
        .map(|row| row.split("<td").skip(1).map(|cell| text_of(&format!("<td{cell}"))).collect())
        .collect()
}

/// Text without tags, entities for `&` and `'` decoded, whitespace squeezed.
fn text_of(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let out = out.replace("&amp;", "&").replace("&#38;", "&").replace("&#39;", "'");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The `href` of the pager link `rel`, decoded, if there is one; the
/// fragment is kept (a browser sends the rest).
fn pager_link(body: &str, rel: &str) -> Option<String> {
    let at = body.find(&format!("rel=\"{rel}\""))?;
    let link = &body[..at];
    let href = &link[link.rfind("href=\"")? + 6..];
    Some(href[..href.find('"')?].replace("&#38;", "&").replace("&amp;", "&"))
}

/// What a browser requests for a link: everything but its fragment.
fn request(href: &str) -> &str {
    href.split('#').next().unwrap_or(href)
}

/// One buyer as the product page shows them: name and email, units, spend, orders, last bought.
type Shown = Vec<String>;

/// A product's buyers computed from the orders themselves, in the page's default order.
async fn buyers_in_sql(app: &TestApp, product: i64) -> Vec<Shown> {
    let rows: Vec<(String, String, i64, i64, i64, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "SELECT u.name, u.email, sum(i.quantity)::BIGINT, sum(i.quantity * i.unit_price_cents)::BIGINT,
                count(*), max(o.placed_at)
           FROM order_items i JOIN orders o ON o.id = i.order_id JOIN users u ON u.id = o.user_id
          WHERE i.product_id = $1 AND o.status <> 'cancelled'
          GROUP BY u.id ORDER BY 4 DESC, u.id DESC",
    )
    .bind(product)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(name, email, units, spend, orders, last)| {
            vec![
                format!("{name} {email}"),
                format_count(units),
                format_money(spend),
                format_count(orders),
                last.format("%b %-d, %Y").to_string(),
            ]
        })
        .collect()
}

/// A customer's products computed from the orders themselves, in the page's default order.
async fn bought_in_sql(app: &TestApp, user: i64) -> Vec<Shown> {
    let rows: Vec<(String, String, i64, i64, i64, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "SELECT p.name, p.sku, sum(i.quantity)::BIGINT, sum(i.quantity * i.unit_price_cents)::BIGINT,
                count(*), max(o.placed_at)
           FROM order_items i JOIN orders o ON o.id = i.order_id JOIN products p ON p.id = i.product_id
          WHERE o.user_id = $1 AND o.status <> 'cancelled'
          GROUP BY p.id ORDER BY 4 DESC, p.id DESC",
    )
    .bind(user)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(name, sku, units, spend, orders, last)| {
            vec![
                format!("{name} {sku}"),
                format_count(units),
                format_money(spend),
                format_count(orders),
                last.format("%b %-d, %Y").to_string(),
            ]
        })
        .collect()
}

fn order_rows(page: &Page) -> usize {
    page.body.matches("<td><a href=\"/orders/").count()
}

#[rocket::async_test]
async fn a_products_buyers_match_sql_and_on_n_orders_leads_to_those_orders() {
    let app = TestApp::new().await;
    let ada = app.user("Ada Lovelace", "ada@example.com").await;
    let bob = app.user("Bob Builder", "bob@example.com").await;
    let cy = app.user("Cy Young", "cy@example.com").await;
    let mug = app.product("Stoneware Mug", "MUG", 1250, 100).await;
    let tea = app.product("Green Tea", "TEA", 400, 100).await;
    let lamp = app.product("Desk Lamp", "LAMP", 4500, 10).await;

    let first = place(&app, ada, "paid", &[(mug, 2)]).await;
    placed_on(&app, first, "2026-01-10").await;
    let second = place(&app, ada, "shipped", &[(mug, 1), (tea, 3)]).await;
    placed_on(&app, second, "2026-03-05").await;
    let cancelled = place(&app, bob, "cancelled", &[(mug, 5)]).await;
    placed_on(&app, cancelled, "2026-03-20").await;
    let cys = place(&app, cy, "pending", &[(mug, 1)]).await;
    placed_on(&app, cys, "2026-02-14").await;

    let page = app.get(&format!("/products/{mug}")).await;
    assert_eq!(page.status, Status::Ok);
    page.assert_contains("Bought by 2 customers");
    let shown = rows_after(&page.body, "id=\"bought-by\"");
    assert_eq!(shown, buyers_in_sql(&app, mug).await);
    assert_eq!(shown[0][0], "Ada Lovelace ada@example.com");
    assert_eq!(shown[0][1..], ["3", "$37.50", "2", "Mar 5, 2026"]);
    assert!(!page.body.contains("Bob Builder"), "cancelled orders buy nothing");
    // Units sold "on 3 orders", the same count as the orders it links to.
    page.assert_contains(&format!("on <a href=\"/orders?product_id={mug}&amp;status=active\">3 orders</a>"));
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
    let fields = [
        ("user_id", ada.to_string()),
        ("status", "cancelled".to_string()),
        ("version", "1".to_string()),
        ("lines[0].product_id", mug.to_string()),
        ("lines[0].quantity", "1".to_string()),
        ("lines[1].product_id", tea.to_string()),
        ("lines[1].quantity", "3".to_string()),
    ];
    let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.post_ok(&format!("/orders/{second}"), &borrowed).await;
    let page = app.get(&format!("/products/{mug}")).await;
    let shown = rows_after(&page.body, "id=\"bought-by\"");
    assert_eq!(shown, buyers_in_sql(&app, mug).await);
    assert_eq!(shown[0][1..], ["2", "$25.00", "1", "Jan 10, 2026"]);
    let tea_page = app.get(&format!("/products/{tea}")).await;
    tea_page.assert_contains("Bought by nobody yet");
}

/// Adds `n` customers named `Buyer NN`, each with one paid order of `product`
/// (quantity `1 + n % 4`, at a price that grows with n), set-based in SQL.
async fn buyers(app: &TestApp, product: i64, n: i64) {
    sqlx::query(
        "WITH u AS (INSERT INTO users (name, email)
                    SELECT 'Buyer ' || lpad(g::TEXT, 2, '0'), 'buyer' || g || '@example.com' FROM generate_series(1, $2) g
                    RETURNING id),
              o AS (INSERT INTO orders (user_id, status, placed_at)
                    SELECT id, 'paid', '2026-01-01'::TIMESTAMPTZ + (id || ' hours')::INTERVAL FROM u RETURNING id, user_id)
         SELECT 1",
    )
    .bind(product)
    .bind(n)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents)
         SELECT o.id, $1, 1 + o.user_id % 4, 100 * o.user_id FROM orders o
          WHERE NOT EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id)",
    )
    .bind(product)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE orders o SET total_cents = t.total, item_count = t.items
           FROM (SELECT order_id, sum(quantity * unit_price_cents) AS total, sum(quantity) AS items
                   FROM order_items GROUP BY order_id) t
          WHERE t.order_id = o.id",
    )
    .execute(&app.pool)
    .await
    .unwrap();
}

#[rocket::async_test]
async fn buyers_sort_page_and_export_through_every_row() {
    let app = TestApp::new().await;
    let mug = app.product("Stoneware Mug", "MUG", 1250, 100).await;
    buyers(&app, mug, 45).await;
    let expected = buyers_in_sql(&app, mug).await;
    assert_eq!(expected.len(), 45);

    // Three pages of 20, 20 and 5, forward by the Next links and back.
    let mut seen = Vec::new();
    let mut path = format!("/products/{mug}");
    let mut pages = Vec::new();
    loop {
        let page = app.get(request(&path)).await;
        assert_eq!(page.status, Status::Ok, "{path}");
        page.assert_contains("45 customers");
        let rows = rows_after(&page.body, "id=\"bought-by\"");
        seen.extend(rows.clone());
        pages.push(rows);
        match pager_link(&page.body, "next") {
            Some(next) => {
                assert!(next.ends_with("#bought-by"), "page links come back to the section: {next}");
                path = next;
            }
            None => break,
        }
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [20, 20, 5]);
    assert_eq!(seen, expected, "every buyer once, by spend");
    let last = app.get(request(&path)).await;
    let back = pager_link(&last.body, "prev").expect("a previous page");
    assert_eq!(rows_after(&app.get(request(&back)).await.body, "id=\"bought-by\""), pages[1]);

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
        let shown: Vec<String> = rows_after(&page.body, "id=\"bought-by\"")
            .iter()
            .map(|row| row[0].split(" buyer").next().unwrap_or_default().to_string())
            .collect();
        assert_eq!(shown, names, "sorted by {sort}");
    }

    // The CSV holds every buyer, in the page's order.
    let page = app.get(&format!("/products/{mug}")).await;
    page.assert_contains(&format!("href=\"/products/{mug}/buyers.csv?sort=spend&#38;dir=desc\""));
    let csv = app.client.get(format!("/products/{mug}/buyers.csv?sort=spend&dir=desc")).dispatch().await;
    assert_eq!(csv.status(), Status::Ok);
    let csv = csv.into_string().await.unwrap();
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
    let ada = app.user("Ada Lovelace", "ada@example.com").await;
    let quiet = app.user("Quiet Person", "quiet@example.com").await;
    let mut products = Vec::new();
    for n in 0..25 {
        products.push(app.product(&format!("Product {n:02}"), &format!("P{n:02}"), 100 + 10 * n, 1000).await);
    }
    // 15 orders, 2 of them cancelled, over the 25 products.
    let mut orders = Vec::new();
    for n in 0..15usize {
        let status = if n % 7 == 3 { "cancelled" } else { "paid" };
        let lines: Vec<(i64, i32)> = (0..3).map(|k| (products[(n * 3 + k) % 25], 1 + (n % 3) as i32)).collect();
        let id = place(&app, ada, status, &lines).await;
        placed_on(&app, id, &format!("2026-02-{:02}", 1 + n)).await;
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
    let bought = bought_in_sql(&app, ada).await;
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
    let shown: Vec<String> = rows_after(&page.body, "id=\"orders-heading\"").iter().map(|row| row[0].clone()).collect();
    assert_eq!(shown, latest.iter().map(|id| format!("#{id}")).collect::<Vec<_>>());
    page.assert_contains(&format!(
        "<a href=\"/orders?user_id={ada}\" role=\"button\" class=\"secondary outline small\">See all 15 orders</a>"
    ));

    // Products bought: the first page of 20 by spend, then the rest.
    let first = rows_after(&page.body, "id=\"products-bought\"");
    assert_eq!(first, bought[..20]);
    let next = pager_link(&page.body, "next").expect("a second page of products");
    assert!(next.ends_with("#products-bought"), "{next}");
    assert_eq!(rows_after(&app.get(request(&next)).await.body, "id=\"products-bought\""), bought[20..]);
    let csv = app.client.get(format!("/users/{ada}/products.csv")).dispatch().await.into_string().await.unwrap();
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
    let ada = app.user("Ada Lovelace", "ada@example.com").await;
    let bob = app.user("Bob Builder", "bob@example.com").await;
    let mug = app.product("Stoneware Mug", "MUG", 1250, 100).await;
    let beans = app.product("Coffee Beans", "BEANS", 1699, 100).await;
    let decaf = app.product("Decaf Coffee Beans", "DECAF", 1599, 100).await;
    place(&app, ada, "paid", &[(mug, 1)]).await;
    place(&app, ada, "pending", &[(mug, 2), (beans, 1)]).await;
    place(&app, bob, "pending", &[(beans, 1)]).await;
    place(&app, bob, "cancelled", &[(mug, 1), (decaf, 1)]).await;

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
        app.get(&format!("/orders/bulk?action=paid&scope=all&filters.product_id={mug}&filters.status=pending")).await;
    review.assert_contains("Mark as paid: 1 order?");
    let done = app.submit(&review, "/orders/bulk").await;
    done.assert_contains("1 order is now paid.");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM orders WHERE status = 'pending'").await, 1);
    let mut conn = app.pool.acquire().await.unwrap();
    assert!(shopdesk::db::stats::verify(&mut conn).await.unwrap().is_empty());
}
