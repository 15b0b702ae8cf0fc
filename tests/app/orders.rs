//! Orders: placing, editing lines without JavaScript, stock, filters, delete.

use crate::harness::{Line, OrderForm, TestApp};
use rocket::http::Status;

struct Shop {
    app: TestApp,
    ada: i64,
    bob: i64,
    mug: i64,
    beans: i64,
}

async fn shop() -> Shop {
    let app = TestApp::new().await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let bob = app.customer("Bob Builder", "bob@example.com").await;
    let mug = app.product("Stoneware Mug", "MUG", 1250, 10).await;
    let beans = app.product("Coffee Beans", "BEANS", 1699, 5).await;
    Shop { app, ada, bob, mug, beans }
}

#[rocket::async_test]
async fn an_order_with_several_lines_is_placed_with_totals_and_stock_taken() {
    let s = shop().await;
    let form = s.app.get(&format!("/orders/new?user_id={}", s.ada)).await;
    assert_eq!(form.status, Status::Ok);
    form.assert_contains(&format!("<option value=\"{}\" selected>Ada Lovelace (ada@example.com)", s.ada));

    let page =
        s.app.place(&OrderForm::for_customer(s.ada).status("paid").lines(&[(s.mug, 2), (s.beans, 3)])).await.page;
    page.assert_contains("placed.");
    page.assert_contains("Stoneware Mug");
    page.assert_contains("$25.00");
    page.assert_contains("$50.97");
    page.assert_contains("$75.97");
    page.assert_contains("status-paid");

    let (total, items): (i64, i32) =
        sqlx::query_as("SELECT total_cents, item_count FROM orders").fetch_one(&s.app.pool).await.unwrap();
    assert_eq!((total, items), (7597, 5));
    assert_eq!(s.app.scalar_i64("SELECT count(*) FROM order_items").await, 2);
    assert_eq!(s.app.stock_of(s.mug).await, 8);
    assert_eq!(s.app.stock_of(s.beans).await, 2);
}

#[rocket::async_test]
async fn a_unit_price_can_be_given_and_is_kept() {
    let s = shop().await;
    let placed = s.app.place(&OrderForm::for_customer(s.ada).with(Line::of(s.mug, 2).unit_price("10"))).await;
    placed.page.assert_contains("$20.00");
    let paid: i64 =
        sqlx::query_scalar("SELECT unit_price_cents FROM order_items").fetch_one(&s.app.pool).await.unwrap();
    assert_eq!(paid, 1000);
}

#[rocket::async_test]
async fn lines_are_added_and_removed_without_javascript() {
    let s = shop().await;
    let page = s.app.post_order(&OrderForm::for_customer(s.ada).line(s.mug, 4).action("add_line")).await;
    assert_eq!(page.status, Status::Ok);
    page.assert_contains("name=\"lines[1].product_id\"");
    page.assert_lacks("name=\"lines[2].product_id\"");
    page.assert_contains("value=\"4\"");
    assert_eq!(s.app.scalar_i64("SELECT count(*) FROM orders").await, 0, "adding a line saves nothing");

    let removed = OrderForm::for_customer(s.ada).line(s.mug, 4).line(s.beans, 1).action("remove:0");
    let page = s.app.post_order(&removed).await;
    page.assert_lacks("name=\"lines[1].product_id\"");
    page.assert_contains(&format!("<option value=\"{}\" selected>", s.beans));
    assert_eq!(s.app.scalar_i64("SELECT count(*) FROM orders").await, 0);
}

#[rocket::async_test]
async fn invalid_orders_explain_each_problem_and_keep_the_values() {
    let s = shop().await;
    let ada = || OrderForm::for_customer(s.ada);

    let page = s.app.post_order(&OrderForm::for_customer("").line("", "")).await;
    assert_eq!(page.status, Status::Ok);
    page.assert_contains("Choose the customer who placed this order.");

    let page = s.app.post_order(&ada()).await;
    page.assert_contains("Add at least one line");

    let page = s.app.post_order(&ada().line(s.mug, 0)).await;
    page.assert_contains("The quantity must be at least 1.");
    // Under the quantity box, not under the product.
    page.assert_contains("id=\"line-0-quantity-error\"");
    page.assert_lacks("id=\"line-0-product-error\"");

    let page = s.app.post_order(&ada().line("", 2)).await;
    page.assert_contains("Choose a product for this line");

    let page = s.app.post_order(&ada().line(s.mug, 1).line(s.mug, 1)).await;
    page.assert_contains("This product is already on line 1");

    let page = s.app.post_order(&OrderForm::for_customer(424242).line(s.beans, 1)).await;
    page.assert_contains("That customer no longer exists");

    let page = s.app.post_order(&ada().line(424242, 1)).await;
    page.assert_contains("This product no longer exists");

    let page = s.app.post_order(&ada().status("lost").line(s.mug, 1)).await;
    page.assert_contains("Choose one of the listed statuses.");

    let page = s.app.post_order(&ada().with(Line::of(s.mug, 1).unit_price("-2"))).await;
    page.assert_contains("The unit price can&#39;t be negative.");

    assert_eq!(s.app.scalar_i64("SELECT count(*) FROM orders").await, 0);
    assert_eq!(s.app.stock_of(s.mug).await, 10);
    assert_eq!(s.app.stock_of(s.beans).await, 5);
}

