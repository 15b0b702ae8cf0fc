//! Bulk changes to products: a price or stock change by a percentage for
//! every product ticked or matching the list's filters, in one transaction.

use sqlx::{PgConnection, QueryBuilder};

use super::{Filter, List};
use crate::db::bulk::{lock_confirmed, preview};
use crate::db::{Actor, BulkError, BulkPreview, DbError};

/// A change applied to many products at once, by a percentage (−100 to 1000).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BulkChange {
    Price(f64),
    Stock(f64),
}

impl BulkChange {
    /// SQL for the changed value of the product aliased `p`, given the
    /// percentage as parameter `$n`: rounded half away from zero to the cent
    /// or unit, and held within what a single edit accepts.
    pub(crate) fn new_value(self, n: usize) -> String {
        let (before, after) = self.new_value_around_percent();
        format!("{before}${n}{after}")
    }

    /// [`Self::new_value`] split where the percentage goes.
    fn new_value_around_percent(self) -> (String, String) {
        let (column, cap) = self.column_and_cap();
        (format!("least(round(p.{column} * (100 + "), format!("::NUMERIC) / 100), {cap})"))
    }

    pub(crate) fn column_and_cap(self) -> (&'static str, &'static str) {
        match self {
            BulkChange::Price(_) => ("price_cents", "1000000000"),
            BulkChange::Stock(_) => ("stock", "1000000"),
        }
    }

    pub(crate) fn percent(self) -> f64 {
        match self {
            BulkChange::Price(p) | BulkChange::Stock(p) => p,
        }
    }
}

/// A product on a bulk change's confirmation page: its value now and after.
#[derive(Debug, sqlx::FromRow)]
pub struct BulkRow {
    pub id: i64,
    pub name: String,
    pub sku: String,
    pub now: i64,
    pub after: i64,
}

/// How many products a bulk change would touch, their fingerprint, and the
/// first few of them with their values before and after.
pub async fn bulk_preview(
    conn: &mut PgConnection,
    filter: &Filter,
    ids: Option<&[i64]>,
    change: BulkChange,
) -> Result<BulkPreview<BulkRow>, DbError> {
    let (column, _) = change.column_and_cap();
    let (before, after) = change.new_value_around_percent();
    let mut sample = QueryBuilder::new(format!("SELECT p.id, p.name, p.sku, p.{column}::BIGINT AS now, {before}"));
    sample.push_bind(change.percent()).push(format!("{after}::BIGINT AS after FROM products p"));
    preview::<List, BulkRow>(conn, filter, ids, sample, "lower(p.name), p.id").await
}

/// Changes every targeted product's price or stock by a percentage in one
/// transaction; versions move on and the audit trigger records each product.
/// Refused whole if the targets no longer match the confirmed `token`.
pub async fn bulk_apply(
    conn: &mut PgConnection,
    actor: Actor,
    filter: &Filter,
    ids: Option<&[i64]>,
    confirmed: (i64, &str),
    change: BulkChange,
) -> Result<usize, BulkError> {
    let mut tx = crate::db::begin_as(conn, actor).await?;
    let targets =
        lock_confirmed::<List, (i64, i32)>(&mut tx, "p.id, p.version", filter, ids, confirmed, |t| *t).await?;
    let (column, _) = change.column_and_cap();
    let ids: Vec<i64> = targets.iter().map(|(id, _)| *id).collect();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE products p SET {column} = {}, version = p.version + 1, updated_at = now() WHERE p.id = ANY($1)",
        change.new_value(2)
    )))
    .bind(&ids)
    .bind(change.percent())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ids.len())
}
