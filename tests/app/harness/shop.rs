//! What a person does in the shop, as `TestApp` methods that fill in and
//! send the forms a browser sends: customers, products, orders and bulk
//! changes. A method named for the deed (`create_customer`, `place_order`)
//! expects it to succeed and returns what comes next; one named `post_…`
//! sends the form and returns the answer as it is, for tests of refusals.

use std::fmt::Display;

use super::{Page, TestApp};

/// The order form as a browser sends it. Values are text as typed, so a
/// test can also send what no browser would (an unknown id, a blank
/// product, a negative price).
#[derive(Clone, Default)]
pub struct OrderForm {
    customer: Option<String>,
    customer_search: Option<String>,
    status: Option<String>,
    version: Option<String>,
    lines: Vec<Line>,
    action: Option<String>,
}

/// One line of the order form: the product's search box, the product
/// chosen, the quantity and the unit price; blank fields are not sent.
#[derive(Clone, Default)]
pub struct Line {
    search: Option<String>,
    product: Option<String>,
    quantity: Option<String>,
    unit_price: Option<String>,
}

impl OrderForm {
    /// No customer chosen yet.
    pub fn new() -> OrderForm {
        OrderForm::default()
    }

    /// With this customer chosen.
    pub fn for_customer(customer: impl Display) -> OrderForm {
        OrderForm { customer: Some(customer.to_string()), ..OrderForm::default() }
    }

    /// With this typed into the customer's search box.
    pub fn customer_search(mut self, text: &str) -> OrderForm {
        self.customer_search = Some(text.into());
        self
    }

    pub fn status(mut self, status: &str) -> OrderForm {
        self.status = Some(status.into());
        self
    }

    /// The version of the order the edit form was opened at.
    pub fn version(mut self, version: impl Display) -> OrderForm {
        self.version = Some(version.to_string());
        self
    }

    /// A line of `quantity` of `product`.
    pub fn line(self, product: impl Display, quantity: impl Display) -> OrderForm {
        self.with(Line::of(product, quantity))
    }

    /// A line for each `(product, quantity)`.
    pub fn lines(self, lines: &[(i64, i32)]) -> OrderForm {
        lines.iter().fold(self, |form, (product, quantity)| form.line(product, quantity))
    }

    /// Any line, as filled in.
    pub fn with(mut self, line: Line) -> OrderForm {
        self.lines.push(line);
        self
    }

    /// The button pressed: `save` (Enter), `find`, `add_line`, `remove:N`.
    pub fn action(mut self, action: &str) -> OrderForm {
        self.action = Some(action.into());
        self
    }

    fn fields(&self) -> Vec<(String, String)> {
        let mut fields = Vec::new();
        let mut put = |name: String, value: &Option<String>| {
            if let Some(value) = value {
                fields.push((name, value.clone()));
            }
        };
        put("customer_q".into(), &self.customer_search);
        put("user_id".into(), &self.customer);
        put("status".into(), &self.status);
        put("version".into(), &self.version);
        for (i, line) in self.lines.iter().enumerate() {
            put(format!("lines[{i}].product_q"), &line.search);
            put(format!("lines[{i}].product_id"), &line.product);
            put(format!("lines[{i}].quantity"), &line.quantity);
            put(format!("lines[{i}].unit_price"), &line.unit_price);
        }
        put("action".into(), &self.action);
        fields
    }
}

impl Line {
    /// A line with nothing filled in.
    pub fn new() -> Line {
        Line::default()
    }

    /// `quantity` of `product`.
    pub fn of(product: impl Display, quantity: impl Display) -> Line {
        Line::new().product(product).quantity(quantity)
    }

    pub fn product(mut self, product: impl Display) -> Line {
        self.product = Some(product.to_string());
        self
    }

    pub fn quantity(mut self, quantity: impl Display) -> Line {
        self.quantity = Some(quantity.to_string());
        self
    }

    pub fn unit_price(mut self, price: &str) -> Line {
        self.unit_price = Some(price.into());
        self
    }

    /// With this typed into the line's product search box.
    pub fn search(mut self, text: &str) -> Line {
        self.search = Some(text.into());
        self
    }
}

/// An order just placed: its id and its page, which says so.
pub struct Placed {
    pub id: i64,
    pub page: Page,
}

impl TestApp {
    // Customers.

    pub async fn create_customer(&self, name: &str, email: &str) -> Page {
        self.follow("/users", self.post_new_customer(name, email).await).await
    }

    pub async fn post_new_customer(&self, name: &str, email: &str) -> Page {
        self.post("/users", &[("name", name), ("email", email)]).await
    }

    /// Saves the customer's edit form, opened at `version`.
    pub async fn edit_customer(&self, id: i64, name: &str, email: &str, version: impl Display) -> Page {
        self.follow(&format!("/users/{id}"), self.post_customer_edit(id, name, email, version).await).await
    }

