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

/// One field as it was and as it became.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub field: String,
    pub before: String,
    pub after: String,
}

/// How a stored field reads on a page: its label, and its value formatted
/// (money as dollars, statuses as words).
fn show(field: &str, value: Option<&Value>) -> String {
    match (field, value) {
        (_, None | Some(Value::Null)) => "—".to_string(),
        (f, Some(Value::Number(n))) if f.ends_with("_cents") => {
            n.as_i64().map(crate::web::filters::format_money).unwrap_or_else(|| n.to_string())
        }
        ("status", Some(Value::String(s))) => {
            super::orders::Status::parse(s).map(|st| st.label().to_string()).unwrap_or_else(|| s.clone())
        }
        (_, Some(Value::String(s))) => s.clone(),
        (_, Some(other)) => other.to_string(),
    }
}

fn label(field: &str) -> String {
    match field {
        "sku" => "SKU".to_string(),
        "user_id" => "customer #".to_string(),
        "product_id" => "product #".to_string(),
        "item_count" => "items".to_string(),
        "display_name" => "name".to_string(),
        "two_factor" => "two-factor sign-in".to_string(),
        other => other.trim_end_matches("_cents").replace('_', " "),
    }
}

impl Entry {
    /// The fields this entry changed (for updates), or set (creates), or
    /// held when removed (deletes), in a stable order.
    pub fn changes(&self) -> Vec<FieldChange> {
        let empty = serde_json::Map::new();
        let before = self.before.as_ref().and_then(|j| j.0.as_object()).unwrap_or(&empty);
        let after = self.after.as_ref().and_then(|j| j.0.as_object()).unwrap_or(&empty);
        let mut fields: Vec<&String> = before.keys().chain(after.keys()).collect();
        fields.sort();
        fields.dedup();
        fields
            .into_iter()
            .filter(|f| !matches!(f.as_str(), "id" | "created_at" | "order_id"))
            .filter(|f| before.get(*f) != after.get(*f))
            .map(|f| FieldChange { field: label(f), before: show(f, before.get(f)), after: show(f, after.get(f)) })
            .collect()
    }

    /// Where the changed record can be seen, if it still has a page.
    pub fn link(&self) -> Option<String> {
        match self.entity.as_str() {
            "user" => Some(format!("/users/{}", self.entity_id)),
            "product" => Some(format!("/products/{}", self.entity_id)),
            "order" | "order_line" => Some(format!("/orders/{}", self.entity_id)),
            _ => None,
        }
    }

    pub fn entity_label(&self) -> &'static str {
        match self.entity.as_str() {
            "user" => "Customer",
            "product" => "Product",
            "order" => "Order",
            "order_line" => "Order line",
            "staff" => "Staff",
            _ => "Record",
        }
    }

    pub fn action_label(&self) -> &'static str {
        match self.action.as_str() {
            "create" => "created",
            "update" => "changed",
            "delete" => "deleted",
            "sign_in" => "signed in",
            "sign_out" => "signed out",
            "role_change" => "role changed",
            "password_change" => "password changed",
            "disable" => "disabled",
            "enable" => "enabled",
            "two_factor_on" => "turned on two-factor sign-in",
            "two_factor_off" => "turned off two-factor sign-in",
            "two_factor_reset" => "two-factor sign-in reset",
            "recovery_codes" => "made new recovery codes",
            "recovery_code_used" => "used a recovery code",
            _ => "changed",
        }
    }
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
