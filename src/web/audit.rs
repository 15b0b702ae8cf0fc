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
