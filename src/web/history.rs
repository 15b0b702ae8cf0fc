//! How an audit entry reads: a sentence with names rather than ids, and
//! the fields it changed, for the audit log and each record's History.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::db::audit::Entry;
use crate::domain::{Money, Status};

/// Longest text value an entry shows, in characters; longer ones end in "…",
/// so an entry's size is bounded whatever was typed.
const LONGEST_VALUE: usize = 80;

/// A value as an entry shows it; the template formats each kind with the
/// shared filters (money, times, counts, statuses).
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    Text(String),
    Money(Money),
    At(DateTime<Utc>),
    Count(i64),
    Status(Status),
    Nothing,
}

impl Shown {
    pub fn text(&self) -> Option<&str> {
        match self {
            Shown::Text(t) => Some(t),
            _ => None,
        }
    }
    pub fn money(&self) -> Option<Money> {
        match self {
            Shown::Money(m) => Some(*m),
            _ => None,
        }
    }
    pub fn at(&self) -> Option<DateTime<Utc>> {
        match self {
            Shown::At(at) => Some(*at),
            _ => None,
        }
    }
    pub fn count(&self) -> Option<i64> {
        match self {
            Shown::Count(n) => Some(*n),
            _ => None,
        }
    }
    pub fn status(&self) -> Option<Status> {
        match self {
            Shown::Status(s) => Some(*s),
            _ => None,
        }
    }
}

/// How a piece of a sentence is marked up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mark {
    /// Running words.
    Plain,
    /// A value as it was (struck through).
    Was,
    /// A value as it became.
    Became,
}

/// One piece of a sentence: words, a name or a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    pub mark: Mark,
    pub value: Shown,
}

impl Piece {
    pub fn was(&self) -> bool {
        self.mark == Mark::Was
    }
    pub fn became(&self) -> bool {
        self.mark == Mark::Became
    }
}

/// A sentence made of pieces, e.g. `Status: ` `Pending` ` → ` `Paid`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sentence(pub Vec<Piece>);

impl Sentence {
    fn words(mut self, words: impl Into<String>) -> Self {
        self.0.push(Piece { mark: Mark::Plain, value: Shown::Text(words.into()) });
        self
    }
    fn value(mut self, value: Shown) -> Self {
        self.0.push(Piece { mark: Mark::Plain, value });
        self
    }
    fn was(mut self, value: Shown) -> Self {
        self.0.push(Piece { mark: Mark::Was, value });
        self
    }
    fn became(mut self, value: Shown) -> Self {
        self.0.push(Piece { mark: Mark::Became, value });
        self
    }
    pub fn pieces(&self) -> &[Piece] {
        &self.0
    }
    /// The sentence as plain text, times in UTC (for tests and logs).
    pub fn plain(&self) -> String {
        self.0
            .iter()
            .map(|p| match &p.value {
                Shown::Text(t) => t.clone(),
                Shown::Money(m) => m.to_string(),
                Shown::At(at) => at.to_rfc3339(),
                Shown::Count(n) => n.to_string(),
                Shown::Status(s) => s.label().to_string(),
                Shown::Nothing => "—".to_string(),
            })
            .collect()
    }
}

/// An audit entry told as people say it: what happened, and the details.
#[derive(Debug, Clone, PartialEq)]
pub struct Told {
    pub headline: Sentence,
    pub details: Vec<Sentence>,
}

/// A text value cut to [`LONGEST_VALUE`] characters.
fn clip(text: &str) -> String {
    match text.char_indices().nth(LONGEST_VALUE) {
        Some((end, _)) => format!("{}…", text[..end].trim_end()),
        None => text.to_string(),
    }
}

type Fields = serde_json::Map<String, Value>;

fn text_of(fields: &Fields, key: &str) -> Option<String> {
    match fields.get(key)? {
        Value::String(s) => Some(clip(s)),
        Value::Null => None,
        other => Some(clip(&other.to_string())),
    }
}

fn int_of(fields: &Fields, key: &str) -> Option<i64> {
    fields.get(key).and_then(Value::as_i64)
}

