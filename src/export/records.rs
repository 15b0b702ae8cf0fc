//! The lists an export job can write, each with the record its rows become
//! (the same record its direct download writes).

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Cell, Column, Record};
use crate::db::listing::Listing;
use crate::db::orders::{self, OrderRow};

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
