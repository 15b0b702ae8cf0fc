//! Taking mistakes back: a change set's page (an import, a bulk action, an
//! undo or a restore, with its audit entries), undoing an import or a bulk
//! action after a confirmation page, and the history page of a deleted
//! customer, product or order, from which it is restored.

use crate::web::read::PageConn;
use askama::Template;
use askama_web::WebTemplate;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, FromForm};
use sqlx::PgConnection;

use super::filters::{self, counted};
use super::history::Described as _;
use super::{done, refused, AdminForm, AppError, Chrome, HISTORY_ROWS, PAGE_SIZE};
use crate::db::audit::{self, Entry};
use crate::db::change_sets::{self, Described};
use crate::db::undo::{self, Deleted, DeletedLine, Record, TakeBackError, UndoPlan};
use crate::db::{Actor, Db};
use crate::domain::{Money, Status};

/// A confirmation form: nothing but its CSRF token.
#[derive(Debug, FromForm)]
pub struct Confirm {
    #[allow(dead_code)]
    confirm: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "changes/show.html")]
struct ChangePage {
    chrome: Chrome,
    set: Described,
    rows: Vec<Entry>,
    /// The first entry of this page is after this one (0: the first page).
    after: i64,
    /// The cursor of the next page, if there is one.
    next: Option<i64>,
}

/// A change set and its audit entries, a page at a time.
#[get("/changes/<id>?<after>")]
async fn show(mut db: PageConn, chrome: Chrome, id: i64, after: Option<i64>) -> Result<ChangePage, AppError> {
    let set = change_sets::described(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let after = after.unwrap_or(0).max(0);
    let mut rows = change_sets::entries(&mut db, id, after, PAGE_SIZE + 1).await?;
    let next = (rows.len() as i64 > PAGE_SIZE).then(|| {
        rows.truncate(PAGE_SIZE as usize);
        rows.last().map(|r| r.id).unwrap_or(after)
    });
    Ok(ChangePage { chrome: chrome.on("audit"), set, rows, after, next })
}

#[derive(Template, WebTemplate)]
#[template(path = "changes/undo.html")]
struct UndoPage {
    chrome: Chrome,
    set: Described,
    plan: UndoPlan,
}

impl UndoPage {
    fn count(&self, n: impl std::borrow::Borrow<i64>, one: &str, many: &str) -> String {
        counted(*n.borrow(), one, many)
    }
}

/// Why a record is left alone, as the confirmation page says it.
pub(crate) fn left_alone_because(entity: &str, outcome: &str) -> &'static str {
    match (entity, outcome) {
        ("user", "referenced") => "it has orders now, which must keep their customer",
        ("product", "referenced") => "it is on order lines now, which must keep their product",
        (_, "changed") => "it was changed since, so its later changes are kept",
        _ => "it cannot be taken back",
    }
}

/// Where an untouched record can be seen.
pub(crate) fn record_href(entity: &str, id: &i64) -> String {
    match entity {
        "user" => format!("/users/{id}/history"),
        "product" => format!("/products/{id}/history"),
        _ => format!("/orders/{id}/history"),
    }
}

pub(crate) fn entity_noun(entity: &str) -> &'static str {
    match entity {
        "user" => "Customer",
        "product" => "Product",
        _ => "Order",
    }
}

