//! Refunding an order: the form with a quantity and a restock choice per
//! line, a shipping or goodwill amount and a reason, and its submission.

use crate::web::read::PageConn;
use askama::Template;
use askama_web::WebTemplate;
use rocket::form::FromForm;
use rocket::{get, post, uri};

use crate::db::orders::{self, Line, Order};
use crate::db::refunds::{self, RefundDraft, RefundError, ReturnedLine};
use crate::db::{Db, DbError};
use crate::domain::Money;
use crate::web::forms::{parse_count, FieldErrors};
use crate::web::{done, filters, AdminForm, AppError, Chrome, Submitted};

/// The longest reason kept (the database refuses longer ones).
const MAX_REASON: usize = 500;

/// One line of the refund form, as typed.
#[derive(Debug, Clone, Default, FromForm)]
pub struct LineField {
    pub product_id: i64,
    pub quantity: String,
    pub restock: bool,
}

/// The refund form, as typed.
#[derive(Debug, Clone, Default, FromForm)]
pub struct RefundForm {
    pub lines: Vec<LineField>,
    pub extra: String,
    pub reason: String,
}

impl RefundForm {
    /// The form as first shown: nothing refunded, returned items restocked.
    fn blank(lines: &[Line]) -> RefundForm {
        RefundForm {
            lines: lines
                .iter()
                .map(|l| LineField { product_id: l.product_id, quantity: "0".into(), restock: true })
                .collect(),
            extra: String::new(),
            reason: String::new(),
        }
    }

    /// What was typed for a line of the order.
    pub fn typed(&self, product_id: &i64) -> Option<&LineField> {
        self.lines.iter().find(|l| l.product_id == *product_id)
    }

    /// Parses the form against the order's lines; the errors are keyed by
    /// field (`qty-<product id>`, `extra`, `reason`).
    fn parse(&self, lines: &[Line]) -> Result<RefundDraft, FieldErrors> {
        let mut errors = FieldErrors::default();
        let mut returned = Vec::new();
        for field in &self.lines {
            let Some(line) = lines.iter().find(|l| l.product_id == field.product_id) else {
                errors.add("form", "A line of this order is no longer on it. Check the order and try again.");
                continue;
            };
            let key = qty_key(&line.product_id);
            let raw = if field.quantity.trim().is_empty() { "0" } else { field.quantity.as_str() };
            match parse_count(raw, 0, "quantity") {
                Ok(n) if n > line.refundable() => {
                    errors.add(&key, format!("At most {} of {} can be refunded.", line.refundable(), line.product_name))
                }
                Ok(n) => {
                    returned.push(ReturnedLine { product_id: line.product_id, quantity: n, restock: field.restock })
                }
                Err(message) => errors.add(&key, message),
            }
        }
        let extra = if self.extra.trim().is_empty() {
            Money::default()
        } else {
            Money::parse(&self.extra).unwrap_or_else(|_| {
                errors.add("extra", "Enter an amount, like 5.00, or leave it empty.");
                Money::default()
            })
        };
        let reason = self.reason.trim();
        if reason.is_empty() {
            errors.add("reason", "Say why the order is refunded (the customer will not see it).");
        } else if reason.chars().count() > MAX_REASON {
            errors.add("reason", format!("Keep the reason to {MAX_REASON} characters."));
        }
        if errors.is_empty() && extra == Money::default() && returned.iter().all(|l| l.quantity == 0) {
            errors.add("form", "Enter a quantity for at least one line, or a shipping or goodwill amount.");
        }
        if errors.is_empty() {
            Ok(RefundDraft { lines: returned, extra, reason: reason.to_string() })
        } else {
            Err(errors)
        }
    }
}

/// The error key of a line's quantity field.
pub fn qty_key(product_id: &i64) -> String {
    format!("qty-{product_id}")
}

#[derive(Template, WebTemplate)]
#[template(path = "orders/refund.html")]
pub struct RefundPage {
    chrome: Chrome,
    order: Order,
    lines: Vec<Line>,
    form: RefundForm,
    errors: FieldErrors,
}

impl RefundPage {
    /// What is left to refund of the order.
    fn left(&self) -> Money {
        self.order.net_cents()
    }
}

#[get("/orders/<id>/refund")]
pub async fn refund_form(mut db: PageConn, chrome: Chrome, id: i64) -> Result<RefundPage, AppError> {
    let order = orders::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let lines = orders::lines(&mut db, id).await?;
    let mut errors = FieldErrors::default();
    if !order.status.refundable() {
        errors.add("form", not_refundable(&order));
    }
    let form = RefundForm::blank(&lines);
    Ok(RefundPage { chrome: chrome.on("orders"), order, lines, form, errors })
}

fn not_refundable(order: &Order) -> String {
    format!(
        "Only paid or shipped orders can be refunded, and only until everything is refunded; order #{} is {}.",
        order.id,
        order.status.label().to_lowercase()
    )
}

#[post("/orders/<id>/refund", data = "<form>")]
pub async fn refund(chrome: Chrome, db: &Db, id: i64, form: AdminForm<RefundForm>) -> Submitted<RefundPage> {
    // The form has arrived in full: only now take a connection.
    let mut conn = db.conn().await?;
    let actor = form.actor();
    let form = form.form;
    let order = orders::find(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    let lines = orders::lines(&mut conn, id).await?;
    let mut errors = match form.parse(&lines) {
        Ok(draft) => match refunds::refund(&mut conn, actor, id, &draft).await {
            Ok((_, amount)) => {
                return Ok(Ok(done(uri!(super::show(id)).to_string(), format!("Refunded {} on order #{id}.", amount))))
            }
            Err(e) => refusal(e, &order, &lines)?,
        },
        Err(errors) => errors,
    };
    errors.add("form", "Nothing was refunded. Correct the fields marked below.");
    // Show the order as it is now: a refund made meanwhile changes what is left.
    let order = orders::find(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    let lines = orders::lines(&mut conn, id).await?;
    Ok(Err(RefundPage { chrome: chrome.on("orders"), order, lines, form, errors }))
}

/// The field errors a refused refund explains; any other failure is returned.
fn refusal(e: RefundError, order: &Order, lines: &[Line]) -> Result<FieldErrors, AppError> {
    let mut errors = FieldErrors::default();
    let name = |id: i64| lines.iter().find(|l| l.product_id == id).map_or("it", |l| l.product_name.as_str());
    match e {
        RefundError::NotRefundable(_) => errors.add("form", not_refundable(order)),
        RefundError::TooMany { product_id, left } => errors.add(
            &qty_key(&product_id),
            format!("At most {left} of {} can be refunded now (another refund was just made).", name(product_id)),
        ),
        RefundError::NotOnOrder { .. } => {
            errors.add("form", "A line of this order is no longer on it. Check the order and try again.")
        }
        RefundError::MoreThanPaid { left } => errors.add(
            "extra",
            format!("The refund would be more than was paid: at most {} is left to refund on this order.", left),
        ),
        RefundError::Nothing => {
            errors.add("form", "Enter a quantity for at least one line, or a shipping or goodwill amount.")
        }
        RefundError::Db(DbError::NotFound) => return Err(AppError::NotFound),
        RefundError::Db(DbError::Constraint { constraint }) if constraint.starts_with("order") => {
            errors.add("form", "Another change to this order was made at the same time; check the amounts below.")
        }
        RefundError::Db(e) => return Err(e.into()),
    }
    Ok(errors)
}

/// The refund page's address, for links.
pub fn refund_href(id: &i64) -> String {
    uri!(refund_form(*id)).to_string()
}