#[rocket::async_test]
async fn an_order_beyond_stock_names_the_product_and_what_is_left() {
    let s = shop().await;
    let page =
        s.app.post_order(&OrderForm::for_customer(s.ada).status("pending").lines(&[(s.mug, 1), (s.beans, 6)])).await;
    assert_eq!(page.status, Status::Ok);
    page.assert_contains("Not enough Coffee Beans in stock: 5 available, 6 requested.");
    assert_eq!(s.app.scalar_i64("SELECT count(*) FROM orders").await, 0);
    assert_eq!(s.app.stock_of(s.mug).await, 10, "nothing is half-done");
}

#[rocket::async_test]
async fn editing_lines_and_status_moves_stock_both_ways() {
    let s = shop().await;
    let id = s.app.place_order_with_status(s.ada, "pending", &[(s.mug, 3)]).await;
    let form = s.app.get(&format!("/orders/{id}/edit")).await;
    form.assert_contains("value=\"12.50\"");
    form.assert_contains("value=\"3\"");

    let edited = OrderForm::for_customer(s.ada)
        .status("paid")
        .version(1)
        .with(Line::of(s.mug, 5).unit_price("12.50"))
        .line(s.beans, 5);
    let page = s.app.edit_order(id, &edited).await;
    page.assert_contains(&format!("Order #{id} saved."));
    assert_eq!(s.app.stock_of(s.mug).await, 5);
    assert_eq!(s.app.stock_of(s.beans).await, 0);

    // Cancelling returns everything; un-cancelling takes it again.
    s.app.edit_order(id, &OrderForm::for_customer(s.ada).status("cancelled").version(2).line(s.mug, 5)).await;
    assert_eq!(s.app.stock_of(s.mug).await, 10);
    assert_eq!(s.app.stock_of(s.beans).await, 5);
    s.app.edit_order(id, &OrderForm::for_customer(s.ada).status("shipped").version(3).line(s.mug, 5)).await;
    assert_eq!(s.app.stock_of(s.mug).await, 5);
    let total: i64 = sqlx::query_scalar("SELECT total_cents FROM orders").fetch_one(&s.app.pool).await.unwrap();
    assert_eq!(total, 6250);
}

#[rocket::async_test]
async fn a_stale_order_edit_is_refused_and_shows_the_current_order() {
    let s = shop().await;
    let id = s.app.place_order_with_status(s.ada, "pending", &[(s.mug, 1)]).await;
    s.app.edit_order(id, &OrderForm::for_customer(s.ada).status("paid").version(1).line(s.mug, 2)).await;
    let page =
        s.app.post_order_edit(id, &OrderForm::for_customer(s.ada).status("pending").version(1).line(s.mug, 7)).await;
    assert_eq!(page.status, Status::Ok);
    page.assert_contains("Someone else changed this order");
    page.assert_contains("2 × Stoneware Mug");
    page.assert_contains("value=\"7\"");
    assert_eq!(s.app.stock_of(s.mug).await, 8);
}

