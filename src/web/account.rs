//! One's own account: change the password (only with the current one), and
//! set up, renew or turn off two-factor sign-in. Every staff member, viewers
//! included, manages their own account here.

use askama::Template;
use askama_web::WebTemplate;
use rocket::http::CookieJar;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, FromForm, State};

use super::auth::{check_code, renew_session, use_code, AuthConfig, CodeCheck, CsrfForm};
use super::security::ClientAddress;
use super::{done, filters, refused, AppError, Chrome};
use crate::db::staff::{self, Admission, Factor, Staff};
use crate::db::Db;
use crate::two_factor;

#[derive(Template, WebTemplate)]
#[template(path = "account/show.html")]
struct AccountPage {
    chrome: Chrome,
    me: Staff,
    recovery_left: i64,
    /// Admins must have two-factor sign-in here.
    required: bool,
}

fn required_for(config: &AuthConfig, me: &Staff) -> bool {
    config.require_two_factor_for_admins && me.is_admin()
}

#[get("/account")]
async fn show(chrome: Chrome, me: Staff, config: &State<AuthConfig>, db: &Db) -> Result<AccountPage, AppError> {
    let mut conn = db.conn().await?;
    let recovery_left = staff::recovery_codes_left(&mut conn, me.id).await?;
    Ok(AccountPage { chrome: chrome.on("account"), required: required_for(config, &me), me, recovery_left })
}

/// Checks a password typed again by the signed-in staff member, throttled
/// like sign-in so a stolen session cannot be used to guess it. `Ok(Err(_))`
/// says why it was not accepted.
async fn confirm_password(
    db: &Db,
    config: &AuthConfig,
    address: &str,
    me: &Staff,
    typed: &str,
) -> Result<Result<(), String>, AppError> {
    let mut conn = db.conn().await?;
    let attempt = match staff::admit(&mut conn, me.email.as_str(), address, Factor::Password, &config.limits()).await? {
        Admission::Check(attempt) => attempt,
        Admission::Refused { retry_after_seconds } => {
            return Ok(Err(format!(
                "too many wrong passwords; try again in {} minute(s).",
                (retry_after_seconds + 59) / 60
            )))
        }
    };
    let hash = staff::password_hash(&mut conn, me.id).await?.ok_or(AppError::NotFound)?;
    drop(conn);
    let ok = crate::passwords::verify_async(typed.to_string(), hash).await;
    if ok {
        staff::finish(&mut *db.conn().await?, attempt, true).await?;
        Ok(Ok(()))
    } else {
        Ok(Err("your current password was not right.".into()))
    }
}

/// Changes the signed-in staff member's own password once the current one
/// is confirmed; their other sessions end, this browser stays signed in.
pub async fn change_password(
    db: &Db,
    jar: &CookieJar<'_>,
    config: &AuthConfig,
    address: &str,
    me: &Staff,
    current: &str,
    new: &str,
) -> Result<Result<(), String>, AppError> {
    if current.is_empty() {
        return Ok(Err("enter your current password too.".into()));
    }
    if let Err(e) = crate::passwords::check_strength(new) {
        return Ok(Err(e));
    }
    if let Err(reason) = confirm_password(db, config, address, me, current).await? {
        return Ok(Err(reason));
    }
    let hash =
        crate::passwords::hash_async(new.to_string()).await.map_err(|e| AppError::internal("hashing a password", e))?;
    let epoch = staff::change_own_password(&mut *db.conn().await?, me.id, &hash).await?;
    renew_session(jar, config, me.id, epoch);
    Ok(Ok(()))
}

#[derive(Debug, FromForm)]
pub struct PasswordForm {
    #[field(default = String::new())]
    current_password: String,
    #[field(default = String::new())]
    password: String,
}

#[post("/account/password", data = "<form>")]
async fn password(
    me: Staff,
    address: ClientAddress,
    jar: &CookieJar<'_>,
    config: &State<AuthConfig>,
    db: &Db,
    form: CsrfForm<PasswordForm>,
) -> Result<Flash<Redirect>, AppError> {
    let form = form.0;
    let address = address.throttle_key();
    match change_password(db, jar, config, &address, &me, &form.current_password, &form.password).await? {
        Ok(()) => Ok(done("/account".into(), "Your password is changed; your other sessions have ended.")),
        Err(reason) => Ok(refused("/account".into(), format!("Your password was not changed: {reason}"))),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "account/two_factor.html")]
struct EnrolPage {
    chrome: Chrome,
    me: Staff,
    required: bool,
    /// The secret being enrolled, grouped for typing, and its QR code.
    secret: Option<(String, String)>,
    error: Option<String>,
}

