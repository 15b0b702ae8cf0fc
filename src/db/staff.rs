//! Staff accounts (the people who sign in to Shopdesk), their sign-in
//! attempts and the throttle built on them, their second factor (TOTP and
//! recovery codes), and the audit rows for what happens to them.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{Actor, DbError};
use crate::domain::Email;
pub use crate::domain::Role;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Staff {
    pub id: i64,
    pub email: Email,
    pub display_name: String,
    pub role: Role,
    pub session_epoch: i32,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    /// When two-factor sign-in was turned on, if it is.
    pub totp_enabled_at: Option<DateTime<Utc>>,
}

impl Staff {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin && !self.disabled
    }

    /// Whether signing in needs a code from an authenticator app.
    pub fn has_two_factor(&self) -> bool {
        self.totp_enabled_at.is_some()
    }
}

const COLUMNS: &str =
    "id, email, display_name, role, session_epoch, disabled, created_at, last_login_at, totp_enabled_at";

pub async fn find(conn: &mut PgConnection, id: i64) -> Result<Option<Staff>, DbError> {
    Ok(sqlx::query_as::<_, Staff>(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM staff WHERE id = $1")))
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

/// The account and its password hash, for checking a sign-in.
pub async fn find_for_sign_in(conn: &mut PgConnection, email: &str) -> Result<Option<(Staff, String)>, DbError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        staff: Staff,
        password_hash: String,
    }
    let row = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS}, password_hash FROM staff WHERE lower(email) = lower($1)"
    )))
    .bind(email.trim())
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.staff, r.password_hash)))
}

pub async fn all(conn: &mut PgConnection) -> Result<Vec<Staff>, DbError> {
    Ok(sqlx::query_as::<_, Staff>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM staff ORDER BY lower(display_name), id"
    )))
    .fetch_all(conn)
    .await?)
}

pub async fn count(conn: &mut PgConnection) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM staff").fetch_one(conn).await?)
}

/// What the audit trail keeps of a staff member: never the password hash.
fn public_json(staff: &Staff) -> serde_json::Value {
    serde_json::json!({
        "id": staff.id,
        "email": staff.email,
        "display_name": staff.display_name,
        "role": staff.role,
        "disabled": staff.disabled,
        "two_factor": staff.has_two_factor(),
    })
}

