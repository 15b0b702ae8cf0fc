//! Graceful shutdown: on SIGTERM, a request in flight (a large CSV export)
//! still finishes completely, and the process exits cleanly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::TestApp;

/// One HTTP/1.1 exchange; returns the status line, headers and the open reader.
fn request(port: u16, head: &str) -> BufReader<TcpStream> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    stream.write_all(head.as_bytes()).expect("send");
    BufReader::new(stream)
}

fn read_head(reader: &mut BufReader<TcpStream>) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("read");
        let line = line.trim_end().to_string();
        if line.is_empty() {
            return lines;
        }
        lines.push(line);
    }
}

/// Reads a body of the length its `Content-Length` announced, all of it.
fn read_sized(reader: &mut BufReader<TcpStream>, head: &[String]) -> Vec<u8> {
    let length = head
        .iter()
        .find_map(|h| h.to_ascii_lowercase().strip_prefix("content-length: ").map(str::to_string))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .expect("a Content-Length");
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("the whole body");
    body
}

fn cookies(head: &[String]) -> String {
    head.iter()
        .filter_map(|h| h.strip_prefix("Set-Cookie: ").or_else(|| h.strip_prefix("set-cookie: ")))
        .filter_map(|c| c.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

#[rocket::async_test]
async fn sigterm_lets_an_export_in_flight_finish() {
    let app = TestApp::with_demo(false).await;
    app.staff("admin@shop.example", "admin").await;
    let mut conn = app.pool.acquire().await.unwrap();
    shopdesk::generate::generate(
        &mut conn,
        shopdesk::generate::Sizes { users: 40_000, products: 0, orders: 0 },
        3,
        false,
    )
    .await
    .unwrap();
    drop(conn);

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_shopdesk"))
        .args(["serve", "--no-demo"])
        .env("DATABASE_URL", &app.url)
        .env("ROCKET_PORT", port.to_string())
        .env("ROCKET_LOG_LEVEL", "critical")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "the server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Sign in over plain HTTP.
    let mut page = request(port, "GET /sign-in HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let head = read_head(&mut page);
    let mut body = String::new();
    page.read_to_string(&mut body).unwrap();
    let token = crate::harness::csrf_in(&body).expect("a csrf token");
    let form = crate::harness::encode_form(&[
        ("csrf", &token),
        ("email", "admin@shop.example"),
        ("password", crate::harness::PASSWORD),
    ]);
    let mut signed = request(
        port,
        &format!(
            "POST /sign-in HTTP/1.1\r\nHost: x\r\nCookie: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
            cookies(&head),
            form.len()
        ),
    );
    let session = cookies(&read_head(&mut signed));
    assert!(session.contains("shopdesk_session="), "signed in: {session}");

    // Start a large export, then ask the server to stop while it streams.
    let mut export =
        request(port, &format!("GET /users.csv HTTP/1.1\r\nHost: x\r\nCookie: {session}\r\nConnection: close\r\n\r\n"));
    let head = read_head(&mut export);
    assert!(head[0].contains("200"), "{head:?}");
    let status = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(status.success());
    let csv = read_sized(&mut export, &head);
    let text = String::from_utf8_lossy(&csv);
    let rows = text.lines().skip(1).filter(|l| l.ends_with(",0,0.00")).count();
    assert_eq!(rows, 40_000, "every row arrived after SIGTERM");

    let exit = loop {
        if let Some(exit) = server.try_wait().unwrap() {
            break exit;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the server did not stop");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(exit.success(), "a clean exit after SIGTERM: {exit:?}");
}