#[rocket::async_test]
async fn the_orders_list_filters_by_customer_and_status() {
    let s = shop().await;
    s.app.place_order_with_status(s.ada, "paid", &[(s.mug, 1)]).await;
    s.app.place_order_with_status(s.ada, "pending", &[(s.mug, 1)]).await;
    s.app.place_order_with_status(s.bob, "paid", &[(s.beans, 1)]).await;

    let all = s.app.get("/orders").await;
    assert_eq!(all.rows_linking_to("/orders/"), 3);

    let ada = s.app.get(&format!("/orders?user_id={}", s.ada)).await;
    ada.assert_contains("Orders of Ada Lovelace");
    assert_eq!(ada.rows_linking_to("/orders/"), 2);
    ada.assert_lacks("Bob Builder</a></td>");

    let paid = s.app.get("/orders?status=paid").await;
    assert_eq!(paid.rows_linking_to("/orders/"), 2);

    let both = s.app.get(&format!("/orders?user_id={}&status=paid", s.ada)).await;
    assert_eq!(both.rows_linking_to("/orders/"), 1);

    let none = s.app.get("/orders?status=shipped").await;
    none.assert_contains("No orders match.");

    // A nonsense status is ignored rather than failing; a nonsense customer
    // id matches no customer, and the list says so instead of showing all.
    let odd = s.app.get("/orders?status=%3Cscript%3E").await;
    assert_eq!(odd.status, Status::Ok);
    assert_eq!(odd.rows_linking_to("/orders/"), 3);
    let odd = s.app.get("/orders?user_id=abc&status=%3Cscript%3E").await;
    assert_eq!(odd.status, Status::Ok);
    assert_eq!(odd.rows_linking_to("/orders/"), 0);
    odd.assert_contains("No customer has that id");
}

#[rocket::async_test]
async fn deleting_an_order_asks_first_then_removes_its_lines_and_returns_stock() {
    let s = shop().await;
    let id = s.app.place_order_with_status(s.ada, "paid", &[(s.mug, 2), (s.beans, 1)]).await;
    let confirm = s.app.get(&format!("/orders/{id}/delete")).await;
    confirm.assert_contains(&format!("Delete order #{id}?"));
    confirm.assert_contains("The items go back into stock.");
    assert_eq!(s.app.scalar_i64("SELECT count(*) FROM orders").await, 1);

    let page = s.app.delete_order(id, 1).await;
    page.assert_contains(&format!("Order #{id} and its lines deleted."));
    assert_eq!(s.app.scalar_i64("SELECT count(*) FROM orders").await, 0);
    assert_eq!(s.app.scalar_i64("SELECT count(*) FROM order_items").await, 0);
    assert_eq!(s.app.stock_of(s.mug).await, 10);
    assert_eq!(s.app.stock_of(s.beans).await, 5);
}

#[rocket::async_test]
async fn a_new_order_from_a_customer_page_has_the_customer_chosen() {
    let s = shop().await;
    let page = s.app.get(&format!("/orders/new?user_id={}", s.bob)).await;
    page.assert_contains(&format!("<option value=\"{}\" selected>Bob Builder", s.bob));
}

#[rocket::async_test]
async fn pickers_find_customers_and_products_by_any_part_in_any_case() {
    let s = shop().await;
    let json = |body: &str| serde_json::from_str::<Vec<serde_json::Value>>(body).unwrap();
    let ada = json(&s.app.get("/pickers/customers?q=LOVEL").await.body);
    assert_eq!(ada.len(), 1);
    assert_eq!(ada[0]["id"], s.ada);
    assert_eq!(ada[0]["label"], "Ada Lovelace (ada@example.com)");
    assert_eq!(json(&s.app.get("/pickers/customers?q=bob@").await.body)[0]["id"], s.bob);
    assert!(json(&s.app.get("/pickers/customers?q=nobody-like-this").await.body).is_empty());
    assert!(json(&s.app.get("/pickers/customers?q=%25").await.body).is_empty(), "% is matched literally");
    let beans = json(&s.app.get("/pickers/products?q=beans").await.body);
    assert_eq!(beans[0]["label"], "Coffee Beans · BEANS · $16.99 · 5 in stock");
    assert_eq!(json(&s.app.get("/pickers/products?q=mug").await.body)[0]["id"], s.mug);
    for n in 0..30 {
        s.app.customer(&format!("Many {n}"), &format!("many{n}@example.com")).await;
    }
    assert_eq!(json(&s.app.get("/pickers/customers?q=many").await.body).len(), 20, "at most 20 matches");
}

