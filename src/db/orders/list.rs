//! The orders list: its filters, its sort keys and its counts.

use chrono::NaiveDate;
use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::OrderRow;
use crate::db::listing::{self, Count, Dir, Listing, SortColumn};
use crate::db::DbError;
use crate::domain::{Money, Status};

/// The orders list's status filter: one status, or every order that is not
/// cancelled (the orders a product's or customer's figures count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StatusFilter {
    Only(Status),
    NotCancelled,
}

impl StatusFilter {
    /// The value in URLs: a status, or `active` for "not cancelled".
    pub fn as_str(self) -> &'static str {
        match self {
            StatusFilter::Only(status) => status.as_str(),
            StatusFilter::NotCancelled => "active",
        }
    }

    pub fn parse(s: &str) -> Option<StatusFilter> {
        match s {
            "active" => Some(StatusFilter::NotCancelled),
            other => Status::parse(other).map(StatusFilter::Only),
        }
    }
}

/// Filters of the orders list; all optional and combinable. Stored with an
/// export job, which applies them when it runs.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Filter {
    pub user_id: Option<i64>,
    /// Orders with this product on a line.
    pub product_id: Option<i64>,
    pub status: Option<StatusFilter>,
    /// Part of the customer's name or email.
    pub customer: String,
    /// Placed on or after this day (in the shop's time zone).
    pub from: Option<NaiveDate>,
    /// Placed on or before this day (in the shop's time zone).
    pub to: Option<NaiveDate>,
    /// Totals from this many cents.
    pub min_total: Option<Money>,
    /// Totals up to this many cents.
    pub max_total: Option<Money>,
}

impl Filter {
    /// Whether nothing but the customer, the product and the status is filtered on.
    fn only_who_and_what(&self) -> bool {
        self.customer.is_empty()
            && self.from.is_none()
            && self.to.is_none()
            && self.min_total.is_none()
            && self.max_total.is_none()
    }
}

/// The orders list. Sorting by customer groups each customer's orders
/// together (by customer number).
pub struct List;

impl Listing for List {
    type Row = OrderRow;
    type Filter = Filter;
    const COLUMNS: &'static str = ROW_COLUMNS;
    const FROM: &'static str = "orders o JOIN users u ON u.id = o.user_id";
    const COUNTED: (&'static str, &'static str) = ("orders", "o");
    const SORTS: &'static [SortColumn] = &[
        SortColumn { key: "number", expr: "o.id", sql_type: "BIGINT", id: "o.id", default_dir: Dir::Desc },
        SortColumn { key: "placed", expr: "o.placed_at", sql_type: "TIMESTAMPTZ", id: "o.id", default_dir: Dir::Desc },
        SortColumn { key: "customer", expr: "o.user_id", sql_type: "BIGINT", id: "o.id", default_dir: Dir::Asc },
        SortColumn { key: "status", expr: "o.status", sql_type: "TEXT", id: "o.id", default_dir: Dir::Asc },
        SortColumn { key: "items", expr: "o.item_count", sql_type: "INTEGER", id: "o.id", default_dir: Dir::Desc },
        SortColumn { key: "total", expr: "o.total_cents", sql_type: "BIGINT", id: "o.id", default_dir: Dir::Desc },
    ];
    const REPLAN: bool = true;

    fn keeps_all(filter: &Filter) -> bool {
        filter.only_who_and_what() && filter.user_id.is_none() && filter.product_id.is_none() && filter.status.is_none()
    }

    fn push_filter(query: &mut QueryBuilder<Postgres>, filter: &Filter) {
        query.push(" WHERE true");
        if let Some(user_id) = filter.user_id {
            query.push(" AND o.user_id = ").push_bind(user_id);
        }
        if let Some(product_id) = filter.product_id {
            query
                .push(" AND o.id IN (SELECT order_id FROM order_items WHERE product_id = ")
                .push_bind(product_id)
                .push(")");
        }
        match filter.status {
            Some(StatusFilter::Only(status)) => {
                query.push(" AND o.status = ").push_bind(status.as_str());
            }
            Some(StatusFilter::NotCancelled) => {
                query.push(" AND o.status <> 'cancelled'");
            }
            None => {}
        }
        listing::push_days(query, "o.placed_at", filter.from, filter.to);
        if let Some(min) = filter.min_total {
            query.push(" AND o.total_cents >= ").push_bind(min.cents());
        }
        if let Some(max) = filter.max_total {
            query.push(" AND o.total_cents <= ").push_bind(max.cents());
        }
        if !filter.customer.is_empty() {
            // Matching customers first (trigram indexes), then their orders.
            query.push(" AND o.user_id IN (SELECT id FROM users WHERE ");
            listing::push_contains(query, &["name", "email"], &filter.customer);
            query.push(")");
        }
    }
}

