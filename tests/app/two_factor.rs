//! Two-factor sign-in: enrolment from one's own account page with a QR code
//! drawn on the server, recovery codes stored hashed, codes that work once
//! and are throttled like passwords, a setting that requires it for admins,
//! and an admin's reset of someone else's second factor.

use crate::harness::{Page, TestApp, PASSWORD};
use rocket::http::Status;

/// The code an authenticator app shows for the account's secret now, or
/// (`later`) in the next 30 seconds: the server accepts both, but each time
/// step only once, so a sign-in right after enrolling needs the next one.
async fn code_now(app: &TestApp, email: &str, pending: bool, later: bool) -> String {
    let column = if pending { "totp_pending_secret" } else { "totp_secret" };
    let secret: String =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT {column} FROM staff WHERE email = $1")))
            .bind(email)
            .fetch_one(&app.pool)
            .await
            .expect("a secret");
    let at = chrono::Utc::now().timestamp() + if later { shopdesk::two_factor::STEP_SECONDS } else { 0 };
    shopdesk::two_factor::code_at(&secret, at).expect("a code")
}

/// Enrols the signed-in account; returns its recovery codes.
async fn enrol(app: &TestApp, email: &str) -> Vec<String> {
    let page = app.get("/account").await;
    page.assert_contains("Set up two-factor sign-in");
    let page = app.post_ok("/account/two-factor/start", &[]).await;
    page.assert_contains("<img class=\"qr\" src=\"data:image/svg+xml,");
    page.assert_lacks("style=");
    app.refresh_csrf("/account/two-factor").await;
    let code = code_now(app, email, true, false).await;
    let done = app.post("/account/two-factor/confirm", &[("current_password", PASSWORD), ("code", &code)]).await;
    assert_eq!(done.status, Status::Ok, "{}", done.body);
    done.assert_contains("Two-factor sign-in is on");
    // Enrolment ended the other sessions and renewed this one.
    app.refresh_csrf("/account").await;
    done.body.split("<li><code>").skip(1).filter_map(|s| s.split("</code>").next()).map(str::to_string).collect()
}

/// Signs in with the password; returns where it sent the browser.
async fn password_step(app: &TestApp, email: &str) -> String {
    let page = app.sign_in_to(email, PASSWORD, "/orders").await;
    assert_eq!(page.status, Status::SeeOther, "{}", page.body);
    page.location.expect("a redirect")
}

async fn code_step(app: &TestApp, code: &str) -> Page {
    app.refresh_csrf("/sign-in/code").await;
    app.post("/sign-in/code", &[("code", code)]).await
}

#[rocket::async_test]
async fn enrol_then_sign_in_with_a_code_that_works_once() {
    let app = TestApp::new().await;
    let codes = enrol(&app, "admin@test.example").await;
    assert_eq!(codes.len(), 10, "ten recovery codes are shown once");
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT code_hash FROM staff_recovery_codes").fetch_all(&app.pool).await.unwrap();
    assert_eq!(stored.len(), 10);
    assert!(stored.iter().all(|h| h.starts_with("$argon2id$")), "stored hashed");
    assert!(codes.iter().all(|c| !stored.iter().any(|h| h.contains(c.as_str()))));
    assert_eq!(
        app.scalar_i64("SELECT count(*) FROM audit_log WHERE action = 'two_factor_on'").await,
        1,
        "enrolment is audited"
    );
    app.get("/account").await.assert_contains("10</strong> unused recovery codes");

    app.sign_out().await;
    // The password alone is not enough any more.
    assert_eq!(password_step(&app, "admin@test.example").await, "/sign-in/code");
    assert_eq!(app.get("/").await.status, Status::SeeOther, "no session yet");
    let wrong = code_step(&app, "000000").await;
    wrong.assert_contains("That code is not right");
    // The code from the app signs in, and goes on to the page asked for.
    let code = code_now(&app, "admin@test.example", false, true).await;
    let used = code_step(&app, &code).await;
    assert_eq!((used.status, used.location.as_deref()), (Status::SeeOther, Some("/orders")));
    assert_eq!(app.get("/").await.status, Status::Ok);

    // The same code cannot be used again, even within its 30 seconds.
    app.sign_out().await;
    password_step(&app, "admin@test.example").await;
    let again = code_step(&app, &code).await;
    assert_eq!(again.status, Status::Ok);
    again.assert_contains("already used");
    assert_eq!(app.get("/").await.status, Status::SeeOther);

    // A recovery code works once, whatever its case and spacing.
    let typed = codes[0].to_uppercase().replace('-', " ");
    let recovered = code_step(&app, &typed).await;
    assert_eq!(recovered.status, Status::SeeOther, "{}", recovered.body);
    app.get("/").await.assert_contains("You signed in with a recovery code; 9 left.");
    app.sign_out().await;
    password_step(&app, "admin@test.example").await;
    code_step(&app, &codes[0]).await.assert_contains("That code is not right");
}

