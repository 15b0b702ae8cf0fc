//! Long jobs: a bulk action over more rows than the threshold is queued and
//! run in batches by the worker, with a progress page that refreshes itself,
//! a Cancel button, exact counts, and every target changed exactly once,
//! across a restart and with two servers sharing the queue.

use std::time::{Duration, Instant};

use rocket::http::Status;
use shopdesk::db::jobs::{self, Step};
use shopdesk::domain::JobState;

use crate::harness::{SqlOrder, TestApp};

/// Settings for a job-running server: jobs past 5 rows, batches of 3, and
/// a worker that looks for work often and takes over a silent one soon.
pub fn jobs_settings(workers: i64) -> Vec<(&'static str, serde_json::Value)> {
    vec![
        ("jobs.workers", workers.into()),
        ("jobs.threshold_rows", 5.into()),
        ("jobs.batch_rows", 3.into()),
        ("jobs.poll_seconds", 0.05.into()),
        ("jobs.stale_seconds", 1.into()),
    ]
}

/// A shop with an admin signed in, whose worker runs `workers` tasks.
async fn shop(workers: i64) -> TestApp {
    let app = TestApp::configured(false, &jobs_settings(workers)).await;
    app.sign_in_as("admin@test.example", "admin").await;
    app
}

/// `n` paid one-line orders of one customer for a product with plenty of stock.
async fn paid_orders(app: &TestApp, n: usize) -> Vec<i64> {
    let customer = app.customer("Ada", "ada@example.com").await;
    let mug = app.product("Stoneware Mug", "MUG", 1000, 100_000).await;
    let orders: Vec<SqlOrder> = (0..n)
        .map(|_| SqlOrder {
            customer,
            product: mug,
            quantity: 1,
            unit_price_cents: None,
            placed_at: chrono::Utc::now(),
        })
        .collect();
    app.paid_orders_in_sql(&orders).await
}

/// Reviews and confirms "mark all paid orders shipped"; returns the page
/// the confirmation led to and the job's id from its address.
async fn ship_all_paid(app: &TestApp) -> (crate::harness::Page, i64) {
    let review = app.review_bulk_orders("action=shipped&scope=all&filters.status=paid").await;
    let posted = app.press(&review, "/orders/bulk").await;
    assert_eq!(posted.status, Status::SeeOther, "{}", posted.body);
    let to = posted.location.expect("a redirect");
    let id = to.strip_prefix("/jobs/").and_then(|id| id.parse().ok()).unwrap_or_else(|| panic!("to a job, not {to}"));
    (app.get(&to).await, id)
}

