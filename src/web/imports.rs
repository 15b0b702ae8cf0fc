//! Importing customers and products: the upload page (a multipart form read
//! whole, up to the `import` limit, before any connection is taken), the
//! mapping and dry-run page, the invalid rows as CSV, and the commit.

use askama::Template;
use askama_web::WebTemplate;
use rocket::data::{Data, FromData, Outcome as DataOutcome};
use rocket::http::{ContentType, Header, Status};
use rocket::request::Outcome;
use rocket::response::status::Custom;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, uri, FromForm, Request, State};

use crate::db::imports::{self, Committed, DryRun, Entry, Queued, Status as ImportStatus, Upload};
use crate::db::jobs::Job;
use crate::db::staff::Staff;
use crate::db::Db;
use crate::import::{read, validate, Field, Mapping, Table, Target, MAX_FILE_BYTES};
use crate::jobs::JobsConfig;
use crate::web::auth::{csrf_token, AuthConfig};
use crate::web::filters;
use crate::web::{AdminForm, AppError, Chrome};

/// Rows of each kind a preview lists; the rest are counted.
const SHOWN_INVALID: usize = 100;
const SHOWN_UPDATED: usize = 50;
const SHOWN_NEW: usize = 20;
/// Audit entries a committed import's page lists.
const SHOWN_ENTRIES: i64 = 50;

/// Seconds an upload may take to arrive, unless `imports.upload_seconds` says.
const UPLOAD_SECONDS: u64 = 120;

/// Where an import's pages are.
pub struct Links;

impl Links {
    /// The upload page for `target` ("users" or "products").
    pub fn upload(target: &str) -> String {
        match Target::parse(target) {
            Some(Target::Products) => uri!(upload_products_page).to_string(),
            _ => uri!(upload_customers_page).to_string(),
        }
    }

    pub fn show(id: i64) -> String {
        uri!(show(Some(id))).to_string()
    }
}

/// An uploaded file as the multipart form brought it: the file's name and
/// bytes, or why there is none to read (no file chosen, too large).
pub struct UploadForm {
    staff: Staff,
    file: Result<(String, Vec<u8>), String>,
}

fn too_large() -> String {
    format!(
        "The file is larger than {} MB. Split it into smaller files and import them one after another.",
        MAX_FILE_BYTES / (1024 * 1024)
    )
}

#[rocket::async_trait]
impl<'r> FromData<'r> for UploadForm {
    type Error = ();

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> DataOutcome<'r, Self> {
        let staff = match req.guard::<Staff>().await {
            Outcome::Success(staff) => staff,
            Outcome::Error((status, ())) => return DataOutcome::Error((status, ())),
            Outcome::Forward(status) => return DataOutcome::Error((status, ())),
        };
        if !staff.is_admin() {
            return DataOutcome::Error((Status::Forbidden, ()));
        }
        let boundary = match req.content_type() {
            Some(ct) if ct.is_form_data() => ct.params().find(|(k, _)| k == "boundary").map(|(_, v)| v.to_string()),
            _ => None,
        };
        // Only a multipart form can carry both the file and its CSRF token;
        // anything else is refused as a forged post would be.
        let Some(boundary) = boundary else {
            return DataOutcome::Error((Status::Forbidden, ()));
        };
        // The whole body is read (within its own limit and time) before the
        // handler takes a connection.
        let limit = req.limits().get("import").unwrap_or(rocket::data::ByteUnit::Mebibyte(21));
        let seconds = req.rocket().figment().extract_inner::<u64>("imports.upload_seconds").unwrap_or(UPLOAD_SECONDS);
        let read = rocket::tokio::time::timeout(std::time::Duration::from_secs(seconds), data.open(limit).into_bytes());
        let body = match read.await {
            Ok(Ok(body)) if body.is_complete() => body.into_inner(),
            Ok(Ok(_)) => return DataOutcome::Success(UploadForm { staff, file: Err(too_large()) }),
            Ok(Err(_)) => return DataOutcome::Error((Status::BadRequest, ())),
            Err(_) => return DataOutcome::Error((Status::RequestTimeout, ())),
        };
        let mut multipart = multer::Multipart::new(
            futures::stream::once(async move { Ok::<_, std::convert::Infallible>(body) }),
            boundary,
        );
        let (mut csrf, mut file) = (None, None);
        loop {
            match multipart.next_field().await {
                Ok(Some(field)) => match field.name() {
                    Some("csrf") => csrf = field.text().await.ok(),
                    Some("file") => {
                        let name = field.file_name().unwrap_or("").to_string();
                        match field.bytes().await {
                            Ok(bytes) => file = Some((name, bytes.to_vec())),
                            Err(_) => return DataOutcome::Error((Status::BadRequest, ())),
                        }
                    }
                    _ => {}
                },
                Ok(None) => break,
                Err(_) => return DataOutcome::Error((Status::BadRequest, ())),
            }
        }
        let config = req.rocket().state::<AuthConfig>().cloned().unwrap_or_default();
        let expected = csrf_token(req.cookies(), &config);
        let valid = csrf.is_some_and(|sent| {
            !expected.is_empty() && bool::from(subtle::ConstantTimeEq::ct_eq(sent.as_bytes(), expected.as_bytes()))
        });
        if !valid {
            return DataOutcome::Error((Status::Forbidden, ()));
        }
        let file = match file {
            Some((name, bytes)) if !name.trim().is_empty() || !bytes.is_empty() => {
                if bytes.len() > MAX_FILE_BYTES {
                    Err(too_large())
                } else {
                    Ok((file_name(&name), bytes))
                }
            }
            _ => Err("Choose a CSV or Excel (.xlsx) file to import.".to_string()),
        };
        DataOutcome::Success(UploadForm { staff, file })
    }
}

