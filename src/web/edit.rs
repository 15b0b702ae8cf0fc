//! The one create, edit and delete flow that customers, products and orders
//! share: validate, save, turn a named constraint into a field error, show
//! what someone else saved meanwhile (version mismatch), confirm a delete.
//!
//! A resource says how its form reads and how its records are stored and
//! named ([`Resource`], [`Editable`]); the functions here do the rest, so a
//! fix to the flow reaches every resource at once.

use std::borrow::Borrow;
use std::future::Future;
use std::marker::PhantomData;

use rocket::http::uri::Origin;
use rocket::response::{Flash, Redirect};
use rocket::FromForm;
use sqlx::PgConnection;

use super::forms::{parse_version, FieldErrors};
use super::links::Href;
use super::{done, refused, AdminForm, AppError, Chrome, Submitted};
use crate::db::{Actor, Db, DbError};

/// A page of a resource.
pub enum Page {
    List,
    Show(i64),
    Edit(i64),
    Delete(i64),
    New,
}

/// A stored record with a version, its pages and how messages name it.
pub trait Resource: Sized + Send + Sync + 'static {
    /// The record as stored.
    type Record: Clone + Send + Sync;

    /// The menu entry its pages sit under ("users").
    const AREA: &'static str;
    /// What kind of record, as a sentence starts: "Customer".
    const KIND: &'static str;
    /// What to do after a delete was refused because the record changed.
    const RECHECK: &'static str = "Check the details and confirm again.";

    fn find(db: &mut PgConnection, id: i64) -> impl Future<Output = Result<Option<Self::Record>, DbError>> + Send;
    fn version(record: &Self::Record) -> i32;
    /// The record on its own, as a sentence starts: "Ada", "Order #12".
    fn name(record: &Self::Record) -> String;
    /// The record with its kind: "Customer Ada", "Order #12".
    fn title(record: &Self::Record) -> String {
        format!("{} {}", Self::KIND, Self::name(record))
    }

    /// The address of one of its pages.
    fn uri(page: Page) -> Origin<'static>;

    /// Deletes the record if it is still at `version`: `Ok(Err(why))` when
    /// other records still need it, with what to do about that.
    fn delete(
        db: &mut PgConnection,
        actor: Actor,
        record: &Self::Record,
        version: i32,
    ) -> impl Future<Output = Result<Result<(), String>, DbError>> + Send;

    /// What deleting a record no one can find answers: "not found".
    fn gone(_id: i64) -> Result<Flash<Redirect>, AppError> {
        Err(AppError::NotFound)
    }

    /// The banner after a delete.
    fn deleted(record: &Self::Record) -> String {
        format!("{} deleted.", Self::title(record))
    }
}

/// A resource edited through one form of plain fields.
pub trait Editable: Resource {
    /// The form as typed, so it can be shown again with its errors.
    type Form: Default + Send + Sync;
    /// What a valid form becomes.
    type Valid: Send + Sync;
    /// The form page.
    type Page: Send;

    fn form_of(record: &Self::Record) -> Self::Form;
    /// The hidden version field, as typed.
    fn version_field(form: &mut Self::Form) -> &mut String;
    fn validate(form: &Self::Form) -> Result<Self::Valid, FieldErrors>;
    /// The valid form's name, for the banner: "Ada".
    fn name_of(valid: &Self::Valid) -> &str;
    fn page(chrome: Chrome, editing: Editing<Self>) -> Self::Page;

    fn create(
        db: &mut PgConnection,
        actor: Actor,
        valid: &Self::Valid,
    ) -> impl Future<Output = Result<i64, DbError>> + Send;
    fn update(
        db: &mut PgConnection,
        actor: Actor,
        id: i64,
        version: i32,
        valid: &Self::Valid,
    ) -> impl Future<Output = Result<(), DbError>> + Send;
}

/// Links to a resource's pages, for templates (`users::Links::show(u.id)`)
/// and redirects.
pub struct Links<R>(PhantomData<R>);

impl<R: Resource> Links<R> {
    /// The list, first page.
    pub fn list() -> Href {
        R::uri(Page::List).into()
    }

    pub fn show(id: impl Borrow<i64>) -> Href {
        R::uri(Page::Show(*id.borrow())).into()
    }

    pub fn edit(id: impl Borrow<i64>) -> Href {
        R::uri(Page::Edit(*id.borrow())).into()
    }

    pub fn delete(id: impl Borrow<i64>) -> Href {
        R::uri(Page::Delete(*id.borrow())).into()
    }
}

impl<R: Editable> Links<R> {
    /// The form for a new record.
    pub fn new_form() -> Href {
        R::uri(Page::New).into()
    }
}

/// What a form page shows: the record (`None` when new), the form as typed,
/// what is wrong with it, and what someone else saved meanwhile.
pub struct Editing<R: Editable> {
    pub record: Option<R::Record>,
    pub form: R::Form,
    pub errors: FieldErrors,
    pub conflict: Option<R::Record>,
}

