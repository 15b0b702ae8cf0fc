//! Signing in: finding the account, the throttle on attempts, and the
//! audit rows of signing in and out.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{audit, Role, Staff};
use crate::db::DbError;
use crate::domain::Email;

/// The account and its password hash, for checking a sign-in.
pub async fn find_for_sign_in(conn: &mut PgConnection, email: &str) -> Result<Option<(Staff, String)>, DbError> {
    let row = sqlx::query!(
        r#"SELECT id, email AS "email: Email", display_name, role AS "role: Role", session_epoch, disabled,
                  created_at, last_login_at, totp_enabled_at, password_hash
             FROM staff WHERE lower(email) = lower($1)"#,
        email.trim()
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| {
        let staff = Staff {
            id: r.id,
            email: r.email,
            display_name: r.display_name,
            role: r.role,
            session_epoch: r.session_epoch,
            disabled: r.disabled,
            created_at: r.created_at,
            last_login_at: r.last_login_at,
            totp_enabled_at: r.totp_enabled_at,
        };
        (staff, r.password_hash)
    }))
}

/// Records a successful sign-in: the time, and an audit row. Attempts older
/// than the longest time they matter for (remembering known addresses) go.
pub async fn record_sign_in(conn: &mut PgConnection, staff: &Staff, address: &str) -> Result<(), DbError> {
    let mut tx = crate::db::begin_as(conn, Some(staff.id)).await?;
    sqlx::query!("UPDATE staff SET last_login_at = now() WHERE id = $1", staff.id).execute(&mut *tx).await?;
    audit(&mut tx, Some(staff.id), staff.id, "sign_in", None, Some(serde_json::json!({ "address": address }))).await?;
    sqlx::query!("DELETE FROM sign_in_attempts WHERE at < now() - make_interval(days => $1)", KNOWN_ADDRESS_DAYS)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn record_sign_out(conn: &mut PgConnection, staff_id: i64) -> Result<(), DbError> {
    let mut tx = crate::db::begin_as(conn, Some(staff_id)).await?;
    // Moving the epoch on ends this session everywhere, even in a copied cookie.
    sqlx::query!("UPDATE staff SET session_epoch = session_epoch + 1 WHERE id = $1", staff_id)
        .execute(&mut *tx)
        .await?;
    audit(&mut tx, Some(staff_id), staff_id, "sign_out", None, None).await?;
    tx.commit().await?;
    Ok(())
}

/// How long an address that signed in to an account stays "known" to it.
pub const KNOWN_ADDRESS_DAYS: i32 = 90;

/// What a sign-in step checks: the password, or the second factor's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    Password,
    Code,
}

impl Factor {
    fn as_str(self) -> &'static str {
        match self {
            Factor::Password => "password",
            Factor::Code => "code",
        }
    }
}

/// The throttle's limits (see [`admit`]).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Failures of one factor for one account from one address within the window.
    pub per_account_and_address: i64,
    /// Failures from one address, any account, within the window.
    pub per_address: i64,
    /// Failures for one account from all addresses within the window before
    /// the growing delay starts for addresses the account has not used.
    pub per_account_free: i64,
    /// The longest delay between attempts the growing delay reaches.
    pub max_delay_seconds: i64,
    pub window_minutes: i32,
}

/// The throttle's answer to one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead and check; then report the outcome with [`finish`].
    Check(i64),
    /// Refused without checking anything; the client may try again after this many seconds.
    Refused { retry_after_seconds: i64 },
}

