//! The one bulk flow that the orders and products lists share: a selection
//! (the ticked rows, or all that match the list's filters), a review page
//! that counts and fingerprints exactly those rows, and an apply that
//! changes them only if they are still what was reviewed.

use std::future::Future;

use rocket::http::uri::Origin;
use rocket::response::{Flash, Redirect};
use sqlx::PgConnection;

use super::filters::counted;
use super::forms::constraint_message;
use super::{changed_since_review, done, query_id, refused, AdminForm, AppError};
use crate::db::{Actor, Applied, BulkError, BulkPreview, Db, DbError};
use crate::jobs::JobsConfig;

/// Which rows a bulk change is on and what its review page promised, as typed.
pub struct Selection<'a> {
    /// `selected` (the ticked `ids`) or `all` (everything the filters match).
    pub scope: &'a str,
    pub ids: &'a [String],
    /// How many rows the review page promised to change.
    pub confirmed: Option<&'a str>,
    /// The fingerprint of the rows the review page showed.
    pub token: Option<&'a str>,
}

impl Selection<'_> {
    /// The ticked rows, or `None` for "all matching".
    pub fn ids(&self) -> Option<Vec<i64>> {
        (self.scope != "all").then(|| self.ids.iter().filter_map(|id| query_id(Some(id))).collect())
    }

    /// The ticked rows as the review page's address writes them.
    pub fn ids_typed(&self) -> Vec<String> {
        self.ids().unwrap_or_default().iter().map(i64::to_string).collect()
    }

    fn confirmed(&self) -> Option<(i64, &str)> {
        let count = self.confirmed.and_then(|c| c.trim().parse::<i64>().ok())?;
        Some((count, self.token.unwrap_or("")))
    }
}

/// The rows a bulk change is on: those the list's filter matches, of the
/// ticked `ids` unless `None`.
pub struct Targets<'a, F> {
    pub filter: &'a F,
    pub ids: Option<&'a [i64]>,
}

/// A bulk change form of one list.
pub trait Bulk: Sized + Send + Sync + 'static {
    /// The list's filter.
    type Filter: Send + Sync;
    /// The change to make, once it reads.
    type Change: Copy + Send + Sync;
    /// A row of the review page's sample.
    type Row: Send;

    /// The rows it changes: ("order", "orders").
    const NOUNS: (&'static str, &'static str);
    /// What is reviewed: "change", "action".
    const WHAT: &'static str = "change";
    /// Why a review cannot be shown when the list's filters do not read.
    const BAD_FILTER: &'static str = "The list's filters could not be read. Go back and correct them first.";

    fn selection(&self) -> Selection<'_>;
    /// The list's filter, and whether some of it could not be read.
    fn filter(&self) -> (Self::Filter, bool);
    /// The change, or why it can't be read.
    fn change(&self) -> Result<Self::Change, &'static str>;
    /// The list these rows came from, with its filters.
    fn back(&self, filter: &Self::Filter) -> String;
    /// The review page for this same change and selection, before anything
    /// was confirmed.
    fn review_uri(&self, filter: &Self::Filter) -> Origin<'static>;
    /// The banner after rows of the `confirmed` were changed (or skipped).
    fn applied(&self, change: Self::Change, applied: &Applied, confirmed: i64) -> String;
    /// What a change that would need more stock than there is answers.
    fn out_of_stock(&self, filter: &Self::Filter, short: &[(String, i64, i64)]) -> Flash<Redirect>;

    fn preview(
        db: &mut PgConnection,
        on: Targets<'_, Self::Filter>,
        change: Self::Change,
    ) -> impl Future<Output = Result<BulkPreview<Self::Row>, DbError>> + Send;
    /// Changes the rows if they are still the `confirmed` count and fingerprint.
    fn apply(
        db: &mut PgConnection,
        actor: Actor,
        on: Targets<'_, Self::Filter>,
        confirmed: (i64, &str),
        change: Self::Change,
    ) -> impl Future<Output = Result<Applied, BulkError>> + Send;
    /// What a job doing this change is called: "Mark as shipped: 120,000 orders".
    fn job_summary(&self, change: Self::Change, count: i64) -> String;
    /// Queues the change as a job on the rows still `confirmed` (see
    /// [`Bulk::apply`]), for more rows than one request should change.
    fn enqueue(
        db: &mut PgConnection,
        actor: Actor,
        on: Targets<'_, Self::Filter>,
        confirmed: (i64, &str),
        change: Self::Change,
        summary: &str,
    ) -> impl Future<Output = Result<i64, BulkError>> + Send;
}

