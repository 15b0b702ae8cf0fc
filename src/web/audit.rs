//! The audit log page: every change, newest first, filterable by staff
//! member, kind of record and date.

use askama::Template;
use askama_web::WebTemplate;
use rocket::{get, routes, uri, FromForm, UriDisplayQuery};
use rocket_db_pools::Connection;

use super::listing::{parse_day, ListState, Paged};
use super::{filters, query_id, AppError, Chrome, PAGE_SIZE};
use crate::db::audit::{self, Entry, Filter};
use crate::db::listing::{self, Listing};
use crate::db::staff::{self, Staff};
use crate::db::Db;
use crate::domain::{Money, Status};
use serde_json::Value;

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
    staff: Vec<Staff>,
    entities: [(&'static str, &'static str); 5],
    query: AuditQuery,
    date_error: Option<&'static str>,
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

#[get("/audit?<query..>")]
async fn page(chrome: Chrome, mut db: Connection<Db>, query: Paged<AuditQuery>) -> Result<AuditPage, AppError> {
    let (filter, bad_date) = query.filter.parse();
    let seek = query.paging.seek(audit::Log::SORTS, PAGE_SIZE);
    let page = listing::search::<audit::Log>(&mut db, &filter, &seek).await?;
    let kept = query.filter.kept(&filter);
    // Not counted: the log only grows, and a count would cost every view a query.
    let list = ListState::new(&seek, None, ("entry", "entries"), &page, move |paging| {
        uri!(page(Paged::new(kept.clone(), paging)))
    });
    let staff = staff::all(&mut db).await?;
    Ok(AuditPage {
        chrome: chrome.on("audit"),
        rows: page.rows,
        list,
        staff,
        entities: ENTITIES,
        query: query.filter,
        date_error: bad_date.then_some("Enter dates as YYYY-MM-DD."),
    })
}

/// One field as it was and as it became.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub field: String,
    pub before: String,
    pub after: String,
}

/// How a stored field reads on a page: its label, and its value formatted
/// (money as dollars, statuses as words).
fn show(field: &str, value: Option<&Value>) -> String {
    match (field, value) {
        (_, None | Some(Value::Null)) => "—".to_string(),
        (f, Some(Value::Number(n))) if f.ends_with("_cents") => {
            n.as_i64().map(|cents| Money::from_cents(cents).to_string()).unwrap_or_else(|| n.to_string())
        }
        ("status", Some(Value::String(s))) => {
            Status::parse(s).map(|st| st.label().to_string()).unwrap_or_else(|| s.clone())
        }
        (_, Some(Value::String(s))) => s.clone(),
        (_, Some(other)) => other.to_string(),
    }
}

fn label(field: &str) -> String {
    match field {
        "sku" => "SKU".to_string(),
        "user_id" => "customer #".to_string(),
        "product_id" => "product #".to_string(),
        "item_count" => "items".to_string(),
        "display_name" => "name".to_string(),
        "two_factor" => "two-factor sign-in".to_string(),
        other => other.trim_end_matches("_cents").replace('_', " "),
    }
}

/// How an audit entry reads on a page (the log and each record's History).
pub trait Described {
    /// The fields this entry changed (for updates), or set (creates), or
    /// held when removed (deletes), in a stable order.
    fn changes(&self) -> Vec<FieldChange>;
    /// Where the changed record can be seen, if it still has a page.
    fn link(&self) -> Option<String>;
    fn entity_label(&self) -> &'static str;
    fn action_label(&self) -> &'static str;
}

impl Described for Entry {
    fn changes(&self) -> Vec<FieldChange> {
        let empty = serde_json::Map::new();
        let before = self.before.as_ref().and_then(|j| j.0.as_object()).unwrap_or(&empty);
        let after = self.after.as_ref().and_then(|j| j.0.as_object()).unwrap_or(&empty);
        let mut fields: Vec<&String> = before.keys().chain(after.keys()).collect();
        fields.sort();
        fields.dedup();
        fields
            .into_iter()
            .filter(|f| !matches!(f.as_str(), "id" | "created_at" | "order_id"))
            .filter(|f| before.get(*f) != after.get(*f))
            .map(|f| FieldChange { field: label(f), before: show(f, before.get(f)), after: show(f, after.get(f)) })
            .collect()
    }

    fn link(&self) -> Option<String> {
        match self.entity.as_str() {
            "user" => Some(format!("/users/{}", self.entity_id)),
            "product" => Some(format!("/products/{}", self.entity_id)),
            "order" | "order_line" => Some(format!("/orders/{}", self.entity_id)),
            _ => None,
        }
    }

    fn entity_label(&self) -> &'static str {
        match self.entity.as_str() {
            "user" => "Customer",
            "product" => "Product",
            "order" => "Order",
            "order_line" => "Order line",
            "staff" => "Staff",
            _ => "Record",
        }
    }

    fn action_label(&self) -> &'static str {
        match self.action.as_str() {
            "create" => "created",
            "update" => "changed",
            "delete" => "deleted",
            "sign_in" => "signed in",
            "sign_out" => "signed out",
            "role_change" => "role changed",
            "password_change" => "password changed",
            "disable" => "disabled",
            "enable" => "enabled",
            "two_factor_on" => "turned on two-factor sign-in",
            "two_factor_off" => "turned off two-factor sign-in",
            "two_factor_reset" => "two-factor sign-in reset",
            "recovery_codes" => "made new recovery codes",
            "recovery_code_used" => "used a recovery code",
            _ => "changed",
        }
    }
}

pub fn routes() -> Vec<rocket::Route> {
    routes![page]
}

/// Mounts these pages.
pub fn stage() -> rocket::fairing::AdHoc {
    super::stage("Audit log", routes())
}
