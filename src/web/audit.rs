//! The audit log page: every change, newest first, filterable by staff
//! member, kind of record and date.

use askama::Template;
use askama_web::WebTemplate;
use rocket::{get, routes};
use rocket_db_pools::Connection;

use super::listing::parse_day;
use super::{encode, filters, query_id, AppError, Chrome, Pager, PAGE_SIZE};
use crate::db::audit::{self, Entry, Filter};
use crate::db::staff::{self, Staff};
use crate::db::Db;

/// The kinds of record the log can be filtered by, with their labels.
pub const ENTITIES: [(&str, &str); 5] = [
    ("user", "Customers"),
    ("product", "Products"),
    ("order", "Orders"),
    ("order_line", "Order lines"),
    ("staff", "Staff"),
];

#[derive(Template, WebTemplate)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    rows: Vec<Entry>,
    pager: Pager,
    staff: Vec<Staff>,
    entities: [(&'static str, &'static str); 5],
    staff_id: Option<i64>,
    entity: String,
    from: String,
    to: String,
    date_error: Option<&'static str>,
}

impl AuditPage {
    fn is_staff(&self, id: &i64) -> bool {
        self.staff_id == Some(*id)
    }
}

#[get("/audit?<staff_id>&<entity>&<from>&<to>&<before>")]
async fn page(
    chrome: Chrome,
    mut db: Connection<Db>,
    staff_id: Option<&str>,
    entity: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    before: Option<&str>,
) -> Result<AuditPage, AppError> {
    let staff_id = query_id(staff_id);
    let entity = entity.filter(|e| ENTITIES.iter().any(|(k, _)| k == e)).map(str::to_string);
    let (from_date, to_date) = (parse_day(from), parse_day(to));
    let date_error = (from_date.is_err() || to_date.is_err()).then_some("Enter dates as YYYY-MM-DD.");
    let filter =
        Filter { staff_id, entity: entity.clone(), from: from_date.ok().flatten(), to: to_date.ok().flatten() };
    let before = query_id(before);
    let mut rows = audit::search(&mut db, &filter, before, PAGE_SIZE + 1).await?;
    let from = from.unwrap_or("").trim().to_string();
    let to = to.unwrap_or("").trim().to_string();
    let base = format!(
        "/audit?staff_id={}&entity={}&from={}&to={}&",
        staff_id.map(|i| i.to_string()).unwrap_or_default(),
        entity.as_deref().unwrap_or(""),
        encode(&from),
        encode(&to)
    );
    let pager = Pager::split(&mut rows, base, before, |r| r.id);
    let staff = staff::all(&mut db).await?;
    Ok(AuditPage {
        chrome: chrome.on("audit"),
        rows,
        pager,
        staff,
        entities: ENTITIES,
        staff_id,
        entity: entity.unwrap_or_default(),
        from,
        to,
        date_error,
    })
}

pub fn routes() -> Vec<rocket::Route> {
    routes![page]
}
