//! Staff accounts: who can sign in, with which role. Admins add people,
//! change roles, reset passwords and disable accounts; viewers can look.

use askama::Template;
use askama_web::WebTemplate;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, FromForm};
use rocket_db_pools::Connection;

use super::forms::{parse_text, FieldErrors};
use super::{done, filters, refused, AdminForm, AppError, Chrome};
use crate::db::staff::{self, Change, NewStaff, Role, Staff};
use crate::db::{Db, DbError};

#[derive(Template, WebTemplate)]
#[template(path = "staff/list.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<Staff>,
    form: NewStaffForm,
    errors: FieldErrors,
}

#[get("/staff")]
async fn list(chrome: Chrome, mut db: Connection<Db>) -> Result<ListPage, AppError> {
    let rows = staff::all(&mut db).await?;
    Ok(ListPage { chrome: chrome.on("staff"), rows, form: NewStaffForm::default(), errors: FieldErrors::default() })
}

#[derive(Debug, Default, Clone, FromForm)]
pub struct NewStaffForm {
    #[field(default = String::new())]
    email: String,
    #[field(default = String::new())]
    display_name: String,
    #[field(default = String::from("viewer"))]
    role: String,
    #[field(default = String::new())]
    password: String,
}

#[post("/staff", data = "<form>")]
async fn create(chrome: Chrome, mut db: Connection<Db>, form: AdminForm<NewStaffForm>) -> super::Submitted<ListPage> {
    let actor = form.actor();
    let mut form = form.form;
    let mut errors = FieldErrors::default();
    let email = super::users::parse_email(&form.email).map_err(|e| errors.add("email", e)).ok();
    let name = parse_text(&form.display_name, 200, "a name").map_err(|e| errors.add("display_name", e)).ok();
    let role = Role::parse(form.role.trim());
    if role.is_none() {
        errors.add("role", "Choose admin or viewer.");
    }
    if let Err(e) = crate::passwords::check_strength(&form.password) {
        errors.add("password", e);
    }
    if let (Some(email), Some(display_name), Some(role), true) = (email, name, role, errors.is_empty()) {
        let password_hash = crate::passwords::hash_async(form.password.clone()).await.map_err(AppError::Internal)?;
        match staff::create(&mut db, actor, &NewStaff { email, display_name, role, password_hash }).await {
            Ok(_) => return Ok(Ok(done("/staff".into(), format!("{} can now sign in.", form.display_name.trim())))),
            Err(DbError::Constraint { constraint }) if constraint == "staff_email_key" => {
                errors.add("email", "A staff account with this email already exists.")
            }
            Err(e) => return Err(e.into()),
        }
    }
    form.password.clear();
    errors.add("form", "The account was not created. Please correct the highlighted fields.");
    let rows = staff::all(&mut db).await?;
    Ok(Err(ListPage { chrome: chrome.on("staff"), rows, form, errors }))
}

#[derive(Debug, FromForm)]
pub struct ChangeForm {
    /// One of `role`, `disable`, `enable`, `password`.
    #[field(default = String::new())]
    change: String,
    #[field(default = String::new())]
    role: String,
    #[field(default = String::new())]
    password: String,
}

#[post("/staff/<id>", data = "<form>")]
async fn change(
    _signed_in: Staff,
    mut db: Connection<Db>,
    id: i64,
    form: AdminForm<ChangeForm>,
) -> Result<Flash<Redirect>, AppError> {
    let target = staff::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let is_self = form.staff.id == id;
    let change = match form.form.change.as_str() {
        "role" => match Role::parse(form.form.role.trim()) {
            Some(Role::Viewer) if is_self => {
                return Ok(refused("/staff".into(), "You can't remove your own admin role; ask another admin."))
            }
            Some(role) => Change::Role(role),
            None => return Ok(refused("/staff".into(), "Choose admin or viewer.")),
        },
        "disable" if is_self => return Ok(refused("/staff".into(), "You can't disable your own account.")),
        "disable" => Change::Disabled(true),
        "enable" => Change::Disabled(false),
        "password" => {
            if let Err(e) = crate::passwords::check_strength(&form.form.password) {
                return Ok(refused(
                    "/staff".into(),
                    format!("The new password for {} was not set: {e}", target.display_name),
                ));
            }
            Change::Password(
                crate::passwords::hash_async(form.form.password.clone()).await.map_err(AppError::Internal)?,
            )
        }
        _ => return Ok(refused("/staff".into(), "Choose what to change.")),
    };
    let message = match &change {
        Change::Role(role) => {
            format!("{} is now {}.", target.display_name, if *role == Role::Admin { "an admin" } else { "a viewer" })
        }
        Change::Disabled(true) => format!("{} is disabled and signed out everywhere.", target.display_name),
        Change::Disabled(false) => format!("{} can sign in again.", target.display_name),
        Change::Password(_) => format!("{}'s password is changed and their sessions have ended.", target.display_name),
    };
    staff::change(&mut db, form.actor(), id, change).await?;
    Ok(done("/staff".into(), message))
}

pub fn routes() -> Vec<rocket::Route> {
    routes![list, create, change]
}
