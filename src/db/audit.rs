//! Reading the audit trail. Rows are written by database triggers for the
//! shop's data and by `db::staff` for staff accounts, always in the same
//! transaction as the change they describe.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::listing::{keyed, Dir, Listing, SortColumn};
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
    /// The customer an order entry names (as it is now, or was before a change of customer).
    pub customer_name: Option<String>,
    /// The order's former customer, when a change moved it to another.
    pub former_customer_name: Option<String>,
    /// The product an order line entry names.
    pub product_name: Option<String>,
    /// The sorted column's value, for keyset cursors (empty where unpaged).
    pub sort_key: String,
}

keyed!(Entry, id);

/// The latest entries about one record (`entities` lists the kinds filed under it).
pub async fn history(
    conn: &mut PgConnection,
    entities: &[&str],
    entity_id: i64,
    limit: i64,
) -> Result<Vec<Entry>, DbError> {
    let entities: Vec<String> = entities.iter().map(|e| e.to_string()).collect();
    // Not paged, so no cursor: the sort key is left empty.
    Ok(sqlx::query_as!(
        Entry,
        r#"SELECT a.id, a.at, a.staff_id, s.display_name AS "staff_name?", a.entity, a.entity_id, a.action,
                  a.before AS "before?: Json<Value>", a.after AS "after?: Json<Value>",
                  (SELECT u.name FROM users u WHERE u.id = (coalesce(a.after, a.before) ->> 'user_id')::BIGINT)
                      AS "customer_name?",
                  (SELECT u.name FROM users u WHERE u.id = (a.before ->> 'user_id')::BIGINT
                      AND (a.before ->> 'user_id') IS DISTINCT FROM (a.after ->> 'user_id')) AS "former_customer_name?",
                  (SELECT p.name FROM products p WHERE p.id = (coalesce(a.after, a.before) ->> 'product_id')::BIGINT)
                      AS "product_name?",
                  '' AS "sort_key!"
             FROM audit_log a LEFT JOIN staff s ON s.id = a.staff_id
            WHERE a.entity = ANY($1) AND a.entity_id = $2
            ORDER BY a.at DESC, a.id DESC LIMIT $3"#,
        &entities,
        entity_id,
        limit
    )
    .fetch_all(conn)
    .await?)
}

/// Filters of the audit log.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub staff_id: Option<i64>,
    pub entity: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// The audit log, newest first.
pub struct Log;

impl Listing for Log {
    type Row = Entry;
    type Filter = Filter;
    // The names an entry mentions are read with it, by primary key: a page
    // of entries is still one statement.
    const COLUMNS: &'static str = "a.id, a.at, a.staff_id, s.display_name AS staff_name, a.entity, a.entity_id, \
         a.action, a.before, a.after, \
         (SELECT u.name FROM users u WHERE u.id = (coalesce(a.after, a.before) ->> 'user_id')::BIGINT) AS customer_name, \
         (SELECT u.name FROM users u WHERE u.id = (a.before ->> 'user_id')::BIGINT \
             AND (a.before ->> 'user_id') IS DISTINCT FROM (a.after ->> 'user_id')) AS former_customer_name, \
         (SELECT p.name FROM products p WHERE p.id = (coalesce(a.after, a.before) ->> 'product_id')::BIGINT) \
             AS product_name";
    const FROM: &'static str = "audit_log a LEFT JOIN staff s ON s.id = a.staff_id";
    const COUNTED: (&'static str, &'static str) = ("audit_log", "a");
    const SORTS: &'static [SortColumn] =
        &[SortColumn { key: "recorded", expr: "a.id", sql_type: "BIGINT", id: "a.id", default_dir: Dir::Desc }];
    const REPLAN: bool = false;

    fn keeps_all(filter: &Filter) -> bool {
        filter.staff_id.is_none() && filter.entity.is_none() && filter.from.is_none() && filter.to.is_none()
    }

    fn push_filter(query: &mut QueryBuilder<Postgres>, filter: &Filter) {
        query.push(" WHERE true");
        if let Some(staff_id) = filter.staff_id {
            query.push(" AND a.staff_id = ").push_bind(staff_id);
        }
        if let Some(entity) = &filter.entity {
            query.push(" AND a.entity = ").push_bind(entity.clone());
        }
        if let Some(from) = filter.from {
            query.push(" AND a.at >= ").push_bind(from).push("::DATE");
        }
        if let Some(to) = filter.to {
            query.push(" AND a.at < ").push_bind(to).push("::DATE + 1");
        }
    }
}

/// Records the creation of rows written while the automatic entries were
/// off (the demo shop, loaded as it stands today): one entry per customer,
/// product, order and order line, dated when the record came to be and
/// holding what the triggers would have held, oldest first.
pub async fn record_creations(
    conn: &mut PgConnection,
    users: &[i64],
    products: &[i64],
    orders: &[i64],
) -> Result<(), DbError> {
    sqlx::query!(
        r#"INSERT INTO audit_log (at, staff_id, entity, entity_id, action, before, after)
           SELECT at, NULL, entity, entity_id, 'create', NULL, after
             FROM (SELECT u.created_at AS at, 0 AS kind, 'user' AS entity, u.id AS entity_id,
                          to_jsonb(u) - 'version' - 'updated_at' AS after, 0::BIGINT AS line
                     FROM users u WHERE u.id = ANY($1)
                   UNION ALL
                   SELECT p.created_at, 1, 'product', p.id, to_jsonb(p) - 'version' - 'updated_at', 0
                     FROM products p WHERE p.id = ANY($2)
                   UNION ALL
                   SELECT o.placed_at, 2, 'order', o.id, to_jsonb(o) - 'version' - 'updated_at', 0
                     FROM orders o WHERE o.id = ANY($3)
                   UNION ALL
                   SELECT o.placed_at, 3, 'order_line', i.order_id, to_jsonb(i), i.product_id
                     FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.id = ANY($3)) e
            ORDER BY at, entity_id, kind, line"#,
        users,
        products,
        orders
    )
    .execute(conn)
    .await?;
    Ok(())
}
