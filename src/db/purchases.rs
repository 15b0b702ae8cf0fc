//! Who bought what: each customer's purchases of each product (units, spend,
//! orders and the last purchase over orders that are not cancelled), read
//! from the figures the database keeps in `customer_products`, seen from the
//! product's side (its buyers) and from the customer's (their products).

use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};

use super::listing::{keyed, Dir, Listing, SortColumn};
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

keyed!(Buyer, user_id);

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

keyed!(Bought, product_id);

/// The customers who bought one product (the filter is the product's id).
/// Each sort is served by an index on `(product_id, column, user_id)`.
pub struct BuyersOf;

impl Listing for BuyersOf {
    type Row = Buyer;
    type Filter = i64;
    const COLUMNS: &'static str = "c.user_id, u.name, u.email, c.units, c.spend_cents, c.order_count, c.last_bought_at";
    const FROM: &'static str = "customer_products c JOIN users u ON u.id = c.user_id";
    const COUNTED: (&'static str, &'static str) = ("customer_products", "c");
    const SORTS: &'static [SortColumn] = &sorts("c.user_id");
    const REPLAN: bool = false;

    fn keeps_all(_: &i64) -> bool {
        false
    }

    fn push_filter(query: &mut QueryBuilder<Postgres>, product_id: &i64) {
        query.push(" WHERE c.product_id = ").push_bind(*product_id);
    }
}

/// The products one customer bought (the filter is the customer's id).
/// Each sort is served by an index on `(user_id, column, product_id)`.
pub struct BoughtBy;

impl Listing for BoughtBy {
    type Row = Bought;
    type Filter = i64;
    const COLUMNS: &'static str =
        "c.product_id, p.name, p.sku, c.units, c.spend_cents, c.order_count, c.last_bought_at";
    const FROM: &'static str = "customer_products c JOIN products p ON p.id = c.product_id";
    const COUNTED: (&'static str, &'static str) = ("customer_products", "c");
    const SORTS: &'static [SortColumn] = &sorts("c.product_id");
    const REPLAN: bool = false;

    fn keeps_all(_: &i64) -> bool {
        false
    }

    fn push_filter(query: &mut QueryBuilder<Postgres>, user_id: &i64) {
        query.push(" WHERE c.user_id = ").push_bind(*user_id);
    }
}

/// The sorts of both sides, with `id` breaking ties; the first is the default.
const fn sorts(id: &'static str) -> [SortColumn; 3] {
    [
        SortColumn { key: "spend", expr: "c.spend_cents", sql_type: "BIGINT", id, default_dir: Dir::Desc },
        SortColumn { key: "units", expr: "c.units", sql_type: "BIGINT", id, default_dir: Dir::Desc },
        SortColumn { key: "last", expr: "c.last_bought_at", sql_type: "TIMESTAMPTZ", id, default_dir: Dir::Desc },
    ]
}
