//! Search-as-you-type for the customer and product choices (the order form,
//! the orders list's product filter): at most a few dozen matches from an
//! index, never a whole table. Each match carries what a chosen item shows:
//! its name, and its email, or its SKU, price and stock.
//!
//! They answer JSON whatever happens: without a session, 401 and a short
//! JSON body (never the HTML redirect to the sign-in page that pages get),
//! so `picker.js` can say the session ended.

use rocket::http::Status;
use rocket::request::Outcome;
use rocket::response::status::Custom;
use rocket::serde::json::Json;
use rocket::{get, routes};
use serde::Serialize;

use super::read::Reader;
use super::AppError;
use crate::db::staff::Staff;
use crate::db::{products, users};

#[derive(Serialize)]
pub struct Pick {
    id: i64,
    /// Everything in one line, as the choice reads without JavaScript.
    label: String,
    name: String,
    /// The email, or the SKU, price and stock.
    detail: String,
    /// Products only: for the order form's running total and stock check.
    #[serde(skip_serializing_if = "Option::is_none")]
    price_cents: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stock: Option<i32>,
}

/// Why a picker did not search.
#[derive(Serialize)]
pub struct Refusal {
    error: &'static str,
    message: &'static str,
}

#[derive(rocket::Responder)]
pub enum Picked {
    Found(Json<Vec<Pick>>),
    Refused(Custom<Json<Refusal>>),
}

/// The signed-in staff member, or the JSON refusal a picker answers with.
fn signed_in(staff: Outcome<Staff, ()>) -> Result<Staff, Picked> {
    let status = match staff {
        Outcome::Success(staff) => return Ok(staff),
        Outcome::Error((status, ())) => status,
        Outcome::Forward(status) => status,
    };
    let refusal = match status {
        Status::Unauthorized => Refusal { error: "signed_out", message: "Your session ended — sign in again." },
        Status::Forbidden => {
            Refusal { error: "forbidden", message: "Set up two-factor sign-in on your account page first." }
        }
        _ => Refusal { error: "unavailable", message: "The search is unavailable right now; try again." },
    };
    Err(Picked::Refused(Custom(status, Json(refusal))))
}

#[get("/pickers/customers?<q>")]
async fn pick_customers(staff: Outcome<Staff, ()>, db: Reader<'_>, q: Option<&str>) -> Result<Picked, AppError> {
    if let Err(refused) = signed_in(staff) {
        return Ok(refused);
    }
    let found = users::pick(&mut *db.conn().await?, q.unwrap_or("")).await?;
    Ok(Picked::Found(Json(
        found
            .into_iter()
            .map(|u| Pick {
                id: u.id,
                label: format!("{} ({})", u.name, u.email),
                name: u.name,
                detail: u.email.to_string(),
                price_cents: None,
                stock: None,
            })
            .collect(),
    )))
}

#[get("/pickers/products?<q>")]
async fn pick_products(staff: Outcome<Staff, ()>, db: Reader<'_>, q: Option<&str>) -> Result<Picked, AppError> {
    if let Err(refused) = signed_in(staff) {
        return Ok(refused);
    }
    let found = products::pick(&mut *db.conn().await?, q.unwrap_or("")).await?;
    Ok(Picked::Found(Json(
        found
            .into_iter()
            .map(|p| {
                let detail = format!("{} · {} · {} in stock", p.sku, p.price_cents, p.stock);
                Pick {
                    id: p.id,
                    label: format!("{} · {detail}", p.name),
                    name: p.name,
                    detail,
                    price_cents: Some(p.price_cents.cents()),
                    stock: Some(p.stock),
                }
            })
            .collect(),
    )))
}

pub fn routes() -> Vec<rocket::Route> {
    routes![pick_customers, pick_products]
}

/// Mounts these pages.
pub fn stage() -> rocket::fairing::AdHoc {
    super::stage("Pickers", routes())
}
