//! The whole story in a real browser (Debian's headless Chromium through
//! chromedriver): sign in, create customers and products, place orders with
//! the search pickers, find a customer's orders, change an email, delete an
//! order, read the reports, see validation messages, place an order with the
//! keyboard alone (with JavaScript, then without), and follow who bought a
//! product to their orders, with a visible focus ring wherever Tab lands
//! (outline buttons included); with a screenshot of each main page (in
//! target/browser-screenshots/, at 1366 px and on a 390 px phone, where
//! neither the page nor a shown table cell may reach past the screen and the
//! sections fold into a Menu) and an axe-core accessibility check of each,
//! then the same for the demo shop as it is shown to a board.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::live::on_any_port;
use crate::harness::{figment, free_port, wait_for_port, Process, TestApp, PASSWORD};
use fantoccini::{Client as Browser, ClientBuilder, Locator};

const AXE: &str = include_str!("../vendor/axe-core/axe.min.js");

/// Keys as WebDriver sends them.
const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";
const DOWN: &str = "\u{E015}";
const BACKSPACE: &str = "\u{E003}";

/// A headless Chromium, with JavaScript or (`js = false`) without.
async fn browser(js: bool) -> (Browser, Process) {
    let port = free_port();
    let driver = Command::new(std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()))
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver must be installed (Debian: apt-get install chromium chromium-driver)");
    let driver = Process(driver);
    assert!(wait_for_port(port, Duration::from_secs(10)).await, "chromedriver does not listen on port {port}");
    let profile = std::env::temp_dir().join(format!("shopdesk-chromium-{}-{port}", std::process::id()));
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--disable-background-networking",
                     "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", format!("--user-data-dir={}", profile.display())],
            "prefs": { "webkit.webprefs.javascript_enabled": js }
        }),
    );
    let client = ClientBuilder::rustls()
        .expect("TLS setup")
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session");
    (client, driver)
}

/// Serves the app over real HTTP on a free port, for the browser, with
/// `settings` on top of the tests' usual ones (a job worker, say).
async fn serve(app: &TestApp, settings: &[(&str, serde_json::Value)]) -> String {
    let mut figment = figment(&app.url);
    for (key, value) in settings {
        figment = figment.merge(rocket::figment::providers::Serialized::global(key, value.clone()));
    }
    let (rocket, listening) = on_any_port(figment);
    rocket::tokio::spawn(rocket.launch());
    let (port, _) = listening.await_port().await;
    format!("http://127.0.0.1:{port}")
}

struct Story {
    b: Browser,
    base: String,
    shots: std::path::PathBuf,
}

impl Story {
    async fn go(&self, path: &str) {
        self.b.goto(&format!("{}{path}", self.base)).await.expect("navigate");
    }

    async fn fill(&self, css: &str, text: &str) {
        let field = self.b.find(Locator::Css(css)).await.unwrap_or_else(|_| panic!("no field {css}"));
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("type");
    }

    /// Chooses `file` in an upload form's file field and sends it.
    async fn upload(&self, file: &std::path::Path) {
        let input = self.b.find(Locator::Css("#file")).await.expect("file field");
        input.send_keys(file.to_str().expect("path")).await.expect("choose the file");
        self.click("form[enctype='multipart/form-data'] button[type=submit]").await;
    }

    /// On an import's columns page, takes the name from `column` and shows the dry run.
    async fn name_from_column(&self, column: &str) {
        self.b
            .find(Locator::Css("#column-name"))
            .await
            .expect("name column")
            .select_by_label(column)
            .await
            .expect("pick");
        self.click("form[aria-label='Columns'] button[type=submit]").await;
    }

    /// Clicks a link or button that loads a new page, and waits for it.
    async fn click(&self, css: &str) {
        let old = self.b.find(Locator::Css("body")).await.expect("body");
        self.b
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("no button {css}"))
            .click()
            .await
            .expect("click");
        for _ in 0..100 {
            if old.tag_name().await.is_err() {
                return;
            }
            rocket::tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("clicking {css} loaded no new page");
    }

    async fn text(&self) -> String {
        self.b.find(Locator::Css("body")).await.expect("body").text().await.expect("text")
    }

    async fn shot(&self, name: &str) {
        let png = self.b.screenshot().await.expect("screenshot");
        std::fs::write(self.shots.join(format!("{name}.png")), png).expect("write screenshot");
    }

    /// What inside `selector` would need sideways scrolling on a 390 px
    /// phone: elements reaching past the screen's right edge, and boxes whose
    /// content is wider than they are.
    async fn sideways_on_a_phone(&self, selector: &str) -> Vec<String> {
        self.b.set_window_size(390, 1000).await.expect("resize");
        let script = "const width = document.documentElement.clientWidth;
            return [...document.querySelectorAll(arguments[0])].flatMap(root => [root, ...root.querySelectorAll('*')])
              .filter(e => e.getClientRects().length > 0 && !e.closest('.visually-hidden, .default-submit, template, [hidden]'))
              .filter(e => e.getBoundingClientRect().right > width + 1 || e.scrollWidth > e.clientWidth + 1
                           && getComputedStyle(e).overflowX !== 'visible')
              .map(e => e.outerHTML.slice(0, 80));";
        let found = self.b.execute(script, vec![selector.into()]).await.expect("measure");
        self.b.set_window_size(1280, 1000).await.expect("resize");
        found.as_array().map(|a| a.iter().map(|v| v.as_str().unwrap_or("").to_string()).collect()).unwrap_or_default()
    }

