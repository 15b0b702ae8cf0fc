//! Bulk actions on the orders list: mark the ticked orders, or all that
//! match the list's filters, paid, shipped or pending, cancel or delete
//! them, after a review page that shows exactly what changes.

use askama::Template;
use askama_web::WebTemplate;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, uri, FromForm, UriDisplayQuery};
use rocket_db_pools::Connection;

use super::list::OrdersQuery;
use crate::db::orders::{self, BulkAction, Filter, OrderRow};
use crate::db::staff::Staff;
use crate::db::{BulkError, BulkPreview, Db};
use crate::domain::Status;
use crate::web::filters::{self, counted};
use crate::web::{changed_since_review, done, query_id, refused, AdminForm, AppError, Chrome};

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
            other => Status::parse(other).map(BulkAction::SetStatus),
        }
    }

    /// The explicitly ticked orders, or `None` for "all matching".
    fn ids(&self) -> Option<Vec<i64>> {
        (self.scope != "all").then(|| self.ids.iter().filter_map(|id| query_id(Some(id))).collect())
    }

    fn describe(&self) -> &'static str {
        BULK_ACTIONS
            .iter()
            .find(|(value, _)| *value == self.action && self.action().is_some())
            .map_or("Change orders", |(_, label)| label)
    }

    /// The confirmation page for this same action and selection.
    fn review_url(&self, filter: &Filter) -> String {
        let review = BulkForm {
            ids: self.ids().unwrap_or_default().iter().map(i64::to_string).collect(),
            confirmed: None,
            token: None,
            filters: OrdersQuery::of(filter),
            ..self.clone()
        };
        uri!(bulk_confirm(review)).to_string()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "orders/bulk.html")]
pub(super) struct BulkPage {
    chrome: Chrome,
    form: BulkForm,
    /// Why the action can't be reviewed yet, shown next to the action choice.
    error: Option<&'static str>,
    preview: BulkPreview<OrderRow>,
    ids: Vec<i64>,
    back: String,
    actions: &'static [(&'static str, &'static str)],
}

#[get("/orders/bulk?<form..>")]
pub(super) async fn bulk_confirm(chrome: Chrome, mut db: Connection<Db>, form: BulkForm) -> Result<BulkPage, AppError> {
    let (filter, bad_filter) = form.filters.filter();
    let ids = form.ids();
    let error = if bad_filter {
        Some("A date or amount in the orders list filters could not be read. Go back and correct it first.")
    } else if form.action().is_none() {
        Some("Choose what to do with the orders.")
    } else {
        None
    };
    let preview = match error {
        None => orders::bulk_preview(&mut db, &filter, ids.as_deref()).await?,
        Some(_) => BulkPreview::default(),
    };
    let back = OrdersQuery::list_uri(&filter);
    Ok(BulkPage {
        chrome: chrome.on("orders"),
        ids: ids.unwrap_or_default(),
        form,
        error,
        preview,
        back,
        actions: &BULK_ACTIONS,
    })
}

impl BulkPage {
    /// "1 order", "1,204 orders": what the action changes.
    fn targets(&self) -> String {
        counted(self.preview.count, "order", "orders")
    }
}

#[post("/orders/bulk", data = "<form>")]
pub(super) async fn bulk_apply(
    _signed_in: Staff,
    db: &Db,
    form: AdminForm<BulkForm>,
) -> Result<Flash<Redirect>, AppError> {
    let mut db = db.conn().await?;
    let actor = form.actor();
    let form = form.form;
    let (filter, bad_filter) = form.filters.filter();
    let back = OrdersQuery::list_uri(&filter);
    let confirmed = form.confirmed.as_deref().and_then(|c| c.trim().parse::<i64>().ok());
    let (Some(action), Some(confirmed), false) = (form.action(), confirmed, bad_filter) else {
        return Ok(refused(form.review_url(&filter), "Nothing was changed: review the action and confirm it here."));
    };
    let ids = form.ids();
    match orders::bulk_apply(
        &mut db,
        actor,
        &filter,
        ids.as_deref(),
        (confirmed, form.token.as_deref().unwrap_or("")),
        action,
    )
    .await
    {
        Ok(changed) => Ok(done(
            back,
            match action {
                BulkAction::Delete => {
                    format!("Deleted {} and their lines.", counted(changed as i64, "order", "orders"))
                }
                BulkAction::SetStatus(status) => {
                    let unchanged = confirmed - changed as i64;
                    format!(
                        "{} {} now {}.{}",
                        counted(changed as i64, "order", "orders"),
                        if changed == 1 { "is" } else { "are" },
                        status.label().to_lowercase(),
                        if unchanged > 0 {
                            format!(" {} already {}.", counted(unchanged, "was", "were"), status.label().to_lowercase())
                        } else {
                            String::new()
                        }
                    )
                }
            },
        )),
        Err(BulkError::Changed { now, confirmed }) => {
            Ok(refused(form.review_url(&filter), changed_since_review("orders", now, confirmed)))
        }
        Err(BulkError::OutOfStock(short)) => Ok(refused(
            form.review_url(&filter),
            format!(
                "Nothing was changed: not enough stock to revive the cancelled orders ({}).",
                short
                    .iter()
                    .map(|(name, available, needed)| format!("{name}: {available} available, {needed} needed"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        )),
        Err(BulkError::Db(e)) => Err(e.into()),
    }
}
