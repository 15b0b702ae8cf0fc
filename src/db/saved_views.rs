//! Saved views: named list query strings, private to a staff member or
//! shared with all staff.

use sqlx::PgConnection;

use super::DbError;
use crate::domain::SavedList;

/// The most views shown above one list.
pub const SHOWN: i64 = 50;

#[derive(Debug, Clone)]
pub struct SavedView {
    pub id: i64,
    pub staff_id: i64,
    pub list: SavedList,
    pub name: String,
    /// The list's query string, without a page position.
    pub query: String,
    pub shared: bool,
    /// Who saved it.
    pub owner: String,
}

/// The views of `list` that `staff_id` sees: their own, then the shared
/// ones, each by name; at most `limit`.
pub async fn visible(
    conn: &mut PgConnection,
    staff_id: i64,
    list: SavedList,
    limit: i64,
) -> Result<Vec<SavedView>, DbError> {
    let views = sqlx::query_as!(
        SavedView,
        r#"SELECT v.id, v.staff_id, v.list AS "list: SavedList", v.name, v.query, v.shared, s.display_name AS owner
             FROM saved_views v JOIN staff s ON s.id = v.staff_id
            WHERE v.list = $2 AND (v.staff_id = $1 OR v.shared)
            ORDER BY v.shared, lower(v.name), v.id
            LIMIT $3"#,
        staff_id,
        list as SavedList,
        limit
    )
    .fetch_all(conn)
    .await?;
    Ok(views)
}

/// The view `id` if `staff_id` sees it.
pub async fn find_visible(conn: &mut PgConnection, staff_id: i64, id: i64) -> Result<Option<SavedView>, DbError> {
    let view = sqlx::query_as!(
        SavedView,
        r#"SELECT v.id, v.staff_id, v.list AS "list: SavedList", v.name, v.query, v.shared, s.display_name AS owner
             FROM saved_views v JOIN staff s ON s.id = v.staff_id
            WHERE v.id = $2 AND (v.staff_id = $1 OR v.shared)"#,
        staff_id,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(view)
}

/// A new view; a name already taken is the constraint
/// `saved_views_private_name_key` or `saved_views_shared_name_key`.
pub async fn create(
    conn: &mut PgConnection,
    staff_id: i64,
    list: SavedList,
    name: &str,
    query: &str,
    shared: bool,
) -> Result<i64, DbError> {
    let id = sqlx::query_scalar!(
        "INSERT INTO saved_views (staff_id, list, name, query, shared) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        staff_id,
        list as SavedList,
        name,
        query,
        shared
    )
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// Renames one of `staff_id`'s own views; `NotFound` when it is not theirs.
pub async fn rename(conn: &mut PgConnection, staff_id: i64, id: i64, name: &str) -> Result<(), DbError> {
    let renamed = sqlx::query!("UPDATE saved_views SET name = $3 WHERE id = $2 AND staff_id = $1", staff_id, id, name)
        .execute(conn)
        .await?;
    if renamed.rows_affected() == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

/// Deletes a view: one's own, or as an admin any shared one. Answers the
/// deleted view's list; `NotFound` when there is no such view to delete.
pub async fn delete(conn: &mut PgConnection, staff_id: i64, is_admin: bool, id: i64) -> Result<SavedList, DbError> {
    let list = sqlx::query_scalar!(
        r#"DELETE FROM saved_views WHERE id = $2 AND (staff_id = $1 OR (shared AND $3))
           RETURNING list AS "list: SavedList""#,
        staff_id,
        id,
        is_admin
    )
    .fetch_optional(conn)
    .await?;
    list.ok_or(DbError::NotFound)
}
