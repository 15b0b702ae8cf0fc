//! The order form: the order and its lines edited together. Searching, and
//! adding and removing lines, are plain submit buttons, so the form works
//! without JavaScript; with it, `static/picker.js` and
//! `static/order-form.js` do the same in place.

use crate::web::read::PageConn;
use askama::Template;
use askama_web::WebTemplate;
use rocket::{get, post};

use crate::db::orders::{self, Line, Order, SaveError};
use crate::db::products::{self, ProductChoice};
use crate::db::users::{self, UserChoice};
use crate::db::{Db, DbError};
use crate::domain::Status;
use crate::web::forms::{parse_version, FieldErrors};
use crate::web::{done, filters, query_id, AdminForm, AppError, Chrome};

mod typed;

use typed::{edit_lines, limit_lines, Searches, MAX_LINES, NOT_SAVED};
pub use typed::{LineForm, OrderForm};

#[derive(Template, WebTemplate)]
#[template(path = "orders/form.html")]
pub(super) struct FormPage {
    chrome: Chrome,
    /// `None` for a new order.
    order: Option<Order>,
    form: OrderForm,
    errors: FieldErrors,
    /// The chosen customer and the matches for the customer search: never
    /// the whole customer table, however large it is.
    customers: Vec<UserChoice>,
    /// For each line: its chosen product and the matches for its search.
    line_products: Vec<Vec<ProductChoice>>,
    /// Stock the order being edited holds now, by product, as
    /// `id:quantity` pairs: it is available to the order again.
    held: String,
    /// The statuses offered: those staff choose, or only its refund status
    /// for an order with refunds (it follows them).
    statuses: Vec<Status>,
    /// Set when someone else saved the order after this form was opened.
    conflict: Option<(Order, Vec<Line>)>,
}

impl FormPage {
    /// The page for `form`, searching what it has typed.
    async fn load(
        db: &mut sqlx::PgConnection,
        chrome: Chrome,
        order: Option<Order>,
        form: OrderForm,
        errors: FieldErrors,
    ) -> Result<FormPage, AppError> {
        let searches = Searches::run(db, &form).await?;
        FormPage::with(db, chrome, order, form, errors, searches).await
    }

    /// The page for `form` with what its searches found.
    async fn with(
        db: &mut sqlx::PgConnection,
        chrome: Chrome,
        order: Option<Order>,
        form: OrderForm,
        errors: FieldErrors,
        searches: Searches,
    ) -> Result<FormPage, AppError> {
        let mut customers = Vec::new();
        if let Some(id) = query_id(Some(&form.user_id)) {
            customers.extend(users::choice(db, id).await?);
        }
        for found in searches.customers {
            if customers.iter().all(|c| c.id != found.id) {
                customers.push(found);
            }
        }
        let chosen_ids: Vec<i64> = form.lines.iter().filter_map(LineForm::product_id).collect();
        let chosen = products::choices(db, &chosen_ids).await?;
        let mut line_products = Vec::with_capacity(form.lines.len());
        let mut found = searches.products.into_iter();
        for line in &form.lines {
            let mut options: Vec<ProductChoice> =
                chosen.iter().filter(|p| Some(p.id) == line.product_id()).cloned().collect();
            for found in found.next().unwrap_or_default() {
                if options.iter().all(|p| p.id != found.id) {
                    options.push(found);
                }
            }
            line_products.push(options);
        }
        let held = match &order {
            Some(o) if o.status.holds_stock() => orders::lines(db, o.id)
                .await?
                .iter()
                .map(|l| format!("{}:{}", l.product_id, l.quantity))
                .collect::<Vec<_>>()
                .join(" "),
            _ => String::new(),
        };
        let statuses = match &order {
            Some(o) if o.status.follows_refunds() => vec![o.status],
            _ => Status::SETTABLE.to_vec(),
        };
        Ok(FormPage {
            chrome: chrome.on("orders"),
            order,
            form,
            errors,
            customers,
            line_products,
            held,
            statuses,
            conflict: None,
        })
    }

    /// Whether the option for `id` is the one the form's `value` names.
    fn selected(&self, value: &str, id: &i64) -> bool {
        value.trim().parse::<i64>().ok() == Some(*id)
    }

    /// The chosen customer, if the form names one that exists.
    fn chosen_customer(&self) -> Option<&UserChoice> {
        let id = query_id(Some(&self.form.user_id))?;
        self.customers.iter().find(|c| c.id == id)
    }