#[rocket::async_test]
async fn wrong_codes_are_throttled_like_passwords() {
    let app = TestApp::new().await;
    enrol(&app, "admin@test.example").await;
    app.sign_out().await;
    password_step(&app, "admin@test.example").await;
    for _ in 0..5 {
        code_step(&app, "123456").await.assert_contains("That code is not right");
    }
    let refused = code_step(&app, "654321").await;
    assert_eq!(refused.status, Status::TooManyRequests);
    refused.assert_contains("Too many wrong codes");
    // Even the right code waits now: guessing a million codes is not possible.
    let code = code_now(&app, "admin@test.example", false, true).await;
    assert_eq!(code_step(&app, &code).await.status, Status::TooManyRequests);
}

#[rocket::async_test]
async fn the_code_step_expires_and_cannot_be_skipped() {
    let app = TestApp::new().await;
    enrol(&app, "admin@test.example").await;
    app.sign_out().await;
    // Without the password step there is nothing to complete.
    assert_eq!(app.get("/sign-in/code").await.status, Status::SeeOther);
    let page = app.post("/sign-in/code", &[("code", "123456")]).await;
    assert_eq!(page.status, Status::SeeOther);
    assert_eq!(page.location.as_deref(), Some("/sign-in"));
    assert_eq!(app.get("/").await.status, Status::SeeOther);
}

#[rocket::async_test]
async fn admins_can_be_required_to_use_two_factor_sign_in() {
    let app = TestApp::configured(false, &[("auth.require_two_factor_for_admins", true.into())]).await;
    app.sign_in_as("admin@test.example", "admin").await;
    // Every page sends the admin to set it up; nothing can be changed first.
    let home = app.get("/").await;
    assert_eq!((home.status, home.location.as_deref()), (Status::SeeOther, Some("/account/two-factor")));
    app.refresh_csrf("/account").await;
    let refused = app.post_new_customer("Ada", "ada@example.com").await;
    assert_eq!(refused.status, Status::Forbidden);
    refused.assert_contains("requires two-factor sign-in for admins");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 0);
    app.get("/account/two-factor").await.assert_contains("This shop requires two-factor sign-in for admins.");
    enrol(&app, "admin@test.example").await;
    assert_eq!(app.get("/").await.status, Status::Ok);
    // And it cannot be turned off while required.
    let code = code_now(&app, "admin@test.example", false, true).await;
    let page = app.post_ok("/account/two-factor/off", &[("current_password", PASSWORD), ("code", &code)]).await;
    page.assert_contains("stays on");
    assert!(app.scalar_i64("SELECT count(*) FROM staff WHERE totp_secret IS NOT NULL").await == 1);
}