    pub async fn post_customer_edit(&self, id: i64, name: &str, email: &str, version: impl Display) -> Page {
        self.post(&format!("/users/{id}"), &[("name", name), ("email", email), ("version", &version.to_string())]).await
    }

    /// Confirms the customer's delete page, opened at `version`; returns
    /// the page that says what happened.
    pub async fn delete_customer(&self, id: i64, version: impl Display) -> Page {
        self.post_ok(&format!("/users/{id}/delete"), &[("version", &version.to_string())]).await
    }

    // Products: price and stock as typed into the form.

    pub async fn create_product(&self, name: &str, sku: &str, price: &str, stock: &str) -> Page {
        self.follow("/products", self.post_new_product(name, sku, price, stock).await).await
    }

    pub async fn post_new_product(&self, name: &str, sku: &str, price: &str, stock: &str) -> Page {
        self.post("/products", &[("name", name), ("sku", sku), ("price", price), ("stock", stock)]).await
    }

    /// Saves the product's edit form, opened at `version`.
    pub async fn edit_product(
        &self,
        id: i64,
        name: &str,
        sku: &str,
        price: &str,
        stock: &str,
        version: impl Display,
    ) -> Page {
        let posted = self.post_product_edit(id, name, sku, price, stock, version).await;
        self.follow(&format!("/products/{id}"), posted).await
    }

    pub async fn post_product_edit(
        &self,
        id: i64,
        name: &str,
        sku: &str,
        price: &str,
        stock: &str,
        version: impl Display,
    ) -> Page {
        let version = version.to_string();
        let fields = [("name", name), ("sku", sku), ("price", price), ("stock", stock), ("version", &version)];
        self.post(&format!("/products/{id}"), &fields).await
    }

    /// Confirms the product's delete page, opened at `version`.
    pub async fn delete_product(&self, id: i64, version: impl Display) -> Page {
        self.post_ok(&format!("/products/{id}/delete"), &[("version", &version.to_string())]).await
    }

    // Orders.

    /// Sends the new-order form.
    pub async fn post_order(&self, form: &OrderForm) -> Page {
        self.post_form("/orders", form).await
    }

    /// Saves the new-order form, which must place the order.
    pub async fn place(&self, form: &OrderForm) -> Placed {
        let posted = self.post_order(form).await;
        let to = posted.location.clone().unwrap_or_default();
        let id = to.strip_prefix("/orders/").and_then(|id| id.parse().ok());
        let Some(id) = id else { panic!("expected the new order's page; {}: {}", posted.status, posted.body) };
        let page = self.get(&to).await;
        page.assert_contains(&format!("Order #{id} placed."));
        Placed { id, page }
    }

    /// Places an order of `(product, quantity)` lines in the form's
    /// default status; returns its id.
    pub async fn place_order(&self, customer: i64, lines: &[(i64, i32)]) -> i64 {
        self.place(&OrderForm::for_customer(customer).lines(lines)).await.id
    }

    pub async fn place_order_with_status(&self, customer: i64, status: &str, lines: &[(i64, i32)]) -> i64 {
        self.place(&OrderForm::for_customer(customer).status(status).lines(lines)).await.id
    }

    /// Sends order `id`'s edit form.
    pub async fn post_order_edit(&self, id: i64, form: &OrderForm) -> Page {
        self.post_form(&format!("/orders/{id}"), form).await
    }

    /// Saves order `id`'s edit form, which must succeed.
    pub async fn edit_order(&self, id: i64, form: &OrderForm) -> Page {
        self.follow(&format!("/orders/{id}"), self.post_order_edit(id, form).await).await
    }

    /// Confirms the order's delete page, opened at `version`.
    pub async fn delete_order(&self, id: i64, version: impl Display) -> Page {
        self.post_ok(&format!("/orders/{id}/delete"), &[("version", &version.to_string())]).await
    }

    async fn post_form(&self, path: &str, form: &OrderForm) -> Page {
        let fields = form.fields();
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.post(path, &fields).await
    }

    // Bulk changes: the list's bulk form asks for a review page (its query
    // string as the list sends it), whose button applies the change.

    pub async fn review_bulk_orders(&self, query: &str) -> Page {
        self.get(&format!("/orders/bulk?{query}")).await
    }

    pub async fn confirm_bulk_orders(&self, review: &Page) -> Page {
        self.submit(review, "/orders/bulk").await
    }

    /// Reviews and confirms at once; returns the page that says what changed.
    pub async fn bulk_orders(&self, query: &str) -> Page {
        let review = self.review_bulk_orders(query).await;
        self.confirm_bulk_orders(&review).await
    }

    pub async fn review_bulk_products(&self, query: &str) -> Page {
        self.get(&format!("/products/bulk?{query}")).await
    }

    pub async fn confirm_bulk_products(&self, review: &Page) -> Page {
        self.submit(review, "/products/bulk").await
    }
}
