//! Hostile input: random and adversarial values in every form field, filter,
//! cursor and sign-in redirect never produce a server error, and never leave
//! an invalid row behind.

use crate::harness::{encode_form, url_encode, Line, OrderForm, TestApp, PASSWORD};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Values people and programs type: anything printable, control characters,
/// mixed scripts and emoji, numbers of every shape, and very long text.
fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "\\PC{0,40}",
        "[\\x00-\\x1f\\x7f]{1,8}",
        "[0-9\\-+.,$eE ]{0,24}",
        Just("9".repeat(400)),
        Just("-9223372036854775809".to_string()),
        Just("1e308".to_string()),
        Just("𝔘𝔫𝔦𝔠𝔬𝔡𝔢 🛒 שלום مرحبا".to_string()),
        "\\PC{2000,4000}",
    ]
}

/// Dates of every shape, most of them outside what PostgreSQL can store:
/// years before 4713 BC, year 0, five- and six-digit years.
fn hostile_date() -> impl Strategy<Value = String> {
    (-300_000i32..300_000, 0u32..14, 0u32..33).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")).boxed().prop_union(
        prop_oneof![
            Just("-4714-01-01".to_string()),
            Just("0000-01-01".to_string()),
            Just("-262143-01-01".to_string()),
            Just("262142-12-31".to_string()),
            "[0-9\\-]{1,14}",
        ]
        .boxed(),
    )
}

/// Keyset cursors (`value~id`) whose value is a timestamp PostgreSQL cannot store.
fn hostile_cursor() -> impl Strategy<Value = String> {
    (hostile_date(), 0u32..30, any::<i64>(), prop_oneof![Just("+00"), Just("-14"), Just("+14:30"), Just("")])
        .prop_map(|(day, hour, id, zone)| format!("{day} {hour:02}:00:00.5{zone}~{id}"))
}

/// Where to go after signing in: paths with spaces, full-width and
/// ideographic characters, controls, and schemes.
fn hostile_next() -> impl Strategy<Value = String> {
    prop_oneof![
        "/[ \u{3000}\u{ff0f}\u{200b}a-z/\\\\.:%]{0,20}",
        "\\PC{0,20}",
        Just("/ /evil.example".to_string()),
        Just("/orders x".to_string()),
        Just("/\u{3000}/evil.example".to_string()),
        Just("/\u{ff0f}evil.example".to_string()),
        Just("//evil.example".to_string()),
    ]
}

#[test]
fn dates_cursors_and_next_addresses_postgresql_or_http_cannot_take_never_break_anything() {
    let runtime = rocket::tokio::runtime::Runtime::new().unwrap();
    let app = runtime.block_on(TestApp::new());
    runtime.block_on(async {
        app.customer("Ada", "ada@example.com").await;
    });
    let cases = (hostile_date(), hostile_cursor(), hostile_next(), hostile());
    let mut runner = TestRunner::new(Config { cases: 64, failure_persistence: None, ..Config::default() });
    runner
        .run(&cases, |(day, cursor, next, name)| {
            runtime.block_on(async {
                let paths = [
                    format!("/users?joined_from={}&joined_to={}", url_encode(&day), url_encode(&day)),
                    format!("/users.csv?joined_from={}", url_encode(&day)),
                    format!("/orders?from={}&to={}", url_encode(&day), url_encode(&day)),
                    format!("/orders.csv?to={}", url_encode(&day)),
                    format!("/audit?from={}&to={}", url_encode(&day), url_encode(&day)),
                    format!("/orders?sort=placed&after={}", url_encode(&cursor)),
                    format!("/orders?sort=placed&before={}", url_encode(&cursor)),
                    format!("/users?sort=joined&after={}", url_encode(&cursor)),
                    format!("/users?sort=joined&before={}", url_encode(&cursor)),
                    format!("/sign-in?next={}", url_encode(&next)),
                    format!("/pickers/customers?q={}", url_encode(&name)),
                    format!("/pickers/products?q={}", url_encode(&name)),
                ];
                for path in &paths {
                    let page = app.get(path).await;
                    prop_assert!(page.status.code < 500, "{} for {path}", page.status);
                }
                Ok(())
            })
        })
        .unwrap();

    // Signed out: `next` and the email as typed into the sign-in form.
    runtime.block_on(app.sign_out());
    let mut runner = TestRunner::new(Config { cases: 24, failure_persistence: None, ..Config::default() });
    runner
        .run(&(hostile_next(), hostile()), |(next, email)| {
            runtime.block_on(async {
                let page = app.sign_in_to(&email, "wrong", &next).await;
                prop_assert!(page.status.code < 500, "{} for next {next:?}, email {email:?}", page.status);
                let page = app.sign_in_to("admin@test.example", PASSWORD, &next).await;
                prop_assert!(page.status.code < 500, "{} for next {next:?}", page.status);
                if let Some(to) = &page.location {
                    prop_assert!(to.starts_with('/') && !to.starts_with("//") && to.is_ascii(), "{to}");
                    app.sign_out().await;
                }
                // Throttling is not what this test is about.
                sqlx::query("DELETE FROM sign_in_attempts").execute(&app.pool).await.unwrap();
                Ok(())
            })
        })
        .unwrap();
}

