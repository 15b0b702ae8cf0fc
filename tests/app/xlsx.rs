//! Excel downloads read back as a spreadsheet reads them: numbers, money
//! and times are typed cells, text stays text even when it looks like a
//! formula, and each download holds exactly the filtered list.

use std::io::Cursor;

use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
use chrono::NaiveDate;
use rocket::http::Status;

use crate::harness::TestApp;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The first sheet of the XLSX at `path`, row by row.
pub(crate) async fn sheet(app: &TestApp, path: &str) -> Vec<Vec<Data>> {
    let (status, content_type, bytes) = app.download(path).await;
    assert_eq!(status, Status::Ok, "{path}");
    assert_eq!(content_type.as_deref(), Some(XLSX), "{path}");
    rows_of(bytes)
}

/// The first sheet of an XLSX file, row by row.
pub(crate) fn rows_of(bytes: Vec<u8>) -> Vec<Vec<Data>> {
    let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).expect("a readable workbook");
    let range = workbook.worksheet_range_at(0).expect("one sheet").expect("a readable sheet");
    range.rows().map(<[Data]>::to_vec).collect()
}

fn header(rows: &[Vec<Data>]) -> Vec<String> {
    rows[0].iter().map(ToString::to_string).collect()
}

fn number(cell: &Data) -> f64 {
    match cell {
        Data::Float(n) => *n,
        Data::Int(n) => *n as f64,
        other => panic!("expected a number cell, got {other:?}"),
    }
}

fn text(cell: &Data) -> &str {
    match cell {
        Data::String(s) => s,
        other => panic!("expected a text cell, got {other:?}"),
    }
}

fn moment(cell: &Data) -> chrono::NaiveDateTime {
    match cell {
        Data::DateTime(at) => at.as_datetime().expect("a date"),
        other => panic!("expected a date cell, got {other:?}"),
    }
}

#[rocket::async_test]
async fn the_orders_export_has_typed_cells_and_only_the_filtered_orders() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let bob = app.customer("Bob", "bob@example.com").await;
    let mug = app.product("Mug", "MUG", 1250, 100).await;
    let paid = app.place_order_with_status(ada, "paid", &[(mug, 3)]).await;
    app.set_placed_on(paid, "2024-05-17").await;
    app.place_order_with_status(bob, "pending", &[(mug, 1)]).await;

    let rows = sheet(&app, "/orders.xlsx?status=paid").await;
    assert_eq!(header(&rows), ["id", "customer_id", "customer", "placed_at", "status", "items", "total"]);
    assert_eq!(rows.len(), 2, "the header and the one paid order: {rows:?}");
    let order = &rows[1];
    assert_eq!(number(&order[0]), paid as f64);
    assert_eq!(number(&order[1]), ada as f64);
    assert_eq!(text(&order[2]), "Ada Lovelace");
    let noon = NaiveDate::from_ymd_opt(2024, 5, 17).and_then(|d| d.and_hms_opt(12, 0, 0)).unwrap();
    assert_eq!(moment(&order[3]), noon);
    assert_eq!(text(&order[4]), "paid");
    assert_eq!(number(&order[5]), 3.0);
    assert_eq!(number(&order[6]), 37.5, "money in dollars, not cents");

    // The list's own Excel link carries its filters.
    let page = app.get("/orders?status=paid").await;
    page.assert_contains("href=\"/orders.xlsx?user_id=&#38;product_id=&#38;status=paid&#38;");
    page.assert_contains(">Excel</a>");
    // Another filter gives other rows.
    let pending = sheet(&app, "/orders.xlsx?status=pending").await;
    assert_eq!(pending.len(), 2);
    assert_eq!(text(&pending[1][2]), "Bob");
}

#[rocket::async_test]
async fn a_bad_filter_is_refused_rather_than_exported() {
    let app = TestApp::new().await;
    let (status, _, body) = app.download("/orders.xlsx?from=last-tuesday").await;
    assert_eq!(status, Status::BadRequest);
    assert!(String::from_utf8_lossy(&body).contains("enter dates as YYYY-MM-DD"));
    let (status, _, _) = app.download("/users.xlsx?joined_from=2024-13-01").await;
    assert_eq!(status, Status::BadRequest);
    let (status, _, _) = app.download("/orders.xlsx?user_id=999999").await;
    assert_eq!(status, Status::BadRequest);
    // Exports need a session like every page.
    app.sign_out().await;
    assert_eq!(app.download("/orders.xlsx").await.0, Status::SeeOther);
}

