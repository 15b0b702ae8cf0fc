//! Customers: list, search, view, create, edit and delete, through HTTP.

use crate::harness::TestApp;
use rocket::http::Status;

#[rocket::async_test]
async fn a_new_customer_is_created_and_shown() {
    let app = TestApp::new().await;
    let form = app.get("/users/new").await;
    assert_eq!(form.status, Status::Ok);
    form.assert_contains("New customer");

    let page = app.create_customer("Ada Lovelace", "ada@example.com").await;
    page.assert_contains("Customer Ada Lovelace created.");
    page.assert_contains("ada@example.com");
    let (name, email): (String, String) =
        sqlx::query_as("SELECT name, email FROM users").fetch_one(&app.pool).await.unwrap();
    assert_eq!((name.as_str(), email.as_str()), ("Ada Lovelace", "ada@example.com"));

    let list = app.get("/users").await;
    list.assert_contains("Ada Lovelace");
}

#[rocket::async_test]
async fn an_invalid_email_is_refused_next_to_the_field_with_values_kept() {
    let app = TestApp::new().await;
    for bad in ["not-an-email", "a@", "@b.com", "two words@example.com", "ada@localhost"] {
        let page = app.post_new_customer("Ada <Lovelace>", bad).await;
        assert_eq!(page.status, Status::Ok, "{bad}");
        page.assert_contains("Enter a valid email address");
        page.assert_contains("id=\"email-error\"");
        // The typed values come back, escaped.
        page.assert_contains("value=\"Ada &#60;Lovelace&#62;\"");
    }
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 0);
}

#[rocket::async_test]
async fn missing_fields_are_explained() {
    let app = TestApp::new().await;
    let page = app.post("/users", &[]).await;
    assert_eq!(page.status, Status::Ok);
    page.assert_contains("Enter a name.");
    page.assert_contains("Enter an email address.");
    let page = app.post_new_customer("   ", "x@example.com").await;
    page.assert_contains("Enter a name.");
    page.assert_contains("value=\"x@example.com\"");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 0);
}

#[rocket::async_test]
async fn a_duplicate_email_in_any_letter_case_is_refused() {
    let app = TestApp::new().await;
    app.customer("Ada", "ada@example.com").await;
    let page = app.post_new_customer("Impostor", "ADA@Example.COM").await;
    assert_eq!(page.status, Status::Ok);
    page.assert_contains("A customer with this email already exists");
    page.assert_contains("value=\"Impostor\"");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 1);
}

#[rocket::async_test]
async fn editing_changes_the_email() {
    let app = TestApp::new().await;
    let id = app.customer("Grace Hopper", "grace@example.com").await;
    let form = app.get(&format!("/users/{id}/edit")).await;
    form.assert_contains("value=\"grace@example.com\"");
    form.assert_contains("name=\"version\" value=\"1\"");

    let page = app.edit_customer(id, "Grace Hopper", "grace@navy.mil", 1).await;
    page.assert_contains("Customer Grace Hopper saved.");
    page.assert_contains("grace@navy.mil");
    let email: String =
        sqlx::query_scalar("SELECT email FROM users WHERE id = $1").bind(id).fetch_one(&app.pool).await.unwrap();
    assert_eq!(email, "grace@navy.mil");
}

#[rocket::async_test]
async fn editing_into_a_taken_email_is_refused() {
    let app = TestApp::new().await;
    app.customer("Ada", "ada@example.com").await;
    let id = app.customer("Grace", "grace@example.com").await;
    let page = app.post_customer_edit(id, "Grace", "Ada@example.com", 1).await;
    assert_eq!(page.status, Status::Ok);
    page.assert_contains("A customer with this email already exists");
    let email: String =
        sqlx::query_scalar("SELECT email FROM users WHERE id = $1").bind(id).fetch_one(&app.pool).await.unwrap();
    assert_eq!(email, "grace@example.com");
}

