//! Security headers on every response, including errors and static files;
//! the client's address (trusting a proxy's header only from that proxy);
//! and the time limits that keep slow clients from holding the server.

use std::net::IpAddr;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{Cookie, Header};
use rocket::request::{FromRequest, Outcome};
use rocket::{Request, Response};
use serde::Deserialize;

/// No inline script, nothing from other origins, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
    base-uri 'none'; object-src 'none'";

pub const PERMISSIONS_POLICY: &str = "accelerometer=(), camera=(), geolocation=(), gyroscope=(), \
    magnetometer=(), microphone=(), payment=(), usb=(), interest-cohort=()";

/// Rocket's flash cookie, which Rocket itself sets without `HttpOnly`.
const FLASH_COOKIE: &str = "_flash";

pub struct SecurityHeaders {
    /// Whether cookies are sent only over HTTPS (`[default.auth] secure_cookies`).
    pub secure_cookies: bool,
}

#[rocket::async_trait]
impl Fairing for SecurityHeaders {
    fn info(&self) -> Info {
        Info { name: "Security headers", kind: Kind::Response }
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        response.set_header(Header::new("Content-Security-Policy", CONTENT_SECURITY_POLICY));
        response.set_header(Header::new("X-Frame-Options", "DENY"));
        response.set_header(Header::new("X-Content-Type-Options", "nosniff"));
        response.set_header(Header::new("Referrer-Policy", "same-origin"));
        response.set_header(Header::new("Permissions-Policy", PERMISSIONS_POLICY));
        response.set_header(Header::new("Cross-Origin-Opener-Policy", "same-origin"));
        // Pages, pickers and downloads show the shop's data: no browser or
        // proxy may keep a copy. Only the static assets are cacheable.
        if !request.uri().path().starts_with("/static/") {
            response.set_header(Header::new("Cache-Control", "no-store"));
        }
        harden_flash_cookie(response, self.secure_cookies);
    }
}

/// Rewrites Rocket's flash cookie with the attributes our own cookies carry:
/// `HttpOnly` (no script reads it), `SameSite=Lax`, and `Secure` when configured.
fn harden_flash_cookie(response: &mut Response<'_>, secure: bool) {
    let cookies: Vec<String> = response.headers().get("Set-Cookie").map(str::to_string).collect();
    if !cookies.iter().any(|c| c.starts_with(&format!("{FLASH_COOKIE}="))) {
        return;
    }
    response.remove_header("Set-Cookie");
    for raw in cookies {
        let value = match Cookie::parse(raw.clone()) {
            Ok(mut cookie) if cookie.name() == FLASH_COOKIE => {
                cookie.set_http_only(true);
                cookie.set_same_site(rocket::http::SameSite::Lax);
                cookie.set_secure(secure);
                cookie.to_string()
            }
            _ => raw,
        };
        response.adjoin_header(Header::new("Set-Cookie", value));
    }
}

/// Which proxy may tell us the client's address, and in which header.
///
/// By default no header is trusted: the address is the TCP peer's. Behind a
/// reverse proxy, name its header (`X-Forwarded-For` or `X-Real-IP`) and the
/// proxy's addresses; the header is then read only on connections from them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ProxyConfig {
    /// The header the proxy sets, e.g. `X-Forwarded-For`.
    pub header: Option<String>,
    /// The proxies' addresses or networks (`10.0.0.0/8`, `::1`).
    pub trusted: Vec<String>,
}

impl ProxyConfig {
    pub fn from_figment(figment: &rocket::figment::Figment) -> Result<ProxyConfig, String> {
        let config: ProxyConfig = figment.extract_inner("proxy").unwrap_or_default();
        for entry in &config.trusted {
            if Network::parse(entry).is_none() {
                return Err(format!("proxy.trusted: {entry:?} is not an IP address or network like 10.0.0.0/8"));
            }
        }
        if config.header.as_deref().is_some_and(|h| h.trim().is_empty()) {
            return Err("proxy.header is empty: name the header, or leave it out to trust none".into());
        }
        Ok(config)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.trusted.iter().filter_map(|n| Network::parse(n)).any(|n| n.contains(address))
    }

    /// The client's address for a request from `peer` with these headers.
    pub fn client_address(&self, peer: IpAddr, header_values: &[&str]) -> IpAddr {
        if self.header.is_none() || !self.trusts(peer) {
            return peer;
        }
        // `X-Forwarded-For: client, proxy1, proxy2`: every proxy appends the
        // address it saw, so the first address from the right that is not one
        // of our proxies is the client. Anything left of it may be forged.
        let hops: Vec<IpAddr> =
            header_values.iter().flat_map(|v| v.split(',')).filter_map(|hop| parse_hop(hop.trim())).collect();
        hops.iter().rev().copied().find(|hop| !self.trusts(*hop)).or(hops.first().copied()).unwrap_or(peer)
    }
}

/// An address in a forwarding header: `1.2.3.4`, `1.2.3.4:5678`, `[::1]:80` or `::1`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(socket) = hop.parse::<std::net::SocketAddr>() {
        return Some(socket.ip());
    }
    hop.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// An address or a network in CIDR notation.
#[derive(Debug, Clone, Copy)]
struct Network {
    base: IpAddr,
    prefix: u8,
}

