//! Cookies a client writes itself: a plain-text session, pending second-factor
//! step or pre-session token is worth nothing, because only cookies sealed
//! with the server's secret key are believed. And after signing in, the
//! browser only ever goes on to a page of this site.

use crate::harness::{encode_form, Page, TestApp, PASSWORD};
use rocket::http::{ContentType, Cookie, Status};

/// Sends `path` with exactly these cookies, as a client that writes its own would.
async fn get_with(app: &TestApp, path: &str, cookies: &[(&str, String)]) -> Page {
    let mut request = app.client.get(path.to_string());
    for (name, value) in cookies {
        request = request.cookie(Cookie::new(name.to_string(), value.clone()));
    }
    Page::read(request.dispatch().await).await
}

async fn post_with(app: &TestApp, path: &str, cookies: &[(&str, String)], fields: &[(&str, &str)]) -> Page {
    let mut request = app.client.post(path.to_string()).header(ContentType::Form);
    for (name, value) in cookies {
        request = request.cookie(Cookie::new(name.to_string(), value.clone()));
    }
    Page::read(request.body(encode_form(fields)).dispatch().await).await
}

/// An account with two-factor sign-in on; returns its id, epoch and secret.
async fn enrolled(app: &TestApp, email: &str) -> (i64, i32, String) {
    let id = app.staff(email, "admin").await;
    let secret = shopdesk::two_factor::new_secret();
    sqlx::query("UPDATE staff SET totp_secret = $1, totp_enabled_at = now() WHERE id = $2")
        .bind(&secret)
        .bind(id)
        .execute(&app.pool)
        .await
        .expect("enrol");
    let epoch: i32 = sqlx::query_scalar("SELECT session_epoch FROM staff WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    (id, epoch, secret)
}

#[rocket::async_test]
async fn a_plain_text_pending_cookie_cannot_skip_the_password() {
    let app = TestApp::with_demo(false).await;
    let (id, epoch, secret) = enrolled(&app, "owner@test.example").await;
    let now = chrono::Utc::now().timestamp();
    let forged =
        serde_json::json!({"staff_id": id, "epoch": epoch, "issued": now, "next": "/", "csrf": "forged"}).to_string();
    let cookies = [("shopdesk_pending", forged)];

    let page = get_with(&app, "/sign-in/code", &cookies).await;
    assert_eq!((page.status, page.location.as_deref()), (Status::SeeOther, Some("/sign-in")), "{}", page.body);

    // Even with the right code (stolen, or read over a shoulder), no password means no session.
    let code = shopdesk::two_factor::code_at(&secret, now).expect("a code");
    let page = post_with(&app, "/sign-in/code", &cookies, &[("csrf", "forged"), ("code", &code)]).await;
    assert_ne!(page.status, Status::SeeOther, "the forged step was believed: {:?}", page.location);
    assert!(page.headers("Set-Cookie").all(|c| !c.starts_with("shopdesk_session=")), "no session was started");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM staff WHERE last_login_at IS NOT NULL").await, 0);
}

#[rocket::async_test]
async fn a_plain_text_session_cookie_opens_nothing_and_carries_no_csrf_token() {
    let app = TestApp::with_demo(false).await;
    let id = app.staff("owner@test.example", "admin").await;
    let now = chrono::Utc::now().timestamp();
    let forged =
        serde_json::json!({"staff_id": id, "epoch": 0, "issued": now, "seen": now, "csrf": "forged"}).to_string();
    let cookies = [("shopdesk_session", forged)];
    let page = get_with(&app, "/", &cookies).await;
    assert_eq!(page.status, Status::SeeOther);
    assert!(page.location.as_deref().is_some_and(|l| l.starts_with("/sign-in")));
    // Its token is not this browser's token: a form carrying it is refused.
    let page = post_with(&app, "/sign-out", &cookies, &[("csrf", "forged")]).await;
    assert_eq!(page.status, Status::Forbidden, "{}", page.body);
    let page = post_with(
        &app,
        "/sign-in",
        &cookies,
        &[("csrf", "forged"), ("email", "owner@test.example"), ("password", PASSWORD), ("next", "/")],
    )
    .await;
    assert_eq!(page.status, Status::Forbidden, "login CSRF with a forged session token");
}

#[rocket::async_test]
async fn a_plain_text_pre_session_token_is_not_a_csrf_token() {
    let app = TestApp::with_demo(false).await;
    app.staff("owner@test.example", "admin").await;
    let cookies = [("shopdesk_csrf", "forged".to_string())];
    let fields = [("csrf", "forged"), ("email", "owner@test.example"), ("password", PASSWORD), ("next", "/")];
    let page = post_with(&app, "/sign-in", &cookies, &fields).await;
    assert_eq!(page.status, Status::Forbidden, "a page can no longer sign a visitor in to its own account");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM staff WHERE last_login_at IS NOT NULL").await, 0);
    // The sign-in page hands out a real token instead of echoing the forged one.
    let page = get_with(&app, "/sign-in", &cookies).await;
    assert_eq!(page.status, Status::Ok);
    page.assert_lacks("value=\"forged\"");
}

#[rocket::async_test]
async fn after_sign_in_the_browser_stays_on_this_site() {
    let app = TestApp::with_demo(false).await;
    app.staff("owner@test.example", "admin").await;
    for next in [
        "//evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "/%2F%2Fevil.example",
        "/%2f%5cevil.example",
        "/%5C%5Cevil.example",
        "/%09/evil.example",
        "\\\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "/\u{3000}/evil.example",
    ] {
        app.refresh_csrf("/sign-in").await;
        let page = app.sign_in_to("owner@test.example", PASSWORD, next).await;
        assert_eq!((page.status, page.location.as_deref()), (Status::SeeOther, Some("/")), "{next}");
        // Signed in, the sign-in page's own `next` is judged the same way.
        let page = app.get(&format!("/sign-in?next={}", crate::harness::url_encode(next))).await;
        assert_eq!((page.status, page.location.as_deref()), (Status::SeeOther, Some("/")), "{next}");
        app.sign_out().await;
    }
    app.refresh_csrf("/sign-in").await;
    let page = app.sign_in_to("owner@test.example", PASSWORD, "/orders?status=paid").await;
    assert_eq!(page.location.as_deref(), Some("/orders?status=paid"));
}
