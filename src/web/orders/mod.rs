//! Order pages: the filtered list ([`list`]), one order with its lines and
//! history, the form that edits an order and its lines ([`form`]), deleting
//! an order, and bulk actions on many ([`bulk`]).

mod bulk;
mod documents;
mod form;
mod list;
mod refunds;

use std::borrow::Borrow;

use crate::web::read::PageConn;
use askama::Template;
use askama_web::WebTemplate;
use rocket::http::uri::Origin;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, uri};
use sqlx::PgConnection;

pub use bulk::bulk_href;
pub use documents::ShopConfig;
pub use list::{view_uri, OrdersOf, OrdersQuery};
pub use refunds::{qty_key, refund_href};

/// The orders list filtered to a customer, a product and a status (`active`:
/// not cancelled); `0` and `""` leave a filter out.
pub fn list_href(
    user_id: impl Borrow<i64>,
    product_id: impl Borrow<i64>,
    status: &'static str,
) -> crate::web::links::Href {
    let id = |id: &i64| (*id > 0).then_some(*id);
    let (user_id, product_id) = (user_id.borrow(), product_id.borrow());
    OrdersOf { user_id: id(user_id), product_id: id(product_id), status: (!status.is_empty()).then_some(status) }.href()
}

use crate::db::orders::{self, Line, Order};
use crate::db::staff::Staff;
use crate::db::{Actor, Db, DbError};
use crate::web::edit::{self, DeleteForm, Page, Resource};
use crate::web::history::Described as _;
use crate::web::links::Href;
use crate::web::{done, filters, AdminForm, AppError, Chrome, HISTORY_ROWS};

#[derive(Template, WebTemplate)]
#[template(path = "orders/show.html")]
struct ShowPage {
    chrome: Chrome,
    order: Order,
    lines: Vec<Line>,
    history: Vec<crate::db::audit::Entry>,
    refunds: Vec<crate::db::refunds::Refund>,
    timeline: Vec<crate::db::refunds::Event>,
}

#[get("/orders/<id>")]
async fn show(mut db: PageConn, chrome: Chrome, id: i64) -> Result<ShowPage, AppError> {
    let order = orders::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let lines = orders::lines(&mut db, id).await?;
    let history = crate::db::audit::history(&mut db, &["order", "order_line"], id, HISTORY_ROWS).await?;
    let refunds = crate::db::refunds::refunds_of(&mut db, id).await?;
    let timeline = crate::db::refunds::timeline(&mut db, id).await?;
    Ok(ShowPage { chrome: chrome.on("orders"), order, lines, history, refunds, timeline })
}

#[derive(Template, WebTemplate)]
#[template(path = "orders/delete.html")]
struct DeletePage {
    chrome: Chrome,
    order: Order,
    lines: Vec<Line>,
}

#[get("/orders/<id>/delete")]
async fn confirm_delete(mut db: PageConn, chrome: Chrome, id: i64) -> Result<DeletePage, AppError> {
    let order = orders::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let lines = orders::lines(&mut db, id).await?;
    Ok(DeletePage { chrome: chrome.on("orders"), order, lines })
}

#[post("/orders/<id>/delete", data = "<form>")]
async fn delete(_signed_in: Staff, db: &Db, id: i64, form: AdminForm<DeleteForm>) -> Result<Flash<Redirect>, AppError> {
    edit::delete::<Orders>(db, id, form).await
}

/// An order's page, for a redirect.
pub(crate) fn show_path(id: i64) -> String {
    Orders::uri(Page::Show(id)).to_string()
}

/// Links to the order pages.
pub type Links = edit::Links<Orders>;

/// The form for a new order, for a customer unless `user_id` is `0`.
pub fn new_href(user_id: impl Borrow<i64>) -> Href {
    let user_id = Some(*user_id.borrow()).filter(|id| *id > 0).map(|id| id.to_string());
    uri!(form::new(user_id)).into()
}

/// Orders in the shared delete flow (the order form has its own save, for
/// its lines and searches).
pub struct Orders;

impl Resource for Orders {
    type Record = Order;
    const AREA: &'static str = "orders";
    const KIND: &'static str = "Order";
    const RECHECK: &'static str = "Check it and confirm again.";

    async fn find(db: &mut PgConnection, id: i64) -> Result<Option<Order>, DbError> {
        orders::find(db, id).await
    }

    fn version(order: &Order) -> i32 {
        order.version
    }

    fn name(order: &Order) -> String {
        format!("Order #{}", order.id)
    }

    fn title(order: &Order) -> String {
        Self::name(order)
    }

    fn uri(page: Page) -> Origin<'static> {
        match page {
            Page::List => OrdersOf::default().href().0,
            Page::Show(id) => uri!(show(id)),
            Page::Edit(id) => uri!(form::edit(id)),
            Page::Delete(id) => uri!(confirm_delete(id)),
            Page::New => uri!(form::new(_)),
        }
    }

    async fn delete(
        db: &mut PgConnection,
        actor: Actor,
        order: &Order,
        version: i32,
    ) -> Result<Result<(), String>, DbError> {
        match orders::delete(db, actor, order.id, version).await {
            // Refunds are permanent, and so is the order they were made on.
            Err(DbError::Constraint { constraint }) if constraint.starts_with("refund") => Ok(Err(format!(
                "Order #{} has refunds, so it can't be deleted: refunds stay on record with their order.",
                order.id
            ))),
            other => other.map(Ok),
        }
    }

    fn gone(id: i64) -> Result<Flash<Redirect>, AppError> {
        Ok(done(Self::uri(Page::List).to_string(), format!("Order #{id} was already deleted.")))
    }

    fn deleted(order: &Order) -> String {
        format!("Order #{} and its lines deleted.", order.id)
    }
}

/// Mounts these pages, with the shop's settings its printed documents use.
pub fn stage() -> rocket::fairing::AdHoc {
    let pages = crate::web::stage(
        "Orders",
        routes![
            list::list,
            list::export,
            list::export_xlsx,
            bulk::bulk_confirm,
            bulk::bulk_apply,
            show,
            form::new,
            form::edit,
            form::create,
            form::update,
            confirm_delete,
            delete,
            refunds::refund_form,
            refunds::refund,
            documents::invoice,
            documents::packing_slip,
            documents::packing_slips
        ],
    );
    rocket::fairing::AdHoc::on_ignite("Orders and their documents", |rocket| async move {
        let shop = ShopConfig::from_figment(rocket.figment());
        rocket.manage(shop).attach(pages)
    })
}
