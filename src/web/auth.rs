//! Who is asking: staff sessions in private (encrypted and signed) cookies,
//! roles, CSRF tokens, and the sign-in and sign-out pages.
//!
//! Every page takes a [`Chrome`] (which needs a signed-in staff member), and
//! every state-changing route takes its form through [`AdminForm`] (which
//! needs an admin and a valid CSRF token) or [`CsrfForm`] (token only, for
//! signing in and out). Tests walk the route table to prove no POST escapes.

use askama::Template;
use askama_web::WebTemplate;
use chrono::Utc;
use rocket::data::{Data, FromData, Outcome as DataOutcome};
use rocket::form::{Form, FromForm, ValueField};
use rocket::http::{Cookie, CookieJar, RawStr, SameSite, Status};
use rocket::request::{FlashMessage, FromRequest, Outcome};
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, Request, State};
use rocket_db_pools::Connection;
use serde::{Deserialize, Serialize};

use super::{done, AppError};
use crate::db::staff::{self, Staff};
use crate::db::Db;

const SESSION_COOKIE: &str = "shopdesk_session";
const CSRF_COOKIE: &str = "shopdesk_csrf";
/// How often a session's "last seen" time is refreshed, in seconds.
const REFRESH_AFTER: i64 = 60;

/// Session and sign-in rules, from configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// A session ends this long after sign-in, whatever happens.
    pub session_hours: i64,
    /// A session ends after this long without a request.
    pub idle_minutes: i64,
    /// Mark cookies `Secure` (send only over HTTPS). On automatically with TLS.
    pub secure_cookies: bool,
    /// Failed sign-ins for one account within the window before it is locked for the window.
    pub max_failures_per_account: i64,
    /// Failed sign-ins from one address within the window before it is locked.
    pub max_failures_per_address: i64,
    pub throttle_window_minutes: i32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            session_hours: 12,
            idle_minutes: 60,
            secure_cookies: false,
            max_failures_per_account: 5,
            max_failures_per_address: 30,
            throttle_window_minutes: 15,
        }
    }
}

impl AuthConfig {
    pub fn from_figment(figment: &rocket::figment::Figment) -> AuthConfig {
        let mut config: AuthConfig = figment.extract_inner("auth").unwrap_or_default();
        if figment.extract_inner::<rocket::figment::value::Value>("tls").is_ok() {
            config.secure_cookies = true;
        }
        config
    }
}

/// What the session cookie holds.
#[derive(Debug, Serialize, Deserialize)]
struct Session {
    staff_id: i64,
    epoch: i32,
    issued: i64,
    seen: i64,
}

fn cookie(config: &AuthConfig, name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(config.secure_cookies)
        .build()
}

fn write_session(jar: &CookieJar<'_>, config: &AuthConfig, session: &Session) {
    if let Ok(value) = serde_json::to_string(session) {
        jar.add_private(cookie(config, SESSION_COOKIE, value));
    }
}

/// The CSRF token of this browser, created on first use.
pub fn csrf_token(jar: &CookieJar<'_>, config: &AuthConfig) -> String {
    if let Some(existing) = jar.get_private(CSRF_COOKIE) {
        return existing.value().to_string();
    }
    let token = crate::passwords::token();
    jar.add_private(cookie(config, CSRF_COOKIE, token.clone()));
    token
}

/// The result of looking up the session, computed once per request.
///
/// The lookup borrows a pooled connection only for its one query. Routes must
/// therefore ask for `Chrome` or `Staff` *before* `Connection<Db>`: a request
/// holding one connection while waiting for a second could starve the pool.
struct CurrentStaff(Result<Option<Staff>, Status>);

async fn current_staff(req: &Request<'_>) -> Result<Option<Staff>, Status> {
    let config = req.rocket().state::<AuthConfig>().cloned().unwrap_or_default();
    let jar = req.cookies();
    let Some(raw) = jar.get_private(SESSION_COOKIE) else {
        return Ok(None);
    };
    let Ok(session) = serde_json::from_str::<Session>(raw.value()) else {
        jar.remove_private(SESSION_COOKIE);
        return Ok(None);
    };
    let now = Utc::now().timestamp();
    if now - session.issued > config.session_hours * 3600 || now - session.seen > config.idle_minutes * 60 {
        jar.remove_private(SESSION_COOKIE);
        return Ok(None);
    }
    let db = match req.guard::<&Db>().await {
        Outcome::Success(db) => db,
        _ => return Err(Status::InternalServerError),
    };
    let mut conn = db.acquire().await.map_err(|_| Status::ServiceUnavailable)?;
    let found = staff::find(&mut conn, session.staff_id).await.map_err(|_| Status::ServiceUnavailable)?;
    match found {
        Some(staff) if !staff.disabled && staff.session_epoch == session.epoch => {
            if now - session.seen > REFRESH_AFTER {
                write_session(jar, &config, &Session { seen: now, ..session });
            }
            Ok(Some(staff))
        }
        _ => {
            jar.remove_private(SESSION_COOKIE);
            Ok(None)
        }
    }
}

