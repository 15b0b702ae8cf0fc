//! Importing customers and products from CSV and XLSX files: upload, mapping,
//! dry run, commit, stale previews, bad files, the command line, and large
//! imports committed as jobs.

use rocket::http::{ContentType, Status};
use shopdesk::db::jobs::{self, Step};

use crate::harness::{Page, TestApp};

const BOUNDARY: &str = "shopdesk-test-boundary-7MA4YWxkTrZu0gW";

/// Uploads `bytes` as `name` through the import form at `path`, as a browser
/// sends it (multipart, with the CSRF token).
async fn upload(app: &TestApp, path: &str, name: &str, bytes: &[u8]) -> Page {
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{}\r\n", app.csrf()).as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let content_type = ContentType::new("multipart", "form-data").with_params(("boundary", BOUNDARY));
    Page::read(app.client.post(path.to_string()).header(content_type).body(body).dispatch().await).await
}

/// Uploads a file that must be readable; returns its import page (the preview).
async fn preview(app: &TestApp, path: &str, name: &str, bytes: &[u8]) -> Page {
    let posted = upload(app, path, name, bytes).await;
    assert_eq!(posted.status, Status::SeeOther, "upload refused: {}", posted.body);
    let page = app.get(posted.location.as_deref().expect("a location")).await;
    assert_eq!(page.status, Status::Ok, "{}", page.body);
    page
}

/// The import page's address, from the preview's forms.
fn import_id(page: &Page) -> i64 {
    let at = page.body.find("/imports/").expect("an import form");
    page.body[at + 9..].split('/').next().and_then(|s| s.parse().ok()).expect("an import id")
}

fn count(page: &Page, what: &str) -> String {
    let marker = format!("id=\"count-{what}\">");
    let at = page.body.find(&marker).unwrap_or_else(|| panic!("no {what} count in:\n{}", page.body));
    page.body[at + marker.len()..].split('<').next().unwrap_or("").to_string()
}

fn counts(page: &Page) -> [String; 4] {
    ["new", "updated", "unchanged", "invalid"].map(|w| count(page, w))
}

#[rocket::async_test]
async fn a_mixed_customer_file_previews_then_imports_with_its_audit_trail() {
    let app = TestApp::new().await;
    let admin: i64 = sqlx::query_scalar("SELECT id FROM staff WHERE email = 'admin@test.example'")
        .fetch_one(&app.pool)
        .await
        .expect("admin");
    let ada = app.customer("Ada Lovelace", "ada@example.com").await;
    let bob = app.customer("Bob", "Bob@Example.com").await;
    let csv = "Full name,E-mail,Phone\r\nAda Lovelace,ada@example.com,1\r\nRobert,BOB@example.com,2\r\nCarol,carol@example.com,3\r\n,not-an-email,4\r\n";

    let page = preview(&app, "/users/import", "customers.csv", csv.as_bytes()).await;
    assert_eq!(counts(&page), ["1", "1", "1", "1"]);
    // The same words as the customer form.
    page.assert_contains("Enter a valid email address, like name@example.com.");
    page.assert_contains("Enter a name.");
    page.assert_contains("<td data-label=\"Row\">5</td>");
    page.assert_contains("<del>Bob</del> → <ins>Robert</ins>");
    // A dry run changes nothing.
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 2);

    let id = import_id(&page);
    let done = app.submit(&page, &format!("/imports/{id}/commit")).await;
    done.assert_contains("Imported customers.csv: 1 new, 1 updated");
    let (name, email, version): (String, String, i32) =
        sqlx::query_as("SELECT name, email, version FROM users WHERE id = $1")
            .bind(bob)
            .fetch_one(&app.pool)
            .await
            .expect("bob");
    // Matched ignoring case; the customer keeps their own spelling of the email.
    assert_eq!((name.as_str(), email.as_str(), version), ("Robert", "Bob@Example.com", 2));
    let ada_version: i32 = sqlx::query_scalar("SELECT version FROM users WHERE id = $1")
        .bind(ada)
        .fetch_one(&app.pool)
        .await
        .expect("ada");
    assert_eq!(ada_version, 1, "an unchanged row is not written");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users WHERE email = 'carol@example.com'").await, 1);

    let set: i64 = sqlx::query_scalar("SELECT change_set_id FROM imports WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .expect("committed");
    let rows: Vec<(Option<i64>, String, Option<i64>)> =
        sqlx::query_as("SELECT change_set_id, action, staff_id FROM audit_log WHERE entity = 'user' AND action IN ('create', 'update') AND at > now() - interval '1 hour' AND change_set_id IS NOT NULL ORDER BY action")
            .fetch_all(&app.pool)
            .await
            .expect("audit");
    assert_eq!(rows, vec![(Some(set), "create".into(), Some(admin)), (Some(set), "update".into(), Some(admin))]);
    let (kind, summary): (String, String) = sqlx::query_as("SELECT kind, summary FROM change_sets WHERE id = $1")
        .bind(set)
        .fetch_one(&app.pool)
        .await
        .expect("set");
    assert_eq!(
        (kind.as_str(), summary.as_str()),
        ("import", "Imported customers.csv: 1 new, 1 updated; 1 row with errors not imported")
    );
    done.assert_contains("Carol");
    app.assert_figures_exact().await;

    // Pressing Import again imports nothing more.
    let again = app.post(&format!("/imports/{id}/commit"), &[("token", "x")]).await;
    assert_eq!(again.status, Status::SeeOther);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 3);
}

