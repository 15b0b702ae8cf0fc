//! Where a page reads: `ReadConn` and `Reader` hand lists, searches, pickers,
//! reports and the dashboard a replica connection when one may serve them,
//! else a primary one; `ReadYourWrites` makes a session that just wrote read
//! from the primary until a replica has replayed its write.
//!
//! A page's connection guard (`PageConn`, `ReadConn`) placed before its
//! `Chrome` or `Staff` guard also serves the session check when it reads from
//! the primary, so the page takes one pooled connection, not two in a row;
//! and it takes none at all for a request without a session.
//!
//! How a session's write is followed: a request that may write (any method
//! but GET and HEAD) sets a small private cookie (encrypted and signed with
//! the `secret_key`) saying "wrote, position not known yet". The session's
//! next read goes to the primary and, on the way, asks the primary where its
//! log ends: every write the session saw committed is before that point. The
//! cookie then holds that position, and reads go to a replica only once it
//! has replayed past it, or once `read_your_writes_seconds` have passed.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{Cookie, CookieJar, Method, SameSite, Status};
use rocket::request::{FromRequest, Outcome};
use rocket::{Data, Request};
use sqlx::pool::PoolConnection;
use sqlx::Postgres;

use super::auth as session;
use crate::db::replica::{self, Lsn, Replicas};
use crate::db::Db;

/// The cookie that follows a session's last write.
pub const COOKIE: &str = "shopdesk_wrote";

/// What the cookie says: a write whose log position is not known yet, or is
/// known; either until `until` (Unix milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wrote {
    Pending { until: i64 },
    At { lsn: Lsn, until: i64 },
}

impl Wrote {
    fn parse(value: &str) -> Option<Wrote> {
        let (what, until) = value.split_once(':')?;
        let until = until.parse().ok()?;
        if what == "p" {
            return Some(Wrote::Pending { until });
        }
        Some(Wrote::At { lsn: Lsn(what.parse().ok()?), until })
    }

    fn value(self) -> String {
        match self {
            Wrote::Pending { until } => format!("p:{until}"),
            Wrote::At { lsn, until } => format!("{}:{until}", lsn.0),
        }
    }