#[rocket::async_test]
async fn an_admin_resets_another_accounts_second_factor() {
    let app = TestApp::new().await;
    let admin: i64 = app.scalar_i64("SELECT id FROM staff WHERE email = 'admin@test.example'").await;
    // Grace enrols, then loses her phone.
    app.sign_out().await;
    let grace_id = app.sign_in_as("grace@test.example", "viewer").await;
    enrol(&app, "grace@test.example").await;
    app.sign_out().await;
    let epoch: i32 = sqlx::query_scalar("SELECT session_epoch FROM staff WHERE id = $1")
        .bind(grace_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();

    // The admin resets it from the Staff page.
    let page = app.sign_in("admin@test.example", PASSWORD).await;
    assert_eq!(page.status, Status::SeeOther);
    app.refresh_csrf("/staff").await;
    app.get("/staff").await.assert_contains("Reset two-factor");
    let page = app.post_ok(&format!("/staff/{grace_id}"), &[("change", "reset_two_factor")]).await;
    page.assert_contains("two-factor sign-in is reset and their sessions have ended");
    let (secret, codes, new_epoch): (Option<String>, i64, i32) = sqlx::query_as(
        "SELECT totp_secret, (SELECT count(*) FROM staff_recovery_codes WHERE staff_id = $1), session_epoch
           FROM staff WHERE id = $1",
    )
    .bind(grace_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((secret, codes), (None, 0));
    assert_eq!(new_epoch, epoch + 1, "her sessions ended");
    let audited: (Option<i64>, serde_json::Value) =
        sqlx::query_as("SELECT staff_id, before FROM audit_log WHERE action = 'two_factor_reset' AND entity_id = $1")
            .bind(grace_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(audited.0, Some(admin), "the reset is audited with who did it");
    assert_eq!(audited.1["two_factor"], true);
    // A viewer cannot reset anyone's.
    app.sign_out().await;
    assert_eq!(password_step(&app, "grace@test.example").await, "/orders", "her password alone signs her in again");
    app.refresh_csrf("/").await;
    let refused = app.post(&format!("/staff/{admin}"), &[("change", "reset_two_factor")]).await;
    assert_eq!(refused.status, Status::Forbidden);
}

#[rocket::async_test]
async fn turning_it_off_or_renewing_codes_needs_the_password_and_a_code() {
    let app = TestApp::new().await;
    enrol(&app, "admin@test.example").await;
    let page = app.post_ok("/account/two-factor/recovery-codes", &[("current_password", "wrong")]).await;
    page.assert_contains("No new codes were made: your current password was not right.");
    let page = app.post("/account/two-factor/recovery-codes", &[("current_password", PASSWORD)]).await;
    assert_eq!(page.status, Status::Ok);
    page.assert_contains("Your new recovery codes");
    app.refresh_csrf("/account").await;
    let page = app.post_ok("/account/two-factor/off", &[("current_password", PASSWORD), ("code", "000000")]).await;
    page.assert_contains("Two-factor sign-in is still on");
    let code = code_now(&app, "admin@test.example", false, true).await;
    let page = app.post_ok("/account/two-factor/off", &[("current_password", PASSWORD), ("code", &code)]).await;
    page.assert_contains("Two-factor sign-in is off");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM staff WHERE totp_secret IS NOT NULL").await, 0);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM staff_recovery_codes").await, 0);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM audit_log WHERE action = 'two_factor_off'").await, 1);
}

#[rocket::async_test]
async fn turning_it_on_needs_the_current_password() {
    let app = TestApp::new().await;
    app.post_ok("/account/two-factor/start", &[]).await;
    app.refresh_csrf("/account/two-factor").await;
    let page = app.get("/account/two-factor").await;
    page.assert_contains("name=\"current_password\"");
    // A stolen session knows the code of the authenticator it enrols, not the password.
    for password in ["", "not the password"] {
        let code = code_now(&app, "admin@test.example", true, false).await;
        let page = app.post("/account/two-factor/confirm", &[("current_password", password), ("code", &code)]).await;
        assert_eq!(page.status, Status::UnprocessableEntity, "{}", page.body);
        page.assert_lacks("Two-factor sign-in is on");
        page.assert_contains(if password.is_empty() { "Type your current password too" } else { "not right" });
        assert_eq!(app.scalar_i64("SELECT count(*) FROM staff WHERE totp_secret IS NOT NULL").await, 0);
        assert_eq!(app.scalar_i64("SELECT count(*) FROM staff_recovery_codes").await, 0);
    }
    // Turning it off and renewing codes need the password (and a code) too.
    enrol(&app, "admin@test.example").await;
    let code = code_now(&app, "admin@test.example", false, true).await;
    let page = app.post_ok("/account/two-factor/off", &[("current_password", "wrong"), ("code", &code)]).await;
    page.assert_contains("Two-factor sign-in is still on");
    let page = app.post_ok("/account/two-factor/off", &[("code", &code)]).await;
    page.assert_contains("Two-factor sign-in is still on");
    let page = app.post_ok("/account/two-factor/recovery-codes", &[]).await;
    page.assert_contains("No new codes were made");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM staff WHERE totp_secret IS NOT NULL").await, 1);
}
