//! The orders list: filtered by customer, product, status, dates and
//! total, sorted, paged, and exported as CSV or XLSX.

use askama::Template;
use askama_web::WebTemplate;
use rocket::http::uri::fmt::{Formatter, FromUriParam, Query, UriDisplay};
use rocket::{get, uri, FromForm, State, UriDisplayQuery};

use crate::db::listing::{self, Listing};
use crate::db::orders::{self, Filter, OrderRow, StatusFilter};
use crate::db::products::{self, ProductChoice};
use crate::db::staff::Staff;
use crate::db::users::{self, User};
use crate::db::Db;
use crate::domain::{Money, Status};
use crate::web::export::{export_list, ExportAnswer, Exports, Format};
use crate::web::links::Href;
use crate::web::listing::{parse_day, search_text, ListState, Paged, Paging};
use crate::web::read::{ReadConn, Reader};
use crate::web::{filters, query_id, AppError, Chrome, PAGE_SIZE};

#[derive(Template, WebTemplate)]
#[template(path = "orders/list.html")]
pub(super) struct ListPage {
    chrome: Chrome,
    rows: Vec<OrderRow>,
    list: ListState,
    /// The saved views of this list.
    views: crate::web::saved_views::Bar,
    customer: Option<User>,
    /// The product the list is filtered to.
    product: Option<ProductChoice>,
    /// Without JavaScript: the products matching the typed product search,
    /// when it did not name exactly one.
    product_matches: Vec<ProductChoice>,
    /// The list was asked for a product that does not exist (any more).
    missing_product: bool,
    /// The list was asked for a customer that does not exist, or an unreadable id.
    missing_customer: bool,
    query: OrdersQuery,
    date_error: Option<&'static str>,
    statuses: [Status; 6],
}

impl ListPage {
    /// The form for a new order, for the customer the list shows.
    fn new_order_href(&self) -> Href {
        super::new_href(self.customer.as_ref().map_or(0, |c| c.id))
    }
}

/// The orders list's filters as typed in its query string.
#[derive(Debug, Default, Clone, FromForm, UriDisplayQuery)]
pub struct OrdersQuery {
    #[field(default = String::new())]
    pub user_id: String,
    /// Orders with this product on a line.
    #[field(default = String::new())]
    pub product_id: String,
    /// A status, or `active` for every order that is not cancelled.
    #[field(default = String::new())]
    pub status: String,
    /// Part of a customer's name or email.
    #[field(default = String::new())]
    pub q: String,
    #[field(default = String::new())]
    pub from: String,
    #[field(default = String::new())]
    pub to: String,
    /// Totals from / up to, in dollars.
    #[field(default = String::new())]
    pub min_total: String,
    #[field(default = String::new())]
    pub max_total: String,
    /// What was typed in the product search, when no product was chosen
    /// (never in the links the list writes: they name the product).
    pub product_q: Option<String>,
}

impl OrdersQuery {
    /// The filter, and whether a date or amount could not be read.
    pub fn filter(&self) -> (Filter, bool) {
        let (from, to) = (parse_day(Some(&self.from)), parse_day(Some(&self.to)));
        let amount = |s: &str| if s.trim().is_empty() { Ok(None) } else { Money::parse(s).map(Some) };
        let (min_total, max_total) = (amount(&self.min_total), amount(&self.max_total));
        let bad_date = from.is_err() || to.is_err() || min_total.is_err() || max_total.is_err();
        // An id that is not a record's id (`abc`, `-1`) is kept as one no
        // record has, so it matches no order rather than being dropped.
        let id = |raw: &str| if raw.trim().is_empty() { None } else { Some(query_id(Some(raw)).unwrap_or(0)) };
        let filter = Filter {
            user_id: id(&self.user_id),
            product_id: id(&self.product_id),
            status: StatusFilter::parse(self.status.trim()),
            customer: search_text(Some(&self.q)),
            from: from.ok().flatten(),
            to: to.ok().flatten(),
            min_total: min_total.ok().flatten(),
            max_total: max_total.ok().flatten(),
        };
        (filter, bad_date)
    }

    /// The query string that reads back as `filter`, for links that keep it.
    pub fn of(filter: &Filter) -> OrdersQuery {
        OrdersQuery {
            user_id: filter.user_id.map(|i| i.to_string()).unwrap_or_default(),
            product_id: filter.product_id.map(|i| i.to_string()).unwrap_or_default(),
            status: filter.status.map(StatusFilter::as_str).unwrap_or("").to_string(),
            q: filter.customer.clone(),
            from: filter.from.map(|d| d.to_string()).unwrap_or_default(),
            to: filter.to.map(|d| d.to_string()).unwrap_or_default(),
            min_total: filter.min_total.map(Money::decimal).unwrap_or_default(),
            max_total: filter.max_total.map(Money::decimal).unwrap_or_default(),
            product_q: None,
        }
    }

    /// The list with these filters, first page.
    pub fn list_uri(filter: &Filter) -> String {
        uri!(list(Paged::new(OrdersQuery::of(filter), Paging::default()))).to_string()
    }

    /// The product search typed without JavaScript, trimmed and bounded.
    pub fn product_q(&self) -> &str {
        self.product_q.as_deref().unwrap_or("")
    }
}

/// The orders of a customer, with a product, or in a status: the short
/// links other pages write to the orders list.
#[derive(Debug, Default, Clone, Copy)]
pub struct OrdersOf {
    pub user_id: Option<i64>,
    pub product_id: Option<i64>,
    /// `active` for every order that is not cancelled.
    pub status: Option<&'static str>,
}

