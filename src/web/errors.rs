//! One error type for every route, rendered as a friendly page. Details of
//! errors we caused go to the log, never to the browser.

use askama::Template;
use rocket::http::{Header, Status};
use rocket::response::{self, Responder};
use rocket::{catch, catchers, Catcher, Request};

use crate::db::DbError;

/// Why a request could not be answered as asked.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    /// The request cannot be answered as asked; the message says why and what to do.
    #[error("{0}")]
    BadRequest(String),
    /// Too many of these requests are running; try again shortly (503 with the message).
    #[error("{0}")]
    Busy(String),
    /// The database cannot be reached right now.
    #[error("database unavailable")]
    Unavailable,
    /// A bug or an unexpected database answer: logged with its whole chain
    /// of causes, never shown.
    #[error("{0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// What was being done when an error happened, in front of the error itself.
#[derive(Debug, thiserror::Error)]
#[error("{context}")]
struct Context {
    context: String,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl AppError {
    /// An internal error: `source` happened while doing `context`.
    pub fn internal(context: impl Into<String>, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        AppError::Internal(Box::new(Context { context: context.into(), source: source.into() }))
    }
}

/// `error` and each of its causes in turn, as one line: "a: b: c".
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    std::iter::successors(Some(error), |e| e.source()).map(ToString::to_string).collect::<Vec<_>>().join(": ")
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => AppError::NotFound,
            DbError::Sqlx(ref inner) if is_unavailable(inner) => {
                tracing::warn!(error = %inner, "database unavailable");
                AppError::Unavailable
            }
            other => AppError::Internal(Box::new(other)),
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
    message: String,
}

fn page_for(status: Status) -> ErrorPage {
    let (title, message) = match status.code {
        400 => ("Bad request", "The request could not be understood. Go back and try again."),
        403 => ("Not allowed", "You are not allowed to do that. Read-only accounts can look but not change; a form that was open too long, or opened before you signed in again, must be reloaded before sending it again."),
        408 => ("Too slow", "The form took too long to arrive. Check your connection and send it again."),
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
    ErrorPage { code: status.code, title, message: message.to_string() }
}

/// Renders the friendly error page for `status`, with `Retry-After` on 503.
pub fn render(status: Status) -> response::Response<'static> {
    render_with(status, None)
}

/// [`render`], with `message` in place of the status's usual explanation.
pub fn render_with(status: Status, message: Option<String>) -> response::Response<'static> {
    let mut page = page_for(status);
    if let Some(message) = message {
        page.message = message;
    }
    let body = page.render().unwrap_or_else(|_| format!("{} {}", status.code, status.reason_lossy()));
    let mut builder = response::Response::build();
    builder.status(status).header(rocket::http::ContentType::HTML).sized_body(body.len(), std::io::Cursor::new(body));
    if status == Status::ServiceUnavailable {
        builder.header(Header::new("Retry-After", "5"));
    }
    builder.finalize()
}

impl<'r> Responder<'r, 'static> for AppError {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        Ok(match self {
            AppError::NotFound => render(Status::NotFound),
            AppError::BadRequest(message) => render_with(Status::BadRequest, Some(message)),
            AppError::Busy(message) => render_with(Status::ServiceUnavailable, Some(message)),
            AppError::Unavailable => render(Status::ServiceUnavailable),
            AppError::Internal(error) => {
                tracing::error!(error = %chain(&*error), "request failed");
                render(Status::InternalServerError)
            }
        })
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
    rocket::response::Redirect::to(rocket::uri!(super::auth::sign_in_page(Some(next.as_str()))))
}

/// An admin who must set up two-factor sign-in first is sent to do so.
#[catch(403)]
fn forbidden(request: &Request<'_>) -> Result<rocket::response::Redirect, ErrorMessage> {
    if super::auth::must_enrol_first(request) {
        if request.method() == rocket::http::Method::Get {
            return Ok(rocket::response::Redirect::to("/account/two-factor"));
        }
        return Err(ErrorMessage(
            Status::Forbidden,
            Some("This shop requires two-factor sign-in for admins. Set it up on your account page first.".into()),
        ));
    }
    Err(ErrorMessage(Status::Forbidden, None))
}

/// The friendly page for a status, with its own message if given.
pub struct ErrorMessage(pub Status, pub Option<String>);

impl<'r> Responder<'r, 'static> for ErrorMessage {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        Ok(render_with(self.0, self.1))
    }
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
    catchers![sign_in_first, forbidden, any_error]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_internal_error_keeps_its_causes_for_the_log() {
        let error = AppError::internal("saving the order", std::io::Error::other("disk full"));
        assert!(std::error::Error::source(&error).is_some());
        let AppError::Internal(inner) = &error else { panic!("not internal: {error:?}") };
        assert_eq!(chain(&**inner), "saving the order: disk full");
    }
}
