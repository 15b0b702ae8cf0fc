//! Creating, editing and deleting a product, through the shared edit flow.

use crate::web::read::PageConn;
use askama::Template;
use askama_web::WebTemplate;
use rocket::http::uri::Origin;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, uri, FromForm};
use sqlx::PgConnection;

use super::{Links, ProductsQuery};
use crate::db::products::{self, Figures, NewProduct, Product};
use crate::db::staff::Staff;
use crate::db::{Actor, Db, DbError};
use crate::domain::{parse_text, Money, Sku};
use crate::web::edit::{self as flow, DeleteForm, Editable, Editing, Page, Resource};
use crate::web::filters::{self, counted};
use crate::web::forms::{parse_count, FieldErrors};
use crate::web::links::Href;
use crate::web::listing::{Paged, Paging};
use crate::web::{AdminForm, AppError, Chrome, Submitted};

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
    /// Empty for the shop's default.
    #[field(default = String::new())]
    reorder_point: String,
    #[field(default = String::new())]
    version: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "products/form.html")]
pub struct FormPage {
    chrome: Chrome,
    product: Option<Product>,
    form: ProductForm,
    errors: FieldErrors,
    conflict: Option<Product>,
}

impl FormPage {
    /// Where the form is sent.
    fn action(&self) -> Href {
        match &self.product {
            Some(p) => uri!(update(p.id)).into(),
            None => uri!(create).into(),
        }
    }

    /// Where Cancel goes.
    fn back(&self) -> Href {
        match &self.product {
            Some(p) => Links::show(p.id),
            None => Links::list(),
        }
    }
}

/// Products in the shared edit flow.
pub struct Products;

impl Resource for Products {
    type Record = Product;
    const AREA: &'static str = "products";
    const KIND: &'static str = "Product";

    async fn find(db: &mut PgConnection, id: i64) -> Result<Option<Product>, DbError> {
        products::find(db, id).await
    }

    fn version(product: &Product) -> i32 {
        product.version
    }

    fn name(product: &Product) -> String {
        product.name.clone()
    }

    fn uri(page: Page) -> Origin<'static> {
        match page {
            Page::List => uri!(super::list(Paged::<ProductsQuery>::default())),
            Page::Show(id) => uri!(super::show(id, _)),
            Page::Edit(id) => uri!(edit(id)),
            Page::Delete(id) => uri!(confirm_delete(id)),
            Page::New => uri!(new),
        }
    }

    async fn delete(
        db: &mut PgConnection,
        actor: Actor,
        product: &Product,
        version: i32,
    ) -> Result<Result<(), String>, DbError> {
        Ok(products::delete(db, actor, product.id, version).await?.map_err(|lines| {
            format!(
                "{} can't be deleted: it appears on {} (cancelled or not), and order history must stay intact. Set its stock to 0 to stop selling it.",
                product.name,
                counted(lines, "order", "orders")
            )
        }))
    }
}

impl Editable for Products {
    type Form = ProductForm;
    type Valid = NewProduct;
    type Page = FormPage;

    fn form_of(p: &Product) -> ProductForm {
        ProductForm {
            name: p.name.clone(),
            sku: p.sku.to_string(),
            price: p.price_cents.decimal(),
            stock: p.stock.to_string(),
            reorder_point: p.reorder_point.to_string(),
            version: p.version.to_string(),
        }
    }

    fn version_field(form: &mut ProductForm) -> &mut String {
        &mut form.version
    }

    fn validate(form: &ProductForm) -> Result<NewProduct, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = parse_text(&form.name, 200, "a product name").map_err(|e| errors.add("name", e)).ok();
        let sku = Sku::parse(&form.sku).map_err(|e| errors.add("sku", e)).ok();
        let price_cents = Money::parse(&form.price).map_err(|e| errors.add("price", e)).ok();
        let stock = parse_count(&form.stock, 0, "stock").map_err(|e| errors.add("stock", e)).ok();
        let reorder_point = match form.reorder_point.trim() {
            "" => Some(None),
            typed => parse_count(typed, 0, "reorder point").map(Some).map_err(|e| errors.add("reorder_point", e)).ok(),
        };
        match (name, sku, price_cents, stock, reorder_point) {
            (Some(name), Some(sku), Some(price_cents), Some(stock), Some(reorder_point)) => {
                Ok(NewProduct { name, sku, price_cents, stock, reorder_point })
            }
            _ => Err(errors),
        }
    }

    fn name_of(new: &NewProduct) -> &str {
        &new.name
    }

    fn page(chrome: Chrome, e: Editing<Self>) -> FormPage {
        FormPage { chrome, product: e.record, form: e.form, errors: e.errors, conflict: e.conflict }
    }

    async fn create(db: &mut PgConnection, actor: Actor, new: &NewProduct) -> Result<i64, DbError> {
        products::create(db, actor, new).await
    }

    async fn update(
        db: &mut PgConnection,
        actor: Actor,
        id: i64,
        version: i32,
        new: &NewProduct,
    ) -> Result<(), DbError> {
        products::update(db, actor, id, version, new).await
    }
}

#[get("/products/new")]
pub(super) fn new(chrome: Chrome) -> FormPage {
    flow::new::<Products>(chrome)
}

#[get("/products/<id>/edit")]
pub(super) async fn edit(mut db: PageConn, chrome: Chrome, id: i64) -> Result<FormPage, AppError> {
    flow::edit::<Products>(chrome, &mut db, id).await
}

#[post("/products", data = "<form>")]
pub(super) async fn create(chrome: Chrome, db: &Db, form: AdminForm<ProductForm>) -> Submitted<FormPage> {
    flow::create::<Products>(chrome, db, form).await
}

#[post("/products/<id>", data = "<form>")]
pub(super) async fn update(chrome: Chrome, db: &Db, id: i64, form: AdminForm<ProductForm>) -> Submitted<FormPage> {
    flow::update::<Products>(chrome, db, id, form).await
}

#[derive(Template, WebTemplate)]
#[template(path = "products/delete.html")]
pub(super) struct DeletePage {
    chrome: Chrome,
    product: Product,
    /// Orders of any status with the product on them (all of them keep it).
    on_orders: i64,
    /// Of those, the ones not cancelled.
    figures: Figures,
}

#[get("/products/<id>/delete")]
pub(super) async fn confirm_delete(mut db: PageConn, chrome: Chrome, id: i64) -> Result<DeletePage, AppError> {
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

#[post("/products/<id>/delete", data = "<form>")]
pub(super) async fn delete(
    _signed_in: Staff,
    db: &Db,
    id: i64,
    form: AdminForm<DeleteForm>,
) -> Result<Flash<Redirect>, AppError> {
    flow::delete::<Products>(db, id, form).await
}
