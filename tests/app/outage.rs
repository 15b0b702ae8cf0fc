//! When PostgreSQL goes away, pages answer quickly with a friendly 503 and
//! `Retry-After`, never hang; when it comes back, Shopdesk recovers by itself.
//! The database is reached through a TCP proxy that the test can cut.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::harness::{TestApp, PASSWORD};
use rocket::http::Status;
use rocket::tokio::io::copy_bidirectional;
use rocket::tokio::net::{TcpListener, TcpStream};
use rocket::tokio::sync::watch;
use sqlx::ConnectOptions;

/// Forwards connections to PostgreSQL while `up` is true; when it turns
/// false, refuses new connections and drops the open ones.
async fn proxy(listener: TcpListener, target: String, up: Arc<AtomicBool>, cut: watch::Receiver<u64>) {
    loop {
        let Ok((mut client, _)) = listener.accept().await else { return };
        if !up.load(Ordering::SeqCst) {
            drop(client);
            continue;
        }
        let target = target.clone();
        let mut cut = cut.clone();
        // Only a cut after this connection opened ends it.
        cut.borrow_and_update();
        rocket::tokio::spawn(async move {
            let Ok(mut server) = TcpStream::connect(target).await else { return };
            rocket::tokio::select! {
                _ = copy_bidirectional(&mut client, &mut server) => {}
                _ = cut.changed() => {}
            }
        });
    }
}

#[rocket::async_test]
async fn a_database_outage_gives_a_quick_503_and_recovers_by_itself() {
    // A database of its own, migrated, with an admin account.
    let setup = TestApp::with_demo(false).await;
    setup.staff("admin@test.example", "admin").await;
    let server: sqlx::postgres::PgConnectOptions = setup.url.parse().unwrap();

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let up = Arc::new(AtomicBool::new(true));
    let (cut_all, cut) = watch::channel(0u64);
    rocket::tokio::spawn(proxy(listener, format!("{}:{}", server.get_host(), server.get_port()), up.clone(), cut));

    let via_proxy = server.port(port).to_url_lossy().to_string();
    let settings = [("databases.shop.url", via_proxy.into()), ("databases.shop.connect_timeout", 2.into())];
    let app = setup.second_app(&settings).await;
    app.refresh_csrf("/sign-in").await;
    let signed_in = app.sign_in("admin@test.example", PASSWORD).await;
    assert_eq!(signed_in.status, Status::SeeOther);
    assert_eq!(app.get("/").await.status, Status::Ok);

    // The database goes away: open connections die, new ones are refused.
    up.store(false, Ordering::SeqCst);
    cut_all.send(1).unwrap();
    for path in ["/", "/users", "/readyz"] {
        let started = Instant::now();
        let page = app.get(path).await;
        let elapsed = started.elapsed();
        assert_eq!(page.status, Status::ServiceUnavailable, "{path}");
        assert!(elapsed < Duration::from_secs(5), "{path} took {elapsed:?}");
        if path != "/readyz" {
            assert_eq!(page.header("Retry-After"), Some("5"), "{path}");
            let body = &page.body;
            assert!(body.contains("Shopdesk cannot reach its database right now"), "{body}");
            assert!(
                !body.contains("sqlx") && !body.contains("Pool") && !body.contains("os error"),
                "no internals shown"
            );
        }
    }
    // The process itself is fine.
    assert_eq!(app.get("/healthz").await.status, Status::Ok);

    // It comes back; Shopdesk reconnects without a restart.
    up.store(true, Ordering::SeqCst);
    let mut recovered = false;
    for _ in 0..20 {
        if app.get("/").await.status == Status::Ok {
            recovered = true;
            break;
        }
        rocket::tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(recovered, "pages work again once the database is back");
    assert_eq!(app.get("/readyz").await.status, Status::Ok);
}

/// The `waiting` figure of `/metrics`.
async fn waiting(app: &TestApp) -> i64 {
    let page = app.metrics().await;
    let line = page.body.lines().find(|l| l.starts_with("shopdesk_db_pool_connections{state=\"waiting\"}"));
    line.and_then(|l| l.rsplit(' ').next()).and_then(|n| n.parse().ok()).expect("a waiting figure")
}

#[rocket::async_test]
async fn the_waiting_gauge_returns_to_zero_however_waits_end() {
    let app = TestApp::configured(false, &[("databases.shop.connect_timeout", 1.into())]).await;
    app.sign_in_as("admin@test.example", "admin").await;
    let rocket = app.client.rocket();
    let db = rocket.state::<shopdesk::db::Db>().expect("the pool");
    // Every connection is taken elsewhere.
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(db.conn().await.expect("a connection"));
    }
    // Waits that end in an error (the pool timeout)...
    let failed = futures::future::join_all((0..4).map(|_| app.get("/"))).await;
    assert!(failed.iter().all(|p| p.status == Status::ServiceUnavailable));
    // ...and waits abandoned midway, as when a client goes away.
    for _ in 0..4 {
        let gone = rocket::tokio::time::timeout(Duration::from_millis(100), app.get("/users")).await;
        assert!(gone.is_err(), "the request was still waiting");
    }
    let stuck = futures::future::join(app.get("/products"), async {
        rocket::tokio::time::sleep(Duration::from_millis(200)).await;
        waiting(&app).await
    });
    let (page, while_waiting) = stuck.await;
    assert_eq!(page.status, Status::ServiceUnavailable);
    assert_eq!(while_waiting, 1, "one request was waiting");
    drop(held);
    for _ in 0..4 {
        assert_eq!(app.get("/").await.status, Status::Ok);
    }
    assert_eq!(waiting(&app).await, 0, "nobody waits once every request ended");
}
