//! Saved views: a list's filters, search and sort kept under a name, shown
//! above the list and opened with one click. Anyone signed in may save
//! private views; only admins share views with all staff. A view is
//! renamed or deleted by whoever saved it; an admin may also delete any
//! shared view.

use askama::Template;
use askama_web::WebTemplate;
use rocket::http::uri::Origin;
use rocket::{get, post, routes, uri, FromForm};
use sqlx::PgConnection;

use super::auth::CsrfForm;
use super::forms::FieldErrors;
use super::{done, refused, AppError, Chrome, Submitted};
use crate::db::saved_views::{self, SavedView, SHOWN};
use crate::db::staff::Staff;
use crate::db::{Db, DbError};
use crate::domain::{parse_text, SavedList};

/// The list a view belongs to, as its path names it (`/views/orders`).
fn list_named(name: &str) -> Result<SavedList, AppError> {
    SavedList::parse(name).ok_or(AppError::NotFound)
}

/// `query` read back through the list's own query struct, as a link to the
/// list: what a saved view opens.
pub fn reopen(list: SavedList, query: &str) -> Origin<'static> {
    match list {
        SavedList::Customers => super::users::view_uri(query),
        SavedList::Products => super::products::view_uri(query),
        SavedList::Orders => super::orders::view_uri(query),
        SavedList::Audit => super::audit::view_uri(query),
    }
}

/// A view as a page shows it.
pub struct Shown {
    pub id: i64,
    pub name: String,
    pub href: String,
    pub shared: bool,
    pub owner: String,
    /// Saved by whoever is looking: they may rename and delete it.
    pub mine: bool,
    /// Whoever is looking may delete it.
    pub deletable: bool,
}

impl Shown {
    fn of(view: SavedView, staff: &Staff) -> Shown {
        let mine = view.staff_id == staff.id;
        Shown {
            href: reopen(view.list, &view.query).to_string(),
            id: view.id,
            name: view.name,
            shared: view.shared,
            owner: view.owner,
            mine,
            deletable: mine || (view.shared && staff.is_admin()),
        }
    }
}

/// What the bar above a list shows: the views of the list, and a form that
/// saves the list as it is now.
pub struct Bar {
    pub list: SavedList,
    pub query: String,
    pub views: Vec<Shown>,
    pub can_share: bool,
}

impl Bar {
    /// The bar for `list` showing `query` now, as `chrome`'s staff member sees it.
    pub async fn load(
        conn: &mut PgConnection,
        chrome: &Chrome,
        list: SavedList,
        query: String,
    ) -> Result<Bar, AppError> {
        let Some(staff) = chrome.staff.as_ref() else {
            return Ok(Bar { list, query, views: Vec::new(), can_share: false });
        };
        let views = saved_views::visible(conn, staff.id, list, SHOWN).await?;
        let views = views.into_iter().map(|v| Shown::of(v, staff)).collect();
        Ok(Bar { list, query, views, can_share: staff.is_admin() })
    }

    pub fn save_href(&self) -> String {
        uri!(save(self.list.as_str())).to_string()
    }

    pub fn manage_href(&self) -> String {
        uri!(manage(self.list.as_str(), Some(&self.query))).to_string()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "saved_views.html")]
struct ManagePage {
    chrome: Chrome,
    list: SavedList,
    views: Vec<Shown>,
    form: SaveForm,
    errors: FieldErrors,
    /// The view whose new name was refused, and the name typed.
    renaming: Option<(i64, String)>,
    /// The list as the form would save it.
    back: String,
}

impl ManagePage {
    async fn load(
        conn: &mut PgConnection,
        chrome: Chrome,
        staff: &Staff,
        list: SavedList,
        form: SaveForm,
    ) -> Result<ManagePage, AppError> {
        let views = saved_views::visible(conn, staff.id, list, SHOWN).await?;
        let views = views.into_iter().map(|v| Shown::of(v, staff)).collect();
        let back = reopen(list, &form.query).to_string();
        Ok(ManagePage {
            chrome: chrome.on(list.as_str()),
            list,
            views,
            form,
            errors: FieldErrors::default(),
            renaming: None,
            back,
        })
    }

    fn can_share(&self) -> bool {
        self.chrome.can_edit()
    }

    fn save_href(&self) -> String {
        uri!(save(self.list.as_str())).to_string()
    }

    fn rename_href(&self, id: &i64) -> String {
        uri!(rename(*id)).to_string()
    }

    fn delete_href(&self, id: &i64) -> String {
        uri!(delete(*id)).to_string()
    }

    /// The name to show in a view's rename field: the one typed, if refused.
    fn rename_value<'a>(&'a self, view: &'a Shown) -> &'a str {
        match &self.renaming {
            Some((id, typed)) if *id == view.id => typed,
            _ => &view.name,
        }
    }

    fn rename_error(&self, view: &Shown) -> Option<&str> {
        match &self.renaming {
            Some((id, _)) if *id == view.id => self.errors.get("rename"),
            _ => None,
        }
    }
}

#[derive(Debug, Default, Clone, FromForm)]
pub struct SaveForm {
    #[field(default = String::new())]
    name: String,
    #[field(default = false)]
    shared: bool,
    /// The list's query string when the form was shown.
    #[field(default = String::new())]
    query: String,
}

