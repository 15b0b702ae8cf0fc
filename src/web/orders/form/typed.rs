//! The order form as typed: its fields and lines, the searches it asks
//! for, and the line buttons (add, remove) with the limit on lines.

use rocket::FromForm;

use crate::db::orders::{Draft, DraftLine, Line, Order};
use crate::db::products::{self, ProductChoice};
use crate::db::users::{self, UserChoice};
use crate::db::DbError;
use crate::domain::{Money, Status};
use crate::web::forms::{parse_count, FieldErrors};
use crate::web::query_id;

/// The banner of a form that was not saved.
pub(super) const NOT_SAVED: &str = "The order was not saved. Please correct the highlighted fields.";

/// Most lines one order may have.
pub(super) const MAX_LINES: usize = 100;
/// Empty lines a new order form starts with.
pub(super) const BLANK_LINES: usize = 3;

/// One order line as typed.
#[derive(Debug, Default, Clone, FromForm)]
pub struct LineForm {
    #[field(default = String::new())]
    pub(crate) product_id: String,
    #[field(default = String::new())]
    pub(crate) quantity: String,
    /// Blank means "the product's current price".
    #[field(default = String::new())]
    pub(crate) unit_price: String,
    /// What was typed in the line's product search.
    #[field(default = String::new())]
    pub(crate) product_q: String,
}

impl LineForm {
    /// A new line: no product yet, a quantity of 1.
    pub(super) fn blank() -> LineForm {
        LineForm { quantity: "1".to_string(), ..LineForm::default() }
    }

    /// Nothing on the line but what a new line starts with: it is ignored.
    pub(super) fn is_blank(&self) -> bool {
        self.product_id.trim().is_empty()
            && self.product_q.trim().is_empty()
            && self.unit_price.trim().is_empty()
            && matches!(self.quantity.trim(), "" | "1")
    }

    pub(super) fn product_id(&self) -> Option<i64> {
        query_id(Some(&self.product_id))
    }
}

/// The order form as typed, so it can be shown again with its errors.
#[derive(Debug, Default, Clone, FromForm)]
pub struct OrderForm {
    #[field(default = String::new())]
    pub(crate) user_id: String,
    #[field(default = String::from("pending"))]
    pub(crate) status: String,
    #[field(default = String::new())]
    pub(crate) version: String,
    /// What was typed in the customer search.
    #[field(default = String::new())]
    pub(crate) customer_q: String,
    pub(crate) lines: Vec<LineForm>,
    /// Which button was pressed: `save`, `find`, `add_line` or `remove:<index>`.
    #[field(default = String::from("save"))]
    pub(crate) action: String,
}

/// What the form's searches found: the customers matching the customer
/// search, and for each line the products matching its search (one query
/// each, however many lines).
#[derive(Default)]
pub(super) struct Searches {
    pub(crate) customers: Vec<UserChoice>,
    pub(crate) products: Vec<Vec<ProductChoice>>,
}

impl Searches {
    pub(super) async fn run(db: &mut sqlx::PgConnection, form: &OrderForm) -> Result<Searches, DbError> {
        let customers = users::pick(db, &form.customer_q).await?;
        let typed: Vec<&str> = form.lines.iter().map(|line| line.product_q.as_str()).collect();
        let products = products::pick_each(db, &typed).await?;
        Ok(Searches { customers, products })
    }

    pub(super) fn products_for(&self, index: usize) -> &[ProductChoice] {
        self.products.get(index).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Why a search did not choose anything, as a message for its field.
pub(super) fn unresolved(searched: &str, found: usize, one: &str, many: &str, nothing_typed: &str) -> String {
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
    pub(super) fn blank(user_id: Option<i64>) -> OrderForm {
        OrderForm {
            user_id: user_id.map(|id| id.to_string()).unwrap_or_default(),
            status: Status::Pending.as_str().to_string(),
            lines: vec![LineForm::blank(); BLANK_LINES],
            ..OrderForm::default()
        }
    }

    pub(super) fn from_order(order: &Order, lines: &[Line]) -> OrderForm {
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
    pub(super) fn choose_single_matches(&mut self, searches: &Searches, replace: bool) {
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
    pub(super) fn validate(&self, searches: &Searches) -> Result<(Draft, Vec<usize>), FieldErrors> {
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

/// The message for a form that has, or asks for, more than [`MAX_LINES`].
pub(super) fn too_many_lines() -> String {
    format!("An order can have at most {MAX_LINES} lines. Remove a line before adding another.")
}

/// Keeps the first [`MAX_LINES`] lines of a form that sent more (our page
/// never does), so no search, check or page grows with what a client sends;
/// the errors say so and nothing is saved.
pub(super) fn limit_lines(form: &mut OrderForm) -> Option<FieldErrors> {
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
pub(super) fn edit_lines(form: &mut OrderForm) -> Option<FieldErrors> {
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
