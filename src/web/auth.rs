//! Who is asking: staff sessions in private (encrypted and signed) cookies,
//! roles, CSRF tokens bound to the session, the sign-in throttle, two-factor
//! sign-in, and the sign-in and sign-out pages.
//!
//! Every page takes a [`Chrome`] (which needs a signed-in staff member), and
//! every state-changing route takes its form through [`AdminForm`] (which
//! needs an admin and a valid CSRF token) or [`CsrfForm`] (token only, for
//! signing in and out and one's own account). Tests walk the route table to
//! prove no POST escapes.
//!
//! Forms are read (within `[default.timeouts] body` seconds) before any
//! route takes a database connection, so a client that stalls mid-upload
//! holds a socket, never a pooled connection.

use askama::Template;
use askama_web::WebTemplate;
use chrono::Utc;
use rocket::data::{Data, FromData, Outcome as DataOutcome};
use rocket::form::{Form, FromForm, ValueField};
use rocket::http::{Cookie, CookieJar, RawStr, SameSite, Status};
use rocket::request::{FlashMessage, FromRequest, Outcome};
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, Request, State};
use serde::{Deserialize, Serialize};

use super::security::{ClientAddress, Timeouts};
use super::{done, AppError};
use crate::db::staff::{self, Admission, Factor, Staff};
use crate::db::Db;
use crate::domain::ShopZone;

const SESSION_COOKIE: &str = "shopdesk_session";
/// A signed-out browser's CSRF token, until it signs in.
const PRESESSION_COOKIE: &str = "shopdesk_csrf";
/// A sign-in whose password was right, waiting for the second factor.
const PENDING_COOKIE: &str = "shopdesk_pending";
/// How often a session's "last seen" time is refreshed, in seconds.
const REFRESH_AFTER: i64 = 60;
/// How long the second factor may take after the password, in seconds.
const PENDING_SECONDS: i64 = 300;

/// Session and sign-in rules, from configuration (`[default.auth]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// A session ends this long after sign-in, whatever happens.
    pub session_hours: i64,
    /// A session ends after this long without a request.
    pub idle_minutes: i64,
    /// Mark cookies `Secure` (send only over HTTPS). On automatically with TLS.
    pub secure_cookies: bool,
    /// Failed sign-ins for one account from one address within the window
    /// before that address is refused for the account; also how many failures
    /// from all addresses together start the account's growing delay.
    pub max_failures_per_account: i64,
    /// Failed sign-ins from one address (any account) within the window before it is refused.
    pub max_failures_per_address: i64,
    pub throttle_window_minutes: i32,
    /// The longest wait the growing per-account delay imposes, in seconds.
    pub max_delay_seconds: i64,
    /// Admins must set up two-factor sign-in before they can do anything else.
    pub require_two_factor_for_admins: bool,
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
            max_delay_seconds: 60,
            require_two_factor_for_admins: false,
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

    /// The throttle's limits.
    pub fn limits(&self) -> staff::Limits {
        staff::Limits {
            per_account_and_address: self.max_failures_per_account,
            per_address: self.max_failures_per_address,
            per_account_free: self.max_failures_per_account,
            max_delay_seconds: self.max_delay_seconds,
            window_minutes: self.throttle_window_minutes,
        }
    }
}

/// What the session cookie holds. `csrf` is this session's own token: a
/// token from another session, or from before signing in, does not match.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Session {
    staff_id: i64,
    epoch: i32,
    issued: i64,
    seen: i64,
    csrf: String,
}

/// A sign-in waiting for its second factor.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    staff_id: i64,
    epoch: i32,
    issued: i64,
    next: String,
    csrf: String,
}

/// A cookie that lives exactly as long as what it carries may be used.
fn cookie(config: &AuthConfig, name: &'static str, value: String, lifetime_seconds: i64) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(config.secure_cookies)
        .max_age(rocket::time::Duration::seconds(lifetime_seconds.max(0)))
        .expires(rocket::time::OffsetDateTime::now_utc() + rocket::time::Duration::seconds(lifetime_seconds.max(0)))
        .build()
}

/// Deletes one of our cookies (with the attributes it was set with).
fn forget(jar: &CookieJar<'_>, name: &'static str) {
    jar.remove_private(Cookie::build(name).path("/").http_only(true).same_site(SameSite::Lax).build());
}

fn write_session(jar: &CookieJar<'_>, config: &AuthConfig, session: &Session) {
    let left = session.issued + config.session_hours * 3600 - Utc::now().timestamp();
    if let Ok(value) = serde_json::to_string(session) {
        jar.add_private(cookie(config, SESSION_COOKIE, value, left));
    }
}

/// Starts a new session for `staff`, with a fresh CSRF token; the pre-session
/// token and any pending second-factor step are dropped.
fn start_session(jar: &CookieJar<'_>, config: &AuthConfig, staff_id: i64, epoch: i32) {
    let now = Utc::now().timestamp();
    write_session(jar, config, &Session { staff_id, epoch, issued: now, seen: now, csrf: crate::passwords::token() });
    forget(jar, PRESESSION_COOKIE);
    forget(jar, PENDING_COOKIE);
}