/// The throttle: records the attempt first, then decides whether it may be
/// checked. Because every attempt is recorded (and committed) before it counts
/// the attempts before it, a burst of simultaneous attempts cannot all see a
/// count under the limit: at most the limit's number are checked. A refused
/// attempt's row is deleted again, so retrying while refused extends nothing
/// and stores nothing: an address adds at most `per_address` failed rows per
/// window, whatever accounts (real or invented) it names. Failed attempts
/// older than the window, and every attempt older than
/// [`KNOWN_ADDRESS_DAYS`], are pruned a batch at a time with each attempt.
///
/// The rules, within the window:
/// - one account from one address: `per_account_and_address` failures;
/// - one address, all accounts: `per_address` failures;
/// - one account, all addresses: after `per_account_free` failures, an
///   address that has not signed in to the account in the last
///   [`KNOWN_ADDRESS_DAYS`] days must wait a delay since the account's last
///   failure that doubles with each failure, up to `max_delay_seconds`.
///   Addresses the account signed in from are never delayed by failures from
///   elsewhere, so an attacker cannot lock the owner out.
pub async fn admit(
    conn: &mut PgConnection,
    email: &str,
    address: &str,
    factor: Factor,
    limits: &Limits,
) -> Result<Admission, DbError> {
    let id = sqlx::query_scalar!(
        "INSERT INTO sign_in_attempts (email, address, succeeded, factor) VALUES ($1, $2, false, $3) RETURNING id",
        email.trim(),
        address,
        factor.as_str()
    )
    .fetch_one(&mut *conn)
    .await?;
    let c = sqlx::query!(
        r#"WITH window_start AS (SELECT now() - make_interval(mins => $4) AS t),
           pair_success AS (
               SELECT coalesce(max(at), '-infinity') AS t FROM sign_in_attempts, window_start w
                WHERE lower(email) = lower($1) AND address = $2 AND factor = $3 AND succeeded AND at > w.t
           ),
           pair AS (
               SELECT count(*) AS n, min(at) AS oldest FROM sign_in_attempts a, window_start w, pair_success s
                WHERE lower(a.email) = lower($1) AND a.address = $2 AND a.factor = $3
                  AND NOT a.succeeded AND NOT a.throttled AND a.at > w.t AND a.at > s.t
           ),
           from_address AS (
               SELECT count(*) AS n, min(at) AS oldest FROM sign_in_attempts a, window_start w
                WHERE a.address = $2 AND NOT a.succeeded AND NOT a.throttled AND a.at > w.t
           ),
           account AS (
               SELECT count(*) AS n, max(at) AS last FROM sign_in_attempts a, window_start w
                WHERE lower(a.email) = lower($1) AND a.factor = $3 AND NOT a.succeeded AND NOT a.throttled
                  AND a.at > w.t AND a.id <> $5
           )
           SELECT pair.n AS "pair!", pair.oldest AS "pair_oldest?", from_address.n AS "from_address!",
                  from_address.oldest AS "address_oldest?",
                  EXISTS (SELECT 1 FROM sign_in_attempts
                           WHERE lower(email) = lower($1) AND address = $2 AND factor = $3 AND succeeded
                             AND at > now() - make_interval(days => $6)) AS "known!",
                  account.n AS "account_before!", account.last AS "account_last?", now() AS "now!"
             FROM pair, from_address, account"#,
        email.trim(),
        address,
        factor.as_str(),
        limits.window_minutes,
        id,
        KNOWN_ADDRESS_DAYS
    )
    .fetch_one(&mut *conn)
    .await?;
    let window = chrono::Duration::minutes(i64::from(limits.window_minutes));
    let until_expiry =
        |oldest: Option<DateTime<Utc>>| oldest.map(|o| (o + window - c.now).num_seconds().max(1)).unwrap_or(1);
    let refused = if c.pair > limits.per_account_and_address {
        Some(until_expiry(c.pair_oldest))
    } else if c.from_address > limits.per_address {
        Some(until_expiry(c.address_oldest))
    } else if !c.known && c.account_before >= limits.per_account_free {
        let doublings = u32::try_from(c.account_before - limits.per_account_free).unwrap_or(u32::MAX).min(30);
        let delay = (1i64 << doublings).min(limits.max_delay_seconds.max(1));
        let waited = c.account_last.map(|last| (c.now - last).num_seconds()).unwrap_or(i64::MAX);
        (waited < delay).then(|| (delay - waited).max(1))
    } else {
        None
    };
    match refused {
        Some(retry_after_seconds) => {
            sqlx::query!("DELETE FROM sign_in_attempts WHERE id = $1", id).execute(&mut *conn).await?;
            prune_attempts(conn, limits.window_minutes).await?;
            Ok(Admission::Refused { retry_after_seconds })
        }
        None => {
            prune_attempts(conn, limits.window_minutes).await?;
            Ok(Admission::Check(id))
        }
    }
}

/// Deletes a bounded batch of attempts that no rule reads any more: failures
/// older than the throttle's window, and anything older than the time an
/// address stays known. Each attempt prunes more rows than it adds, so the
/// table stays the size of one window's traffic.
async fn prune_attempts(conn: &mut PgConnection, window_minutes: i32) -> Result<(), DbError> {
    sqlx::query!(
        "DELETE FROM sign_in_attempts WHERE id IN (
             SELECT id FROM sign_in_attempts
              WHERE at < now() - make_interval(mins => $1)
                AND (NOT succeeded OR at < now() - make_interval(days => $2))
              ORDER BY at LIMIT 100)",
        window_minutes.max(1),
        KNOWN_ADDRESS_DAYS
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records how a checked attempt ended.
pub async fn finish(conn: &mut PgConnection, attempt: i64, succeeded: bool) -> Result<(), DbError> {
    if succeeded {
        sqlx::query!("UPDATE sign_in_attempts SET succeeded = true WHERE id = $1", attempt).execute(conn).await?;
    }
    Ok(())
}