async fn audit(
    conn: &mut PgConnection,
    actor: Actor,
    staff_id: i64,
    action: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<(), DbError> {
    sqlx::query("INSERT INTO audit_log (staff_id, entity, entity_id, action, before, after) VALUES ($1, 'staff', $2, $3, $4, $5)")
        .bind(actor)
        .bind(staff_id)
        .bind(action)
        .bind(before)
        .bind(after)
        .execute(conn)
        .await?;
    Ok(())
}

pub struct NewStaff {
    pub email: Email,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
}

pub async fn create(conn: &mut PgConnection, actor: Actor, new: &NewStaff) -> Result<i64, DbError> {
    let mut tx = super::begin_as(conn, actor).await?;
    let staff = sqlx::query_as::<_, Staff>(sqlx::AssertSqlSafe(format!(
        "INSERT INTO staff (email, display_name, role, password_hash) VALUES ($1, $2, $3, $4) RETURNING {COLUMNS}"
    )))
    .bind(&new.email)
    .bind(&new.display_name)
    .bind(new.role.as_str())
    .bind(&new.password_hash)
    .fetch_one(&mut *tx)
    .await?;
    audit(&mut tx, actor, staff.id, "create", None, Some(public_json(&staff))).await?;
    tx.commit().await?;
    Ok(staff.id)
}

/// A change an admin makes to a staff account.
pub enum Change {
    Role(Role),
    Disabled(bool),
    Password(String),
    /// Turns off the account's second factor (it enrols again at its next sign-in).
    ResetTwoFactor,
}

/// Why a staff change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The change would leave no enabled admin.
    #[error("the last admin cannot be removed")]
    LastAdmin,
    /// The acting account is no longer an enabled admin (changed meanwhile).
    #[error("the acting account is not an admin")]
    NotAdmin,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for ChangeError {
    fn from(e: sqlx::Error) -> Self {
        ChangeError::Db(e.into())
    }
}

/// Applies `change`. Every change ends the account's open sessions except a
/// role change, which takes effect on the next request anyway.
///
/// The actor's and every enabled admin's rows are locked first, always in id
/// order, so two admins changing each other at once queue instead of
/// deadlocking; inside that lock the actor must still be an admin, and no
/// change may leave the shop without an enabled admin.
pub async fn change(conn: &mut PgConnection, actor: Actor, id: i64, change: Change) -> Result<(), ChangeError> {
    let mut tx = super::begin_as(conn, actor).await?;
    let locked: Vec<(i64, Role, bool)> = sqlx::query_as(
        "SELECT id, role, disabled FROM staff
          WHERE id = $1 OR id = $2 OR (role = 'admin' AND NOT disabled)
          ORDER BY id FOR UPDATE",
    )
    .bind(id)
    .bind(actor)
    .fetch_all(&mut *tx)
    .await?;
    if let Some(actor) = actor {
        if !locked.iter().any(|(i, role, disabled)| *i == actor && *role == Role::Admin && !disabled) {
            return Err(ChangeError::NotAdmin);
        }
    }
    let before = sqlx::query_as::<_, Staff>(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM staff WHERE id = $1")))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(DbError::NotFound)?;
    let removes_an_admin = before.is_admin() && matches!(change, Change::Role(Role::Viewer) | Change::Disabled(true));
    let admins = locked.iter().filter(|(_, role, disabled)| *role == Role::Admin && !disabled).count();
    if removes_an_admin && admins <= 1 {
        return Err(ChangeError::LastAdmin);
    }
    let (query, action) = match &change {
        Change::Role(role) => {
            (sqlx::query("UPDATE staff SET role = $2 WHERE id = $1").bind(id).bind(role.as_str()), "role_change")
        }
        Change::Disabled(disabled) => (
            sqlx::query(
                "UPDATE staff SET disabled = $2, session_epoch = session_epoch + CASE WHEN $2 THEN 1 ELSE 0 END
                  WHERE id = $1",
            )
            .bind(id)
            .bind(*disabled),
            if *disabled { "disable" } else { "enable" },
        ),
        Change::Password(hash) => (
            sqlx::query("UPDATE staff SET password_hash = $2, session_epoch = session_epoch + 1 WHERE id = $1")
                .bind(id)
                .bind(hash.as_str()),
            "password_change",
        ),
        Change::ResetTwoFactor => (
            sqlx::query(
                "UPDATE staff SET totp_secret = NULL, totp_pending_secret = NULL, totp_enabled_at = NULL,
                        totp_last_step = NULL, session_epoch = session_epoch + 1
                  WHERE id = $1",
            )
            .bind(id),
            "two_factor_reset",
        ),
    };
    query.execute(&mut *tx).await?;
    if matches!(change, Change::ResetTwoFactor) {
        sqlx::query("DELETE FROM staff_recovery_codes WHERE staff_id = $1").bind(id).execute(&mut *tx).await?;
    }
    let after = sqlx::query_as::<_, Staff>(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM staff WHERE id = $1")))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    audit(&mut tx, actor, id, action, Some(public_json(&before)), Some(public_json(&after))).await?;
    tx.commit().await?;
    Ok(())
}

/// Changes one's own password after the current one was checked; ends every
/// other session of the account (the caller issues a new one).
pub async fn change_own_password(conn: &mut PgConnection, id: i64, hash: &str) -> Result<i32, DbError> {
    let mut tx = super::begin_as(conn, Some(id)).await?;
    let epoch: i32 = sqlx::query_scalar(
        "UPDATE staff SET password_hash = $2, session_epoch = session_epoch + 1 WHERE id = $1 RETURNING session_epoch",
    )
    .bind(id)
    .bind(hash)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(DbError::NotFound)?;
    audit(&mut tx, Some(id), id, "password_change", None, None).await?;
    tx.commit().await?;
    Ok(epoch)
}

/// The password hash of an account, to check a password typed again.
pub async fn password_hash(conn: &mut PgConnection, id: i64) -> Result<Option<String>, DbError> {
    Ok(sqlx::query_scalar("SELECT password_hash FROM staff WHERE id = $1").bind(id).fetch_optional(conn).await?)
}

/// Records a successful sign-in: the time, and an audit row. Attempts older
/// than the longest time they matter for (remembering known addresses) go.
pub async fn record_sign_in(conn: &mut PgConnection, staff: &Staff, address: &str) -> Result<(), DbError> {
    let mut tx = super::begin_as(conn, Some(staff.id)).await?;
    sqlx::query("UPDATE staff SET last_login_at = now() WHERE id = $1").bind(staff.id).execute(&mut *tx).await?;
    audit(&mut tx, Some(staff.id), staff.id, "sign_in", None, Some(serde_json::json!({ "address": address }))).await?;
    sqlx::query("DELETE FROM sign_in_attempts WHERE at < now() - make_interval(days => $1)")
        .bind(KNOWN_ADDRESS_DAYS)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn record_sign_out(conn: &mut PgConnection, staff_id: i64) -> Result<(), DbError> {
    let mut tx = super::begin_as(conn, Some(staff_id)).await?;
    // Moving the epoch on ends this session everywhere, even in a copied cookie.
    sqlx::query("UPDATE staff SET session_epoch = session_epoch + 1 WHERE id = $1")
        .bind(staff_id)
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
/// count under the limit: at most the limit's number are checked. Refused
/// attempts are marked and never count as failures, so retrying while refused
/// does not extend anything.
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
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO sign_in_attempts (email, address, succeeded, factor) VALUES ($1, $2, false, $3) RETURNING id",
    )
    .bind(email.trim())
    .bind(address)
    .bind(factor.as_str())
    .fetch_one(&mut *conn)
    .await?;
    #[derive(sqlx::FromRow)]
    struct Counts {
        pair: i64,
        pair_oldest: Option<DateTime<Utc>>,
        from_address: i64,
        address_oldest: Option<DateTime<Utc>>,
        known: bool,
        account_before: i64,
        account_last: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    }
    let c = sqlx::query_as::<_, Counts>(
        "WITH window_start AS (SELECT now() - make_interval(mins => $4) AS t),
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
         SELECT pair.n AS pair, pair.oldest AS pair_oldest, from_address.n AS from_address,
                from_address.oldest AS address_oldest,
                EXISTS (SELECT 1 FROM sign_in_attempts
                         WHERE lower(email) = lower($1) AND address = $2 AND factor = $3 AND succeeded
                           AND at > now() - make_interval(days => $6)) AS known,
                account.n AS account_before, account.last AS account_last, now() AS now
           FROM pair, from_address, account",
    )
    .bind(email.trim())
    .bind(address)
    .bind(factor.as_str())
    .bind(limits.window_minutes)
    .bind(id)
    .bind(KNOWN_ADDRESS_DAYS)
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
            sqlx::query("UPDATE sign_in_attempts SET throttled = true WHERE id = $1").bind(id).execute(conn).await?;
            Ok(Admission::Refused { retry_after_seconds })
        }
        None => Ok(Admission::Check(id)),
    }
}

/// Records how a checked attempt ended.
pub async fn finish(conn: &mut PgConnection, attempt: i64, succeeded: bool) -> Result<(), DbError> {
    if succeeded {
        sqlx::query("UPDATE sign_in_attempts SET succeeded = true WHERE id = $1").bind(attempt).execute(conn).await?;
    }
    Ok(())
}

/// The account's confirmed TOTP secret (base32) and the last time step
/// accepted, if two-factor sign-in is on.
pub async fn totp_secret(conn: &mut PgConnection, id: i64) -> Result<Option<String>, DbError> {
    Ok(sqlx::query_scalar::<_, Option<String>>("SELECT totp_secret FROM staff WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?
        .flatten())
}

/// Accepts the code of time step `step` unless this or a later step's code
/// was already accepted: a code works once, and never after a newer one.
pub async fn accept_step(conn: &mut PgConnection, id: i64, step: i64) -> Result<bool, DbError> {
    let accepted = sqlx::query(
        "UPDATE staff SET totp_last_step = $2 WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)",
    )
    .bind(id)
    .bind(step)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(accepted == 1)
}

/// Starts enrolment with a new secret; it takes effect only once confirmed.
pub async fn begin_enrolment(conn: &mut PgConnection, id: i64, secret: &str) -> Result<(), DbError> {
    sqlx::query("UPDATE staff SET totp_pending_secret = $2 WHERE id = $1").bind(id).bind(secret).execute(conn).await?;
    Ok(())
}

/// The secret being enrolled, if enrolment was started.
pub async fn pending_secret(conn: &mut PgConnection, id: i64) -> Result<Option<String>, DbError> {
    Ok(sqlx::query_scalar::<_, Option<String>>("SELECT totp_pending_secret FROM staff WHERE id = $1")
        .bind(id)
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
    let mut tx = super::begin_as(conn, Some(id)).await?;
    let before = sqlx::query_as::<_, Staff>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM staff WHERE id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(DbError::NotFound)?;
    let epoch: Option<i32> = sqlx::query_scalar(
        "UPDATE staff SET totp_secret = totp_pending_secret, totp_pending_secret = NULL, totp_enabled_at = now(),
                totp_last_step = $3, session_epoch = session_epoch + 1
          WHERE id = $1 AND totp_pending_secret = $2
         RETURNING session_epoch",
    )
    .bind(id)
    .bind(secret)
    .bind(step)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(epoch) = epoch else {
        return Ok(None);
    };
    replace_recovery_codes_in(&mut tx, id, code_hashes).await?;
    let after = sqlx::query_as::<_, Staff>(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM staff WHERE id = $1")))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    audit(&mut tx, Some(id), id, "two_factor_on", Some(public_json(&before)), Some(public_json(&after))).await?;
    tx.commit().await?;
    Ok(Some(epoch))
}

async fn replace_recovery_codes_in(conn: &mut PgConnection, id: i64, code_hashes: &[String]) -> Result<(), DbError> {
    sqlx::query("DELETE FROM staff_recovery_codes WHERE staff_id = $1").bind(id).execute(&mut *conn).await?;
    sqlx::query("INSERT INTO staff_recovery_codes (staff_id, code_hash) SELECT $1, unnest($2::TEXT[])")
        .bind(id)
        .bind(code_hashes)
        .execute(conn)
        .await?;
    Ok(())
}

/// Replaces the account's recovery codes (the old ones stop working).
pub async fn replace_recovery_codes(conn: &mut PgConnection, id: i64, code_hashes: &[String]) -> Result<(), DbError> {
    let mut tx = super::begin_as(conn, Some(id)).await?;
    replace_recovery_codes_in(&mut tx, id, code_hashes).await?;
    audit(&mut tx, Some(id), id, "recovery_codes", None, Some(serde_json::json!({ "codes": code_hashes.len() })))
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The account's unused recovery codes, as (id, hash).
pub async fn unused_recovery_codes(conn: &mut PgConnection, id: i64) -> Result<Vec<(i64, String)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, code_hash FROM staff_recovery_codes WHERE staff_id = $1 AND used_at IS NULL ORDER BY id",
    )
    .bind(id)
    .fetch_all(conn)
    .await?)
}

/// Uses up a recovery code; `false` if it was used meanwhile.
pub async fn use_recovery_code(conn: &mut PgConnection, staff_id: i64, code_id: i64) -> Result<bool, DbError> {
    let mut tx = super::begin_as(conn, Some(staff_id)).await?;
    let used = sqlx::query(
        "UPDATE staff_recovery_codes SET used_at = now() WHERE id = $1 AND staff_id = $2 AND used_at IS NULL",
    )
    .bind(code_id)
    .bind(staff_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if used != 1 {
        return Ok(false);
    }
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM staff_recovery_codes WHERE staff_id = $1 AND used_at IS NULL")
            .bind(staff_id)
            .fetch_one(&mut *tx)
            .await?;
    audit(&mut tx, Some(staff_id), staff_id, "recovery_code_used", None, Some(serde_json::json!({ "left": left })))
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// How many unused recovery codes the account has.
pub async fn recovery_codes_left(conn: &mut PgConnection, id: i64) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM staff_recovery_codes WHERE staff_id = $1 AND used_at IS NULL")
        .bind(id)
        .fetch_one(conn)
        .await?)
}

/// Turns off one's own second factor (after the password and a code were
/// checked); ends every other session of the account.
pub async fn turn_off_two_factor(conn: &mut PgConnection, id: i64) -> Result<i32, DbError> {
    let mut tx = super::begin_as(conn, Some(id)).await?;
    let before = sqlx::query_as::<_, Staff>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM staff WHERE id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(DbError::NotFound)?;
    let epoch: i32 = sqlx::query_scalar(
        "UPDATE staff SET totp_secret = NULL, totp_pending_secret = NULL, totp_enabled_at = NULL,
                totp_last_step = NULL, session_epoch = session_epoch + 1
          WHERE id = $1 RETURNING session_epoch",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM staff_recovery_codes WHERE staff_id = $1").bind(id).execute(&mut *tx).await?;
    let after = sqlx::query_as::<_, Staff>(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM staff WHERE id = $1")))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    audit(&mut tx, Some(id), id, "two_factor_off", Some(public_json(&before)), Some(public_json(&after))).await?;
    tx.commit().await?;
    Ok(epoch)
}
