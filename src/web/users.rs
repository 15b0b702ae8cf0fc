//! Customer pages: list and search, view with their figures, latest orders
//! and the products they bought, create, edit, delete.

use askama::Template;
use askama_web::WebTemplate;
use futures::StreamExt;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, FromForm, State};
use rocket_db_pools::Connection;
use serde::Serialize;

use crate::db::staff::Staff;

use super::audit::Described as _;
use super::export::{Csv, Exports};
use super::forms::{parse_version, FieldErrors};
use super::listing::{parse_day, ListQuery, ListState};
use super::{done, encode, filters, refused, AdminForm, AppError, Chrome, HISTORY_ROWS, SECTION_ROWS};
use crate::db::listing::{Count, Position, Seek};
use crate::db::orders::{self, OrderRow};
use crate::db::purchases::{self, Bought, BOUGHT_SORTS};
use crate::db::users::{self, Figures, Filter, NewUser, User, UserRow};
use crate::db::{Db, DbError};
use crate::domain::{parse_text, Email, Money, Sku};

#[derive(Template, WebTemplate)]
#[template(path = "users/list.html")]
struct ListPage {
    chrome: Chrome,
    q: String,
    rows: Vec<UserRow>,
    list: ListState,
    has_orders: String,
    joined_from: String,
    joined_to: String,
    date_error: Option<&'static str>,
}

/// The customers list's filters from its query string, whether a date could
/// not be read, and the list URL that keeps them.
fn filter_of(query: &ListQuery<'_>) -> (Filter, bool, String) {
    let (from, to) = (parse_day(query.joined_from), parse_day(query.joined_to));
    let filter = Filter {
        q: query.search(),
        has_orders: match query.has_orders {
            Some("yes") => Some(true),
            Some("no") => Some(false),
            _ => None,
        },
        joined_from: from.ok().flatten(),
        joined_to: to.ok().flatten(),
    };
    let base = format!(
        "/users?q={}&has_orders={}&joined_from={}&joined_to={}",
        encode(&filter.q),
        filter.has_orders.map(|h| if h { "yes" } else { "no" }).unwrap_or(""),
        filter.joined_from.map(|d| d.to_string()).unwrap_or_default(),
        filter.joined_to.map(|d| d.to_string()).unwrap_or_default()
    );
    (filter, from.is_err() || to.is_err(), base)
}

#[get("/users?<query..>")]
async fn list(chrome: Chrome, mut db: Connection<Db>, query: ListQuery<'_>) -> Result<ListPage, AppError> {
    let (filter, bad_date, base) = filter_of(&query);
    let seek = query.seek(&users::SORTS);
    let page = users::search(&mut db, &filter, &seek).await?;
    let count = users::count_matching(&mut db, &filter).await?;
    let list = ListState::new(base, &seek, users::SORTS[0].key, count, ("customer", "customers"), &page);
    Ok(ListPage {
        chrome: chrome.on("users"),
        rows: page.rows,
        list,
        has_orders: query.has_orders.unwrap_or("").to_string(),
        joined_from: query.joined_from.unwrap_or("").trim().to_string(),
        joined_to: query.joined_to.unwrap_or("").trim().to_string(),
        date_error: bad_date.then_some("Enter dates as YYYY-MM-DD."),
        q: filter.q,
    })
}

/// One customer in the CSV export.
#[derive(Serialize)]
struct UserCsv {
    id: i64,
    name: String,
    email: Email,
    customer_since: String,
    orders: i64,
    revenue: Money,
}

#[get("/users.csv?<query..>")]
async fn export(_signed_in: Staff, db: &Db, exports: &State<Exports>, query: ListQuery<'_>) -> Result<Csv, AppError> {
    let (filter, bad_date, _) = filter_of(&query);
    if bad_date {
        return Err(AppError::BadRequest(
            "The customers were not exported: enter dates as YYYY-MM-DD (from 0001-01-01).".into(),
        ));
    }
    let seek = query.seek(&users::SORTS).from_start();
    let slot = exports.slot().await?;
    let rows = users::export(db.conn().await?, filter, seek).map(|row| {
        row.map(|u| UserCsv {
            id: u.id,
            name: u.name,
            email: u.email,
            customer_since: u.created_at.to_rfc3339(),
            orders: u.order_count,
            revenue: u.revenue_cents,
        })
    });
    Csv::spool(exports, slot, "customers.csv", &["id", "name", "email", "customer_since", "orders", "revenue"], rows)
        .await
}