/// A stored field as an entry shows it: money, times, statuses and counts
/// keep their kind, so the template formats them.
fn shown(field: &str, value: Option<&Value>) -> Shown {
    match value {
        None | Some(Value::Null) => Shown::Nothing,
        Some(Value::Number(n)) if field.ends_with("_cents") => {
            n.as_i64().map(|c| Shown::Money(Money::from_cents(c))).unwrap_or_else(|| Shown::Text(n.to_string()))
        }
        Some(Value::Number(n)) => n.as_i64().map(Shown::Count).unwrap_or_else(|| Shown::Text(n.to_string())),
        Some(Value::String(s)) if field == "status" => {
            Status::parse(s).map(Shown::Status).unwrap_or_else(|| Shown::Text(clip(s)))
        }
        Some(Value::String(s)) if field.ends_with("_at") => DateTime::parse_from_rfc3339(s)
            .map(|at| Shown::At(at.with_timezone(&Utc)))
            .unwrap_or_else(|_| Shown::Text(clip(s))),
        Some(Value::String(s)) => Shown::Text(clip(s)),
        Some(Value::Bool(b)) => Shown::Text(if *b { "yes" } else { "no" }.to_string()),
        Some(other) => Shown::Text(clip(&other.to_string())),
    }
}

/// A field's name as a sentence starts it.
fn label(field: &str) -> String {
    let plain = match field {
        "sku" => "SKU",
        "user_id" => "customer",
        "product_id" => "product",
        "item_count" => "items",
        "total_cents" => "total",
        "unit_price_cents" => "unit price",
        "price_cents" => "price",
        "placed_at" => "placed",
        "display_name" => "name",
        "two_factor" => "two-factor sign-in",
        // Money is shown formatted, so its unit need not be named.
        other => other.strip_suffix("_cents").unwrap_or(other),
    }
    .replace('_', " ");
    let mut chars = plain.chars();
    match chars.next() {
        Some(first) if field != "sku" => first.to_uppercase().chain(chars).collect(),
        _ => plain,
    }
}

/// Fields whose changes read "Changed email from a to b"; the rest read
/// "Status: pending → paid".
fn is_wording(field: &str) -> bool {
    matches!(field, "name" | "email" | "sku" | "display_name")
}

/// One changed field as a sentence.
fn change(field: &str, before: Shown, after: Shown) -> Sentence {
    if is_wording(field) {
        let name = if field == "sku" { "SKU".to_string() } else { label(field).to_lowercase() };
        Sentence::default().words(format!("Changed {name} from ")).was(before).words(" to ").became(after)
    } else {
        Sentence::default().words(format!("{}: ", label(field))).was(before).words(" → ").became(after)
    }
}

/// One field's value as a record was created or removed with it.
fn stated(field: &str, value: Shown) -> Sentence {
    Sentence::default().words(format!("{}: ", label(field))).value(value)
}

/// The fields that differ between before and after, in a stable order,
/// without the ones that name the record itself or are told elsewhere.
fn changed_fields<'a>(before: &'a Fields, after: &'a Fields, skip: &[&str]) -> Vec<&'a String> {
    let mut fields: Vec<&String> = before.keys().chain(after.keys()).collect();
    fields.sort();
    fields.dedup();
    fields
        .into_iter()
        .filter(|f| !matches!(f.as_str(), "id" | "created_at" | "order_id") && !skip.contains(&f.as_str()))
        .filter(|f| before.get(*f) != after.get(*f))
        .collect()
}

/// How an audit entry reads on a page (the log and each record's History).
pub trait Described {
    /// Where the changed record can be seen, if it has a page.
    fn link(&self) -> Option<String>;
    /// The kind of record, as the log's "Record" column names it.
    fn entity_label(&self) -> &'static str;
    /// The entry as sentences with names, not ids.
    fn told(&self) -> Told;
}

