//! Products: reading, searching and writing the `products` table.

mod bulk;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, QueryBuilder};

pub use self::bulk::{bulk_apply, bulk_preview, BulkChange, BulkRow};
use super::listing::{self, keyed, Dir, Listing, SortColumn};
use super::{Actor, DbError, Versioned};
use crate::domain::{Money, Sku};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Product {
    pub id: i64,
    pub name: String,
    pub sku: Sku,
    pub price_cents: Money,
    pub stock: i32,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// At or below this stock it is running low.
    pub reorder_point: i32,
}

/// A row of the products list, with what has been sold of it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProductRow {
    pub id: i64,
    pub name: String,
    pub sku: Sku,
    pub price_cents: Money,
    pub stock: i32,
    pub units_sold: i64,
    pub sort_key: String,
}

keyed!(ProductRow, id);

/// A row of the products list page: the row with its reorder point and its
/// pace of sale, as the dashboard's low-stock list shows them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PacedRow {
    #[sqlx(flatten)]
    pub product: ProductRow,
    /// At or below this stock it is running low.
    pub reorder_point: i32,
    /// Units on orders placed in the last 30 days that are not cancelled,
    /// net of refunds.
    pub sold_30_days: i64,
}

impl PacedRow {
    /// Whether the product is at or below its reorder point.
    pub fn at_reorder_point(&self) -> bool {
        self.product.stock <= self.reorder_point
    }

    /// Whole days of stock left at the last 30 days' pace; `None` when
    /// nothing sold.
    pub fn days_left(&self) -> Option<i64> {
        days_of_stock_left(self.product.stock, self.sold_30_days)
    }
}

impl listing::Keyed for PacedRow {
    fn cursor(&self) -> listing::Cursor {
        self.product.cursor()
    }
}

/// Whole days `stock` lasts at the pace of `sold_30_days` units a month;
/// `None` when nothing sold.
pub fn days_of_stock_left(stock: i32, sold_30_days: i64) -> Option<i64> {
    (sold_30_days > 0).then(|| i64::from(stock) * 30 / sold_30_days)
}

/// The products list's columns, shared by the list (and its exports) and
/// its page with the pace.
macro_rules! row_columns {
    () => {
        "p.id, p.name, p.sku, p.price_cents, p.stock, s.units_sold"
    };
}

/// Filters of the products list. Stored with an export job, which applies
/// them when it runs.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Filter {
    /// Part of the name or SKU, in any letter case.
    pub q: String,
    pub stock: Option<StockLevel>,
}

/// The products list's stock filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StockLevel {
    /// At least one in stock.
    InStock,
    /// In stock, but at or below this many.
    Low(i32),
    Out,
    /// At or below the product's own reorder point.
    AtReorderPoint,
}

/// The products list.
pub struct List;

impl Listing for List {
    type Row = ProductRow;
    type Filter = Filter;
    const COLUMNS: &'static str = row_columns!();
    const FROM: &'static str = "products p JOIN product_stats s ON s.product_id = p.id";
    const COUNTED: (&'static str, &'static str) = ("products", "p");
    const SORTS: &'static [SortColumn] = &[
        SortColumn { key: "name", expr: "lower(p.name)", sql_type: "TEXT", id: "p.id", default_dir: Dir::Asc },
        SortColumn { key: "sku", expr: "lower(p.sku)", sql_type: "TEXT", id: "p.id", default_dir: Dir::Asc },
        SortColumn { key: "price", expr: "p.price_cents", sql_type: "BIGINT", id: "p.id", default_dir: Dir::Desc },
        SortColumn { key: "stock", expr: "p.stock", sql_type: "INTEGER", id: "p.id", default_dir: Dir::Asc },
        SortColumn {
            key: "sold",
            expr: "s.units_sold",
            sql_type: "BIGINT",
            id: "s.product_id",
            default_dir: Dir::Desc,
        },
    ];
    const REPLAN: bool = true;

    fn keeps_all(filter: &Filter) -> bool {
        filter.q.is_empty() && filter.stock.is_none()
    }

    fn push_filter(query: &mut QueryBuilder<Postgres>, filter: &Filter) {
        query.push(" WHERE true");
        if !filter.q.is_empty() {
            query.push(" AND ");
            listing::push_contains(query, &["p.name", "p.sku"], &filter.q);
        }
        match filter.stock {
            Some(StockLevel::InStock) => {
                query.push(" AND p.stock > 0");
            }
            Some(StockLevel::Low(threshold)) => {
                query.push(" AND p.stock > 0 AND p.stock <= ").push_bind(threshold);
            }
            Some(StockLevel::Out) => {
                query.push(" AND p.stock = 0");
            }
            Some(StockLevel::AtReorderPoint) => {
                query.push(" AND p.stock <= p.reorder_point");
            }
            None => {}
        }
    }
}

