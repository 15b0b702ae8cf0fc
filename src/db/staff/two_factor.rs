//! An account's second factor: its TOTP secret (pending while it is being
//! enrolled, then confirmed), the last time step accepted, and its
//! single-use recovery codes.

use sqlx::PgConnection;

use super::{audit, audit_change, lock};
use crate::db::DbError;

/// The account's confirmed TOTP secret (base32), if two-factor sign-in is on.
pub async fn totp_secret(conn: &mut PgConnection, id: i64) -> Result<Option<String>, DbError> {
    Ok(sqlx::query_scalar!("SELECT totp_secret FROM staff WHERE id = $1", id).fetch_optional(conn).await?.flatten())
}

/// Accepts the code of time step `step` unless this or a later step's code
/// was already accepted: a code works once, and never after a newer one.
pub async fn accept_step(conn: &mut PgConnection, id: i64, step: i64) -> Result<bool, DbError> {
    let accepted = sqlx::query!(
        "UPDATE staff SET totp_last_step = $2 WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)",
        id,
        step
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(accepted == 1)
}

/// Starts enrolment with a new secret; it takes effect only once confirmed.
pub async fn begin_enrolment(conn: &mut PgConnection, id: i64, secret: &str) -> Result<(), DbError> {
    sqlx::query!("UPDATE staff SET totp_pending_secret = $2 WHERE id = $1", id, secret).execute(conn).await?;
    Ok(())
}

/// The secret being enrolled, if enrolment was started.
pub async fn pending_secret(conn: &mut PgConnection, id: i64) -> Result<Option<String>, DbError> {
    Ok(sqlx::query_scalar!("SELECT totp_pending_secret FROM staff WHERE id = $1", id)
        .fetch_optional(conn)
        .await?
        .flatten())
}

/// Turns two-factor sign-in on with the confirmed `secret` (whose code of
/// `step` was just typed), replacing any recovery codes with `code_hashes`,
/// and ends the account's other sessions: returns the new session epoch, or
/// `None` if the pending secret changed meanwhile (enrolment started again
/// in another tab).
pub async fn confirm_enrolment(
    conn: &mut PgConnection,
    id: i64,
    secret: &str,
    step: i64,
    code_hashes: &[String],
) -> Result<Option<i32>, DbError> {
    let mut tx = crate::db::begin_as(conn, Some(id)).await?;
    let before = lock(&mut tx, id).await?;
    let epoch = sqlx::query_scalar!(
        "UPDATE staff SET totp_secret = totp_pending_secret, totp_pending_secret = NULL, totp_enabled_at = now(),
                totp_last_step = $3, session_epoch = session_epoch + 1
          WHERE id = $1 AND totp_pending_secret = $2
         RETURNING session_epoch",
        id,
        secret,
        step
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(epoch) = epoch else {
        return Ok(None);
    };
    replace_recovery_codes_in(&mut tx, id, code_hashes).await?;
    audit_change(&mut tx, Some(id), &before, "two_factor_on").await?;
    tx.commit().await?;
    Ok(Some(epoch))
}

/// Turns off one's own second factor (after the password and a code were
/// checked); ends every other session of the account.
pub async fn turn_off_two_factor(conn: &mut PgConnection, id: i64) -> Result<i32, DbError> {
    let mut tx = crate::db::begin_as(conn, Some(id)).await?;
    let before = lock(&mut tx, id).await?;
    let epoch = clear(&mut tx, id).await?;
    audit_change(&mut tx, Some(id), &before, "two_factor_off").await?;
    tx.commit().await?;
    Ok(epoch)
}

/// Removes the account's second factor and its recovery codes, and ends its
/// sessions: returns the new session epoch.
pub(super) async fn clear(conn: &mut PgConnection, id: i64) -> Result<i32, DbError> {
    let epoch = sqlx::query_scalar!(
        "UPDATE staff SET totp_secret = NULL, totp_pending_secret = NULL, totp_enabled_at = NULL,
                totp_last_step = NULL, session_epoch = session_epoch + 1
          WHERE id = $1 RETURNING session_epoch",
        id
    )
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query!("DELETE FROM staff_recovery_codes WHERE staff_id = $1", id).execute(conn).await?;
    Ok(epoch)
}

async fn replace_recovery_codes_in(conn: &mut PgConnection, id: i64, code_hashes: &[String]) -> Result<(), DbError> {
    sqlx::query!("DELETE FROM staff_recovery_codes WHERE staff_id = $1", id).execute(&mut *conn).await?;
    sqlx::query!(
        "INSERT INTO staff_recovery_codes (staff_id, code_hash) SELECT $1, unnest($2::TEXT[])",
        id,
        code_hashes
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces the account's recovery codes (the old ones stop working).
pub async fn replace_recovery_codes(conn: &mut PgConnection, id: i64, code_hashes: &[String]) -> Result<(), DbError> {
    let mut tx = crate::db::begin_as(conn, Some(id)).await?;
    replace_recovery_codes_in(&mut tx, id, code_hashes).await?;
    audit(&mut tx, Some(id), id, "recovery_codes", None, Some(serde_json::json!({ "codes": code_hashes.len() })))
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The account's unused recovery codes, as (id, hash).
pub async fn unused_recovery_codes(conn: &mut PgConnection, id: i64) -> Result<Vec<(i64, String)>, DbError> {
    let codes = sqlx::query!(
        "SELECT id, code_hash FROM staff_recovery_codes WHERE staff_id = $1 AND used_at IS NULL ORDER BY id",
        id
    )
    .fetch_all(conn)
    .await?;
    Ok(codes.into_iter().map(|c| (c.id, c.code_hash)).collect())
}

/// Uses up a recovery code; `false` if it was used meanwhile.
pub async fn use_recovery_code(conn: &mut PgConnection, staff_id: i64, code_id: i64) -> Result<bool, DbError> {
    let mut tx = crate::db::begin_as(conn, Some(staff_id)).await?;
    let used = sqlx::query!(
        "UPDATE staff_recovery_codes SET used_at = now() WHERE id = $1 AND staff_id = $2 AND used_at IS NULL",
        code_id,
        staff_id
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if used != 1 {
        return Ok(false);
    }
    let left = recovery_codes_left(&mut tx, staff_id).await?;
    audit(&mut tx, Some(staff_id), staff_id, "recovery_code_used", None, Some(serde_json::json!({ "left": left })))
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// How many unused recovery codes the account has.
pub async fn recovery_codes_left(conn: &mut PgConnection, id: i64) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM staff_recovery_codes WHERE staff_id = $1 AND used_at IS NULL"#,
        id
    )
    .fetch_one(conn)
    .await?)
}
