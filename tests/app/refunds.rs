//! Refunds and returns: refunding lines with and without restocking, the
//! rules that keep a refund within what was paid (also when two arrive at
//! once, and after a cancel), the order's timeline, and the figures.

use crate::harness::{OrderForm, TestApp};
use rocket::http::Status;

struct Shop {
    app: TestApp,
    ada: i64,
    mug: i64,
    beans: i64,
}

/// A shop with a paid order of 3 mugs ($10.00) and 2 bags of beans ($25.00):
/// $80.00 in all. Returns the shop and the order.
async fn shop_with_paid_order() -> (Shop, i64) {
    let app = TestApp::new().await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let mug = app.product("Stoneware Mug", "MUG", 1000, 10).await;
    let beans = app.product("Coffee Beans", "BEANS", 2500, 5).await;
    let order = app.place_order_with_status(ada, "paid", &[(mug, 3), (beans, 2)]).await;
    (Shop { app, ada, mug, beans }, order)
}

/// The refund form's fields: `(product, quantity, restock)` per line.
fn refund_fields(lines: &[(i64, &str, bool)], extra: &str, reason: &str) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    for (i, (product, quantity, restock)) in lines.iter().enumerate() {
        fields.push((format!("lines[{i}].product_id"), product.to_string()));
        fields.push((format!("lines[{i}].quantity"), quantity.to_string()));
        if *restock {
            fields.push((format!("lines[{i}].restock"), "true".into()));
        }
    }
    fields.push(("extra".into(), extra.into()));
    fields.push(("reason".into(), reason.into()));
    fields
}

async fn post_refund(app: &TestApp, order: i64, fields: &[(String, String)]) -> crate::harness::Page {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    app.post(&format!("/orders/{order}/refund"), &fields).await
}

async fn refunded_of(app: &TestApp, order: i64, product: i64) -> i32 {
    sqlx::query_scalar("SELECT refunded_quantity FROM order_items WHERE order_id = $1 AND product_id = $2")
        .bind(order)
        .bind(product)
        .fetch_one(&app.pool)
        .await
        .expect("the line")
}

