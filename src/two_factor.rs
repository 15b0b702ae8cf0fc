//! Two-factor sign-in: time-based one-time codes (TOTP, RFC 6238: SHA-1,
//! six digits, 30-second steps, as every authenticator app reads them),
//! the QR code that carries the secret to the app (drawn here as SVG), and
//! single-use recovery codes.

use qrcode::render::svg;
use qrcode::QrCode;
use rand::Rng;
use totp_rs::{Algorithm, Secret, TOTP};

/// Seconds each code is valid for.
pub const STEP_SECONDS: i64 = 30;
/// Recovery codes given at enrolment.
pub const RECOVERY_CODES: usize = 10;
/// The issuer shown in authenticator apps.
const ISSUER: &str = "Shopdesk";
/// Letters and digits that cannot be mistaken for one another.
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// A new random secret (160 bits, as RFC 4226 recommends), base32-encoded.
pub fn new_secret() -> String {
    Secret::generate_secret().to_encoded().to_string()
}

fn totp(secret: &str, account: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret.to_string()).to_bytes().ok()?;
    // The account name may not contain a colon in an otpauth URL.
    let account = account.replace(':', " ");
    TOTP::new(Algorithm::SHA1, 6, 1, STEP_SECONDS as u64, bytes, Some(ISSUER.to_string()), account).ok()
}

/// The time step whose code `code` is, among the step at `now` and the one
/// before and after it (clocks drift), if any.
pub fn matching_step(secret: &str, code: &str, now: i64) -> Option<i64> {
    let totp = totp(secret, "account")?;
    let current = now.div_euclid(STEP_SECONDS);
    (current - 1..=current + 1).find(|step| {
        let expected = totp.generate(u64::try_from(step * STEP_SECONDS).unwrap_or(0));
        bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), code.as_bytes()))
    })
}

/// The code of the step at `now` (for tests and for showing what an app shows).
pub fn code_at(secret: &str, now: i64) -> Option<String> {
    totp(secret, "account").map(|t| t.generate(u64::try_from(now).unwrap_or(0)))
}

/// The `otpauth://` address an authenticator app reads from the QR code.
pub fn otpauth_url(secret: &str, account: &str) -> Option<String> {
    totp(secret, account).map(|t| t.get_url())
}

/// The QR code for `url` as an SVG image (no styles or scripts, so it is
/// clean under the Content-Security-Policy), ready for an `<img src>` data URI.
pub fn qr_data_uri(url: &str) -> Option<String> {
    let code = QrCode::new(url.as_bytes()).ok()?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(220, 220)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    Some(format!("data:image/svg+xml,{}", rocket::http::RawStr::new(&image).percent_encode()))
}

/// The secret split in groups of four, for typing it into an app by hand.
pub fn grouped(secret: &str) -> String {
    secret.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}

/// Ten new recovery codes, like `k7mq2-x9fte`.
pub fn new_recovery_codes() -> Vec<String> {
    let mut rng = rand::rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut code: String =
                (0..10).map(|_| RECOVERY_ALPHABET[rng.random_range(0..RECOVERY_ALPHABET.len())] as char).collect();
            code.insert(5, '-');
            code
        })
        .collect()
}

/// A typed recovery code in its stored form (lower case, with its dash), or
/// `None` if it cannot be one.
pub fn normalise_recovery_code(typed: &str) -> Option<String> {
    let letters: String =
        typed.chars().filter(|c| !c.is_whitespace() && *c != '-').flat_map(char::to_lowercase).collect();
    if letters.len() != 10 || !letters.bytes().all(|b| RECOVERY_ALPHABET.contains(&b)) {
        return None;
    }
    Some(format!("{}-{}", &letters[..5], &letters[5..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_their_step_and_its_neighbours_only() {
        let secret = new_secret();
        let now = 1_800_000_015;
        let code = code_at(&secret, now).unwrap();
        assert_eq!(matching_step(&secret, &code, now), Some(now / STEP_SECONDS));
        assert_eq!(matching_step(&secret, &code, now + 30), Some(now / STEP_SECONDS));
        assert_eq!(matching_step(&secret, &code, now + 90), None);
        assert_eq!(matching_step(&secret, "000000x", now), None);
    }

    #[test]
    fn the_rfc_6238_test_vector_holds() {
        // RFC 6238 appendix B, SHA-1, T = 59 s: 94287082, whose last six digits are 287082.
        let secret = Secret::Raw(b"12345678901234567890".to_vec()).to_encoded().to_string();
        assert_eq!(code_at(&secret, 59).as_deref(), Some("287082"));
    }

    #[test]
    fn recovery_codes_read_back_however_typed() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        for code in &codes {
            assert_eq!(normalise_recovery_code(&code.to_uppercase().replace('-', " ")).as_deref(), Some(code.as_str()));
        }
        assert_eq!(normalise_recovery_code("123456"), None);
        assert_eq!(normalise_recovery_code("aaaaa-aaaa1"), None);
    }

    #[test]
    fn the_qr_code_is_plain_svg() {
        let url = otpauth_url(&new_secret(), "ada@example.com").unwrap();
        assert!(url.starts_with("otpauth://totp/Shopdesk:ada%40example.com?"), "{url}");
        let uri = qr_data_uri(&url).unwrap();
        assert!(uri.starts_with("data:image/svg+xml,"));
        assert!(!uri.contains("style") && !uri.contains("script"));
        // A `#` would end the data URI early (colours are `%23000000`).
        assert!(!uri.contains('#') && uri.contains("%23000000"), "{uri}");
    }
}
