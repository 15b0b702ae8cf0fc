//! Customer pages: list and search, view with their figures, latest orders
//! and the products they bought, create, edit, delete.

mod form;

use crate::web::read::PageConn;
use askama::Template;
use askama_web::WebTemplate;
use rocket::{get, routes, uri, FromForm, State, UriDisplayQuery};

use crate::db::staff::Staff;

use super::export::{export_list, Cell, Column, ExportAnswer, ExportFile, Exports, Format, Record};
use super::history::Described as _;
use super::listing::{self as list_view, parse_day, search_text, ListState, Paged, Paging};
use super::read::{ReadConn, Reader};
use super::{filters, AppError, Chrome, HISTORY_ROWS, PAGE_SIZE, SECTION_ROWS};
use crate::db::listing::{self, Count, Dir, Listing};
use crate::db::orders::{self, OrderRow};
use crate::db::purchases::{Bought, BoughtBy};
use crate::db::users::{self, Figures, Filter, User, UserRow};
use crate::db::Db;

#[derive(Template, WebTemplate)]
#[template(path = "users/list.html")]
struct ListPage {
    chrome: Chrome,
    query: UsersQuery,
    rows: Vec<UserRow>,
    list: ListState,
    /// The saved views of this list.
    views: crate::web::saved_views::Bar,
    date_error: Option<&'static str>,
}

/// The customers list's filters, as typed in its query string.
#[derive(Debug, Default, Clone, FromForm, UriDisplayQuery)]
pub struct UsersQuery {
    /// Part of the name or email.
    q: Option<String>,
    /// `yes` (has orders) or `no`.
    has_orders: Option<String>,
    /// Signed up from / until (YYYY-MM-DD).
    joined_from: Option<String>,
    joined_to: Option<String>,
}

impl UsersQuery {
    /// The filter, and whether a date could not be read.
    fn parse(&self) -> (Filter, bool) {
        let (from, to) = (parse_day(self.joined_from.as_deref()), parse_day(self.joined_to.as_deref()));
        let filter = Filter {
            q: search_text(self.q.as_deref()),
            has_orders: match self.has_orders.as_deref() {
                Some("yes") => Some(true),
                Some("no") => Some(false),
                _ => None,
            },
            joined_from: from.ok().flatten(),
            joined_to: to.ok().flatten(),
        };
        (filter, from.is_err() || to.is_err())
    }

    /// The list with these filters, first page.
    pub fn list_uri(filter: &Filter) -> String {
        uri!(list(Paged::new(UsersQuery::of(filter), Paging::default()))).to_string()
    }

    /// The query string that reads back as `filter`, for links that keep it.
    fn of(filter: &Filter) -> UsersQuery {
        UsersQuery {
            q: Some(filter.q.clone()),
            has_orders: Some(filter.has_orders.map(|h| if h { "yes" } else { "no" }).unwrap_or("").into()),
            joined_from: Some(filter.joined_from.map(|d| d.to_string()).unwrap_or_default()),
            joined_to: Some(filter.joined_to.map(|d| d.to_string()).unwrap_or_default()),
        }
    }

    fn q(&self) -> &str {
        self.q.as_deref().unwrap_or("")
    }

    fn has_orders(&self) -> &str {
        self.has_orders.as_deref().unwrap_or("")
    }

    fn joined_from(&self) -> &str {
        self.joined_from.as_deref().unwrap_or("").trim()
    }

    fn joined_to(&self) -> &str {
        self.joined_to.as_deref().unwrap_or("").trim()
    }
}

/// The list as the saved view `query` shows it.
pub(crate) fn view_uri(query: &str) -> rocket::http::uri::Origin<'static> {
    uri!(list(crate::web::listing::reread::<UsersQuery>(query)))
}

#[get("/users?<query..>")]
async fn list(mut db: ReadConn, chrome: Chrome, query: Paged<UsersQuery>) -> Result<ListPage, AppError> {
    let (filter, bad_date) = query.filter.parse();
    let seek = query.paging.seek(users::List::SORTS, PAGE_SIZE);
    let (page, count) = users::search(&mut db, &filter, &seek).await?;
    let (kept, csv) = (UsersQuery::of(&filter), UsersQuery::of(&filter));
    let list = ListState::new(&seek, Some(count), ("customer", "customers"), &page, move |paging| {
        uri!(list(Paged::new(kept.clone(), paging)))
    })
    .exports(|paging| {
        [uri!(export(Paged::new(csv.clone(), paging.clone()))), uri!(export_xlsx(Paged::new(csv, paging)))]
    });
    let views =
        crate::web::saved_views::Bar::load(&mut db, &chrome, crate::domain::SavedList::Customers, list.view_query())
            .await?;
    Ok(ListPage {
        views,
        chrome: chrome.on("users"),
        rows: page.rows,
        list,
        date_error: bad_date.then_some("Enter dates as YYYY-MM-DD."),
        query: UsersQuery { q: Some(filter.q), ..query.filter },
    })
}

#[get("/users.csv?<query..>")]
async fn export(
    signed_in: Staff,
    db: &Db,
    reader: Reader<'_>,
    exports: &State<Exports>,
    query: Paged<UsersQuery>,
) -> Result<ExportAnswer, AppError> {
    export_as(Format::Csv, &signed_in, (db, &reader), exports, query).await
}

