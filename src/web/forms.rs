//! Shared form plumbing: per-field error messages and parsers for the
//! numbers people type (money, counts), with messages that say what to do.

use std::collections::BTreeMap;

/// Error messages keyed by form field name, shown next to the field.
#[derive(Debug, Default, Clone)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.entry(field.to_string()).or_insert_with(|| message.into());
    }

    /// Records the message for a violated database constraint; `false` if the
    /// constraint is not one a form field can explain.
    pub fn add_constraint(&mut self, constraint: &str) -> bool {
        match constraint_message(constraint) {
            Some((field, message)) => {
                self.add(field, message);
                true
            }
            None => false,
        }
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `aria-invalid` value for a field, for accessible error styling.
    pub fn invalid(&self, field: &str) -> &'static str {
        if self.0.contains_key(field) {
            "true"
        } else {
            "false"
        }
    }
}

pub use crate::domain::{parse_count, MAX_COUNT};

/// The one place a constraint name becomes a message for a form field.
/// Returns `(field, message)`.
pub fn constraint_message(constraint: &str) -> Option<(&'static str, &'static str)> {
    Some(match constraint {
        "users_email_key" => {
            ("email", "A customer with this email already exists (emails are compared ignoring letter case).")
        }
        "users_email_valid" => ("email", "Enter a valid email address, like name@example.com."),
        "users_name_present" => ("name", "Enter a name (up to 200 characters)."),
        "users_name_visible" | "products_name_visible" => {
            ("name", "Enter a name made of visible characters, without text-direction controls.")
        }
        "products_sku_key" => {
            ("sku", "Another product already uses this SKU (SKUs are compared ignoring letter case).")
        }
        "products_sku_present" => ("sku", "Enter a SKU (up to 64 characters)."),
        "products_name_present" => ("name", "Enter a product name (up to 200 characters)."),
        "products_price_nonnegative" => ("price", "The price can't be negative."),
        "products_stock_nonnegative" => ("stock", "Stock can't be negative."),
        "orders_user_id_fkey" => ("user_id", "That customer no longer exists; choose another."),
        "orders_status_valid" => ("status", "Choose one of the listed statuses."),
        "order_items_product_id_fkey" => ("lines", "A product on this order no longer exists; choose another."),
        "order_items_pkey" => ("lines", "Each product can appear on only one line; change the quantity instead."),
        "order_items_quantity_positive" => ("lines", "Quantities must be at least 1."),
        "order_items_unit_price_nonnegative" => ("lines", "A unit price can't be negative."),
        "orders_refunded_not_cancelled" => {
            ("status", "This order has refunds, so it can't be cancelled; refund what is left instead.")
        }
        "orders_refunds_keep_refund_status" => {
            ("status", "This order has refunds, so it keeps its refund status: its status follows its refunds.")
        }
        "orders_refund_status_needs_refund" => {
            ("status", "The refunded statuses follow refunds: use Refund… on the order's page.")
        }
        "orders_refund_within_total" => ("lines", "The order's total can't fall below what was already refunded."),
        "order_items_refunded_within_quantity" => {
            ("lines", "A line's quantity can't fall below what was already refunded of it.")
        }
        "order_items_refund_within_paid" => ("lines", "A line can't be worth less than what was refunded of it."),
        "refund_lines_item_fkey" | "refunds_order_id_fkey" => {
            ("lines", "Lines that were refunded can't be removed, and an order with refunds can't be deleted.")
        }
        "staff_email_key" => ("email", "A staff account with this email already exists."),
        _ => return None,
    })
}

/// Parses the hidden version field of an edit form.
pub fn parse_version(raw: &str) -> Option<i32> {
    raw.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_bounds() {
        assert_eq!(parse_count("3", 1, "quantity"), Ok(3));
        assert_eq!(parse_count("0", 1, "quantity"), Err("The quantity must be at least 1.".into()));
        assert_eq!(parse_count("-4", 0, "stock"), Err("The stock can't be negative.".into()));
        assert!(parse_count("-99999999999999999999", 0, "stock").unwrap_err().contains("negative"));
        assert!(parse_count("99999999999999999999", 0, "stock").unwrap_err().contains("at most"));
        assert!(parse_count("2.5", 1, "quantity").is_err());
    }
}
