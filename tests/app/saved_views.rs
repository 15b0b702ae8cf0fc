//! Saved views: a list's filters and sort kept under a name, shown above the
//! list, opened with one click, renamed and deleted; private to whoever saved
//! them unless an admin shares them.

use rocket::http::Status;

use crate::harness::{hidden_fields, Page, TestApp};

/// The query string the customers list at `path` would save.
async fn saveable_query(app: &TestApp, path: &str) -> String {
    let page = app.get(path).await;
    let fields = hidden_fields(&page.body, "/views/users");
    let query = fields.into_iter().find(|(name, _)| name == "query").map(|(_, value)| value);
    query.expect("the list offers to save its view").replace("&#38;", "&")
}

/// The ids and queries of the saved views named `name`.
async fn views_named(app: &TestApp, name: &str) -> Vec<(i64, String, bool)> {
    sqlx::query_as("SELECT id, query, shared FROM saved_views WHERE name = $1 ORDER BY id")
        .bind(name)
        .fetch_all(&app.pool)
        .await
        .expect("read saved views")
}

/// Whether the bar above `page`'s list links a view called `name`.
fn shows_view(page: &Page, name: &str) -> bool {
    page.body.contains(&format!("\">{name}</a>"))
}

async fn two_customers(app: &TestApp) {
    app.customer("Ada Lovelace", "ada@example.com").await;
    app.customer("Bob Builder", "bob@example.com").await;
}

#[rocket::async_test]
async fn a_view_is_saved_opened_renamed_and_deleted() {
    let app = TestApp::new().await;
    two_customers(&app).await;
    let query = saveable_query(&app, "/users?q=ada&sort=name&dir=desc").await;
    assert!(query.contains("q=ada") && query.contains("sort=name") && query.contains("dir=desc"), "{query}");

    let saved = app.post("/views/users", &[("name", "Adas"), ("query", &query)]).await;
    assert_eq!(saved.status, Status::SeeOther, "{}", saved.body);
    let opened = app.get(saved.location.as_deref().unwrap_or_default()).await;
    opened.assert_contains("Saved the view “Adas”.");
    assert_eq!(opened.names_linking_to("/users/"), ["Ada Lovelace"]);
    let rows = views_named(&app, "Adas").await;
    assert_eq!(rows.len(), 1);
    let (id, stored, shared) = rows[0].clone();
    assert!(!shared);
    assert!(stored.contains("q=ada") && stored.contains("sort=name"), "{stored}");

    // Listed above the unfiltered list; one click opens it filtered.
    let list = app.get("/users").await;
    assert!(shows_view(&list, "Adas"), "{}", list.body);
    assert_eq!(list.names_linking_to("/users/").len(), 2);
    let href = list.link_before(">Adas</a>").expect("a link to the view");
    let view = app.get(&href).await;
    assert_eq!(view.status, Status::Ok);
    assert_eq!(view.names_linking_to("/users/"), ["Ada Lovelace"]);

    // Renamed from the views page.
    let renamed = app.post_ok(&format!("/views/{id}/rename"), &[("name", "  Only Ada ")]).await;
    renamed.assert_contains("Renamed the view “Adas” to “Only Ada”.");
    assert!(views_named(&app, "Only Ada").await.len() == 1 && views_named(&app, "Adas").await.is_empty());
    assert!(shows_view(&app.get("/users").await, "Only Ada"));

    // Deleted.
    let deleted = app.post_ok(&format!("/views/{id}/delete"), &[]).await;
    deleted.assert_contains("Deleted the view “Only Ada”.");
    assert!(views_named(&app, "Only Ada").await.is_empty());
    assert!(!shows_view(&app.get("/users").await, "Only Ada"));
}

#[rocket::async_test]
async fn every_list_has_the_bar_and_its_views_open_the_list() {
    let app = TestApp::new().await;
    for (list, path) in
        [("products", "/products?q=mug"), ("orders", "/orders?status=paid"), ("audit", "/audit?entity=user")]
    {
        let page = app.get(path).await;
        let fields = hidden_fields(&page.body, &format!("/views/{list}"));
        let query = fields.into_iter().find(|(n, _)| n == "query").map(|(_, v)| v.replace("&#38;", "&"));
        let query = query.unwrap_or_else(|| panic!("{list} has the saved views bar"));
        let name = format!("Mine for {list}");
        let saved = app.post(&format!("/views/{list}"), &[("name", &name), ("query", &query)]).await;
        assert_eq!(saved.status, Status::SeeOther, "{}", saved.body);
        let location = saved.location.unwrap_or_default();
        assert!(location.starts_with(&format!("/{list}?")), "{location}");
        let opened = app.get(&location).await;
        assert_eq!(opened.status, Status::Ok);
        assert!(shows_view(&opened, &name), "{list}");
    }
    assert_eq!(app.get("/views/widgets").await.status, Status::NotFound);
}

