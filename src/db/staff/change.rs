//! Changes to an account: an admin's (role, disabling, a password reset, a
//! second factor reset), always leaving the shop an enabled admin, and
//! one's own password.

use sqlx::PgConnection;

use super::{audit, audit_change, lock, Role};
use crate::db::{Actor, DbError};

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
    let mut tx = crate::db::begin_as(conn, actor).await?;
    let locked = sqlx::query!(
        r#"SELECT id, role AS "role: Role", disabled FROM staff
            WHERE id = $1 OR id = $2 OR (role = 'admin' AND NOT disabled)
            ORDER BY id FOR UPDATE"#,
        id,
        actor
    )
    .fetch_all(&mut *tx)
    .await?;
    let admins: Vec<i64> = locked.iter().filter(|r| r.role == Role::Admin && !r.disabled).map(|r| r.id).collect();
    if let Some(actor) = actor {
        if !admins.contains(&actor) {
            return Err(ChangeError::NotAdmin);
        }
    }
    let before = lock(&mut tx, id).await?;
    let removes_an_admin = before.is_admin() && matches!(change, Change::Role(Role::Viewer) | Change::Disabled(true));
    if removes_an_admin && admins.len() <= 1 {
        return Err(ChangeError::LastAdmin);
    }
    let action = match &change {
        Change::Role(role) => {
            sqlx::query!("UPDATE staff SET role = $2 WHERE id = $1", id, role.as_str()).execute(&mut *tx).await?;
            "role_change"
        }
        Change::Disabled(disabled) => {
            sqlx::query!(
                "UPDATE staff SET disabled = $2, session_epoch = session_epoch + CASE WHEN $2 THEN 1 ELSE 0 END
                  WHERE id = $1",
                id,
                disabled
            )
            .execute(&mut *tx)
            .await?;
            if *disabled {
                "disable"
            } else {
                "enable"
            }
        }
        Change::Password(hash) => {
            set_password(&mut tx, id, hash).await?;
            "password_change"
        }
        Change::ResetTwoFactor => {
            super::two_factor::clear(&mut tx, id).await?;
            "two_factor_reset"
        }
    };
    audit_change(&mut tx, actor, &before, action).await?;
    tx.commit().await?;
    Ok(())
}

/// Sets the password hash and ends the account's sessions: returns the new
/// session epoch.
async fn set_password(conn: &mut PgConnection, id: i64, hash: &str) -> Result<i32, DbError> {
    sqlx::query_scalar!(
        "UPDATE staff SET password_hash = $2, session_epoch = session_epoch + 1 WHERE id = $1 RETURNING session_epoch",
        id,
        hash
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DbError::NotFound)
}

/// Changes one's own password after the current one was checked; ends every
/// other session of the account (the caller issues a new one).
pub async fn change_own_password(conn: &mut PgConnection, id: i64, hash: &str) -> Result<i32, DbError> {
    let mut tx = crate::db::begin_as(conn, Some(id)).await?;
    let epoch = set_password(&mut tx, id, hash).await?;
    audit(&mut tx, Some(id), id, "password_change", None, None).await?;
    tx.commit().await?;
    Ok(epoch)
}
