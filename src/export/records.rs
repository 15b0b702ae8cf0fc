//! The lists an export job can write, each with the record its rows become
//! (the same record its direct download writes).

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Cell, Column, Record};
use crate::db::listing::Listing;
use crate::db::orders::{self, OrderRow};
use crate::db::products::{self, ProductRow};
use crate::db::users::{self, UserRow};

/// A list whose exports can run as jobs: its filter is stored with the job,
/// and each row becomes one record.
pub trait ExportList: Listing<Filter: Serialize + DeserializeOwned> + Send + 'static {
    /// The list's name in a job's parameters, and the file's name.
    const NAME: &'static str;
    type Record: Record;
    fn record(row: Self::Row) -> Self::Record;
}

/// One order in the exports.
pub struct OrderRecord(pub OrderRow);

impl Record for OrderRecord {
    const COLUMNS: &'static [Column] = &[
        Column::new("id", 10.0),
        Column::new("customer_id", 12.0),
        Column::new("customer", 28.0),
        Column::new("placed_at", 20.0),
        Column::new("status", 12.0),
        Column::new("items", 8.0),
        Column::new("total", 14.0),
    ];

    fn cells(self) -> Vec<Cell> {
        let o = self.0;
        vec![
            o.id.into(),
            o.user_id.into(),
            o.user_name.into(),
            o.placed_at.into(),
            o.status.as_str().to_string().into(),
            o.item_count.into(),
            o.total_cents.into(),
        ]
    }
}

impl ExportList for orders::List {
    const NAME: &'static str = "orders";
    type Record = OrderRecord;
    fn record(row: OrderRow) -> OrderRecord {
        OrderRecord(row)
    }
}

/// One product in the exports.
pub struct ProductRecord(pub ProductRow);

impl Record for ProductRecord {
    const COLUMNS: &'static [Column] = &[
        Column::new("id", 10.0),
        Column::new("name", 28.0),
        Column::new("sku", 16.0),
        Column::new("price", 14.0),
        Column::new("stock", 10.0),
        Column::new("units_sold", 12.0),
    ];

    fn cells(self) -> Vec<Cell> {
        let p = self.0;
        vec![
            p.id.into(),
            p.name.into(),
            p.sku.to_string().into(),
            p.price_cents.into(),
            p.stock.into(),
            p.units_sold.into(),
        ]
    }
}

impl ExportList for products::List {
    const NAME: &'static str = "products";
    type Record = ProductRecord;
    fn record(row: ProductRow) -> ProductRecord {
        ProductRecord(row)
    }
}

/// One customer in the exports.
pub struct UserRecord(pub UserRow);

impl Record for UserRecord {
    const COLUMNS: &'static [Column] = &[
        Column::new("id", 10.0),
        Column::new("name", 28.0),
        Column::new("email", 32.0),
        Column::new("customer_since", 20.0),
        Column::new("orders", 10.0),
        Column::new("revenue", 14.0),
    ];

    fn cells(self) -> Vec<Cell> {
        let u = self.0;
        vec![
            u.id.into(),
            u.name.into(),
            u.email.to_string().into(),
            u.created_at.into(),
            u.order_count.into(),
            u.revenue_cents.into(),
        ]
    }
}

impl ExportList for users::List {
    const NAME: &'static str = "customers";
    type Record = UserRecord;
    fn record(row: UserRow) -> UserRecord {
        UserRecord(row)
    }
}