#[rocket::async_test]
async fn two_lines_refunded_one_restocked_show_on_the_order_stock_timeline_and_figures() {
    let (s, order) = shop_with_paid_order().await;
    assert_eq!((s.app.stock_of(s.mug).await, s.app.stock_of(s.beans).await), (7, 3));

    let page = s.app.get(&format!("/orders/{order}")).await;
    page.assert_contains(&format!("href=\"/orders/{order}/refund\""));
    let form = s.app.get(&format!("/orders/{order}/refund")).await;
    assert_eq!(form.status, Status::Ok);
    form.assert_contains("at most <strong>$80.00</strong> is left to refund");
    form.assert_contains(&format!("id=\"qty-{}\"", s.mug));

    // Two mugs come back fine, one bag of beans is damaged; $5.00 shipping back too.
    let fields = refund_fields(&[(s.mug, "2", true), (s.beans, "1", false)], "5.00", "Arrived late");
    let posted = post_refund(&s.app, order, &fields).await;
    assert_eq!(posted.status, Status::SeeOther, "{}", posted.body);
    let page = s.app.get(posted.location.as_deref().expect("a redirect")).await;
    page.assert_contains("Refunded $50.00 on order");
    page.assert_contains("status-partially_refunded");
    page.assert_contains("Net total");
    page.assert_contains("$30.00");
    page.assert_contains("1 × Coffee Beans, 2 × Stoneware Mug (restocked); shipping or goodwill $5.00");
    page.assert_contains("Arrived late");
    // The timeline: placed (as paid), then refunded, both by the signed-in admin.
    let timeline = &page.body[page.body.find("id=\"timeline-heading\"").expect("a timeline")..];
    let placed = timeline.find("<strong>Placed</strong>").expect("placed on the timeline");
    let refunded = timeline.find("<strong>Refunded</strong> $50.00: Arrived late").expect("the refund on the timeline");
    assert!(placed < refunded, "oldest first");
    assert!(timeline[..timeline.find("id=\"history-heading\"").unwrap_or(timeline.len())].contains("by Test admin"));

    // The mugs are back on the shelf, the beans are not.
    assert_eq!((s.app.stock_of(s.mug).await, s.app.stock_of(s.beans).await), (9, 3));
    assert_eq!((refunded_of(&s.app, order, s.mug).await, refunded_of(&s.app, order, s.beans).await), (2, 1));
    let (status, refunded): (String, i64) = sqlx::query_as("SELECT status, refunded_cents FROM orders WHERE id = $1")
        .bind(order)
        .fetch_one(&s.app.pool)
        .await
        .unwrap();
    assert_eq!((status.as_str(), refunded), ("partially_refunded", 5000));
    // The restock is audited as a product change, by who refunded.
    assert_eq!(
        s.app
            .scalar_i64(
                "SELECT count(*) FROM audit_log WHERE entity = 'product' AND action = 'update' AND staff_id IS NOT NULL
                    AND (after ->> 'stock')::INT > (before ->> 'stock')::INT"
            )
            .await,
        1
    );

    // Figures: revenue is net of the refund, and the kept figures agree with the orders.
    s.app.assert_figures_exact().await;
    let customer_revenue: i64 = sqlx::query_scalar("SELECT revenue_cents FROM customer_stats WHERE user_id = $1")
        .bind(s.ada)
        .fetch_one(&s.app.pool)
        .await
        .unwrap();
    assert_eq!(customer_revenue, 3000);
    let (units, product_revenue): (i64, i64) =
        sqlx::query_as("SELECT units_sold, revenue_cents FROM product_stats WHERE product_id = $1")
            .bind(s.beans)
            .fetch_one(&s.app.pool)
            .await
            .unwrap();
    assert_eq!((units, product_revenue), (1, 2500));
    let month: (i64, i64, i64) =
        sqlx::query_as("SELECT revenue_cents, refunded_cents, units_sold FROM monthly_revenue")
            .fetch_one(&s.app.pool)
            .await
            .unwrap();
    assert_eq!(month, (3000, 5000, 2));
    let reports = s.app.get("/reports").await;
    reports.assert_contains(
        "<td class=\"num opt\">$80.00</td><td class=\"num opt\">$50.00</td><td class=\"num\">$30.00</td>",
    );

    // Recomputing every figure from scratch gives the same.
    let mut conn = s.app.pool.acquire().await.unwrap();
    shopdesk::db::stats::rebuild(&mut conn).await.unwrap();
    let again: (i64, i64, i64) =
        sqlx::query_as("SELECT revenue_cents, refunded_cents, units_sold FROM monthly_revenue")
            .fetch_one(&s.app.pool)
            .await
            .unwrap();
    assert_eq!(again, month);
    s.app.assert_figures_exact().await;

    // The $5.00 shipping counts against what was paid: the last bag cannot be refunded in full too.
    let fields = refund_fields(&[(s.mug, "1", true), (s.beans, "1", true)], "", "Customer returned the rest");
    let page = post_refund(&s.app, order, &fields).await;
    assert_eq!(page.status, Status::Ok);
    page.assert_contains("at most $30.00 is left to refund on this order");
    // Refunding all that is left makes the order refunded, and nothing more can be refunded.
    let fields = refund_fields(&[(s.mug, "1", true)], "20.00", "Customer returned the rest");
    let posted = post_refund(&s.app, order, &fields).await;
    assert_eq!(posted.status, Status::SeeOther, "{}", posted.body);
    let page = s.app.get(&format!("/orders/{order}")).await;
    page.assert_contains("status-refunded");
    page.assert_lacks(&format!("href=\"/orders/{order}/refund\""));
    let form = s.app.get(&format!("/orders/{order}/refund")).await;
    form.assert_contains("Only paid or shipped orders can be refunded");
    s.app.assert_figures_exact().await;
}