/// The banner over a form that was not saved.
const CORRECT: &str = "Please correct the highlighted fields.";

/// The empty form for a new record.
pub fn new<R: Editable>(chrome: Chrome) -> R::Page {
    let editing =
        Editing::<R> { record: None, form: R::Form::default(), errors: FieldErrors::default(), conflict: None };
    R::page(chrome.on(R::AREA), editing)
}

/// The form filled with the record as stored.
pub async fn edit<R: Editable>(chrome: Chrome, db: &mut PgConnection, id: i64) -> Result<R::Page, AppError> {
    let record = R::find(db, id).await?.ok_or(AppError::NotFound)?;
    let editing = Editing::<R> {
        form: R::form_of(&record),
        record: Some(record),
        errors: FieldErrors::default(),
        conflict: None,
    };
    Ok(R::page(chrome.on(R::AREA), editing))
}

/// The field errors a failed save explains; any other failure is returned.
pub fn constraint_errors(e: DbError) -> Result<FieldErrors, DbError> {
    let mut errors = FieldErrors::default();
    match e {
        DbError::Constraint { constraint } if errors.add_constraint(&constraint) => Ok(errors),
        other => Err(other),
    }
}

/// Creates the record from a valid form, or shows the form again.
pub async fn create<R: Editable>(chrome: Chrome, db: &Db, form: AdminForm<R::Form>) -> Submitted<R::Page> {
    let mut db = db.conn().await?;
    let actor = form.actor();
    let form = form.form;
    let mut errors = match R::validate(&form) {
        Ok(valid) => match R::create(&mut db, actor, &valid).await {
            Ok(id) => {
                return Ok(Ok(done(
                    R::uri(Page::Show(id)).to_string(),
                    format!("{} {} created.", R::KIND, R::name_of(&valid)),
                )))
            }
            Err(e) => constraint_errors(e)?,
        },
        Err(errors) => errors,
    };
    errors.add("form", CORRECT);
    Ok(Err(R::page(chrome.on(R::AREA), Editing { record: None, form, errors, conflict: None })))
}

/// Saves a valid form over the version it was opened on; when someone else
/// saved meanwhile, shows both versions and keeps what was typed.
pub async fn update<R: Editable>(chrome: Chrome, db: &Db, id: i64, form: AdminForm<R::Form>) -> Submitted<R::Page> {
    let mut db = db.conn().await?;
    let actor = form.actor();
    let mut form = form.form;
    let record = R::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let mut conflict = None;
    let mut errors = match (R::validate(&form), parse_version(R::version_field(&mut form))) {
        (Ok(valid), Some(version)) => match R::update(&mut db, actor, id, version, &valid).await {
            Ok(()) => {
                return Ok(Ok(done(
                    R::uri(Page::Show(id)).to_string(),
                    format!("{} {} saved.", R::KIND, R::name_of(&valid)),
                )))
            }
            Err(DbError::Conflict) => {
                conflict = R::find(&mut db, id).await?;
                FieldErrors::default()
            }
            Err(e) => constraint_errors(e)?,
        },
        (Ok(_), None) => {
            conflict = Some(record.clone());
            FieldErrors::default()
        }
        (Err(errors), _) => errors,
    };
    if let Some(current) = &conflict {
        // Saving again applies the typed values over the version shown.
        *R::version_field(&mut form) = R::version(current).to_string();
    } else {
        errors.add("form", CORRECT);
    }
    Ok(Err(R::page(chrome.on(R::AREA), Editing { record: Some(record), form, errors, conflict })))
}

/// The version the delete page showed, so a delete never removes a record
/// changed since.
#[derive(Debug, FromForm)]
pub struct DeleteForm {
    #[field(default = String::new())]
    version: String,
}

/// Deletes the record if it is still as confirmed, else says why not.
pub async fn delete<R: Resource>(db: &Db, id: i64, form: AdminForm<DeleteForm>) -> Result<Flash<Redirect>, AppError> {
    let mut db = db.conn().await?;
    let actor = form.actor();
    let Some(record) = R::find(&mut db, id).await? else {
        return R::gone(id);
    };
    let again = R::uri(Page::Delete(id)).to_string();
    let Some(version) = parse_version(&form.form.version) else {
        return Ok(refused(again, "Please confirm the deletion again."));
    };
    match R::delete(&mut db, actor, &record, version).await {
        Ok(Ok(())) => Ok(done(R::uri(Page::List).to_string(), R::deleted(&record))),
        Ok(Err(why)) => Ok(refused(R::uri(Page::Show(id)).to_string(), why)),
        Err(DbError::Conflict) => Ok(refused(
            again,
            format!("{} was changed by someone else while you were deciding. {}", R::name(&record), R::RECHECK),
        )),
        Err(DbError::NotFound) => {
            Ok(done(R::uri(Page::List).to_string(), format!("{} was already deleted.", R::title(&record))))
        }
        Err(e) => Err(e.into()),
    }
}
