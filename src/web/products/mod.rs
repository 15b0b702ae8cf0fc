//! Product pages: list and search, view with sales and the customers who
//! bought it, create, edit, delete.

mod bulk;
mod form;

pub use bulk::bulk_href;

use crate::web::read::PageConn;
use askama::Template;
use askama_web::WebTemplate;
use rocket::{get, routes, uri, FromForm, State, UriDisplayQuery};

use crate::db::staff::Staff;

use crate::db::listing::{self, Count, Listing};
use crate::db::products::{self, Figures, Filter, PacedRow, Product, StockLevel};
use crate::db::purchases::{Buyer, BuyersOf};
use crate::db::reports::LOW_STOCK;
use crate::db::Db;
use crate::web::export::{export_list, Cell, Column, ExportAnswer, ExportFile, Exports, Format, Record};
use crate::web::filters::counted;
use crate::web::history::Described as _;
use crate::web::listing::{self as list_view, search_text, ListState, Paged, Paging};
use crate::web::read::{ReadConn, Reader};
use crate::web::{filters, AppError, Chrome, HISTORY_ROWS, PAGE_SIZE, SECTION_ROWS};

#[derive(Template, WebTemplate)]
#[template(path = "products/list.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<PacedRow>,
    list: ListState,
    /// The saved views of this list.
    views: crate::web::saved_views::Bar,
    low_stock: i32,
    /// The filters as read.
    query: ProductsQuery,
}

/// The products list's filters, as typed in its query string.
#[derive(Debug, Default, Clone, FromForm, UriDisplayQuery)]
pub struct ProductsQuery {
    /// Part of the name or SKU.
    q: Option<String>,
    /// `in`, `low` or `out` of stock; `low` at or below `low_at`.
    stock: Option<String>,
    low_at: Option<String>,
}

impl ProductsQuery {
    fn parse(&self) -> Filter {
        let stock = match self.stock.as_deref() {
            Some("in") => Some(StockLevel::InStock),
            Some("low") => Some(StockLevel::Low(self.low_at())),
            Some("out") => Some(StockLevel::Out),
            Some("reorder") => Some(StockLevel::AtReorderPoint),
            _ => None,
        };
        Filter { q: search_text(self.q.as_deref()), stock }
    }

    /// The products at or below their reorder point, least stock first.
    pub fn running_low_uri(low_at: i32) -> String {
        let filter = Filter { q: String::new(), stock: Some(StockLevel::AtReorderPoint) };
        uri!(list(Paged::new(ProductsQuery::of(&filter, low_at), Paging::sorted("stock", listing::Dir::Asc))))
            .to_string()
    }

    /// The query string that reads back as `filter`, for links that keep it.
    fn of(filter: &Filter, low_at: i32) -> ProductsQuery {
        let level = match filter.stock {
            Some(StockLevel::InStock) => "in",
            Some(StockLevel::Low(_)) => "low",
            Some(StockLevel::Out) => "out",
            Some(StockLevel::AtReorderPoint) => "reorder",
            None => "",
        };
        ProductsQuery { q: Some(filter.q.clone()), stock: Some(level.into()), low_at: Some(low_at.to_string()) }
    }

    fn q(&self) -> &str {
        self.q.as_deref().unwrap_or("")
    }

    fn stock(&self) -> &str {
        self.stock.as_deref().unwrap_or("")
    }

    /// "Running low" means at most this many in stock.
    fn low_at(&self) -> i32 {
        self.low_at
            .as_deref()
            .and_then(|s| s.trim().parse::<i32>().ok())
            .filter(|n| (1..=1_000_000).contains(n))
            .unwrap_or(LOW_STOCK)
    }
}

/// The list as the saved view `query` shows it.
pub(crate) fn view_uri(query: &str) -> rocket::http::uri::Origin<'static> {
    uri!(list(crate::web::listing::reread::<ProductsQuery>(query)))
}

#[get("/products?<query..>")]
async fn list(mut db: ReadConn, chrome: Chrome, query: Paged<ProductsQuery>) -> Result<ListPage, AppError> {
    let filter = query.filter.parse();
    let seek = query.paging.seek(products::PacedList::SORTS, PAGE_SIZE);
    let page = listing::search::<products::PacedList>(&mut db, &filter, &seek).await?;
    let count = listing::count_matching::<products::List>(&mut db, &filter).await?;
    let kept = ProductsQuery::of(&filter, query.filter.low_at());
    let csv = kept.clone();
    let list = ListState::new(&seek, Some(count), ("product", "products"), &page, move |paging| {
        uri!(list(Paged::new(kept.clone(), paging)))
    })
    .exports(|paging| {
        [uri!(export(Paged::new(csv.clone(), paging.clone()))), uri!(export_xlsx(Paged::new(csv, paging)))]
    });
    let views =
        crate::web::saved_views::Bar::load(&mut db, &chrome, crate::domain::SavedList::Products, list.view_query())
            .await?;
    Ok(ListPage {
        views,
        chrome: chrome.on("products"),
        rows: page.rows,
        list,
        low_stock: LOW_STOCK,
        query: ProductsQuery { q: Some(filter.q), ..query.filter },
    })
}

#[get("/products.csv?<query..>")]
async fn export(
    signed_in: Staff,
    db: &Db,
    reader: Reader<'_>,
    exports: &State<Exports>,
    query: Paged<ProductsQuery>,
) -> Result<ExportAnswer, AppError> {
    export_as(Format::Csv, &signed_in, (db, &reader), exports, query).await
}