/// The confirmation page of an undo: what it will restore and delete, and
/// what it will leave alone and why.
#[get("/changes/<id>/undo")]
async fn confirm_undo(mut db: PageConn, chrome: Chrome, id: i64) -> Result<UndoPage, AppError> {
    let set = change_sets::described(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let plan = if set.undoable() { undo::plan(&mut db, id).await? } else { UndoPlan::default() };
    Ok(UndoPage { chrome: chrome.on("audit"), set, plan })
}

/// Undoes a change set, then shows the undo's own set.
#[post("/changes/<id>/undo", data = "<form>")]
async fn apply_undo(db: &Db, id: i64, form: AdminForm<Confirm>) -> Result<Flash<Redirect>, AppError> {
    let mut conn = db.conn().await?;
    let back = format!("/changes/{id}/undo");
    match undo::undo(&mut conn, form.actor(), id).await {
        Ok(undone) => {
            let mut said = format!(
                "Undone: {} restored to their earlier values, {} deleted, {} brought back.",
                counted(undone.reverted as i64, "record", "records"),
                counted(undone.deleted as i64, "created record", "created records"),
                counted(undone.restored as i64, "deleted record", "deleted records"),
            );
            if undone.untouched > 0 {
                said.push_str(&format!(
                    " {} left as {} (changed since, or referred to).",
                    counted(undone.untouched as i64, "record was", "records were"),
                    if undone.untouched == 1 { "it is" } else { "they are" }
                ));
            }
            Ok(done(format!("/changes/{}", undone.set), said))
        }
        Err(e) => Ok(refused(back, refusal(&e, None)?)),
    }
}

/// A refused undo or restore as a sentence; errors that are ours stay errors.
fn refusal(e: &TakeBackError, record: Option<Record>) -> Result<String, AppError> {
    let noun = record.map(Record::noun).unwrap_or("record");
    Ok(match e {
        TakeBackError::NotFound => return Err(AppError::NotFound),
        TakeBackError::NotUndoable => {
            "Nothing was changed: only imports and bulk actions can be undone. To take back a restore, delete the record again.".to_string()
        }
        TakeBackError::AlreadyUndone => "Nothing was changed: this change was already undone.".to_string(),
        TakeBackError::StillRunning => {
            "Nothing was changed: the job making this change is still running. Cancel it or let it finish, then undo it.".to_string()
        }
        TakeBackError::NothingToUndo => {
            "Nothing was changed: every record this change touched was changed since, or is referred to now, so there is nothing left to undo.".to_string()
        }
        TakeBackError::Exists => {
            format!("Nothing was changed: this {noun} exists, so there is nothing to restore (it was restored already).")
        }
        TakeBackError::EmailTaken(email, by) => format!(
            "This customer can't be restored: their email {email} is used by the customer {by} now. Change that customer's email first."
        ),
        TakeBackError::SkuTaken(sku, by) => format!(
            "This product can't be restored: its SKU {sku} is used by the product {by} now. Change that product's SKU first."
        ),
        TakeBackError::MissingCustomer(id, name) => {
            let who = if name.is_empty() { format!("customer #{id}") } else { format!("{name} (customer #{id})") };
            format!("This order can't be restored: its customer {who} no longer exists. Restore the customer first.")
        }
        TakeBackError::MissingProducts(products) => {
            let names: Vec<String> = products
                .iter()
                .map(|(id, name)| if name.is_empty() { format!("product #{id}") } else { format!("{name} (#{id})") })
                .collect();
            format!(
                "This order can't be restored: {} no longer {}. Restore {} first.",
                names.join(", "),
                if products.len() == 1 { "exists" } else { "exist" },
                if products.len() == 1 { "it" } else { "them" }
            )
        }
        TakeBackError::OutOfStock(short) => {
            let names: Vec<String> = short
                .iter()
                .map(|(name, available, needed)| {
                    format!("{name} ({} in stock, {} needed)", filters::format_count(*available), filters::format_count(*needed))
                })
                .collect();
            format!("Nothing was changed: there is not enough stock for the orders to hold again: {}.", names.join("; "))
        }
        TakeBackError::Clash(constraint) => match constraint.as_str() {
            "users_email_key" => "Nothing was changed: an email it would put back is used by another customer now.".to_string(),
            "products_sku_key" => "Nothing was changed: a SKU it would put back is used by another product now.".to_string(),
            "orders_user_id_fkey" | "order_items_product_id_fkey" => {
                "Nothing was changed: records changed while this ran (an order now refers to one it would remove, or one it needs is gone). Review it again.".to_string()
            }
            _ => "Nothing was changed: the values it would put back are not allowed now.".to_string(),
        },
        TakeBackError::Db(_) => {
            return Err(AppError::Internal(Box::new(std::io::Error::other(e.to_string()))));
        }
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "changes/record.html")]
struct RecordPage {
    chrome: Chrome,
    record: Record,
    id: i64,
    /// How it was deleted, if it was; `None` when it exists and was never deleted.
    deleted: Option<Deleted>,
    /// An order's lines as deleted.
    lines: Vec<DeletedLine>,
    /// Whether the record exists now.
    exists: bool,
    /// Why a restore would be refused now (`None`: it would go ahead).
    refusal: Option<String>,
    history: Vec<Entry>,
}

impl RecordPage {
    fn title(&self) -> String {
        match self.record {
            Record::Order => format!("Order #{}", self.id),
            _ => {
                let name = self.deleted.as_ref().map(|d| d.field("name")).unwrap_or_default();
                if name.is_empty() {
                    format!("{} #{}", entity_noun(self.record.entity()), self.id)
                } else {
                    name
                }
            }
        }
    }
    fn base(&self) -> &'static str {
        match self.record {
            Record::Customer => "users",
            Record::Product => "products",
            Record::Order => "orders",
        }
    }
    fn noun(&self) -> &'static str {
        self.record.noun()
    }
    fn money(&self, key: &str) -> Money {
        Money::from_cents(self.deleted.as_ref().map(|d| d.number(key)).unwrap_or_default())
    }
    fn text(&self, key: &str) -> String {
        self.deleted.as_ref().map(|d| d.field(key)).unwrap_or_default()
    }
    fn number(&self, key: &str) -> i64 {
        self.deleted.as_ref().map(|d| d.number(key)).unwrap_or_default()
    }
    fn status(&self) -> Option<Status> {
        Status::parse(&self.text("status"))
    }
    fn holds_stock(&self) -> bool {
        self.status().is_some_and(Status::holds_stock)
    }
    fn line_price(&self, line: &DeletedLine) -> Money {
        Money::from_cents(line.unit_price_cents)
    }
}