#[rocket::async_test]
async fn a_preview_gone_stale_applies_nothing_and_shows_again() {
    let app = TestApp::new().await;
    let mug = app.product("Mug", "MUG-1", 500, 3).await;
    let csv = "sku;name;price;stock\nmug-1;Mug;6.50;3\nCUP-2;Cup;2;10\n";
    let page = preview(&app, "/products/import", "p.csv", csv.as_bytes()).await;
    page.assert_contains("Columns are separated by semicolons.");
    assert_eq!(counts(&page), ["1", "1", "0", "0"]);
    page.assert_contains("<del>$5.00</del> → <ins>$6.50</ins>");
    // Someone edits the mug between the preview and the commit.
    sqlx::query("UPDATE products SET stock = 9, version = version + 1 WHERE id = $1")
        .bind(mug)
        .execute(&app.pool)
        .await
        .expect("edit");
    let id = import_id(&page);
    let stale = app.press(&page, &format!("/imports/{id}/commit")).await;
    assert_eq!(stale.status, Status::Conflict);
    stale.assert_contains("Nothing was imported");
    stale.assert_contains("<del>9</del> → <ins>3</ins>");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM products").await, 1);
    assert_eq!(app.scalar_i64("SELECT price_cents FROM products").await, 500);
    // The fresh preview commits.
    let done = app.submit(&stale, &format!("/imports/{id}/commit")).await;
    done.assert_contains("Imported p.csv: 1 new, 1 updated");
    assert_eq!(app.scalar_i64("SELECT price_cents FROM products WHERE sku = 'MUG-1'").await, 650);
    assert_eq!(app.scalar_i64("SELECT stock::BIGINT FROM products WHERE sku = 'CUP-2'").await, 10);
    app.assert_figures_exact().await;
}