/// The name a file is shown by: its last path segment, without control
/// characters, at most 200 characters.
fn file_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let clean: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    if clean.trim().is_empty() {
        "upload.csv".to_string()
    } else {
        clean.trim().to_string()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "imports/upload.html")]
pub struct UploadPage {
    chrome: Chrome,
    target: Target,
    error: Option<String>,
}

impl UploadPage {
    fn action(&self) -> String {
        match self.target {
            Target::Customers => uri!(upload_customers).to_string(),
            Target::Products => uri!(upload_products).to_string(),
        }
    }

    fn list(&self) -> String {
        list_of(self.target)
    }

    fn fields(&self) -> String {
        self.target.fields().iter().map(|f| f.label()).collect::<Vec<_>>().join(", ")
    }

    fn max_mb(&self) -> usize {
        MAX_FILE_BYTES / (1024 * 1024)
    }
}

fn list_of(target: Target) -> String {
    match target {
        Target::Customers => crate::web::users::Links::list().to_string(),
        Target::Products => crate::web::products::Links::list().to_string(),
    }
}

// Viewers see these pages with their forms disabled, as they see every
// other form; every post refuses them.
#[get("/users/import")]
fn upload_customers_page(chrome: Chrome) -> UploadPage {
    UploadPage { chrome: chrome.on("users"), target: Target::Customers, error: None }
}

#[get("/products/import")]
fn upload_products_page(chrome: Chrome) -> UploadPage {
    UploadPage { chrome: chrome.on("products"), target: Target::Products, error: None }
}

type Received = Result<Result<Redirect, Custom<UploadPage>>, AppError>;

#[post("/users/import", data = "<upload>")]
async fn upload_customers(chrome: Chrome, db: &Db, upload: UploadForm) -> Received {
    receive(Target::Customers, chrome, db, upload).await
}

#[post("/products/import", data = "<upload>")]
async fn upload_products(chrome: Chrome, db: &Db, upload: UploadForm) -> Received {
    receive(Target::Products, chrome, db, upload).await
}

/// Reads `bytes` off the async threads: a large file takes a while.
async fn read_blocking(
    bytes: Vec<u8>,
    name: String,
    sheet: Option<String>,
) -> Result<(Vec<u8>, Result<Table, read::ReadError>), AppError> {
    rocket::tokio::task::spawn_blocking(move || {
        let table = read::read(&bytes, &name, sheet.as_deref());
        (bytes, table)
    })
    .await
    .map_err(|e| AppError::internal("reading an import file", e))
}

