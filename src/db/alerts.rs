//! Stock alerts waiting for the webhook: written by a trigger on products
//! (migration 0012) when stock falls to or below a reorder point, and
//! delivered by the job worker with retries.

use sqlx::PgConnection;

use super::DbError;

/// An alert leased for one delivery attempt.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: i64,
    /// The JSON body, exactly as it is to be sent and signed.
    pub body: String,
    /// Attempts made so far, this one included.
    pub attempts: i32,
}

/// Leases up to `limit` alerts that are due for `lease_seconds`: another
/// worker (or instance) skips them meanwhile, and if this one dies before it
/// reports the outcome they become due again when the lease runs out.
pub async fn lease_due(conn: &mut PgConnection, limit: i64, lease_seconds: f64) -> Result<Vec<Due>, DbError> {
    Ok(sqlx::query_as!(
        Due,
        r#"UPDATE stock_alerts SET attempts = attempts + 1, next_at = now() + make_interval(secs => $2)
            WHERE id IN (SELECT id FROM stock_alerts
                          WHERE delivered_at IS NULL AND given_up_at IS NULL AND next_at <= now()
                          ORDER BY next_at, id LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING id, payload::TEXT AS "body!", attempts"#,
        limit,
        lease_seconds
    )
    .fetch_all(conn)
    .await?)
}

/// Records that the webhook took the alert.
pub async fn delivered(conn: &mut PgConnection, id: i64) -> Result<(), DbError> {
    sqlx::query!("UPDATE stock_alerts SET delivered_at = now(), last_error = NULL WHERE id = $1", id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records a failed attempt: tried again after `retry_seconds`, or given up
/// when `give_up`.
pub async fn failed(
    conn: &mut PgConnection,
    id: i64,
    error: &str,
    retry_seconds: f64,
    give_up: bool,
) -> Result<(), DbError> {
    sqlx::query!(
        "UPDATE stock_alerts SET last_error = left($2, 500), next_at = now() + make_interval(secs => $3),
                                 given_up_at = CASE WHEN $4 THEN now() END
          WHERE id = $1",
        id,
        error,
        retry_seconds,
        give_up
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Makes `reorder_point` the reorder point of products created without one
/// (the column's default), if it is not already. Says whether it changed.
pub async fn use_default_reorder_point(conn: &mut PgConnection, reorder_point: i32) -> Result<bool, DbError> {
    let now = sqlx::query_scalar!(r#"SELECT reorder_point_default() AS "now""#).fetch_one(&mut *conn).await?;
    if now == Some(reorder_point) {
        return Ok(false);
    }
    // DDL takes no parameters; the value is an integer checked above.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE products ALTER COLUMN reorder_point SET DEFAULT {}",
        reorder_point.clamp(0, 1_000_000)
    )))
    .execute(conn)
    .await?;
    Ok(true)
}