#[derive(Template, WebTemplate)]
#[template(path = "users/show.html")]
struct ShowPage {
    chrome: Chrome,
    user: User,
    figures: Figures,
    /// The latest few orders; the orders list has them all.
    orders: Vec<OrderRow>,
    /// One page of the products they bought.
    products: Vec<Bought>,
    list: ListState,
    history: Vec<crate::db::audit::Entry>,
}

#[get("/users/<id>?<query..>")]
async fn show(chrome: Chrome, mut db: Connection<Db>, id: i64, query: ListQuery<'_>) -> Result<ShowPage, AppError> {
    let user = users::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let figures = users::figures(&mut db, id).await?;
    let latest = Seek::new(&orders::SORTS, Some("placed"), Some("desc"), Position::First, SECTION_ROWS / 2);
    let orders = orders::search(&mut db, &orders::Filter { user_id: Some(id), ..Default::default() }, &latest).await?;
    let seek = query.seek_rows(&BOUGHT_SORTS, SECTION_ROWS);
    let page = purchases::bought(&mut db, id, &seek).await?;
    let list = ListState::new(
        format!("/users/{id}?"),
        &seek,
        BOUGHT_SORTS[0].key,
        Count::Exact(figures.product_count),
        ("product", "products"),
        &page,
    )
    .section(format!("/users/{id}/products.csv"), "products-bought");
    let history = crate::db::audit::history(&mut db, &["user"], id, HISTORY_ROWS).await?;
    Ok(ShowPage { chrome: chrome.on("users"), user, figures, orders: orders.rows, products: page.rows, list, history })
}

impl ShowPage {
    /// "1 order", "21,451 orders": every order, cancelled ones included.
    fn all_orders(&self) -> String {
        filters::counted(self.figures.all_orders, "order", "orders")
    }
}

/// One product in the CSV export of what a customer bought.
#[derive(Serialize)]
struct BoughtCsv {
    product_id: i64,
    name: String,
    sku: Sku,
    units: i64,
    spend: Money,
    orders: i64,
    last_bought: String,
}