    /// Resizes the window and waits until the page has the new width.
    async fn resize(&self, width: u32, height: u32) {
        self.b.set_window_size(width, height).await.expect("resize");
        for _ in 0..100 {
            let now = self.b.execute("return window.innerWidth", vec![]).await.expect("width");
            if now == serde_json::json!(width) {
                return;
            }
            rocket::tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the window never became {width} px wide");
    }

    /// What on the page reaches past the right edge of the window: the page
    /// itself when it is wider than the window (sideways scrolling), and every
    /// shown table cell whose right edge lies beyond it (half a pixel allowed
    /// for rounding).
    async fn past_the_edge(&self) -> Vec<String> {
        let script = "const width = window.innerWidth; const found = [];
            const page = document.documentElement.scrollWidth;
            if (page > width) found.push('the page is ' + page + ' px wide in a ' + width + ' px window');
            for (const cell of document.querySelectorAll('td, th')) {
              if (cell.getClientRects().length === 0 || cell.closest('.visually-hidden')) continue;
              const box = cell.getBoundingClientRect();
              if (box.width > 0 && box.right > width + 0.5) found.push(Math.round(box.right) + ' px: ' + cell.outerHTML.slice(0, 80));
            }
            return found;";
        let found = self.b.execute(script, vec![]).await.expect("measure");
        found.as_array().map(|a| a.iter().map(|v| v.as_str().unwrap_or("").to_string()).collect()).unwrap_or_default()
    }

    /// The page on a 1366 × 768 desktop: what axe-core finds there, and a
    /// screenshot `name` of the whole page at that width.
    async fn on_a_desktop(&self, name: &str) -> Vec<String> {
        self.resize(1366, 768).await;
        let found = self.accessibility().await;
        self.shot_whole(name, 1366).await;
        found
    }

    /// The page on a 390 × 844 phone: asserts that neither the page nor any
    /// shown table cell reaches past the screen, takes a screenshot of the
    /// whole page (`name-phone`), and returns what axe-core finds.
    async fn on_a_phone(&self, name: &str) -> Vec<String> {
        self.resize(390, 844).await;
        let past = self.past_the_edge().await;
        assert!(past.is_empty(), "{name} at 390 px reaches past the screen:\n{}", past.join("\n"));
        let found = self.accessibility().await;
        self.shot_whole(&format!("{name}-phone"), 390).await;
        found
    }

    /// A screenshot of the whole page at `width` pixels (a desktop's 1280 or
    /// 1366, or a 390 px phone), the window grown to the page's height for it.
    async fn shot_whole(&self, name: &str, width: u32) {
        self.resize(width, 1000).await;
        let height = self
            .b
            .execute("return document.documentElement.scrollHeight", vec![])
            .await
            .ok()
            .and_then(|h| h.as_u64())
            .unwrap_or(1000);
        self.b.set_window_size(width, (height as u32 + 140).clamp(600, 8000)).await.expect("resize");
        self.shot(name).await;
        self.b.set_window_size(1280, 1000).await.expect("resize");
    }

    /// The page at both widths (see [`Story::on_a_desktop`] and
    /// [`Story::on_a_phone`]): what axe-core finds, each told with `path`.
    async fn at_both_widths(&self, path: &str, name: &str) -> Vec<String> {
        let mut found: Vec<String> =
            self.on_a_desktop(name).await.into_iter().map(|p| format!("{path}: {p}")).collect();
        found.extend(self.on_a_phone(name).await.into_iter().map(|p| format!("{path} at 390 px: {p}")));
        found
    }
    /// Types `keys` into whatever has the focus, as a person at a keyboard does.
    async fn keys(&self, keys: &str) {
        self.b.active_element().await.expect("something has the focus").send_keys(keys).await.expect("type");
    }

    /// The `id` (or, without one, the start of the markup) of the focused element.
    async fn focused(&self) -> String {
        self.b
            .execute("const e = document.activeElement; return e.id || e.outerHTML.slice(0, 60);", vec![])
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Waits until the field `css` holds `value`.
    async fn wait_value(&self, css: &str, value: &str) {
        for _ in 0..100 {
            if let Ok(field) = self.b.find(Locator::Css(css)).await {
                if field.prop("value").await.ok().flatten().as_deref() == Some(value) {
                    return;
                }
            }
            rocket::tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{css} never held {value:?}");
    }

    /// The visible text of the element `css`.
    async fn text_of(&self, css: &str) -> String {
        self.b.find(Locator::Css(css)).await.unwrap_or_else(|_| panic!("no {css}")).text().await.expect("text")
    }

    /// Presses Tab until `id` has the focus (at most `limit` times).
    async fn tab_to(&self, id: &str, limit: usize) {
        for _ in 0..limit {
            if self.focused().await == id {
                return;
            }
            self.keys(TAB).await;
        }
        assert_eq!(self.focused().await, id, "Tab never reached {id}");
    }

    /// Presses Tab until the focused element matches `css` (at most `limit`
    /// times), then returns how its focus shows: whether it is
    /// `:focus-visible`, and its computed outline style, width, offset and colour.
    async fn tab_to_matching(&self, css: &str, limit: usize) -> (bool, String, f64, f64, String) {
        let script = "const e = document.activeElement;
            if (!e || !e.matches(arguments[0])) return null;
            const s = getComputedStyle(e);
            return [e.matches(':focus-visible'), s.outlineStyle, parseFloat(s.outlineWidth),
                    parseFloat(s.outlineOffset), s.outlineColor];";
        for _ in 0..limit {
            let found = self.b.execute(script, vec![serde_json::json!(css)]).await.expect("reads the focus");
            if let Some([visible, style, width, offset, colour]) = found.as_array().map(Vec::as_slice) {
                return (
                    visible.as_bool().unwrap_or(false),
                    style.as_str().unwrap_or_default().to_string(),
                    width.as_f64().unwrap_or(0.0),
                    offset.as_f64().unwrap_or(0.0),
                    colour.as_str().unwrap_or_default().to_string(),
                );
            }
            self.keys(TAB).await;
        }
        panic!("Tab never reached {css}; the focus is on {}", self.focused().await);
    }

    /// Asserts that reaching `css` with Tab shows a strong focus ring.
    async fn assert_focus_ring(&self, css: &str, limit: usize) {
        let (visible, style, width, offset, colour) = self.tab_to_matching(css, limit).await;
        assert!(visible, "{css} reached by Tab is :focus-visible");
        assert!(style != "none" && width >= 2.0, "{css} shows an outline when focused: {style} {width}px");
        assert!(offset >= 1.0, "{css}'s outline stands off the element: {offset}px");
        assert!(
            !colour.contains("rgba(0, 0, 0, 0)") && colour != "transparent",
            "{css}'s outline has a colour: {colour}"
        );
    }

    /// Runs axe-core on the page and returns every violation it finds.
    async fn accessibility(&self) -> Vec<String> {
        let script = format!(
            "{AXE}\nconst done = arguments[arguments.length - 1];
             axe.run(document, {{ resultTypes: ['violations'] }}).then(r => done(
               r.violations
                 .map(v => v.id + ' (' + v.impact + '): ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))));"
        );
        let found = self.b.execute_async(&script, vec![]).await.expect("axe runs");
        found.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()).unwrap_or_default()
    }

    /// Shows `path` as a browser without JavaScript renders it (its markup
    /// and styles, none of its scripts run), for an accessibility check of
    /// what such a browser gets.
    async fn go_without_scripts(&self, path: &str) {
        self.go("/").await;
        let script = "const [path, done] = arguments;
            fetch(path, { credentials: 'same-origin' }).then(r => r.text()).then(html => {
              const page = new DOMParser().parseFromString(html, 'text/html');
              page.querySelectorAll('script').forEach(s => s.remove());
              document.replaceChild(document.adoptNode(page.documentElement), document.documentElement);
              const styles = [...document.querySelectorAll('link[rel=stylesheet]')];
              Promise.all(styles.map(l => l.sheet ? Promise.resolve() : new Promise(ok => l.addEventListener('load', ok))))
                // Let the styles' transitions end before colours are measured.
                .then(() => setTimeout(() => done(document.querySelectorAll('.picker-list').length), 600));
            });";
        let lists =
            self.b.execute_async(script, vec![serde_json::json!(path)]).await.expect("the page without scripts");
        assert_eq!(lists, serde_json::json!(0), "no script ran on {path}");
    }

    /// Presses Tab until the Save button has the focus.
    async fn tab_to_save(&self) {
        for _ in 0..40 {
            let focused = self.focused().await;
            if focused.contains("value=\"save\"") {
                return;
            }
            self.keys(TAB).await;
        }
        panic!("Tab never reached Save");
    }

    /// Chooses in the combobox `input_css` by typing `typed` and pressing
    /// Enter, then waits for the hidden field `name` to hold `value`.
    async fn pick(&self, input_css: &str, typed: &str, name: &str, value: &str) {
        self.fill(input_css, typed).await;
        self.b.find(Locator::Css(input_css)).await.expect("combobox").send_keys(ENTER).await.expect("Enter");
        self.wait_value(&format!("input[type=hidden][name=\"{name}\"]"), value).await;
    }
}

/// The SKUs and quantities of the latest order of the customer whose id is
/// `customer`, as the database holds them.
async fn latest_order_lines(app: &TestApp, customer: &str) -> Vec<(String, i32)> {
    sqlx::query_as(
        "SELECT p.sku, i.quantity FROM order_items i JOIN products p ON p.id = i.product_id
          WHERE i.order_id = (SELECT max(id) FROM orders WHERE user_id = $1::TEXT::BIGINT) ORDER BY p.sku",
    )
    .bind(customer)
    .fetch_all(&app.pool)
    .await
    .expect("the order's lines")
}

/// Signs in through the sign-in form.
async fn sign_in(s: &Story, next: &str) {
    s.go(&format!("/sign-in?next={next}")).await;
    s.fill("#email", "admin@shop.example").await;
    s.fill("#password", PASSWORD).await;
    s.click("form[action='/sign-in'] button[type=submit]").await;
}

/// The page at both widths, as [`Story::at_both_widths`] checks it, and
/// every box in its main part whose content is cut off or scrolls sideways on
/// a phone.
async fn whole_at_both_widths(s: &Story, path: &str, name: &str) -> Vec<String> {
    let mut found = s.at_both_widths(path, name).await;
    found.extend(s.sideways_on_a_phone("main").await.into_iter().map(|p| format!("{path} at 390 px, cut off: {p}")));
    found
}

#[rocket::async_test]
async fn a_person_runs_the_shop_in_a_real_browser() {
    let app = TestApp::with_demo(false).await;
    app.staff("admin@shop.example", "admin").await;
    let base = serve(&app, &[]).await;
    let (b, _driver) = browser(true).await;
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../browser-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let s = Story { b, base, shots };
    let mut problems: Vec<String> = Vec::new();

    // Sign in.
    s.go("/users").await;
    assert!(s.b.current_url().await.unwrap().as_str().contains("/sign-in?next="), "asked to sign in first");
    problems.extend(s.accessibility().await.into_iter().map(|p| format!("/sign-in: {p}")));
    s.fill("#email", "admin@shop.example").await;
    s.fill("#password", PASSWORD).await;
    s.click("form[action='/sign-in'] button[type=submit]").await;
    assert!(s.b.current_url().await.unwrap().as_str().ends_with("/users"), "back to the page asked for");

    // Customers, with a validation message first.
    s.go("/users/new").await;
    s.fill("#name", "Ada Lovelace").await;
    s.fill("#email", "not-an-email").await;
    s.click("form.card-form button[type=submit]").await;
    let page = s.text().await;
    assert!(page.contains("Enter a valid email address"), "{page}");
    s.shot("validation").await;
    s.fill("#email", "ada@example.com").await;
    s.click("form.card-form button[type=submit]").await;
    assert!(s.text().await.contains("Customer Ada Lovelace created."));
    s.go("/users/new").await;
    s.fill("#name", "Grace Hopper").await;
    s.fill("#email", "grace@example.com").await;
    s.click("form.card-form button[type=submit]").await;
    let ada = app.scalar_i64("SELECT id FROM users WHERE email = 'ada@example.com'").await.to_string();
    let grace = app.scalar_i64("SELECT id FROM users WHERE email = 'grace@example.com'").await.to_string();

    // Products.
    for (name, sku, price, stock) in
        [("Stoneware Mug", "MUG-1", "12.50", "10"), ("Coffee Beans", "BEAN-1", "16.99", "20")]
    {
        s.go("/products/new").await;
        s.fill("#name", name).await;
        s.fill("#sku", sku).await;
        s.fill("#price", price).await;
        s.fill("#stock", stock).await;
        s.click("form.card-form button[type=submit]").await;
        assert!(s.text().await.contains(&format!("Product {name} created.")));
    }
    let mug = app.scalar_i64("SELECT id FROM products WHERE sku = 'MUG-1'").await.to_string();
    let beans = app.scalar_i64("SELECT id FROM products WHERE sku = 'BEAN-1'").await.to_string();

    // Orders, choosing everything through the search pickers.
    let place = |customer: &'static str, who: String, lines: Vec<(&'static str, String, &'static str)>| {
        let s = &s;
        async move {
            s.go("/orders/new").await;
            s.pick("#customer_q", customer, "user_id", &who).await;
            for (i, (typed, product, quantity)) in lines.iter().enumerate() {
                s.pick(&format!("#line-{i}-q"), typed, &format!("lines[{i}].product_id"), product).await;
                s.fill(&format!("#line-{i}-quantity"), quantity).await;
            }
            s.shot("order-form").await;
            s.click("button[value=save]").await;
            let page = s.text().await;
            assert!(page.contains("placed."), "{page}");
        }
    };
    place("lovelace", ada.clone(), vec![("mug", mug.clone(), "2"), ("BEAN", beans.clone(), "1")]).await;
    s.shot("order").await;
    place("grace@", grace.clone(), vec![("stoneware", mug.clone(), "1")]).await;
    place("ada", ada.clone(), vec![("coffee", beans.clone(), "1")]).await;

    // All orders of one customer.
    s.go(&format!("/users/{ada}")).await;
    s.shot("customer").await;
    s.click(&format!("#orders-heading + a[href='/orders?user_id={ada}']")).await;
    let rows = s.b.find_all(Locator::Css("table tbody tr")).await.expect("rows");
    assert_eq!(rows.len(), 2, "Ada's two orders");

    // Change her email.
    s.go(&format!("/users/{ada}/edit")).await;
    s.fill("#email", "ada@analytical.engine").await;
    s.click("form.card-form button[type=submit]").await;
    assert!(s.text().await.contains("ada@analytical.engine"));

    // Delete Grace's order, after confirming.
    let graces = app
        .scalar_i64(
            "SELECT max(id) FROM orders WHERE user_id = (SELECT id FROM users WHERE email = 'grace@example.com')",
        )
        .await;
    s.go(&format!("/orders/{graces}")).await;
    s.click(&format!("a[href='/orders/{graces}/delete']")).await;
    assert!(s.text().await.contains(&format!("Delete order #{graces}?")));
    s.click("button.danger").await;
    assert!(s.text().await.contains(&format!("Order #{graces} and its lines deleted.")));

    // The reports name the top customer and her revenue: 2 × 12.50 + 16.99 + 16.99.
    s.go("/reports").await;
    let reports = s.text().await;
    assert!(
        reports.contains("TOP CUSTOMER\nAda Lovelace") || reports.contains("Top customer\nAda Lovelace"),
        "{reports}"
    );
    assert!(reports.contains("$58.98"), "{reports}");

    // Bulk: tick Ada's two orders on the list, mark them paid after reviewing.
    s.go(&format!("/orders?user_id={ada}")).await;
    let adas: Vec<i64> = sqlx::query_scalar("SELECT id FROM orders WHERE user_id = $1::TEXT::BIGINT")
        .bind(&ada)
        .fetch_all(&app.pool)
        .await
        .expect("Ada's orders");
    for id in adas {
        s.b.find(Locator::Css(&format!("#pick-{id}"))).await.expect("tick box").click().await.expect("tick");
    }
    s.b.find(Locator::Css("#bulk-what")).await.expect("action").select_by_value("paid").await.expect("choose");
    s.click("form#bulk button[type=submit]").await;
    assert!(s.text().await.contains("Mark as paid: 2 orders?"), "{}", s.text().await);
    s.shot("bulk-orders-review").await;
    problems.extend(s.accessibility().await.into_iter().map(|p| format!("bulk orders review: {p}")));
    s.click("form[action='/orders/bulk'] button[type=submit]").await;
    assert!(s.text().await.contains("2 orders are now paid."), "{}", s.text().await);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM orders WHERE status = 'paid'").await, 2);

    // Bulk: every product's price up 10%, seen before and after on the review.
    s.go("/products").await;
    s.b.find(Locator::Css("#bulk-scope")).await.expect("scope").select_by_value("all").await.expect("choose");
    s.fill("#bulk-percent", "10").await;
    s.click("form#bulk button[type=submit]").await;
    let review = s.text().await;
    assert!(review.contains("Change prices by +10%: 2 products?") && review.contains("$13.75"), "{review}");
    s.shot("bulk-products-review").await;
    problems.extend(s.accessibility().await.into_iter().map(|p| format!("bulk products review: {p}")));
    s.click("form[action='/products/bulk'] button[type=submit]").await;
    assert!(s.text().await.contains("Change prices by +10%: 2 products changed."));
    assert_eq!(app.scalar_i64("SELECT price_cents FROM products WHERE sku = 'MUG-1'").await, 1375);

    // A hurried keyboard user places an order with JavaScript: the customer
    // by typing and Enter, two products with the keyboard alone, the first
    // quantity left as it is, then Save.
    s.go("/orders/new").await;
    assert_eq!(s.focused().await, "customer_q", "the customer search has the focus");
    s.keys("grace").await;
    s.keys(ENTER).await;
    s.wait_value("input[type=hidden][name=\"user_id\"]", &grace).await;
    assert!(
        s.text_of(".order-head .picker").await.contains("grace@example.com"),
        "the chosen customer shows her email"
    );
    s.keys(TAB).await; // status
    s.keys(TAB).await; // the first line's product
    assert_eq!(s.focused().await, "line-0-q");
    s.keys("stonew").await;
    s.keys(ENTER).await;
    s.wait_value("input[type=hidden][name=\"lines[0].product_id\"]", &mug).await;
    s.tab_to("line-1-q", 6).await;
    s.keys("BEAN").await;
    // Wait for the list, move down onto the match, choose it.
    s.b.wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::Css("[role=listbox]:not([hidden]) [role=option][aria-selected=true]"))
        .await
        .expect("the matches open under the box");
    let combobox = s.b.find(Locator::Css("#line-1-q")).await.expect("combobox");
    assert_eq!(combobox.attr("role").await.unwrap().as_deref(), Some("combobox"));
    assert_eq!(combobox.attr("aria-expanded").await.unwrap().as_deref(), Some("true"));
    assert!(combobox.attr("aria-activedescendant").await.unwrap().is_some());
    s.shot("order-form-combobox").await;
    problems.extend(s.accessibility().await.into_iter().map(|p| format!("order form, list open: {p}")));
    s.keys(DOWN).await;
    s.keys(ENTER).await;
    s.wait_value("input[type=hidden][name=\"lines[1].product_id\"]", &beans).await;
    assert_eq!(combobox.attr("aria-expanded").await.unwrap().as_deref(), Some("false"));
    s.keys(TAB).await;
    assert_eq!(s.focused().await, "line-1-quantity");
    s.keys(BACKSPACE).await;
    s.keys("2").await;
    let prices: (i64, i64) = sqlx::query_as("SELECT (SELECT price_cents FROM products WHERE sku = 'MUG-1'), (SELECT price_cents FROM products WHERE sku = 'BEAN-1')")
        .fetch_one(&app.pool)
        .await
        .expect("prices");
    let expected_total = shopdesk::domain::Money::from_cents(prices.0 + 2 * prices.1).to_string();
    assert_eq!(s.text_of("#order-total").await, expected_total, "the running total");
    assert_eq!(s.text_of("#order-items").await, "3 items");
    assert!(s.text_of(".order-line:nth-child(2) .picker-note").await.contains("in stock"));
    // "+ Add a line" and "Remove" work in place.
    let lines = |s: &Story| {
        let b = s.b.clone();
        async move { b.find_all(Locator::Css("tr.order-line")).await.expect("lines").len() }
    };
    let before = lines(&s).await;
    s.b.find(Locator::Css("button.add-line")).await.expect("add").click().await.expect("add a line");
    assert_eq!(lines(&s).await, before + 1);
    assert!(s.focused().await.ends_with("-q"), "the new line's product has the focus");
    s.b.find(Locator::Css("tr.order-line:last-child button.remove-line"))
        .await
        .expect("remove")
        .click()
        .await
        .expect("remove");
    assert_eq!(lines(&s).await, before);
    assert!(s.focused().await.contains("value=\"add_line\""), "after the last line is removed, + Add a line");
    // Removing a line in the middle moves the focus to the line that took its place.
    for _ in 0..2 {
        s.b.find(Locator::Css("button.add-line")).await.expect("add").click().await.expect("add a line");
    }
    let last_input =
        s.b.find(Locator::Css("tr.order-line:last-child .picker-input"))
            .await
            .expect("the last line")
            .attr("id")
            .await
            .expect("its id")
            .expect("an id");
    s.b.find(Locator::Css(&format!("tr.order-line:nth-child({}) button.remove-line", before + 1)))
        .await
        .expect("remove")
        .click()
        .await
        .expect("remove");
    assert_eq!(s.focused().await, last_input, "the next line's product has the focus");
    s.b.find(Locator::Css("tr.order-line:last-child button.remove-line"))
        .await
        .expect("remove")
        .click()
        .await
        .expect("remove");
    assert_eq!(lines(&s).await, before);
    assert!(s.b.current_url().await.unwrap().as_str().ends_with("/orders/new"), "no page was loaded");
    s.shot_whole("order-form-filled", 1280).await;
    s.shot_whole("order-form-filled-phone", 390).await;
    assert_eq!(s.sideways_on_a_phone("form.order-form").await, Vec::<String>::new(), "the order form at 390 px");
    assert!(s.b.find_all(Locator::Css(".field-error")).await.expect("errors").is_empty());
    s.tab_to_save().await;
    s.keys(ENTER).await;
    for _ in 0..100 {
        if s.b.current_url().await.unwrap().as_str().contains("/orders/")
            && !s.b.current_url().await.unwrap().as_str().ends_with("/new")
        {
            break;
        }
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let placed = s.text().await;
    assert!(placed.contains("placed."), "saved without a single validation error: {placed}");
    let graces_lines = latest_order_lines(&app, &grace).await;
    assert_eq!(graces_lines, [("BEAN-1".to_string(), 2), ("MUG-1".to_string(), 1)]);

    // Who bought the mug, and on which orders: the page and SQL agree.
    s.go(&format!("/products/{mug}")).await;
    let buyers: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT u.name, sum(i.quantity)::BIGINT, count(*) FROM order_items i JOIN orders o ON o.id = i.order_id
           JOIN users u ON u.id = o.user_id
          WHERE i.product_id = $1::TEXT::BIGINT AND o.status <> 'cancelled' GROUP BY u.id, u.name
          ORDER BY sum(i.quantity * i.unit_price_cents) DESC, u.id DESC",
    )
    .bind(&mug)
    .fetch_all(&app.pool)
    .await
    .expect("buyers");
    let rows = s.b.find_all(Locator::Css("#bought-by tbody tr")).await.expect("buyers' rows");
    assert_eq!(rows.len(), buyers.len());
    for (row, (name, units, _)) in rows.iter().zip(&buyers) {
        let text = row.text().await.expect("row");
        assert!(text.starts_with(name.as_str()) && text.contains(&format!(" {units} ")), "{text} for {name}");
    }
    assert!(s.text().await.contains(&format!("Bought by {} customers", buyers.len())));
    assert_eq!(s.sideways_on_a_phone("#bought-by").await, Vec::<String>::new(), "Bought by at 390 px");
    problems.extend(s.accessibility().await.into_iter().map(|p| format!("product page: {p}")));
    let on_orders: i64 = buyers.iter().map(|(_, _, orders)| orders).sum();
    let link = s.b.find(Locator::Css(".stat-note a[href*='status=active']")).await.expect("on N orders");
    assert_eq!(link.text().await.expect("link"), format!("{on_orders} orders"));
    s.click(".stat-note a[href*='status=active']").await;
    let listed = s.b.find_all(Locator::Css("table tbody tr")).await.expect("orders").len() as i64;
    let in_sql: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM orders o WHERE o.status <> 'cancelled'
            AND EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id AND i.product_id = $1::TEXT::BIGINT)",
    )
    .bind(&mug)
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!((listed, on_orders), (in_sql, in_sql), "the orders list shows the same orders");
    assert!(s.text().await.contains("Orders containing Stoneware Mug"));
    s.shot_whole("orders-of-product", 1280).await;
    problems.extend(s.accessibility().await.into_iter().map(|p| format!("orders of a product: {p}")));

    // Every main page, at a desktop's 1366 × 768 and a phone's 390 × 844: a
    // screenshot of each, nothing on the phone reaching past the screen, and
    // an accessibility check at both widths.
    let order: i64 = sqlx::query_scalar("SELECT max(id) FROM orders WHERE user_id = $1::TEXT::BIGINT")
        .bind(&ada)
        .fetch_one(&app.pool)
        .await
        .expect("Ada's latest order");
    for (path, name) in [
        ("/".to_string(), "dashboard"),
        ("/users".to_string(), "customers"),
        ("/products".to_string(), "products"),
        ("/orders".to_string(), "orders"),
        (format!("/users/{ada}"), "customer-page"),
        (format!("/products/{mug}"), "product"),
        (format!("/orders/{order}"), "order"),
        ("/orders/new".to_string(), "new-order"),
        (format!("/orders/{order}/edit"), "order-edit"),
        ("/reports".to_string(), "reports"),
        ("/audit".to_string(), "audit-log"),
        ("/staff".to_string(), "staff"),
        ("/account".to_string(), "account"),
        (format!("/users/{ada}/edit"), "customer-form"),
    ] {
        s.go(&path).await;
        problems.extend(s.at_both_widths(&path, name).await);
    }
    s.go("/reports").await;
    s.shot_whole("reports-whole", 1280).await;
    let sideways = {
        s.go(&format!("/users/{ada}")).await;
        s.sideways_on_a_phone("#products-bought").await
    };
    assert_eq!(sideways, Vec::<String>::new(), "Products bought at 390 px");
    // On a phone the sections fold into a Menu that opens from the keyboard.
    s.resize(390, 844).await;
    s.go("/orders").await;
    assert!(
        !s.b.find(Locator::Css(".nav-wide a[href='/reports']"))
            .await
            .expect("link")
            .is_displayed()
            .await
            .expect("shown"),
        "the header's links are folded away"
    );
    s.b.execute("document.activeElement && document.activeElement.blur(); document.body.focus();", vec![])
        .await
        .expect("focus reset");
    s.assert_focus_ring("details.nav-menu > summary", 10).await;
    let reports_link = s.b.find(Locator::Css(".nav-menu-panel a[href='/reports']")).await.expect("in the menu");
    assert!(!reports_link.is_displayed().await.expect("shown"), "the menu starts closed");
    s.keys(ENTER).await;
    assert!(reports_link.is_displayed().await.expect("shown"), "Enter opens the menu");
    s.keys(TAB).await;
    assert_eq!(s.focused().await, "<a href=\"/\">Dashboard</a>", "Tab goes into the open menu");
    s.shot("menu-phone").await;
    assert_eq!(s.past_the_edge().await, Vec::<String>::new(), "the open menu at 390 px");
    problems.extend(s.accessibility().await.into_iter().map(|p| format!("the open menu at 390 px: {p}")));
    s.click(".nav-menu-panel a[href='/reports']").await;
    assert!(s.b.current_url().await.expect("url").as_str().ends_with("/reports"));
    s.b.set_window_size(1280, 1000).await.expect("resize");
    // Keyboard focus shows clearly, outline buttons included: Sign out in
    // the header, a line's Remove and the list's Clear.
    s.go("/orders/new").await;
    s.b.execute("document.activeElement && document.activeElement.blur(); document.body.focus();", vec![])
        .await
        .expect("focus reset");
    s.assert_focus_ring("form[action='/sign-out'] button", 30).await;
    s.assert_focus_ring("button.remove-line, button.add-line", 60).await;
    s.shot("focus-outline-button").await;
    s.go("/orders").await;
    s.assert_focus_ring("a[href='/orders'][role=button].outline", 80).await;
    problems.extend(s.accessibility().await.into_iter().map(|p| format!("/orders with the focus shown: {p}")));
    // What a browser without JavaScript gets: the search, Find and list.
    for path in ["/orders/new".to_string(), format!("/orders/new?user_id={ada}"), "/orders?product_q=e".to_string()] {
        s.go_without_scripts(&path).await;
        problems.extend(s.accessibility().await.into_iter().map(|p| format!("{path} without JavaScript: {p}")));
    }
    assert!(problems.is_empty(), "accessibility problems:\n{}", problems.join("\n"));
    let _ = s.b.close().await;

    // The same order without JavaScript, from the keyboard: searches typed,
    // then Save, which chooses each search's only match.
    let (b, _driver) = browser(false).await;
    let s = Story { b, base: s.base.clone(), shots: s.shots.clone() };
    sign_in(&s, "/orders/new").await;
    assert!(s.b.find(Locator::Css("select#user_id")).await.is_ok(), "no script turned the list into a combobox");
    assert_eq!(s.focused().await, "customer_q");
    s.keys("ada@analytical").await;
    s.assert_focus_ring("button.picker-find", 3).await;
    s.tab_to("line-0-q", 6).await;
    s.keys("coffee").await;
    s.tab_to("line-1-q", 8).await;
    s.keys("stoneware").await;
    s.tab_to("line-1-quantity", 4).await;
    s.keys(BACKSPACE).await;
    s.keys("3").await;
    s.shot_whole("order-form-without-javascript", 1280).await;
    s.tab_to_save().await;
    let old = s.b.find(Locator::Css("body")).await.expect("body");
    s.keys(ENTER).await;
    for _ in 0..100 {
        if old.tag_name().await.is_err() {
            break;
        }
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let placed = s.text().await;
    assert!(placed.contains("placed."), "saved without a single validation error: {placed}");
    let adas_lines = latest_order_lines(&app, &ada).await;
    assert_eq!(adas_lines, [("BEAN-1".to_string(), 1), ("MUG-1".to_string(), 3)]);
    s.go(&format!("/products/{mug}")).await;
    s.shot_whole("product-without-javascript-phone", 390).await;
    let _ = s.b.close().await;
}

/// The demo shop (a year of a small coffee shop's orders) as it is shown to
/// a board, on a 1366 × 768 screen and a 390 × 844 phone: the pages a
/// presenter walks through, each screenshotted at both sizes
/// (`demo-<page>.png`, `demo-<page>-phone.png`), none reaching past the
/// phone's screen, and axe-core finding nothing on any of them.
#[rocket::async_test]
async fn the_demo_shop_on_a_desktop_and_a_phone() {
    let app = TestApp::with_demo(true).await;
    app.staff("admin@shop.example", "admin").await;
    let base = serve(&app, &[]).await;
    let (b, _driver) = browser(true).await;
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../browser-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let s = Story { b, base, shots };
    sign_in(&s, "/").await;
    // The order with the most lines, so the order page shows a real basket.
    let order: i64 = sqlx::query_scalar(
        "SELECT order_id FROM order_items GROUP BY order_id ORDER BY count(*) DESC, order_id DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .expect("an order of the demo shop");
    // A year: the twelve months up to today.
    let today = chrono::Utc::now().date_naive();
    let year_ago = today - chrono::Months::new(12) + chrono::Days::new(1);
    let mut problems: Vec<String> = Vec::new();
    for (path, name) in [
        ("/?period=30d".to_string(), "demo-dashboard-30-days"),
        (format!("/?period=custom&from={year_ago}&to={today}"), "demo-dashboard-1-year"),
        ("/reports".to_string(), "demo-reports"),
        ("/orders".to_string(), "demo-orders"),
        (format!("/orders/{order}"), "demo-order"),
        ("/audit".to_string(), "demo-audit-log"),
    ] {
        s.go(&path).await;
        let page = s.text().await;
        assert!(!page.contains("Sign in"), "{path} shows the shop, not the sign-in form");
        if name.starts_with("demo-dashboard") {
            assert!(!page.contains("could not be used"), "{path} shows the period asked for");
        }
        problems.extend(s.at_both_widths(&path, name).await);
    }
    assert!(problems.is_empty(), "accessibility problems:\n{}", problems.join("\n"));
    let _ = s.b.close().await;
}

/// The pages of a PDF: its `/Type /Page` objects (not the `/Pages` tree).
fn pdf_pages(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    text.match_indices("/Type")
        .filter(|(at, _)| {
            let rest = text[at + 5..].trim_start();
            rest.starts_with("/Page") && !rest.starts_with("/Pages")
        })
        .count()
}

/// An invoice of a 10-line order, printed by headless Chromium (WebDriver's
/// Print Page, which is Chromium's print-to-PDF), fits one page of A4 and
/// one page of Letter, and shows no navigation.
#[rocket::async_test]
async fn an_invoice_of_ten_lines_prints_on_one_page_of_a4_and_of_letter() {
    use fantoccini::wd::{PrintConfiguration, PrintSize};
    let app = TestApp::new().await;
    app.staff("admin@shop.example", "admin").await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let mut lines = Vec::new();
    for n in 1..=10 {
        let product =
            app.product(&format!("Single-origin coffee, lot {n} (1 kg bag)"), &format!("LOT-{n}"), 1850 + n, 50).await;
        lines.push((product, (n % 3 + 1) as i32));
    }
    let order = app.place_order_with_status(ada, "paid", &lines).await;
    let base = serve(&app, &[]).await;
    let (b, _driver) = browser(true).await;
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../browser-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let s = Story { b, base, shots };
    sign_in(&s, "/").await;
    s.go(&format!("/orders/{order}/invoice")).await;
    let text = s.text().await;
    assert!(text.contains("Invoice") && text.contains("INV-000001"), "the invoice is shown: {text}");
    assert!(text.contains("lot 10 (1 kg bag)"), "all ten lines are shown");
    s.shot("invoice").await;
    for (size, paper) in [(PrintSize::A4, "A4"), (PrintSize::US_LETTER, "Letter")] {
        let config =
            PrintConfiguration::builder().size(size).shrink_to_fit(false).build().expect("a print configuration");
        let pdf = s.b.print(config).await.expect("Chromium prints the page to PDF");
        assert!(pdf.starts_with(b"%PDF"), "a PDF on {paper}");
        std::fs::write(s.shots.join(format!("invoice-{paper}.pdf")), &pdf).expect("keep the PDF");
        assert_eq!(pdf_pages(&pdf), 1, "the 10-line invoice fits one page of {paper}");
    }
    // A batch of two packing slips prints as two pages: one order per page.
    let second = app.place_order_with_status(ada, "paid", &lines[..2]).await;
    s.go(&format!("/orders/packing-slips?ids={order}&ids={second}")).await;
    let config = PrintConfiguration::builder().shrink_to_fit(false).build().expect("a print configuration");
    let pdf = s.b.print(config).await.expect("Chromium prints the slips to PDF");
    assert_eq!(pdf_pages(&pdf), 2, "each order's slip on a page of its own");
    let _ = s.b.close().await;
}

#[rocket::async_test]
async fn an_admin_imports_customers_through_mapping_and_preview_then_undoes_it() {
    let app = TestApp::with_demo(false).await;
    app.staff("admin@shop.example", "admin").await;
    let kept = app.customer("Old Name", "kept@example.com").await;
    let base = serve(&app, &[]).await;
    let (b, _driver) = browser(true).await;
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../browser-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let s = Story { b, base, shots };
    sign_in(&s, "/users").await;

    // A spreadsheet whose name column has a header nobody would guess.
    let dir = tempfile::tempdir().expect("temporary folder");
    let file = dir.path().join("customers.csv");
    std::fs::write(
        &file,
        "Client,E-mail\r\nGrace Hopper,grace@example.com\r\nNew Name,KEPT@example.com\r\nBroken,not-an-email\r\n",
    )
    .expect("write the file");

    s.click("a[href='/users/import']").await;
    s.upload(&file).await;

    // Choose the name column, then read the dry run.
    s.name_from_column("A: Client").await;
    let preview = s.text().await;
    assert_eq!(s.text_of("#count-new").await, "1", "{preview}");
    assert!(preview.contains("Enter a valid email address"), "invalid row explained as the form does: {preview}");
    assert!(preview.contains("Old Name") && preview.contains("New Name"), "the update's change shown: {preview}");
    s.shot("import-preview").await;
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 1, "a dry run changes nothing");

    s.click("form:has(input[name=token]) button[type=submit]").await;
    let done = s.text().await;
    assert!(done.contains("Imported customers.csv: 1 new, 1 updated"), "{done}");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users WHERE email = 'grace@example.com'").await, 1);
    let name: String =
        sqlx::query_scalar("SELECT name FROM users WHERE id = $1").bind(kept).fetch_one(&app.pool).await.unwrap();
    assert_eq!(name, "New Name");

    // Undo it from its change set.
    let set = app.scalar_i64("SELECT id FROM change_sets WHERE kind = 'import'").await;
    s.go(&format!("/changes/{set}")).await;
    s.click(&format!("a[href='/changes/{set}/undo']")).await;
    s.shot("import-undo").await;
    s.click(&format!("form[action='/changes/{set}/undo'] button[type=submit]")).await;
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users WHERE email = 'grace@example.com'").await, 0);
    let name: String =
        sqlx::query_scalar("SELECT name FROM users WHERE id = $1").bind(kept).fetch_one(&app.pool).await.unwrap();
    assert_eq!(name, "Old Name", "the updated customer has its name back");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM change_sets WHERE kind = 'undo'").await, 1);
    app.assert_figures_exact().await;
}

/// The pages that came after the main story, as a presenter shows them: an
/// import from upload to done, its change set and the undo's confirmation,
/// the job list and a job's page, the refund form (with its messages, then
/// filled in), the order's timeline after the refund, the invoice, a packing
/// slip and a batch of them, and the history of a deleted customer and of a
/// deleted order. Each is screenshotted at 1366 px and on a 390 px phone, none
/// reaches past the phone's screen, and axe-core finds nothing on any.
#[rocket::async_test]
async fn the_newer_pages_on_a_desktop_and_a_phone() {
    // Bulk actions past 5 orders run as a job, which the served app's worker runs.
    let app = TestApp::configured(false, &[("jobs.threshold_rows", 5.into())]).await;
    app.sign_in_as("admin@test.example", "admin").await;
    app.staff("admin@shop.example", "admin").await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let grace = app.customer("Grace Brewster Murray Hopper", "grace.hopper@navy-research.example").await;
    let mug = app.product("Stoneware Mug", "MUG-1", 1250, 40).await;
    let beans = app.product("Single-origin coffee, Ethiopia Yirgacheffe (1 kg bag)", "BEAN-ETH-1KG", 3499, 40).await;
    let order = app.place_order_with_status(ada, "paid", &[(mug, 3), (beans, 2)]).await;
    let second = app.place_order_with_status(grace, "paid", &[(beans, 1)]).await;
    for _ in 0..4 {
        app.place_order_with_status(grace, "paid", &[(mug, 1)]).await;
    }
    // A deleted customer and a deleted order, for their history pages.
    let carol = app.customer("Carol Shaw", "carol@example.com").await;
    app.delete_customer(carol, app.version_of("users", carol).await).await;
    let gone = app.place_order(ada, &[(mug, 2), (beans, 1)]).await;
    app.delete_order(gone, app.version_of("orders", gone).await).await;

    // This server runs no job, so a queued job waits; a second one with a
    // worker starts once the queued job's page has been seen.
    let base = serve(&app, &[]).await;
    let (b, _driver) = browser(true).await;
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../browser-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let s = Story { b, base, shots };
    sign_in(&s, "/").await;
    let mut problems: Vec<String> = Vec::new();

    // Import customers: upload, columns and dry run, done.
    let dir = tempfile::tempdir().expect("temporary folder");
    let file = dir.path().join("customers-from-the-old-shop.csv");
    std::fs::write(
        &file,
        "Client,E-mail\r\nMargaret Hamilton,margaret@example.com\r\nAda Lovelace-King,ADA@example.com\r\n\
         Broken,not-an-email\r\n",
    )
    .expect("write the file");
    s.go("/users/import").await;
    problems.extend(whole_at_both_widths(&s, "/users/import", "import-upload").await);
    // An empty file is turned down next to the field.
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "").expect("write the empty file");
    s.upload(&empty).await;
    assert!(s.b.find(Locator::Css("#file-error")).await.is_ok(), "{}", s.text().await);
    problems.extend(whole_at_both_widths(&s, "an empty file's upload", "import-upload-message").await);
    s.upload(&file).await;
    problems.extend(whole_at_both_widths(&s, "the import's columns", "import-columns").await);
    s.name_from_column("A: Client").await;
    assert_eq!(s.text_of("#count-new").await, "1", "{}", s.text().await);
    problems.extend(whole_at_both_widths(&s, "the import's dry run", "import-preview").await);
    s.click("form:has(input[name=token]) button[type=submit]").await;
    let done = s.text().await;
    assert!(done.contains("1 new, 1 updated"), "{done}");
    problems.extend(whole_at_both_widths(&s, "the import done", "import-done").await);

    // Its change set, and the confirmation of its undo.
    let set = app.scalar_i64("SELECT id FROM change_sets WHERE kind = 'import'").await;
    for (path, name) in [(format!("/changes/{set}"), "change-set"), (format!("/changes/{set}/undo"), "change-set-undo")]
    {
        s.go(&path).await;
        assert!(s.text().await.contains("customers-from-the-old-shop.csv"), "{path} names the file");
        problems.extend(whole_at_both_widths(&s, &path, name).await);
    }

    // Shipping every paid order runs as a job: queued, then done once a
    // server with a worker runs.
    app.bulk_orders("action=shipped&scope=all&filters.status=paid").await;
    let job = app.scalar_i64("SELECT max(id) FROM jobs").await;
    s.go(&format!("/jobs/{job}")).await;
    let queued = s.text().await;
    assert!(queued.contains("0 of 6 orders dealt with (0%)") && queued.contains("Cancel the job"), "{queued}");
    // An open job's figures update in place, with a button to pause them
    // (WCAG 2.2.1), rather than by reloading the whole page.
    assert!(queued.contains("Pause updates"), "{queued}");
    problems.extend(whole_at_both_widths(&s, &format!("/jobs/{job}"), "job-queued").await);
    s.go(&format!("/jobs/{job}")).await;
    let worker = [("jobs.workers", 1.into()), ("jobs.batch_rows", 3.into()), ("jobs.poll_seconds", 0.05.into())];
    serve(&app, &worker).await;
    // The page left open shows the outcome by itself once the job is over.
    let mut shown = String::new();
    for _ in 0..100 {
        shown = s.text().await;
        if shown.contains("6 of 6 orders dealt with (100%)") {
            break;
        }
        rocket::tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(shown.contains("6 of 6 orders dealt with (100%)") && !shown.contains("Pause updates"), "{shown}");
    problems.extend(whole_at_both_widths(&s, &format!("/jobs/{job}"), "job").await);
    s.go("/jobs").await;
    problems.extend(whole_at_both_widths(&s, "/jobs", "jobs").await);

    // A refund: first more mugs than were bought and no reason, then two
    // mugs back in stock.
    s.go(&format!("/orders/{order}/refund")).await;
    problems.extend(whole_at_both_widths(&s, &format!("/orders/{order}/refund"), "refund").await);
    s.fill(&format!("#qty-{mug}"), "9").await;
    s.click("form.refund-form button[type=submit]").await;
    let refused = s.text().await;
    assert!(refused.contains("Nothing was refunded") && refused.contains("Say why"), "{refused}");
    assert_eq!(
        s.b.find(Locator::Css(&format!("#qty-{mug}")))
            .await
            .expect("field")
            .prop("value")
            .await
            .ok()
            .flatten()
            .as_deref(),
        Some("9"),
        "the typed quantity is kept"
    );
    problems.extend(whole_at_both_widths(&s, "the refund's messages", "refund-messages").await);
    s.fill(&format!("#qty-{mug}"), "2").await;
    s.b.find(Locator::Css(&format!("tr:has(#qty-{mug}) input[type=checkbox]")))
        .await
        .expect("restock")
        .click()
        .await
        .expect("tick");
    s.fill("#extra", "4.50").await;
    s.fill("#reason", "Two mugs arrived chipped; the courier's box was crushed").await;
    s.click("form.refund-form button[type=submit]").await;
    assert!(s.text().await.contains("Refunded $29.50 on order"), "{}", s.text().await);
    problems.extend(whole_at_both_widths(&s, &format!("/orders/{order}"), "order-timeline").await);

    // The printed documents, as they show on a screen.
    for (path, name) in [
        (format!("/orders/{order}/invoice"), "invoice-screen"),
        (format!("/orders/{order}/packing-slip"), "packing-slip"),
        (format!("/orders/packing-slips?ids={order}&ids={second}"), "packing-slips"),
    ] {
        s.go(&path).await;
        assert!(s.text().await.contains("Ada Lovelace"), "{path} shows the order");
        problems.extend(whole_at_both_widths(&s, &path, name).await);
    }

    // What was deleted, and its Restore button.
    for (path, name) in
        [(format!("/users/{carol}/history"), "history-customer"), (format!("/orders/{gone}/history"), "history-order")]
    {
        s.go(&path).await;
        assert!(s.text().await.contains("was deleted"), "{path} says so");
        problems.extend(whole_at_both_widths(&s, &path, name).await);
    }

    // The import undone: the undo's own change set.
    s.go(&format!("/changes/{set}/undo")).await;
    s.click(&format!("form[action='/changes/{set}/undo'] button[type=submit]")).await;
    let undo = app.scalar_i64("SELECT id FROM change_sets WHERE kind = 'undo'").await;
    s.go(&format!("/changes/{undo}")).await;
    assert!(s.text().await.contains("This undid"), "{}", s.text().await);
    problems.extend(whole_at_both_widths(&s, &format!("/changes/{undo}"), "change-set-of-an-undo").await);
    assert!(problems.is_empty(), "accessibility problems:\n{}", problems.join("\n"));
    let _ = s.b.close().await;
}
