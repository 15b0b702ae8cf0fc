//! Large exports: an export of more rows than `[exports] job_threshold_rows`
//! runs as a job that writes the file in batches into the database; its
//! progress page then offers the very file the direct export gives, to the
//! staff member who asked for it (or an admin) only. Cancelling deletes what
//! was written, and a job taken over after its server died still writes
//! every row exactly once.

use std::time::Duration;

use rocket::http::Status;
use shopdesk::db::jobs::{self, Step};
use shopdesk::domain::JobState;
use shopdesk::export::job::{run_batch, JobSettings};

use crate::harness::{SqlOrder, TestApp};
use crate::jobs::{jobs_settings, until_over};
use crate::xlsx::{rows_of, sheet};

/// The paid orders, as the list's filter puts them.
const PAID_CSV: &str = "/orders.csv?status=paid";
const PAID_XLSX: &str = "/orders.xlsx?status=paid";

/// Settings of a shop whose exports past 5 rows run as jobs, in batches of
/// 3, on `workers` worker tasks.
fn export_settings(workers: i64) -> Vec<(&'static str, serde_json::Value)> {
    let mut settings = jobs_settings(workers);
    settings.push(("exports.job_threshold_rows", 5.into()));
    settings
}

/// A shop with an admin signed in, 12 paid orders (one customer's name
/// reads as a formula) and 4 pending ones, the export threshold at 5.
async fn shop(workers: i64) -> TestApp {
    let app = TestApp::configured(false, &export_settings(workers)).await;
    app.sign_in_as("admin@test.example", "admin").await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let formula = app.customer("=HYPERLINK(\"http://evil.example\")", "eve@example.com").await;
    let mug = app.product("Stoneware Mug", "MUG", 1250, 100_000).await;
    let order = |customer, n: i64| SqlOrder {
        customer,
        product: mug,
        quantity: 1,
        unit_price_cents: None,
        placed_at: chrono::Utc::now() - chrono::Duration::minutes(n),
    };
    let paid: Vec<SqlOrder> = (0..12).map(|n| order(if n % 4 == 0 { formula } else { ada }, n)).collect();
    app.paid_orders_in_sql(&paid).await;
    let pending: Vec<SqlOrder> = (0..4).map(|n| order(ada, 100 + n)).collect();
    let pending = app.paid_orders_in_sql(&pending).await;
    sqlx::query("UPDATE orders SET status = 'pending' WHERE id = ANY($1)")
        .bind(&pending)
        .execute(&app.pool)
        .await
        .expect("pending orders");
    app
}

/// A server of the same shop whose export threshold no list here reaches,
/// with an admin signed in: it gives the direct downloads.
async fn direct_server(app: &TestApp) -> TestApp {
    let direct = app.second_app(&[("exports.job_threshold_rows", 1_000_000.into())]).await;
    direct.sign_in_as("direct@test.example", "admin").await;
    direct
}

/// The export at `path` as the direct download gives it.
async fn direct(direct: &TestApp, path: &str) -> Vec<u8> {
    let (status, _, bytes) = direct.download(path).await;
    assert_eq!(status, Status::Ok, "{path}");
    bytes
}

/// Asks for the export at `path`, which must be queued as a job; returns
/// the job's id, once the progress page it leads to says so.
async fn queue(app: &TestApp, path: &str) -> i64 {
    let asked = app.get(path).await;
    assert_eq!(asked.status, Status::SeeOther, "{path} is queued, not sent");
    let to = asked.location.expect("to the job's page");
    let id = to.strip_prefix("/jobs/").and_then(|id| id.parse().ok()).unwrap_or_else(|| panic!("not a job: {to}"));
    let page = app.get(&to).await;
    page.assert_contains("This export is large, so it is written in the background.");
    page.assert_contains("Export ");
    id
}

async fn chunks(app: &TestApp, id: i64) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM export_chunks WHERE job_id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .expect("chunks")
}