/// How many orders match: exact from the kept figures when only the
/// customer, the product and the status are filtered on and figures answer
/// that (all orders, one status, a customer's orders, the orders not
/// cancelled of a product or of a customer and a product); estimated by the
/// planner otherwise.
pub async fn count_matching(conn: &mut PgConnection, filter: &Filter) -> Result<Count, DbError> {
    use StatusFilter::{NotCancelled, Only};
    if filter.only_who_and_what() {
        let exact: Option<i64> = match (filter.user_id, filter.product_id, filter.status) {
            (None, None, status) => {
                let months = sqlx::query!(
                    r#"SELECT coalesce(sum(order_count), 0)::BIGINT AS "orders!",
                              coalesce(sum(pending), 0)::BIGINT AS "pending!",
                              coalesce(sum(paid), 0)::BIGINT AS "paid!",
                              coalesce(sum(shipped), 0)::BIGINT AS "shipped!",
                              coalesce(sum(cancelled), 0)::BIGINT AS "cancelled!"
                         FROM monthly_revenue"#
                )
                .fetch_one(&mut *conn)
                .await?;
                match status {
                    None => Some(months.orders),
                    Some(Only(Status::Pending)) => Some(months.pending),
                    Some(Only(Status::Paid)) => Some(months.paid),
                    Some(Only(Status::Shipped)) => Some(months.shipped),
                    Some(Only(Status::Cancelled)) => Some(months.cancelled),
                    // Not kept per month: counted like any other filter.
                    Some(Only(Status::PartiallyRefunded | Status::Refunded)) => None,
                    Some(NotCancelled) => Some(months.orders - months.cancelled),
                }
            }
            (Some(user_id), None, None | Some(NotCancelled)) => {
                let figures = sqlx::query!(
                    "SELECT order_count, active_order_count FROM customer_stats WHERE user_id = $1",
                    user_id
                )
                .fetch_optional(&mut *conn)
                .await?;
                let all = filter.status.is_none();
                Some(figures.map(|f| if all { f.order_count } else { f.active_order_count }).unwrap_or(0))
            }
            (None, Some(product_id), Some(NotCancelled)) => Some(
                sqlx::query_scalar!("SELECT order_count FROM product_stats WHERE product_id = $1", product_id)
                    .fetch_optional(&mut *conn)
                    .await?
                    .unwrap_or(0),
            ),
            (Some(user_id), Some(product_id), Some(NotCancelled)) => Some(
                sqlx::query_scalar!(
                    "SELECT order_count FROM customer_products WHERE user_id = $1 AND product_id = $2",
                    user_id,
                    product_id
                )
                .fetch_optional(&mut *conn)
                .await?
                .unwrap_or(0),
            ),
            _ => None,
        };
        if let Some(n) = exact {
            return Ok(Count::Exact(n));
        }
    }
    crate::db::listing::count_matching::<List>(conn, filter).await
}

/// The columns of an [`OrderRow`] (without its sort key), from `orders o JOIN users u`.
pub(super) const ROW_COLUMNS: &str =
    "o.id, o.user_id, u.name AS user_name, o.status, o.total_cents, o.item_count, o.placed_at";