#[rocket::async_test]
async fn a_refund_never_exceeds_what_was_bought_or_paid_and_keeps_what_was_typed() {
    let (s, order) = shop_with_paid_order().await;

    // More mugs than were bought, no reason: both said next to their fields, values kept.
    let fields = refund_fields(&[(s.mug, "4", true), (s.beans, "1", false)], "", "");
    let page = post_refund(&s.app, order, &fields).await;
    assert_eq!(page.status, Status::Ok);
    page.assert_contains("Nothing was refunded");
    page.assert_contains("At most 3 of Stoneware Mug can be refunded.");
    page.assert_contains("Say why the order is refunded");
    page.assert_contains("value=\"4\"");
    page.assert_contains("id=\"qty-");

    // An amount beyond what was paid.
    let fields = refund_fields(&[(s.mug, "3", true)], "60.00", "Goodwill");
    let page = post_refund(&s.app, order, &fields).await;
    assert_eq!(page.status, Status::Ok);
    page.assert_contains("at most $80.00 is left to refund on this order");
    page.assert_contains("value=\"60.00\"");
    page.assert_contains("Goodwill");

    // Nonsense amount, and nothing to refund.
    let page = post_refund(&s.app, order, &refund_fields(&[(s.mug, "x", true)], "abc", "Why not")).await;
    page.assert_contains("Enter an amount, like 5.00");
    page.assert_contains("Enter the quantity as a whole number");
    let page = post_refund(&s.app, order, &refund_fields(&[(s.mug, "0", true)], "", "Why not")).await;
    page.assert_contains("Enter a quantity for at least one line");

    assert_eq!(s.app.scalar_i64("SELECT count(*) FROM refunds").await, 0);
    assert_eq!(s.app.stock_of(s.mug).await, 7);

    // The database refuses an over-refund even if the application did not check.
    let over = sqlx::query("UPDATE order_items SET refunded_quantity = quantity + 1 WHERE order_id = $1")
        .bind(order)
        .execute(&s.app.pool)
        .await
        .expect_err("refused");
    assert!(over.to_string().contains("order_items_refunded_within_quantity"), "{over}");
    let over = sqlx::query("UPDATE orders SET refunded_cents = total_cents + 1 WHERE id = $1")
        .bind(order)
        .execute(&s.app.pool)
        .await
        .expect_err("refused");
    assert!(over.to_string().contains("orders_refund_within_total"), "{over}");
    s.app.assert_figures_exact().await;
}

#[rocket::async_test]
async fn orders_not_paid_cannot_be_refunded_and_refunded_orders_cannot_be_cancelled_or_deleted() {
    let (s, order) = shop_with_paid_order().await;
    let pending = s.app.place_order(s.ada, &[(s.mug, 1)]).await;
    let page = post_refund(&s.app, pending, &refund_fields(&[(s.mug, "1", true)], "", "Changed mind")).await;
    assert_eq!(page.status, Status::Ok);
    page.assert_contains("Only paid or shipped orders can be refunded");

    // Refund after cancel: a cancelled order holds nothing to give back.
    let cancelled = s.app.place_order_with_status(s.ada, "cancelled", &[(s.mug, 1)]).await;
    let page = post_refund(&s.app, cancelled, &refund_fields(&[(s.mug, "1", true)], "", "Changed mind")).await;
    page.assert_contains("order #");
    page.assert_contains("is cancelled");
    let stock_before = s.app.stock_of(s.mug).await;
    assert_eq!(s.app.scalar_i64("SELECT count(*) FROM refunds").await, 0);

    // A refunded order cannot then be cancelled (its refund would count twice).
    let posted = post_refund(&s.app, order, &refund_fields(&[(s.mug, "1", false)], "", "Chipped")).await;
    assert_eq!(posted.status, Status::SeeOther, "{}", posted.body);
    let version: i32 = sqlx::query_scalar("SELECT version FROM orders WHERE id = $1")
        .bind(order)
        .fetch_one(&s.app.pool)
        .await
        .unwrap();
    let form = OrderForm::for_customer(s.ada).status("cancelled").lines(&[(s.mug, 3), (s.beans, 2)]).version(version);
    let page = s.app.post_order_edit(order, &form).await;
    assert_eq!(page.status, Status::Ok, "{}", page.body);
    page.assert_contains("This order has refunds, so it stays partially refunded");
    // Nor can a line fall below what was refunded of it.
    let form = OrderForm::for_customer(s.ada).status("partially_refunded").lines(&[(s.beans, 2)]).version(version);
    let page = s.app.post_order_edit(order, &form).await;
    assert_eq!(page.status, Status::Ok, "{}", page.body);
    page.assert_contains("Lines that were refunded can&#39;t be removed");
    let page = s.app.get(&format!("/orders/{order}")).await;
    page.assert_contains("status-partially_refunded");
    page.assert_lacks(&format!("href=\"/orders/{order}/delete\""));
    assert_eq!(s.app.stock_of(s.mug).await, stock_before, "a damaged item stays off the shelf");
    // Deleting it anyway (the link is gone, the form is not) is refused with a reason.
    let version: i32 = sqlx::query_scalar("SELECT version FROM orders WHERE id = $1")
        .bind(order)
        .fetch_one(&s.app.pool)
        .await
        .unwrap();
    let page = s.app.delete_order(order, version).await;
    page.assert_contains("has refunds, so it can&#39;t be deleted");
    assert_eq!(s.app.scalar_i64("SELECT count(*) FROM orders WHERE status = 'partially_refunded'").await, 1);
    // Cancelling it in bulk skips it and says why.
    let page = s.app.bulk_orders(&format!("action=cancelled&scope=selected&ids={order}")).await;
    page.assert_contains("No order was changed. Skipped 1 order: Has refunds, so its status follows its refunds.");
    assert_eq!(s.app.scalar_i64("SELECT count(*) FROM orders WHERE status = 'cancelled'").await, 1);

    // Viewers see the order but cannot refund.
    s.app.sign_out().await;
    s.app.sign_in_as("viewer@test.example", "viewer").await;
    let page = post_refund(&s.app, order, &refund_fields(&[(s.mug, "1", true)], "", "Sneaky")).await;
    assert_eq!(page.status, Status::Forbidden);
    assert_eq!(s.app.scalar_i64("SELECT count(*) FROM refunds").await, 1);
    s.app.assert_figures_exact().await;
}