#[rocket::async_test]
async fn bad_files_get_a_message_and_change_nothing() {
    let app = TestApp::new().await;
    let cases: [(&str, &[u8], &str); 5] = [
        ("empty.csv", b"", "The file is empty"),
        ("header.csv", b"\xEF\xBB\xBFemail,name\r\n", "header row but no rows"),
        ("pipes.csv", b"email|name\na@example.com|A\n", "separated by something other"),
        ("broken.xlsx", b"PK\x03\x04 not really a zip", "could not be read as an Excel workbook"),
        ("old.xls", b"\xD0\xCF\x11\xE0rest", "old Excel (.xls) file"),
    ];
    for (name, bytes, message) in cases {
        let page = upload(&app, "/users/import", name, bytes).await;
        assert_eq!(page.status, Status::UnprocessableEntity, "{name}");
        page.assert_contains(message);
    }
    assert_eq!(app.scalar_i64("SELECT count(*) FROM imports").await, 0);
    // BOM, Windows line endings and Windows-1252 are read.
    let page =
        preview(&app, "/users/import", "w.csv", b"\xEF\xBB\xBFName,Email\r\nJos\xC3\xA9,jose@example.com\r\n").await;
    assert_eq!(counts(&page), ["1", "0", "0", "0"]);
    page.assert_contains("José");
    let page = preview(&app, "/users/import", "latin.csv", b"Name,Email\r\nJos\xE9,jose@example.com\r\n").await;
    page.assert_contains("read as Windows-1252");
    page.assert_contains("José");
    // A file without a key column asks for it.
    let page = preview(&app, "/users/import", "nokey.csv", b"Name,Phone\nAda,1\n").await;
    page.assert_contains("Choose the column that holds each customer’s Email");
    page.assert_lacks("id=\"count-new\"");
    // Huge cells and formulas are field errors.
    let huge = format!("email,name\nada@example.com,{}\nbob@example.com,=HYPERLINK(\"x\")\n", "x".repeat(5000));
    let page = preview(&app, "/users/import", "huge.csv", huge.as_bytes()).await;
    assert_eq!(counts(&page), ["0", "0", "0", "2"]);
    page.assert_contains("longer than 1,000 characters");
    page.assert_contains("holds a formula");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 0);
}

#[rocket::async_test]
async fn duplicate_keys_are_invalid_and_downloadable_to_fix() {
    let app = TestApp::new().await;
    let csv = "email,name\nada@example.com,Ada\nADA@example.com,Ada again\nbad,Bea\nbob@example.com,Bob\n";
    let page = preview(&app, "/users/import", "dups.csv", csv.as_bytes()).await;
    assert_eq!(counts(&page), ["1", "0", "0", "3"]);
    page.assert_contains("This email is also on row 3; keep one of the rows.");
    page.assert_contains("This email is also on row 2; keep one of the rows.");
    let id = import_id(&page);
    let download = app.post(&format!("/imports/{id}/invalid-rows"), &[]).await;
    assert_eq!(download.status, Status::Ok);
    assert_eq!(download.header("Content-Type"), Some("text/csv; charset=utf-8"));
    assert_eq!(
        download.body,
        "email,name,errors\n\
         ada@example.com,Ada,Email: This email is also on row 3; keep one of the rows.\n\
         ADA@example.com,Ada again,Email: This email is also on row 2; keep one of the rows.\n\
         bad,Bea,\"Email: Enter a valid email address, like name@example.com.\"\n"
    );
}

