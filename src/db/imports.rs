//! Imports: uploaded files kept until committed (or pruned after a day), the
//! records a file's keys match, and the one transaction that applies a plan;
//! or, for a plan too large for one request, its rows staged for a job and
//! the batches that job applies.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::change_sets::{self, Kind};
use super::jobs::Skipped;
use super::{Actor, DbError};
use crate::domain::Money;
use crate::import::{validate::Checked, Existing, Mapping, Plan, Target};

/// An uploaded file, without its bytes.
#[derive(Debug, Clone)]
pub struct Upload {
    pub id: i64,
    pub staff_id: Option<i64>,
    pub target: Target,
    pub file_name: String,
    pub sheet: Option<String>,
    /// `None` until chosen on the mapping page (it is then guessed).
    pub mapping: Option<Mapping>,
    pub created_at: DateTime<Utc>,
    /// The change set of the commit, once committed (or queued as a job).
    pub change_set_id: Option<i64>,
    pub status: Status,
    /// The job that applies it, when it was too large for one request.
    pub job_id: Option<i64>,
    /// Rows the commit left out for their errors.
    pub invalid_rows: i32,
    /// Records the commit created and updated (so far, while its job runs).
    pub created_rows: i32,
    pub updated_rows: i32,
}

/// Where an upload is in its life (`imports.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Uploaded, not committed: its mapping can still change.
    Uploaded,
    /// Queued as a job, which is applying it.
    Running,
    Committed,
    /// Its job was cancelled or failed part way; what it applied stays.
    Stopped,
}

impl Status {
    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "uploaded" => Status::Uploaded,
            "running" => Status::Running,
            "committed" => Status::Committed,
            "stopped" => Status::Stopped,
            _ => return None,
        })
    }
}

