//! Sign-in, roles, CSRF, security headers, escaping and the audit trail.

use crate::harness::{url_encode, Line, OrderForm, TestApp, PASSWORD};
use rocket::http::{Method, Status};

/// Row counts and a digest of every table the shop keeps, to prove nothing changed.
async fn snapshot(app: &TestApp) -> String {
    sqlx::query_scalar(
        "SELECT concat_ws('|',
            (SELECT md5(coalesce(string_agg(u::text, ',' ORDER BY id), '')) FROM users u),
            (SELECT md5(coalesce(string_agg(p::text, ',' ORDER BY id), '')) FROM products p),
            (SELECT md5(coalesce(string_agg(o::text, ',' ORDER BY id), '')) FROM orders o),
            (SELECT md5(coalesce(string_agg(i::text, ',' ORDER BY order_id, product_id), '')) FROM order_items i),
            (SELECT md5(coalesce(string_agg(s::text, ',' ORDER BY id), '')) FROM staff s))",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// A shop with one of everything, so routes with id 1 find a record.
async fn stocked(app: &TestApp) {
    let ada = app.customer("Ada", "ada@example.com").await;
    let mug = app.product("Mug", "MUG", 1000, 10).await;
    assert_eq!((ada, mug), (1, 1));
    app.place_order(ada, &[(mug, 1)]).await;
    // Change set 1, for the change set pages (`/changes/1`).
    sqlx::query("INSERT INTO change_sets (kind, summary) VALUES ('bulk', 'Nothing yet')")
        .execute(&app.pool)
        .await
        .unwrap();
}

/// Open without a session: signing in (both steps), and the probes for load
/// balancers and Prometheus (which has its own bearer token).
const PUBLIC_GETS: [&str; 5] = ["/sign-in", "/sign-in/code", "/healthz", "/readyz", "/metrics"];

#[rocket::async_test]
async fn every_page_needs_a_session_and_returns_to_it_after_sign_in() {
    let app = TestApp::with_demo(false).await;
    let gets = app.routes(Method::Get);
    assert!(gets.len() >= 15, "route table walked: {gets:?}");
    for path in gets.iter().filter(|p| !PUBLIC_GETS.contains(&p.as_str()) && !p.starts_with("/static")) {
        let page = app.get(path).await;
        if path.starts_with("/pickers/") {
            // Searches answer scripts, not people: 401 with a JSON reason.
            assert_eq!(page.status, Status::Unauthorized, "{path} must require a session");
            assert_eq!(page.header("Content-Type"), Some("application/json"), "{path}");
            continue;
        }
        assert_eq!(page.status, Status::SeeOther, "{path} must require a session");
        let location = page.location.unwrap();
        assert!(location.starts_with("/sign-in?next="), "{path} → {location}");
    }
    // After signing in, the browser goes back to the page it asked for.
    app.staff("ada@shop.example", "admin").await;
    let asked = app.get("/orders?status=paid").await;
    let location = asked.location.unwrap();
    assert_eq!(location, "/sign-in?next=%2Forders%3Fstatus%3Dpaid");
    app.refresh_csrf(&location).await;
    let form = app.get(&location).await;
    form.assert_contains("name=\"next\" value=\"/orders?status=paid\"");
    let done = app.sign_in_to("ada@shop.example", PASSWORD, "/orders?status=paid").await;
    assert_eq!(done.location.as_deref(), Some("/orders?status=paid"));
    assert_eq!(app.get("/orders?status=paid").await.status, Status::Ok);
}

#[rocket::async_test]
async fn every_state_changing_route_refuses_a_missing_or_wrong_csrf_token() {
    let app = TestApp::new().await;
    stocked(&app).await;
    let posts = app.routes(Method::Post);
    assert!(posts.len() >= 12, "route table walked: {posts:?}");
    let before = snapshot(&app).await;
    for path in &posts {
        let fields = [("name", "Changed"), ("email", "changed@example.com"), ("version", "1"), ("user_id", "1")];
        let missing = app.post_raw(path, &fields).await;
        assert_eq!(missing.status, Status::Forbidden, "{path} without a token");
        let mut wrong = vec![("csrf", "not-the-token")];
        wrong.extend_from_slice(&fields);
        assert_eq!(app.post_raw(path, &wrong).await.status, Status::Forbidden, "{path} with a wrong token");
    }
    assert_eq!(snapshot(&app).await, before, "nothing changed");
    // The same session with its token still works: the refusals were about the token.
    app.create_customer("Grace", "grace@example.com").await;
}

#[rocket::async_test]
async fn a_viewer_sees_everything_and_changes_nothing() {
    let app = TestApp::new().await;
    stocked(&app).await;
    // Sign the admin out and a viewer in, on the same database.
    app.sign_out().await;
    app.sign_in_as("viewer@test.example", "viewer").await;

    for path in app.routes(Method::Get).iter().filter(|p| !p.starts_with("/static") && !p.contains("sign-in")) {
        // Saved views are kept per list, named in the path.
        let path = if path == "/views/1" { "/views/orders" } else { path.as_str() };
        // Jobs (and export files) exist only once a large bulk action or
        // export queued one; the list stands in.
        let path = if path == "/jobs/1" || path == "/jobs/1/download" { "/jobs" } else { path };
        let page = app.get(path).await;
        if path == "/metrics" {
            // For scrapers with the metrics token only.
            assert_eq!(page.status, Status::Unauthorized);
            continue;
        }
        assert_eq!(page.status, Status::Ok, "a viewer can see {path}");
    }
    let edit = app.get("/users/1/edit").await;
    edit.assert_contains("<fieldset class=\"plain\" disabled>");
    edit.assert_contains("read-only account");
    app.get("/users").await.assert_lacks("Add customer");
    app.get("/orders/1").await.assert_lacks("/orders/1/edit");

    let before = snapshot(&app).await;
    // Everyone manages their own account (see `two_factor`) and their own
    // saved views (see `saved_views`); nothing else.
    let own = |p: &&String| p.starts_with("/sign-") || p.starts_with("/account") || p.starts_with("/views");
    for path in app.routes(Method::Post).iter().filter(|p| !own(p)) {
        let fields = [
            ("name", "Changed"),
            ("email", "changed@example.com"),
            ("version", "1"),
            ("user_id", "1"),
            ("change", "role"),
            ("role", "admin"),
        ];
        let page = app.post(path, &fields).await;
        assert_eq!(page.status, Status::Forbidden, "a viewer must get 403 from {path}");
    }
    assert_eq!(snapshot(&app).await, before, "nothing changed");
}

#[rocket::async_test]
async fn sign_in_never_redirects_off_site() {
    let app = TestApp::with_demo(false).await;
    app.staff("ada@shop.example", "admin").await;
    app.refresh_csrf("/sign-in").await;
    for hostile in ["https://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)"] {
        let page = app.sign_in_to("ada@shop.example", PASSWORD, hostile).await;
        assert_eq!(page.location.as_deref(), Some("/"), "{hostile}");
        let again = app.get(&format!("/sign-in?next={}", url_encode(hostile))).await;
        assert_eq!(again.location.as_deref(), Some("/"), "signed in, {hostile}");
        app.sign_out().await;
    }
}

#[rocket::async_test]
async fn failed_sign_ins_are_throttled_then_released() {
    let app = TestApp::with_demo(false).await;
    app.staff("ada@shop.example", "admin").await;
    app.refresh_csrf("/sign-in").await;
    let unknown = app.sign_in("nobody@shop.example", "whatever").await;
    let wrong = app.sign_in("ada@shop.example", "wrong").await;
    // The same answer whether or not the account exists.
    for page in [&unknown, &wrong] {
        assert_eq!(page.status, Status::Ok);
        page.assert_contains("That email and password do not match an active account.");
    }
    for _ in 0..4 {
        app.sign_in("ADA@shop.example", "wrong").await;
    }
    // Now even the right password is refused for a while.
    let locked = app.sign_in("ada@shop.example", PASSWORD).await;
    assert_eq!(locked.status, Status::TooManyRequests);
    locked.assert_contains("Too many failed sign-ins");
    locked.assert_contains("try again in 15 minutes");
    // The lock holds in the database, so it survives restarts; time releases it.
    sqlx::query("UPDATE sign_in_attempts SET at = at - interval '16 minutes'").execute(&app.pool).await.unwrap();
    let ok = app.sign_in("ada@shop.example", PASSWORD).await;
    assert_eq!(ok.status, Status::SeeOther);
}

#[rocket::async_test]
async fn disabling_changing_a_password_or_signing_out_ends_sessions() {
    let app = TestApp::new().await;
    let viewer_id = app.staff("viewer@shop.example", "viewer").await;

    // A session copied before sign-out no longer works after it.
    let cookies: Vec<_> = app.client.cookies().iter().map(|c| c.clone().into_owned()).collect();
    assert_eq!(app.get("/").await.status, Status::Ok);
    app.post("/sign-out", &[]).await;
    let mut replay = app.client.get("/");
    for c in &cookies {
        replay = replay.cookie(c.clone());
    }
    let replayed = replay.dispatch().await;
    assert_eq!(replayed.status(), Status::SeeOther, "a copied cookie dies at sign-out");

    // Disable and password change bump the epoch, which ends sessions.
    app.sign_in_as("boss@shop.example", "admin").await;
    let epoch = |id: i64| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i32>("SELECT session_epoch FROM staff WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let e0 = epoch(viewer_id).await;
    app.post_ok(&format!("/staff/{viewer_id}"), &[("change", "password"), ("password", "another long password")]).await;
    assert_eq!(epoch(viewer_id).await, e0 + 1);
    app.post_ok(&format!("/staff/{viewer_id}"), &[("change", "disable")]).await;
    assert_eq!(epoch(viewer_id).await, e0 + 2);

    // A disabled account cannot sign in even with the right password.
    app.sign_out().await;
    let page = app.sign_in("viewer@shop.example", "another long password").await;
    page.assert_contains("do not match an active account");
}

#[rocket::async_test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::new().await;
    stocked(&app).await;
    let mut paths = app.routes(Method::Get);
    paths.retain(|p| !p.starts_with("/static"));
    paths.extend(["/static/app.css".to_string(), "/no/such/page".to_string()]);
    for path in paths {
        let page = app.get(&path).await;
        let csp = page.header("Content-Security-Policy").unwrap_or_default();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert_eq!(page.header("X-Frame-Options"), Some("DENY"), "{path}");
        assert_eq!(page.header("X-Content-Type-Options"), Some("nosniff"), "{path}");
        assert_eq!(page.header("Referrer-Policy"), Some("same-origin"), "{path}");
        assert!(page.header("Permissions-Policy").unwrap_or_default().contains("camera=()"), "{path}");
    }
    // Session and CSRF cookies are HttpOnly and SameSite.
    app.sign_out().await;
    let signed_in = app.sign_in("admin@test.example", PASSWORD).await;
    let cookies: Vec<&str> = signed_in.headers("Set-Cookie").collect();
    assert!(cookies.iter().any(|c| c.starts_with("shopdesk_session=")), "{cookies:?}");
    for cookie in cookies {
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    }
}

#[rocket::async_test]
async fn typed_script_renders_inert_everywhere() {
    let app = TestApp::new().await;
    let evil = "<script>alert(1)</script>";
    let user = app.customer(evil, "x@example.com").await;
    sqlx::query("UPDATE users SET email = $1 WHERE id = $2")
        .bind(format!("\"{evil}\"@example.com"))
        .bind(user)
        .execute(&app.pool)
        .await
        .unwrap();
    let product = app.product(evil, evil, 100, 5).await;
    app.staff("evil@example.com", "viewer").await;
    sqlx::query("UPDATE staff SET display_name = $1").bind(evil).execute(&app.pool).await.unwrap();
    app.place_order(user, &[(product, 1)]).await;
    let page = app.post_new_customer(evil, "not an email").await;
    page.assert_lacks(evil);
    for path in [
        "/",
        "/users",
        &format!("/users/{user}"),
        &format!("/users/{user}/edit"),
        "/products",
        &format!("/products/{product}"),
        &format!("/products/{product}/edit"),
        "/orders",
        "/orders/1",
        "/orders/1/edit",
        "/orders/new",
        "/reports",
        "/audit",
        "/staff",
        &format!("/users?q={}", url_encode(evil)),
    ] {
        let page = app.get(path).await;
        assert_eq!(page.status, Status::Ok, "{path}");
        page.assert_lacks("<script>alert");
        assert!(page.body.contains("&#60;script&#62;"), "{path} shows the text escaped");
    }
}

#[rocket::async_test]
async fn the_audit_trail_records_who_changed_what() {
    let app = TestApp::new().await;
    let admin: i64 = sqlx::query_scalar("SELECT id FROM staff WHERE email = 'admin@test.example'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    app.create_customer("Grace", "grace@example.com").await;
    app.edit_customer(1, "Grace", "grace@navy.mil", 1).await;

    let (staff_id, action, before, after): (Option<i64>, String, Option<serde_json::Value>, Option<serde_json::Value>) =
        sqlx::query_as(
            "SELECT staff_id, action, before, after FROM audit_log WHERE entity = 'user' ORDER BY id DESC LIMIT 1",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!((staff_id, action.as_str()), (Some(admin), "update"));
    assert_eq!(before.unwrap()["email"], "grace@example.com");
    assert_eq!(after.unwrap()["email"], "grace@navy.mil");

    let history = app.get("/users/1").await;
    history.assert_contains("Changed customer Grace");
    history.assert_contains("Changed email from <del>grace@example.com</del> to <ins>grace@navy.mil</ins>");

    // An order and its lines; editing one line records just that line.
    let mug = app.product("Mug", "MUG", 1000, 10).await;
    let tea = app.product("Tea", "TEA", 500, 10).await;
    let order = app.place_order(1, &[(mug, 1), (tea, 1)]).await;
    let lines_created =
        app.scalar_i64("SELECT count(*) FROM audit_log WHERE entity = 'order_line' AND action = 'create'").await;
    assert_eq!(lines_created, 2);
    let edited = OrderForm::for_customer(1)
        .status("pending")
        .version(1)
        .with(Line::of(mug, 3).unit_price("10.00"))
        .with(Line::of(tea, 1).unit_price("5.00"));
    app.edit_order(order, &edited).await;
    let line_updates: Vec<serde_json::Value> =
        sqlx::query_scalar("SELECT after FROM audit_log WHERE entity = 'order_line' AND action = 'update'")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(line_updates.len(), 1);
    assert_eq!(line_updates[0]["quantity"], 3);
    let order_page = app.get(&format!("/orders/{order}")).await;
    order_page.assert_contains("Changed Mug");
    // Fields read as people say them, money as dollars.
    order_page.assert_contains("Added 1 × Mug at $10.00 each");
    order_page.assert_contains("Quantity: <del>1</del> → <ins>3</ins>");
    order_page.assert_lacks("unit_price_cents");

    // Deleting keeps the last values.
    app.delete_order(order, 2).await;
    let deleted: serde_json::Value =
        sqlx::query_scalar("SELECT before FROM audit_log WHERE entity = 'order' AND action = 'delete'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(deleted["total_cents"], 3500);

    // Staff events: the sign-in, and a role change.
    let viewer = app.staff("v@example.com", "viewer").await;
    app.post_ok(&format!("/staff/{viewer}"), &[("change", "role"), ("role", "admin")]).await;
    assert_eq!(app.scalar_i64("SELECT count(*) FROM audit_log WHERE entity = 'staff' AND action = 'sign_in'").await, 1);
    let role: serde_json::Value = sqlx::query_scalar("SELECT after FROM audit_log WHERE action = 'role_change'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(role["role"], "admin");

    // The audit log page lists it all, newest first, and filters.
    let log = app.get("/audit").await;
    log.assert_contains("Staff #");
    log.assert_contains("Changed the role of");
    let users_only = app.get("/audit?entity=user").await;
    users_only.assert_contains("Customer #1");
    users_only.assert_lacks("Order #1");
    let by_admin = app.get(&format!("/audit?staff_id={admin}&from=2000-01-01&to=2999-12-31")).await;
    by_admin.assert_contains("Customer #1");
    let none = app.get("/audit?from=2999-01-01").await;
    none.assert_contains("Nothing recorded matches");
    app.get("/audit?from=yesterday").await.assert_contains("Enter dates as YYYY-MM-DD.");
}