#[rocket::async_test]
async fn a_workbook_with_several_sheets_lets_you_choose_one() {
    let app = TestApp::new().await;
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let notes = workbook.add_worksheet();
    notes.set_name("Notes").expect("name");
    notes.write_string(0, 0, "Prices from the 2026 catalogue").expect("write");
    notes.write_string(1, 0, "Checked by Ada").expect("write");
    let sheet = workbook.add_worksheet();
    sheet.set_name("Stock").expect("name");
    for (c, h) in ["SKU", "Product name", "Price (EUR)", "Qty"].iter().enumerate() {
        sheet.write_string(0, c as u16, *h).expect("header");
    }
    sheet.write_string(1, 0, "TEA-1").expect("write");
    sheet.write_string(1, 1, "Tea").expect("write");
    sheet.write_number(1, 2, 4.5).expect("write");
    // A formula cell: its last calculated value is imported.
    sheet.write_formula(1, 3, rust_xlsxwriter::Formula::new("=2*6").set_result("12")).expect("write");
    let bytes = workbook.save_to_buffer().expect("xlsx");

    let page = preview(&app, "/products/import", "stock.xlsx", &bytes).await;
    page.assert_contains("The workbook has 2 sheets");
    page.assert_contains("<option value=\"Stock\">Stock</option>");
    page.assert_contains("Choose the column that holds each product’s SKU");
    let id = import_id(&page);
    let chosen =
        app.post_ok(&format!("/imports/{id}/mapping"), &[("sheet", "Stock"), ("previous_sheet", "Notes")]).await;
    assert_eq!(counts(&chosen), ["1", "0", "0", "0"]);
    chosen.assert_contains("$4.50");
    let done = app.submit(&chosen, &format!("/imports/{id}/commit")).await;
    done.assert_contains("Imported stock.xlsx: 1 new, 0 updated");
    let (price, stock): (i64, i32) = sqlx::query_as("SELECT price_cents, stock FROM products WHERE sku = 'TEA-1'")
        .fetch_one(&app.pool)
        .await
        .expect("tea");
    assert_eq!((price, stock), (450, 12));

    // A workbook whose first sheet has no rows is read from the next one.
    let mut workbook = rust_xlsxwriter::Workbook::new();
    workbook.add_worksheet().set_name("Cover").expect("name");
    let sheet = workbook.add_worksheet();
    for (c, h) in ["sku", "name", "price", "stock"].iter().enumerate() {
        sheet.write_string(0, c as u16, *h).expect("header");
    }
    for (c, v) in ["JAM-1", "Jam", "3", "4"].iter().enumerate() {
        sheet.write_string(1, c as u16, *v).expect("cell");
    }
    let page = preview(&app, "/products/import", "jam.xlsx", &workbook.save_to_buffer().expect("xlsx")).await;
    assert_eq!(counts(&page), ["1", "0", "0", "0"]);

    // Mapping by hand: the stock column left out keeps the stock of updated products.
    let page = preview(&app, "/products/import", "prices.csv", b"code,cost,qty\ntea-1,5,99\n").await;
    let id = import_id(&page);
    let chosen = app
        .post_ok(&format!("/imports/{id}/mapping"), &[("column_sku", "0"), ("column_price", "1"), ("column_stock", "")])
        .await;
    assert_eq!(counts(&chosen), ["0", "1", "0", "0"]);
    app.submit(&chosen, &format!("/imports/{id}/commit")).await;
    let (price, stock): (i64, i32) = sqlx::query_as("SELECT price_cents, stock FROM products WHERE sku = 'TEA-1'")
        .fetch_one(&app.pool)
        .await
        .expect("tea");
    assert_eq!((price, stock), (500, 12));
    app.assert_figures_exact().await;
}

#[rocket::async_test]
async fn a_viewer_cannot_import() {
    let app = TestApp::new().await;
    let page = preview(&app, "/users/import", "c.csv", b"email,name\nada@example.com,Ada\n").await;
    let id = import_id(&page);
    app.sign_out().await;
    app.sign_in_as("viewer@test.example", "viewer").await;
    app.get("/users/import").await.assert_contains("only admins can import");
    let refused = upload(&app, "/users/import", "c.csv", b"email,name\nbea@example.com,Bea\n").await;
    assert_eq!(refused.status, Status::Forbidden);
    let page = app.get(&format!("/imports?id={id}")).await;
    assert_eq!(app.press(&page, &format!("/imports/{id}/commit")).await.status, Status::Forbidden);
    assert_eq!(app.post(&format!("/imports/{id}/invalid-rows"), &[]).await.status, Status::Forbidden);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 0);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM imports WHERE status = 'uploaded'").await, 1);
}

#[rocket::async_test]
async fn the_command_line_dry_run_changes_nothing_and_the_import_commits() {
    let app = TestApp::new().await;
    app.customer("Ada", "ada@example.com").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("people.csv");
    std::fs::write(&file, "Email,Name\nADA@example.com,Ada L\nbea@example.com,Bea\nnope,\n").expect("write");
    let run = |dry: bool| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_shopdesk"));
        command.args(["import", "customers"]).arg(&file).env("DATABASE_URL", &app.url).env("RUST_LOG", "error");
        if dry {
            command.arg("--dry-run");
        }
        command.output().expect("shopdesk runs")
    };
    let dry = run(true);
    let out = String::from_utf8_lossy(&dry.stdout).to_string();
    assert_eq!(dry.status.code(), Some(3), "{out}");
    assert!(out.contains("people.csv: 1 new, 1 updated, 0 unchanged, 1 invalid"), "{out}");
    assert!(
        out.contains("row 4: Email: Enter a valid email address, like name@example.com. Name: Enter a name."),
        "{out}"
    );
    assert!(out.contains("Dry run: nothing was changed."), "{out}");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 1);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM change_sets").await, 0);

    let real = run(false);
    let out = String::from_utf8_lossy(&real.stdout).to_string();
    assert!(out.contains("Imported people.csv: 1 new, 1 updated"), "{out}");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 2);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users WHERE name = 'Ada L' AND version = 2").await, 1);
    app.assert_figures_exact().await;
}

