//! The audit log page: every change, newest first, filterable by staff
//! member, kind of record and date.

use askama::Template;
use askama_web::WebTemplate;
use rocket::{get, routes, uri, FromForm, UriDisplayQuery};

use super::history::Described as _;
use super::listing::{parse_day, ListState, Paged};
use super::{filters, query_id, AppError, Chrome, PAGE_SIZE};
use crate::db::audit::{self, Entry, Filter};
use crate::db::change_sets::{self, Membership};
use crate::db::listing::{self, Listing};
use crate::db::staff::{self, Staff};
use crate::web::read::ReadConn;

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
    list: ListState,
    /// The saved views of this list.
    views: crate::web::saved_views::Bar,
    staff: Vec<Staff>,
    entities: [(&'static str, &'static str); 5],
    query: AuditQuery,
    date_error: Option<&'static str>,
    /// The change sets (imports, bulk actions, undos, restores) the shown
    /// entries are part of.
    sets: Vec<Membership>,
}

impl AuditPage {
    /// The change set entry `id` is part of, if any.
    fn part_of(&self, id: &i64) -> Option<&Membership> {
        self.sets.iter().find(|m| m.entry_id == *id)
    }
}

/// Where a deleted record's history (and its restore) is, for a 'delete'
/// entry of a customer, product or order.
pub(crate) fn restore_href(entry: &Entry) -> Option<String> {
    let base = match (entry.entity.as_str(), entry.action.as_str()) {
        ("user", "delete") => "users",
        ("product", "delete") => "products",
        ("order", "delete") => "orders",
        _ => return None,
    };
    Some(format!("/{base}/{}/history", entry.entity_id))
}

/// The audit log's filters, as typed in its query string.
#[derive(Debug, Default, Clone, FromForm, UriDisplayQuery)]
pub struct AuditQuery {
    staff_id: Option<String>,
    /// One of [`ENTITIES`].
    entity: Option<String>,
    /// From / to (YYYY-MM-DD).
    from: Option<String>,
    to: Option<String>,
}

impl AuditQuery {
    /// The filter, and whether a date could not be read.
    fn parse(&self) -> (Filter, bool) {
        let (from, to) = (parse_day(self.from.as_deref()), parse_day(self.to.as_deref()));
        let filter = Filter {
            staff_id: query_id(self.staff_id.as_deref()),
            entity: self.entity.clone().filter(|e| ENTITIES.iter().any(|(k, _)| k == e)),
            from: from.ok().flatten(),
            to: to.ok().flatten(),
        };
        (filter, from.is_err() || to.is_err())
    }

    /// The query string of these filters as read, for links that keep them.
    fn kept(&self, filter: &Filter) -> AuditQuery {
        AuditQuery {
            staff_id: Some(filter.staff_id.map(|i| i.to_string()).unwrap_or_default()),
            entity: Some(filter.entity.clone().unwrap_or_default()),
            from: Some(self.from().to_string()),
            to: Some(self.to().to_string()),
        }
    }

    fn is_staff(&self, id: &i64) -> bool {
        query_id(self.staff_id.as_deref()) == Some(*id)
    }

    fn entity(&self) -> &str {
        self.entity.as_deref().filter(|e| ENTITIES.iter().any(|(k, _)| k == e)).unwrap_or("")
    }

    fn from(&self) -> &str {
        self.from.as_deref().unwrap_or("").trim()
    }

    fn to(&self) -> &str {
        self.to.as_deref().unwrap_or("").trim()
    }
}

/// The list as the saved view `query` shows it.
pub(crate) fn view_uri(query: &str) -> rocket::http::uri::Origin<'static> {
    uri!(page(crate::web::listing::reread::<AuditQuery>(query)))
}

#[get("/audit?<query..>")]
async fn page(mut db: ReadConn, chrome: Chrome, query: Paged<AuditQuery>) -> Result<AuditPage, AppError> {
    let (filter, bad_date) = query.filter.parse();
    let seek = query.paging.seek(audit::Log::SORTS, PAGE_SIZE);
    let page = listing::search::<audit::Log>(&mut db, &filter, &seek).await?;
    let kept = query.filter.kept(&filter);
    // Not counted: the log only grows, and a count would cost every view a query.
    let list = ListState::new(&seek, None, ("entry", "entries"), &page, move |paging| {
        uri!(page(Paged::new(kept.clone(), paging)))
    });
    let entry_ids: Vec<i64> = page.rows.iter().map(|e| e.id).collect();
    let sets = change_sets::of_entries(&mut db, &entry_ids).await?;
    let staff = staff::all(&mut db).await?;
    let views =
        crate::web::saved_views::Bar::load(&mut db, &chrome, crate::domain::SavedList::Audit, list.view_query())
            .await?;
    Ok(AuditPage {
        views,
        chrome: chrome.on("audit"),
        rows: page.rows,
        list,
        staff,
        entities: ENTITIES,
        query: query.filter,
        date_error: bad_date.then_some("Enter dates as YYYY-MM-DD."),
        sets,
    })
}

pub fn routes() -> Vec<rocket::Route> {
    routes![page]
}

/// Mounts these pages.
pub fn stage() -> rocket::fairing::AdHoc {
    super::stage("Audit log", routes())
}
