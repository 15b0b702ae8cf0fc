//! Product pages: list and search, view with sales and the customers who
//! bought it, create, edit, delete.

use askama::Template;
use askama_web::WebTemplate;
use futures::StreamExt;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, uri, FromForm, State, UriDisplayQuery};
use rocket_db_pools::Connection;
use serde::Serialize;

use crate::db::staff::Staff;

use super::audit::Described as _;
use super::export::{Csv, Exports};
use super::filters::counted;
use super::forms::{parse_count, parse_version, FieldErrors};
use super::listing::{search_text, ListState, Paged, Paging};
use super::{
    changed_since_review, done, filters, refused, AdminForm, AppError, Chrome, HISTORY_ROWS, PAGE_SIZE, SECTION_ROWS,
};
use crate::db::listing::{self, Count, Listing};
use crate::db::products::{self, BulkChange, BulkRow, Figures, Filter, NewProduct, Product, ProductRow, StockLevel};
use crate::db::purchases::{Buyer, BuyersOf};
use crate::db::reports::LOW_STOCK;
use crate::db::{BulkError, BulkPreview, Db, DbError};
use crate::domain::{parse_text, Email, Money, Sku};

#[derive(Template, WebTemplate)]
#[template(path = "products/list.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<ProductRow>,
    list: ListState,
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
            _ => None,
        };
        Filter { q: search_text(self.q.as_deref()), stock }
    }

    /// The products running low (at most `low_at` in stock), least first.
    pub fn running_low_uri(low_at: i32) -> String {
        let filter = Filter { q: String::new(), stock: Some(StockLevel::Low(low_at)) };
        uri!(list(Paged::new(ProductsQuery::of(&filter, low_at), Paging::sorted("stock", listing::Dir::Asc))))
            .to_string()
    }

    /// The query string that reads back as `filter`, for links that keep it.
    fn of(filter: &Filter, low_at: i32) -> ProductsQuery {
        let level = match filter.stock {
            Some(StockLevel::InStock) => "in",
            Some(StockLevel::Low(_)) => "low",
            Some(StockLevel::Out) => "out",
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

#[get("/products?<query..>")]
async fn list(chrome: Chrome, mut db: Connection<Db>, query: Paged<ProductsQuery>) -> Result<ListPage, AppError> {
    let filter = query.filter.parse();
    let seek = query.paging.seek(products::List::SORTS, PAGE_SIZE);
    let page = listing::search::<products::List>(&mut db, &filter, &seek).await?;
    let count = listing::count_matching::<products::List>(&mut db, &filter).await?;
    let kept = ProductsQuery::of(&filter, query.filter.low_at());
    let csv = kept.clone();
    let list = ListState::new(&seek, Some(count), ("product", "products"), &page, move |paging| {
        uri!(list(Paged::new(kept.clone(), paging)))
    })
    .csv(|paging| uri!(export(Paged::new(csv, paging))));
    Ok(ListPage {
        chrome: chrome.on("products"),
        rows: page.rows,
        list,
        low_stock: LOW_STOCK,
        query: ProductsQuery { q: Some(filter.q), ..query.filter },
    })
}

/// One product in the CSV export.
#[derive(Serialize)]
struct ProductCsv {
    id: i64,
    name: String,
    sku: Sku,
    price: Money,
    stock: i32,
    units_sold: i64,
}

#[get("/products.csv?<query..>")]
async fn export(
    _signed_in: Staff,
    db: &Db,
    exports: &State<Exports>,
    query: Paged<ProductsQuery>,
) -> Result<Csv, AppError> {
    let seek = query.paging.seek(products::List::SORTS, PAGE_SIZE).from_start();
    let slot = exports.slot().await?;
    let rows = listing::export::<products::List>(db.conn().await?, query.filter.parse(), seek).map(|row| {
        row.map(|p| ProductCsv {
            id: p.id,
            name: p.name,
            sku: p.sku,
            price: p.price_cents,
            stock: p.stock,
            units_sold: p.units_sold,
        })
    });
    Csv::spool(exports, slot, "products.csv", &["id", "name", "sku", "price", "stock", "units_sold"], rows).await
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
async fn show(chrome: Chrome, mut db: Connection<Db>, id: i64, paging: Option<Paging>) -> Result<ShowPage, AppError> {
    let product = products::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let figures = products::figures(&mut db, id).await?;
    let seek = paging.unwrap_or_default().seek(BuyersOf::SORTS, SECTION_ROWS);
    let page = listing::search::<BuyersOf>(&mut db, &id, &seek).await?;
    let count = Some(Count::Exact(figures.customer_count));
    let list =
        ListState::new(&seek, count, ("customer", "customers"), &page, move |paging| uri!(show(id, Some(paging))))
            .csv(|paging| uri!(buyers_export(id, Some(paging))))
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

/// One buyer in the CSV export of a product's buyers.
#[derive(Serialize)]
struct BuyerCsv {
    customer_id: i64,
    name: String,
    email: Email,
    units: i64,
    spend: Money,
    orders: i64,
    last_bought: String,
}

#[get("/products/<id>/buyers.csv?<paging..>")]
async fn buyers_export(
    _signed_in: Staff,
    db: &Db,
    exports: &State<Exports>,
    id: i64,
    paging: Option<Paging>,
) -> Result<Csv, AppError> {
    let mut conn = db.conn().await?;
    products::find(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    let slot = exports.slot().await?;
    let seek = paging.unwrap_or_default().seek(BuyersOf::SORTS, PAGE_SIZE).from_start();
    let rows = listing::export::<BuyersOf>(conn, id, seek).map(|row| {
        row.map(|b| BuyerCsv {
            customer_id: b.user_id,
            name: b.name,
            email: b.email,
            units: b.units,
            spend: b.spend_cents,
            orders: b.order_count,
            last_bought: b.last_bought_at.to_rfc3339(),
        })
    });
    let header = &["customer_id", "name", "email", "units", "spend", "orders", "last_bought"];
    Csv::spool(exports, slot, &format!("product-{id}-buyers.csv"), header, rows).await
}

/// The product form as typed, so it can be shown again with its errors.
#[derive(Debug, Default, Clone, FromForm)]
pub struct ProductForm {
    #[field(default = String::new())]
    name: String,
    #[field(default = String::new())]
    sku: String,
    #[field(default = String::new())]
    price: String,
    #[field(default = String::new())]
    stock: String,
    #[field(default = String::new())]
    version: String,
}

impl ProductForm {
    fn from_product(p: &Product) -> ProductForm {
        ProductForm {
            name: p.name.clone(),
            sku: p.sku.to_string(),
            price: p.price_cents.decimal(),
            stock: p.stock.to_string(),
            version: p.version.to_string(),
        }
    }

    fn validate(&self) -> Result<NewProduct, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = parse_text(&self.name, 200, "a product name").map_err(|e| errors.add("name", e)).ok();
        let sku = Sku::parse(&self.sku).map_err(|e| errors.add("sku", e)).ok();
        let price_cents = Money::parse(&self.price).map_err(|e| errors.add("price", e)).ok();
        let stock = parse_count(&self.stock, 0, "stock").map_err(|e| errors.add("stock", e)).ok();
        match (name, sku, price_cents, stock) {
            (Some(name), Some(sku), Some(price_cents), Some(stock)) => Ok(NewProduct { name, sku, price_cents, stock }),
            _ => Err(errors),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "products/form.html")]
struct FormPage {
    chrome: Chrome,
    product: Option<Product>,
    form: ProductForm,
    errors: FieldErrors,
    conflict: Option<Product>,
}

#[get("/products/new")]
fn new(chrome: Chrome) -> FormPage {
    FormPage {
        chrome: chrome.on("products"),
        product: None,
        form: ProductForm::default(),
        errors: FieldErrors::default(),
        conflict: None,
    }
}

#[get("/products/<id>/edit")]
async fn edit(chrome: Chrome, mut db: Connection<Db>, id: i64) -> Result<FormPage, AppError> {
    let product = products::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    Ok(FormPage {
        chrome: chrome.on("products"),
        form: ProductForm::from_product(&product),
        product: Some(product),
        errors: FieldErrors::default(),
        conflict: None,
    })
}

type Submitted = super::Submitted<FormPage>;

#[post("/products", data = "<form>")]
async fn create(chrome: Chrome, db: &Db, form: AdminForm<ProductForm>) -> Submitted {
    let mut db = db.conn().await?;
    let actor = form.actor();
    let form = form.form;
    let mut errors = match form.validate() {
        Ok(new) => match products::create(&mut db, actor, &new).await {
            Ok(id) => return Ok(Ok(done(format!("/products/{id}"), format!("Product {} created.", new.name)))),
            Err(DbError::Constraint { constraint }) => {
                let mut errors = FieldErrors::default();
                if !errors.add_constraint(&constraint) {
                    return Err(DbError::Constraint { constraint }.into());
                }
                errors
            }
            Err(e) => return Err(e.into()),
        },
        Err(errors) => errors,
    };
    errors.add("form", "Please correct the highlighted fields.");
    Ok(Err(FormPage { chrome: chrome.on("products"), product: None, form, errors, conflict: None }))
}

#[post("/products/<id>", data = "<form>")]
async fn update(chrome: Chrome, db: &Db, id: i64, form: AdminForm<ProductForm>) -> Submitted {
    let mut db = db.conn().await?;
    let actor = form.actor();
    let mut form = form.form;
    let product = products::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let mut conflict = None;
    let mut errors = match (form.validate(), parse_version(&form.version)) {
        (Ok(changed), Some(version)) => match products::update(&mut db, actor, id, version, &changed).await {
            Ok(()) => return Ok(Ok(done(format!("/products/{id}"), format!("Product {} saved.", changed.name)))),
            Err(DbError::Constraint { constraint }) => {
                let mut errors = FieldErrors::default();
                if !errors.add_constraint(&constraint) {
                    return Err(DbError::Constraint { constraint }.into());
                }
                errors
            }
            Err(DbError::Conflict) => {
                conflict = products::find(&mut db, id).await?;
                FieldErrors::default()
            }
            Err(e) => return Err(e.into()),
        },
        (Ok(_), None) => {
            conflict = Some(product.clone());
            FieldErrors::default()
        }
        (Err(errors), _) => errors,
    };
    if let Some(current) = &conflict {
        form.version = current.version.to_string();
    } else {
        errors.add("form", "Please correct the highlighted fields.");
    }
    Ok(Err(FormPage { chrome: chrome.on("products"), product: Some(product), form, errors, conflict }))
}

#[derive(Template, WebTemplate)]
#[template(path = "products/delete.html")]
struct DeletePage {
    chrome: Chrome,
    product: Product,
    /// Orders of any status with the product on them (all of them keep it).
    on_orders: i64,
    /// Of those, the ones not cancelled.
    figures: Figures,
}

#[get("/products/<id>/delete")]
async fn confirm_delete(chrome: Chrome, mut db: Connection<Db>, id: i64) -> Result<DeletePage, AppError> {
    let product = products::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let on_orders = products::on_orders(&mut db, id).await?;
    let figures = products::figures(&mut db, id).await?;
    Ok(DeletePage { chrome: chrome.on("products"), product, on_orders, figures })
}

impl DeletePage {
    /// Of the orders the product is on, those cancelled.
    fn cancelled(&self) -> i64 {
        self.on_orders - self.figures.order_count
    }
}

#[derive(Debug, FromForm)]
struct DeleteForm {
    #[field(default = String::new())]
    version: String,
}

#[post("/products/<id>/delete", data = "<form>")]
async fn delete(_signed_in: Staff, db: &Db, id: i64, form: AdminForm<DeleteForm>) -> Result<Flash<Redirect>, AppError> {
    let mut db = db.conn().await?;
    let actor = form.actor();
    let product = products::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let Some(version) = parse_version(&form.form.version) else {
        return Ok(refused(format!("/products/{id}/delete"), "Please confirm the deletion again."));
    };
    match products::delete(&mut db, actor, id, version).await {
        Ok(Ok(())) => Ok(done("/products".into(), format!("Product {} deleted.", product.name))),
        Ok(Err(lines)) => Ok(refused(
            format!("/products/{id}"),
            format!(
                "{} can't be deleted: it appears on {} (cancelled or not), and order history must stay intact. Set its stock to 0 to stop selling it.",
                product.name,
                counted(lines, "order", "orders")
            ),
        )),
        Err(DbError::Conflict) => Ok(refused(
            format!("/products/{id}/delete"),
            format!("{} was changed by someone else while you were deciding. Check the details and confirm again.", product.name),
        )),
        Err(DbError::NotFound) => Ok(done("/products".into(), format!("Product {} was already deleted.", product.name))),
        Err(e) => Err(e.into()),
    }
}

pub fn routes() -> Vec<rocket::Route> {
    routes![
        list,
        export,
        bulk_confirm,
        bulk_apply,
        show,
        buyers_export,
        new,
        edit,
        create,
        update,
        confirm_delete,
        delete
    ]
}

/// A bulk change on the products list: price or stock by a percentage, on
/// the ticked products or all matching the list's search and filters.
#[derive(Debug, Default, Clone, FromForm, UriDisplayQuery)]
pub struct BulkForm {
    /// `price` or `stock`.
    #[field(default = String::new())]
    change: String,
    /// The percentage, e.g. `10` or `-15.5`.
    #[field(default = String::new())]
    percent: String,
    #[field(default = String::from("selected"))]
    scope: String,
    ids: Vec<String>,
    /// How many products the confirmation page promised to change.
    confirmed: Option<String>,
    /// The fingerprint of the products the confirmation page showed.
    token: Option<String>,
    /// The products list's filters.
    #[field(default = String::new())]
    q: String,
    #[field(default = String::new())]
    stock: String,
    #[field(default = String::new())]
    low_at: String,
}

impl BulkForm {
    /// The change, or why it can't be read.
    fn change(&self) -> Result<BulkChange, &'static str> {
        let percent: f64 = self
            .percent
            .trim()
            .trim_end_matches('%')
            .trim()
            .parse()
            .map_err(|_| "Enter the percentage as a number, like 10 or -15.")?;
        if !(-100.0..=1000.0).contains(&percent) {
            return Err("The percentage must be between -100 and 1000.");
        }
        match self.change.as_str() {
            "price" => Ok(BulkChange::Price(percent)),
            "stock" => Ok(BulkChange::Stock(percent)),
            _ => Err("Choose whether to change prices or stock."),
        }
    }

    fn ids(&self) -> Option<Vec<i64>> {
        (self.scope != "all").then(|| self.ids.iter().filter_map(|id| super::query_id(Some(id))).collect())
    }

    /// The products list's filters, and the list they came from.
    fn filter(&self) -> (Filter, String) {
        let query = ProductsQuery {
            q: Some(self.q.clone()),
            stock: Some(self.stock.clone()),
            low_at: Some(self.low_at.clone()),
        };
        let filter = query.parse();
        let kept = ProductsQuery::of(&filter, query.low_at());
        (filter, uri!(list(Paged::new(kept, Paging::default()))).to_string())
    }

    fn describe(&self) -> String {
        match self.change() {
            Ok(BulkChange::Price(p)) => format!("Change prices by {p:+}%"),
            Ok(BulkChange::Stock(p)) => format!("Change stock by {p:+}%"),
            Err(_) => "Change products".to_string(),
        }
    }

    /// Whether the preview shows money (prices) rather than units.
    fn is_price(&self) -> bool {
        self.change != "stock"
    }

    /// The confirmation page for this same change and selection.
    fn review_url(&self) -> String {
        let (filter, _) = self.filter();
        let kept = ProductsQuery::of(
            &filter,
            ProductsQuery { low_at: Some(self.low_at.clone()), ..Default::default() }.low_at(),
        );
        let review = BulkForm {
            ids: self.ids().unwrap_or_default().iter().map(i64::to_string).collect(),
            confirmed: None,
            token: None,
            q: kept.q.unwrap_or_default(),
            stock: kept.stock.unwrap_or_default(),
            low_at: kept.low_at.unwrap_or_default(),
            ..self.clone()
        };
        uri!(bulk_confirm(review)).to_string()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "products/bulk.html")]
struct BulkPage {
    chrome: Chrome,
    form: BulkForm,
    /// Why the change can't be reviewed yet, shown next to the percentage.
    error: Option<&'static str>,
    preview: BulkPreview<BulkRow>,
    ids: Vec<i64>,
    back: String,
}

#[get("/products/bulk?<form..>")]
async fn bulk_confirm(chrome: Chrome, mut db: Connection<Db>, form: BulkForm) -> Result<BulkPage, AppError> {
    let (filter, back) = form.filter();
    let ids = form.ids();
    let change = form.change();
    let preview = match change {
        Ok(change) => products::bulk_preview(&mut db, &filter, ids.as_deref(), change).await?,
        Err(_) => BulkPreview::default(),
    };
    Ok(BulkPage {
        chrome: chrome.on("products"),
        ids: ids.unwrap_or_default(),
        error: change.err(),
        form,
        preview,
        back,
    })
}

impl BulkPage {
    /// "1 product", "1,204 products": what the change touches.
    fn targets(&self) -> String {
        counted(self.preview.count, "product", "products")
    }
}

#[post("/products/bulk", data = "<form>")]
async fn bulk_apply(_signed_in: Staff, db: &Db, form: AdminForm<BulkForm>) -> Result<Flash<Redirect>, AppError> {
    let mut db = db.conn().await?;
    let actor = form.actor();
    let form = form.form;
    let (filter, back) = form.filter();
    let (Ok(change), Some(confirmed)) =
        (form.change(), form.confirmed.as_deref().and_then(|c| c.trim().parse::<i64>().ok()))
    else {
        return Ok(refused(form.review_url(), "Nothing was changed: review the change and confirm it here."));
    };
    let ids = form.ids();
    match products::bulk_apply(
        &mut db,
        actor,
        &filter,
        ids.as_deref(),
        (confirmed, form.token.as_deref().unwrap_or("")),
        change,
    )
    .await
    {
        Ok(changed) => {
            Ok(done(back, format!("{}: {} changed.", form.describe(), counted(changed as i64, "product", "products"))))
        }
        Err(BulkError::Changed { now, confirmed }) => {
            Ok(refused(form.review_url(), changed_since_review("products", now, confirmed)))
        }
        Err(BulkError::OutOfStock(_)) => Ok(refused(back, "Nothing was changed.")),
        Err(BulkError::Db(e)) => Err(e.into()),
    }
}