async fn receive(target: Target, chrome: Chrome, db: &Db, upload: UploadForm) -> Received {
    let chrome = chrome.on(target.as_str());
    let refuse = |chrome, error: String| {
        Ok(Err(Custom(Status::UnprocessableEntity, UploadPage { chrome, target, error: Some(error) })))
    };
    let (name, bytes) = match upload.file {
        Ok(file) => file,
        Err(message) => return refuse(chrome, message),
    };
    let (bytes, table) = read_blocking(bytes, name.clone(), None).await?;
    let table = match table {
        Ok(table) => table,
        Err(e) => return refuse(chrome, format!("{name}: {e}")),
    };
    let mut conn = db.conn().await?;
    let id = imports::save(&mut conn, Some(upload.staff.id), target, &name, &bytes, table.sheet.as_deref()).await?;
    Ok(Ok(Redirect::to(uri!(show(Some(id))))))
}

/// One field's row on the mapping form.
pub struct FieldChoice {
    field: Field,
    column: Option<usize>,
    required: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "imports/show.html")]
pub struct ImportPage {
    chrome: Chrome,
    upload: Upload,
    table: Table,
    choices: Vec<FieldChoice>,
    /// Why the file or the mapping cannot be previewed.
    problem: Option<String>,
    /// Set when a commit found the data changed since the preview.
    stale: Option<String>,
    preview: Option<DryRun>,
    /// A commit of more valid rows than this runs as a job (`jobs.threshold_rows`).
    job_threshold: i64,
}

impl ImportPage {
    fn list(&self) -> String {
        list_of(self.upload.target)
    }

    fn header_of(&self, column: &usize) -> String {
        let header = self.table.header.get(*column).map(String::as_str).unwrap_or("").trim();
        let letter = column_letter(*column);
        if header.is_empty() {
            format!("Column {letter}")
        } else {
            format!("{letter}: {header}")
        }
    }

    fn columns(&self) -> Vec<usize> {
        (0..self.table.header.len()).collect()
    }

    fn invalid_action(&self) -> String {
        uri!(invalid_rows(self.upload.id)).to_string()
    }

    fn mapping_action(&self) -> String {
        uri!(choose(self.upload.id)).to_string()
    }

    fn commit_action(&self) -> String {
        uri!(commit(self.upload.id)).to_string()
    }

    fn shown_invalid(&self) -> usize {
        SHOWN_INVALID
    }

    fn shown_updated(&self) -> usize {
        SHOWN_UPDATED
    }

    fn shown_new(&self) -> usize {
        SHOWN_NEW
    }

    fn count(&self, n: usize) -> String {
        crate::domain::group_digits(n as u64)
    }

    fn rest(&self, total: usize, shown: usize) -> String {
        crate::domain::group_digits(total.saturating_sub(shown) as u64)
    }

    fn money(&self, m: &Option<crate::domain::Money>) -> String {
        m.map(|m| m.to_string()).unwrap_or_default()
    }

    fn stock(&self, s: &Option<i32>) -> String {
        s.map(|s| s.to_string()).unwrap_or_default()
    }

    fn is_products(&self) -> bool {
        self.upload.target == Target::Products
    }

    /// Whether committing `run` queues a job rather than writing at once.
    fn runs_as_job(&self, run: &DryRun) -> bool {
        valid_rows(run) > self.job_threshold
    }

    fn job_threshold_rows(&self) -> String {
        crate::domain::group_digits(self.job_threshold.max(0) as u64)
    }
}

/// The rows of a dry run that passed their checks (new, updated or unchanged).
fn valid_rows(run: &DryRun) -> i64 {
    (run.plan.rows() - run.plan.invalid.len()) as i64
}

/// A spreadsheet's column letter: 0 → A, 26 → AA.
fn column_letter(mut index: usize) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push((b'A' + (index % 26) as u8) as char);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    letters.iter().rev().collect()
}