impl Described for Entry {
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
            "order" | "order_line" => "Order",
            "staff" => "Staff",
            _ => "Record",
        }
    }

    fn told(&self) -> Told {
        let empty = Fields::new();
        let before = self.before.as_ref().and_then(|j| j.0.as_object()).unwrap_or(&empty);
        let after = self.after.as_ref().and_then(|j| j.0.as_object()).unwrap_or(&empty);
        let current = if self.action == "delete" { before } else { after };
        let name =
            |fallback: &str| text_of(current, "name").unwrap_or_else(|| format!("{fallback} #{}", self.entity_id));
        let sentence = Sentence::default;
        let details_of_update = |skip: &[&str]| -> Vec<Sentence> {
            changed_fields(before, after, skip)
                .into_iter()
                .map(|f| change(f, shown(f, before.get(f)), shown(f, after.get(f))))
                .collect()
        };
        let stated_fields = |fields: &[&str]| -> Vec<Sentence> {
            fields.iter().filter(|f| current.contains_key(**f)).map(|f| stated(f, shown(f, current.get(*f)))).collect()
        };
        match (self.entity.as_str(), self.action.as_str()) {
            ("user", "create") => Told {
                headline: sentence().words("Created customer ").value(Shown::Text(name("Customer"))),
                details: stated_fields(&["email"]),
            },
            ("user", "delete") => Told {
                headline: sentence().words("Deleted customer ").value(Shown::Text(name("Customer"))),
                details: stated_fields(&["email"]),
            },
            ("user", _) => Told {
                headline: sentence().words("Changed customer ").value(Shown::Text(name("Customer"))),
                details: details_of_update(&[]),
            },
            ("product", "create") => Told {
                headline: sentence().words("Created product ").value(Shown::Text(name("Product"))),
                details: stated_fields(&["sku", "price_cents", "stock"]),
            },
            ("product", "delete") => Told {
                headline: sentence().words("Deleted product ").value(Shown::Text(name("Product"))),
                details: stated_fields(&["sku"]),
            },
            ("product", _) => Told {
                headline: sentence().words("Changed product ").value(Shown::Text(name("Product"))),
                details: details_of_update(&[]),
            },
            ("order", action) => {
                let customer = self.customer_name.as_deref().map(clip).unwrap_or_else(|| {
                    int_of(current, "user_id").map(|id| format!("customer #{id}")).unwrap_or_default()
                });
                let order = format!("order #{}", self.entity_id);
                match action {
                    "create" => Told {
                        headline: sentence().words(format!("Placed {order} for ")).value(Shown::Text(customer)),
                        details: stated_fields(&["status", "total_cents"]),
                    },
                    "delete" => Told {
                        headline: sentence().words(format!("Deleted {order} of ")).value(Shown::Text(customer)),
                        details: stated_fields(&["status", "total_cents"]),
                    },
                    _ => {
                        let mut details = details_of_update(&["user_id"]);
                        if int_of(before, "user_id") != int_of(after, "user_id") {
                            let former = self.former_customer_name.as_deref().map(clip).unwrap_or_else(|| {
                                int_of(before, "user_id").map(|id| format!("customer #{id}")).unwrap_or_default()
                            });
                            details.insert(0, change("user_id", Shown::Text(former), Shown::Text(customer)));
                        }
                        Told { headline: sentence().words(format!("Changed {order}")), details }
                    }
                }
            }
            ("order_line", action) => {
                let product = self.product_name.as_deref().map(clip).unwrap_or_else(|| {
                    int_of(current, "product_id").map(|id| format!("product #{id}")).unwrap_or_default()
                });
                let quantity = Shown::Count(int_of(current, "quantity").unwrap_or_default());
                let each = shown("unit_price_cents", current.get("unit_price_cents"));
                match action {
                    "create" => Told {
                        headline: sentence()
                            .words("Added ")
                            .value(quantity)
                            .words(" × ")
                            .value(Shown::Text(product))
                            .words(" at ")
                            .value(each)
                            .words(" each"),
                        details: Vec::new(),
                    },
                    "delete" => Told {
                        headline: sentence().words("Removed ").value(quantity).words(" × ").value(Shown::Text(product)),
                        details: Vec::new(),
                    },
                    _ => Told {
                        headline: sentence().words("Changed ").value(Shown::Text(product)),
                        details: details_of_update(&["product_id"]),
                    },
                }
            }
            ("staff", action) => {
                let who = text_of(current, "display_name")
                    .or_else(|| self.staff_name.as_deref().map(clip))
                    .unwrap_or_else(|| format!("staff member #{}", self.entity_id));
                let headline = match action {
                    "sign_in" => sentence().words("Signed in"),
                    "sign_out" => sentence().words("Signed out"),
                    "create" => sentence().words("Added staff member ").value(Shown::Text(who)),
                    "delete" => sentence().words("Removed staff member ").value(Shown::Text(who)),
                    "role_change" => sentence().words("Changed the role of ").value(Shown::Text(who)),
                    "password_change" => sentence().words("Changed the password of ").value(Shown::Text(who)),
                    "disable" => sentence().words("Disabled ").value(Shown::Text(who)),
                    "enable" => sentence().words("Enabled ").value(Shown::Text(who)),
                    "two_factor_on" => sentence().words("Turned on two-factor sign-in for ").value(Shown::Text(who)),
                    "two_factor_off" => sentence().words("Turned off two-factor sign-in for ").value(Shown::Text(who)),
                    "two_factor_reset" => sentence().words("Reset two-factor sign-in of ").value(Shown::Text(who)),
                    "recovery_codes" => sentence().words("Made new recovery codes for ").value(Shown::Text(who)),
                    "recovery_code_used" => sentence().words("Signed in with a recovery code"),
                    _ => sentence().words("Changed staff member ").value(Shown::Text(who)),
                };
                let details = match action {
                    "create" => stated_fields(&["email", "role"]),
                    "delete" | "sign_in" | "sign_out" | "recovery_code_used" => Vec::new(),
                    _ => details_of_update(&[]),
                };
                Told { headline, details }
            }
            (_, _) => Told {
                headline: sentence().words(format!("Changed record #{}", self.entity_id)),
                details: details_of_update(&[]),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sqlx::types::Json;

    fn entry(entity: &str, action: &str, before: Option<Value>, after: Option<Value>) -> Entry {
        Entry {
            id: 1,
            at: Utc::now(),
            staff_id: None,
            staff_name: None,
            entity: entity.into(),
            entity_id: 7,
            action: action.into(),
            before: before.map(Json),
            after: after.map(Json),
            customer_name: Some("Ana Nguyen".into()),
            former_customer_name: Some("Ben Okafor".into()),
            product_name: Some("Gooseneck Kettle".into()),
            sort_key: String::new(),
        }
    }

    fn lines(told: &Told) -> Vec<String> {
        std::iter::once(&told.headline).chain(&told.details).map(Sentence::plain).collect()
    }

    #[test]
    fn long_text_is_cut_at_a_character_boundary() {
        let long = "é".repeat(LONGEST_VALUE + 10);
        let cut = clip(&long);
        assert_eq!(cut.chars().count(), LONGEST_VALUE + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(clip("short"), "short");
    }

    #[test]
    fn a_change_of_customer_names_both() {
        let told = entry(
            "order",
            "update",
            Some(json!({"id": 7, "user_id": 2, "status": "paid"})),
            Some(json!({"id": 7, "user_id": 3, "status": "shipped"})),
        )
        .told();
        assert_eq!(lines(&told), ["Changed order #7", "Customer: Ben Okafor → Ana Nguyen", "Status: Paid → Shipped"]);
    }

    #[test]
    fn money_fields_are_named_without_their_unit() {
        assert_eq!(label("refunded_cents"), "Refunded");
        assert_eq!(label("shipping_refund_cents"), "Shipping refund");
        assert_eq!(label("price_cents"), "Price");
    }

    #[test]
    fn a_line_s_quantity_and_price_read_as_words() {
        let before = json!({"order_id": 7, "product_id": 4, "quantity": 1, "unit_price_cents": 5900});
        let after = json!({"order_id": 7, "product_id": 4, "quantity": 3, "unit_price_cents": 5500});
        let told = entry("order_line", "update", Some(before), Some(after)).told();
        assert_eq!(lines(&told), ["Changed Gooseneck Kettle", "Quantity: 1 → 3", "Unit price: $59.00 → $55.00"]);
        let removed = json!({"order_id": 7, "product_id": 4, "quantity": 2, "unit_price_cents": 5900});
        assert_eq!(lines(&entry("order_line", "delete", Some(removed), None).told()), ["Removed 2 × Gooseneck Kettle"]);
    }

    #[test]
    fn staff_changes_name_the_account() {
        let before = json!({"id": 7, "display_name": "Jo", "role": "viewer"});
        let after = json!({"id": 7, "display_name": "Jo", "role": "admin"});
        let told = entry("staff", "role_change", Some(before), Some(after)).told();
        assert_eq!(lines(&told), ["Changed the role of Jo", "Role: viewer → admin"]);
    }
}
