//! Creating, editing and deleting a customer, through the shared edit flow.

use crate::web::read::PageConn;
use askama::Template;
use askama_web::WebTemplate;
use rocket::http::uri::Origin;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, uri, FromForm};
use sqlx::PgConnection;

use super::UsersQuery;
use crate::db::staff::Staff;
use crate::db::users::{self, Figures, NewUser, User};
use crate::db::{Actor, Db, DbError};
use crate::domain::{parse_text, Email};
use crate::web::edit::{self as flow, DeleteForm, Editable, Editing, Page, Resource};
use crate::web::filters;
use crate::web::forms::FieldErrors;
use crate::web::listing::{Paged, Paging};
use crate::web::{AdminForm, AppError, Chrome, Submitted};

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

#[derive(Template, WebTemplate)]
#[template(path = "users/form.html")]
pub struct FormPage {
    chrome: Chrome,
    /// `None` for a new customer.
    user: Option<User>,
    form: UserForm,
    errors: FieldErrors,
    /// Set when someone else saved the customer after this form was opened.
    conflict: Option<User>,
}

impl FormPage {
    /// Where the form is sent.
    fn action(&self) -> Origin<'static> {
        match &self.user {
            Some(u) => uri!(update(u.id)),
            None => uri!(create),
        }
    }

    /// Where Cancel goes.
    fn back(&self) -> Origin<'static> {
        match &self.user {
            Some(u) => uri!(super::show(u.id, _)),
            None => Customers::uri(Page::List),
        }
    }
}

/// Customers in the shared edit flow.
pub struct Customers;

impl Resource for Customers {
    type Record = User;
    const AREA: &'static str = "users";
    const KIND: &'static str = "Customer";

    async fn find(db: &mut PgConnection, id: i64) -> Result<Option<User>, DbError> {
        users::find(db, id).await
    }

    fn version(user: &User) -> i32 {
        user.version
    }

    fn name(user: &User) -> String {
        user.name.clone()
    }

    fn uri(page: Page) -> Origin<'static> {
        match page {
            Page::List => uri!(super::list(Paged::<UsersQuery>::default())),
            Page::Show(id) => uri!(super::show(id, _)),
            Page::Edit(id) => uri!(edit(id)),
            Page::Delete(id) => uri!(confirm_delete(id)),
            Page::New => uri!(new),
        }
    }

    async fn delete(
        db: &mut PgConnection,
        actor: Actor,
        user: &User,
        version: i32,
    ) -> Result<Result<(), String>, DbError> {
        Ok(users::delete(db, actor, user.id, version).await?.map_err(|orders| {
            format!(
                "{} can't be deleted: they have {} (cancelled or not). Delete or reassign those orders first.",
                user.name,
                filters::counted(orders, "order", "orders")
            )
        }))
    }
}

impl Editable for Customers {
    type Form = UserForm;
    type Valid = NewUser;
    type Page = FormPage;

    fn form_of(u: &User) -> UserForm {
        UserForm { name: u.name.clone(), email: u.email.to_string(), version: u.version.to_string() }
    }

    fn version_field(form: &mut UserForm) -> &mut String {
        &mut form.version
    }

    fn validate(form: &UserForm) -> Result<NewUser, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = parse_text(&form.name, 200, "a name").map_err(|e| errors.add("name", e)).ok();
        let email = Email::parse(&form.email).map_err(|e| errors.add("email", e)).ok();
        match (name, email) {
            (Some(name), Some(email)) if errors.is_empty() => Ok(NewUser { name, email }),
            _ => Err(errors),
        }
    }

    fn name_of(new: &NewUser) -> &str {
        &new.name
    }

    fn page(chrome: Chrome, e: Editing<Self>) -> FormPage {
        FormPage { chrome, user: e.record, form: e.form, errors: e.errors, conflict: e.conflict }
    }

    async fn create(db: &mut PgConnection, actor: Actor, new: &NewUser) -> Result<i64, DbError> {
        users::create(db, actor, new).await
    }

    async fn update(db: &mut PgConnection, actor: Actor, id: i64, version: i32, new: &NewUser) -> Result<(), DbError> {
        users::update(db, actor, id, version, new).await
    }
}

#[get("/users/new")]
pub(super) fn new(chrome: Chrome) -> FormPage {
    flow::new::<Customers>(chrome)
}

#[get("/users/<id>/edit")]
pub(super) async fn edit(mut db: PageConn, chrome: Chrome, id: i64) -> Result<FormPage, AppError> {
    flow::edit::<Customers>(chrome, &mut db, id).await
}

#[post("/users", data = "<form>")]
pub(super) async fn create(chrome: Chrome, db: &Db, form: AdminForm<UserForm>) -> Submitted<FormPage> {
    flow::create::<Customers>(chrome, db, form).await
}

#[post("/users/<id>", data = "<form>")]
pub(super) async fn update(chrome: Chrome, db: &Db, id: i64, form: AdminForm<UserForm>) -> Submitted<FormPage> {
    flow::update::<Customers>(chrome, db, id, form).await
}

#[derive(Template, WebTemplate)]
#[template(path = "users/delete.html")]
pub(super) struct DeletePage {
    chrome: Chrome,
    user: User,
    figures: Figures,
}

#[get("/users/<id>/delete")]
pub(super) async fn confirm_delete(mut db: PageConn, chrome: Chrome, id: i64) -> Result<DeletePage, AppError> {
    let user = users::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let figures = users::figures(&mut db, id).await?;
    Ok(DeletePage { chrome: chrome.on("users"), user, figures })
}

#[post("/users/<id>/delete", data = "<form>")]
pub(super) async fn delete(
    _signed_in: Staff,
    db: &Db,
    id: i64,
    form: AdminForm<DeleteForm>,
) -> Result<Flash<Redirect>, AppError> {
    flow::delete::<Customers>(db, id, form).await
}