#[rocket::async_test]
async fn a_picker_whose_session_ended_says_so_in_json() {
    let s = shop().await;
    s.app.sign_out().await;
    for path in ["/pickers/customers?q=ada", "/pickers/products?q=mug"] {
        let page = s.app.get(path).await;
        assert_eq!(page.status, Status::Unauthorized, "{path}: not a redirect to an HTML page");
        assert_eq!(page.location, None);
        assert_eq!(page.header("Content-Type"), Some("application/json"));
        let body: serde_json::Value = serde_json::from_str(&page.body).expect("a JSON body");
        assert_eq!(body["error"], "signed_out");
        assert_eq!(body["message"], "Your session ended — sign in again.");
        assert!(page.body.len() < 200, "a small body");
    }
    // The popup says it, with a way back to the page.
    let script = std::fs::read_to_string("static/picker.js").expect("picker.js");
    assert!(script.contains("response.status === 401") && script.contains("Your session ended — sign in again"));
}

#[rocket::async_test]
async fn without_javascript_find_narrows_the_choices_and_saves_nothing() {
    let s = shop().await;
    let empty = s.app.get("/orders/new").await;
    empty.assert_lacks("Ada Lovelace (ada@example.com)");
    empty.assert_contains("<script src=\"/static/picker.js\" defer></script>");

    let find = OrderForm::new()
        .customer_search("ada")
        .with(Line::new().search("BEAN"))
        .with(Line::new().search("mug"))
        .action("find");
    let found = s.app.post_order(&find).await;
    assert_eq!(found.status, Status::Ok);
    // Each search has exactly one match, which it chooses.
    found.assert_contains(&format!("<option value=\"{}\" selected>Ada Lovelace (ada@example.com)</option>", s.ada));
    found.assert_lacks("Bob Builder");
    found.assert_contains(&format!("<option value=\"{}\" selected>Coffee Beans · BEANS", s.beans));
    found.assert_contains(&format!("<option value=\"{}\" selected>Stoneware Mug · MUG", s.mug));
    found.assert_contains("value=\"BEAN\"");
    assert_eq!(s.app.scalar_i64("SELECT count(*) FROM orders").await, 0);

    // Choosing from the narrowed lists and saving places the order.
    let chosen = OrderForm::for_customer(s.ada).line(s.beans, 1).line(s.mug, 2).action("save");
    s.app.place(&chosen).await.page.assert_contains("$41.99");
}

#[rocket::async_test]
async fn the_order_form_stays_small_with_many_customers_and_products() {
    let s = shop().await;
    s.app.generate(shopdesk::generate::Sizes { users: 3_000, products: 1_000, orders: 0 }, 1).await;
    let form = s.app.get(&format!("/orders/new?user_id={}", s.ada)).await;
    assert!(form.body.len() < 30_000, "the new order page is {} bytes", form.body.len());
    let id = s.app.place_order_with_status(s.ada, "pending", &[(s.mug, 1)]).await;
    let edit = s.app.get(&format!("/orders/{id}/edit")).await;
    assert!(edit.body.len() < 30_000, "the edit page is {} bytes", edit.body.len());
    edit.assert_contains("Stoneware Mug · MUG");
}

#[rocket::async_test]
async fn new_lines_hold_a_real_quantity_of_one_and_an_untouched_one_saves() {
    let s = shop().await;
    let form = s.app.get("/orders/new").await;
    for i in 0..3 {
        form.assert_contains(&format!(
            "id=\"line-{i}-quantity\" name=\"lines[{i}].quantity\" value=\"1\" class=\"line-quantity\""
        ));
    }
    form.assert_lacks("placeholder=\"1\"");
    // The unit price's hint says what a blank means.
    form.assert_contains("placeholder=\"current price\"");
    form.assert_contains("Unit price on line 1 (blank for the current price)");

    // The form as a browser sends it: the chosen product, every quantity
    // still 1, the other two lines untouched.
    let untouched = || Line::new().search("").product("").quantity(1).unit_price("");
    let sent = OrderForm::for_customer(s.ada)
        .customer_search("")
        .status("pending")
        .with(Line::of(s.mug, 1).search("").unit_price(""))
        .with(untouched())
        .with(untouched())
        .action("save");
    let page = s.app.place(&sent).await.page;
    page.assert_contains("placed.");
    let lines: Vec<(i64, i32)> =
        sqlx::query_as("SELECT product_id, quantity FROM order_items").fetch_all(&s.app.pool).await.unwrap();
    assert_eq!(lines, [(s.mug, 1)]);
}