    fn until(self) -> i64 {
        match self {
            Wrote::Pending { until } | Wrote::At { until, .. } => until,
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn cookie(jar_config: &super::auth::AuthConfig, wrote: Wrote) -> Cookie<'static> {
    let left = (wrote.until() - now_ms()).max(0) / 1000 + 1;
    Cookie::build((COOKIE, wrote.value()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(jar_config.secure_cookies)
        .max_age(rocket::time::Duration::seconds(left))
        .build()
}

/// A request guard that decides where this request's reads go, without
/// taking a connection yet (so a route can take one when it needs it).
pub struct Reader<'r> {
    db: &'r Db,
    replicas: Option<&'r Replicas>,
    jar: &'r CookieJar<'r>,
    auth: Option<&'r super::auth::AuthConfig>,
    wrote: Option<Wrote>,
}

impl Reader<'_> {
    /// A connection to read from: a replica's when one may serve this
    /// session, else the primary's.
    pub async fn conn(&self) -> Result<PoolConnection<Postgres>, sqlx::Error> {
        self.choose().await.map(|(conn, _)| conn)
    }

    /// A connection to read from, and whether it is the primary's.
    async fn choose(&self) -> Result<(PoolConnection<Postgres>, bool), sqlx::Error> {
        let primary = || async { self.db.conn().await.map(|conn| (conn, true)) };
        let Some(replicas) = self.replicas else {
            return primary().await;
        };
        match self.wrote {
            Some(Wrote::Pending { until }) => {
                // Read from the primary, and learn where its log ends: past
                // every write this session has seen committed.
                replicas.count(replica::Fallback::RecentWrite);
                let mut conn = self.db.conn().await?;
                let lsn = replica::current_position(&mut conn).await?;
                if let Some(auth) = self.auth {
                    self.jar.add_private(cookie(auth, Wrote::At { lsn, until }));
                }
                Ok((conn, true))
            }
            Some(Wrote::At { lsn, .. }) => match replicas.connection(Some(lsn)).await {
                Some(conn) => Ok((conn, false)),
                None => primary().await,
            },
            None => match replicas.connection(None).await {
                Some(conn) => Ok((conn, false)),
                None => primary().await,
            },
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Reader<'r> {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let Some(db) = req.rocket().state::<Db>() else {
            return Outcome::Error((Status::InternalServerError, ()));
        };
        let replicas = req.rocket().state::<Replicas>().filter(|r| !r.is_empty());
        let jar = req.cookies();
        let wrote = match replicas {
            None => None,
            Some(_) => match jar.get_private(COOKIE).and_then(|c| Wrote::parse(c.value())) {
                Some(wrote) if wrote.until() > now_ms() => Some(wrote),
                Some(_) => {
                    jar.remove_private(Cookie::build(COOKIE).path("/").build());
                    None
                }
                None => None,
            },
        };
        let auth = req.rocket().state::<super::auth::AuthConfig>();
        Outcome::Success(Reader { db, replicas, jar, auth, wrote })
    }
}

/// A connection to read from, taken as the route starts, like
/// `Connection<Db>`: for GET pages, which have no body to wait for.
pub struct ReadConn(PoolConnection<Postgres>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ReadConn {
    type Error = Option<sqlx::Error>;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let reader = match Reader::from_request(req).await {
            Outcome::Success(reader) => reader,
            Outcome::Error((status, ())) => return Outcome::Error((status, None)),
            Outcome::Forward(status) => return Outcome::Forward(status),
        };
        if !session::may_be_signed_in(req) {
            return Outcome::Error((Status::Unauthorized, None));
        }
        match reader.choose().await {
            Ok((mut conn, on_primary)) => {
                // A replica may trail the primary: the session is checked
                // against the primary's staff table, by `Chrome` then.
                if on_primary {
                    session::check_on_page_connection(req, &mut conn).await;
                }
                Outcome::Success(ReadConn(conn))
            }
            Err(e) => Outcome::Error((Status::ServiceUnavailable, Some(e))),
        }
    }
}

/// A primary connection for a signed-in staff member's GET page, taken as
/// the route starts, like `Connection<Db>`, and used for the session check
/// too (see the module's notes). A request without a session gets 401, as
/// from `Chrome`, before any connection is taken.
pub struct PageConn(PoolConnection<Postgres>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for PageConn {
    type Error = Option<sqlx::Error>;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        if !session::may_be_signed_in(req) {
            return Outcome::Error((Status::Unauthorized, None));
        }
        let Some(db) = req.rocket().state::<Db>() else {
            return Outcome::Error((Status::InternalServerError, None));
        };
        match db.conn().await {
            Ok(mut conn) => {
                session::check_on_page_connection(req, &mut conn).await;
                Outcome::Success(PageConn(conn))
            }
            Err(e) => Outcome::Error((Status::ServiceUnavailable, Some(e))),
        }
    }
}

impl std::ops::Deref for PageConn {
    type Target = PoolConnection<Postgres>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for PageConn {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl std::ops::Deref for ReadConn {
    type Target = PoolConnection<Postgres>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for ReadConn {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// Marks every request that may write (any method but GET and HEAD), when
/// replicas are configured, so its session's next reads see its change.
pub struct ReadYourWrites;

#[rocket::async_trait]
impl Fairing for ReadYourWrites {
    fn info(&self) -> Info {
        Info { name: "Read your writes", kind: Kind::Request }
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        if matches!(req.method(), Method::Get | Method::Head) {
            return;
        }
        let rocket = req.rocket();
        let (Some(replicas), Some(auth)) = (rocket.state::<Replicas>(), rocket.state::<super::auth::AuthConfig>())
        else {
            return;
        };
        if replicas.is_empty() {
            return;
        }
        let window = i64::try_from(replicas.read_your_writes.as_millis()).unwrap_or(i64::MAX);
        let until = now_ms().saturating_add(window);
        req.cookies().add_private(cookie(auth, Wrote::Pending { until }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_write_cookie_reads_back_what_it_wrote_and_nothing_else() {
        for wrote in [Wrote::Pending { until: 1_700_000_000_000 }, Wrote::At { lsn: Lsn(0x16_B374_D848), until: 5 }] {
            assert_eq!(Wrote::parse(&wrote.value()), Some(wrote));
        }
        assert_eq!(Wrote::parse("p"), None);
        assert_eq!(Wrote::parse("x:5"), None);
        assert_eq!(Wrote::parse("12:soon"), None);
    }
}
