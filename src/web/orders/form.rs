//! The order form: the order and its lines edited together. Searching, and
//! adding and removing lines, are plain submit buttons, so the form works
//! without JavaScript; with it, `static/picker.js` and
//! `static/order-form.js` do the same in place.

use askama::Template;
use askama_web::WebTemplate;
use rocket::{get, post, FromForm};
use rocket_db_pools::Connection;

use crate::db::orders::{self, Draft, DraftLine, Line, Order, SaveError};
use crate::db::products::{self, ProductChoice};
use crate::db::users::{self, UserChoice};
use crate::db::{Db, DbError};
use crate::domain::{Money, Status};
use crate::web::forms::{parse_count, parse_version, FieldErrors};
use crate::web::{done, filters, query_id, AdminForm, AppError, Chrome};

/// Most lines one order may have.
const MAX_LINES: usize = 100;
/// Empty lines a new order form starts with.
const BLANK_LINES: usize = 3;

/// One order line as typed.
#[derive(Debug, Default, Clone, FromForm)]
pub struct LineForm {
    #[field(default = String::new())]
    product_id: String,
    #[field(default = String::new())]
    quantity: String,
    /// Blank means "the product's current price".
    #[field(default = String::new())]
    unit_price: String,
    /// What was typed in the line's product search.
    #[field(default = String::new())]
    product_q: String,
}

impl LineForm {
    /// A new line: no product yet, a quantity of 1.
    fn blank() -> LineForm {
        LineForm { quantity: "1".to_string(), ..LineForm::default() }
    }

    /// Nothing on the line but what a new line starts with: it is ignored.
    fn is_blank(&self) -> bool {
        self.product_id.trim().is_empty()
            && self.product_q.trim().is_empty()
            && self.unit_price.trim().is_empty()
            && matches!(self.quantity.trim(), "" | "1")
    }

    fn product_id(&self) -> Option<i64> {
        query_id(Some(&self.product_id))
    }
}

/// The order form as typed, so it can be shown again with its errors.
#[derive(Debug, Default, Clone, FromForm)]
pub struct OrderForm {
    #[field(default = String::new())]
    user_id: String,
    #[field(default = String::from("pending"))]
    status: String,
    #[field(default = String::new())]
    version: String,
    /// What was typed in the customer search.
    #[field(default = String::new())]
    customer_q: String,
    lines: Vec<LineForm>,
    /// Which button was pressed: `save`, `find`, `add_line` or `remove:<index>`.
    #[field(default = String::from("save"))]
    action: String,
}

/// What the form's searches found: the customers matching the customer
/// search, and for each line the products matching its search (one query
/// each, however many lines).
#[derive(Default)]
struct Searches {
    customers: Vec<UserChoice>,
    products: Vec<Vec<ProductChoice>>,
}

impl Searches {
    async fn run(db: &mut sqlx::PgConnection, form: &OrderForm) -> Result<Searches, DbError> {
        let customers = users::pick(db, &form.customer_q).await?;
        let typed: Vec<&str> = form.lines.iter().map(|line| line.product_q.as_str()).collect();
        let products = products::pick_each(db, &typed).await?;
        Ok(Searches { customers, products })
    }

