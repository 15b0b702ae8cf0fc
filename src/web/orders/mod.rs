//! Order pages: the filtered list ([`list`]), one order with its lines and
//! history, the form that edits an order and its lines ([`form`]), deleting
//! an order, and bulk actions on many ([`bulk`]).

mod bulk;
mod form;
mod list;

use askama::Template;
use askama_web::WebTemplate;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, FromForm};
use rocket_db_pools::Connection;

pub use list::OrdersQuery;

use crate::db::orders::{self, Line, Order};
use crate::db::staff::Staff;
use crate::db::{Db, DbError};
use crate::web::audit::Described as _;
use crate::web::forms::parse_version;
use crate::web::{done, filters, refused, AdminForm, AppError, Chrome, HISTORY_ROWS};

#[derive(Template, WebTemplate)]
#[template(path = "orders/show.html")]
struct ShowPage {
    chrome: Chrome,
    order: Order,
    lines: Vec<Line>,
    history: Vec<crate::db::audit::Entry>,
}

#[get("/orders/<id>")]
async fn show(chrome: Chrome, mut db: Connection<Db>, id: i64) -> Result<ShowPage, AppError> {
    let order = orders::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let lines = orders::lines(&mut db, id).await?;
    let history = crate::db::audit::history(&mut db, &["order", "order_line"], id, HISTORY_ROWS).await?;
    Ok(ShowPage { chrome: chrome.on("orders"), order, lines, history })
}

#[derive(Template, WebTemplate)]
#[template(path = "orders/delete.html")]
struct DeletePage {
    chrome: Chrome,
    order: Order,
    lines: Vec<Line>,
}

#[get("/orders/<id>/delete")]
async fn confirm_delete(chrome: Chrome, mut db: Connection<Db>, id: i64) -> Result<DeletePage, AppError> {
    let order = orders::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let lines = orders::lines(&mut db, id).await?;
    Ok(DeletePage { chrome: chrome.on("orders"), order, lines })
}

#[derive(Debug, FromForm)]
struct DeleteForm {
    #[field(default = String::new())]
    version: String,
}

#[post("/orders/<id>/delete", data = "<form>")]
async fn delete(_signed_in: Staff, db: &Db, id: i64, form: AdminForm<DeleteForm>) -> Result<Flash<Redirect>, AppError> {
    let mut db = db.conn().await?;
    let actor = form.actor();
    let Some(version) = parse_version(&form.form.version) else {
        return Ok(refused(format!("/orders/{id}/delete"), "Please confirm the deletion again."));
    };
    match orders::delete(&mut db, actor, id, version).await {
        Ok(()) => Ok(done("/orders".into(), format!("Order #{id} and its lines deleted."))),
        Err(DbError::Conflict) => Ok(refused(
            format!("/orders/{id}/delete"),
            format!("Order #{id} was changed by someone else while you were deciding. Check it and confirm again."),
        )),
        Err(DbError::NotFound) => Ok(done("/orders".into(), format!("Order #{id} was already deleted."))),
        Err(e) => Err(e.into()),
    }
}

/// Mounts these pages.
pub fn stage() -> rocket::fairing::AdHoc {
    crate::web::stage(
        "Orders",
        routes![
            list::list,
            list::export,
            bulk::bulk_confirm,
            bulk::bulk_apply,
            show,
            form::new,
            form::edit,
            form::create,
            form::update,
            confirm_delete,
            delete
        ],
    )
}
