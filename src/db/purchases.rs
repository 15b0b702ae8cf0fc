//! Who bought what: each customer's purchases of each product (units, spend,
//! orders and the last purchase over orders that are not cancelled), read
//! from the figures the database keeps in `customer_products`, seen from the
//! product's side (its buyers) and from the customer's (their products).

use chrono::{DateTime, Utc};
use futures::{Stream, TryStreamExt};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::listing::{Cursor, Dir, Keyed, Page, Seek, SortColumn};
use super::DbError;
use crate::domain::{Email, Money, Sku};

/// One customer who bought a product.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Buyer {
    pub user_id: i64,
    pub name: String,
    pub email: Email,
    pub units: i64,
    pub spend_cents: Money,
    pub order_count: i64,
    pub last_bought_at: DateTime<Utc>,
    pub sort_key: String,
}

impl Keyed for Buyer {
    fn cursor(&self) -> Cursor {
        Cursor { value: self.sort_key.clone(), id: self.user_id }
    }
}

/// One product a customer bought.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Bought {
    pub product_id: i64,
    pub name: String,
    pub sku: Sku,
    pub units: i64,
    pub spend_cents: Money,
    pub order_count: i64,
    pub last_bought_at: DateTime<Utc>,
    pub sort_key: String,
}

impl Keyed for Bought {
    fn cursor(&self) -> Cursor {
        Cursor { value: self.sort_key.clone(), id: self.product_id }
    }
}

/// How a product's buyers sort; the first is the default. Each is served by
/// an index on `(product_id, column, user_id)`.
pub const BUYER_SORTS: [SortColumn; 3] = [
    SortColumn { key: "spend", expr: "c.spend_cents", sql_type: "BIGINT", id: "c.user_id", default_dir: Dir::Desc },
    SortColumn { key: "units", expr: "c.units", sql_type: "BIGINT", id: "c.user_id", default_dir: Dir::Desc },
    SortColumn {
        key: "last",
        expr: "c.last_bought_at",
        sql_type: "TIMESTAMPTZ",
        id: "c.user_id",
        default_dir: Dir::Desc,
    },
];

/// How a customer's products sort; the first is the default. Each is served
/// by an index on `(user_id, column, product_id)`.
pub const BOUGHT_SORTS: [SortColumn; 3] = [
    SortColumn { key: "spend", expr: "c.spend_cents", sql_type: "BIGINT", id: "c.product_id", default_dir: Dir::Desc },
    SortColumn { key: "units", expr: "c.units", sql_type: "BIGINT", id: "c.product_id", default_dir: Dir::Desc },
    SortColumn {
        key: "last",
        expr: "c.last_bought_at",
        sql_type: "TIMESTAMPTZ",
        id: "c.product_id",
        default_dir: Dir::Desc,
    },
];

fn buyers_query(product_id: i64, seek: &Seek) -> QueryBuilder<Postgres> {
    let mut query = QueryBuilder::new(format!(
        "SELECT c.user_id, u.name, u.email, c.units, c.spend_cents, c.order_count, c.last_bought_at, {}
           FROM customer_products c JOIN users u ON u.id = c.user_id
          WHERE c.product_id = ",
        seek.sort_key()
    ));
    query.push_bind(product_id);
    query
}

fn bought_query(user_id: i64, seek: &Seek) -> QueryBuilder<Postgres> {
    let mut query = QueryBuilder::new(format!(
        "SELECT c.product_id, p.name, p.sku, c.units, c.spend_cents, c.order_count, c.last_bought_at, {}
           FROM customer_products c JOIN products p ON p.id = c.product_id
          WHERE c.user_id = ",
        seek.sort_key()
    ));
    query.push_bind(user_id);
    query
}

/// One page of the customers who bought `product_id`, sorted and positioned by `seek`.
pub async fn buyers(conn: &mut PgConnection, product_id: i64, seek: &Seek) -> Result<Page<Buyer>, DbError> {
    let mut query = buyers_query(product_id, seek);
    seek.finish(&mut query);
    let rows = query.build_query_as::<Buyer>().fetch_all(conn).await?;
    Ok(Page::from_rows(seek, rows))
}

/// Every buyer of `product_id` in `seek`'s order, streamed.
pub fn export_buyers(
    mut conn: PoolConnection<Postgres>,
    product_id: i64,
    seek: Seek,
) -> impl Stream<Item = Result<Buyer, sqlx::Error>> + Send + 'static {
    async_stream::try_stream! {
        let mut query = buyers_query(product_id, &seek);
        seek.finish_unlimited(&mut query);
        let mut rows = query.build_query_as::<Buyer>().fetch(&mut *conn);
        while let Some(row) = rows.try_next().await? {
            yield row;
        }
    }
}

/// One page of the products `user_id` bought, sorted and positioned by `seek`.
pub async fn bought(conn: &mut PgConnection, user_id: i64, seek: &Seek) -> Result<Page<Bought>, DbError> {
    let mut query = bought_query(user_id, seek);
    seek.finish(&mut query);
    let rows = query.build_query_as::<Bought>().fetch_all(conn).await?;
    Ok(Page::from_rows(seek, rows))
}

/// Every product `user_id` bought in `seek`'s order, streamed.
pub fn export_bought(
    mut conn: PoolConnection<Postgres>,
    user_id: i64,
    seek: Seek,
) -> impl Stream<Item = Result<Bought, sqlx::Error>> + Send + 'static {
    async_stream::try_stream! {
        let mut query = bought_query(user_id, &seek);
        seek.finish_unlimited(&mut query);
        let mut rows = query.build_query_as::<Bought>().fetch(&mut *conn);
        while let Some(row) = rows.try_next().await? {
            yield row;
        }
    }
}
