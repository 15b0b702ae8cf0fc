//! The job queue: bulk actions too large for one request, queued with a
//! snapshot of their targets, claimed by a worker with `FOR UPDATE SKIP
//! LOCKED`, and applied in batches. Each batch changes its rows and moves the
//! job's cursor in one transaction, so a job is never half-applied: after a
//! crash it resumes from its last committed batch, and its counts are exact.
//!
//! Why our own table rather than `apalis` or `underway`: both bring their
//! own sqlx (an older one than ours) and their own pool and schema, while a
//! job here must share the app's pool, its audit (`begin_as`), its tests' fresh
//! databases and the bulk rules of `orders`/`products`. A table, a cursor and
//! `SKIP LOCKED` are all the queue that needs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use super::bulk::lock_confirmed;
use super::listing::Listing;
use super::orders::{self, BulkAction};
use super::products::{self, BulkChange};
use super::{Actor, BulkError, DbError};
use crate::domain::{JobKind, JobState, Status};

/// At most this many different reasons for skipping are kept per job; the
/// rest are counted together.
const MAX_REASONS: usize = 20;

/// What a job does to each of its targets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Work {
    Orders(BulkAction),
    Products(BulkChange),
    /// Writes the staged rows of this import (see `db::imports::queue`).
    Import(i64),
    /// A list written as a file; its parameters are the export's own
    /// (see `crate::export::job`), which runs its batches.
    Export,
}

/// A job's parameters as stored (`jobs.params`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
enum Params {
    SetStatus { status: String },
    Delete,
    Price { percent: f64 },
    Stock { percent: f64 },
    Import { import_id: i64 },
    Export,
}

impl Work {
    pub fn kind(self) -> JobKind {
        match self {
            Work::Orders(_) => JobKind::OrdersBulk,
            Work::Products(_) => JobKind::ProductsBulk,
            Work::Import(_) => JobKind::Import,
            Work::Export => JobKind::Export,
        }
    }

    /// The parameters as `jobs.params` keeps them.
    pub fn stored_params(self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(self.params())
    }

    fn params(self) -> Params {
        match self {
            Work::Orders(BulkAction::SetStatus(s)) => Params::SetStatus { status: s.as_str().to_string() },
            Work::Orders(BulkAction::Delete) => Params::Delete,
            Work::Products(BulkChange::Price(percent)) => Params::Price { percent },
            Work::Products(BulkChange::Stock(percent)) => Params::Stock { percent },
            Work::Import(import_id) => Params::Import { import_id },
            Work::Export => Params::Export,
        }
    }

    fn read(kind: JobKind, params: serde_json::Value) -> Option<Work> {
        if kind == JobKind::Export {
            return Some(Work::Export);
        }
        let params: Params = serde_json::from_value(params).ok()?;
        Some(match (kind, params) {
            (JobKind::OrdersBulk, Params::SetStatus { status }) => {
                Work::Orders(BulkAction::SetStatus(Status::parse(&status)?))
            }
            (JobKind::OrdersBulk, Params::Delete) => Work::Orders(BulkAction::Delete),
            (JobKind::ProductsBulk, Params::Price { percent }) => Work::Products(BulkChange::Price(percent)),
            (JobKind::ProductsBulk, Params::Stock { percent }) => Work::Products(BulkChange::Stock(percent)),
            (JobKind::Import, Params::Import { import_id }) => Work::Import(import_id),
            _ => return None,
        })
    }
}

/// Why some targets were skipped, and how many for each reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub reason: String,
    pub count: i64,
}

/// A job as its progress page shows it.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub kind: JobKind,
    pub staff_id: Option<i64>,
    pub staff_name: Option<String>,
    pub summary: String,
    pub state: JobState,
    pub total: i64,
    pub done: i64,
    pub changed: i64,
    pub skipped: i64,
    pub reasons: Vec<Skipped>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub cancel_requested: bool,
    /// The change set its batches are filed under (see `/changes/<id>`).
    pub change_set_id: Option<i64>,
}

