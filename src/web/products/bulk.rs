//! Bulk changes on the products list: price or stock by a percentage, on
//! the ticked products or all matching the list's search and filters, after
//! a review page that shows the values before and after.

use crate::web::read::PageConn;
use askama::Template;
use askama_web::WebTemplate;
use rocket::http::uri::Origin;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, uri, FromForm, State, UriDisplayQuery};
use sqlx::PgConnection;

use super::ProductsQuery;
use crate::db::jobs;
use crate::db::products::{self, BulkChange, BulkRow, Filter};
use crate::db::staff::Staff;
use crate::db::{Actor, Applied, BulkError, BulkPreview, Db, DbError};
use crate::jobs::JobsConfig;
use crate::web::bulk::{self, Bulk, Review, Selection, Targets};
use crate::web::filters::{self, counted};
use crate::web::links::Href;
use crate::web::listing::{Paged, Paging};
use crate::web::{refused, AdminForm, AppError, Chrome};

/// A bulk change on the products list: price or stock by a percentage, on
/// the ticked products or all matching the list's search and filters.
#[derive(Debug, Default, Clone, FromForm, UriDisplayQuery)]
pub struct BulkForm {
    /// `price` or `stock`.
    #[field(default = String::new())]
    change: String,
    /// The percentage, e.g. `10` or `-15.5`.
    #[field(default = String::new())]
    percent: String,
    #[field(default = String::from("selected"))]
    scope: String,
    ids: Vec<String>,
    /// How many products the confirmation page promised to change.
    confirmed: Option<String>,
    /// The fingerprint of the products the confirmation page showed.
    token: Option<String>,
    /// The products list's filters.
    #[field(default = String::new())]
    q: String,
    #[field(default = String::new())]
    stock: String,
    #[field(default = String::new())]
    low_at: String,
}

impl BulkForm {
    /// The products list's filters as typed.
    fn query(&self) -> ProductsQuery {
        ProductsQuery { q: Some(self.q.clone()), stock: Some(self.stock.clone()), low_at: Some(self.low_at.clone()) }
    }

    fn describe(&self) -> String {
        match self.change() {
            Ok(BulkChange::Price(p)) => format!("Change prices by {p:+}%"),
            Ok(BulkChange::Stock(p)) => format!("Change stock by {p:+}%"),
            Err(_) => "Change products".to_string(),
        }
    }

    /// Whether the preview shows money (prices) rather than units.
    fn is_price(&self) -> bool {
        self.change != "stock"
    }
}

impl Bulk for BulkForm {
    type Filter = Filter;
    type Change = BulkChange;
    type Row = BulkRow;

    const NOUNS: (&'static str, &'static str) = ("product", "products");

    fn selection(&self) -> Selection<'_> {
        Selection {
            scope: &self.scope,
            ids: &self.ids,
            confirmed: self.confirmed.as_deref(),
            token: self.token.as_deref(),
        }
    }

    fn filter(&self) -> (Filter, bool) {
        (self.query().parse(), false)
    }

    fn change(&self) -> Result<BulkChange, &'static str> {
        let percent: f64 = self
            .percent
            .trim()
            .trim_end_matches('%')
            .trim()
            .parse()
            .map_err(|_| "Enter the percentage as a number, like 10 or -15.")?;
        if !(-100.0..=1000.0).contains(&percent) {
            return Err("The percentage must be between -100 and 1000.");
        }
        match self.change.as_str() {
            "price" => Ok(BulkChange::Price(percent)),
            "stock" => Ok(BulkChange::Stock(percent)),
            _ => Err("Choose whether to change prices or stock."),
        }
    }

    fn back(&self, filter: &Filter) -> String {
        let kept = ProductsQuery::of(filter, self.query().low_at());
        uri!(super::list(Paged::new(kept, Paging::default()))).to_string()
    }

    fn review_uri(&self, filter: &Filter) -> Origin<'static> {
        let kept = ProductsQuery::of(filter, self.query().low_at());
        let review = BulkForm {
            ids: self.selection().ids_typed(),
            confirmed: None,
            token: None,
            q: kept.q.unwrap_or_default(),
            stock: kept.stock.unwrap_or_default(),
            low_at: kept.low_at.unwrap_or_default(),
            ..self.clone()
        };
        uri!(bulk_confirm(review))
    }

    fn applied(&self, _: BulkChange, applied: &Applied, _: i64) -> String {
        format!("{}: {} changed.", self.describe(), counted(applied.changed as i64, "product", "products"))
    }

    fn out_of_stock(&self, filter: &Filter, _: &[(String, i64, i64)]) -> Flash<Redirect> {
        refused(self.back(filter), "Nothing was changed.")
    }

    async fn preview(
        db: &mut PgConnection,
        on: Targets<'_, Filter>,
        change: BulkChange,
    ) -> Result<BulkPreview<BulkRow>, DbError> {
        products::bulk_preview(db, on.filter, on.ids, change).await
    }

    async fn apply(
        db: &mut PgConnection,
        actor: Actor,
        on: Targets<'_, Filter>,
        confirmed: (i64, &str),
        change: BulkChange,
    ) -> Result<Applied, BulkError> {
        let changed = products::bulk_apply(db, actor, on.filter, on.ids, confirmed, change).await?;
        Ok(Applied { changed, skipped: Vec::new() })
    }

    fn job_summary(&self, _: BulkChange, count: i64) -> String {
        format!("{}: {}", self.describe(), counted(count, "product", "products"))
    }

    async fn enqueue(
        db: &mut PgConnection,
        actor: Actor,
        on: Targets<'_, Filter>,
        confirmed: (i64, &str),
        change: BulkChange,
        summary: &str,
    ) -> Result<i64, BulkError> {
        jobs::enqueue_products(db, actor, on.filter, on.ids, confirmed, change, summary).await
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "products/bulk.html")]
pub(super) struct BulkPage {
    chrome: Chrome,
    review: Review<BulkForm>,
    /// Past this many rows the change runs as a job.
    job_threshold: i64,
}

#[get("/products/bulk?<form..>")]
pub(super) async fn bulk_confirm(
    mut db: PageConn,
    chrome: Chrome,
    jobs: &State<JobsConfig>,
    form: BulkForm,
) -> Result<BulkPage, AppError> {
    Ok(BulkPage {
        chrome: chrome.on("products"),
        review: bulk::review(&mut db, form).await?,
        job_threshold: jobs.threshold_rows,
    })
}

#[post("/products/bulk", data = "<form>")]
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