/// The products list as its page shows it: each row with its reorder point
/// and units sold in the last 30 days. The pace is read as the dashboard
/// reads it: kept by the background refresher (see
/// `calendar::keep_every_pace`), so the page stays flat at any size; summed
/// on the spot only when it is older than ten minutes, which happens only
/// when no refresher runs (`refresh_seconds = 0`). It is read in the page's
/// one query, for the page's rows only: the column is evaluated after the
/// page's `LIMIT`.
/// Exports keep the plain [`List`], so they never sum a million products' sales.
pub struct PacedList;

impl Listing for PacedList {
    type Row = PacedRow;
    type Filter = Filter;
    const COLUMNS: &'static str = concat!(
        row_columns!(),
        ", p.reorder_point, coalesce((SELECT c.sold_30_days FROM product_pace c
                                       WHERE c.product_id = p.id AND c.computed_at > now() - INTERVAL '10 minutes'),
                                      units_sold_30_days(p.id)) AS sold_30_days"
    );
    const FROM: &'static str = List::FROM;
    const COUNTED: (&'static str, &'static str) = List::COUNTED;
    const SORTS: &'static [SortColumn] = List::SORTS;
    const REPLAN: bool = List::REPLAN;

    fn keeps_all(filter: &Filter) -> bool {
        List::keeps_all(filter)
    }

    fn push_filter(query: &mut QueryBuilder<Postgres>, filter: &Filter) {
        List::push_filter(query, filter)
    }
}

/// A product's kept figures (see `product_stats`), over orders that are not cancelled.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct Figures {
    pub units_sold: i64,
    pub revenue_cents: Money,
    /// Orders that are not cancelled with this product on them.
    pub order_count: i64,
    /// Distinct customers who bought it on those orders.
    pub customer_count: i64,
}

#[derive(Debug, Clone)]
pub struct NewProduct {
    pub name: String,
    pub sku: Sku,
    pub price_cents: Money,
    pub stock: i32,
    /// At or below this stock it is running low; `None` for the shop's default.
    pub reorder_point: Option<i32>,
}

/// A short option for the order form's product choice.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProductChoice {
    pub id: i64,
    pub name: String,
    pub sku: Sku,
    pub price_cents: Money,
    pub stock: i32,
}

pub async fn find(conn: &mut PgConnection, id: i64) -> Result<Option<Product>, DbError> {
    Ok(sqlx::query_as!(
        Product,
        r#"SELECT id, name, sku AS "sku: Sku", price_cents AS "price_cents: Money", stock, version,
                  created_at, updated_at, reorder_point
             FROM products WHERE id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?)
}

/// The product's figures, kept up to date by the database: one row, however many orders.
pub async fn figures(conn: &mut PgConnection, id: i64) -> Result<Figures, DbError> {
    Ok(sqlx::query_as!(
        Figures,
        r#"SELECT units_sold, revenue_cents AS "revenue_cents: Money", order_count, customer_count
             FROM product_stats WHERE product_id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?
    .unwrap_or_default())
}

/// Orders of any status, cancelled ones included, that have this product on
/// a line: what keeps it from being deleted.
pub async fn on_orders(conn: &mut PgConnection, id: i64) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM order_items WHERE product_id = $1"#, id)
        .fetch_one(conn)
        .await?)
}

/// Products whose name or SKU contains `q`, by name: for pickers.
pub async fn pick(conn: &mut PgConnection, q: &str) -> Result<Vec<ProductChoice>, DbError> {
    super::pick_matching(conn, q, |pattern| {
        sqlx::query_as!(
            ProductChoice,
            r#"SELECT id, name, sku AS "sku: Sku", price_cents AS "price_cents: Money", stock
                 FROM products WHERE name ILIKE $1 OR sku ILIKE $1
                ORDER BY lower(name), id LIMIT $2"#,
            pattern,
            super::users::PICK_LIMIT
        )
    })
    .await
}