#[rocket::async_test]
async fn a_thousand_row_file_with_twelve_bad_rows_is_fixed_from_its_download_imported_again_and_undone() {
    let app = TestApp::new().await;
    let mut csv = String::from("Name,Email\r\n");
    for n in 1..=1000 {
        // Every 83rd row has a mistyped address: 12 in all.
        let email = if n % 83 == 0 { format!("customer{n}.example.com") } else { format!("customer{n}@example.com") };
        csv.push_str(&format!("Customer {n},{email}\r\n"));
    }
    let page = preview(&app, "/users/import", "customers.csv", csv.as_bytes()).await;
    assert_eq!(counts(&page), ["988", "0", "0", "12"]);
    let first = import_id(&page);
    let done = app.submit(&page, &format!("/imports/{first}/commit")).await;
    done.assert_contains("Imported customers.csv: 988 new, 0 updated; 12 rows with errors not imported");
    done.assert_contains("Download the rows not imported (CSV)");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 988);

    // The bad rows come back as a file to fix: add the missing @ and upload it.
    let download = app.post(&format!("/imports/{first}/invalid-rows"), &[]).await;
    assert_eq!(download.status, Status::Ok);
    assert_eq!(download.body.lines().count(), 13, "a header and the 12 bad rows:\n{}", download.body);
    let fixed = download.body.replace(".example.com", "@example.com");
    let page = preview(&app, "/users/import", "fixed.csv", fixed.as_bytes()).await;
    assert_eq!(counts(&page), ["12", "0", "0", "0"], "{}", page.body);
    let second = import_id(&page);
    app.submit(&page, &format!("/imports/{second}/commit")).await.assert_contains("Imported fixed.csv: 12 new");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 1000);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users WHERE email LIKE '%.example.com'").await, 0);

    // The audit trail holds one entry per customer, under each import's change set.
    assert_eq!(
        app.scalar_i64(
            "SELECT count(*) FROM audit_log a JOIN change_sets c ON c.id = a.change_set_id
              WHERE c.kind = 'import' AND a.entity = 'user' AND a.action = 'create'"
        )
        .await,
        1000
    );

    // Undo the first import: its 988 customers go, the 12 fixed ones stay.
    let set =
        app.scalar_i64("SELECT change_set_id FROM imports WHERE change_set_id IS NOT NULL ORDER BY id LIMIT 1").await;
    app.undo_change_set(set).await;
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 12);
    assert_eq!(
        app.scalar_i64(
            "SELECT count(*) FROM audit_log a JOIN change_sets c ON c.id = a.change_set_id
              WHERE c.kind = 'undo' AND a.entity = 'user' AND a.action = 'delete'"
        )
        .await,
        988
    );
    app.assert_figures_exact().await;
}

/// A shop with an admin signed in whose imports of more than 100 valid rows
/// run as jobs of 40-row batches, with `workers` worker tasks.
async fn job_shop(workers: i64) -> TestApp {
    let mut settings = crate::jobs::jobs_settings(workers);
    settings.extend([("jobs.threshold_rows", 100.into()), ("jobs.batch_rows", 40.into())]);
    let app = TestApp::configured(false, &settings).await;
    app.sign_in_as("admin@test.example", "admin").await;
    app
}

/// A customer file of `n` rows, "Customer k" at customerk@example.com.
fn customers_csv(n: usize) -> String {
    let mut csv = String::from("Name,Email\n");
    for k in 1..=n {
        csv.push_str(&format!("Customer {k},customer{k}@example.com\n"));
    }
    csv
}

/// Presses Import on `page`; returns the job's page it led to and the job's id.
async fn commit_as_job(app: &TestApp, page: &Page) -> (Page, i64) {
    let id = import_id(page);
    let posted = app.press(page, &format!("/imports/{id}/commit")).await;
    assert_eq!(posted.status, Status::SeeOther, "{}", posted.body);
    let to = posted.location.expect("a redirect");
    let job = to.strip_prefix("/jobs/").and_then(|j| j.parse().ok()).unwrap_or_else(|| panic!("to a job, not {to}"));
    (app.get(&to).await, job)
}