impl UriDisplay<Query> for OrdersOf {
    fn fmt(&self, f: &mut Formatter<'_, Query>) -> std::fmt::Result {
        f.write_named_value("user_id", self.user_id)?;
        f.write_named_value("product_id", self.product_id)?;
        f.write_named_value("status", self.status)
    }
}

impl FromUriParam<Query, OrdersOf> for Paged<OrdersQuery> {
    type Target = OrdersOf;
    fn from_uri_param(of: OrdersOf) -> OrdersOf {
        of
    }
}

impl OrdersOf {
    /// The orders list showing these orders.
    pub fn href(self) -> Href {
        uri!(list(self)).into()
    }
}

/// The list as the saved view `query` shows it.
pub fn view_uri(query: &str) -> rocket::http::uri::Origin<'static> {
    uri!(list(crate::web::listing::reread::<OrdersQuery>(query)))
}

#[get("/orders?<query..>")]
pub(super) async fn list(mut db: ReadConn, chrome: Chrome, query: Paged<OrdersQuery>) -> Result<ListPage, AppError> {
    let Paged { filter: mut filters, paging } = query;
    let (mut filter, bad_date) = filters.filter();
    let customer = match filter.user_id {
        Some(id) => users::find(&mut db, id).await?,
        None => None,
    };
    let mut product = match filter.product_id {
        Some(id) => products::choices(&mut db, &[id]).await?.pop(),
        None => None,
    };
    let missing_customer = filter.user_id.is_some() && customer.is_none();
    let mut missing_product = filter.product_id.is_some() && product.is_none();
    // A product typed rather than chosen (without JavaScript), or typed over
    // the chosen one's name: a search with exactly one match chooses it;
    // several are offered to choose from.
    let mut product_matches = Vec::new();
    let typed = search_text(Some(filters.product_q()));
    if !typed.is_empty() && product.as_ref().is_none_or(|p| p.name != typed) {
        product_matches = products::pick(&mut db, &typed).await?;
        product = match product_matches.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        };
        if product.is_some() {
            product_matches.clear();
        }
        filter.product_id = product.as_ref().map(|p| p.id);
        missing_product = false;
    }
    filters.product_id = filter.product_id.map(|id| id.to_string()).unwrap_or_default();
    if product.is_some() {
        filters.product_q = None;
    }
    let seek = paging.seek(orders::List::SORTS, PAGE_SIZE);
    let page = listing::search::<orders::List>(&mut db, &filter, &seek).await?;
    let count = orders::count_matching(&mut db, &filter).await?;
    let (kept, csv) = (OrdersQuery::of(&filter), OrdersQuery::of(&filter));
    let list = ListState::new(&seek, Some(count), ("order", "orders"), &page, move |paging| {
        uri!(list(Paged::new(kept.clone(), paging)))
    })
    .exports(|paging| {
        [uri!(export(Paged::new(csv.clone(), paging.clone()))), uri!(export_xlsx(Paged::new(csv, paging)))]
    });
    let views =
        crate::web::saved_views::Bar::load(&mut db, &chrome, crate::domain::SavedList::Orders, list.view_query())
            .await?;
    Ok(ListPage {
        views,
        chrome: chrome.on("orders"),
        rows: page.rows,
        list,
        customer,
        product,
        product_matches,
        missing_product,
        missing_customer,
        query: filters,
        date_error: bad_date.then_some("Enter dates as YYYY-MM-DD and amounts as numbers, like 25.00."),
        statuses: Status::ALL,
    })
}

impl ListPage {
    /// The heading: whose orders, and with which product.
    fn heading(&self) -> String {
        match (&self.customer, &self.product) {
            (Some(c), Some(p)) => format!("Orders of {} containing {}", c.name, p.name),
            (Some(c), None) => format!("Orders of {}", c.name),
            (None, Some(p)) => format!("Orders containing {}", p.name),
            (None, None) => "Orders".to_string(),
        }
    }
}

#[get("/orders.csv?<query..>")]
pub(super) async fn export(
    signed_in: Staff,
    db: &Db,
    reader: Reader<'_>,
    exports: &State<Exports>,
    query: Paged<OrdersQuery>,
) -> Result<ExportAnswer, AppError> {
    export_as(Format::Csv, &signed_in, (db, &reader), exports, query).await
}

#[get("/orders.xlsx?<query..>")]
pub(super) async fn export_xlsx(
    signed_in: Staff,
    db: &Db,
    reader: Reader<'_>,
    exports: &State<Exports>,
    query: Paged<OrdersQuery>,
) -> Result<ExportAnswer, AppError> {
    export_as(Format::Xlsx, &signed_in, (db, &reader), exports, query).await
}

/// Exports the orders matching the list's filters: at once, or as a job
/// when they are many.
async fn export_as(
    format: Format,
    staff: &Staff,
    (db, reader): (&Db, &Reader<'_>),
    exports: &Exports,
    query: Paged<OrdersQuery>,
) -> Result<ExportAnswer, AppError> {
    let (filter, bad_filter) = query.filter.filter();
    if bad_filter {
        return Err(AppError::BadRequest(
            "The orders were not exported: enter dates as YYYY-MM-DD (from 0001-01-01) and amounts as numbers, like 25.00."
                .into(),
        ));
    }
    let (slot, mut conn) = exports.open_reading(reader).await?;
    if let Some(id) = filter.user_id {
        users::find(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::BadRequest("The orders were not exported: no customer has that id.".into()))?;
    }
    if let Some(id) = filter.product_id {
        if products::choices(&mut conn, &[id]).await?.is_empty() {
            return Err(AppError::BadRequest("The orders were not exported: no product has that id.".into()));
        }
    }
    let opened = (slot, conn);
    export_list::<orders::List>(db, exports, staff, opened, (filter, query.paging), format).await
}