impl Network {
    fn parse(s: &str) -> Option<Network> {
        let (ip, prefix) = match s.trim().split_once('/') {
            Some((ip, prefix)) => (ip.parse::<IpAddr>().ok()?, Some(prefix.parse::<u8>().ok()?)),
            None => (s.trim().parse::<IpAddr>().ok()?, None),
        };
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Network { base: ip, prefix })
    }

    fn contains(&self, address: IpAddr) -> bool {
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(address),
            v4 => v4,
        };
        match (self.base, address) {
            (IpAddr::V4(base), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(base) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(base), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(base) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// The address of the client making the request, as the sign-in throttle and
/// the audit trail record it: the TCP peer, or what a trusted proxy says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub Option<IpAddr>);

impl ClientAddress {
    /// The address as the sign-in throttle counts it: an IPv4 address as is,
    /// an IPv6 address by its /64 network, since one client is handed a whole
    /// /64 and could otherwise take a fresh budget with every address in it.
    pub fn throttle_key(&self) -> String {
        match self.0 {
            Some(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
                let network = std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1));
                format!("{network}/64")
            }
            Some(IpAddr::V6(v6)) => v6.to_ipv4_mapped().map_or_else(|| v6.to_string(), |v4| v4.to_string()),
            _ => self.to_string(),
        }
    }
}

impl std::fmt::Display for ClientAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(ip) => write!(f, "{ip}"),
            None => write!(f, "unknown"),
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ClientAddress {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let Some(peer) = req.remote().map(|r| r.ip()) else {
            return Outcome::Success(ClientAddress(None));
        };
        let address = match req.rocket().state::<ProxyConfig>() {
            Some(proxy) => {
                let values: Vec<&str> = match &proxy.header {
                    Some(name) => req.headers().get(name).collect(),
                    None => Vec::new(),
                };
                proxy.client_address(peer, &values)
            }
            None => peer,
        };
        Outcome::Success(ClientAddress(Some(address)))
    }
}

/// How long the server waits on a client, in seconds (`[default.timeouts]`).
///
/// Rocket 0.5 has no limit on how long a client may take to send a request's
/// headers; such a client holds a socket and nothing else (no database
/// connection is taken before the body is read). Put a proxy with its own
/// header timeout in front of Shopdesk on the open internet (see SECURITY.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Timeouts {
    /// A form's body must arrive within this time, or the request is refused (408).
    pub body: u64,
    /// A download the client stops reading for this long is abandoned.
    pub download: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { body: 10, download: 30 }
    }
}

impl Timeouts {
    pub fn from_figment(figment: &rocket::figment::Figment) -> Timeouts {
        let timeouts: Timeouts = figment.extract_inner("timeouts").unwrap_or_default();
        Timeouts { body: timeouts.body.max(1), download: timeouts.download.max(1) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_forwarding_header_counts_only_from_a_trusted_proxy() {
        let none = ProxyConfig::default();
        assert_eq!(none.client_address(ip("127.0.0.1"), &["6.6.6.6"]), ip("127.0.0.1"));
        let proxy = ProxyConfig { header: Some("X-Forwarded-For".into()), trusted: vec!["10.0.0.0/8".into()] };
        // From the proxy: the client it saw; forged entries on the left are ignored.
        assert_eq!(proxy.client_address(ip("10.1.2.3"), &["6.6.6.6, 203.0.113.9"]), ip("203.0.113.9"));
        assert_eq!(proxy.client_address(ip("10.1.2.3"), &["203.0.113.9, 10.0.0.2"]), ip("203.0.113.9"));
        assert_eq!(proxy.client_address(ip("10.1.2.3"), &["[2001:db8::1]:443"]), ip("2001:db8::1"));
        // Not from the proxy: the header means nothing.
        assert_eq!(proxy.client_address(ip("198.51.100.7"), &["6.6.6.6"]), ip("198.51.100.7"));
        // From the proxy but no usable header: the proxy itself.
        assert_eq!(proxy.client_address(ip("10.1.2.3"), &["garbage"]), ip("10.1.2.3"));
        assert_eq!(proxy.client_address(ip("::ffff:10.0.0.1"), &["203.0.113.1"]), ip("203.0.113.1"));
    }

    #[test]
    fn the_throttle_counts_an_ipv6_client_by_its_64() {
        assert_eq!(ClientAddress(Some(ip("2001:db8:1:2:aaaa::1"))).throttle_key(), "2001:db8:1:2::/64");
        assert_eq!(ClientAddress(Some(ip("2001:db8:1:2:bbbb::9"))).throttle_key(), "2001:db8:1:2::/64");
        assert_eq!(ClientAddress(Some(ip("::ffff:192.0.2.1"))).throttle_key(), "192.0.2.1");
        assert_eq!(ClientAddress(Some(ip("192.0.2.1"))).throttle_key(), "192.0.2.1");
        assert_eq!(ClientAddress(None).throttle_key(), "unknown");
    }

    #[test]
    fn networks_parse_and_match() {
        assert!(Network::parse("10.0.0.0/8").unwrap().contains(ip("10.255.0.1")));
        assert!(!Network::parse("10.0.0.0/8").unwrap().contains(ip("11.0.0.1")));
        assert!(Network::parse("::1").unwrap().contains(ip("::1")));
        assert!(Network::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Network::parse("10.0.0.0/33").is_none());
        assert!(Network::parse("nonsense").is_none());
    }
}