/// How many audit entries of `action` each of customers 1..=n got under
/// change set `set`.
async fn entries_per_customer(app: &TestApp, n: usize, action: &str, set: i64) -> Vec<i64> {
    let emails: Vec<String> = (1..=n).map(|k| format!("customer{k}@example.com")).collect();
    sqlx::query_scalar(
        "SELECT count(a.id) FROM unnest($1::TEXT[]) WITH ORDINALITY AS e(email, n)
           LEFT JOIN users u ON lower(u.email) = lower(e.email)
           LEFT JOIN audit_log a ON a.entity = 'user' AND a.entity_id = u.id AND a.action = $2
                                AND a.change_set_id = $3
          GROUP BY e.n ORDER BY e.n",
    )
    .bind(&emails)
    .bind(action)
    .bind(set)
    .fetch_all(&app.pool)
    .await
    .expect("audit counts")
}

#[rocket::async_test]
async fn an_import_past_the_threshold_runs_as_a_job_audited_under_its_requester_and_undone_as_one() {
    let app = job_shop(1).await;
    let admin = app.scalar_i64("SELECT id FROM staff WHERE email = 'admin@test.example'").await;
    app.customer("Old Name 1", "customer1@example.com").await;
    app.customer("Old Name 2", "CUSTOMER2@example.com").await;
    let mut csv = customers_csv(300);
    csv.push_str("Nobody,not-an-email\nNobody Else,also-not\n");

    let page = preview(&app, "/users/import", "customers.csv", csv.as_bytes()).await;
    assert_eq!(counts(&page), ["298", "2", "0", "2"]);
    page.assert_contains("as a job, in batches: that is more than 100 rows");
    let import = import_id(&page);
    let (job_page, job) = commit_as_job(&app, &page).await;
    job_page.assert_contains("Importing customers.csv: 300 customers queued as a job");
    job_page.assert_contains(&format!("href=\"/imports?id={import}\""));
    assert_eq!(
        crate::jobs::until_over(&app, job).await,
        ("done".to_string(), 300, 300, 0),
        "every staged row written once"
    );

    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 300);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users WHERE name = 'Customer 2' AND version = 2").await, 1);
    let set = app.scalar_i64("SELECT change_set_id FROM jobs").await;
    assert_eq!(entries_per_customer(&app, 300, "create", set).await, [vec![0; 2], vec![1; 298]].concat());
    let filed: Vec<(String, Option<i64>, i64)> = sqlx::query_as(
        "SELECT action, staff_id, count(*) FROM audit_log WHERE entity = 'user' AND change_set_id = $1
          GROUP BY action, staff_id ORDER BY action",
    )
    .bind(set)
    .fetch_all(&app.pool)
    .await
    .expect("audit");
    assert_eq!(filed, vec![("create".into(), Some(admin), 298), ("update".into(), Some(admin), 2)]);

    // Both pages say what happened and link to each other.
    let job_page = app.get(&format!("/jobs/{job}")).await;
    job_page.assert_contains("300 of 300 rows dealt with (100%)");
    job_page.assert_contains("298 created and 2 updated.");
    let done = app.get(&format!("/imports?id={import}")).await;
    done.assert_contains("Imported customers.csv: 298 new, 2 updated; 2 rows with errors not imported");
    done.assert_contains(&format!("href=\"/jobs/{job}\""));
    done.assert_contains("Download the rows not imported (CSV)");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM imports WHERE status = 'committed'").await, 1);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM import_rows").await, 0, "staged rows go with the job");
    let download = app.post(&format!("/imports/{import}/invalid-rows"), &[]).await;
    assert_eq!(download.body.lines().count(), 3, "a header and the 2 bad rows:\n{}", download.body);
    app.get("/imports").await.assert_contains("Imported");

    // The job's change set undoes the whole import.
    app.undo_change_set(set).await;
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 2);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users WHERE name LIKE 'Old Name %'").await, 2);
    app.assert_figures_exact().await;
}