#[rocket::async_test]
async fn formula_looking_text_stays_text() {
    let app = TestApp::new().await;
    let formula = "=HYPERLINK(\"http://evil.example/\",\"click\")";
    app.customer(formula, "evil@example.com").await;
    app.customer("+1+2", "plus@example.com").await;
    let rows = sheet(&app, "/users.xlsx?sort=name&dir=asc").await;
    assert_eq!(header(&rows), ["id", "name", "email", "customer_since", "orders", "revenue"]);
    let names: Vec<&str> = rows[1..].iter().map(|r| text(&r[1])).collect();
    assert!(names.contains(&formula), "{names:?}");
    assert!(names.contains(&"+1+2"), "{names:?}");
    for row in &rows[1..] {
        assert_eq!(number(&row[4]), 0.0);
        assert_eq!(number(&row[5]), 0.0);
        moment(&row[3]);
    }
}

#[rocket::async_test]
async fn a_customers_products_and_a_products_buyers_export_typed_cells() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada", "ada@example.com").await;
    let mug = app.product("Mug", "MUG-1", 999, 100).await;
    let order = app.place_order_with_status(ada, "paid", &[(mug, 2)]).await;
    app.set_placed_on(order, "2023-01-02").await;

    let page = app.get(&format!("/users/{ada}")).await;
    page.assert_contains(&format!("href=\"/users/{ada}/products.xlsx"));
    let rows = sheet(&app, &format!("/users/{ada}/products.xlsx")).await;
    assert_eq!(header(&rows), ["product_id", "name", "sku", "units", "spend", "orders", "last_bought"]);
    assert_eq!(rows.len(), 2);
    let bought = &rows[1];
    assert_eq!(number(&bought[0]), mug as f64);
    assert_eq!((text(&bought[1]), text(&bought[2])), ("Mug", "MUG-1"));
    assert_eq!((number(&bought[3]), number(&bought[4]), number(&bought[5])), (2.0, 19.98, 1.0));
    assert_eq!(moment(&bought[6]).date(), NaiveDate::from_ymd_opt(2023, 1, 2).unwrap());

    let rows = sheet(&app, &format!("/products/{mug}/buyers.xlsx")).await;
    assert_eq!(rows.len(), 2);
    assert_eq!((text(&rows[1][1]), text(&rows[1][2])), ("Ada", "ada@example.com"));
    assert_eq!(number(&rows[1][4]), 19.98);
    assert_eq!(app.download("/users/999999/products.xlsx").await.0, Status::NotFound);

    let products = sheet(&app, "/products.xlsx?q=mug").await;
    assert_eq!(header(&products), ["id", "name", "sku", "price", "stock", "units_sold"]);
    assert_eq!((number(&products[1][3]), number(&products[1][4]), number(&products[1][5])), (9.99, 98.0, 2.0));
}

#[rocket::async_test]
async fn the_reports_export_as_typed_cells() {
    let app = TestApp::new().await;
    let ada = app.customer("Ada", "ada@example.com").await;
    let mug = app.product("Mug", "MUG", 1250, 100).await;
    let order = app.place_order_with_status(ada, "paid", &[(mug, 2)]).await;
    app.set_placed_on(order, "2024-03-09").await;

    let top = sheet(&app, "/reports/top-customers.xlsx").await;
    assert_eq!(header(&top), ["rank", "customer_id", "name", "email", "orders", "revenue"]);
    assert_eq!((number(&top[1][0]), number(&top[1][1]), text(&top[1][2])), (1.0, ada as f64, "Ada"));
    assert_eq!((number(&top[1][4]), number(&top[1][5])), (1.0, 25.0));
    let revenue = sheet(&app, "/reports/revenue-per-customer.xlsx").await;
    assert_eq!(number(&revenue[1][5]), 25.0);
    let best = sheet(&app, "/reports/best-sellers.xlsx").await;
    assert_eq!((text(&best[1][3]), number(&best[1][4]), number(&best[1][5])), ("MUG", 2.0, 25.0));
    let months = sheet(&app, "/reports/revenue-by-month.xlsx").await;
    assert_eq!(header(&months), ["month", "orders", "revenue"]);
    let march = months.iter().skip(1).find(|r| moment(&r[0]).date() == NaiveDate::from_ymd_opt(2024, 3, 1).unwrap());
    let march = march.expect("a row for March 2024");
    assert_eq!((number(&march[1]), number(&march[2])), (1.0, 25.0));

    // A chosen period carries into the download: the order is older than 30 days.
    let page = app.get("/reports?period=30d").await;
    page.assert_contains("href=\"/reports/top-customers.xlsx?period=30d\"");
    page.assert_contains("href=\"/reports/revenue-by-month.xlsx?period=30d\"");
    assert_eq!(sheet(&app, "/reports/top-customers.xlsx?period=30d").await.len(), 1, "the header alone");
    assert_eq!(sheet(&app, "/reports/best-sellers.xlsx?period=30d").await.len(), 1);
    assert_eq!(sheet(&app, "/reports/best-sellers.xlsx?period=all").await.len(), 2);
}
