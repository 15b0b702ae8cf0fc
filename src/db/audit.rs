//! Reading the audit trail. Rows are written by database triggers for the
//! shop's data and by `db::staff` for staff accounts, always in the same
//! transaction as the change they describe.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::PgConnection;

use super::DbError;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Entry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub staff_id: Option<i64>,
    pub staff_name: Option<String>,
    pub entity: String,
    pub entity_id: i64,
    pub action: String,
    pub before: Option<Json<Value>>,
    pub after: Option<Json<Value>>,
}

const COLUMNS: &str =
    "a.id, a.at, a.staff_id, s.display_name AS staff_name, a.entity, a.entity_id, a.action, a.before, a.after";

/// The latest entries about one record (`entities` lists the kinds filed under it).
pub async fn history(
    conn: &mut PgConnection,
    entities: &[&str],
    entity_id: i64,
    limit: i64,
) -> Result<Vec<Entry>, DbError> {
    let entities: Vec<String> = entities.iter().map(|e| e.to_string()).collect();
    Ok(sqlx::query_as::<_, Entry>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM audit_log a LEFT JOIN staff s ON s.id = a.staff_id
          WHERE a.entity = ANY($1) AND a.entity_id = $2
          ORDER BY a.at DESC, a.id DESC LIMIT $3"
    )))
    .bind(&entities)
    .bind(entity_id)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub staff_id: Option<i64>,
    pub entity: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// A page of the audit log, newest first; `before` is the previous page's last id.
pub async fn search(
    conn: &mut PgConnection,
    filter: &Filter,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Entry>, DbError> {
    Ok(sqlx::query_as::<_, Entry>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM audit_log a LEFT JOIN staff s ON s.id = a.staff_id
          WHERE ($1::BIGINT IS NULL OR a.staff_id = $1)
            AND ($2::TEXT IS NULL OR a.entity = $2)
            AND ($3::DATE IS NULL OR a.at >= $3::DATE)
            AND ($4::DATE IS NULL OR a.at < $4::DATE + 1)
            AND ($5::BIGINT IS NULL OR a.id < $5)
          ORDER BY a.id DESC LIMIT $6"
    )))
    .bind(filter.staff_id)
    .bind(filter.entity.as_deref())
    .bind(filter.from)
    .bind(filter.to)
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}