#[rocket::async_test]
async fn an_import_at_the_threshold_still_commits_at_once() {
    let app = job_shop(0).await;
    let page = preview(&app, "/users/import", "c.csv", customers_csv(100).as_bytes()).await;
    page.assert_contains("in one step");
    page.assert_lacks("as a job");
    let id = import_id(&page);
    let done = app.submit(&page, &format!("/imports/{id}/commit")).await;
    done.assert_contains("Imported c.csv: 100 new, 0 updated");
    // No rows left out, so nothing to download.
    done.assert_lacks("Download the rows not imported");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM jobs").await, 0);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 100);
}

#[rocket::async_test]
async fn an_import_job_resumed_after_a_restart_writes_each_row_once_and_skips_rows_changed_meanwhile() {
    let app = job_shop(0).await;
    let kept = app.customer("Kept As Is", "customer200@example.com").await;
    let page = preview(&app, "/users/import", "many.csv", customers_csv(230).as_bytes()).await;
    assert_eq!(counts(&page), ["229", "1", "0", "0"]);
    let import = import_id(&page);
    let (page, job) = commit_as_job(&app, &page).await;
    page.assert_contains("0 of 230 rows dealt with (0%)");
    app.get(&format!("/imports?id={import}"))
        .await
        .assert_contains(&format!("by <a href=\"/jobs/{job}\">job #{job}</a>"));

    // A server takes the job, commits two batches, and dies.
    let mut conn = app.pool.acquire().await.expect("a connection");
    let claimed = jobs::claim(&mut conn, "died", 60).await.expect("claim").expect("the queued job");
    for _ in 0..2 {
        assert_eq!(jobs::run_batch(&mut conn, "died", claimed, 40).await.expect("a batch"), Step::More);
    }
    assert_eq!(crate::jobs::job_state(&app, job).await, ("running".to_string(), 80, 80, 0));
    let running = app.get(&format!("/imports?id={import}")).await;
    running.assert_contains("80 of 230 rows dealt with so far");
    running.assert_contains("<meta http-equiv=\"refresh\"");
    // Meanwhile someone adds a customer the file would create and edits the
    // one it would update.
    app.customer("Got There First", "CUSTOMER150@example.com").await;
    sqlx::query("UPDATE users SET name = 'Edited', version = version + 1 WHERE id = $1")
        .bind(kept)
        .execute(&app.pool)
        .await
        .expect("edit");
    sqlx::query("UPDATE jobs SET heartbeat_at = now() - interval '1 hour' WHERE id = $1")
        .bind(job)
        .execute(&app.pool)
        .await
        .expect("heartbeat");

    // The server starts again and finishes the job.
    let _restarted = app.second_app(&crate::jobs::jobs_settings(1)).await;
    assert_eq!(crate::jobs::until_over(&app, job).await, ("done".to_string(), 230, 228, 2));
    // Every other row created its customer exactly once, under the job's change set.
    let set = app.scalar_i64("SELECT change_set_id FROM jobs").await;
    let mut created = vec![1; 230];
    created[149] = 0;
    created[199] = 0;
    assert_eq!(entries_per_customer(&app, 230, "create", set).await, created, "each row once");
    // The one kept, the one added meanwhile, and the 228 the job created.
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 230);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users WHERE name = 'Got There First'").await, 1);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM users WHERE name = 'Edited'").await, 1);

    let page = app.get(&format!("/jobs/{job}")).await;
    page.assert_contains(
        "1 × A customer with this Email was added after the import was queued, so the row was not imported.",
    );
    page.assert_contains("1 × The customer was edited after the import was queued, so the row was not applied to it.");
    page.assert_contains("228 created and 0 updated.");
    let done = app.get(&format!("/imports?id={import}")).await;
    done.assert_contains("Imported many.csv: 228 new, 0 updated");
    done.assert_contains("2 rows were skipped");
    done.assert_lacks("Download the rows not imported");
    // The dead server, were it only slow, finds its job taken and stops.
    assert_eq!(jobs::run_batch(&mut conn, "died", claimed, 40).await.expect("a batch"), Step::Lost);
}