/// Keeps an uploaded file for its mapping and preview pages, and drops
/// uploads nobody committed within a day.
pub async fn save(
    conn: &mut PgConnection,
    staff_id: Option<i64>,
    target: Target,
    file_name: &str,
    bytes: &[u8],
    sheet: Option<&str>,
) -> Result<i64, DbError> {
    sqlx::query!("DELETE FROM imports WHERE status = 'uploaded' AND created_at < now() - INTERVAL '24 hours'")
        .execute(&mut *conn)
        .await?;
    let id = sqlx::query_scalar!(
        "INSERT INTO imports (staff_id, target, file_name, bytes, sheet) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        staff_id,
        target.as_str(),
        file_name,
        bytes,
        sheet
    )
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// An upload and its file's bytes.
pub async fn find(conn: &mut PgConnection, id: i64) -> Result<Option<(Upload, Vec<u8>)>, DbError> {
    let row = sqlx::query!(
        "SELECT id, staff_id, target, file_name, bytes, sheet, mapping, created_at, change_set_id, status, job_id,
                invalid_rows, created_rows, updated_rows
           FROM imports WHERE id = $1",
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(|r| {
        let target = Target::parse(&r.target)?;
        let status = Status::parse(&r.status)?;
        let upload = Upload {
            id: r.id,
            staff_id: r.staff_id,
            target,
            file_name: r.file_name,
            sheet: r.sheet,
            mapping: r.mapping.as_ref().map(Mapping::from_json),
            created_at: r.created_at,
            change_set_id: r.change_set_id,
            status,
            job_id: r.job_id,
            invalid_rows: r.invalid_rows,
            created_rows: r.created_rows,
            updated_rows: r.updated_rows,
        };
        Some((upload, r.bytes))
    }))
}

/// Records the sheet and mapping chosen for an upload not yet committed (no
/// mapping: guess it from the sheet's headers); `false` when it is gone or
/// committed.
pub async fn choose(
    conn: &mut PgConnection,
    id: i64,
    sheet: Option<&str>,
    mapping: Option<&Mapping>,
) -> Result<bool, DbError> {
    let done = sqlx::query!(
        "UPDATE imports SET sheet = $2, mapping = $3 WHERE id = $1 AND status = 'uploaded'",
        id,
        sheet,
        mapping.map(Mapping::to_json)
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The records whose email (customers) or SKU (products) is one of `keys`,
/// in any letter case.
pub async fn existing(conn: &mut PgConnection, target: Target, keys: &[String]) -> Result<Vec<Existing>, DbError> {
    Ok(match target {
        Target::Customers => sqlx::query!(
            "SELECT u.id, u.version, u.email, u.name FROM users u
              WHERE lower(u.email) IN (SELECT lower(k) FROM unnest($1::TEXT[]) AS k)",
            keys
        )
        .fetch_all(conn)
        .await?
        .into_iter()
        .map(|r| Existing { id: r.id, version: r.version, key: r.email, name: r.name, price: None, stock: None })
        .collect(),
        Target::Products => sqlx::query!(
            "SELECT p.id, p.version, p.sku, p.name, p.price_cents, p.stock FROM products p
              WHERE lower(p.sku) IN (SELECT lower(k) FROM unnest($1::TEXT[]) AS k)",
            keys
        )
        .fetch_all(conn)
        .await?
        .into_iter()
        .map(|r| Existing {
            id: r.id,
            version: r.version,
            key: r.sku,
            name: r.name,
            price: Some(Money::from_cents(r.price_cents)),
            stock: Some(r.stock),
        })
        .collect(),
    })
}

/// The fingerprint of the matched records' ids and versions, as a commit
/// computes it again under lock (the same text as `db::bulk`'s).
async fn fingerprint_of(conn: &mut PgConnection, existing: &[Existing]) -> Result<String, DbError> {
    let ids: Vec<i64> = existing.iter().map(|e| e.id).collect();
    let versions: Vec<i32> = existing.iter().map(|e| e.version).collect();
    Ok(sqlx::query_scalar!(
        r#"SELECT coalesce(md5(string_agg(r.id::TEXT || '.' || r.version::TEXT, ',' ORDER BY r.id)), '') AS "fingerprint!"
             FROM unnest($1::BIGINT[], $2::INTEGER[]) AS r(id, version)"#,
        &ids,
        &versions
    )
    .fetch_one(conn)
    .await?)
}

/// A dry run's outcome: the plan, the keys it looked up and the
/// fingerprint of the records they matched, which a commit must still find.
#[derive(Debug, Clone)]
pub struct DryRun {
    pub plan: Plan,
    pub keys: Vec<String>,
    pub token: String,
}

/// What committing `checked` would do now. Changes nothing.
pub async fn dry_run(conn: &mut PgConnection, target: Target, checked: Checked) -> Result<DryRun, DbError> {
    let keys: Vec<String> = checked.valid.iter().map(|r| r.key.clone()).collect();
    let existing = existing(conn, target, &keys).await?;
    let token = fingerprint_of(conn, &existing).await?;
    Ok(DryRun { plan: crate::import::plan::plan(target, checked, &existing), keys, token })
}

/// What a commit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Committed {
    /// Applied, filed under this change set.
    Done { change_set: i64, new: usize, updated: usize },
    /// A matched record changed (or a new key appeared) since the dry run:
    /// nothing was applied.
    Stale,
    /// The upload was committed already (a second press of the button).
    AlreadyCommitted,
}

/// A row count as the `INTEGER` columns keep it (a file has at most a few
/// million rows, far below the cap).
fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Locks upload `id` for its commit: `None` when it may still be
/// committed, else why not.
async fn lock_uploaded(tx: &mut PgConnection, id: i64) -> Result<Option<Committed>, DbError> {
    let status =
        sqlx::query_scalar!("SELECT status FROM imports WHERE id = $1 FOR UPDATE", id).fetch_optional(&mut *tx).await?;
    match status.as_deref() {
        Some("uploaded") => Ok(None),
        Some(_) => Ok(Some(Committed::AlreadyCommitted)),
        None => Err(DbError::NotFound),
    }
}

/// The fingerprint of the records `keys` match now, locked until the
/// transaction ends, to compare with the dry run's.
async fn locked_fingerprint(tx: &mut PgConnection, target: Target, keys: &[String]) -> Result<String, DbError> {
    Ok(match target {
        Target::Customers => sqlx::query_scalar!(
            r#"SELECT coalesce(md5(string_agg(l.id::TEXT || '.' || l.version::TEXT, ',' ORDER BY l.id)), '') AS "fingerprint!"
                 FROM (SELECT u.id, u.version FROM users u
                        WHERE lower(u.email) IN (SELECT lower(k) FROM unnest($1::TEXT[]) AS k)
                        ORDER BY u.id FOR UPDATE) l"#,
            keys
        )
        .fetch_one(&mut *tx)
        .await?,
        Target::Products => sqlx::query_scalar!(
            r#"SELECT coalesce(md5(string_agg(l.id::TEXT || '.' || l.version::TEXT, ',' ORDER BY l.id)), '') AS "fingerprint!"
                 FROM (SELECT p.id, p.version FROM products p
                        WHERE lower(p.sku) IN (SELECT lower(k) FROM unnest($1::TEXT[]) AS k)
                        ORDER BY p.id FOR UPDATE) l"#,
            keys
        )
        .fetch_one(&mut *tx)
        .await?,
    })
}

/// Applies a dry run's plan in one transaction as `actor`, if the records
/// its keys match still have the fingerprint the dry run saw: one set-based
/// insert-or-update (so the audit triggers fire once per statement), filed
/// under a new import change set; `upload` (when from the web) is marked
/// committed in the same transaction.
pub async fn commit(
    conn: &mut PgConnection,
    actor: Actor,
    upload: Option<i64>,
    file_name: &str,
    run: &DryRun,
) -> Result<Committed, DbError> {
    let (plan, keys, token) = (&run.plan, &run.keys, &run.token);
    let mut tx = super::begin_as(conn, actor).await?;
    if let Some(id) = upload {
        if let Some(refused) = lock_uploaded(&mut tx, id).await? {
            return Ok(refused);
        }
    }
    if &locked_fingerprint(&mut tx, plan.target, keys).await? != token {
        return Ok(Committed::Stale);
    }
    let (new, updated) = (plan.new.len(), plan.updated.len());
    let change_set = change_sets::open(
        &mut tx,
        Kind::Import,
        &crate::import::summary(file_name, new, updated, plan.invalid.len()),
        None,
    )
    .await?;
    let names: Vec<String> = plan.writes().map(|r| r.name.clone().unwrap_or_default()).collect();
    let keys: Vec<String> = plan.writes().map(|r| r.key.clone()).collect();
    match plan.target {
        Target::Customers => {
            // A matched customer keeps their own spelling of the email.
            sqlx::query!(
                "INSERT INTO users (name, email)
                 SELECT r.name, r.email FROM unnest($1::TEXT[], $2::TEXT[]) AS r(name, email)
                 ON CONFLICT ((lower(email))) DO UPDATE
                    SET name = EXCLUDED.name, version = users.version + 1, updated_at = now()",
                &names,
                &keys
            )
            .execute(&mut *tx)
            .await?;
        }
        Target::Products => {
            let prices: Vec<i64> = plan.writes().map(|r| r.price.unwrap_or_default().cents()).collect();
            let stocks: Vec<i32> = plan.writes().map(|r| r.stock.unwrap_or_default()).collect();
            sqlx::query!(
                "INSERT INTO products (name, sku, price_cents, stock)
                 SELECT r.name, r.sku, r.price_cents, r.stock
                   FROM unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::INTEGER[]) AS r(name, sku, price_cents, stock)
                 ON CONFLICT ((lower(sku))) DO UPDATE
                    SET name = EXCLUDED.name, price_cents = EXCLUDED.price_cents, stock = EXCLUDED.stock,
                        version = products.version + 1, updated_at = now()",
                &names,
                &keys,
                &prices,
                &stocks
            )
            .execute(&mut *tx)
            .await?;
        }
    }
    if let Some(id) = upload {
        sqlx::query!(
            "UPDATE imports SET status = 'committed', change_set_id = $2, invalid_rows = $3, created_rows = $4,
                                updated_rows = $5
              WHERE id = $1",
            id,
            change_set,
            count(plan.invalid.len()),
            count(new),
            count(updated)
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Committed::Done { change_set, new, updated })
}

/// One audit entry of a change set, as the import's result page lists it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub entity_id: i64,
    pub action: String,
    pub name: String,
}

/// The first `limit` audit entries filed under `change_set`.
pub async fn entries_of(conn: &mut PgConnection, change_set: i64, limit: i64) -> Result<Vec<Entry>, DbError> {
    Ok(sqlx::query_as!(
        Entry,
        r#"SELECT entity_id AS "entity_id!", action, coalesce(after ->> 'name', before ->> 'name', '') AS "name!"
             FROM audit_log WHERE change_set_id = $1 ORDER BY id LIMIT $2"#,
        change_set,
        limit
    )
    .fetch_all(conn)
    .await?)
}

/// An upload as the imports list shows it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: i64,
    pub target: String,
    pub file_name: String,
    pub created_at: DateTime<Utc>,
    pub status: String,
}