/// [`pick`] for several searches at once (the order form's lines), in one
/// query whatever their number: the matches for each search, in order.
pub async fn pick_each(conn: &mut PgConnection, searches: &[&str]) -> Result<Vec<Vec<ProductChoice>>, DbError> {
    let mut found: Vec<Vec<ProductChoice>> = vec![Vec::new(); searches.len()];
    // An empty pattern searches nothing.
    let patterns: Vec<String> = searches.iter().map(|q| super::contains_pattern(q).unwrap_or_default()).collect();
    if patterns.iter().all(String::is_empty) {
        return Ok(found);
    }
    let rows = sqlx::query!(
        r#"SELECT t.n AS "n!", p.id AS "id!", p.name AS "name!", p.sku AS "sku!: Sku",
                  p.price_cents AS "price_cents!: Money", p.stock AS "stock!"
             FROM unnest($1::TEXT[]) WITH ORDINALITY AS t(pattern, n)
             CROSS JOIN LATERAL (SELECT id, name, sku, price_cents, stock FROM products
                                  WHERE t.pattern <> '' AND (name ILIKE t.pattern OR sku ILIKE t.pattern)
                                  ORDER BY lower(name), id LIMIT $2) p
            ORDER BY t.n, lower(p.name), p.id"#,
        &patterns,
        super::users::PICK_LIMIT
    )
    .fetch_all(conn)
    .await?;
    for row in rows {
        if let Some(matches) = usize::try_from(row.n - 1).ok().and_then(|i| found.get_mut(i)) {
            matches.push(ProductChoice {
                id: row.id,
                name: row.name,
                sku: row.sku,
                price_cents: row.price_cents,
                stock: row.stock,
            });
        }
    }
    Ok(found)
}

/// These products as choices, in one query whatever their number.
pub async fn choices(conn: &mut PgConnection, ids: &[i64]) -> Result<Vec<ProductChoice>, DbError> {
    Ok(sqlx::query_as!(
        ProductChoice,
        r#"SELECT id, name, sku AS "sku: Sku", price_cents AS "price_cents: Money", stock
             FROM products WHERE id = ANY($1) ORDER BY lower(name), id"#,
        ids
    )
    .fetch_all(conn)
    .await?)
}

pub async fn create(conn: &mut PgConnection, actor: Actor, p: &NewProduct) -> Result<i64, DbError> {
    let mut tx = super::begin_as(conn, actor).await?;
    let id = sqlx::query_scalar!(
        "INSERT INTO products (name, sku, price_cents, stock, reorder_point)
         VALUES ($1, $2, $3, $4, coalesce($5, reorder_point_default())) RETURNING id",
        p.name,
        p.sku.as_str(),
        p.price_cents.cents(),
        p.stock,
        p.reorder_point
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Saves the edit only if nobody changed the product since `version` was read.
pub async fn update(
    conn: &mut PgConnection,
    actor: Actor,
    id: i64,
    version: i32,
    p: &NewProduct,
) -> Result<(), DbError> {
    let mut tx = super::begin_as(conn, actor).await?;
    let updated = sqlx::query!(
        "UPDATE products SET name = $3, sku = $4, price_cents = $5, stock = $6,
                reorder_point = coalesce($7, reorder_point), version = version + 1, updated_at = now()
          WHERE id = $1 AND version = $2",
        id,
        version,
        p.name,
        p.sku.as_str(),
        p.price_cents.cents(),
        p.stock,
        p.reorder_point
    )
    .execute(&mut *tx)
    .await?;
    super::commit_versioned(tx, updated, Versioned::Products, id).await
}

/// Deletes a product that is on no order. `Ok(Err(n))` says it is on `n` orders.
pub async fn delete(conn: &mut PgConnection, actor: Actor, id: i64, version: i32) -> Result<Result<(), i64>, DbError> {
    let mut tx = super::begin_as(conn, actor).await?;
    let on_orders = on_orders(&mut tx, id).await?;
    if on_orders > 0 {
        return Ok(Err(on_orders));
    }
    let deleted =
        sqlx::query!("DELETE FROM products WHERE id = $1 AND version = $2", id, version).execute(&mut *tx).await;
    super::commit_versioned_delete(tx, deleted, Versioned::Products, id).await
}

pub async fn count(conn: &mut PgConnection) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM products"#).fetch_one(conn).await?)
}