#[rocket::async_test]
async fn cancelling_an_import_job_keeps_its_batches_and_the_import_says_what_was_applied() {
    let app = job_shop(0).await;
    let page = preview(
        &app,
        "/products/import",
        "stock.csv",
        {
            let mut csv = String::from("sku,name,price,stock\n");
            for k in 1..=150 {
                csv.push_str(&format!("SKU-{k},Product {k},{k}.50,{k}\n"));
            }
            csv
        }
        .as_bytes(),
    )
    .await;
    let import = import_id(&page);
    let (_, job) = commit_as_job(&app, &page).await;
    let mut conn = app.pool.acquire().await.expect("a connection");
    let claimed = jobs::claim(&mut conn, "by-hand", 60).await.expect("claim").expect("the queued job");
    assert_eq!(jobs::run_batch(&mut conn, "by-hand", claimed, 40).await.expect("a batch"), Step::More);
    app.post_ok(&format!("/jobs/{job}/cancel"), &[]).await.assert_contains("stops after the batch");
    assert_eq!(
        jobs::run_batch(&mut conn, "by-hand", claimed, 40).await.expect("a batch"),
        Step::Over(shopdesk::domain::JobState::Cancelled)
    );

    assert_eq!(app.scalar_i64("SELECT count(*) FROM products").await, 40);
    assert_eq!(app.scalar_i64("SELECT price_cents FROM products WHERE sku = 'SKU-40'").await, 4050);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM imports WHERE status = 'stopped'").await, 1);
    let done = app.get(&format!("/imports?id={import}")).await;
    done.assert_contains("Partly imported stock.csv");
    done.assert_contains("was cancelled after 40 of 150 rows");
    done.assert_contains("Imported stock.csv: 40 new, 0 updated");
    done.assert_contains("The other 110 rows were not imported");
    done.assert_contains(&format!("href=\"/jobs/{job}\""));
    app.get("/imports").await.assert_contains("Partly imported");
    let set = app.scalar_i64("SELECT change_set_id FROM imports").await;
    let summary: String = sqlx::query_scalar("SELECT summary FROM change_sets WHERE id = $1")
        .bind(set)
        .fetch_one(&app.pool)
        .await
        .expect("set");
    assert_eq!(summary, "Imported stock.csv: 40 new, 0 updated");
    // The import cannot be pressed again for the rest.
    let again = app.post(&format!("/imports/{import}/commit"), &[("token", "x")]).await;
    assert_eq!(again.status, Status::SeeOther);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM jobs").await, 1);
}

#[rocket::async_test]
async fn an_import_job_cancelled_before_it_started_applies_nothing_and_says_so() {
    let app = job_shop(0).await;
    let page = preview(&app, "/users/import", "later.csv", customers_csv(120).as_bytes()).await;
    let import = import_id(&page);
    let (page, job) = commit_as_job(&app, &page).await;
    page.assert_contains("Waiting to start");
    app.post_ok(&format!("/jobs/{job}/cancel"), &[]).await.assert_contains(">Cancelled<");

    assert_eq!(app.scalar_i64("SELECT count(*) FROM users").await, 0);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM imports WHERE status = 'stopped'").await, 1);
    let done = app.get(&format!("/imports?id={import}")).await;
    done.assert_contains("was cancelled after 0 of 120 rows");
    done.assert_contains("The other 120 rows were not imported");
    done.assert_lacks("http-equiv=\"refresh\"");
}

#[rocket::async_test]
async fn a_large_import_whose_preview_went_stale_queues_no_job() {
    let app = job_shop(0).await;
    let ada = app.customer("Ada", "customer7@example.com").await;
    let page = preview(&app, "/users/import", "big.csv", customers_csv(120).as_bytes()).await;
    sqlx::query("UPDATE users SET name = 'Ada L', version = version + 1 WHERE id = $1")
        .bind(ada)
        .execute(&app.pool)
        .await
        .expect("edit");
    let id = import_id(&page);
    let stale = app.press(&page, &format!("/imports/{id}/commit")).await;
    assert_eq!(stale.status, Status::Conflict);
    stale.assert_contains("Nothing was imported");
    assert_eq!(app.scalar_i64("SELECT count(*) FROM jobs").await, 0);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM import_rows").await, 0);
    assert_eq!(app.scalar_i64("SELECT count(*) FROM imports WHERE status = 'uploaded'").await, 1);
}