async fn cached_staff(req: &Request<'_>) -> Result<Option<Staff>, Status> {
    req.local_cache_async(async { CurrentStaff(current_staff(req).await) }).await.0.clone()
}

/// A signed-in, enabled staff member. Without one, the request is answered
/// 401, which the catchers turn into a redirect to the sign-in page.
#[rocket::async_trait]
impl<'r> FromRequest<'r> for Staff {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        match cached_staff(req).await {
            Ok(Some(staff)) => Outcome::Success(staff),
            Ok(None) => Outcome::Error((Status::Unauthorized, ())),
            Err(status) => Outcome::Error((status, ())),
        }
    }
}

/// What every page's frame needs: the signed-in staff member, the CSRF token
/// for its forms, which menu entry is active, and the flash message left by
/// the previous action.
pub struct Chrome {
    pub active: &'static str,
    pub flash: Option<(String, String)>,
    pub staff: Option<Staff>,
    pub csrf: String,
}

impl Chrome {
    /// Marks the menu entry of the page being shown.
    pub fn on(mut self, active: &'static str) -> Chrome {
        self.active = active;
        self
    }

    /// Whether the signed-in staff member may change things.
    pub fn can_edit(&self) -> bool {
        self.staff.as_ref().is_some_and(Staff::is_admin)
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Chrome {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let staff = match req.guard::<Staff>().await {
            Outcome::Success(staff) => staff,
            Outcome::Error(e) => return Outcome::Error(e),
            Outcome::Forward(s) => return Outcome::Forward(s),
        };
        let flash = match req.guard::<Option<FlashMessage<'_>>>().await {
            Outcome::Success(flash) => flash.map(|f| (f.kind().to_string(), f.message().to_string())),
            _ => None,
        };
        let config = req.rocket().state::<AuthConfig>().cloned().unwrap_or_default();
        let csrf = csrf_token(req.cookies(), &config);
        Outcome::Success(Chrome { active: "", flash, staff: Some(staff), csrf })
    }
}

/// A form whose CSRF token matched this browser's. Anything else is 403.
pub struct CsrfForm<T>(pub T);

#[rocket::async_trait]
impl<'r, T: for<'a> FromForm<'a> + Send + 'static> FromData<'r> for CsrfForm<T> {
    type Error = ();

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> DataOutcome<'r, Self> {
        if req.content_type().is_none_or(|ct| !ct.is_form()) {
            return DataOutcome::Error((Status::UnsupportedMediaType, ()));
        }
        let limit = req.limits().get("form").unwrap_or(rocket::data::ByteUnit::Kibibyte(64));
        let body = match data.open(limit).into_string().await {
            Ok(body) if body.is_complete() => body.into_inner(),
            Ok(_) => return DataOutcome::Error((Status::PayloadTooLarge, ())),
            Err(_) => return DataOutcome::Error((Status::BadRequest, ())),
        };
        // Percent-decode the fields once, as Rocket's own `Form` guard does.
        let fields: Vec<(String, String)> = body
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                let decode = |s: &str| RawStr::new(s).url_decode_lossy().into_owned();
                (decode(name), decode(value))
            })
            .collect();
        let sent = fields.iter().find(|(name, _)| name == "csrf").map(|(_, value)| value.clone());
        let expected = req.cookies().get_private(CSRF_COOKIE).map(|c| c.value().to_string());
        let valid = match (sent, expected) {
            (Some(sent), Some(expected)) => {
                !expected.is_empty() && bool::from(subtle::ConstantTimeEq::ct_eq(sent.as_bytes(), expected.as_bytes()))
            }
            _ => false,
        };
        if !valid {
            return DataOutcome::Error((Status::Forbidden, ()));
        }
        let values = fields.iter().map(|(name, value)| ValueField::from((name.as_str(), value.as_str())));
        match Form::<T>::parse_iter(values) {
            Ok(value) => DataOutcome::Success(CsrfForm(value)),
            Err(_) => DataOutcome::Error((Status::UnprocessableEntity, ())),
        }
    }
}

/// A form from a signed-in admin, with a valid CSRF token. A viewer gets 403
/// whatever the page showed them; no session gets the sign-in page.
pub struct AdminForm<T> {
    pub staff: Staff,
    pub form: T,
}

impl<T> AdminForm<T> {
    /// The staff member the audit trail will name for this change.
    pub fn actor(&self) -> Option<i64> {
        Some(self.staff.id)
    }
}

#[rocket::async_trait]
impl<'r, T: for<'a> FromForm<'a> + Send + 'static> FromData<'r> for AdminForm<T> {
    type Error = ();

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> DataOutcome<'r, Self> {
        let staff = match cached_staff(req).await {
            Ok(Some(staff)) => staff,
            Ok(None) => return DataOutcome::Error((Status::Unauthorized, ())),
            Err(status) => return DataOutcome::Error((status, ())),
        };
        if !staff.is_admin() {
            return DataOutcome::Error((Status::Forbidden, ()));
        }
        match CsrfForm::<T>::from_data(req, data).await {
            DataOutcome::Success(CsrfForm(form)) => DataOutcome::Success(AdminForm { staff, form }),
            DataOutcome::Error(e) => DataOutcome::Error(e),
            DataOutcome::Forward(f) => DataOutcome::Forward(f),
        }
    }
}

