//! Graceful shutdown: on SIGTERM, a request in flight (a large CSV export)
//! still finishes completely, and the process exits cleanly.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::live::{read_head, Http};
use crate::harness::{free_port, wait_for_port, Process, TestApp, PASSWORD};
use rocket::tokio::io::AsyncReadExt;

#[rocket::async_test]
async fn sigterm_lets_an_export_in_flight_finish() {
    let app = TestApp::with_demo(false).await;
    app.staff("admin@shop.example", "admin").await;
    app.generate(shopdesk::generate::Sizes { users: 40_000, products: 0, orders: 0 }, 3).await;

    let port = free_port();
    let mut server = Process(
        Command::new(env!("CARGO_BIN_EXE_shopdesk"))
            .args(["serve", "--no-demo"])
            .env("DATABASE_URL", &app.url)
            .env("ROCKET_PORT", port.to_string())
            // The export is sent at once rather than run as a job.
            .env("ROCKET_EXPORTS", "{job_threshold_rows=1000000}")
            .env("ROCKET_LOG_LEVEL", "critical")
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    assert!(wait_for_port(port, Duration::from_secs(20)).await, "the server did not start");

    // Sign in over plain HTTP.
    let http = Http { port };
    let (session, _) = http.sign_in("admin@shop.example", PASSWORD).await;

    // Start a large export, then ask the server to stop while it streams.
    let mut export = http
        .send(&format!("GET /users.csv HTTP/1.1\r\nHost: x\r\nCookie: {session}\r\nConnection: close\r\n\r\n"), b"")
        .await;
    let (head, mut csv) = read_head(&mut export).await;
    assert_eq!(head.status, 200, "{:?}", head.headers);
    let status = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(status.success());
    let length: usize = head.header("content-length").and_then(|n| n.parse().ok()).expect("a Content-Length");
    let mut rest = vec![0; length.saturating_sub(csv.len())];
    rocket::tokio::time::timeout(Duration::from_secs(20), export.read_exact(&mut rest))
        .await
        .expect("the rest within 20 s")
        .expect("the whole body");
    csv.extend_from_slice(&rest);
    let text = String::from_utf8_lossy(&csv);
    let rows = text.lines().skip(1).filter(|l| l.ends_with(",0,0.00")).count();
    assert_eq!(rows, 40_000, "every row arrived after SIGTERM");

    let exit = loop {
        if let Some(exit) = server.try_wait().unwrap() {
            break exit;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the server did not stop");
        rocket::tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(exit.success(), "a clean exit after SIGTERM: {exit:?}");
}