#[rocket::async_test]
async fn a_taken_name_is_explained_next_to_the_field_with_the_values_kept() {
    let app = TestApp::new().await;
    two_customers(&app).await;
    let query = saveable_query(&app, "/users?q=ada").await;
    app.post("/views/users", &[("name", "Mine"), ("query", &query)]).await;
    let again = app.post("/views/users", &[("name", "mine"), ("query", "q=bob")]).await;
    assert_eq!(again.status, Status::Ok);
    again.assert_contains("You already have a view called “mine”. Choose another name.");
    again.assert_contains("aria-describedby=\"name-error\"");
    again.assert_contains("value=\"mine\"");
    again.assert_contains("name=\"query\" value=\"q=bob");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM saved_views").await, 1);
    // An empty name is explained too.
    let blank = app.post("/views/users", &[("name", "  "), ("query", &query)]).await;
    blank.assert_contains("Enter a name for the view.");

    // A shared view of the same name is another view; a second shared one is not.
    app.post("/views/users", &[("name", "Mine"), ("query", &query), ("shared", "true")]).await;
    let twice = app.post("/views/users", &[("name", "MINE"), ("query", &query), ("shared", "true")]).await;
    twice.assert_contains("A shared view called “MINE” already exists.");
    twice.assert_contains("checked");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM saved_views").await, 2);

    // Renaming onto a taken name keeps what was typed, next to that view.
    app.post("/views/users", &[("name", "Other"), ("query", &query)]).await;
    let (other, _, _) = views_named(&app, "Other").await[0].clone();
    let clash = app.post(&format!("/views/{other}/rename"), &[("name", "MiNe")]).await;
    assert_eq!(clash.status, Status::Ok);
    clash.assert_contains(&format!("id=\"rename-{other}-error\">You already have a view called “MiNe”."));
    clash.assert_contains("value=\"MiNe\"");
    assert_eq!(views_named(&app, "Other").await.len(), 1);
}

#[rocket::async_test]
async fn private_views_stay_private_and_only_admins_share_or_delete_shared_ones() {
    let admin = TestApp::new().await;
    two_customers(&admin).await;
    let query = saveable_query(&admin, "/users?q=bob").await;
    admin.post("/views/users", &[("name", "Admin own"), ("query", &query)]).await;
    admin.post("/views/users", &[("name", "For everyone"), ("query", &query), ("shared", "true")]).await;

    let viewer = admin.second_app(&[]).await;
    viewer.sign_in_as("viewer@test.example", "viewer").await;
    let list = viewer.get("/users").await;
    assert!(shows_view(&list, "For everyone"), "shared views are listed for all staff");
    assert!(!shows_view(&list, "Admin own"), "private views are not");
    list.assert_lacks("Share with all staff");
    let href = list.link_before(">For everyone</a>");
    let opened = viewer.get(&href.expect("a link to the shared view")).await;
    assert_eq!(opened.names_linking_to("/users/"), ["Bob Builder"]);

    // A viewer saves private views, but cannot share them.
    let saved = viewer.post("/views/users", &[("name", "Viewer own"), ("query", &query)]).await;
    assert_eq!(saved.status, Status::SeeOther, "{}", saved.body);
    let shared = viewer.post("/views/users", &[("name", "Viewer shares"), ("query", &query), ("shared", "true")]).await;
    assert_eq!(shared.status, Status::Ok);
    shared.assert_contains("Only admins can share views; save it as your own.");
    assert!(views_named(&admin, "Viewer shares").await.is_empty());
    assert!(!shows_view(&admin.get("/users").await, "Viewer own"), "a viewer's private view is theirs alone");

    // Nobody renames another's view; a viewer cannot delete a shared one, an admin can.
    let (everyones, _, _) = views_named(&admin, "For everyone").await[0].clone();
    let (admins_own, _, _) = views_named(&admin, "Admin own").await[0].clone();
    assert_eq!(
        viewer.post(&format!("/views/{everyones}/rename"), &[("name", "Mine now")]).await.status,
        Status::NotFound
    );
    let refused = viewer.post_ok(&format!("/views/{everyones}/delete"), &[]).await;
    refused.assert_contains("only they or an admin can delete it");
    assert_eq!(viewer.post(&format!("/views/{admins_own}/delete"), &[]).await.status, Status::NotFound);
    assert_eq!(admin.scalar_i64("SELECT count(*) FROM saved_views").await, 3);
    let (viewers, _, _) = views_named(&admin, "Viewer own").await[0].clone();
    assert_eq!(admin.post(&format!("/views/{viewers}/delete"), &[]).await.status, Status::NotFound);
    // An admin deletes a shared view saved by someone else.
    viewer.post("/views/users", &[("name", "x"), ("query", "")]).await;
    sqlx::query("UPDATE saved_views SET shared = true WHERE name = 'x'").execute(&admin.pool).await.unwrap();
    let (x, _, _) = views_named(&admin, "x").await[0].clone();
    admin.post_ok(&format!("/views/{x}/delete"), &[]).await.assert_contains("Deleted the view “x”.");
    assert!(views_named(&admin, "x").await.is_empty());

    // Forms need the CSRF token.
    let forged = viewer.post_raw("/views/users", &[("name", "Forged"), ("query", "")]).await;
    assert_eq!(forged.status, Status::Forbidden);
}

#[rocket::async_test]
async fn an_obsolete_parameter_in_a_stored_view_is_dropped_not_fatal() {
    let app = TestApp::new().await;
    two_customers(&app).await;
    let staff = app.scalar_i64("SELECT min(id) FROM staff").await;
    sqlx::query(
        "INSERT INTO saved_views (staff_id, list, name, query) VALUES ($1, 'users', 'Old', 'q=bob&colour=blue&after=zzz&sort=name&dir=asc')",
    )
    .bind(staff)
    .execute(&app.pool)
    .await
    .unwrap();
    let list = app.get("/users").await;
    assert_eq!(list.status, Status::Ok);
    let href = list.link_before(">Old</a>").expect("a link to the view");
    assert!(!href.contains("colour") && !href.contains("after="), "{href}");
    assert!(href.contains("q=bob") && href.contains("sort=name"), "{href}");
    assert_eq!(app.get(&href).await.names_linking_to("/users/"), ["Bob Builder"]);
    // The table refuses views of lists it does not know.
    let unknown = sqlx::query("INSERT INTO saved_views (staff_id, list, name, query) VALUES ($1, 'widgets', 'W', '')")
        .bind(staff)
        .execute(&app.pool)
        .await;
    assert!(unknown.unwrap_err().to_string().contains("saved_views_list_known"));
}