/// Where to go after signing in: only a path on this site, never elsewhere.
pub fn safe_next(next: Option<&str>) -> String {
    let next = next.unwrap_or("/").trim();
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\');
    if local {
        next.to_string()
    } else {
        "/".to_string()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    email: String,
    next: String,
    error: Option<String>,
}

#[get("/sign-in?<next>")]
async fn sign_in_page(
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
    let chrome = Chrome {
        active: "sign-in",
        flash: flash.map(|f| (f.kind().to_string(), f.message().to_string())),
        staff: None,
        csrf: csrf_token(jar, config),
    };
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
enum SignInAnswer {
    Done(Redirect),
    #[response(status = 200)]
    Again(SignInPage),
    #[response(status = 429)]
    Throttled(SignInPage),
}

#[post("/sign-in", data = "<form>")]
async fn sign_in(
    mut db: Connection<Db>,
    jar: &CookieJar<'_>,
    config: &State<AuthConfig>,
    address: Option<std::net::IpAddr>,
    form: CsrfForm<SignInForm>,
) -> Result<SignInAnswer, AppError> {
    let form = form.0;
    let address = address.map(|a| a.to_string()).unwrap_or_else(|| "unknown".into());
    let next = safe_next(Some(&form.next));
    let email = form.email.trim().chars().take(254).collect::<String>();
    let page = |error: String| SignInPage {
        chrome: Chrome { active: "sign-in", flash: None, staff: None, csrf: csrf_token(jar, config) },
        email: email.clone(),
        next: next.clone(),
        error: Some(error),
    };

    let recent = staff::recent_failures(&mut db, &email, &address, config.throttle_window_minutes).await?;
    if recent.for_email >= config.max_failures_per_account || recent.for_address >= config.max_failures_per_address {
        let minutes = (recent.retry_after_seconds + 59) / 60;
        return Ok(SignInAnswer::Throttled(page(format!(
            "Too many failed sign-ins. For your security, signing in is paused for this account or network; try again in {} minute{}.",
            minutes.max(1),
            if minutes > 1 { "s" } else { "" }
        ))));
    }

    let found = staff::find_for_sign_in(&mut db, &email).await?;
    // Check a password hash even for unknown emails, so both take the same time.
    let hash = found.as_ref().map(|(_, h)| h.clone()).unwrap_or_else(|| crate::passwords::decoy_hash().to_string());
    let password_ok = crate::passwords::verify_async(form.password.clone(), hash).await;
    match found {
        Some((staff, _)) if password_ok && !staff.disabled => {
            staff::record_sign_in(&mut db, &staff, &address).await?;
            let now = Utc::now().timestamp();
            write_session(
                jar,
                config,
                &Session { staff_id: staff.id, epoch: staff.session_epoch, issued: now, seen: now },
            );
            // A fresh CSRF token for the new session.
            jar.add_private(cookie(config, CSRF_COOKIE, crate::passwords::token()));
            Ok(SignInAnswer::Done(Redirect::to(next)))
        }
        _ => {
            staff::record_failure(&mut db, &email, &address).await?;
            Ok(SignInAnswer::Again(page("That email and password do not match an active account.".into())))
        }
    }
}

/// Signing out needs nothing but the CSRF token, which `CsrfForm` checks.
#[derive(Debug, FromForm)]
pub struct SignOutForm {
    #[field(name = "csrf", default = String::new())]
    _csrf: String,
}

#[post("/sign-out", data = "<_form>")]
async fn sign_out(
    staff: Option<Staff>,
    mut db: Connection<Db>,
    jar: &CookieJar<'_>,
    _form: CsrfForm<SignOutForm>,
) -> Result<Flash<Redirect>, AppError> {
    if let Some(staff) = staff {
        // Moving the epoch on ends this session everywhere, even in a copied cookie.
        sqlx::query("UPDATE staff SET session_epoch = session_epoch + 1 WHERE id = $1")
            .bind(staff.id)
            .execute(&mut **db)
            .await?;
        staff::record_sign_out(&mut db, staff.id).await?;
    }
    jar.remove_private(SESSION_COOKIE);
    jar.remove_private(CSRF_COOKIE);
    Ok(done("/sign-in".into(), "You have signed out."))
}

pub fn routes() -> Vec<rocket::Route> {
    routes![sign_in_page, sign_in, sign_out]
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/orders?status=paid")), "/orders?status=paid");
        for hostile in
            ["https://evil.example", "//evil.example", "/\\evil.example", "evil", "", "/\tx", "javascript:alert(1)"]
        {
            assert_eq!(safe_next(Some(hostile)), "/", "{hostile}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