/// Queues `work` on the targets of list `L` that match `filter` (of only
/// `ids` when given), if they are still the rows `confirmed` on the review
/// page (as the inline action checks). Their ids are kept with the job, so it
/// changes exactly those rows however long it waits. Returns the job's id.
pub async fn enqueue<L: Listing>(
    conn: &mut PgConnection,
    actor: Actor,
    filter: &L::Filter,
    ids: Option<&[i64]>,
    confirmed: (i64, &str),
    work: Work,
    summary: &str,
) -> Result<i64, BulkError> {
    let mut tx = super::begin_as(conn, actor).await?;
    let (_, alias) = L::COUNTED;
    let targets = lock_confirmed::<L, (i64, i32)>(
        &mut tx,
        &format!("{alias}.id, {alias}.version"),
        filter,
        ids,
        confirmed,
        |t| *t,
    )
    .await?;
    let ids: Vec<i64> = targets.into_iter().map(|(id, _)| id).collect();
    let params = serde_json::to_value(work.params()).map_err(|e| DbError::Sqlx(sqlx::Error::Encode(e.into())))?;
    let change_set = super::change_sets::open(&mut tx, super::change_sets::Kind::Bulk, summary, None).await?;
    let id = sqlx::query_scalar!(
        "INSERT INTO jobs (kind, staff_id, summary, params, total, change_set_id)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        work.kind().as_str(),
        actor,
        summary,
        params,
        ids.len() as i64,
        change_set
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!("INSERT INTO job_targets (job_id, target_id) SELECT $1, unnest($2::BIGINT[])", id, &ids)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(id)
}

/// A job a worker has claimed.
#[derive(Debug, Clone, Copy)]
pub struct Claimed {
    pub id: i64,
    pub staff_id: Option<i64>,
    pub work: Work,
}

/// Claims the oldest job that is waiting, or whose worker stopped
/// heartbeating `stale_after_seconds` ago (its instance died), for
/// `instance`. Workers skip the rows others are claiming, so a job is
/// claimed by one at a time. A job whose parameters cannot be read fails.
pub async fn claim(
    conn: &mut PgConnection,
    instance: &str,
    stale_after_seconds: i64,
) -> Result<Option<Claimed>, DbError> {
    loop {
        let Some(row) = sqlx::query!(
            r#"UPDATE jobs SET state = 'running', claimed_by = $1, heartbeat_at = now(),
                              started_at = coalesce(started_at, now())
                WHERE id = (SELECT id FROM jobs
                             WHERE state = 'queued'
                                OR (state = 'running' AND heartbeat_at < now() - make_interval(secs => $2))
                             ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING id, staff_id, kind AS "kind: JobKind", params"#,
            instance,
            stale_after_seconds as f64
        )
        .fetch_optional(&mut *conn)
        .await?
        else {
            return Ok(None);
        };
        match Work::read(row.kind, row.params) {
            Some(work) => return Ok(Some(Claimed { id: row.id, staff_id: row.staff_id, work })),
            None => fail(conn, row.id, instance, "Its parameters could not be read.").await?,
        }
    }
}

/// What became of a job after one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A batch was applied; more may follow.
    More,
    /// The job ended in this state.
    Over(JobState),
    /// Another instance took the job over (this one was thought dead).
    Lost,
}

/// Applies the next `batch_rows` targets of a job claimed by `instance`, in
/// one transaction audited under the job's requester, and moves its cursor
/// and counts in that same transaction. Stops the job instead when a cancel
/// was asked for, and finishes it when no target is left.
pub async fn run_batch(
    conn: &mut PgConnection,
    instance: &str,
    job: Claimed,
    batch_rows: i64,
) -> Result<Step, DbError> {
    if job.work == Work::Export {
        // Export jobs run their batches through `crate::export::job`.
        return Ok(Step::Lost);
    }
    let mut tx = super::begin_as(conn, job.staff_id).await?;
    let Some(now) = sqlx::query!(
        r#"SELECT state AS "state: JobState", claimed_by, cancel_requested, cursor, change_set_id,
                  skipped_reasons AS "reasons: sqlx::types::Json<Vec<Skipped>>"
             FROM jobs WHERE id = $1 FOR UPDATE"#,
        job.id
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(Step::Lost);
    };
    if now.state != JobState::Running || now.claimed_by.as_deref() != Some(instance) {
        return Ok(Step::Lost);
    }
    if now.cancel_requested {
        return finish(tx, job.id, JobState::Cancelled).await;
    }
    if let Some(set) = now.change_set_id {
        super::change_sets::join(&mut tx, set).await?;
    }
    let targets = sqlx::query_scalar!(
        "SELECT target_id FROM job_targets WHERE job_id = $1 AND target_id > $2 ORDER BY target_id LIMIT $3",
        job.id,
        now.cursor,
        batch_rows
    )
    .fetch_all(&mut *tx)
    .await?;
    let Some(&last) = targets.last() else {
        return finish(tx, job.id, JobState::Done).await;
    };
    let outcome = match job.work {
        Work::Orders(action) => apply_to_orders(&mut tx, &targets, action).await?,
        Work::Products(change) => apply_to_products(&mut tx, &targets, change).await?,
        Work::Import(import) => {
            let (changed, skipped) = super::imports::apply_batch(&mut tx, import, &targets).await?;
            Outcome { changed, skipped }
        }
        Work::Export => return Ok(Step::Lost),
    };
    let skipped: i64 = outcome.skipped.iter().map(|s| s.count).sum();
    let reasons = merge_reasons(now.reasons.0, outcome.skipped);
    sqlx::query!(
        "UPDATE jobs SET cursor = $2, done = done + $3, changed = changed + $4, skipped = skipped + $5,
                         skipped_reasons = $6, heartbeat_at = now()
          WHERE id = $1",
        job.id,
        last,
        targets.len() as i64,
        outcome.changed,
        skipped,
        sqlx::types::Json(reasons) as _
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Step::More)
}

/// Ends a job in `state` and commits.
pub(super) async fn finish(
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    id: i64,
    state: JobState,
) -> Result<Step, DbError> {
    sqlx::query!(
        "UPDATE jobs SET state = $2, finished_at = now(), heartbeat_at = now(), claimed_by = NULL WHERE id = $1",
        id,
        state.as_str()
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Step::Over(state))
}

/// Marks a job failed, with the reason shown on its page.
pub async fn fail(conn: &mut PgConnection, id: i64, instance: &str, reason: &str) -> Result<(), DbError> {
    sqlx::query!(
        "UPDATE jobs SET state = 'failed', error = $3, finished_at = now(), claimed_by = NULL
          WHERE id = $1 AND claimed_by = $2 AND state = 'running'",
        id,
        instance,
        reason
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Puts a job this instance is working on back in the queue (the server is
/// shutting down between batches), for the next worker to resume.
pub async fn release(conn: &mut PgConnection, id: i64, instance: &str) -> Result<(), DbError> {
    sqlx::query!(
        "UPDATE jobs SET state = 'queued', claimed_by = NULL WHERE id = $1 AND claimed_by = $2 AND state = 'running'",
        id,
        instance
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Asks a job to stop after its current batch; a job not started yet is
/// cancelled at once. Says whether the job was still open.
pub async fn request_cancel(conn: &mut PgConnection, id: i64) -> Result<bool, DbError> {
    let done = sqlx::query!(
        "UPDATE jobs SET cancel_requested = true,
                         state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END,
                         finished_at = CASE WHEN state = 'queued' THEN now() ELSE finished_at END
          WHERE id = $1 AND state IN ('queued', 'running')",
        id
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One job, if it exists.
pub async fn find(conn: &mut PgConnection, id: i64) -> Result<Option<Job>, DbError> {
    let row = sqlx::query!(
        r#"SELECT j.id, j.kind AS "kind: JobKind", j.staff_id, s.display_name AS "staff_name?", j.summary,
                  j.state AS "state: JobState", j.total, j.done, j.changed, j.skipped,
                  j.skipped_reasons AS "reasons: sqlx::types::Json<Vec<Skipped>>", j.error,
                  j.created_at, j.started_at, j.finished_at, j.cancel_requested, j.change_set_id
             FROM jobs j LEFT JOIN staff s ON s.id = j.staff_id
            WHERE j.id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| Job {
        id: r.id,
        kind: r.kind,
        staff_id: r.staff_id,
        staff_name: r.staff_name,
        summary: r.summary,
        state: r.state,
        total: r.total,
        done: r.done,
        changed: r.changed,
        skipped: r.skipped,
        reasons: r.reasons.0,
        error: r.error,
        created_at: r.created_at,
        started_at: r.started_at,
        finished_at: r.finished_at,
        cancel_requested: r.cancel_requested,
        change_set_id: r.change_set_id,
    }))
}

/// A job in the list of recent jobs.
#[derive(Debug, Clone)]
pub struct JobRow {
    pub id: i64,
    pub kind: JobKind,
    pub summary: String,
    pub staff_id: Option<i64>,
    pub staff_name: Option<String>,
    pub state: JobState,
    pub total: i64,
    pub done: i64,
    pub skipped: i64,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// The newest `limit` jobs older than `before` (all when `None`), newest first.
pub async fn recent(conn: &mut PgConnection, before: Option<i64>, limit: i64) -> Result<Vec<JobRow>, DbError> {
    Ok(sqlx::query_as!(
        JobRow,
        r#"SELECT j.id, j.kind AS "kind: JobKind", j.summary, j.staff_id, s.display_name AS "staff_name?",
                  j.state AS "state: JobState", j.total, j.done,
                  j.skipped, j.created_at, j.finished_at
             FROM jobs j LEFT JOIN staff s ON s.id = j.staff_id
            WHERE j.id < coalesce($1, 9223372036854775807)
            ORDER BY j.id DESC LIMIT $2"#,
        before,
        limit
    )
    .fetch_all(conn)
    .await?)
}

/// What one batch did.
struct Outcome {
    changed: i64,
    skipped: Vec<Skipped>,
}

/// Adds a batch's reasons to those kept, keeping at most [`MAX_REASONS`].
fn merge_reasons(mut kept: Vec<Skipped>, new: Vec<Skipped>) -> Vec<Skipped> {
    const OTHER: &str = "Other reasons";
    for s in new {
        if let Some(k) = kept.iter_mut().find(|k| k.reason == s.reason) {
            k.count += s.count;
        } else if kept.len() < MAX_REASONS - 1 {
            kept.push(s);
        } else if let Some(k) = kept.iter_mut().find(|k| k.reason == OTHER) {
            k.count += s.count;
        } else {
            kept.push(Skipped { reason: OTHER.to_string(), count: s.count });
        }
    }
    kept
}

/// Counts the targets that are gone (deleted since the job was queued).
fn gone(targets: usize, found: usize, noun: &str) -> Vec<Skipped> {
    let missing = targets.saturating_sub(found) as i64;
    if missing == 0 {
        return Vec::new();
    }
    vec![Skipped { reason: format!("The {noun} was deleted after the job was queued."), count: missing }]
}

/// A batch of an orders job, with the rules of the inline action: stock
/// moves as statuses start or stop holding it, and a cancelled order whose
/// products are short is skipped (with the product named) rather than
/// oversold, while the rest of the batch goes ahead; so is an order whose
/// status follows its refunds.
async fn apply_to_orders(tx: &mut PgConnection, targets: &[i64], action: BulkAction) -> Result<Outcome, DbError> {
    let mut rows = sqlx::query!(
        r#"SELECT id, status AS "status: Status" FROM orders WHERE id = ANY($1) ORDER BY id FOR UPDATE"#,
        targets
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut skipped = gone(targets.len(), rows.len(), "order");
    if let BulkAction::SetStatus(to) = action {
        skipped.extend(orders::keep_refund_statuses(&mut rows, |r| r.status, to));
    }
    let ids_where =
        |keep: &dyn Fn(Status) -> bool| -> Vec<i64> { rows.iter().filter(|r| keep(r.status)).map(|r| r.id).collect() };
    match action {
        BulkAction::SetStatus(to) => {
            let mut taking = ids_where(&|s| !s.holds_stock() && to.holds_stock());
            let returning = ids_where(&|s| s.holds_stock() && !to.holds_stock());
            let mut changing = ids_where(&|s| s != to);
            if !taking.is_empty() {
                let short = short_orders(tx, &taking).await?;
                for (order, _) in &short {
                    taking.retain(|id| id != order);
                    changing.retain(|id| id != order);
                }
                for (_, reason) in short {
                    match skipped.iter_mut().find(|s| s.reason == reason) {
                        Some(s) => s.count += 1,
                        None => skipped.push(Skipped { reason, count: 1 }),
                    }
                }
            }
            for (orders, sign) in [(&taking, -1i64), (&returning, 1i64)] {
                if !orders.is_empty() {
                    orders::move_stock(tx, orders, sign).await?;
                }
            }
            sqlx::query!(
                "UPDATE orders SET status = $2, version = version + 1, updated_at = now() WHERE id = ANY($1)",
                &changing,
                to.as_str()
            )
            .execute(&mut *tx)
            .await?;
            Ok(Outcome { changed: changing.len() as i64, skipped })
        }
        BulkAction::Delete => {
            let holding = ids_where(&Status::holds_stock);
            if !holding.is_empty() {
                orders::move_stock(tx, &holding, 1).await?;
            }
            let all = ids_where(&|_| true);
            sqlx::query!("DELETE FROM order_items WHERE order_id = ANY($1)", &all).execute(&mut *tx).await?;
            sqlx::query!("DELETE FROM orders WHERE id = ANY($1)", &all).execute(&mut *tx).await?;
            Ok(Outcome { changed: all.len() as i64, skipped })
        }
    }
}

/// Of `orders` (cancelled, to take stock again), those the shelf cannot
/// serve, each with why.
/// Locks their products first, in id order, as the inline action does.
async fn short_orders(tx: &mut PgConnection, orders: &[i64]) -> Result<Vec<(i64, String)>, DbError> {
    sqlx::query!(
        "SELECT id FROM products WHERE id IN (SELECT product_id FROM order_items WHERE order_id = ANY($1))
          ORDER BY id FOR UPDATE",
        orders
    )
    .fetch_all(&mut *tx)
    .await?;
    // Orders in id order take stock while it lasts: an order is skipped when,
    // counting every earlier order of the batch that needs the same product,
    // the shelf runs out. Skipped orders are still counted, so what the rest
    // take never exceeds the stock (at worst a later order is skipped that
    // would just have fitted).
    let rows = sqlx::query!(
        r#"WITH lines AS (
               SELECT i.order_id, p.name, p.stock,
                      sum(i.quantity) OVER (PARTITION BY i.product_id ORDER BY i.order_id) AS running
                 FROM order_items i JOIN products p ON p.id = i.product_id
                WHERE i.order_id = ANY($1))
           SELECT DISTINCT ON (order_id) order_id AS "order_id!", name AS "name!"
             FROM lines WHERE running > stock
            ORDER BY order_id, name"#,
        orders
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.order_id, format!("Cancelled, and not enough {} in stock to take the order back.", r.name)))
        .collect())
}

/// A batch of a products job: the same percentage change as the inline action.
async fn apply_to_products(tx: &mut PgConnection, targets: &[i64], change: BulkChange) -> Result<Outcome, DbError> {
    let (column, _) = change.column_and_cap();
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE products p SET {column} = {}, version = p.version + 1, updated_at = now() WHERE p.id = ANY($1)",
        change.new_value(2)
    )))
    .bind(targets)
    .bind(change.percent())
    .execute(&mut *tx)
    .await?;
    let changed = done.rows_affected() as i64;
    Ok(Outcome { changed, skipped: gone(targets.len(), changed as usize, "product") })
}

/// Queues an orders job (see [`enqueue`]).
pub async fn enqueue_orders(
    conn: &mut PgConnection,
    actor: Actor,
    filter: &orders::Filter,
    ids: Option<&[i64]>,
    confirmed: (i64, &str),
    action: BulkAction,
    summary: &str,
) -> Result<i64, BulkError> {
    enqueue::<orders::List>(conn, actor, filter, ids, confirmed, Work::Orders(action), summary).await
}

/// Queues a products job (see [`enqueue`]).
pub async fn enqueue_products(
    conn: &mut PgConnection,
    actor: Actor,
    filter: &products::Filter,
    ids: Option<&[i64]>,
    confirmed: (i64, &str),
    change: BulkChange,
    summary: &str,
) -> Result<i64, BulkError> {
    enqueue::<products::List>(conn, actor, filter, ids, confirmed, Work::Products(change), summary).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_read_back_as_the_work_they_describe() {
        for work in [
            Work::Orders(BulkAction::SetStatus(Status::Shipped)),
            Work::Orders(BulkAction::Delete),
            Work::Products(BulkChange::Price(-12.5)),
            Work::Products(BulkChange::Stock(10.0)),
            Work::Import(7),
            Work::Export,
        ] {
            let params = serde_json::to_value(work.params()).expect("params serialise");
            assert_eq!(Work::read(work.kind(), params), Some(work));
        }
        let wrong = serde_json::json!({"do": "delete"});
        assert_eq!(Work::read(JobKind::ProductsBulk, wrong), None);
    }

    #[test]
    fn reasons_are_merged_and_bounded() {
        let one = |r: &str, n| Skipped { reason: r.to_string(), count: n };
        let kept = merge_reasons(vec![one("a", 1)], vec![one("a", 2), one("b", 1)]);
        assert_eq!(kept, vec![one("a", 3), one("b", 1)]);
        let many: Vec<Skipped> = (0..50).map(|i| one(&format!("r{i}"), 1)).collect();
        let kept = merge_reasons(Vec::new(), many);
        assert_eq!(kept.len(), MAX_REASONS);
        assert_eq!(kept.iter().map(|s| s.count).sum::<i64>(), 50);
    }
}
