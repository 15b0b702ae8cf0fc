//! The web layer: one module per resource with its routes, forms and
//! templates, plus the pieces every page shares.

pub mod account;
pub mod audit;
pub mod auth;
pub mod bulk;
pub mod charts;
pub mod dashboard;
pub mod edit;
pub mod errors;
pub mod export;
pub mod filters;
pub mod forms;
pub mod history;
pub mod imports;
pub mod jobs;
pub mod links;
pub mod listing;
pub mod observe;
pub mod orders;
pub mod period;
pub mod pickers;
pub mod products;
pub mod read;
pub mod reports;
pub mod saved_views;
pub mod security;
pub mod staff;
pub mod undo;
pub mod users;

use rocket::response::{Flash, Redirect};

pub use auth::{AdminForm, Chrome};
pub use errors::AppError;

/// How many audit entries a record's History section shows.
pub const HISTORY_ROWS: i64 = 20;

/// How many rows a list page shows.
pub const PAGE_SIZE: i64 = 50;

/// How many rows a list inside a record's page shows at a time (a product's
/// buyers, a customer's products and latest orders).
pub const SECTION_ROWS: i64 = 20;

/// What a form submission answers: the page to go to next, or the form again
/// with what went wrong.
pub type Submitted<F> = Result<Result<Flash<Redirect>, F>, AppError>;

/// Redirects with a green confirmation banner on the next page.
pub fn done(to: String, message: impl Into<String>) -> Flash<Redirect> {
    Flash::success(Redirect::to(to), message.into())
}

/// Redirects with a red banner on the next page.
pub fn refused(to: String, message: impl Into<String>) -> Flash<Redirect> {
    Flash::error(Redirect::to(to), message.into())
}

/// Why a confirmed bulk action changed nothing because its rows changed since
/// the review page counted them (`noun` is plural: "orders").
pub fn changed_since_review(noun: &str, now: i64, confirmed: i64) -> String {
    format!(
        "Nothing was changed: the {noun} changed since you reviewed them ({} match now; you confirmed {}). Here they are as they are now; confirm again to go ahead.",
        filters::format_count(now),
        filters::format_count(confirmed)
    )
}

/// Parses an optional id from a query string; anything else means "not given".
pub fn query_id(raw: Option<&str>) -> Option<i64> {
    raw.and_then(|s| s.trim().parse::<i64>().ok()).filter(|id| *id > 0)
}

/// A stage that mounts `routes` at the root, named for the log.
pub fn stage(name: &'static str, routes: Vec<rocket::Route>) -> rocket::fairing::AdHoc {
    rocket::fairing::AdHoc::on_ignite(name, move |rocket| async move { rocket.mount("/", routes) })
}
