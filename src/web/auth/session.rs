//! The session, pending second-factor and pre-session cookies, the request
//! guards that read them (`Staff`, `Chrome`), and the CSRF-checked forms.

use chrono::Utc;
use rocket::data::{Data, FromData, Outcome as DataOutcome};
use rocket::form::{Form, FromForm, ValueField};
use rocket::http::{Cookie, CookieJar, RawStr, SameSite, Status};
use rocket::request::{FlashMessage, FromRequest, Outcome};
use rocket::Request;
use serde::{Deserialize, Serialize};

use super::{AuthConfig, PENDING_COOKIE, PENDING_SECONDS, PRESESSION_COOKIE, REFRESH_AFTER, SESSION_COOKIE};
use crate::db::staff::{self, Staff};
use crate::db::Db;
use crate::domain::ShopZone;
use crate::web::security::Timeouts;

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
pub(super) struct Pending {
    pub(super) staff_id: i64,
    pub(super) epoch: i32,
    pub(super) issued: i64,
    pub(super) next: String,
    pub(super) csrf: String,
}

/// A cookie that lives exactly as long as what it carries may be used.
pub(super) fn cookie(config: &AuthConfig, name: &'static str, value: String, lifetime_seconds: i64) -> Cookie<'static> {
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
pub(super) fn forget(jar: &CookieJar<'_>, name: &'static str) {
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
pub(super) fn start_session(jar: &CookieJar<'_>, config: &AuthConfig, staff_id: i64, epoch: i32) {
    let now = Utc::now().timestamp();
    write_session(jar, config, &Session { staff_id, epoch, issued: now, seen: now, csrf: crate::passwords::token() });
    forget(jar, PRESESSION_COOKIE);
    forget(jar, PENDING_COOKIE);
}

/// One of our private cookies as it stands in this request: the value this
/// server set or removed earlier in the same request, else the value the
/// browser sent, only if it decrypts and authenticates under the secret key.
///
/// `CookieJar::get_pending` alone is not enough: for a cookie not changed in
/// this request it falls back to the raw value the client sent when that
/// value is not a valid private cookie, so a plain-text forgery would be
/// believed. A value `get_pending` gives that equals the raw cookie sent, and
/// is not the authenticated one, is exactly that fallback and is refused.
fn read_private(jar: &CookieJar<'_>, name: &str) -> Option<String> {
    let current = jar.get_pending(name)?;
    let authenticated = jar.get_private(name);
    if authenticated.as_ref().is_some_and(|c| c.value() == current.value()) {
        return Some(current.value().to_string());
    }
    let sent_raw = jar.get(name).is_some_and(|c| c.value() == current.value());
    (!sent_raw).then(|| current.value().to_string())
}

/// The session cookie's content, as it stands in this request (a session
/// started or ended earlier in the same request counts).
fn read_session(jar: &CookieJar<'_>) -> Option<Session> {
    read_private(jar, SESSION_COOKIE).and_then(|value| serde_json::from_str(&value).ok())
}

pub(super) fn read_pending(jar: &CookieJar<'_>) -> Option<Pending> {
    let pending: Pending = read_private(jar, PENDING_COOKIE).and_then(|value| serde_json::from_str(&value).ok())?;
    let age = Utc::now().timestamp() - pending.issued;
    (0..=PENDING_SECONDS).contains(&age).then_some(pending)
}

/// This browser's pre-session CSRF token, if it holds an authentic one.
fn read_presession(jar: &CookieJar<'_>) -> Option<String> {
    read_private(jar, PRESESSION_COOKIE).filter(|token| !token.is_empty() && token.len() <= 64)
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
    if let Some(existing) = read_presession(jar) {
        return existing;
    }
    let token = crate::passwords::token();
    jar.add_private(cookie(config, PRESESSION_COOKIE, token.clone(), config.session_hours * 3600));
    token
}

/// The result of looking up the session, computed once per request.
///
/// The lookup borrows a pooled connection only for its one query, and
/// returns it before the route runs or its body is read; or it runs on the
/// page's own connection when the page's guard comes first (see
/// [`check_on_page_connection`]), so a page takes one checkout, not two.
struct CurrentStaff(Result<Option<Staff>, Status>);

/// The session this request's cookie claims, still within its lifetime and
/// idle limit; not yet checked against the staff table. A cookie that is no
/// longer valid is deleted.
fn claimed_session(req: &Request<'_>, config: &AuthConfig) -> Option<Session> {
    let jar = req.cookies();
    jar.get_private(SESSION_COOKIE)?;
    let Some(session) = read_session(jar) else {
        forget(jar, SESSION_COOKIE);
        return None;
    };
    let now = Utc::now().timestamp();
    if now - session.issued > config.session_hours * 3600 || now - session.seen > config.idle_minutes * 60 {
        forget(jar, SESSION_COOKIE);
        return None;
    }
    Some(session)
}

/// Whether the claimed session still belongs to an enabled staff member
/// whose sessions were not all ended since it began.
async fn check_session(
    req: &Request<'_>,
    config: &AuthConfig,
    session: Session,
    conn: &mut sqlx::PgConnection,
) -> Result<Option<Staff>, Status> {
    let jar = req.cookies();
    let found = staff::find(conn, session.staff_id).await.map_err(|_| Status::ServiceUnavailable)?;
    match found {
        Some(staff) if !staff.disabled && staff.session_epoch == session.epoch => {
            let now = Utc::now().timestamp();
            if now - session.seen > REFRESH_AFTER {
                write_session(jar, config, &Session { seen: now, ..session });
            }
            Ok(Some(staff))
        }
        _ => {
            forget(jar, SESSION_COOKIE);
            Ok(None)
        }
    }
}

async fn current_staff(req: &Request<'_>) -> Result<Option<Staff>, Status> {
    let config = req.rocket().state::<AuthConfig>().cloned().unwrap_or_default();
    let Some(session) = claimed_session(req, &config) else {
        return Ok(None);
    };
    let db = match req.guard::<&Db>().await {
        Outcome::Success(db) => db,
        _ => return Err(Status::InternalServerError),
    };
    let mut conn = db.conn().await.map_err(|_| Status::ServiceUnavailable)?;
    check_session(req, &config, session, &mut conn).await
}

/// Whether this request may be from a signed-in staff member: it carries a
/// valid, unexpired session cookie (or an earlier guard found the staff
/// member). A page guard asks this before it takes a connection, so a
/// request without a session never takes one.
pub fn may_be_signed_in(req: &Request<'_>) -> bool {
    let config = req.rocket().state::<AuthConfig>().cloned().unwrap_or_default();
    claimed_session(req, &config).is_some()
}

/// Checks this request's session on `conn`, the primary connection a page's
/// guard has just taken, unless an earlier guard already checked it. The
/// staff member found is what `Staff` and `Chrome` then give the route.
pub async fn check_on_page_connection(req: &Request<'_>, conn: &mut sqlx::PgConnection) {
    req.local_cache_async(async {
        let config = req.rocket().state::<AuthConfig>().cloned().unwrap_or_default();
        let found = match claimed_session(req, &config) {
            Some(session) => check_session(req, &config, session, conn).await,
            None => Ok(None),
        };
        CurrentStaff(found)
    })
    .await;
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
    pub(super) fn signed_out(jar: &CookieJar<'_>, config: &AuthConfig, active: &'static str) -> Chrome {
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
    read_presession(jar)
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

/// After one's own password or second factor changed (which ended every
/// session of the account), keeps this browser signed in with a new session.
pub fn renew_session(jar: &CookieJar<'_>, config: &AuthConfig, staff_id: i64, epoch: i32) {
    start_session(jar, config, staff_id, epoch);
}