#[test]
fn random_form_input_never_breaks_anything() {
    let runtime = rocket::tokio::runtime::Runtime::new().unwrap();
    let app = runtime.block_on(TestApp::new());
    let (user, product) = runtime
        .block_on(async { (app.customer("Ada", "ada@example.com").await, app.product("Mug", "MUG", 100, 1000).await) });
    let fields = proptest::collection::vec(hostile(), 6);
    let mut runner = TestRunner::new(Config { cases: 48, failure_persistence: None, ..Config::default() });
    runner
        .run(&fields, |v| {
            runtime.block_on(async {
                let answers = [
                    app.post_new_customer(&v[0], &v[1]).await,
                    app.post_customer_edit(user, &v[0], &v[1], &v[2]).await,
                    app.post_new_product(&v[0], &v[1], &v[2], &v[3]).await,
                    app.post_product_edit(product, &v[4], &v[5], &v[2], &v[3], &v[0]).await,
                    app.post_order(
                        &OrderForm::for_customer(&v[0])
                            .status(&v[1])
                            .customer_search(&v[5])
                            .with(Line::of(&v[2], &v[3]).unit_price(&v[4]).search(&v[1]))
                            .action(&v[5]),
                    )
                    .await,
                    app.post_order(
                        &OrderForm::new()
                            .customer_search(&v[0])
                            .with(Line::new().search(&v[1]))
                            .with(Line::new().search(&v[2])),
                    )
                    .await,
                    app.post_order(&OrderForm::for_customer(user).with(Line::of(product, &v[3]).unit_price(&v[4])))
                        .await,
                    app.post(&format!("/users/{user}/delete"), &[("version", &v[2])]).await,
                    app.get(&format!(
                        "/users?q={}&sort={}&after={}",
                        url_encode(&v[0]),
                        url_encode(&v[1]),
                        url_encode(&v[2])
                    ))
                    .await,
                    app.get(&format!("/orders?from={}&q={}", url_encode(&v[3]), url_encode(&v[4]))).await,
                    app.get(&format!(
                        "/orders?{}",
                        encode_form(&[("product_id", &v[0]), ("product_q", &v[1]), ("status", &v[2])])
                    ))
                    .await,
                    app.get(&format!(
                        "/products/{product}?{}",
                        encode_form(&[("sort", &v[3]), ("dir", &v[4]), ("after", &v[5])])
                    ))
                    .await,
                    app.get(&format!("/users/{user}?{}", encode_form(&[("sort", &v[0]), ("before", &v[1])]))).await,
                    app.get(&format!("/products/{product}/buyers.csv?{}", encode_form(&[("sort", &v[2])]))).await,
                ];
                for answer in answers {
                    prop_assert!(answer.status.code < 500, "{} for {:?}", answer.status, v);
                }
                Ok(())
            })
        })
        .unwrap();

    // Whatever was accepted is valid.
    runtime.block_on(async {
        let bad_rows = app
            .scalar_i64(
                "SELECT (SELECT count(*) FROM users WHERE btrim(name) = '' OR name ~ '[[:cntrl:]]' OR email !~ '^[^@[:space:]]+@[^@[:space:]]+$')
                      + (SELECT count(*) FROM products WHERE price_cents < 0 OR stock < 0 OR btrim(sku) = '' OR name ~ '[[:cntrl:]]')
                      + (SELECT count(*) FROM order_items WHERE quantity <= 0 OR unit_price_cents < 0)",
            )
            .await;
        assert_eq!(bad_rows, 0);
        let mut conn = app.pool.acquire().await.unwrap();
        assert!(shopdesk::db::stats::verify(&mut conn).await.unwrap().is_empty());
    });
}