#[rocket::async_test]
async fn a_large_filtered_csv_export_runs_as_a_job_and_downloads_the_direct_exports_rows() {
    let app = shop(1).await;
    let expected = direct(&direct_server(&app).await, PAID_CSV).await;
    let text = String::from_utf8(expected.clone()).expect("UTF-8");
    assert_eq!(text.lines().count(), 13, "a header and the 12 paid orders: {text}");
    assert!(text.contains("\"'=HYPERLINK(\"\"http://evil.example\"\")\""), "formulas neutralised: {text}");

    let id = queue(&app, PAID_CSV).await;
    assert_eq!(until_over(&app, id).await.0, "done");
    let page = app.get(&format!("/jobs/{id}")).await;
    page.assert_contains("12 of 12 rows dealt with (100%)");
    page.assert_contains(&format!("href=\"/jobs/{id}/download\""));
    app.get("/jobs").await.assert_contains(&format!("href=\"/jobs/{id}/download\""));

    let (status, content_type, bytes) = app.download(&format!("/jobs/{id}/download")).await;
    assert_eq!(status, Status::Ok);
    assert_eq!(content_type.as_deref(), Some("text/csv; charset=utf-8"));
    assert_eq!(String::from_utf8(bytes).expect("UTF-8"), text, "the direct export's header and rows");
    // Written in batches of 3: a chunk each, the header leading the first.
    assert_eq!(chunks(&app, id).await, 4);
}

#[rocket::async_test]
async fn a_large_xlsx_export_runs_as_a_job_and_opens_as_the_direct_workbook() {
    let app = shop(1).await;
    let expected = sheet(&direct_server(&app).await, PAID_XLSX).await;
    assert_eq!(expected.len(), 13, "a header and the 12 paid orders");

    let id = queue(&app, PAID_XLSX).await;
    assert_eq!(until_over(&app, id).await.0, "done");
    let downloaded = sheet(&app, &format!("/jobs/{id}/download")).await;
    assert_eq!(downloaded, expected);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM export_chunks WHERE job_id = $1 AND part = 'rows'")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .expect("chunks");
    assert_eq!(rows, 0, "the rows kept for the workbook are dropped once it is written");
}

#[rocket::async_test]
async fn only_the_requester_or_an_admin_can_download_the_file() {
    let app = shop(1).await;
    let id = queue(&app, PAID_CSV).await;
    assert_eq!(until_over(&app, id).await.0, "done");
    let path = format!("/jobs/{id}/download");

    let viewer = app.second_app(&export_settings(0)).await;
    viewer.sign_in_as("viewer@test.example", "viewer").await;
    let (status, content_type, bytes) = viewer.download(&path).await;
    assert_eq!(status, Status::NotFound);
    assert_ne!(content_type.as_deref(), Some("text/csv; charset=utf-8"));
    assert!(!String::from_utf8_lossy(&bytes).contains("Ada Lovelace"), "no row leaks");
    // The button is offered only to who may have the file.
    viewer.get(&format!("/jobs/{id}")).await.assert_lacks(&path);
    viewer.get("/jobs").await.assert_lacks(&path);
    app.get(&format!("/jobs/{id}")).await.assert_contains(&path);
    app.get("/jobs").await.assert_contains(&path);

    let admin = app.second_app(&export_settings(0)).await;
    admin.sign_in_as("other-admin@test.example", "admin").await;
    assert_eq!(admin.download(&path).await.0, Status::Ok);
    admin.get(&format!("/jobs/{id}")).await.assert_contains(&path);

    let signed_out = app.second_app(&export_settings(0)).await;
    assert_ne!(signed_out.download(&path).await.0, Status::Ok);
}

#[rocket::async_test]
async fn cancelling_an_export_stops_it_and_deletes_what_it_wrote() {
    let app = shop(0).await;
    let id = queue(&app, PAID_CSV).await;
    let settings = JobSettings { threshold_rows: 5, keep_hours: 24.0 };
    // Asked for before it is written, the file is refused with a reason.
    let (status, _, body) = app.download(&format!("/jobs/{id}/download")).await;
    assert_eq!(status, Status::BadRequest);
    assert!(String::from_utf8_lossy(&body).contains("still being written"));

    // A worker (driven by hand) writes one batch.
    let mut conn = app.pool.acquire().await.unwrap();
    let job = jobs::claim(&mut conn, "by-hand", 60).await.unwrap().expect("the queued export");
    assert_eq!(job.id, id);
    assert_eq!(run_batch(&app.pool, "by-hand", id, &settings, 3).await.unwrap(), Step::More);
    assert_eq!(chunks(&app, id).await, 1);
    app.get(&format!("/jobs/{id}")).await.assert_contains("3 of ");

    app.post_ok(&format!("/jobs/{id}/cancel"), &[]).await.assert_contains("stops after the batch");
    assert_eq!(run_batch(&app.pool, "by-hand", id, &settings, 3).await.unwrap(), Step::Over(JobState::Cancelled));
    assert_eq!(chunks(&app, id).await, 0, "what was written is deleted");
    let page = app.get(&format!("/jobs/{id}")).await;
    page.assert_contains(">Cancelled<");
    page.assert_lacks(&format!("href=\"/jobs/{id}/download\""));
    assert_eq!(app.download(&format!("/jobs/{id}/download")).await.0, Status::BadRequest);
}