async fn enrol_page(
    chrome: Chrome,
    me: Staff,
    config: &AuthConfig,
    db: &Db,
    error: Option<String>,
) -> Result<EnrolPage, AppError> {
    let pending = staff::pending_secret(&mut *db.conn().await?, me.id).await?;
    let secret = match pending {
        Some(secret) => {
            let url = two_factor::otpauth_url(&secret, me.email.as_str())
                .ok_or_else(|| AppError::Internal("a stored TOTP secret is not base32".into()))?;
            let qr =
                two_factor::qr_data_uri(&url).ok_or_else(|| AppError::Internal("could not draw a QR code".into()))?;
            Some((two_factor::grouped(&secret), qr))
        }
        None => None,
    };
    Ok(EnrolPage { chrome: chrome.on("account"), required: required_for(config, &me), me, secret, error })
}

#[derive(rocket::Responder)]
enum EnrolAnswer {
    Page(EnrolPage),
    Done(Flash<Redirect>),
    #[response(status = 422)]
    Again(EnrolPage),
    Codes(RecoveryCodesPage),
}

#[get("/account/two-factor")]
async fn two_factor_page(
    chrome: Chrome,
    me: Staff,
    config: &State<AuthConfig>,
    db: &Db,
) -> Result<EnrolAnswer, AppError> {
    if me.has_two_factor() {
        return Ok(EnrolAnswer::Done(done("/account".into(), "Two-factor sign-in is already on.")));
    }
    Ok(EnrolAnswer::Page(enrol_page(chrome, me, config, db, None).await?))
}

/// A form with nothing but its CSRF token.
#[derive(Debug, FromForm)]
pub struct Confirm {
    #[field(name = "csrf", default = String::new())]
    _csrf: String,
}

#[post("/account/two-factor/start", data = "<_form>")]
async fn start(me: Staff, db: &Db, _form: CsrfForm<Confirm>) -> Result<Flash<Redirect>, AppError> {
    if me.has_two_factor() {
        return Ok(done("/account".into(), "Two-factor sign-in is already on."));
    }
    staff::begin_enrolment(&mut *db.conn().await?, me.id, &two_factor::new_secret()).await?;
    Ok(done("/account/two-factor".into(), "Scan the code with your authenticator app, then type the code it shows."))
}

/// Turning two-factor sign-in on: the current password (so a stolen session
/// cannot enrol an authenticator of its own) and the first code.
#[derive(Debug, FromForm)]
pub struct EnrolForm {
    #[field(default = String::new())]
    current_password: String,
    #[field(default = String::new())]
    code: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "account/recovery_codes.html")]
struct RecoveryCodesPage {
    chrome: Chrome,
    codes: Vec<String>,
    /// Whether these came with turning two-factor sign-in on.
    enrolled: bool,
}