#[get("/users.xlsx?<query..>")]
async fn export_xlsx(
    signed_in: Staff,
    db: &Db,
    reader: Reader<'_>,
    exports: &State<Exports>,
    query: Paged<UsersQuery>,
) -> Result<ExportAnswer, AppError> {
    export_as(Format::Xlsx, &signed_in, (db, &reader), exports, query).await
}

async fn export_as(
    format: Format,
    staff: &Staff,
    (db, reader): (&Db, &Reader<'_>),
    exports: &Exports,
    query: Paged<UsersQuery>,
) -> Result<ExportAnswer, AppError> {
    let (filter, bad_date) = query.filter.parse();
    if bad_date {
        return Err(AppError::BadRequest(
            "The customers were not exported: enter dates as YYYY-MM-DD (from 0001-01-01).".into(),
        ));
    }
    let opened = exports.open_reading(reader).await?;
    export_list::<users::List>(db, exports, staff, opened, (filter, query.paging), format).await
}

#[derive(Template, WebTemplate)]
#[template(path = "users/show.html")]
struct ShowPage {
    chrome: Chrome,
    user: User,
    figures: Figures,
    /// The latest few orders; the orders list has them all.
    orders: Vec<OrderRow>,
    /// One page of the products they bought.
    products: Vec<Bought>,
    list: ListState,
    history: Vec<crate::db::audit::Entry>,
}

#[get("/users/<id>?<paging..>")]
async fn show(mut db: PageConn, chrome: Chrome, id: i64, paging: Option<Paging>) -> Result<ShowPage, AppError> {
    let user = users::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let figures = users::figures(&mut db, id).await?;
    let latest = Paging::sorted("placed", Dir::Desc).seek(orders::List::SORTS, SECTION_ROWS / 2);
    let theirs = orders::Filter { user_id: Some(id), ..Default::default() };
    let orders = listing::search::<orders::List>(&mut db, &theirs, &latest).await?;
    let seek = paging.unwrap_or_default().seek(BoughtBy::SORTS, SECTION_ROWS);
    let page = listing::search::<BoughtBy>(&mut db, &id, &seek).await?;
    let count = Some(Count::Exact(figures.product_count));
    let list = ListState::new(&seek, count, ("product", "products"), &page, move |paging| uri!(show(id, Some(paging))))
        .exports(|paging| {
            [uri!(products_export(id, Some(paging.clone()))), uri!(products_export_xlsx(id, Some(paging)))]
        })
        .section("products-bought");
    let history = crate::db::audit::history(&mut db, &["user"], id, HISTORY_ROWS).await?;
    Ok(ShowPage { chrome: chrome.on("users"), user, figures, orders: orders.rows, products: page.rows, list, history })
}

impl ShowPage {
    /// "1 order", "21,451 orders": every order, cancelled ones included.
    fn all_orders(&self) -> String {
        filters::counted(self.figures.all_orders, "order", "orders")
    }
}

/// One product in the exports of what a customer bought.
struct BoughtRecord(Bought);

impl Record for BoughtRecord {
    const COLUMNS: &'static [Column] = &[
        Column::new("product_id", 12.0),
        Column::new("name", 28.0),
        Column::new("sku", 16.0),
        Column::new("units", 10.0),
        Column::new("spend", 14.0),
        Column::new("orders", 10.0),
        Column::new("last_bought", 20.0),
    ];

    fn cells(self) -> Vec<Cell> {
        let b = self.0;
        vec![
            b.product_id.into(),
            b.name.into(),
            b.sku.to_string().into(),
            b.units.into(),
            b.spend_cents.into(),
            b.order_count.into(),
            b.last_bought_at.into(),
        ]
    }
}

#[get("/users/<id>/products.csv?<paging..>")]
async fn products_export(
    _signed_in: Staff,
    reader: Reader<'_>,
    exports: &State<Exports>,
    id: i64,
    paging: Option<Paging>,
) -> Result<ExportFile, AppError> {
    products_export_as(Format::Csv, &reader, exports, id, paging).await
}

#[get("/users/<id>/products.xlsx?<paging..>")]
async fn products_export_xlsx(
    _signed_in: Staff,
    reader: Reader<'_>,
    exports: &State<Exports>,
    id: i64,
    paging: Option<Paging>,
) -> Result<ExportFile, AppError> {
    products_export_as(Format::Xlsx, &reader, exports, id, paging).await
}

async fn products_export_as(
    format: Format,
    reader: &Reader<'_>,
    exports: &Exports,
    id: i64,
    paging: Option<Paging>,
) -> Result<ExportFile, AppError> {
    let (slot, mut conn) = exports.open_reading(reader).await?;
    users::find(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    let stem = format!("customer-{id}-products");
    list_view::export::<BoughtBy, _>(
        exports,
        (slot, conn),
        (id, paging.unwrap_or_default()),
        format,
        &stem,
        BoughtRecord,
    )
    .await
}

/// Links to the customer pages.
pub type Links = crate::web::edit::Links<form::Customers>;

/// Mounts these pages.
pub fn stage() -> rocket::fairing::AdHoc {
    super::stage(
        "Customers",
        routes![
            list,
            export,
            export_xlsx,
            show,
            products_export,
            products_export_xlsx,
            form::new,
            form::edit,
            form::create,
            form::update,
            form::confirm_delete,
            form::delete
        ],
    )
}