/// The latest `limit` uploads, newest first.
pub async fn latest(conn: &mut PgConnection, limit: i64) -> Result<Vec<Listed>, DbError> {
    Ok(sqlx::query_as!(
        Listed,
        r#"SELECT id, target, file_name, created_at, status
             FROM imports ORDER BY created_at DESC, id DESC LIMIT $1"#,
        limit
    )
    .fetch_all(conn)
    .await?)
}

/// What queueing a commit as a job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Queued {
    /// Queued as this job; nothing is applied yet.
    Job(i64),
    /// As [`Committed::Stale`]: nothing was queued.
    Stale,
    AlreadyCommitted,
}

/// Queues the commit of upload `id`'s dry run as a job of `actor`, if the
/// records its keys match still have the fingerprint the dry run saw: the
/// rows to write are staged in `import_rows` (each update with the version
/// the dry run saw), the job's targets are those rows, and the upload is
/// marked running under the job's change set, all in one transaction. The
/// job's batches then apply the rows (see [`apply_batch`]).
pub async fn queue(
    conn: &mut PgConnection,
    actor: Actor,
    id: i64,
    file_name: &str,
    run: &DryRun,
) -> Result<Queued, DbError> {
    let plan = &run.plan;
    let mut tx = super::begin_as(conn, actor).await?;
    if lock_uploaded(&mut tx, id).await?.is_some() {
        return Ok(Queued::AlreadyCommitted);
    }
    if locked_fingerprint(&mut tx, plan.target, &run.keys).await? != run.token {
        return Ok(Queued::Stale);
    }
    let writes = plan.new.len() + plan.updated.len();
    // Rewritten by every batch with what is applied so far.
    let change_set =
        change_sets::open(&mut tx, Kind::Import, &crate::import::summary(file_name, 0, 0, plan.invalid.len()), None)
            .await?;
    let summary: String = format!(
        "Import {}: {} {}",
        file_name.chars().take(200).collect::<String>(),
        crate::domain::group_digits(writes as u64),
        plan.target.plural()
    );
    let params =
        super::jobs::Work::Import(id).stored_params().map_err(|e| DbError::Sqlx(sqlx::Error::Encode(e.into())))?;
    let job = sqlx::query_scalar!(
        "INSERT INTO jobs (kind, staff_id, summary, params, total, change_set_id)
         VALUES ('import', $1, $2, $3, $4, $5) RETURNING id",
        actor,
        summary,
        params,
        writes as i64,
        change_set
    )
    .fetch_one(&mut *tx)
    .await?;
    let new = plan.new.iter().map(|r| (r, None, None));
    let updated = plan.updated.iter().map(|u| (&u.record, Some(u.id), Some(u.version)));
    let (mut lines, mut keys, mut names, mut prices, mut stocks, mut records, mut versions) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (record, id, version) in new.chain(updated) {
        lines.push(record.row as i64);
        keys.push(record.key.clone());
        names.push(record.name.clone().unwrap_or_default());
        prices.push(record.price.map(|p| p.cents()));
        stocks.push(record.stock);
        records.push(id);
        versions.push(version);
    }
    sqlx::query!(
        "WITH staged AS (
             INSERT INTO import_rows (import_id, line, key, name, price_cents, stock, record_id, version)
             SELECT $2, r.line, r.key, r.name, r.price_cents, r.stock, r.record_id, r.version
               FROM unnest($3::BIGINT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[], $7::INTEGER[], $8::BIGINT[], $9::INTEGER[])
                    WITH ORDINALITY AS r(line, key, name, price_cents, stock, record_id, version, n)
              ORDER BY r.n
             RETURNING id)
         INSERT INTO job_targets (job_id, target_id) SELECT $1, id FROM staged",
        job,
        id,
        &lines,
        &keys,
        &names,
        &prices as &[Option<i64>],
        &stocks as &[Option<i32>],
        &records as &[Option<i64>],
        &versions as &[Option<i32>]
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE imports SET status = 'running', change_set_id = $2, job_id = $3, invalid_rows = $4 WHERE id = $1",
        id,
        change_set,
        job,
        count(plan.invalid.len())
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Queued::Job(job))
}