#[rocket::async_test]
async fn a_stale_edit_does_not_overwrite_a_newer_one() {
    let app = TestApp::new().await;
    let id = app.customer("Alan", "alan@example.com").await;
    // Someone else saves first (version 1 → 2).
    app.edit_customer(id, "Alan Turing", "alan@example.com", 1).await;
    // Our form was opened at version 1.
    let page = app.post_customer_edit(id, "Alan M.", "alan@bletchley.uk", 1).await;
    assert_eq!(page.status, Status::Ok);
    page.assert_contains("Someone else changed this customer");
    page.assert_contains("Alan Turing");
    page.assert_contains("value=\"alan@bletchley.uk\"");
    page.assert_contains("name=\"version\" value=\"2\"");
    let name: String =
        sqlx::query_scalar("SELECT name FROM users WHERE id = $1").bind(id).fetch_one(&app.pool).await.unwrap();
    assert_eq!(name, "Alan Turing");
    // Re-applying from the conflict page saves.
    app.edit_customer(id, "Alan M.", "alan@bletchley.uk", 2).await;
    let name: String =
        sqlx::query_scalar("SELECT name FROM users WHERE id = $1").bind(id).fetch_one(&app.pool).await.unwrap();
    assert_eq!(name, "Alan M.");
}

#[rocket::async_test]
async fn search_finds_by_name_or_email_and_pages() {
    let app = TestApp::new().await;
    app.customer("Ada Lovelace", "ada@example.com").await;
    app.customer("Grace Hopper", "grace@navy.mil").await;
    let page = app.get("/users?q=hopper").await;
    page.assert_contains("Grace Hopper");
    page.assert_lacks("Ada Lovelace");
    let page = app.get("/users?q=EXAMPLE.COM").await;
    page.assert_contains("Ada Lovelace");
    page.assert_lacks("Grace Hopper");
    let page = app.get("/users?q=%25").await;
    page.assert_contains("No customer matches");
}

#[rocket::async_test]
async fn a_customer_page_shows_all_their_orders_with_totals() {
    let app = TestApp::new().await;
    let id = app.customer("Ada", "ada@example.com").await;
    let other = app.customer("Bob", "bob@example.com").await;
    let mug = app.product("Mug", "MUG", 1250, 50).await;
    for (customer, qty) in [(id, 2), (id, 3), (other, 1)] {
        app.place_order_with_status(customer, "paid", &[(mug, qty)]).await;
    }
    let page = app.get(&format!("/users/{id}")).await;
    page.assert_contains("$25.00");
    page.assert_contains("$37.50");
    page.assert_contains("$62.50");
    page.assert_lacks("$12.50");
}

#[rocket::async_test]
async fn deleting_a_customer_with_orders_is_refused_with_the_reason() {
    let app = TestApp::new().await;
    let id = app.customer("Ada", "ada@example.com").await;
    let mug = app.product("Mug", "MUG", 1250, 50).await;
    app.place_order(id, &[(mug, 1)]).await;

    let confirm = app.get(&format!("/users/{id}/delete")).await;
    confirm.assert_contains("can't be deleted");
    confirm.assert_contains("1 order");
    let page = app.delete_customer(id, 1).await;
    page.assert_contains("Ada can&#39;t be deleted: they have 1 order (cancelled or not).");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 1);
}

#[rocket::async_test]
async fn deleting_a_customer_asks_first_then_removes_them() {
    let app = TestApp::new().await;
    let id = app.customer("Ada", "ada@example.com").await;
    let confirm = app.get(&format!("/users/{id}/delete")).await;
    confirm.assert_contains("Delete Ada?");
    confirm.assert_contains("Delete customer");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 1);
    let page = app.delete_customer(id, 1).await;
    page.assert_contains("Customer Ada deleted.");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 0);
}

#[rocket::async_test]
async fn unknown_customers_get_a_friendly_404() {
    let app = TestApp::new().await;
    for path in ["/users/999", "/users/999/edit", "/users/abc", "/users/999/delete"] {
        let page = app.get(path).await;
        assert_eq!(page.status, Status::NotFound, "{path}");
        page.assert_contains("Page not found");
    }
    let page = app.post_customer_edit(999, "X", "x@example.com", 1).await;
    assert_eq!(page.status, Status::NotFound);
}

#[rocket::async_test]
async fn deleting_a_customer_changed_meanwhile_asks_again() {
    let app = TestApp::new().await;
    let id = app.customer("Ada", "ada@example.com").await;
    let confirm = app.get(&format!("/users/{id}/delete")).await;
    confirm.assert_contains("name=\"version\" value=\"1\"");
    // Someone edits her while the confirmation is open.
    app.edit_customer(id, "Ada King", "ada@example.com", 1).await;
    let page = app.delete_customer(id, 1).await;
    page.assert_contains("was changed by someone else while you were deciding");
    page.assert_contains("name=\"version\" value=\"2\"");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 1);
}