/// The session cookie's content, as it stands in this request (a session
/// started or ended earlier in the same request counts).
fn read_session(jar: &CookieJar<'_>) -> Option<Session> {
    jar.get_pending(SESSION_COOKIE).and_then(|c| serde_json::from_str(c.value()).ok())
}

fn read_pending(jar: &CookieJar<'_>) -> Option<Pending> {
    let pending: Pending = jar.get_pending(PENDING_COOKIE).and_then(|c| serde_json::from_str(c.value()).ok())?;
    (Utc::now().timestamp() - pending.issued <= PENDING_SECONDS).then_some(pending)
}

/// The CSRF token for this browser's forms: its session's, else its
/// pending sign-in's, else a pre-session token created on first use.
pub fn csrf_token(jar: &CookieJar<'_>, config: &AuthConfig) -> String {
    if let Some(session) = read_session(jar) {
        return session.csrf;
    }
    if let Some(pending) = read_pending(jar) {
        return pending.csrf;
    }
    if let Some(existing) = jar.get_pending(PRESESSION_COOKIE) {
        if !existing.value().is_empty() && existing.value().len() <= 64 {
            return existing.value().to_string();
        }
    }
    let token = crate::passwords::token();
    jar.add_private(cookie(config, PRESESSION_COOKIE, token.clone(), config.session_hours * 3600));
    token
}

/// The result of looking up the session, computed once per request.
///
/// The lookup borrows a pooled connection only for its one query, and
/// returns it before the route runs or its body is read.
struct CurrentStaff(Result<Option<Staff>, Status>);

async fn current_staff(req: &Request<'_>) -> Result<Option<Staff>, Status> {
    let config = req.rocket().state::<AuthConfig>().cloned().unwrap_or_default();
    let jar = req.cookies();
    if jar.get_private(SESSION_COOKIE).is_none() {
        return Ok(None);
    }
    let Some(session) = read_session(jar) else {
        forget(jar, SESSION_COOKIE);
        return Ok(None);
    };
    let now = Utc::now().timestamp();
    if now - session.issued > config.session_hours * 3600 || now - session.seen > config.idle_minutes * 60 {
        forget(jar, SESSION_COOKIE);
        return Ok(None);
    }
    let db = match req.guard::<&Db>().await {
        Outcome::Success(db) => db,
        _ => return Err(Status::InternalServerError),
    };
    let mut conn = db.conn().await.map_err(|_| Status::ServiceUnavailable)?;
    let found = staff::find(&mut conn, session.staff_id).await.map_err(|_| Status::ServiceUnavailable)?;
    match found {
        Some(staff) if !staff.disabled && staff.session_epoch == session.epoch => {
            if now - session.seen > REFRESH_AFTER {
                write_session(jar, &config, &Session { seen: now, ..session });
            }
            Ok(Some(staff))
        }
        _ => {
            forget(jar, SESSION_COOKIE);
            Ok(None)
        }
    }
}

async fn cached_staff(req: &Request<'_>) -> Result<Option<Staff>, Status> {
    req.local_cache_async(async { CurrentStaff(current_staff(req).await) }).await.0.clone()
}

/// Set when an admin who must enrol in two-factor sign-in asked for
/// anything else; the 403 catcher then sends them to enrol.
struct EnrolFirst(bool);

/// Whether this request was refused because its admin must enrol first.
pub fn must_enrol_first(req: &Request<'_>) -> bool {
    req.local_cache(|| EnrolFirst(false)).0
}

/// The signed-in staff member, if the shop's rules let them use this route:
/// an admin who must set up two-factor sign-in may only reach their account
/// page and sign out until they have.
async fn allowed_staff(req: &Request<'_>) -> Result<Option<Staff>, Status> {
    let Some(staff) = cached_staff(req).await? else {
        return Ok(None);
    };
    let config = req.rocket().state::<AuthConfig>().cloned().unwrap_or_default();
    let path = req.uri().path();
    let exempt = path.starts_with("/account") || path == "/sign-out";
    if config.require_two_factor_for_admins && staff.is_admin() && !staff.has_two_factor() && !exempt {
        req.local_cache(|| EnrolFirst(true));
        return Err(Status::Forbidden);
    }
    Ok(Some(staff))
}

/// A signed-in, enabled staff member. Without one, the request is answered
/// 401, which the catchers turn into a redirect to the sign-in page.
#[rocket::async_trait]
impl<'r> FromRequest<'r> for Staff {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        match allowed_staff(req).await {
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
    /// The shop's time zone, that every date and time on the page is shown in.
    pub zone: ShopZone,
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