/// What a review page shows.
pub struct Review<B: Bulk> {
    pub form: B,
    /// Why the change can't be reviewed yet, shown next to its field.
    pub error: Option<&'static str>,
    pub preview: BulkPreview<B::Row>,
    /// The ticked rows (none for "all matching").
    pub ids: Vec<i64>,
    /// The list the rows came from.
    pub back: String,
}

impl<B: Bulk> Review<B> {
    /// "1 order", "1,204 orders": what the change touches.
    pub fn targets(&self) -> String {
        counted(self.preview.count, B::NOUNS.0, B::NOUNS.1)
    }
}

/// Counts and fingerprints the rows the form selects, with a sample of them.
pub async fn review<B: Bulk>(db: &mut PgConnection, form: B) -> Result<Review<B>, AppError> {
    let (filter, bad_filter) = form.filter();
    let ids = form.selection().ids();
    let change = form.change();
    let error = if bad_filter { Some(B::BAD_FILTER) } else { change.err() };
    let preview = match (change, error) {
        (Ok(change), None) => B::preview(db, Targets { filter: &filter, ids: ids.as_deref() }, change).await?,
        _ => BulkPreview::default(),
    };
    Ok(Review { back: form.back(&filter), ids: ids.unwrap_or_default(), error, form, preview })
}

/// Applies a reviewed change, or sends back to the review page saying why not.
/// A change of more rows than `[jobs] threshold_rows` is queued as a job
/// instead, and the requester is sent to its progress page.
pub async fn apply<B: Bulk>(db: &Db, jobs: &JobsConfig, form: AdminForm<B>) -> Result<Flash<Redirect>, AppError> {
    let mut db = db.conn().await?;
    let actor = form.actor();
    let form = form.form;
    let (filter, bad_filter) = form.filter();
    let selection = form.selection();
    let again = || form.review_uri(&filter).to_string();
    let (Ok(change), Some(confirmed), false) = (form.change(), selection.confirmed(), bad_filter) else {
        return Ok(refused(again(), format!("Nothing was changed: review the {} and confirm it here.", B::WHAT)));
    };
    let ids = selection.ids();
    if confirmed.0 > jobs.threshold_rows {
        let summary = form.job_summary(change, confirmed.0);
        let on = Targets { filter: &filter, ids: ids.as_deref() };
        return match B::enqueue(&mut db, actor, on, confirmed, change, &summary).await {
            Ok(job) => Ok(done(
                super::jobs::progress_uri(job),
                format!("{summary}: queued as a job, in batches. Follow it here; you can leave this page."),
            )),
            Err(BulkError::Changed { now, confirmed }) => {
                Ok(refused(again(), changed_since_review(B::NOUNS.1, now, confirmed)))
            }
            Err(BulkError::OutOfStock(short)) => Ok(form.out_of_stock(&filter, &short)),
            Err(BulkError::Db(e)) => Err(e.into()),
        };
    }
    match B::apply(&mut db, actor, Targets { filter: &filter, ids: ids.as_deref() }, confirmed, change).await {
        Ok(applied) => Ok(done(form.back(&filter), form.applied(change, &applied, confirmed.0))),
        Err(BulkError::Changed { now, confirmed }) => {
            Ok(refused(again(), changed_since_review(B::NOUNS.1, now, confirmed)))
        }
        Err(BulkError::OutOfStock(short)) => Ok(form.out_of_stock(&filter, &short)),
        // A rule the database holds for some of the rows (an order with
        // refunds cannot be cancelled): nothing changed, and the reason.
        Err(BulkError::Db(DbError::Constraint { constraint })) if constraint_message(&constraint).is_some() => {
            let why = constraint_message(&constraint).map_or("", |(_, message)| message);
            Ok(refused(again(), format!("Nothing was changed: {why}")))
        }
        Err(BulkError::Db(e)) => Err(e.into()),
    }
}