/// An upload read and checked (and, when its mapping is usable, dry-run).
/// Reads an upload and, unless it was committed (and `committed_too` is
/// off), its dry run against the shop as it is now.
async fn prepare(db: &Db, chrome: Chrome, id: i64, committed_too: bool) -> Result<Prepared, AppError> {
    let (upload, bytes) = {
        let mut conn = db.conn().await?;
        imports::find(&mut conn, id).await?.ok_or(AppError::NotFound)?
    };
    let chrome = chrome.on(upload.target.as_str());
    if upload.change_set_id.is_some() && !committed_too {
        return Ok(Prepared::Committed(Box::new((upload, chrome))));
    }
    let (_, table) = read_blocking(bytes, upload.file_name.clone(), upload.sheet.clone()).await?;
    let mut page = ImportPage {
        chrome,
        choices: Vec::new(),
        problem: None,
        stale: None,
        preview: None,
        table: Table::default(),
        upload,
        // Set by the pages that offer or make the commit.
        job_threshold: i64::MAX,
    };
    let table = match table {
        Ok(table) => table,
        Err(e) => {
            page.problem = Some(e.0);
            return Ok(Prepared::Page(Box::new(page)));
        }
    };
    let target = page.upload.target;
    // Until chosen (a new upload, another sheet) the mapping is guessed from the headers.
    let mapping = page.upload.mapping.clone().unwrap_or_else(|| Mapping::guess(target, &table.header));
    page.choices = target
        .fields()
        .iter()
        .map(|&field| FieldChoice { field, column: mapping.column(field), required: field == target.key() })
        .collect();
    if let Some(problem) = mapping.problem(target, table.header.len()) {
        page.problem = Some(problem);
        page.table = table;
        return Ok(Prepared::Page(Box::new(page)));
    }
    let (table, checked) = rocket::tokio::task::spawn_blocking(move || {
        let checked = validate::check(target, &table, &mapping, &mut |_| {});
        (table, checked)
    })
    .await
    .map_err(|e| AppError::internal("checking an import file", e))?;
    let mut conn = db.conn().await?;
    page.preview = Some(imports::dry_run(&mut conn, target, checked).await?);
    page.table = table;
    Ok(Prepared::Page(Box::new(page)))
}

enum Prepared {
    Page(Box<ImportPage>),
    Committed(Box<(Upload, Chrome)>),
}

#[derive(Template, WebTemplate)]
#[template(path = "imports/done.html")]
pub struct DonePage {
    chrome: Chrome,
    upload: Upload,
    summary: String,
    entries: Vec<Entry>,
    /// The job that applies (or applied) it, when it ran as one.
    job: Option<Job>,
}

impl DonePage {
    fn list(&self) -> String {
        list_of(self.upload.target)
    }

    fn record_href(&self, id: &i64) -> String {
        match self.upload.target {
            Target::Customers => format!("{}/{id}", crate::web::users::Links::list()),
            Target::Products => crate::web::products::Links::show(*id).to_string(),
        }
    }

    fn shown(&self) -> i64 {
        SHOWN_ENTRIES
    }

    fn job_href(&self, id: &i64) -> String {
        crate::web::jobs::progress_uri(*id)
    }

    /// Takes a count as a field (a reference) or a difference (a value).
    fn count(&self, n: impl std::borrow::Borrow<i64>) -> String {
        crate::domain::group_digits((*n.borrow()).max(0) as u64)
    }

    fn is_running(&self) -> bool {
        self.upload.status == ImportStatus::Running
    }

    fn is_stopped(&self) -> bool {
        self.upload.status == ImportStatus::Stopped
    }
}

async fn done_page(db: &Db, upload: Upload, chrome: Chrome) -> Result<DonePage, AppError> {
    let Some(set) = upload.change_set_id else {
        return Err(AppError::NotFound);
    };
    let mut conn = db.conn().await?;
    let summary = crate::db::change_sets::find(&mut conn, set).await?.map(|s| s.summary).unwrap_or_default();
    let entries = imports::entries_of(&mut conn, set, SHOWN_ENTRIES).await?;
    let job = match upload.job_id {
        Some(id) => crate::db::jobs::find(&mut conn, id).await?,
        None => None,
    };
    Ok(DonePage { chrome, upload, summary, entries, job })
}

