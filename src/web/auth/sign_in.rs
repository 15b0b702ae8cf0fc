//! The sign-in page and form (the password step), and signing out.

use askama::Template;
use askama_web::WebTemplate;
use chrono::Utc;
use rocket::form::FromForm;
use rocket::http::{CookieJar, RawStr};
use rocket::request::FlashMessage;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, State};

use super::session::{cookie, forget, start_session, Chrome, CsrfForm, Pending};
use super::{AuthConfig, PENDING_COOKIE, PENDING_SECONDS, SESSION_COOKIE};
use crate::db::staff::{self, Admission, Factor, Staff};
use crate::db::Db;
use crate::web::security::ClientAddress;
use crate::web::{done, AppError};

/// Where to go after signing in: only a path on this site, never elsewhere,
/// and only one that is a valid address as typed (printable ASCII), so the
/// redirect can always be sent.
pub fn safe_next(next: Option<&str>) -> String {
    let next = next.unwrap_or("/").trim();
    // Also judged once percent-decoded, so `/%2F%2Fevil.example` and the like
    // cannot become another host in a browser or a proxy that decodes first.
    let decoded = RawStr::new(next).percent_decode_lossy();
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 2000
        && next.chars().all(|c| c.is_ascii_graphic() && c != '\\')
        && !decoded.starts_with("//")
        && !decoded.starts_with("/\\")
        && !decoded.contains('\\')
        && !decoded.chars().any(char::is_control)
        && rocket::http::uri::Origin::parse(next).is_ok();
    if local {
        next.to_string()
    } else {
        "/".to_string()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "sign_in.html")]
pub struct SignInPage {
    chrome: Chrome,
    email: String,
    next: String,
    error: Option<String>,
}

#[get("/sign-in?<next>")]
pub async fn sign_in_page(
    jar: &CookieJar<'_>,
    config: &State<AuthConfig>,
    flash: Option<FlashMessage<'_>>,
    staff: Option<Staff>,
    next: Option<&str>,
) -> Result<SignInPage, Redirect> {
    let next = safe_next(next);
    if staff.is_some() {
        return Err(Redirect::to(next));
    }
    let mut chrome = Chrome::signed_out(jar, config, "sign-in");
    chrome.flash = flash.map(|f| (f.kind().to_string(), f.message().to_string()));
    Ok(SignInPage { chrome, email: String::new(), next, error: None })
}

#[derive(Debug, FromForm)]
pub struct SignInForm {
    #[field(default = String::new())]
    email: String,
    #[field(default = String::new())]
    password: String,
    #[field(default = String::from("/"))]
    next: String,
}

/// A sign-in that did not go through, shown again on the form.
#[derive(rocket::Responder)]
pub(super) enum SignInAnswer {
    Done(Redirect),
    #[response(status = 200)]
    Again(SignInPage),
    #[response(status = 429)]
    Throttled(SignInPage),
}

/// "3 minutes", "45 seconds": how long a refused sign-in must wait.
pub(super) fn wait_text(seconds: i64) -> String {
    if seconds >= 60 {
        let minutes = (seconds + 59) / 60;
        format!("{minutes} minute{}", if minutes == 1 { "" } else { "s" })
    } else {
        let seconds = seconds.max(1);
        format!("{seconds} second{}", if seconds == 1 { "" } else { "s" })
    }
}

fn throttled_message(seconds: i64) -> String {
    format!(
        "Too many failed sign-ins. For your security, signing in to this account from your network is paused; try again in {}.",
        wait_text(seconds)
    )
}