pub async fn job_state(app: &TestApp, id: i64) -> (String, i64, i64, i64) {
    sqlx::query_as("SELECT state, done, changed, skipped FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .expect("the job")
}

/// Waits until job `id` has ended; returns its state and counts.
pub async fn until_over(app: &TestApp, id: i64) -> (String, i64, i64, i64) {
    let started = Instant::now();
    loop {
        let job = job_state(app, id).await;
        if !["queued", "running"].contains(&job.0.as_str()) {
            return job;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "job {id} still {job:?}");
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many audit entries changed each of `orders`'s status to `status`.
async fn status_changes(app: &TestApp, orders: &[i64], status: &str) -> Vec<i64> {
    sqlx::query_scalar(
        "SELECT count(a.id) FROM unnest($1::BIGINT[]) WITH ORDINALITY AS o(id, n)
           LEFT JOIN audit_log a ON a.entity = 'order' AND a.entity_id = o.id AND a.action = 'update'
                                AND a.after ->> 'status' = $2 AND a.before ->> 'status' <> $2
          GROUP BY o.n ORDER BY o.n",
    )
    .bind(orders)
    .bind(status)
    .fetch_all(&app.pool)
    .await
    .expect("audit counts")
}

#[rocket::async_test]
async fn a_bulk_action_past_the_threshold_runs_as_a_job_audited_under_its_requester() {
    let app = shop(1).await;
    let admin: i64 = app.scalar_i64("SELECT id FROM staff WHERE email = 'admin@test.example'").await;
    let orders = paid_orders(&app, 20).await;

    app.review_bulk_orders("action=shipped&scope=all&filters.status=paid")
        .await
        .assert_contains("That is more than 5 orders, so it runs as a job");
    let (page, id) = ship_all_paid(&app).await;
    page.assert_contains("Mark as shipped: 20 orders: queued as a job");
    let (state, done, changed, skipped) = until_over(&app, id).await;
    assert_eq!((state.as_str(), done, changed, skipped), ("done", 20, 20, 0));

    let page = app.get(&format!("/jobs/{id}")).await;
    page.assert_contains("20 of 20 orders dealt with (100%)");
    page.assert_contains(">Done<");
    page.assert_lacks("http-equiv=\"refresh\"");
    page.assert_lacks("Cancel the job");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM orders WHERE status = 'shipped'").await, 20);
    assert_eq!(status_changes(&app, &orders, "shipped").await, vec![1; 20], "each order changed once");
    let by_admin: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE entity = 'order' AND action = 'update' AND staff_id = $1",
    )
    .bind(admin)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(by_admin, 20, "audited under the requester");

    let list = app.get("/jobs").await;
    list.assert_contains(&format!("href=\"/jobs/{id}\""));
    list.assert_contains("Mark as shipped: 20 orders");
    app.get("/").await.assert_contains("href=\"/jobs\"");

    // Every batch is filed under the job's one change set, which undoes as one.
    let set = app.scalar_i64("SELECT change_set_id FROM jobs").await;
    page.assert_contains(&format!("href=\"/changes/{set}\""));
    let filed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE entity = 'order' AND action = 'update' AND change_set_id = $1",
    )
    .bind(set)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(filed, 20, "each batch's entries are filed under the job's change set");
    app.undo_change_set(set).await;
    assert_eq!(app.scalar_i64("SELECT count(*) FROM orders WHERE status = 'paid'").await, 20);
    app.assert_figures_exact().await;
}

#[rocket::async_test]
async fn a_small_bulk_action_still_runs_at_once() {
    let app = shop(0).await;
    paid_orders(&app, 5).await;
    app.review_bulk_orders("action=shipped&scope=all&filters.status=paid").await.assert_lacks("runs as a job");
    let done = app.bulk_orders("action=shipped&scope=all&filters.status=paid").await;
    done.assert_contains("5 orders are now shipped.");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM jobs").await, 0);
}

#[rocket::async_test]
async fn a_waiting_job_refreshes_its_page_and_cancelling_it_changes_nothing() {
    // No worker here: the job waits in the queue.
    let app = shop(0).await;
    paid_orders(&app, 7).await;
    let (page, id) = ship_all_paid(&app).await;
    page.assert_contains("<meta http-equiv=\"refresh\" content=\"2\">");
    page.assert_contains("0 of 7 orders dealt with (0%)");
    page.assert_contains("Waiting to start");
    page.assert_contains(&format!("action=\"/jobs/{id}/cancel\""));

    // A viewer can watch but not cancel.
    let viewer = app.second_app(&jobs_settings(0)).await;
    viewer.sign_in_as("viewer@test.example", "viewer").await;
    viewer.get(&format!("/jobs/{id}")).await.assert_lacks("Cancel the job");
    let refused = viewer.post(&format!("/jobs/{id}/cancel"), &[]).await;
    assert_eq!(refused.status, Status::Forbidden);
    assert_eq!(job_state(&app, id).await.0, "queued");

    // Its change set cannot be undone while the job may still add to it.
    let set = app.scalar_i64("SELECT change_set_id FROM jobs").await;
    app.post_ok(&format!("/changes/{set}/undo"), &[])
        .await
        .assert_contains("the job making this change is still running");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM change_sets WHERE undoes IS NOT NULL").await, 0);

    let cancelled = app.post_ok(&format!("/jobs/{id}/cancel"), &[]).await;
    cancelled.assert_contains("Cancelled");
    cancelled.assert_lacks("http-equiv=\"refresh\"");
    assert_eq!(job_state(&app, id).await, ("cancelled".to_string(), 0, 0, 0));
    assert_eq!(app.scalar_i64("SELECT count(*) FROM orders WHERE status = 'shipped'").await, 0);
    // Nothing is left for a worker to do.
    let mut conn = app.pool.acquire().await.unwrap();
    assert!(jobs::claim(&mut conn, "test", 60).await.unwrap().is_none());
}

#[rocket::async_test]
async fn cancelling_a_running_job_stops_it_after_its_batch_with_exact_counts() {
    let app = shop(0).await;
    let orders = paid_orders(&app, 10).await;
    let (_, id) = ship_all_paid(&app).await;

    // A worker (driven by hand here) takes the job and applies one batch.
    let mut conn = app.pool.acquire().await.unwrap();
    let job = jobs::claim(&mut conn, "by-hand", 60).await.unwrap().expect("the queued job");
    assert_eq!(job.id, id);
    assert_eq!(jobs::run_batch(&mut conn, "by-hand", job, 3).await.unwrap(), Step::More);
    let page = app.get(&format!("/jobs/{id}")).await;
    page.assert_contains("3 of 10 orders dealt with (30%)");
    page.assert_contains("Time left");
    page.assert_contains("http-equiv=\"refresh\"");

    app.post_ok(&format!("/jobs/{id}/cancel"), &[]).await.assert_contains("stops after the batch");
    assert_eq!(jobs::run_batch(&mut conn, "by-hand", job, 3).await.unwrap(), Step::Over(JobState::Cancelled));
    assert_eq!(job_state(&app, id).await, ("cancelled".to_string(), 3, 3, 0));
    assert_eq!(status_changes(&app, &orders, "shipped").await, [vec![1; 3], vec![0; 7]].concat());
    let page = app.get(&format!("/jobs/{id}")).await;
    page.assert_contains("3 of 10 orders dealt with (30%)");
    page.assert_contains(">Cancelled<");
}

#[rocket::async_test]
async fn a_job_whose_server_died_is_resumed_from_its_last_batch_exactly_once() {
    let app = shop(0).await;
    let orders = paid_orders(&app, 11).await;
    let (_, id) = ship_all_paid(&app).await;

    // A server takes the job, commits two batches, and dies.
    let mut conn = app.pool.acquire().await.unwrap();
    let job = jobs::claim(&mut conn, "died", 60).await.unwrap().expect("the queued job");
    for _ in 0..2 {
        assert_eq!(jobs::run_batch(&mut conn, "died", job, 3).await.unwrap(), Step::More);
    }
    sqlx::query("UPDATE jobs SET heartbeat_at = now() - interval '1 hour' WHERE id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();

    // The server starts again.
    let _restarted = app.second_app(&jobs_settings(1)).await;
    assert_eq!(until_over(&app, id).await, ("done".to_string(), 11, 11, 0));
    assert_eq!(status_changes(&app, &orders, "shipped").await, vec![1; 11], "each order changed once");
    // The dead server, were it only slow, finds its job taken and stops.
    assert_eq!(jobs::run_batch(&mut conn, "died", job, 3).await.unwrap(), Step::Lost);
}

#[rocket::async_test]
async fn two_servers_share_the_queue_and_run_each_job_once() {
    let app = shop(0).await;
    let orders = paid_orders(&app, 40).await;
    // Four jobs of ten ticked orders each, queued before any worker runs.
    let mut ids = Vec::new();
    for chunk in orders.chunks(10) {
        let query: String = chunk.iter().map(|id| format!("&ids={id}")).collect();
        let review = app.review_bulk_orders(&format!("action=shipped&scope=selected{query}")).await;
        let posted = app.press(&review, "/orders/bulk").await;
        let to = posted.location.expect("to the job");
        ids.push(to.trim_start_matches("/jobs/").parse::<i64>().expect("a job id"));
    }
    let _one = app.second_app(&jobs_settings(2)).await;
    let _two = app.second_app(&jobs_settings(2)).await;
    for id in &ids {
        assert_eq!(until_over(&app, *id).await, ("done".to_string(), 10, 10, 0));
    }
    assert_eq!(status_changes(&app, &orders, "shipped").await, vec![1; 40], "every order changed once");
}

#[rocket::async_test]
async fn reviving_cancelled_orders_skips_those_the_stock_cannot_serve_and_says_why() {
    let app = shop(1).await;
    let customer = app.customer("Ada", "ada@example.com").await;
    let lamp = app.product("Desk Lamp", "LAMP", 5000, 5).await;
    let orders: Vec<SqlOrder> = (0..8)
        .map(|_| SqlOrder {
            customer,
            product: lamp,
            quantity: 1,
            unit_price_cents: None,
            placed_at: chrono::Utc::now(),
        })
        .collect();
    let orders = app.paid_orders_in_sql(&orders).await;
    sqlx::query("UPDATE orders SET status = 'cancelled' WHERE id = ANY($1)")
        .bind(&orders)
        .execute(&app.pool)
        .await
        .unwrap();

    let review = app.review_bulk_orders("action=paid&scope=all&filters.status=cancelled").await;
    let to = app.press(&review, "/orders/bulk").await.location.expect("to the job");
    let id: i64 = to.trim_start_matches("/jobs/").parse().expect("a job id");

    assert_eq!(until_over(&app, id).await, ("done".to_string(), 8, 5, 3));
    assert_eq!(app.stock_of(lamp).await, 0, "never oversold");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM orders WHERE status = 'paid'").await, 5);
    let page = app.get(&to).await;
    page.assert_contains("Why some were skipped");
    page.assert_contains("3 × Cancelled, and not enough Desk Lamp in stock to take the order back.");
}
