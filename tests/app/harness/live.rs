//! Real servers on real TCP ports, for the tests that need what the local
//! client cannot do: stall mid-request, never read a response, read it
//! slowly, or stop the server while it answers. [`Http`] speaks plain
//! HTTP/1.1 to whatever listens on a port (a `shopdesk serve` process, say);
//! [`LiveServer`] is the app served in its own thread and runtime, as
//! `shopdesk serve` would, against a test database, until it is dropped.

use std::time::Duration;

use rocket::fairing::AdHoc;
use rocket::figment::providers::Serialized;
use rocket::figment::Figment;
use rocket::tokio::io::{AsyncReadExt, AsyncWriteExt};
use rocket::tokio::net::TcpStream;
use rocket::tokio::sync::oneshot;
use rocket::{Build, Rocket};

/// Plain HTTP/1.1 to the server on `port` of this machine.
#[derive(Clone, Copy)]
pub struct Http {
    pub port: u16,
}

impl Http {
    /// Opens a connection and sends `head` (and `body`, if any) as is.
    pub async fn send(&self, head: &str, body: &[u8]) -> TcpStream {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).await.expect("connect");
        stream.write_all(head.as_bytes()).await.expect("send the head");
        stream.write_all(body).await.expect("send the body");
        stream
    }

    /// One whole exchange (`Connection: close` is added): status, headers, body.
    pub async fn exchange(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() || method == "POST" {
            head.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        let mut stream = self.send(&head, body.as_bytes()).await;
        let mut raw = Vec::new();
        rocket::tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut raw))
            .await
            .expect("an answer within 20 s")
            .expect("read the answer");
        Answer::parse(&raw)
    }

    /// Signs in through the form; returns the session cookie and its CSRF token.
    pub async fn sign_in(&self, email: &str, password: &str) -> (String, String) {
        let page = self.exchange("GET", "/sign-in", &[], "").await;
        let token = super::csrf_in(&page.body).expect("a CSRF token on the sign-in page");
        let form = super::encode_form(&[("csrf", &token), ("email", email), ("password", password), ("next", "/")]);
        let signed = self.exchange("POST", "/sign-in", &[("Cookie", &page.cookies())], &form).await;
        assert_eq!(signed.status, 303, "signed in: {}", signed.body);
        let session = signed.cookies();
        assert!(session.contains("shopdesk_session="), "{session}");
        let home = self.exchange("GET", "/", &[("Cookie", &session)], "").await;
        let token = super::csrf_in(&home.body).expect("the session's CSRF token");
        (session, token)
    }
}

/// Reads an answer's head from `stream`; returns it with the part of the
/// body that came with it.
pub async fn read_head(stream: &mut TcpStream) -> (Answer, Vec<u8>) {
    let mut raw = Vec::new();
    let mut chunk = vec![0; 16 * 1024];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let body = raw.split_off(end + 4);
            return (Answer::parse(&raw), body);
        }
        let read = rocket::tokio::time::timeout(Duration::from_secs(20), stream.read(&mut chunk)).await;
        let n = read.expect("the head within 20 s").expect("read the head");
        assert!(n > 0, "the connection closed before the head ended: {}", String::from_utf8_lossy(&raw));
        raw.extend_from_slice(&chunk[..n]);
    }
}

/// The app with `figment`, on a port of 127.0.0.1 the system picks when it
/// starts listening (so that no other test can take it first), and what
/// says which port that is.
pub fn on_any_port(figment: Figment) -> (Rocket<Build>, Listening) {
    let figment = figment.merge(Serialized::global("address", "127.0.0.1")).merge(Serialized::global("port", 0));
    let (tx, rx) = oneshot::channel();
    let told = AdHoc::on_liftoff("Tell the test where it listens", move |rocket| {
        Box::pin(async move {
            let _ = tx.send((rocket.config().port, rocket.shutdown()));
        })
    });
    (shopdesk::build_rocket(figment).attach(told), Listening(rx))
}

/// Where a server from [`on_any_port`] listens, once it does.
pub struct Listening(oneshot::Receiver<(u16, rocket::Shutdown)>);

impl Listening {
    /// Its port and its shutdown handle, once it listens.
    pub async fn await_port(self) -> (u16, rocket::Shutdown) {
        rocket::tokio::time::timeout(Duration::from_secs(30), self.0)
            .await
            .expect("the server listens within 30 s")
            .expect("the server says where it listens")
    }
}

pub struct LiveServer {
    http: Http,
    shutdown: Option<rocket::Shutdown>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::ops::Deref for LiveServer {
    type Target = Http;

    fn deref(&self) -> &Http {
        &self.http
    }
}

impl LiveServer {
    /// Serves the database at `url` with `settings` on top of small test
    /// limits: a pool of 4 connections, 2 export slots, 2 s to send a body,
    /// 1 s before an unread download is abandoned.
    pub async fn start(url: &str, settings: &[(&str, serde_json::Value)]) -> LiveServer {
        let mut figment = super::figment(url)
            .merge(Serialized::global("databases.shop.max_connections", 4))
            .merge(Serialized::global("databases.shop.connect_timeout", 3))
            .merge(Serialized::global("shutdown.ctrlc", false))
            .merge(Serialized::global("shutdown.grace", 1))
            .merge(Serialized::global("shutdown.mercy", 1))
            .merge(Serialized::global("timeouts.body", 2))
            .merge(Serialized::global("timeouts.download", 1))
            .merge(Serialized::global("exports.slots", 2))
            .merge(Serialized::global("exports.wait_seconds", 2));
        for (key, value) in settings {
            figment = figment.merge(Serialized::global(key, value.clone()));
        }
        let (rocket, listening) = on_any_port(figment);
        let thread = std::thread::spawn(move || {
            let runtime = rocket::tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let _ = rocket.launch().await;
            });
        });
        let (port, shutdown) = listening.await_port().await;
        LiveServer { http: Http { port }, shutdown: Some(shutdown), thread: Some(thread) }
    }
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            shutdown.notify();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// An HTTP answer as read from the socket.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn parse(raw: &[u8]) -> Answer {
        let text = String::from_utf8_lossy(raw);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Answer { status, headers, body: body.to_string() }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The cookies set, as a `Cookie` header would send them back.
    pub fn cookies(&self) -> String {
        self.headers
            .iter()
            .filter(|(k, _)| k == "set-cookie")
            .filter_map(|(_, v)| v.split(';').next())
            .filter(|c| !c.ends_with('='))
            .collect::<Vec<_>>()
            .join("; ")
    }
}