#[post("/sign-in", data = "<form>")]
pub(super) async fn sign_in(
    jar: &CookieJar<'_>,
    config: &State<AuthConfig>,
    address: ClientAddress,
    db: &Db,
    form: CsrfForm<SignInForm>,
) -> Result<SignInAnswer, AppError> {
    let form = form.0;
    let throttle_key = address.throttle_key();
    let address = address.to_string();
    let next = safe_next(Some(&form.next));
    let typed = form.email.trim().chars().take(254).collect::<String>();
    // No email has control characters (PostgreSQL would refuse a NUL): such
    // an attempt is counted under the email without them, and fails.
    let email: String = typed.chars().filter(|c| !c.is_control()).collect();
    let plausible = email == typed;
    let page = |error: String| SignInPage {
        chrome: Chrome::signed_out(jar, config, "sign-in"),
        email: email.clone(),
        next: next.clone(),
        error: Some(error),
    };

    let mut conn = db.conn().await?;
    let attempt = match staff::admit(&mut conn, &email, &throttle_key, Factor::Password, &config.limits()).await? {
        Admission::Check(attempt) => attempt,
        Admission::Refused { retry_after_seconds } => {
            return Ok(SignInAnswer::Throttled(page(throttled_message(retry_after_seconds))))
        }
    };
    let found = if plausible { staff::find_for_sign_in(&mut conn, &email).await? } else { None };
    // The password check is slow on purpose: no connection is held meanwhile.
    drop(conn);
    // Check a password hash even for unknown emails, so both take the same time.
    let hash = found.as_ref().map(|(_, h)| h.clone()).unwrap_or_else(|| crate::passwords::decoy_hash().to_string());
    let password_ok = crate::passwords::verify_async(form.password.clone(), hash).await;
    let mut conn = db.conn().await?;
    match found {
        Some((staff, _)) if password_ok && !staff.disabled => {
            staff::finish(&mut conn, attempt, true).await?;
            if staff.has_two_factor() {
                let pending = Pending {
                    staff_id: staff.id,
                    epoch: staff.session_epoch,
                    issued: Utc::now().timestamp(),
                    next,
                    csrf: crate::passwords::token(),
                };
                if let Ok(value) = serde_json::to_string(&pending) {
                    jar.add_private(cookie(config, PENDING_COOKIE, value, PENDING_SECONDS));
                }
                return Ok(SignInAnswer::Done(Redirect::to("/sign-in/code")));
            }
            staff::record_sign_in(&mut conn, &staff, &address).await?;
            start_session(jar, config, staff.id, staff.session_epoch);
            Ok(SignInAnswer::Done(Redirect::to(next)))
        }
        _ => Ok(SignInAnswer::Again(page("That email and password do not match an active account.".into()))),
    }
}

/// Signing out needs nothing but the CSRF token, which `CsrfForm` checks.
#[derive(Debug, FromForm)]
pub struct SignOutForm {
    #[field(name = "csrf", default = String::new())]
    _csrf: String,
}

#[post("/sign-out", data = "<_form>")]
pub(super) async fn sign_out(
    staff: Option<Staff>,
    db: &Db,
    jar: &CookieJar<'_>,
    _form: CsrfForm<SignOutForm>,
) -> Result<Flash<Redirect>, AppError> {
    if let Some(staff) = staff {
        let mut conn = db.conn().await?;
        staff::record_sign_out(&mut conn, staff.id).await?;
    }
    forget(jar, SESSION_COOKIE);
    forget(jar, PENDING_COOKIE);
    Ok(done("/sign-in".into(), "You have signed out."))
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/orders?status=paid")), "/orders?status=paid");
        for hostile in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "evil",
            "",
            "/\tx",
            "javascript:alert(1)",
            "/ /evil.example",
            "/orders x",
            "/\u{3000}/evil.example",
            "/\u{ff0f}evil.example",
            "/caf\u{e9}",
            "/%2F%2Fevil.example",
            "/%2f/evil.example",
            "/%5Cevil.example",
            "/%5C%5Cevil.example",
            "/%09/evil.example",
            "/%0d%0aLocation:%20http://evil.example",
            "http:/evil.example",
            "https:evil.example",
            "\\\\evil.example",
            " //evil.example",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/", "{hostile}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