#[get("/users/<id>/products.csv?<query..>")]
async fn products_export(
    _signed_in: Staff,
    db: &Db,
    exports: &State<Exports>,
    id: i64,
    query: ListQuery<'_>,
) -> Result<Csv, AppError> {
    let mut conn = db.conn().await?;
    users::find(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    let slot = exports.slot().await?;
    let seek = query.seek(&BOUGHT_SORTS).from_start();
    let rows = purchases::export_bought(conn, id, seek).map(|row| {
        row.map(|b| BoughtCsv {
            product_id: b.product_id,
            name: b.name,
            sku: b.sku,
            units: b.units,
            spend: b.spend_cents,
            orders: b.order_count,
            last_bought: b.last_bought_at.to_rfc3339(),
        })
    });
    let header = &["product_id", "name", "sku", "units", "spend", "orders", "last_bought"];
    Csv::spool(exports, slot, &format!("customer-{id}-products.csv"), header, rows).await
}

/// The customer form as typed, so it can be shown again with its errors.
#[derive(Debug, Default, Clone, FromForm)]
pub struct UserForm {
    #[field(default = String::new())]
    name: String,
    #[field(default = String::new())]
    email: String,
    #[field(default = String::new())]
    version: String,
}

impl UserForm {
    fn from_user(u: &User) -> UserForm {
        UserForm { name: u.name.clone(), email: u.email.to_string(), version: u.version.to_string() }
    }

    fn validate(&self) -> Result<NewUser, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = parse_text(&self.name, 200, "a name").map_err(|e| errors.add("name", e)).ok();
        let email = Email::parse(&self.email).map_err(|e| errors.add("email", e)).ok();
        match (name, email) {
            (Some(name), Some(email)) if errors.is_empty() => Ok(NewUser { name, email }),
            _ => Err(errors),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "users/form.html")]
struct FormPage {
    chrome: Chrome,
    /// `None` for a new customer.
    user: Option<User>,
    form: UserForm,
    errors: FieldErrors,
    /// Set when someone else saved the customer after this form was opened.
    conflict: Option<User>,
}

#[get("/users/new")]
fn new(chrome: Chrome) -> FormPage {
    FormPage {
        chrome: chrome.on("users"),
        user: None,
        form: UserForm::default(),
        errors: FieldErrors::default(),
        conflict: None,
    }
}

#[get("/users/<id>/edit")]
async fn edit(chrome: Chrome, mut db: Connection<Db>, id: i64) -> Result<FormPage, AppError> {
    let user = users::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    Ok(FormPage {
        chrome: chrome.on("users"),
        form: UserForm::from_user(&user),
        user: Some(user),
        errors: FieldErrors::default(),
        conflict: None,
    })
}

type Submitted = super::Submitted<FormPage>;

#[post("/users", data = "<form>")]
async fn create(chrome: Chrome, db: &Db, form: AdminForm<UserForm>) -> Submitted {
    let mut db = db.conn().await?;
    let actor = form.actor();
    let form = form.form;
    let mut errors = match form.validate() {
        Ok(new) => match users::create(&mut db, actor, &new).await {
            Ok(id) => return Ok(Ok(done(format!("/users/{id}"), format!("Customer {} created.", new.name)))),
            Err(DbError::Constraint { constraint }) => {
                let mut errors = FieldErrors::default();
                if !errors.add_constraint(&constraint) {
                    return Err(DbError::Constraint { constraint }.into());
                }
                errors
            }
            Err(e) => return Err(e.into()),
        },
        Err(errors) => errors,
    };
    errors.add("form", "Please correct the highlighted fields.");
    Ok(Err(FormPage { chrome: chrome.on("users"), user: None, form, errors, conflict: None }))
}

#[post("/users/<id>", data = "<form>")]
async fn update(chrome: Chrome, db: &Db, id: i64, form: AdminForm<UserForm>) -> Submitted {
    let mut db = db.conn().await?;
    let actor = form.actor();
    let mut form = form.form;
    let user = users::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let mut conflict = None;
    let mut errors = match (form.validate(), parse_version(&form.version)) {
        (Ok(changed), Some(version)) => match users::update(&mut db, actor, id, version, &changed).await {
            Ok(()) => return Ok(Ok(done(format!("/users/{id}"), format!("Customer {} saved.", changed.name)))),
            Err(DbError::Constraint { constraint }) => {
                let mut errors = FieldErrors::default();
                if !errors.add_constraint(&constraint) {
                    return Err(DbError::Constraint { constraint }.into());
                }
                errors
            }
            Err(DbError::Conflict) => {
                conflict = users::find(&mut db, id).await?;
                FieldErrors::default()
            }
            Err(e) => return Err(e.into()),
        },
        (Ok(_), None) => {
            conflict = Some(user.clone());
            FieldErrors::default()
        }
        (Err(errors), _) => errors,
    };
    if let Some(current) = &conflict {
        // Saving again applies the typed values over the version shown.
        form.version = current.version.to_string();
    } else {
        errors.add("form", "Please correct the highlighted fields.");
    }
    Ok(Err(FormPage { chrome: chrome.on("users"), user: Some(user), form, errors, conflict }))
}

#[derive(Template, WebTemplate)]
#[template(path = "users/delete.html")]
struct DeletePage {
    chrome: Chrome,
    user: User,
    figures: Figures,
}

#[get("/users/<id>/delete")]
async fn confirm_delete(chrome: Chrome, mut db: Connection<Db>, id: i64) -> Result<DeletePage, AppError> {
    let user = users::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let figures = users::figures(&mut db, id).await?;
    Ok(DeletePage { chrome: chrome.on("users"), user, figures })
}

#[derive(Debug, FromForm)]
struct DeleteForm {
    #[field(default = String::new())]
    version: String,
}

#[post("/users/<id>/delete", data = "<form>")]
async fn delete(_signed_in: Staff, db: &Db, id: i64, form: AdminForm<DeleteForm>) -> Result<Flash<Redirect>, AppError> {
    let mut db = db.conn().await?;
    let actor = form.actor();
    let user = users::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let Some(version) = parse_version(&form.form.version) else {
        return Ok(refused(format!("/users/{id}/delete"), "Please confirm the deletion again."));
    };
    match users::delete(&mut db, actor, id, version).await {
        Ok(Ok(())) => Ok(done("/users".into(), format!("Customer {} deleted.", user.name))),
        Ok(Err(orders)) => Ok(refused(
            format!("/users/{id}"),
            format!(
                "{} can't be deleted: they have {} (cancelled or not). Delete or reassign those orders first.",
                user.name,
                filters::counted(orders, "order", "orders")
            ),
        )),
        Err(DbError::Conflict) => Ok(refused(
            format!("/users/{id}/delete"),
            format!(
                "{} was changed by someone else while you were deciding. Check the details and confirm again.",
                user.name
            ),
        )),
        Err(DbError::NotFound) => Ok(done("/users".into(), format!("Customer {} was already deleted.", user.name))),
        Err(e) => Err(e.into()),
    }
}

pub fn routes() -> Vec<rocket::Route> {
    routes![list, export, show, products_export, new, edit, create, update, confirm_delete, delete]
}
