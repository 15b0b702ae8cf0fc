//! Long jobs as the requester follows them: the progress page of one job
//! (refreshing itself while the job runs, with a Cancel button) and the list
//! of recent jobs with their outcome.

use askama::Template;
use askama_web::WebTemplate;
use chrono::{DateTime, Utc};
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, uri, FromForm};

use super::filters::{self, counted};
use super::{done, refused, AdminForm, AppError, Chrome};
use crate::db::jobs::{self, Job, JobRow};
use crate::db::staff::Staff;
use crate::db::Db;

/// Jobs per page of the list.
const PAGE_ROWS: i64 = 50;

/// A job's progress as its page shows it.
pub struct Progress {
    pub job: Job,
    /// Whole per cent of the targets dealt with.
    pub percent: i64,
    /// "about 3 minutes", while the job runs and its pace is known.
    pub time_left: Option<String>,
}

impl Progress {
    fn of(job: Job, now: DateTime<Utc>) -> Progress {
        let percent = if job.total > 0 { job.done * 100 / job.total } else { 100 };
        let time_left = match (job.state.is_open(), job.started_at) {
            (true, Some(started)) if job.done > 0 => {
                let elapsed = (now - started).num_milliseconds().max(1) as f64;
                let left_ms = elapsed / job.done as f64 * (job.total - job.done) as f64;
                Some(duration_words(left_ms / 1000.0))
            }
            _ => None,
        };
        Progress { job, percent, time_left }
    }

    /// Whether the page should refresh itself.
    pub fn refreshes(&self) -> bool {
        self.job.state.is_open()
    }
}

/// Seconds as a person says them: "less than 10 seconds", "about 40
/// seconds", "about 3 minutes", "about 2 hours".
fn duration_words(seconds: f64) -> String {
    let s = seconds.round() as i64;
    match s {
        ..=9 => "less than 10 seconds".to_string(),
        10..=59 => format!("about {} seconds", (s + 5) / 10 * 10),
        60..=5399 => format!("about {}", counted((s + 30) / 60, "minute", "minutes")),
        _ => format!("about {}", counted((s + 1800) / 3600, "hour", "hours")),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "jobs/show.html")]
struct ShowPage {
    chrome: Chrome,
    progress: Progress,
    /// The import the job applies, for an import job.
    import: Option<crate::db::imports::OfJob>,
}

impl ShowPage {
    fn import_href(&self, id: &i64) -> String {
        super::imports::Links::show(*id)
    }

    /// Whether this job's file is ready and this staff member may have it.
    fn offers_download(&self) -> bool {
        let job = &self.progress.job;
        job.state.has_file(job.kind) && may_download(&self.chrome, job.staff_id)
    }
}

/// Whether the signed-in staff member may download the file of a job asked
/// for by `requester`: the one who asked, or an admin (as the download
/// itself checks).
fn may_download(chrome: &Chrome, requester: Option<i64>) -> bool {
    chrome.staff.as_ref().is_some_and(|staff| staff.is_admin() || Some(staff.id) == requester)
}

#[get("/jobs/<id>")]
async fn show(chrome: Chrome, _signed_in: Staff, db: &Db, id: i64) -> Result<ShowPage, AppError> {
    let mut conn = db.conn().await?;
    let job = jobs::find(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    let import = crate::db::imports::of_job(&mut conn, id).await?;
    Ok(ShowPage { chrome: chrome.on("jobs"), progress: Progress::of(job, Utc::now()), import })
}

#[derive(Template, WebTemplate)]
#[template(path = "jobs/list.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<JobRow>,
    /// The next (older) page, if there is one.
    older: Option<String>,
    /// Whether this is a later page (so "Newest" links back).
    later: bool,
}

impl ListPage {
    /// Whether job `row`'s file is ready and this staff member may have it.
    fn offers_download(&self, row: &JobRow) -> bool {
        row.state.has_file(row.kind) && may_download(&self.chrome, row.staff_id)
    }
}

#[get("/jobs?<before>")]
async fn list(chrome: Chrome, _signed_in: Staff, db: &Db, before: Option<i64>) -> Result<ListPage, AppError> {
    let mut conn = db.conn().await?;
    let mut rows = jobs::recent(&mut conn, before, PAGE_ROWS + 1).await?;
    let older = if rows.len() as i64 > PAGE_ROWS {
        rows.truncate(PAGE_ROWS as usize);
        rows.last().map(|last| uri!(list(Some(last.id))).to_string())
    } else {
        None
    };
    Ok(ListPage { chrome: chrome.on("jobs"), rows, older, later: before.is_some() })
}

/// Cancelling needs nothing but the CSRF token, which `AdminForm` checks.
#[derive(Debug, FromForm)]
struct CancelForm {
    #[field(name = "csrf", default = String::new())]
    _csrf: String,
}

#[post("/jobs/<id>/cancel", data = "<_form>")]
async fn cancel(db: &Db, id: i64, _form: AdminForm<CancelForm>) -> Result<Flash<Redirect>, AppError> {
    let mut conn = db.conn().await?;
    let back = uri!(show(id)).to_string();
    if jobs::request_cancel(&mut conn, id).await? {
        let makes_file = jobs::find(&mut conn, id).await?.is_some_and(|job| job.kind.makes_file());
        Ok(done(
            back,
            if makes_file {
                "The export stops after the batch it is working on, and what it wrote is deleted."
            } else {
                "The job stops after the batch it is working on; what it changed so far stays changed."
            },
        ))
    } else if jobs::find(&mut conn, id).await?.is_some() {
        Ok(refused(back, "The job had already ended, so there was nothing to cancel."))
    } else {
        Err(AppError::NotFound)
    }
}

/// The address of a job's progress page.
pub fn progress_uri(id: i64) -> String {
    uri!(show(id)).to_string()
}

/// Mounts these pages.
pub fn stage() -> rocket::fairing::AdHoc {
    super::stage("Jobs", routes![show, list, cancel])
}

#[cfg(test)]
mod tests {
    use super::duration_words;

    #[test]
    fn time_left_reads_as_a_person_says_it() {
        assert_eq!(duration_words(3.2), "less than 10 seconds");
        assert_eq!(duration_words(42.0), "about 40 seconds");
        assert_eq!(duration_words(61.0), "about 1 minute");
        assert_eq!(duration_words(170.0), "about 3 minutes");
        assert_eq!(duration_words(7300.0), "about 2 hours");
    }
}
