//! Hostile input: random and adversarial values in every form field never
//! produce a server error, and never leave an invalid row behind.

mod common;

use common::TestApp;
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

#[test]
fn random_form_input_never_breaks_anything() {
    let runtime = rocket::tokio::runtime::Runtime::new().unwrap();
    let app = runtime.block_on(TestApp::new());
    let (user, product) = runtime
        .block_on(async { (app.user("Ada", "ada@example.com").await, app.product("Mug", "MUG", 100, 1000).await) });
    let fields = proptest::collection::vec(hostile(), 6);
    let mut runner = TestRunner::new(Config { cases: 48, failure_persistence: None, ..Config::default() });
    runner
        .run(&fields, |v| {
            runtime.block_on(async {
                let answers = [
                    app.post("/users", &[("name", &v[0]), ("email", &v[1])]).await,
                    app.post(&format!("/users/{user}"), &[("name", &v[0]), ("email", &v[1]), ("version", &v[2])]).await,
                    app.post("/products", &[("name", &v[0]), ("sku", &v[1]), ("price", &v[2]), ("stock", &v[3])]).await,
                    app.post(
                        &format!("/products/{product}"),
                        &[("name", &v[4]), ("sku", &v[5]), ("price", &v[2]), ("stock", &v[3]), ("version", &v[0])],
                    )
                    .await,
                    app.post(
                        "/orders",
                        &[
                            ("user_id", &v[0]),
                            ("status", &v[1]),
                            ("lines[0].product_id", &v[2]),
                            ("lines[0].quantity", &v[3]),
                            ("lines[0].unit_price", &v[4]),
                            ("customer_q", &v[5]),
                            ("lines[0].product_q", &v[1]),
                            ("action", &v[5]),
                        ],
                    )
                    .await,
                    app.post(
                        "/orders",
                        &[("customer_q", &v[0]), ("lines[0].product_q", &v[1]), ("lines[1].product_q", &v[2])],
                    )
                    .await,
                    app.post(
                        "/orders",
                        &[
                            ("user_id", &user.to_string()),
                            ("lines[0].product_id", &product.to_string()),
                            ("lines[0].quantity", &v[3]),
                            ("lines[0].unit_price", &v[4]),
                        ],
                    )
                    .await,
                    app.post(&format!("/users/{user}/delete"), &[("version", &v[2])]).await,
                    app.get(&format!(
                        "/users?q={}&sort={}&after={}",
                        common::encode_form(&[("x", &v[0])]).trim_start_matches("x="),
                        common::encode_form(&[("x", &v[1])]).trim_start_matches("x="),
                        common::encode_form(&[("x", &v[2])]).trim_start_matches("x=")
                    ))
                    .await,
                    app.get(&format!(
                        "/orders?from={}&q={}",
                        common::encode_form(&[("x", &v[3])]).trim_start_matches("x="),
                        common::encode_form(&[("x", &v[4])]).trim_start_matches("x=")
                    ))
                    .await,
                    app.get(&format!(
                        "/orders?{}",
                        common::encode_form(&[("product_id", &v[0]), ("product_q", &v[1]), ("status", &v[2])])
                    ))
                    .await,
                    app.get(&format!(
                        "/products/{product}?{}",
                        common::encode_form(&[("sort", &v[3]), ("dir", &v[4]), ("after", &v[5])])
                    ))
                    .await,
                    app.get(&format!("/users/{user}?{}", common::encode_form(&[("sort", &v[0]), ("before", &v[1])])))
                        .await,
                    app.get(&format!("/products/{product}/buyers.csv?{}", common::encode_form(&[("sort", &v[2])])))
                        .await,
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
