//! Staff accounts: who can sign in, with which role. Admins add people,
//! change roles, reset passwords and second factors, and disable accounts;
//! viewers can look. The shop always keeps at least one enabled admin.

use std::borrow::Borrow;

use crate::web::read::PageConn;
use askama::Template;
use askama_web::WebTemplate;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, uri, FromForm};

use super::forms::FieldErrors;
use super::links::Href;
use super::{done, filters, refused, AdminForm, AppError, Chrome};
use crate::db::staff::{self, Change, ChangeError, NewStaff, Role, Staff};
use crate::db::{Db, DbError};
use crate::domain::{parse_text, Email};

#[derive(Template, WebTemplate)]
#[template(path = "staff/list.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<Staff>,
    form: NewStaffForm,
    errors: FieldErrors,
}

impl ListPage {
    /// Whether the row is the signed-in admin's own account.
    fn is_me(&self, id: &i64) -> bool {
        self.chrome.staff.as_ref().is_some_and(|me| me.id == *id)
    }
}

#[get("/staff")]
async fn list(mut db: PageConn, chrome: Chrome) -> Result<ListPage, AppError> {
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
async fn create(chrome: Chrome, db: &Db, form: AdminForm<NewStaffForm>) -> super::Submitted<ListPage> {
    let mut db = db.conn().await?;
    let actor = form.actor();
    let mut form = form.form;
    let mut errors = FieldErrors::default();
    let email = Email::parse(&form.email).map_err(|e| errors.add("email", e)).ok();
    let name = parse_text(&form.display_name, 200, "a name").map_err(|e| errors.add("display_name", e)).ok();
    let role = Role::parse(form.role.trim());
    if role.is_none() {
        errors.add("role", "Choose admin or viewer.");
    }
    if let Err(e) = crate::passwords::check_strength(&form.password) {
        errors.add("password", e);
    }
    if let (Some(email), Some(display_name), Some(role), true) = (email, name, role, errors.is_empty()) {
        let password_hash = crate::passwords::hash_async(form.password.clone())
            .await
            .map_err(|e| AppError::internal("hashing a password", e))?;
        match staff::create(&mut db, actor, &NewStaff { email, display_name, role, password_hash }).await {
            Ok(_) => return Ok(Ok(done(staff_list(), format!("{} can now sign in.", form.display_name.trim())))),
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
    /// One of `role`, `disable`, `enable`, `password`, `reset_two_factor`.
    #[field(default = String::new())]
    change: String,
    #[field(default = String::new())]
    role: String,
    #[field(default = String::new())]
    password: String,
    /// Your own password, to change it here.
    #[field(default = String::new())]
    current_password: String,
}

#[post("/staff/<id>", data = "<form>")]
#[allow(clippy::too_many_arguments)]
async fn change(
    _signed_in: Staff,
    address: super::security::ClientAddress,
    db: &Db,
    jar: &rocket::http::CookieJar<'_>,
    config: &rocket::State<super::auth::AuthConfig>,
    id: i64,
    form: AdminForm<ChangeForm>,
) -> Result<Flash<Redirect>, AppError> {
    let target = {
        let mut conn = db.conn().await?;
        staff::find(&mut conn, id).await?.ok_or(AppError::NotFound)?
    };
    let is_self = form.staff.id == id;
    let change = match form.form.change.as_str() {
        "role" => match Role::parse(form.form.role.trim()) {
            Some(Role::Viewer) if is_self => {
                return Ok(refused(staff_list(), "You can't remove your own admin role; ask another admin."))
            }
            Some(role) => Change::Role(role),
            None => return Ok(refused(staff_list(), "Choose admin or viewer.")),
        },
        "disable" if is_self => return Ok(refused(staff_list(), "You can't disable your own account.")),
        "disable" => Change::Disabled(true),
        "enable" => Change::Disabled(false),
        "password" => {
            if let Err(e) = crate::passwords::check_strength(&form.form.password) {
                return Ok(refused(
                    staff_list(),
                    format!("The new password for {} was not set: {e}", target.display_name),
                ));
            }
            if is_self {
                // Whoever holds this browser must also know the password.
                let (current, new) = (&form.form.current_password, &form.form.password);
                return own_password(db, jar, config, &address.to_string(), &target, current, new).await;
            }
            Change::Password(
                crate::passwords::hash_async(form.form.password.clone())
                    .await
                    .map_err(|e| AppError::internal("hashing a password", e))?,
            )
        }
        "reset_two_factor" if is_self => {
            return Ok(refused("/account".into(), "Turn off your own two-factor sign-in on your account page."))
        }
        "reset_two_factor" if !target.has_two_factor() => {
            return Ok(refused(staff_list(), format!("{} has no two-factor sign-in to reset.", target.display_name)))
        }
        "reset_two_factor" => Change::ResetTwoFactor,
        _ => return Ok(refused(staff_list(), "Choose what to change.")),
    };
    let message = match &change {
        Change::Role(role) => {
            format!("{} is now {}.", target.display_name, if *role == Role::Admin { "an admin" } else { "a viewer" })
        }
        Change::Disabled(true) => format!("{} is disabled and signed out everywhere.", target.display_name),
        Change::Disabled(false) => format!("{} can sign in again.", target.display_name),
        Change::Password(_) => format!("{}'s password is changed and their sessions have ended.", target.display_name),
        Change::ResetTwoFactor => format!(
            "{}'s two-factor sign-in is reset and their sessions have ended; they sign in with their password and set it up again.",
            target.display_name
        ),
    };
    let mut conn = db.conn().await?;
    match staff::change(&mut conn, form.actor(), id, change).await {
        Ok(()) => Ok(done(staff_list(), message)),
        Err(ChangeError::LastAdmin) => Ok(refused(
            staff_list(),
            format!(
                "{} is the only enabled admin left, so they stay an admin: make someone else an admin first.",
                target.display_name
            ),
        )),
        Err(ChangeError::NotAdmin) => {
            Ok(refused(staff_list(), "Nothing was changed: your account is no longer an admin."))
        }
        Err(ChangeError::Db(e)) => Err(e.into()),
    }
}

/// Changes the signed-in admin's own password from the staff page: only
/// with the current password, like on the account page.
async fn own_password(
    db: &Db,
    jar: &rocket::http::CookieJar<'_>,
    config: &super::auth::AuthConfig,
    address: &str,
    me: &Staff,
    current: &str,
    new: &str,
) -> Result<Flash<Redirect>, AppError> {
    match super::account::change_password(db, jar, config, address, me, current, new).await? {
        Ok(()) => Ok(done(staff_list(), "Your password is changed; your other sessions have ended.")),
        Err(reason) => Ok(refused(staff_list(), format!("Your password was not changed: {reason}"))),
    }
}

/// The staff page, where every change here returns.
fn staff_list() -> String {
    uri!(list).to_string()
}

/// Where the form that adds a staff account goes.
pub fn create_href() -> Href {
    uri!(create).into()
}

/// Where a staff account's role, password and access forms go.
pub fn change_href(id: impl Borrow<i64>) -> Href {
    uri!(change(*id.borrow())).into()
}

/// Mounts these pages.
pub fn stage() -> rocket::fairing::AdHoc {
    super::stage("Staff", routes![list, create, change])
}
