//! Customers: reading, searching and writing the `users` table.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{Actor, DbError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A row of the customers list, with the customer's order figures.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub created_at: DateTime<Utc>,
    pub order_count: i64,
    pub revenue_cents: i64,
}

/// What a create or edit form supplies once validated.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub name: String,
    pub email: String,
}

/// A short option for pickers and dropdowns.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserChoice {
    pub id: i64,
    pub name: String,
    pub email: String,
}

pub async fn find(conn: &mut PgConnection, id: i64) -> Result<Option<User>, DbError> {
    Ok(sqlx::query_as::<_, User>("SELECT id, name, email, version, created_at, updated_at FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

/// One page of customers, newest first, optionally matching `q` in name or
/// email. Keyset pagination: `before` is the id of the last row of the
/// previous page. Fetches one extra row to know whether another page exists.
pub async fn search(
    conn: &mut PgConnection,
    q: &str,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<UserRow>, DbError> {
    Ok(sqlx::query_as::<_, UserRow>(
        "SELECT u.id, u.name, u.email, u.created_at,
                coalesce(s.order_count, 0) AS order_count,
                coalesce(s.revenue_cents, 0)::BIGINT AS revenue_cents
           FROM users u
           LEFT JOIN LATERAL (
                SELECT count(*) AS order_count,
                       sum(total_cents) FILTER (WHERE status <> 'cancelled') AS revenue_cents
                  FROM orders o WHERE o.user_id = u.id) s ON true
          WHERE ($1 = '' OR u.name ILIKE '%' || $1 || '%' OR u.email ILIKE '%' || $1 || '%')
            AND ($2::BIGINT IS NULL OR u.id < $2)
          ORDER BY u.id DESC
          LIMIT $3",
    )
    .bind(super::escape_like(q))
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Every customer as a short choice, by name: for the order form.
pub async fn choices(conn: &mut PgConnection) -> Result<Vec<UserChoice>, DbError> {
    Ok(sqlx::query_as::<_, UserChoice>("SELECT id, name, email FROM users ORDER BY name, id").fetch_all(conn).await?)
}

pub async fn create(conn: &mut PgConnection, actor: Actor, user: &NewUser) -> Result<i64, DbError> {
    let mut tx = super::begin_as(conn, actor).await?;
    let id = sqlx::query_scalar("INSERT INTO users (name, email) VALUES ($1, $2) RETURNING id")
        .bind(&user.name)
        .bind(&user.email)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(id)
}

/// Saves the edit only if nobody changed the customer since `version` was read.
pub async fn update(
    conn: &mut PgConnection,
    actor: Actor,
    id: i64,
    version: i32,
    user: &NewUser,
) -> Result<(), DbError> {
    let mut tx = super::begin_as(conn, actor).await?;
    let updated = sqlx::query(
        "UPDATE users SET name = $3, email = $4, version = version + 1, updated_at = now()
          WHERE id = $1 AND version = $2",
    )
    .bind(id)
    .bind(version)
    .bind(&user.name)
    .bind(&user.email)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 1 {
        tx.commit().await?;
        return Ok(());
    }
    super::missing_or_conflict(&mut tx, "users", id).await
}

/// Deletes a customer who has no orders. `Ok(Err(n))` says they still have `n` orders.
pub async fn delete(conn: &mut PgConnection, actor: Actor, id: i64, version: i32) -> Result<Result<(), i64>, DbError> {
    let mut tx = super::begin_as(conn, actor).await?;
    let order_count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM orders WHERE user_id = $1").bind(id).fetch_one(&mut *tx).await?;
    if order_count > 0 {
        return Ok(Err(order_count));
    }
    let deleted =
        sqlx::query("DELETE FROM users WHERE id = $1 AND version = $2").bind(id).bind(version).execute(&mut *tx).await;
    match deleted {
        Ok(done) if done.rows_affected() == 1 => {
            tx.commit().await?;
            Ok(Ok(()))
        }
        Ok(_) => super::missing_or_conflict(&mut tx, "users", id).await.map(Ok),
        // An order placed between the check and the delete: the foreign key holds.
        Err(e) => match DbError::from(e) {
            DbError::Constraint { .. } => Ok(Err(1)),
            other => Err(other),
        },
    }
}

pub async fn count(conn: &mut PgConnection) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(conn).await?)
}
