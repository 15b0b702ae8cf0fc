//! Search-as-you-type for the order form's customer and product choices:
//! at most a few dozen matches from an index, never a whole table.

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
    label: String,
}

#[get("/pickers/customers?<q>")]
async fn pick_customers(
    _signed_in: Staff,
    mut db: Connection<Db>,
    q: Option<&str>,
) -> Result<Json<Vec<Pick>>, AppError> {
    let found = users::pick(&mut db, q.unwrap_or("")).await?;
    Ok(Json(found.into_iter().map(|u| Pick { id: u.id, label: format!("{} ({})", u.name, u.email) }).collect()))
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
            .map(|p| Pick {
                id: p.id,
                label: format!(
                    "{} · {} · {} · {} in stock",
                    p.name,
                    p.sku,
                    super::filters::format_money(p.price_cents),
                    p.stock
                ),
            })
            .collect(),
    ))
}

pub fn routes() -> Vec<rocket::Route> {
    routes![pick_customers, pick_products]
}