/// The import page: its mapping and dry run, or once committed, what it
/// did; without an id, the latest uploads.
#[derive(rocket::Responder)]
enum Shown {
    Page(Box<ImportPage>),
    Done(Box<DonePage>),
    List(Box<ListPage>),
}

#[derive(Template, WebTemplate)]
#[template(path = "imports/list.html")]
pub struct ListPage {
    chrome: Chrome,
    uploads: Vec<imports::Listed>,
}

impl ListPage {
    fn href(&self, id: &i64) -> String {
        Links::show(*id)
    }
}

/// Uploads the list page shows.
const LISTED: i64 = 30;

#[get("/imports?<id>")]
async fn show(chrome: Chrome, db: &Db, jobs: &State<JobsConfig>, id: Option<i64>) -> Result<Shown, AppError> {
    let Some(id) = id else {
        let mut conn = db.conn().await?;
        let uploads = imports::latest(&mut conn, LISTED).await?;
        return Ok(Shown::List(Box::new(ListPage { chrome: chrome.on(""), uploads })));
    };
    Ok(match prepare(db, chrome, id, false).await? {
        Prepared::Page(mut page) => {
            page.job_threshold = jobs.threshold_rows;
            Shown::Page(page)
        }
        Prepared::Committed(done) => Shown::Done(Box::new(done_page(db, done.0, done.1).await?)),
    })
}

/// The mapping form: a sheet, and a column (index, or empty) per field.
#[derive(Debug, Default, FromForm)]
pub struct MappingForm {
    #[field(default = String::new())]
    sheet: String,
    #[field(default = String::new())]
    previous_sheet: String,
    #[field(default = String::new())]
    column_email: String,
    #[field(default = String::new())]
    column_sku: String,
    #[field(default = String::new())]
    column_name: String,
    #[field(default = String::new())]
    column_price: String,
    #[field(default = String::new())]
    column_stock: String,
}

impl MappingForm {
    fn column(&self, field: Field) -> Option<usize> {
        let chosen = match field {
            Field::Email => &self.column_email,
            Field::Sku => &self.column_sku,
            Field::Name => &self.column_name,
            Field::Price => &self.column_price,
            Field::Stock => &self.column_stock,
        };
        chosen.trim().parse().ok()
    }
}

#[post("/imports/<id>/mapping", data = "<form>")]
async fn choose(db: &Db, id: i64, form: AdminForm<MappingForm>) -> Result<Redirect, AppError> {
    let form = form.form;
    let sheet = Some(form.sheet.clone()).filter(|s| !s.is_empty());
    // A new sheet has other headers: its mapping is guessed afresh.
    let mapping = (form.sheet == form.previous_sheet).then(|| {
        let mut mapping = Mapping::default();
        for field in [Field::Email, Field::Sku, Field::Name, Field::Price, Field::Stock] {
            mapping.set(field, form.column(field));
        }
        mapping
    });
    let mut conn = db.conn().await?;
    if !imports::choose(&mut conn, id, sheet.as_deref(), mapping.as_ref()).await? {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to(uri!(show(Some(id)))))
}

#[derive(Debug, Default, FromForm)]
pub struct CommitForm {
    #[field(default = String::new())]
    token: String,
}