    /// The frame of a page for someone not signed in.
    fn signed_out(jar: &CookieJar<'_>, config: &AuthConfig, active: &'static str) -> Chrome {
        Chrome { active, flash: None, staff: None, csrf: csrf_token(jar, config), zone: ShopZone::default() }
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
        let zone = req.rocket().state::<ShopZone>().copied().unwrap_or_default();
        Outcome::Success(Chrome { active: "", flash, staff: Some(staff), csrf, zone })
    }
}

/// The token this browser's forms must carry right now.
fn expected_csrf(jar: &CookieJar<'_>) -> Option<String> {
    if let Some(session) = read_session(jar) {
        return Some(session.csrf);
    }
    if let Some(pending) = read_pending(jar) {
        return Some(pending.csrf);
    }
    jar.get_pending(PRESESSION_COOKIE).map(|c| c.value().to_string())
}

/// A form whose CSRF token matched this browser's session (or, signed out,
/// its pre-session token). A wrong token is 403; a body that does not
/// arrive within the body timeout is 408.
pub struct CsrfForm<T>(pub T);

#[rocket::async_trait]
impl<'r, T: for<'a> FromForm<'a> + Send + 'static> FromData<'r> for CsrfForm<T> {
    type Error = ();

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> DataOutcome<'r, Self> {
        if req.content_type().is_none_or(|ct| !ct.is_form()) {
            return DataOutcome::Error((Status::UnsupportedMediaType, ()));
        }
        let limit = req.limits().get("form").unwrap_or(rocket::data::ByteUnit::Kibibyte(64));
        let timeout = req.rocket().state::<Timeouts>().map(|t| t.body).unwrap_or(Timeouts::default().body);
        let read =
            rocket::tokio::time::timeout(std::time::Duration::from_secs(timeout), data.open(limit).into_string());
        let body = match read.await {
            Ok(Ok(body)) if body.is_complete() => body.into_inner(),
            Ok(Ok(_)) => return DataOutcome::Error((Status::PayloadTooLarge, ())),
            Ok(Err(_)) => return DataOutcome::Error((Status::BadRequest, ())),
            Err(_) => return DataOutcome::Error((Status::RequestTimeout, ())),
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
        let valid = match (sent, expected_csrf(req.cookies())) {
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
        let staff = match allowed_staff(req).await {
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

/// Where to go after signing in: only a path on this site, never elsewhere,
/// and only one that is a valid address as typed (printable ASCII), so the
/// redirect can always be sent.
pub fn safe_next(next: Option<&str>) -> String {
    let next = next.unwrap_or("/").trim();
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 2000
        && next.chars().all(|c| c.is_ascii_graphic() && c != '\\')
        && rocket::http::uri::Origin::parse(next).is_ok();
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
enum SignInAnswer {
    Done(Redirect),
    #[response(status = 200)]
    Again(SignInPage),
    #[response(status = 429)]
    Throttled(SignInPage),
}

/// "3 minutes", "45 seconds": how long a refused sign-in must wait.
fn wait_text(seconds: i64) -> String {
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
async fn sign_in(
    jar: &CookieJar<'_>,
    config: &State<AuthConfig>,
    address: ClientAddress,
    db: &Db,
    form: CsrfForm<SignInForm>,
) -> Result<SignInAnswer, AppError> {
    let form = form.0;
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
    let attempt = match staff::admit(&mut conn, &email, &address, Factor::Password, &config.limits()).await? {
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

#[derive(Template, WebTemplate)]
#[template(path = "sign_in_code.html")]
struct CodePage {
    chrome: Chrome,
    error: Option<String>,
}

#[get("/sign-in/code")]
fn code_page(jar: &CookieJar<'_>, config: &State<AuthConfig>) -> Result<CodePage, Box<Flash<Redirect>>> {
    if read_pending(jar).is_none() {
        return Err(Box::new(super::refused("/sign-in".into(), "Sign in with your email and password first.")));
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
enum CodeAnswer {
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
async fn sign_in_code(
    jar: &CookieJar<'_>,
    config: &State<AuthConfig>,
    address: ClientAddress,
    db: &Db,
    form: CsrfForm<CodeForm>,
) -> Result<CodeAnswer, AppError> {
    let address = address.to_string();
    let Some(pending) = read_pending(jar) else {
        return Ok(CodeAnswer::Restart(super::refused(
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
        return Ok(CodeAnswer::Restart(super::refused("/sign-in".into(), "Sign in again.")));
    };
    if staff.disabled || staff.session_epoch != pending.epoch {
        forget(jar, PENDING_COOKIE);
        return Ok(CodeAnswer::Restart(super::refused("/sign-in".into(), "Sign in again.")));
    }
    let attempt = match staff::admit(&mut conn, staff.email.as_str(), &address, Factor::Code, &config.limits()).await? {
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

/// Signing out needs nothing but the CSRF token, which `CsrfForm` checks.
#[derive(Debug, FromForm)]
pub struct SignOutForm {
    #[field(name = "csrf", default = String::new())]
    _csrf: String,
}

#[post("/sign-out", data = "<_form>")]
async fn sign_out(
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

/// After one's own password or second factor changed (which ended every
/// session of the account), keeps this browser signed in with a new session.
pub fn renew_session(jar: &CookieJar<'_>, config: &AuthConfig, staff_id: i64, epoch: i32) {
    start_session(jar, config, staff_id, epoch);
}

pub fn routes() -> Vec<rocket::Route> {
    routes![sign_in_page, sign_in, code_page, sign_in_code, sign_out]
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
        ] {
            assert_eq!(safe_next(Some(hostile)), "/", "{hostile}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
