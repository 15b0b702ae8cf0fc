//! Bulk changes to products: a price or stock change by a percentage for
//! every product ticked or matching the list's filters, in one transaction.

use sqlx::{PgConnection, QueryBuilder};

use super::{Filter, List};
use crate::db::bulk::{lock_confirmed, preview};
use crate::db::change_sets::{self, Kind};
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

    /// The change as a change set's summary: "Raised 40 products' prices by 10%".
    fn summary(self, products: usize) -> String {
        let percent = self.percent();
        let verb = if percent < 0.0 { "Lowered" } else { "Raised" };
        let what = match self {
            BulkChange::Price(_) => "price",
            BulkChange::Stock(_) => "stock",
        };
        let whose = if products == 1 { "1 product's".to_string() } else { format!("{products} products'") };
        let plural = if matches!(self, BulkChange::Price(_)) && products != 1 { "s" } else { "" };
        format!("{verb} {whose} {what}{plural} by {}%", percent.abs())
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
/// Filed as a 'bulk' change set ("Raised 40 products' prices by 10%").
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
    change_sets::open(&mut tx, Kind::Bulk, &change.summary(ids.len()), None).await?;
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

#[cfg(test)]
mod tests {
    use super::BulkChange;

    #[test]
    fn a_change_reads_as_a_sentence() {
        assert_eq!(BulkChange::Price(10.0).summary(40), "Raised 40 products' prices by 10%");
        assert_eq!(BulkChange::Price(-12.5).summary(1), "Lowered 1 product's price by 12.5%");
        assert_eq!(BulkChange::Stock(5.0).summary(3), "Raised 3 products' stock by 5%");
    }
}