    /// The product choices for the line at `index`.
    fn products_for(&self, index: &usize) -> &[ProductChoice] {
        self.line_products.get(*index).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The chosen product of the line at `index`, if it exists.
    fn chosen_product(&self, index: &usize) -> Option<&ProductChoice> {
        let id = self.form.lines.get(*index)?.product_id()?;
        self.products_for(index).iter().find(|p| p.id == id)
    }

    /// The error for one field (`product`, `quantity`, `price`) of the line at `index`.
    fn line_error(&self, index: &usize, field: &str) -> Option<&str> {
        self.errors.get(&format!("line{index}.{field}"))
    }

    /// Whether the line at `index` has any error.
    fn line_invalid(&self, index: &usize) -> bool {
        ["product", "quantity", "price"].iter().any(|field| self.line_error(index, field).is_some())
    }

    /// Whether the order being edited has refunds, so its status follows them.
    fn status_follows_refunds(&self) -> bool {
        self.order.as_ref().is_some_and(|o| o.status.follows_refunds())
    }

    /// Most lines an order may have, for the page and its script.
    fn max_lines(&self) -> usize {
        MAX_LINES
    }

    /// The line a script adds with "+ Add a line".
    fn blank_line(&self) -> LineForm {
        LineForm::blank()
    }

    /// The line template's options and errors: none.
    fn nothing(&self) -> (&[ProductChoice], Option<&ProductChoice>, Option<&str>) {
        (&[], None, None)
    }
}

#[get("/orders/new?<user_id>")]
pub(super) async fn new(mut db: PageConn, chrome: Chrome, user_id: Option<&str>) -> Result<FormPage, AppError> {
    FormPage::load(&mut db, chrome, None, OrderForm::blank(query_id(user_id)), FieldErrors::default()).await
}

#[get("/orders/<id>/edit")]
pub(super) async fn edit(mut db: PageConn, chrome: Chrome, id: i64) -> Result<FormPage, AppError> {
    let order = orders::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let lines = orders::lines(&mut db, id).await?;
    let form = OrderForm::from_order(&order, &lines);
    FormPage::load(&mut db, chrome, Some(order), form, FieldErrors::default()).await
}

/// What a submitted order form leads to: saved, or the form again.
enum Outcome {
    Saved(i64),
    Again(FieldErrors, Searches),
}

/// Searches what the form typed (Find chooses single matches; saving fills
/// empty choices with them), then saves a valid form or explains why not.
async fn submit(
    db: &mut sqlx::PgConnection,
    actor: crate::db::Actor,
    form: &mut OrderForm,
    existing: Option<(i64, i32)>,
) -> Result<Outcome, DbError> {
    let searches = Searches::run(db, form).await?;
    let finding = form.action.trim() == "find";
    form.choose_single_matches(&searches, finding);
    if finding {
        return Ok(Outcome::Again(FieldErrors::default(), searches));
    }
    let (draft, positions) = match form.validate(&searches) {
        Ok(valid) => valid,
        Err(errors) => return Ok(Outcome::Again(errors, searches)),
    };
    let mut errors = FieldErrors::default();
    match orders::save(db, actor, existing, &draft).await {
        Ok(id) => return Ok(Outcome::Saved(id)),
        Err(SaveError::OutOfStock { line, product, available, requested }) => errors.add(
            &format!("line{}.quantity", positions[line]),
            format!("Not enough {product} in stock: {available} available, {requested} requested."),
        ),
        Err(SaveError::MissingProduct { line }) => {
            errors.add(&format!("line{}.product", positions[line]), "This product no longer exists; choose another.")
        }
        Err(SaveError::StatusFollowsRefunds { current: Some(current) }) => errors.add(
            "status",
            format!(
                "This order has refunds, so it stays {}: its status follows its refunds. Refund the rest on the order's page instead.",
                current.label().to_lowercase()
            ),
        ),
        Err(SaveError::StatusFollowsRefunds { current: None }) => {
            errors.add("status", "The refunded statuses follow refunds: use Refund… on the order's page.")
        }
        Err(SaveError::Db(DbError::Constraint { constraint })) => {
            if !errors.add_constraint(&constraint) {
                return Err(DbError::Constraint { constraint });
            }
        }
        Err(SaveError::Db(e)) => return Err(e),
    }
    Ok(Outcome::Again(errors, searches))
}

type Submitted = crate::web::Submitted<FormPage>;

#[post("/orders", data = "<form>")]
pub(super) async fn create(chrome: Chrome, db: &Db, form: AdminForm<OrderForm>) -> Submitted {
    let mut db = db.conn().await?;
    let actor = form.actor();
    let mut form = form.form;
    if let Some(errors) = limit_lines(&mut form).or_else(|| edit_lines(&mut form)) {
        return Ok(Err(FormPage::load(&mut db, chrome, None, form, errors).await?));
    }
    match submit(&mut db, actor, &mut form, None).await? {
        Outcome::Saved(id) => Ok(Ok(done(super::show_path(id), format!("Order #{id} placed.")))),
        Outcome::Again(mut errors, searches) => {
            if !errors.is_empty() {
                errors.add("form", NOT_SAVED);
            }
            Ok(Err(FormPage::with(&mut db, chrome, None, form, errors, searches).await?))
        }
    }
}

#[post("/orders/<id>", data = "<form>")]
pub(super) async fn update(chrome: Chrome, db: &Db, id: i64, form: AdminForm<OrderForm>) -> Submitted {
    let mut db = db.conn().await?;
    let actor = form.actor();
    let mut form = form.form;
    let order = orders::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    if let Some(errors) = limit_lines(&mut form).or_else(|| edit_lines(&mut form)) {
        return Ok(Err(FormPage::load(&mut db, chrome, Some(order), form, errors).await?));
    }
    let version = parse_version(&form.version).unwrap_or(0);
    let (errors, searches, conflict) = match submit(&mut db, actor, &mut form, Some((id, version))).await {
        Ok(Outcome::Saved(_)) => return Ok(Ok(done(super::show_path(id), format!("Order #{id} saved.")))),
        Ok(Outcome::Again(mut errors, searches)) => {
            if !errors.is_empty() {
                errors.add("form", NOT_SAVED);
            }
            (errors, searches, None)
        }
        Err(DbError::Conflict) => {
            let current = orders::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
            let lines = orders::lines(&mut db, id).await?;
            // Saving again applies the typed values over the version shown.
            form.version = current.version.to_string();
            (FieldErrors::default(), Searches::run(&mut db, &form).await?, Some((current, lines)))
        }
        Err(e) => return Err(e.into()),
    };
    let mut page = FormPage::with(&mut db, chrome, Some(order), form, errors, searches).await?;
    page.conflict = conflict;
    Ok(Err(page))
}