#[get("/views/<list>?<query>")]
async fn manage(
    chrome: Chrome,
    staff: Staff,
    db: &Db,
    list: &str,
    query: Option<String>,
) -> Result<ManagePage, AppError> {
    let list = list_named(list)?;
    let mut conn = db.conn().await?;
    let form = SaveForm { query: query.unwrap_or_default(), ..SaveForm::default() };
    ManagePage::load(&mut conn, chrome, &staff, list, form).await
}

/// "You already have a view called …" for the name constraints.
fn name_taken(constraint: &str, name: &str) -> Option<String> {
    match constraint {
        "saved_views_private_name_key" => {
            Some(format!("You already have a view called “{name}”. Choose another name."))
        }
        "saved_views_shared_name_key" => {
            Some(format!("A shared view called “{name}” already exists. Choose another name."))
        }
        _ => None,
    }
}

#[post("/views/<list>", data = "<form>")]
async fn save(chrome: Chrome, staff: Staff, db: &Db, list: &str, form: CsrfForm<SaveForm>) -> Submitted<ManagePage> {
    let (list, form) = (list_named(list)?, form.0);
    let mut errors = FieldErrors::default();
    let name = parse_text(&form.name, 80, "a name for the view").map_err(|e| errors.add("name", e)).ok();
    if form.shared && !staff.is_admin() {
        errors.add("shared", "Only admins can share views; save it as your own.");
    }
    // Stored as the list reads it back: no page position, no unknown fields.
    let opened = reopen(list, &form.query);
    let query = opened.query().map(|q| q.as_str().to_string()).unwrap_or_default();
    let mut conn = db.conn().await?;
    if let (Some(name), true) = (name, errors.is_empty()) {
        match saved_views::create(&mut conn, staff.id, list, &name, &query, form.shared).await {
            Ok(_) => return Ok(Ok(done(opened.to_string(), format!("Saved the view “{name}”.")))),
            Err(DbError::Constraint { constraint }) => match name_taken(&constraint, &name) {
                Some(message) => errors.add("name", message),
                None => return Err(DbError::Constraint { constraint }.into()),
            },
            Err(e) => return Err(e.into()),
        }
    }
    errors.add("form", "The view was not saved. Please correct the highlighted fields.");
    let mut page = ManagePage::load(&mut conn, chrome, &staff, list, form).await?;
    page.errors = errors;
    Ok(Err(page))
}

#[derive(Debug, FromForm)]
pub struct RenameForm {
    #[field(default = String::new())]
    name: String,
}

#[post("/views/<id>/rename", data = "<form>")]
async fn rename(chrome: Chrome, staff: Staff, db: &Db, id: i64, form: CsrfForm<RenameForm>) -> Submitted<ManagePage> {
    let typed = form.0.name;
    let mut conn = db.conn().await?;
    let view = saved_views::find_visible(&mut conn, staff.id, id)
        .await?
        .filter(|v| v.staff_id == staff.id)
        .ok_or(AppError::NotFound)?;
    let mut errors = FieldErrors::default();
    if let Ok(name) = parse_text(&typed, 80, "a name for the view").map_err(|e| errors.add("rename", e)) {
        match saved_views::rename(&mut conn, staff.id, id, &name).await {
            Ok(()) => {
                let to = uri!(manage(view.list.as_str(), Some(&view.query))).to_string();
                return Ok(Ok(done(to, format!("Renamed the view “{}” to “{name}”.", view.name))));
            }
            Err(DbError::Constraint { constraint }) => match name_taken(&constraint, &name) {
                Some(message) => errors.add("rename", message),
                None => return Err(DbError::Constraint { constraint }.into()),
            },
            Err(e) => return Err(e.into()),
        }
    }
    let form = SaveForm { query: view.query.clone(), ..SaveForm::default() };
    let mut page = ManagePage::load(&mut conn, chrome, &staff, view.list, form).await?;
    errors.add("form", "The view was not renamed. Please correct the highlighted field.");
    page.errors = errors;
    page.renaming = Some((id, typed));
    Ok(Err(page))
}

/// Deleting needs nothing but the CSRF token, which `CsrfForm` checks.
#[derive(Debug, FromForm)]
pub struct DeleteForm {
    #[field(name = "csrf", default = String::new())]
    _csrf: String,
}

#[post("/views/<id>/delete", data = "<_form>")]
async fn delete(
    staff: Staff,
    db: &Db,
    id: i64,
    _form: CsrfForm<DeleteForm>,
) -> Result<rocket::response::Flash<rocket::response::Redirect>, AppError> {
    let mut conn = db.conn().await?;
    let Some(view) = saved_views::find_visible(&mut conn, staff.id, id).await? else {
        return Err(AppError::NotFound);
    };
    let back = uri!(manage(view.list.as_str(), Some(&view.query))).to_string();
    match saved_views::delete(&mut conn, staff.id, staff.is_admin(), id).await {
        Ok(_) => Ok(done(back, format!("Deleted the view “{}”.", view.name))),
        Err(DbError::NotFound) => Ok(refused(
            back,
            format!("“{}” was shared by {}; only they or an admin can delete it.", view.name, view.owner),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Mounts these pages.
pub fn stage() -> rocket::fairing::AdHoc {
    super::stage("Saved views", routes![manage, save, rename, delete])
}
