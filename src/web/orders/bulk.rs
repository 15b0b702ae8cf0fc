//! Bulk actions on the orders list: mark the ticked orders, or all that
//! match the list's filters, paid, shipped or pending, cancel or delete
//! them, after a review page that shows exactly what changes.

use crate::web::read::PageConn;
use askama::Template;
use askama_web::WebTemplate;
use rocket::http::uri::Origin;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, uri, FromForm, State, UriDisplayQuery};
use sqlx::PgConnection;

use super::list::OrdersQuery;
use crate::db::jobs;
use crate::db::orders::{self, BulkAction, Filter, OrderRow};
use crate::db::staff::Staff;
use crate::db::{Actor, Applied, BulkError, BulkPreview, Db, DbError};
use crate::domain::Status;
use crate::jobs::JobsConfig;
use crate::web::bulk::{self, Bulk, Review, Selection, Targets};
use crate::web::filters::{self, counted};
use crate::web::links::Href;
use crate::web::{refused, AdminForm, AppError, Chrome};

/// A bulk action on the orders list: which action, on which orders (the
/// ticked ones or all matching the list's filters), with those filters.
#[derive(Debug, Default, Clone, FromForm, UriDisplayQuery)]
pub struct BulkForm {
    #[field(default = String::new())]
    action: String,
    /// `selected` (the ticked `ids`) or `all` (everything the filters match).
    #[field(default = String::from("selected"))]
    scope: String,
    ids: Vec<String>,
    /// How many orders the confirmation page promised to change.
    confirmed: Option<String>,
    /// The fingerprint of the orders the confirmation page showed.
    token: Option<String>,
    filters: OrdersQuery,
}

/// The actions offered, as form value and label.
const BULK_ACTIONS: [(&str, &str); 5] = [
    ("paid", "Mark as paid"),
    ("shipped", "Mark as shipped"),
    ("pending", "Mark as pending"),
    ("cancelled", "Cancel"),
    ("delete", "Delete"),
];

impl BulkForm {
    fn action(&self) -> Option<BulkAction> {
        match self.action.as_str() {
            "delete" => Some(BulkAction::Delete),
            // Only the statuses staff choose: the refunded ones follow refunds.
            other => Status::parse(other).filter(|s| Status::SETTABLE.contains(s)).map(BulkAction::SetStatus),
        }
    }

    fn describe(&self) -> &'static str {
        BULK_ACTIONS
            .iter()
            .find(|(value, _)| *value == self.action && self.action().is_some())
            .map_or("Change orders", |(_, label)| label)
    }
}

impl Bulk for BulkForm {
    type Filter = Filter;
    type Change = BulkAction;
    type Row = OrderRow;

    const NOUNS: (&'static str, &'static str) = ("order", "orders");
    const WHAT: &'static str = "action";
    const BAD_FILTER: &'static str =
        "A date or amount in the orders list filters could not be read. Go back and correct it first.";

    fn selection(&self) -> Selection<'_> {
        Selection {
            scope: &self.scope,
            ids: &self.ids,
            confirmed: self.confirmed.as_deref(),
            token: self.token.as_deref(),
        }
    }

    fn filter(&self) -> (Filter, bool) {
        self.filters.filter()
    }

    fn change(&self) -> Result<BulkAction, &'static str> {
        self.action().ok_or("Choose what to do with the orders.")
    }

    fn back(&self, filter: &Filter) -> String {
        OrdersQuery::list_uri(filter)
    }

    fn review_uri(&self, filter: &Filter) -> Origin<'static> {
        let review = BulkForm {
            ids: self.selection().ids_typed(),
            confirmed: None,
            token: None,
            filters: OrdersQuery::of(filter),
            ..self.clone()
        };
        uri!(bulk_confirm(review))
    }

    fn applied(&self, action: BulkAction, applied: &Applied, confirmed: i64) -> String {
        let changed = applied.changed as i64;
        match action {
            BulkAction::Delete => format!("Deleted {} and their lines.", counted(changed, "order", "orders")),
            BulkAction::SetStatus(status) => {
                let skipped = applied.skipped_count();
                let unchanged = confirmed - changed - skipped;
                let mut said = match changed {
                    0 => "No order was changed.".to_string(),
                    _ => format!(
                        "{} {} now {}.",
                        counted(changed, "order", "orders"),
                        if changed == 1 { "is" } else { "are" },
                        status.label().to_lowercase(),
                    ),
                };
                if unchanged > 0 {
                    said +=
                        &format!(" {} already {}.", counted(unchanged, "was", "were"), status.label().to_lowercase());
                }
                if skipped > 0 {
                    let reasons: Vec<String> = match applied.skipped.as_slice() {
                        [only] => vec![only.reason.clone()],
                        many => {
                            many.iter().map(|s| format!("{} ({})", s.reason, filters::format_count(s.count))).collect()
                        }
                    };
                    said += &format!(" Skipped {}: {}", counted(skipped, "order", "orders"), reasons.join(" "));
                }
                said
            }
        }
    }

    fn out_of_stock(&self, filter: &Filter, short: &[(String, i64, i64)]) -> Flash<Redirect> {
        refused(
            self.review_uri(filter).to_string(),
            format!(
                "Nothing was changed: not enough stock to revive the cancelled orders ({}).",
                short
                    .iter()
                    .map(|(name, available, needed)| format!("{name}: {available} available, {needed} needed"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        )
    }

    async fn preview(
        db: &mut PgConnection,
        on: Targets<'_, Filter>,
        _: BulkAction,
    ) -> Result<BulkPreview<OrderRow>, DbError> {
        orders::bulk_preview(db, on.filter, on.ids).await
    }

    async fn apply(
        db: &mut PgConnection,
        actor: Actor,
        on: Targets<'_, Filter>,
        confirmed: (i64, &str),
        action: BulkAction,
    ) -> Result<Applied, BulkError> {
        orders::bulk_apply(db, actor, on.filter, on.ids, confirmed, action).await
    }

    fn job_summary(&self, _: BulkAction, count: i64) -> String {
        format!("{}: {}", self.describe(), counted(count, "order", "orders"))
    }

    async fn enqueue(
        db: &mut PgConnection,
        actor: Actor,
        on: Targets<'_, Filter>,
        confirmed: (i64, &str),
        action: BulkAction,
        summary: &str,
    ) -> Result<i64, BulkError> {
        jobs::enqueue_orders(db, actor, on.filter, on.ids, confirmed, action, summary).await
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "orders/bulk.html")]
pub(super) struct BulkPage {
    chrome: Chrome,
    review: Review<BulkForm>,
    /// Past this many rows the change runs as a job.
    job_threshold: i64,
    actions: &'static [(&'static str, &'static str)],
}

#[get("/orders/bulk?<form..>")]
pub(super) async fn bulk_confirm(
    mut db: PageConn,
    chrome: Chrome,
    jobs: &State<JobsConfig>,
    form: BulkForm,
) -> Result<BulkPage, AppError> {
    let review = bulk::review(&mut db, form).await?;
    Ok(BulkPage { chrome: chrome.on("orders"), review, actions: &BULK_ACTIONS, job_threshold: jobs.threshold_rows })
}

#[post("/orders/bulk", data = "<form>")]
pub(super) async fn bulk_apply(
    _signed_in: Staff,
    db: &Db,
    jobs: &State<JobsConfig>,
    form: AdminForm<BulkForm>,
) -> Result<Flash<Redirect>, AppError> {
    bulk::apply(db, jobs, form).await
}

/// Where the review page's forms go (to review again, or to apply).
pub fn bulk_href() -> Href {
    uri!(bulk_apply).into()
}