/// Refunds one chipped mug (not restocked) of `order`, which must go through.
async fn refund_one_mug(s: &Shop, order: i64) {
    let posted = post_refund(&s.app, order, &refund_fields(&[(s.mug, "1", false)], "", "Chipped")).await;
    assert_eq!(posted.status, Status::SeeOther, "{}", posted.body);
}

async fn status_of(app: &TestApp, order: i64) -> String {
    sqlx::query_scalar("SELECT status FROM orders WHERE id = $1")
        .bind(order)
        .fetch_one(&app.pool)
        .await
        .expect("the order")
}

#[rocket::async_test]
async fn the_order_form_keeps_a_refunded_orders_status_and_says_why_next_to_it() {
    let (s, order) = shop_with_paid_order().await;
    refund_one_mug(&s, order).await;

    // The form offers only the refund status, and says it follows the refunds.
    let form = s.app.get(&format!("/orders/{order}/edit")).await;
    form.assert_contains("<option value=\"partially_refunded\" selected>Partially refunded</option>");
    form.assert_lacks("<option value=\"paid\"");
    form.assert_contains("This order has refunds: its status follows them.");

    // Sending "paid" anyway (an old tab, a crafted form) is refused next to
    // the status field, with the lines as typed.
    let version = s.app.version_of("orders", order).await;
    for status in ["paid", "shipped", "pending", "refunded"] {
        let edit = OrderForm::for_customer(s.ada).status(status).lines(&[(s.mug, 4), (s.beans, 2)]).version(version);
        let page = s.app.post_order_edit(order, &edit).await;
        assert_eq!(page.status, Status::Ok, "{status}: {}", page.body);
        page.assert_contains("This order has refunds, so it stays partially refunded: its status follows its refunds.");
        page.assert_contains("id=\"status-error\"");
        page.assert_contains("value=\"4\"");
    }
    assert_eq!(status_of(&s.app, order).await, "partially_refunded");
    assert_eq!(s.app.version_of("orders", order).await, version, "nothing was saved");

    // Keeping its status, the rest of the order can still be edited.
    let edit =
        OrderForm::for_customer(s.ada).status("partially_refunded").lines(&[(s.mug, 4), (s.beans, 2)]).version(version);
    s.app.edit_order(order, &edit).await.assert_contains(&format!("Order #{order} saved."));
    assert_eq!(status_of(&s.app, order).await, "partially_refunded");

    // Nor can an order without refunds be marked refunded by hand.
    let paid = s.app.place_order_with_status(s.ada, "paid", &[(s.mug, 1)]).await;
    let edit = OrderForm::for_customer(s.ada)
        .status("refunded")
        .lines(&[(s.mug, 1)])
        .version(s.app.version_of("orders", paid).await);
    let page = s.app.post_order_edit(paid, &edit).await;
    assert_eq!(page.status, Status::Ok, "{}", page.body);
    page.assert_contains("The refunded statuses follow refunds");
    assert_eq!(status_of(&s.app, paid).await, "paid");
    s.app.assert_figures_exact().await;
}