#[rocket::async_test]
async fn each_line_error_sits_under_its_own_field() {
    let s = shop().await;
    let unreadable = OrderForm::for_customer(s.ada).with(Line::of(s.mug, "two").unit_price("abc")).line("", 3);
    let page = s.app.post_order(&unreadable).await;
    assert_eq!(page.status, Status::Ok);
    page.assert_contains(
        "<small class=\"field-error\" id=\"line-0-quantity-error\">Enter the quantity as a whole number, like 3.</small>",
    );
    page.assert_contains(
        "<small class=\"field-error\" id=\"line-0-price-error\">Enter a price as a number, like 12.50.</small>",
    );
    page.assert_lacks("id=\"line-0-product-error\"");
    page.assert_contains(
        "<small class=\"field-error\" id=\"line-1-product-error\">Choose a product for this line, or clear the line.</small>",
    );
    page.assert_contains("aria-describedby=\"line-0-quantity-error\"");

    // Not enough stock is about the quantity too.
    let page = s.app.post_order(&OrderForm::for_customer(s.ada).status("pending").line(s.beans, 6)).await;
    page.assert_contains(
        "<small class=\"field-error\" id=\"line-0-quantity-error\">Not enough Coffee Beans in stock: 5 available, 6 requested.</small>",
    );
    // A product already on an earlier line is about the product.
    let again = OrderForm::for_customer(s.ada).status("pending").lines(&[(s.mug, 1), (s.beans, 1), (s.mug, 2)]);
    let page = s.app.post_order(&again).await;
    page.assert_contains("<small class=\"field-error\" id=\"line-2-product-error\">This product is already on line 1");
    assert_eq!(s.app.scalar_i64("SELECT count(*) FROM orders").await, 0);
}

#[rocket::async_test]
async fn without_javascript_a_search_with_one_match_is_chosen_when_saving() {
    let s = shop().await;
    let typed = OrderForm::new()
        .customer_search("lovelace")
        .with(Line::new().search("BEANS").quantity(2))
        .with(Line::new().search("").quantity(1))
        .action("save");
    let page = s.app.place(&typed).await.page;
    page.assert_contains("placed.");
    let (user, product, quantity): (i64, i64, i32) = sqlx::query_as(
        "SELECT o.user_id, i.product_id, i.quantity FROM orders o JOIN order_items i ON i.order_id = o.id",
    )
    .fetch_one(&s.app.pool)
    .await
    .unwrap();
    assert_eq!((user, product, quantity), (s.ada, s.beans, 2));
}

#[rocket::async_test]
async fn searches_that_choose_nothing_say_why_and_every_value_comes_back() {
    let s = shop().await;
    let teapot = || Line::new().search("teapot").quantity(4).unit_price("3.50");
    let typed =
        OrderForm::new().customer_search("e").status("paid").with(teapot()).with(Line::new().search("e").quantity(1));
    let page = s.app.post_order(&typed.action("save")).await;
    assert_eq!(page.status, Status::Ok);
    page.assert_contains("2 customers match “e”: choose one from the list.");
    page.assert_contains("No product matches “teapot”. Check the spelling, or search for another part of it.");
    page.assert_contains("2 products match “e”: choose one from the list.");
    // Everything typed is still there.
    page.assert_contains("name=\"customer_q\" value=\"e\"");
    page.assert_contains("name=\"lines[0].product_q\" value=\"teapot\"");
    page.assert_contains("name=\"lines[0].quantity\" value=\"4\"");
    page.assert_contains("name=\"lines[0].unit_price\" value=\"3.50\"");
    page.assert_contains("<option value=\"paid\" selected>");
    page.assert_contains(&format!("<option value=\"{}\">Ada Lovelace (ada@example.com)</option>", s.ada));
    page.assert_contains(&format!("<option value=\"{}\">Bob Builder (bob@example.com)</option>", s.bob));
    assert_eq!(s.app.scalar_i64("SELECT count(*) FROM orders").await, 0);

    // Adding a line keeps them too, and the new line starts at 1.
    let page = s.app.post_order(&OrderForm::new().customer_search("e").with(teapot()).action("add_line")).await;
    page.assert_contains("name=\"lines[0].unit_price\" value=\"3.50\"");
    page.assert_contains("name=\"lines[1].quantity\" value=\"1\"");
    page.assert_lacks("field-error");
}