/// A staged row of a queued import.
struct Staged {
    id: i64,
    record_id: Option<i64>,
    version: Option<i32>,
}

/// Applies the staged rows `targets` of import `import` inside a job's batch
/// transaction `tx` (audited under the job's requester and change set): new
/// rows are created unless their key was taken meanwhile, and updates are
/// applied to records still at the version the dry run saw, so a record
/// edited since is never overwritten with values merged from its old self.
/// Adds what it created and updated to the import's counts and rewrites its
/// change set's summary to match. Returns the records changed, and the rows
/// skipped with why.
pub async fn apply_batch(tx: &mut PgConnection, import: i64, targets: &[i64]) -> Result<(i64, Vec<Skipped>), DbError> {
    let Some(upload) = sqlx::query!(
        "SELECT target, file_name, change_set_id, invalid_rows FROM imports WHERE id = $1 FOR UPDATE",
        import
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        // The upload is gone (its rows with it): nothing is left to write.
        let reason = "The import was deleted after it was queued.".to_string();
        return Ok((0, vec![Skipped { reason, count: targets.len() as i64 }]));
    };
    let target = Target::parse(&upload.target).ok_or(DbError::NotFound)?;
    let staged = sqlx::query_as!(
        Staged,
        "SELECT id, record_id, version FROM import_rows WHERE import_id = $1 AND id = ANY($2) ORDER BY id",
        import,
        targets
    )
    .fetch_all(&mut *tx)
    .await?;
    let new: Vec<i64> = staged.iter().filter(|r| r.record_id.is_none()).map(|r| r.id).collect();
    let records: Vec<i64> = staged.iter().filter_map(|r| r.record_id).collect();
    let current: Vec<(i64, i32)> = match target {
        Target::Customers => {
            sqlx::query!("SELECT id, version FROM users WHERE id = ANY($1) ORDER BY id FOR UPDATE", &records)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|r| (r.id, r.version))
                .collect()
        }
        Target::Products => {
            sqlx::query!("SELECT id, version FROM products WHERE id = ANY($1) ORDER BY id FOR UPDATE", &records)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|r| (r.id, r.version))
                .collect()
        }
    };
    let (mut apply, mut edited, mut deleted) = (Vec::new(), 0i64, 0i64);
    for row in staged.iter().filter(|r| r.record_id.is_some()) {
        match current.iter().find(|(id, _)| Some(*id) == row.record_id) {
            Some((_, version)) if Some(*version) == row.version => apply.push(row.id),
            Some(_) => edited += 1,
            None => deleted += 1,
        }
    }
    let (created, updated) = match target {
        Target::Customers => {
            let created = sqlx::query_scalar!(
                "INSERT INTO users (name, email)
                 SELECT name, key FROM import_rows WHERE id = ANY($1) ORDER BY id
                 ON CONFLICT DO NOTHING RETURNING id",
                &new
            )
            .fetch_all(&mut *tx)
            .await?
            .len();
            let updated = sqlx::query!(
                "UPDATE users u SET name = r.name, version = u.version + 1, updated_at = now()
                   FROM import_rows r WHERE r.id = ANY($1) AND u.id = r.record_id",
                &apply
            )
            .execute(&mut *tx)
            .await?
            .rows_affected();
            (created, updated)
        }
        Target::Products => {
            // A new row has every field (the plan refused it otherwise).
            let created = sqlx::query_scalar!(
                "INSERT INTO products (name, sku, price_cents, stock)
                 SELECT name, key, coalesce(price_cents, 0), coalesce(stock, 0)
                   FROM import_rows WHERE id = ANY($1) ORDER BY id
                 ON CONFLICT DO NOTHING RETURNING id",
                &new
            )
            .fetch_all(&mut *tx)
            .await?
            .len();
            let updated = sqlx::query!(
                "UPDATE products p SET name = r.name, price_cents = coalesce(r.price_cents, p.price_cents),
                                       stock = coalesce(r.stock, p.stock), version = p.version + 1, updated_at = now()
                   FROM import_rows r WHERE r.id = ANY($1) AND p.id = r.record_id",
                &apply
            )
            .execute(&mut *tx)
            .await?
            .rows_affected();
            (created, updated)
        }
    };
    let (one, key) = (target.singular(), target.key().label());
    let taken = (new.len() - created) as i64;
    let gone = targets.len().saturating_sub(staged.len()) as i64;
    let skipped: Vec<Skipped> = [
        (taken, format!("A {one} with this {key} was added after the import was queued, so the row was not imported.")),
        (edited, format!("The {one} was edited after the import was queued, so the row was not applied to it.")),
        (deleted, format!("The {one} was deleted after the import was queued.")),
        (gone, "The row was no longer staged for the import.".to_string()),
    ]
    .into_iter()
    .filter(|(count, _)| *count > 0)
    .map(|(count, reason)| Skipped { reason, count })
    .collect();
    let totals = sqlx::query!(
        "UPDATE imports SET created_rows = created_rows + $2, updated_rows = updated_rows + $3 WHERE id = $1
         RETURNING created_rows, updated_rows",
        import,
        count(created),
        count(updated as usize)
    )
    .fetch_one(&mut *tx)
    .await?;
    if let Some(set) = upload.change_set_id {
        let summary = crate::import::summary(
            &upload.file_name,
            totals.created_rows as usize,
            totals.updated_rows as usize,
            upload.invalid_rows as usize,
        );
        change_sets::describe(tx, set, &summary).await?;
    }
    Ok(((created as u64 + updated) as i64, skipped))
}

/// The import a job applies, as the job's page links back to it.
#[derive(Debug, Clone)]
pub struct OfJob {
    pub id: i64,
    pub file_name: String,
    pub created_rows: i64,
    pub updated_rows: i64,
}

/// The import job `job` applies, if it applies one.
pub async fn of_job(conn: &mut PgConnection, job: i64) -> Result<Option<OfJob>, DbError> {
    Ok(sqlx::query_as!(
        OfJob,
        r#"SELECT id, file_name, created_rows::BIGINT AS "created_rows!", updated_rows::BIGINT AS "updated_rows!"
             FROM imports WHERE job_id = $1"#,
        job
    )
    .fetch_optional(conn)
    .await?)
}