/// New recovery codes and their hashes.
async fn recovery_codes() -> Result<(Vec<String>, Vec<String>), AppError> {
    let codes = two_factor::new_recovery_codes();
    let plain = codes.clone();
    let hashes = rocket::tokio::task::spawn_blocking(move || {
        plain.iter().map(|c| crate::passwords::hash(c)).collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|e| AppError::internal("hashing recovery codes", e))?
    .map_err(|e| AppError::internal("hashing recovery codes", e))?;
    Ok((codes, hashes))
}

#[post("/account/two-factor/confirm", data = "<form>")]
#[allow(clippy::too_many_arguments)]
async fn confirm(
    chrome: Chrome,
    me: Staff,
    address: ClientAddress,
    jar: &CookieJar<'_>,
    config: &State<AuthConfig>,
    db: &Db,
    form: CsrfForm<EnrolForm>,
) -> Result<EnrolAnswer, AppError> {
    if me.has_two_factor() {
        return Ok(EnrolAnswer::Done(done("/account".into(), "Two-factor sign-in is already on.")));
    }
    let form = form.0;
    let address = address.throttle_key();
    if form.current_password.is_empty() {
        let error = "Type your current password too: it proves this is you.".to_string();
        return Ok(EnrolAnswer::Again(enrol_page(chrome, me, config, db, Some(error)).await?));
    }
    if let Err(reason) = confirm_password(db, config, &address, &me, &form.current_password).await? {
        let error = format!("Two-factor sign-in is not on yet: {reason}");
        return Ok(EnrolAnswer::Again(enrol_page(chrome, me, config, db, Some(error)).await?));
    }
    let mut conn = db.conn().await?;
    let Some(secret) = staff::pending_secret(&mut conn, me.id).await? else {
        return Ok(EnrolAnswer::Done(refused("/account/two-factor".into(), "Start the set-up first.")));
    };
    let attempt = match staff::admit(&mut conn, me.email.as_str(), &address, Factor::Code, &config.limits()).await? {
        Admission::Check(attempt) => attempt,
        Admission::Refused { retry_after_seconds } => {
            drop(conn);
            let error = format!("Too many wrong codes; try again in {} minute(s).", (retry_after_seconds + 59) / 60);
            return Ok(EnrolAnswer::Again(enrol_page(chrome, me, config, db, Some(error)).await?));
        }
    };
    drop(conn);
    let typed: String = form.code.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(step) = two_factor::matching_step(&secret, &typed, chrono::Utc::now().timestamp()) else {
        let error = "That code is not right. Type the 6 digits your app shows for Shopdesk now.".to_string();
        return Ok(EnrolAnswer::Again(enrol_page(chrome, me, config, db, Some(error)).await?));
    };
    let (codes, hashes) = recovery_codes().await?;
    let mut conn = db.conn().await?;
    let Some(epoch) = staff::confirm_enrolment(&mut conn, me.id, &secret, step, &hashes).await? else {
        drop(conn);
        let error = "The set-up was started again meanwhile; scan the new code below.".to_string();
        return Ok(EnrolAnswer::Again(enrol_page(chrome, me, config, db, Some(error)).await?));
    };
    staff::finish(&mut conn, attempt, true).await?;
    renew_session(jar, config, me.id, epoch);
    let mut chrome = chrome.on("account");
    chrome.csrf = super::auth::csrf_token(jar, config);
    Ok(EnrolAnswer::Codes(RecoveryCodesPage { chrome, codes, enrolled: true }))
}

#[derive(Debug, FromForm)]
pub struct PasswordOnly {
    #[field(default = String::new())]
    current_password: String,
}

#[derive(rocket::Responder)]
enum CodesAnswer {
    Codes(RecoveryCodesPage),
    Refused(Flash<Redirect>),
}

#[post("/account/two-factor/recovery-codes", data = "<form>")]
async fn new_codes(
    chrome: Chrome,
    me: Staff,
    address: ClientAddress,
    config: &State<AuthConfig>,
    db: &Db,
    form: CsrfForm<PasswordOnly>,
) -> Result<CodesAnswer, AppError> {
    if !me.has_two_factor() {
        return Ok(CodesAnswer::Refused(refused("/account".into(), "Turn on two-factor sign-in first.")));
    }
    if let Err(reason) = confirm_password(db, config, &address.throttle_key(), &me, &form.0.current_password).await? {
        return Ok(CodesAnswer::Refused(refused("/account".into(), format!("No new codes were made: {reason}"))));
    }
    let (codes, hashes) = recovery_codes().await?;
    staff::replace_recovery_codes(&mut *db.conn().await?, me.id, &hashes).await?;
    Ok(CodesAnswer::Codes(RecoveryCodesPage { chrome: chrome.on("account"), codes, enrolled: false }))
}

#[derive(Debug, FromForm)]
pub struct TurnOffForm {
    #[field(default = String::new())]
    current_password: String,
    #[field(default = String::new())]
    code: String,
}

#[post("/account/two-factor/off", data = "<form>")]
async fn turn_off(
    me: Staff,
    address: ClientAddress,
    jar: &CookieJar<'_>,
    config: &State<AuthConfig>,
    db: &Db,
    form: CsrfForm<TurnOffForm>,
) -> Result<Flash<Redirect>, AppError> {
    if !me.has_two_factor() {
        return Ok(done("/account".into(), "Two-factor sign-in is already off."));
    }
    if required_for(config, &me) {
        return Ok(refused("/account".into(), "This shop requires two-factor sign-in for admins, so it stays on."));
    }
    let address = address.throttle_key();
    if let Err(reason) = confirm_password(db, config, &address, &me, &form.0.current_password).await? {
        return Ok(refused("/account".into(), format!("Two-factor sign-in is still on: {reason}")));
    }
    let mut conn = db.conn().await?;
    let secret = staff::totp_secret(&mut conn, me.id).await?.ok_or(AppError::NotFound)?;
    let attempt = match staff::admit(&mut conn, me.email.as_str(), &address, Factor::Code, &config.limits()).await? {
        Admission::Check(attempt) => attempt,
        Admission::Refused { retry_after_seconds } => {
            return Ok(refused(
                "/account".into(),
                format!("Too many wrong codes; try again in {} minute(s).", (retry_after_seconds + 59) / 60),
            ))
        }
    };
    drop(conn);
    let check = check_code(db, me.id, &secret, &form.0.code).await?;
    let mut conn = db.conn().await?;
    if matches!(check, CodeCheck::Wrong) || !use_code(&mut conn, me.id, &check).await? {
        return Ok(refused(
            "/account".into(),
            "Two-factor sign-in is still on: that code is not right (or was used already).",
        ));
    }
    staff::finish(&mut conn, attempt, true).await?;
    let epoch = staff::turn_off_two_factor(&mut conn, me.id).await?;
    renew_session(jar, config, me.id, epoch);
    Ok(done("/account".into(), "Two-factor sign-in is off; your other sessions have ended."))
}

pub fn routes() -> Vec<rocket::Route> {
    routes![show, password, two_factor_page, start, confirm, new_codes, turn_off]
}

/// Mounts these pages.
pub fn stage() -> rocket::fairing::AdHoc {
    super::stage("Account", routes())
}