#[rocket::async_test]
async fn an_export_whose_server_died_resumes_and_writes_every_row_once() {
    let app = shop(0).await;
    let expected = direct(&direct_server(&app).await, PAID_CSV).await;
    let id = queue(&app, PAID_CSV).await;
    let settings = JobSettings { threshold_rows: 5, keep_hours: 24.0 };

    // A server writes two batches, and dies.
    let mut conn = app.pool.acquire().await.unwrap();
    jobs::claim(&mut conn, "died", 60).await.unwrap().expect("the queued export");
    for _ in 0..2 {
        assert_eq!(run_batch(&app.pool, "died", id, &settings, 3).await.unwrap(), Step::More);
    }
    sqlx::query("UPDATE jobs SET heartbeat_at = now() - interval '1 hour' WHERE id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();

    let _restarted = app.second_app(&export_settings(1)).await;
    assert_eq!(until_over(&app, id).await.0, "done");
    assert_eq!(app.download(&format!("/jobs/{id}/download")).await.2, expected);
    // The dead server, were it only slow, finds its job taken and stops.
    assert_eq!(run_batch(&app.pool, "died", id, &settings, 3).await.unwrap(), Step::Lost);
}

#[rocket::async_test]
async fn a_file_is_deleted_once_it_expired() {
    let app =
        TestApp::configured(false, &[export_settings(1), vec![("exports.keep_hours", 0.0001.into())]].concat()).await;
    app.sign_in_as("admin@test.example", "admin").await;
    let customer = app.customer("Ada Lovelace", "ada@example.com").await;
    let mug = app.product("Stoneware Mug", "MUG", 1250, 100).await;
    let order =
        || SqlOrder { customer, product: mug, quantity: 1, unit_price_cents: None, placed_at: chrono::Utc::now() };
    app.paid_orders_in_sql(&(0..6).map(|_| order()).collect::<Vec<_>>()).await;
    let id = queue(&app, PAID_CSV).await;
    assert_eq!(until_over(&app, id).await.0, "done");
    rocket::tokio::time::sleep(Duration::from_millis(500)).await;

    // The worker of a server starting now deletes expired files first.
    let _restarted = app.second_app(&export_settings(1)).await;
    let started = std::time::Instant::now();
    while chunks(&app, id).await > 0 {
        assert!(started.elapsed() < Duration::from_secs(10), "the expired file is still there");
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.download(&format!("/jobs/{id}/download")).await.0, Status::BadRequest);
}

#[rocket::async_test]
async fn large_products_and_customers_exports_run_as_jobs_too() {
    let app = shop(1).await;
    for k in 0..6 {
        app.product(&format!("Tea Cup {k}"), &format!("CUP-{k}"), 800 + k, 10).await;
    }
    app.numbered_customers(6).await;
    let direct_server = direct_server(&app).await;
    for path in ["/products.csv?q=cup", "/users.xlsx?has_orders=no"] {
        let expected = direct(&direct_server, path).await;
        let id = queue(&app, path).await;
        assert_eq!(until_over(&app, id).await.0, "done", "{path}");
        let (status, _, bytes) = app.download(&format!("/jobs/{id}/download")).await;
        assert_eq!(status, Status::Ok, "{path}");
        if path.contains(".csv") {
            assert_eq!(bytes, expected, "{path}");
        } else {
            let rows = rows_of(bytes);
            assert_eq!(rows.len(), 7, "a header and the 6 customers without orders");
            assert_eq!(rows, rows_of(expected), "{path}");
        }
    }
}