/// Whether record `id` of kind `record` exists now.
async fn exists(conn: &mut PgConnection, record: Record, id: i64) -> Result<bool, AppError> {
    Ok(match record {
        Record::Customer => crate::db::users::find(conn, id).await?.is_some(),
        Record::Product => crate::db::products::find(conn, id).await?.is_some(),
        Record::Order => crate::db::orders::find(conn, id).await?.is_some(),
    })
}

/// The history of a record, deleted or not, and for a deleted one what
/// restoring it would do (tried and rolled back, so what is shown is what a
/// restore does).
async fn record_page(chrome: Chrome, db: &mut PgConnection, record: Record, id: i64) -> Result<RecordPage, AppError> {
    let entities: &[&str] = if record == Record::Order { &["order", "order_line"] } else { &[record.entity()] };
    let history = audit::history(db, entities, id, HISTORY_ROWS).await?;
    let exists = exists(db, record, id).await?;
    let deleted = if exists { None } else { undo::last_deleted(db, record, id).await? };
    if !exists && deleted.is_none() {
        return Err(AppError::NotFound);
    }
    let lines = match &deleted {
        Some(d) if record == Record::Order => undo::deleted_lines(db, d).await?,
        _ => Vec::new(),
    };
    let refusal = match &deleted {
        Some(_) => {
            let actor: Actor = chrome.staff.as_ref().map(|s| s.id);
            match undo::restore(db, actor, record, id, false).await {
                Ok(()) => None,
                Err(e) => Some(refusal(&e, Some(record))?),
            }
        }
        None => None,
    };
    let active = match record {
        Record::Customer => "users",
        Record::Product => "products",
        Record::Order => "orders",
    };
    Ok(RecordPage { chrome: chrome.on(active), record, id, deleted, lines, exists, refusal, history })
}

/// Restores a deleted record, then shows it.
async fn restore(db: &Db, record: Record, id: i64, form: AdminForm<Confirm>) -> Result<Flash<Redirect>, AppError> {
    let mut conn = db.conn().await?;
    let base = match record {
        Record::Customer => "users",
        Record::Product => "products",
        Record::Order => "orders",
    };
    match undo::restore(&mut conn, form.actor(), record, id, true).await {
        Ok(()) => Ok(done(format!("/{base}/{id}"), format!("Restored the {} with its number #{id}.", record.noun()))),
        Err(e) => Ok(refused(format!("/{base}/{id}/history"), refusal(&e, Some(record))?)),
    }
}

#[get("/users/<id>/history")]
async fn customer_history(mut db: PageConn, chrome: Chrome, id: i64) -> Result<RecordPage, AppError> {
    record_page(chrome, &mut db, Record::Customer, id).await
}

#[get("/products/<id>/history")]
async fn product_history(mut db: PageConn, chrome: Chrome, id: i64) -> Result<RecordPage, AppError> {
    record_page(chrome, &mut db, Record::Product, id).await
}

#[get("/orders/<id>/history")]
async fn order_history(mut db: PageConn, chrome: Chrome, id: i64) -> Result<RecordPage, AppError> {
    record_page(chrome, &mut db, Record::Order, id).await
}

#[post("/users/<id>/restore", data = "<form>")]
async fn restore_customer(db: &Db, id: i64, form: AdminForm<Confirm>) -> Result<Flash<Redirect>, AppError> {
    restore(db, Record::Customer, id, form).await
}

#[post("/products/<id>/restore", data = "<form>")]
async fn restore_product(db: &Db, id: i64, form: AdminForm<Confirm>) -> Result<Flash<Redirect>, AppError> {
    restore(db, Record::Product, id, form).await
}

#[post("/orders/<id>/restore", data = "<form>")]
async fn restore_order(db: &Db, id: i64, form: AdminForm<Confirm>) -> Result<Flash<Redirect>, AppError> {
    restore(db, Record::Order, id, form).await
}

pub fn routes() -> Vec<rocket::Route> {
    routes![
        show,
        confirm_undo,
        apply_undo,
        customer_history,
        product_history,
        order_history,
        restore_customer,
        restore_product,
        restore_order
    ]
}

/// Mounts these pages.
pub fn stage() -> rocket::fairing::AdHoc {
    super::stage("Undo and restore", routes())
}
