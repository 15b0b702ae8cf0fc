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

mod session;
mod sign_in;
mod two_factor;

use serde::Deserialize;

use crate::db::staff;

pub use session::{
    check_on_page_connection, csrf_token, may_be_signed_in, must_enrol_first, renew_session, AdminForm, Chrome,
    CsrfForm,
};
#[doc(hidden)]
pub use sign_in::rocket_uri_macro_sign_in_page;
pub use sign_in::{safe_next, sign_in_page, SignInForm, SignOutForm};
pub use two_factor::{check_code, use_code, CodeCheck, CodeForm};

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

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![
        sign_in::sign_in_page,
        sign_in::sign_in,
        two_factor::code_page,
        two_factor::sign_in_code,
        sign_in::sign_out
    ]
}

/// Mounts these pages.
pub fn stage() -> rocket::fairing::AdHoc {
    super::stage("Sign-in", routes())
}