#[post("/imports/<id>/commit", data = "<form>")]
async fn commit(
    chrome: Chrome,
    db: &Db,
    id: i64,
    jobs: &State<JobsConfig>,
    form: AdminForm<CommitForm>,
) -> Result<Result<Flash<Redirect>, Custom<Box<ImportPage>>>, AppError> {
    let actor = form.actor();
    let mut page = match prepare(db, chrome, id, false).await? {
        Prepared::Page(page) => page,
        Prepared::Committed(..) => {
            return Ok(Ok(crate::web::refused(Links::show(id), "This file was imported already.")));
        }
    };
    page.job_threshold = jobs.threshold_rows;
    let Some(preview) = &page.preview else {
        return Ok(Err(Custom(Status::UnprocessableEntity, page)));
    };
    let changed = "Nothing was imported: some of these records changed since the preview was made. Here is the preview as it is now; check it and import again.";
    if preview.token != form.form.token {
        page.stale = Some(changed.into());
        return Ok(Err(Custom(Status::Conflict, page)));
    }
    let mut conn = db.conn().await?;
    let plan = &preview.plan;
    // Past the threshold the rows are written by the job worker in batches,
    // rather than in one transaction this request waits for.
    let outcome = if page.runs_as_job(preview) {
        match imports::queue(&mut conn, actor, id, &page.upload.file_name, preview).await? {
            Queued::Job(job) => {
                let rows = crate::domain::group_digits((plan.new.len() + plan.updated.len()) as u64);
                return Ok(Ok(crate::web::done(
                    crate::web::jobs::progress_uri(job),
                    format!(
                        "Importing {}: {rows} {} queued as a job, in batches. Follow it here; you can leave this page.",
                        page.upload.file_name,
                        page.upload.target.plural()
                    ),
                )));
            }
            Queued::Stale => Committed::Stale,
            Queued::AlreadyCommitted => Committed::AlreadyCommitted,
        }
    } else {
        imports::commit(&mut conn, actor, Some(id), &page.upload.file_name, preview).await?
    };
    match outcome {
        Committed::Done { new, updated, .. } => Ok(Ok(crate::web::done(
            Links::show(id),
            crate::import::summary(&page.upload.file_name, new, updated, preview.plan.invalid.len()),
        ))),
        Committed::AlreadyCommitted => Ok(Ok(crate::web::refused(Links::show(id), "This file was imported already."))),
        Committed::Stale => {
            drop(conn);
            let mut page = match prepare(db, page.chrome, id, false).await? {
                Prepared::Page(page) => page,
                Prepared::Committed(..) => {
                    return Ok(Ok(crate::web::refused(Links::show(id), "This file was imported already.")))
                }
            };
            page.job_threshold = jobs.threshold_rows;
            page.stale = Some(changed.into());
            Ok(Err(Custom(Status::Conflict, page)))
        }
    }
}

/// A CSV file to save.
#[derive(rocket::Responder)]
struct CsvDownload {
    body: Vec<u8>,
    kind: ContentType,
    disposition: Header<'static>,
}

/// A form that carries nothing but its CSRF token (read by the guard).
#[derive(Debug, Default, FromForm)]
pub struct Confirm {
    #[field(default = String::new())]
    csrf: String,
}

// A post (from a button on the preview), so that only admins, who may
// import, download the file's rows.
#[post("/imports/<id>/invalid-rows", data = "<form>")]
async fn invalid_rows(chrome: Chrome, db: &Db, id: i64, form: AdminForm<Confirm>) -> Result<CsvDownload, AppError> {
    drop(form.form.csrf);
    // After a commit, the rows it left out are still the dry run's invalid
    // ones: the rows it wrote now read as unchanged.
    let page = match prepare(db, chrome, id, true).await? {
        Prepared::Page(page) => page,
        Prepared::Committed(..) => return Err(AppError::NotFound),
    };
    let Some(preview) = &page.preview else {
        return Err(AppError::BadRequest("Choose the columns first: this file cannot be previewed yet.".into()));
    };
    let csv = crate::import::invalid_csv(&page.table, &preview.plan.invalid)
        .map_err(|e| AppError::internal("writing invalid rows", e))?;
    let stem = page.upload.file_name.rsplit_once('.').map(|(s, _)| s).unwrap_or(&page.upload.file_name);
    let download: String =
        format!("{stem}-invalid-rows.csv").chars().filter(|c| c.is_ascii_graphic() && *c != '"').collect();
    let disposition = Header::new("Content-Disposition", format!("attachment; filename=\"{download}\""));
    Ok(CsvDownload { body: csv, kind: ContentType::CSV, disposition })
}

pub fn routes() -> Vec<rocket::Route> {
    routes![
        upload_customers_page,
        upload_products_page,
        upload_customers,
        upload_products,
        show,
        choose,
        commit,
        invalid_rows
    ]
}

/// Mounts these pages.
pub fn stage() -> rocket::fairing::AdHoc {
    super::stage("Imports", routes())
}
