//! Two `shopdesk serve` processes behind a real nginx configured as
//! deploy/nginx.conf is: one of them is stopped gracefully (SIGTERM) while
//! a steady stream of signed-in page views goes through the proxy, and no
//! view is lost, because nginx tries an idempotent GET that the stopping
//! instance could not answer on the other one.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::live::Http;
use crate::harness::{free_port, wait_for_port, Process, TestApp, PASSWORD};

/// The secret both instances share, so either opens the other's session.
const SECRET: &str = "hPRYyVRiMyxpw5sBB1XeCMN1kFsDCqKvBi2QJxBVHQk=";

/// The pages a signed-in browser keeps asking for.
const PAGES: [&str; 4] = ["/", "/users", "/products", "/orders"];

/// `shopdesk serve` on `port` of 127.0.0.1, on the database at `url`, with
/// the shutdown settings of Rocket.toml (nothing here overrides them).
fn instance(url: &str, port: u16) -> Process {
    Process(
        Command::new(env!("CARGO_BIN_EXE_shopdesk"))
            .args(["serve", "--no-demo"])
            .env("DATABASE_URL", url)
            .env("ROCKET_PORT", port.to_string())
            .env("ROCKET_SECRET_KEY", SECRET)
            .env("ROCKET_LOG_LEVEL", "critical")
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .spawn()
            .expect("start shopdesk serve"),
    )
}

/// deploy/nginx.conf with the test's ports in place of its own, and each
/// answer saying which instance gave it. Every replaced line must still be
/// in the file, so the test keeps following the deployed configuration.
fn nginx_conf(listen: u16, upstreams: [u16; 2]) -> String {
    let deployed = include_str!("../../deploy/nginx.conf");
    let replace = |conf: String, from: &str, to: &str| {
        assert!(conf.contains(from), "deploy/nginx.conf no longer has `{from}`");
        conf.replacen(from, to, 1)
    };
    let conf = replace(deployed.to_string(), "server 127.0.0.1:8001 ", &format!("server 127.0.0.1:{} ", upstreams[0]));
    let conf = replace(conf, "server 127.0.0.1:8002 ", &format!("server 127.0.0.1:{} ", upstreams[1]));
    let conf = replace(conf, "listen 8080;", &format!("listen 127.0.0.1:{listen};"));
    // After a retry, $upstream_addr lists every instance tried: the last
    // one answered.
    replace(
        conf,
        "proxy_pass http://shopdesk;",
        "proxy_pass http://shopdesk;\n            add_header X-Upstream $upstream_addr always;",
    )
}

/// nginx in the foreground in a folder of its own (its pid file, temporary
/// files and error log live there), stopped when dropped.
struct Nginx {
    master: std::process::Child,
    prefix: tempfile::TempDir,
}

impl Nginx {
    fn start(conf: &str) -> Nginx {
        let prefix = tempfile::tempdir().expect("a folder for nginx");
        // Its workers run as an unprivileged user when the test runs as root.
        std::fs::set_permissions(prefix.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("open the folder to nginx's workers");
        let path = prefix.path().join("nginx.conf");
        std::fs::write(&path, conf).expect("write nginx.conf");
        let log = std::fs::File::create(prefix.path().join("error.log")).expect("nginx's error log");
        let master = Command::new("nginx")
            .arg("-p")
            .arg(prefix.path())
            .arg("-c")
            .arg(&path)
            .args(["-e", "stderr", "-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start nginx (is it installed?)");
        Nginx { master, prefix }
    }

    /// What nginx logged (warnings and errors: retries show there).
    fn log(&self) -> String {
        std::fs::read_to_string(self.prefix.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // TERM, not KILL: the master then stops its workers too.
        let _ = Command::new("kill").args(["-TERM", &self.master.id().to_string()]).status();
        let _ = self.master.wait();
    }
}

/// One page view through the proxy: its path, status and which instance answered.
struct View {
    path: &'static str,
    status: u16,
    upstream: String,
    at: Instant,
}

#[rocket::async_test]
async fn stopping_one_instance_behind_nginx_loses_no_page_view() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let lamp = app.product("Lamp", "LAMP-1", 2500, 10).await;
    app.place_order(ada, &[(lamp, 1)]).await;

    let ports = [free_port(), free_port()];
    let mut first = instance(&app.url, ports[0]);
    let _second = instance(&app.url, ports[1]);
    for port in ports {
        assert!(wait_for_port(port, Duration::from_secs(30)).await, "an instance did not start");
    }
    let listen = free_port();
    let nginx = Nginx::start(&nginx_conf(listen, ports));
    assert!(wait_for_port(listen, Duration::from_secs(10)).await, "nginx did not start: {}", nginx.log());
    let proxy = Http { port: listen };
    let (session, _) = proxy.sign_in("admin@test.example", PASSWORD).await;

    // Four browsers' worth of views, one after another each, for a while.
    let started = Instant::now();
    let run_for = Duration::from_secs(6);
    let browsers = (0..4).map(|b| {
        let session = session.clone();
        rocket::tokio::spawn(async move {
            let mut views = Vec::new();
            let mut n = b;
            while started.elapsed() < run_for {
                let path = PAGES[n % PAGES.len()];
                n += 1;
                let answer = proxy.exchange("GET", path, &[("Cookie", &session)], "").await;
                let upstream = answer.header("x-upstream").unwrap_or_default().to_string();
                views.push(View { path, status: answer.status, upstream, at: Instant::now() });
            }
            views
        })
    });
    let browsers: Vec<_> = browsers.collect();

    // Mid-stream, the first instance is asked to stop, as a deploy does.
    rocket::tokio::time::sleep(Duration::from_secs(2)).await;
    let term = Command::new("kill").args(["-TERM", &first.id().to_string()]).status().expect("kill -TERM");
    assert!(term.success());
    let stopped_at = Instant::now();

    let mut views = Vec::new();
    for browser in browsers {
        views.extend(browser.await.expect("a browser's views"));
    }
    let lost: Vec<String> = views
        .iter()
        .filter(|v| v.status != 200)
        .map(|v| format!("{} {} via {}", v.status, v.path, v.upstream))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} views were not answered with 200: {lost:?}\n{}",
        lost.len(),
        views.len(),
        nginx.log()
    );
    let served_by = |port: u16| {
        let addr = format!("127.0.0.1:{port}");
        views.iter().filter(|v| v.upstream.rsplit(", ").next() == Some(addr.as_str())).count()
    };
    assert!(served_by(ports[0]) > 0 && served_by(ports[1]) > 0, "both instances served views");
    let stopped = format!("127.0.0.1:{}", ports[0]);
    assert!(nginx.log().contains(&stopped), "nginx never found the stopped instance gone: {}", nginx.log());
    let after = views.iter().filter(|v| v.at > stopped_at + Duration::from_secs(1)).count();
    assert!(after > 0, "views went on after the instance stopped");

    // The stopped instance finished what it had and exited cleanly.
    let exit = loop {
        if let Some(exit) = first.try_wait().expect("the instance's state") {
            break exit;
        }
        assert!(stopped_at.elapsed() < Duration::from_secs(30), "the instance did not stop");
        rocket::tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(exit.success(), "a clean exit after SIGTERM: {exit:?}");
}
