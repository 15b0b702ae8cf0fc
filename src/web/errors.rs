//! One error type for every route, rendered as a friendly page. Details of
//! errors we caused go to the log, never to the browser.

use askama::Template;
use rocket::http::{Header, Status};
use rocket::response::{self, Responder};
use rocket::{catch, catchers, Catcher, Request};

use crate::db::DbError;

#[derive(Debug)]
pub enum AppError {
    NotFound,
    /// The database cannot be reached right now.
    Unavailable,
    /// A bug or an unexpected database answer; logged, not shown.
    Internal(String),
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppError::NotFound => write!(f, "not found"),
            AppError::Unavailable => write!(f, "database unavailable"),
            AppError::Internal(detail) => write!(f, "{detail}"),
        }
    }
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => AppError::NotFound,
            DbError::Sqlx(ref inner) if is_unavailable(inner) => {
                tracing::warn!(error = %inner, "database unavailable");
                AppError::Unavailable
            }
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        DbError::from(e).into()
    }
}

/// Errors that mean "the database is away", not "the query is wrong".
fn is_unavailable(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed)
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    code: u16,
    title: &'static str,
    message: &'static str,
}

fn page_for(status: Status) -> ErrorPage {
    let (title, message) = match status.code {
        400 => ("Bad request", "The request could not be understood. Go back and try again."),
        403 => ("Not allowed", "You are not allowed to do that. Read-only accounts can look but not change; a form that was open too long must be reloaded before sending it again."),
        404 => ("Page not found", "There is nothing here. It may have been deleted, or the address may be mistyped."),
        413 => ("Too much data", "What you sent is larger than Shopdesk accepts. Shorten it and try again."),
        415 | 422 => (
            "Could not read the form",
            "Some of what was sent could not be read. Go back, check the form and try again.",
        ),
        503 => {
            ("Database unavailable", "Shopdesk cannot reach its database right now. Please try again in a few seconds.")
        }
        _ => ("Something went wrong", "An unexpected error occurred and has been logged. Please try again."),
    };
    ErrorPage { code: status.code, title, message }
}

/// Renders the friendly error page for `status`, with `Retry-After` on 503.
pub fn render(status: Status) -> response::Response<'static> {
    let body = page_for(status).render().unwrap_or_else(|_| format!("{} {}", status.code, status.reason_lossy()));
    let mut builder = response::Response::build();
    builder.status(status).header(rocket::http::ContentType::HTML).sized_body(body.len(), std::io::Cursor::new(body));
    if status == Status::ServiceUnavailable {
        builder.header(Header::new("Retry-After", "5"));
    }
    builder.finalize()
}

impl<'r> Responder<'r, 'static> for AppError {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let status = match self {
            AppError::NotFound => Status::NotFound,
            AppError::Unavailable => Status::ServiceUnavailable,
            AppError::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                Status::InternalServerError
            }
        };
        Ok(render(status))
    }
}

/// The friendly page for a status, as a responder for catchers.
pub struct ErrorPageFor(pub Status);

impl<'r> Responder<'r, 'static> for ErrorPageFor {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        Ok(render(self.0))
    }
}

/// No session: go and sign in, then come back to the page asked for.
#[catch(401)]
fn sign_in_first(request: &Request<'_>) -> rocket::response::Redirect {
    let next = match request.method() {
        rocket::http::Method::Get => request.uri().to_string(),
        _ => "/".to_string(),
    };
    rocket::response::Redirect::to(format!("/sign-in?next={}", super::encode(&next)))
}

#[catch(default)]
fn any_error(status: Status, request: &Request<'_>) -> ErrorPageFor {
    // A GET carries no form, so an unreadable GET is an address that names
    // nothing (`/users/abc`): that is "not found", not "bad form".
    if status == Status::UnprocessableEntity && request.method() == rocket::http::Method::Get {
        return ErrorPageFor(Status::NotFound);
    }
    ErrorPageFor(status)
}

pub fn catchers() -> Vec<Catcher> {
    catchers![sign_in_first, any_error]
}
