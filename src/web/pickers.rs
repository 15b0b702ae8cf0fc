//! Search-as-you-type for the customer and product choices (the order form,
//! the orders list's product filter): at most a few dozen matches from an
//! index, never a whole table. Each match carries what a chosen item shows:
//! its name, and its email, or its SKU, price and stock.

use rocket::serde::json::Json;
use rocket::{get, routes};
use rocket_db_pools::Connection;
use serde::Serialize;

use super::AppError;
use crate::db::staff::Staff;
use crate::db::{products, users, Db};

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

#[get("/pickers/customers?<q>")]
async fn pick_customers(
    _signed_in: Staff,
    mut db: Connection<Db>,
    q: Option<&str>,
) -> Result<Json<Vec<Pick>>, AppError> {
    let found = users::pick(&mut db, q.unwrap_or("")).await?;
    Ok(Json(
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
    ))
}

#[get("/pickers/products?<q>")]
async fn pick_products(
    _signed_in: Staff,
    mut db: Connection<Db>,
    q: Option<&str>,
) -> Result<Json<Vec<Pick>>, AppError> {
    let found = products::pick(&mut db, q.unwrap_or("")).await?;
    Ok(Json(
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
    ))
}

pub fn routes() -> Vec<rocket::Route> {
    routes![pick_customers, pick_products]
}

/// Mounts these pages.
pub fn stage() -> rocket::fairing::AdHoc {
    super::stage("Pickers", routes())
}