#[rocket::async_test]
async fn a_bulk_status_change_skips_orders_with_refunds_and_changes_the_rest() {
    let (s, refunded) = shop_with_paid_order().await;
    refund_one_mug(&s, refunded).await;
    let paid = s.app.place_order_with_status(s.ada, "paid", &[(s.mug, 1)]).await;
    let shipped = s.app.place_order_with_status(s.ada, "shipped", &[(s.beans, 1)]).await;

    let ids = format!("ids={refunded}&ids={paid}&ids={shipped}");
    let page = s.app.bulk_orders(&format!("action=shipped&scope=selected&{ids}")).await;
    page.assert_contains(
        "1 order is now shipped. 1 was already shipped. Skipped 1 order: Has refunds, so its status follows its refunds.",
    );
    assert_eq!(status_of(&s.app, refunded).await, "partially_refunded");
    assert_eq!(status_of(&s.app, paid).await, "shipped");

    // A refund status is not among the bulk actions, even asked for by hand.
    let review = s.app.review_bulk_orders(&format!("action=refunded&scope=selected&ids={paid}")).await;
    review.assert_contains("Choose what to do with the orders.");
    s.app.assert_figures_exact().await;
}

#[rocket::async_test]
async fn the_database_keeps_the_refund_status_of_an_order_with_refunds_whatever_path_writes() {
    let (s, order) = shop_with_paid_order().await;
    refund_one_mug(&s, order).await;
    for status in ["paid", "shipped", "pending", "cancelled"] {
        let refused = sqlx::query("UPDATE orders SET status = $2 WHERE id = $1")
            .bind(order)
            .bind(status)
            .execute(&s.app.pool)
            .await
            .expect_err("refused");
        let constraint = refused.as_database_error().and_then(|e| e.constraint()).unwrap_or_default().to_string();
        assert!(
            ["orders_refunds_keep_refund_status", "orders_refunded_not_cancelled"].contains(&constraint.as_str()),
            "{status}: {refused}"
        );
    }
    // Between the two refund statuses is allowed (a refund moves it on), and
    // an order without refunds cannot have one.
    sqlx::query("UPDATE orders SET status = 'refunded' WHERE id = $1")
        .bind(order)
        .execute(&s.app.pool)
        .await
        .expect("allowed");
    let fresh = s.app.place_order_with_status(s.ada, "paid", &[(s.mug, 1)]).await;
    let refused = sqlx::query("UPDATE orders SET status = 'partially_refunded' WHERE id = $1")
        .bind(fresh)
        .execute(&s.app.pool)
        .await
        .expect_err("refused");
    assert!(refused.to_string().contains("orders_refund_status_needs_refund"), "{refused}");
}

#[rocket::async_test]
async fn refunds_submitted_at_once_never_over_refund() {
    let (s, order) = shop_with_paid_order().await;
    // Eight people each refund 2 of the 3 mugs at the same moment: one wins.
    let fields = refund_fields(&[(s.mug, "2", true)], "", "Returned");
    let answers = futures::future::join_all((0..8).map(|_| post_refund(&s.app, order, &fields))).await;
    let done = answers.iter().filter(|p| p.status == Status::SeeOther).count();
    assert_eq!(done, 1, "exactly one refund of 2 of 3 mugs goes through");
    for refused in answers.iter().filter(|p| p.status != Status::SeeOther) {
        assert_eq!(refused.status, Status::Ok);
        refused.assert_contains("can be refunded");
    }
    assert_eq!(refunded_of(&s.app, order, s.mug).await, 2);
    assert_eq!(s.app.stock_of(s.mug).await, 9);

    // Eight more, each giving back $50.00 of goodwill on the $60.00 left: one wins.
    let fields = refund_fields(&[], "50.00", "Goodwill");
    let answers = futures::future::join_all((0..8).map(|_| post_refund(&s.app, order, &fields))).await;
    assert_eq!(answers.iter().filter(|p| p.status == Status::SeeOther).count(), 1);
    let refunded: i64 = sqlx::query_scalar("SELECT refunded_cents FROM orders WHERE id = $1")
        .bind(order)
        .fetch_one(&s.app.pool)
        .await
        .unwrap();
    assert_eq!(refunded, 2000 + 5000);
    s.app.assert_figures_exact().await;
}
