//! Staff accounts (the people who sign in to Shopdesk), their sign-in
//! attempts and the throttle built on them, their second factor (TOTP and
//! recovery codes), and the audit rows for what happens to them.

mod change;
mod sign_in;
mod two_factor;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

pub use self::change::{change, change_own_password, Change, ChangeError};
pub use self::sign_in::{
    admit, find_for_sign_in, finish, record_sign_in, record_sign_out, Admission, Factor, Limits, KNOWN_ADDRESS_DAYS,
};
pub use self::two_factor::{
    accept_step, begin_enrolment, confirm_enrolment, pending_secret, recovery_codes_left, replace_recovery_codes,
    totp_secret, turn_off_two_factor, unused_recovery_codes, use_recovery_code,
};
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

pub async fn find(conn: &mut PgConnection, id: i64) -> Result<Option<Staff>, DbError> {
    Ok(sqlx::query_as!(
        Staff,
        r#"SELECT id, email AS "email: Email", display_name, role AS "role: Role", session_epoch, disabled,
                  created_at, last_login_at, totp_enabled_at
             FROM staff WHERE id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?)
}

/// The account, locked until the transaction ends; refused if it is gone.
async fn lock(conn: &mut PgConnection, id: i64) -> Result<Staff, DbError> {
    sqlx::query_as!(
        Staff,
        r#"SELECT id, email AS "email: Email", display_name, role AS "role: Role", session_epoch, disabled,
                  created_at, last_login_at, totp_enabled_at
             FROM staff WHERE id = $1 FOR UPDATE"#,
        id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DbError::NotFound)
}

pub async fn all(conn: &mut PgConnection) -> Result<Vec<Staff>, DbError> {
    Ok(sqlx::query_as!(
        Staff,
        r#"SELECT id, email AS "email: Email", display_name, role AS "role: Role", session_epoch, disabled,
                  created_at, last_login_at, totp_enabled_at
             FROM staff ORDER BY lower(display_name), id"#
    )
    .fetch_all(conn)
    .await?)
}

pub async fn count(conn: &mut PgConnection) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM staff"#).fetch_one(conn).await?)
}

/// The password hash of an account, to check a password typed again.
pub async fn password_hash(conn: &mut PgConnection, id: i64) -> Result<Option<String>, DbError> {
    Ok(sqlx::query_scalar!("SELECT password_hash FROM staff WHERE id = $1", id).fetch_optional(conn).await?)
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
    sqlx::query!(
        "INSERT INTO audit_log (staff_id, entity, entity_id, action, before, after)
         VALUES ($1, 'staff', $2, $3, $4, $5)",
        actor,
        staff_id,
        action,
        before,
        after
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Audits a change to an account: the account as it was (`before`) and as
/// it is now.
async fn audit_change(conn: &mut PgConnection, actor: Actor, before: &Staff, action: &str) -> Result<(), DbError> {
    let after = find(&mut *conn, before.id).await?.ok_or(DbError::NotFound)?;
    audit(conn, actor, before.id, action, Some(public_json(before)), Some(public_json(&after))).await
}

pub struct NewStaff {
    pub email: Email,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
}

pub async fn create(conn: &mut PgConnection, actor: Actor, new: &NewStaff) -> Result<i64, DbError> {
    let mut tx = super::begin_as(conn, actor).await?;
    let staff = sqlx::query_as!(
        Staff,
        r#"INSERT INTO staff (email, display_name, role, password_hash) VALUES ($1, $2, $3, $4)
           RETURNING id, email AS "email: Email", display_name, role AS "role: Role", session_epoch, disabled,
                     created_at, last_login_at, totp_enabled_at"#,
        new.email.as_str(),
        new.display_name,
        new.role.as_str(),
        new.password_hash
    )
    .fetch_one(&mut *tx)
    .await?;
    audit(&mut tx, actor, staff.id, "create", None, Some(public_json(&staff))).await?;
    tx.commit().await?;
    Ok(staff.id)
}