#[rocket::async_test]
async fn without_javascript_each_search_comes_before_its_choices_and_the_page_has_no_inline_script() {
    let s = shop().await;
    let page = s.app.get(&format!("/orders/new?user_id={}", s.ada)).await;
    let at = |needle: &str| page.body.find(needle).unwrap_or_else(|| panic!("{needle} is on the page"));
    assert!(at("id=\"customer_q\"") < at("value=\"find\" class=\"secondary outline small picker-find\""));
    assert!(at("id=\"customer_q\"") < at("id=\"user_id\""));
    assert!(at("id=\"user_id\"") < at("id=\"status\""));
    for i in 0..3 {
        assert!(at(&format!("id=\"line-{i}-q\"")) < at(&format!("id=\"line-{i}-product\"")));
        assert!(at(&format!("id=\"line-{i}-product\"")) < at(&format!("id=\"line-{i}-quantity\"")));
        assert!(at(&format!("id=\"line-{i}-quantity\"")) < at(&format!("id=\"line-{i}-price\"")));
    }
    // The chosen customer carries what the combobox shows.
    page.assert_contains("data-chosen-name=\"Ada Lovelace\" data-chosen-detail=\"ada@example.com\"");
    // Scripts come from files only; the new-line template holds one blank line.
    assert_eq!(page.body.matches("<script").count(), page.body.matches("<script src=\"/static/").count());
    page.assert_contains("<script src=\"/static/picker.js\" defer></script>");
    page.assert_contains("<script src=\"/static/order-form.js\" defer></script>");
    let template =
        page.body.split("<template id=\"line-template\">").nth(1).unwrap().split("</template>").next().unwrap();
    assert!(template.contains("name=\"lines[__i__].product_id\"") && template.contains("value=\"1\""), "{template}");
    for script in ["/static/picker.js", "/static/order-form.js"] {
        let served = s.app.get(script).await;
        assert_eq!(served.status, Status::Ok);
        assert!(served.body.contains("\"use strict\""));
    }
}

#[rocket::async_test]
async fn pickers_answer_with_what_a_chosen_item_shows() {
    let s = shop().await;
    let json = |body: &str| serde_json::from_str::<Vec<serde_json::Value>>(body).unwrap();
    let ada = json(&s.app.get("/pickers/customers?q=ada").await.body);
    assert_eq!(ada[0]["name"], "Ada Lovelace");
    assert_eq!(ada[0]["detail"], "ada@example.com");
    assert!(ada[0].get("price_cents").is_none());
    let mug = json(&s.app.get("/pickers/products?q=mug").await.body);
    assert_eq!(mug[0]["name"], "Stoneware Mug");
    assert_eq!(mug[0]["detail"], "MUG · $12.50 · 10 in stock");
    assert_eq!(mug[0]["price_cents"], 1250);
    assert_eq!(mug[0]["stock"], 10);
}

/// An order form for Ada with `n` lines of one mug each, sent with `action`.
fn with_lines(s: &Shop, n: usize, action: &str) -> OrderForm {
    let mut form = OrderForm::for_customer(s.ada).action(action);
    for _ in 0..n {
        form = form.with(Line::of(s.mug, 1));
    }
    form
}

#[rocket::async_test]
async fn the_line_limit_holds_on_save_search_add_and_render() {
    let s = shop().await;
    let form = s.app.get("/orders/new").await;
    form.assert_contains("Up to 100 lines.");
    form.assert_contains("data-max-lines=\"100\"");

    for (n, action) in [(101, "save"), (150, "find"), (130, "add_line"), (120, "remove:0")] {
        let page = s.app.post_order(&with_lines(&s, n, action)).await;
        assert_ne!(page.status, rocket::http::Status::SeeOther, "{action}: nothing is saved");
        page.assert_contains("An order can have at most 100 lines; only the first 100 were kept.");
        page.assert_contains("name=\"lines[99].quantity\"");
        page.assert_lacks("name=\"lines[100].quantity\"");
        page.assert_contains("The order was not saved.");
    }
    // At the limit: adding says why not, and the page offers no button that would.
    let page = s.app.post_order(&with_lines(&s, 100, "add_line")).await;
    page.assert_contains("An order can have at most 100 lines. Remove a line before adding another.");
    page.assert_lacks("name=\"lines[100].quantity\"");
    page.assert_contains("aria-describedby=\"lines-limit\" disabled>+ Add a line");
    page.assert_contains("This order has the most lines an order can have (100).");
    // Removing one frees the button again.
    let page = s.app.post_order(&with_lines(&s, 100, "remove:3")).await;
    page.assert_contains("name=\"lines[98].quantity\"");
    page.assert_lacks("name=\"lines[99].quantity\"");
    page.assert_lacks("aria-describedby=\"lines-limit\" disabled");
    assert_eq!(s.app.scalar_i64("SELECT count(*) FROM orders").await, 0);
}
