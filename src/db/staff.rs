//! Staff accounts (the people who sign in to Shopdesk), their sign-in
//! attempts, and the audit rows for what happens to them.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{Actor, DbError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Staff {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub session_epoch: i32,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

impl Staff {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin.as_str() && !self.disabled
    }
}

const COLUMNS: &str = "id, email, display_name, role, session_epoch, disabled, created_at, last_login_at";

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
    pub email: String,
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
}

/// Applies `change`. Every change ends the account's open sessions except a
/// role change, which takes effect on the next request anyway.
pub async fn change(conn: &mut PgConnection, actor: Actor, id: i64, change: Change) -> Result<(), DbError> {
    let mut tx = super::begin_as(conn, actor).await?;
    let before = sqlx::query_as::<_, Staff>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM staff WHERE id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(DbError::NotFound)?;
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
    };
    query.execute(&mut *tx).await?;
    let after = sqlx::query_as::<_, Staff>(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM staff WHERE id = $1")))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    audit(&mut tx, actor, id, action, Some(public_json(&before)), Some(public_json(&after))).await?;
    tx.commit().await?;
    Ok(())
}

/// Records a successful sign-in: the time, and an audit row.
pub async fn record_sign_in(conn: &mut PgConnection, staff: &Staff, address: &str) -> Result<(), DbError> {
    let mut tx = super::begin_as(conn, Some(staff.id)).await?;
    sqlx::query("UPDATE staff SET last_login_at = now() WHERE id = $1").bind(staff.id).execute(&mut *tx).await?;
    sqlx::query("INSERT INTO sign_in_attempts (email, address, succeeded) VALUES ($1, $2, true)")
        .bind(&staff.email)
        .bind(address)
        .execute(&mut *tx)
        .await?;
    audit(&mut tx, Some(staff.id), staff.id, "sign_in", None, Some(serde_json::json!({ "address": address }))).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn record_sign_out(conn: &mut PgConnection, staff_id: i64) -> Result<(), DbError> {
    audit(conn, Some(staff_id), staff_id, "sign_out", None, None).await
}

pub async fn record_failure(conn: &mut PgConnection, email: &str, address: &str) -> Result<(), DbError> {
    sqlx::query("INSERT INTO sign_in_attempts (email, address, succeeded) VALUES ($1, $2, false)")
        .bind(email.trim())
        .bind(address)
        .execute(conn)
        .await?;
    Ok(())
}

/// Failed sign-ins within `window_minutes` for this email (since its last
/// success) and from this address, and when the oldest of them expires.
#[derive(Debug, sqlx::FromRow)]
pub struct RecentFailures {
    pub for_email: i64,
    pub for_address: i64,
    pub retry_after_seconds: i64,
}

pub async fn recent_failures(
    conn: &mut PgConnection,
    email: &str,
    address: &str,
    window_minutes: i32,
) -> Result<RecentFailures, DbError> {
    Ok(sqlx::query_as::<_, RecentFailures>(
        "WITH since AS (
             SELECT greatest(now() - make_interval(mins => $3),
                             coalesce(max(at) FILTER (WHERE succeeded), '-infinity')) AS t
               FROM sign_in_attempts WHERE lower(email) = lower($1) AND at > now() - make_interval(mins => $3)
         ),
         by_email AS (
             SELECT count(*) AS n, min(at) AS oldest FROM sign_in_attempts, since
              WHERE lower(email) = lower($1) AND NOT succeeded AND at > since.t
         ),
         by_address AS (
             SELECT count(*) AS n, min(at) AS oldest FROM sign_in_attempts
              WHERE address = $2 AND NOT succeeded AND at > now() - make_interval(mins => $3)
         )
         SELECT by_email.n AS for_email, by_address.n AS for_address,
                greatest(0, ceil(extract(epoch FROM
                    least(coalesce(by_email.oldest, now()), coalesce(by_address.oldest, now()))
                    + make_interval(mins => $3) - now())))::BIGINT AS retry_after_seconds
           FROM by_email, by_address",
    )
    .bind(email.trim())
    .bind(address)
    .bind(window_minutes)
    .fetch_one(conn)
    .await?)
}