    fn products_for(&self, index: usize) -> &[ProductChoice] {
        self.products.get(index).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Why a search did not choose anything, as a message for its field.
fn unresolved(searched: &str, found: usize, one: &str, many: &str, nothing_typed: &str) -> String {
    let searched = searched.trim();
    if searched.is_empty() {
        return nothing_typed.to_string();
    }
    match found {
        0 => format!("No {one} matches “{searched}”. Check the spelling, or search for another part of it."),
        n if n as i64 >= users::PICK_LIMIT => {
            format!("Many {many} match “{searched}”: type more of it, then choose one.")
        }
        n => format!("{n} {many} match “{searched}”: choose one from the list."),
    }
}

impl OrderForm {
    fn blank(user_id: Option<i64>) -> OrderForm {
        OrderForm {
            user_id: user_id.map(|id| id.to_string()).unwrap_or_default(),
            status: Status::Pending.as_str().to_string(),
            lines: vec![LineForm::blank(); BLANK_LINES],
            ..OrderForm::default()
        }
    }

    fn from_order(order: &Order, lines: &[Line]) -> OrderForm {
        let mut form_lines: Vec<LineForm> = lines
            .iter()
            .map(|l| LineForm {
                product_id: l.product_id.to_string(),
                quantity: l.quantity.to_string(),
                unit_price: l.unit_price_cents.decimal(),
                product_q: String::new(),
            })
            .collect();
        form_lines.push(LineForm::blank());
        OrderForm {
            user_id: order.user_id.to_string(),
            status: order.status.to_string(),
            version: order.version.to_string(),
            customer_q: String::new(),
            lines: form_lines,
            action: String::new(),
        }
    }

    /// A search with exactly one match chooses it: after Find, in place of
    /// what was chosen; on saving, where nothing is chosen yet.
    fn choose_single_matches(&mut self, searches: &Searches, replace: bool) {
        if let [only] = searches.customers.as_slice() {
            if replace || query_id(Some(&self.user_id)).is_none() {
                self.user_id = only.id.to_string();
            }
        }
        for (index, line) in self.lines.iter_mut().enumerate() {
            if let [only] = searches.products_for(index) {
                if replace || line.product_id().is_none() {
                    line.product_id = only.id.to_string();
                }
            }
        }
    }

    /// Validates into a draft. Line errors are keyed `line<index>.<field>`
    /// (`product`, `quantity` or `price`) by the line's position in the form;
    /// `lines` holds errors about the whole set.
    fn validate(&self, searches: &Searches) -> Result<(Draft, Vec<usize>), FieldErrors> {
        let mut errors = FieldErrors::default();
        let user_id = query_id(Some(&self.user_id));
        if user_id.is_none() {
            errors.add(
                "user_id",
                unresolved(
                    &self.customer_q,
                    searches.customers.len(),
                    "customer",
                    "customers",
                    "Choose the customer who placed this order.",
                ),
            );
        }
        let status = Status::parse(self.status.trim());
        if status.is_none() {
            errors.add("status", "Choose one of the listed statuses.");
        }
        if self.lines.len() > MAX_LINES {
            errors.add("lines", too_many_lines());
        }
        let mut lines = Vec::new();
        let mut positions = Vec::new();
        for (index, line) in self.lines.iter().enumerate().take(MAX_LINES) {
            if line.is_blank() {
                continue;
            }
            let key = |field: &str| format!("line{index}.{field}");
            let product_id = line.product_id();
            if product_id.is_none() {
                errors.add(
                    &key("product"),
                    unresolved(
                        &line.product_q,
                        searches.products_for(index).len(),
                        "product",
                        "products",
                        "Choose a product for this line, or clear the line.",
                    ),
                );
            }
            let quantity = parse_count(&line.quantity, 1, "quantity").map_err(|e| errors.add(&key("quantity"), e)).ok();
            let unit_price_cents = if line.unit_price.trim().is_empty() {
                Some(None)
            } else {
                Money::parse(&line.unit_price)
                    .map(Some)
                    .map_err(|e| errors.add(&key("price"), e.replace("The price", "The unit price")))
                    .ok()
            };
            let (Some(product_id), Some(quantity), Some(unit_price_cents)) = (product_id, quantity, unit_price_cents)
            else {
                continue;
            };
            if let Some(first) = lines.iter().position(|l: &DraftLine| l.product_id == product_id) {
                errors.add(
                    &key("product"),
                    format!(
                        "This product is already on line {}; change the quantity there instead.",
                        positions[first] + 1
                    ),
                );
                continue;
            }
            lines.push(DraftLine { product_id, quantity, unit_price_cents });
            positions.push(index);
        }
        if lines.is_empty() && errors.is_empty() {
            errors.add("lines", "Add at least one line: an order needs a product and a quantity.");
        }
        match (user_id, status) {
            (Some(user_id), Some(status)) if errors.is_empty() => Ok((Draft { user_id, status, lines }, positions)),
            _ => Err(errors),
        }
    }
}

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
    statuses: [Status; 4],
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
        Ok(FormPage {
            chrome: chrome.on("orders"),
            order,
            form,
            errors,
            customers,
            line_products,
            held,
            statuses: Status::ALL,
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
pub(super) async fn new(chrome: Chrome, mut db: Connection<Db>, user_id: Option<&str>) -> Result<FormPage, AppError> {
    FormPage::load(&mut db, chrome, None, OrderForm::blank(query_id(user_id)), FieldErrors::default()).await
}

#[get("/orders/<id>/edit")]
pub(super) async fn edit(chrome: Chrome, mut db: Connection<Db>, id: i64) -> Result<FormPage, AppError> {
    let order = orders::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let lines = orders::lines(&mut db, id).await?;
    let form = OrderForm::from_order(&order, &lines);
    FormPage::load(&mut db, chrome, Some(order), form, FieldErrors::default()).await
}

/// The message for a form that has, or asks for, more than [`MAX_LINES`].
fn too_many_lines() -> String {
    format!("An order can have at most {MAX_LINES} lines. Remove a line before adding another.")
}

/// Keeps the first [`MAX_LINES`] lines of a form that sent more (our page
/// never does), so no search, check or page grows with what a client sends;
/// the errors say so and nothing is saved.
fn limit_lines(form: &mut OrderForm) -> Option<FieldErrors> {
    if form.lines.len() <= MAX_LINES {
        return None;
    }
    form.lines.truncate(MAX_LINES);
    let mut errors = FieldErrors::default();
    errors.add("lines", format!("An order can have at most {MAX_LINES} lines; only the first {MAX_LINES} were kept."));
    errors.add("form", NOT_SAVED);
    Some(errors)
}

/// Applies the add-line and remove-line buttons; `Some` if one was pressed
/// (the form is then shown again with these errors, nothing saved).
fn edit_lines(form: &mut OrderForm) -> Option<FieldErrors> {
    let action = form.action.trim().to_string();
    let mut errors = FieldErrors::default();
    if action == "add_line" {
        if form.lines.len() < MAX_LINES {
            form.lines.push(LineForm::blank());
        } else {
            errors.add("lines", too_many_lines());
        }
        return Some(errors);
    }
    if let Some(index) = action.strip_prefix("remove:") {
        if let Ok(index) = index.parse::<usize>() {
            if index < form.lines.len() {
                form.lines.remove(index);
            }
        }
        if form.lines.is_empty() {
            form.lines.push(LineForm::blank());
        }
        return Some(errors);
    }
    None
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

const NOT_SAVED: &str = "The order was not saved. Please correct the highlighted fields.";

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
