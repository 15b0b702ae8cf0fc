//! The two enums stored as text: an order's status and a staff role.

/// The life of an order. Cancelled orders hold no stock and earn no revenue.
/// The two refunded statuses follow the order's refunds (see `db::refunds`):
/// staff do not set them by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Paid,
    Shipped,
    Cancelled,
    PartiallyRefunded,
    Refunded,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Pending,
        Status::Paid,
        Status::Shipped,
        Status::Cancelled,
        Status::PartiallyRefunded,
        Status::Refunded,
    ];

    /// The statuses staff choose on the order form and in bulk actions.
    pub const SETTABLE: [Status; 4] = [Status::Pending, Status::Paid, Status::Shipped, Status::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Paid => "paid",
            Status::Shipped => "shipped",
            Status::Cancelled => "cancelled",
            Status::PartiallyRefunded => "partially_refunded",
            Status::Refunded => "refunded",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Pending => "Pending",
            Status::Paid => "Paid",
            Status::Shipped => "Shipped",
            Status::Cancelled => "Cancelled",
            Status::PartiallyRefunded => "Partially refunded",
            Status::Refunded => "Refunded",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether an order in this status keeps its products off the shelf.
    pub fn holds_stock(self) -> bool {
        self != Status::Cancelled
    }

    /// Whether this status follows the order's refunds: an order has one of
    /// these exactly when it has refunds (the database holds both ways, see
    /// `orders_refund_status_needs_refund` and `orders_refunds_keep_refund_status`),
    /// so staff neither choose one nor move an order off one.
    pub fn follows_refunds(self) -> bool {
        matches!(self, Status::PartiallyRefunded | Status::Refunded)
    }

    /// Whether money was taken for the order, so some of it can be given back.
    pub fn refundable(self) -> bool {
        matches!(self, Status::Paid | Status::Shipped | Status::PartiallyRefunded)
    }
}

super::text_enum!(Status);

/// What a staff member may do: admins change things, viewers look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

super::text_enum!(Role);

/// A list whose views can be saved: customers, products, orders, the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SavedList {
    Customers,
    Products,
    Orders,
    Audit,
}

impl SavedList {
    pub const ALL: [SavedList; 4] = [SavedList::Customers, SavedList::Products, SavedList::Orders, SavedList::Audit];

    pub fn as_str(self) -> &'static str {
        match self {
            SavedList::Customers => "users",
            SavedList::Products => "products",
            SavedList::Orders => "orders",
            SavedList::Audit => "audit",
        }
    }

    pub fn parse(s: &str) -> Option<SavedList> {
        SavedList::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// The list's name on pages: "Customers".
    pub fn title(self) -> &'static str {
        match self {
            SavedList::Customers => "Customers",
            SavedList::Products => "Products",
            SavedList::Orders => "Orders",
            SavedList::Audit => "Audit log",
        }
    }
}

super::text_enum!(SavedList);