#[get("/products.xlsx?<query..>")]
async fn export_xlsx(
    signed_in: Staff,
    db: &Db,
    reader: Reader<'_>,
    exports: &State<Exports>,
    query: Paged<ProductsQuery>,
) -> Result<ExportAnswer, AppError> {
    export_as(Format::Xlsx, &signed_in, (db, &reader), exports, query).await
}

async fn export_as(
    format: Format,
    staff: &Staff,
    (db, reader): (&Db, &Reader<'_>),
    exports: &Exports,
    query: Paged<ProductsQuery>,
) -> Result<ExportAnswer, AppError> {
    let opened = exports.open_reading(reader).await?;
    let filter = (query.filter.parse(), query.paging);
    export_list::<products::List>(db, exports, staff, opened, filter, format).await
}

#[derive(Template, WebTemplate)]
#[template(path = "products/show.html")]
struct ShowPage {
    chrome: Chrome,
    product: Product,
    figures: Figures,
    low_stock: i32,
    /// One page of the customers who bought it.
    buyers: Vec<Buyer>,
    list: ListState,
    history: Vec<crate::db::audit::Entry>,
}

#[get("/products/<id>?<paging..>")]
async fn show(mut db: PageConn, chrome: Chrome, id: i64, paging: Option<Paging>) -> Result<ShowPage, AppError> {
    let product = products::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let figures = products::figures(&mut db, id).await?;
    let seek = paging.unwrap_or_default().seek(BuyersOf::SORTS, SECTION_ROWS);
    let page = listing::search::<BuyersOf>(&mut db, &id, &seek).await?;
    let count = Some(Count::Exact(figures.customer_count));
    let list =
        ListState::new(&seek, count, ("customer", "customers"), &page, move |paging| uri!(show(id, Some(paging))))
            .exports(|paging| {
                [uri!(buyers_export(id, Some(paging.clone()))), uri!(buyers_export_xlsx(id, Some(paging)))]
            })
            .section("bought-by");
    let history = crate::db::audit::history(&mut db, &["product"], id, HISTORY_ROWS).await?;
    Ok(ShowPage {
        chrome: chrome.on("products"),
        product,
        figures,
        low_stock: LOW_STOCK,
        buyers: page.rows,
        list,
        history,
    })
}

impl ShowPage {
    /// "on 1 order", "on 1,204 orders": orders not cancelled with the product.
    fn on_orders(&self) -> String {
        counted(self.figures.order_count, "order", "orders")
    }

    /// "1 customer", "31,204 customers".
    fn buyers_count(&self) -> String {
        counted(self.figures.customer_count, "customer", "customers")
    }
}

/// One buyer in the exports of a product's buyers.
struct BuyerRecord(Buyer);

impl Record for BuyerRecord {
    const COLUMNS: &'static [Column] = &[
        Column::new("customer_id", 12.0),
        Column::new("name", 28.0),
        Column::new("email", 32.0),
        Column::new("units", 10.0),
        Column::new("spend", 14.0),
        Column::new("orders", 10.0),
        Column::new("last_bought", 20.0),
    ];

    fn cells(self) -> Vec<Cell> {
        let b = self.0;
        vec![
            b.user_id.into(),
            b.name.into(),
            b.email.to_string().into(),
            b.units.into(),
            b.spend_cents.into(),
            b.order_count.into(),
            b.last_bought_at.into(),
        ]
    }
}

#[get("/products/<id>/buyers.csv?<paging..>")]
async fn buyers_export(
    _signed_in: Staff,
    reader: Reader<'_>,
    exports: &State<Exports>,
    id: i64,
    paging: Option<Paging>,
) -> Result<ExportFile, AppError> {
    buyers_export_as(Format::Csv, &reader, exports, id, paging).await
}

#[get("/products/<id>/buyers.xlsx?<paging..>")]
async fn buyers_export_xlsx(
    _signed_in: Staff,
    reader: Reader<'_>,
    exports: &State<Exports>,
    id: i64,
    paging: Option<Paging>,
) -> Result<ExportFile, AppError> {
    buyers_export_as(Format::Xlsx, &reader, exports, id, paging).await
}

async fn buyers_export_as(
    format: Format,
    reader: &Reader<'_>,
    exports: &Exports,
    id: i64,
    paging: Option<Paging>,
) -> Result<ExportFile, AppError> {
    let (slot, mut conn) = exports.open_reading(reader).await?;
    products::find(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    let stem = format!("product-{id}-buyers");
    list_view::export::<BuyersOf, _>(
        exports,
        (slot, conn),
        (id, paging.unwrap_or_default()),
        format,
        &stem,
        BuyerRecord,
    )
    .await
}

/// Links to the product pages.
pub type Links = crate::web::edit::Links<form::Products>;

/// Mounts these pages.
pub fn stage() -> rocket::fairing::AdHoc {
    super::stage(
        "Products",
        routes![
            list,
            export,
            export_xlsx,
            bulk::bulk_confirm,
            bulk::bulk_apply,
            show,
            buyers_export,
            buyers_export_xlsx,
            form::new,
            form::edit,
            form::create,
            form::update,
            form::confirm_delete,
            form::delete
        ],
    )
}
