//! The second step of signing in: a code from the authenticator app, or a
//! recovery code, after the password was right.

use askama::Template;
use askama_web::WebTemplate;
use chrono::Utc;
use rocket::form::FromForm;
use rocket::http::CookieJar;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, State};

use super::session::{forget, read_pending, start_session, Chrome, CsrfForm};
use super::sign_in::wait_text;
use super::{AuthConfig, PENDING_COOKIE};
use crate::db::staff::{self, Admission, Factor};
use crate::db::Db;
use crate::web::security::ClientAddress;
use crate::web::AppError;

#[derive(Template, WebTemplate)]
#[template(path = "sign_in_code.html")]
pub struct CodePage {
    chrome: Chrome,
    error: Option<String>,
}

#[get("/sign-in/code")]
pub(super) fn code_page(jar: &CookieJar<'_>, config: &State<AuthConfig>) -> Result<CodePage, Box<Flash<Redirect>>> {
    if read_pending(jar).is_none() {
        return Err(Box::new(crate::web::refused("/sign-in".into(), "Sign in with your email and password first.")));
    }
    Ok(CodePage { chrome: Chrome::signed_out(jar, config, "sign-in"), error: None })
}

#[derive(Debug, FromForm)]
pub struct CodeForm {
    /// Six digits from the authenticator app, or a recovery code.
    #[field(default = String::new())]
    code: String,
}

#[derive(rocket::Responder)]
pub(super) enum CodeAnswer {
    Done(Redirect),
    Restart(Flash<Redirect>),
    #[response(status = 200)]
    Again(CodePage),
    #[response(status = 429)]
    Throttled(CodePage),
}

/// What a typed second factor turned out to be.
pub enum CodeCheck {
    /// A current authenticator code, for this time step.
    Totp(i64),
    /// An unused recovery code, by id.
    Recovery(i64),
    Wrong,
}

/// Checks `typed` as an authenticator code against `secret`, or else as one
/// of the account's unused recovery codes. Holds no connection while hashing.
pub async fn check_code(db: &Db, staff_id: i64, secret: &str, typed: &str) -> Result<CodeCheck, AppError> {
    let typed: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    if typed.len() == 6 && typed.chars().all(|c| c.is_ascii_digit()) {
        return Ok(crate::two_factor::matching_step(secret, &typed, Utc::now().timestamp())
            .map_or(CodeCheck::Wrong, CodeCheck::Totp));
    }
    let Some(typed) = crate::two_factor::normalise_recovery_code(&typed) else {
        return Ok(CodeCheck::Wrong);
    };
    let codes = {
        let mut conn = db.conn().await?;
        staff::unused_recovery_codes(&mut conn, staff_id).await?
    };
    let found = rocket::tokio::task::spawn_blocking(move || {
        codes.into_iter().find(|(_, hash)| crate::passwords::verify(&typed, hash)).map(|(id, _)| id)
    })
    .await
    .map_err(|e| AppError::internal("checking a recovery code", e))?;
    Ok(found.map_or(CodeCheck::Wrong, CodeCheck::Recovery))
}

/// Records a checked code as used: `false` if it was used meanwhile (the same
/// code sent twice, or an older code after a newer one).
pub async fn use_code(conn: &mut sqlx::PgConnection, staff_id: i64, check: &CodeCheck) -> Result<bool, AppError> {
    Ok(match check {
        CodeCheck::Totp(step) => staff::accept_step(conn, staff_id, *step).await?,
        CodeCheck::Recovery(id) => staff::use_recovery_code(conn, staff_id, *id).await?,
        CodeCheck::Wrong => false,
    })
}

#[post("/sign-in/code", data = "<form>")]
pub(super) async fn sign_in_code(
    jar: &CookieJar<'_>,
    config: &State<AuthConfig>,
    address: ClientAddress,
    db: &Db,
    form: CsrfForm<CodeForm>,
) -> Result<CodeAnswer, AppError> {
    let throttle_key = address.throttle_key();
    let address = address.to_string();
    let Some(pending) = read_pending(jar) else {
        return Ok(CodeAnswer::Restart(crate::web::refused(
            "/sign-in".into(),
            "That took too long. Sign in with your email and password again.",
        )));
    };
    let page = |error: String| CodePage { chrome: Chrome::signed_out(jar, config, "sign-in"), error: Some(error) };
    let mut conn = db.conn().await?;
    let staff = staff::find(&mut conn, pending.staff_id).await?;
    let secret = staff::totp_secret(&mut conn, pending.staff_id).await?;
    let (Some(staff), Some(secret)) = (staff, secret) else {
        forget(jar, PENDING_COOKIE);
        return Ok(CodeAnswer::Restart(crate::web::refused("/sign-in".into(), "Sign in again.")));
    };
    if staff.disabled || staff.session_epoch != pending.epoch {
        forget(jar, PENDING_COOKIE);
        return Ok(CodeAnswer::Restart(crate::web::refused("/sign-in".into(), "Sign in again.")));
    }
    let attempt =
        match staff::admit(&mut conn, staff.email.as_str(), &throttle_key, Factor::Code, &config.limits()).await? {
            Admission::Check(attempt) => attempt,
            Admission::Refused { retry_after_seconds } => {
                return Ok(CodeAnswer::Throttled(page(format!(
                    "Too many wrong codes. For your security, try again in {}.",
                    wait_text(retry_after_seconds)
                ))))
            }
        };
    drop(conn);
    let check = check_code(db, staff.id, &secret, &form.0.code).await?;
    let mut conn = db.conn().await?;
    if !use_code(&mut conn, staff.id, &check).await? {
        let message = match check {
            CodeCheck::Totp(_) => "That code was already used. Wait for the next one in your app.",
            _ => "That code is not right. Type the 6 digits your app shows now, or one of your recovery codes.",
        };
        return Ok(CodeAnswer::Again(page(message.into())));
    }
    staff::finish(&mut conn, attempt, true).await?;
    staff::record_sign_in(&mut conn, &staff, &address).await?;
    start_session(jar, config, staff.id, staff.session_epoch);
    if let CodeCheck::Recovery(_) = check {
        let left = staff::recovery_codes_left(&mut conn, staff.id).await?;
        return Ok(CodeAnswer::Restart(Flash::warning(
            Redirect::to(pending.next),
            format!(
                "You signed in with a recovery code; {left} left. Make new ones on your account page if you are running low."
            ),
        )));
    }
    Ok(CodeAnswer::Done(Redirect::to(pending.next)))
}
