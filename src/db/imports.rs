//! Imports: uploaded files kept until committed (or pruned after a day), the
//! records a file's keys match, and the one transaction that applies a plan.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::change_sets::{self, Kind};
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
    /// The change set of the commit, once committed.
    pub change_set_id: Option<i64>,
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
        "SELECT id, staff_id, target, file_name, bytes, sheet, mapping, created_at, change_set_id
           FROM imports WHERE id = $1",
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(|r| {
        let target = Target::parse(&r.target)?;
        let upload = Upload {
            id: r.id,
            staff_id: r.staff_id,
            target,
            file_name: r.file_name,
            sheet: r.sheet,
            mapping: r.mapping.as_ref().map(Mapping::from_json),
            created_at: r.created_at,
            change_set_id: r.change_set_id,
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
        let status = sqlx::query_scalar!("SELECT status FROM imports WHERE id = $1 FOR UPDATE", id)
            .fetch_optional(&mut *tx)
            .await?;
        match status.as_deref() {
            Some("uploaded") => {}
            Some(_) => return Ok(Committed::AlreadyCommitted),
            None => return Err(DbError::NotFound),
        }
    }
    let now = match plan.target {
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
    };
    if &now != token {
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
        sqlx::query!("UPDATE imports SET status = 'committed', change_set_id = $2 WHERE id = $1", id, change_set)
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
    pub committed: bool,
}

/// The latest `limit` uploads, newest first.
pub async fn latest(conn: &mut PgConnection, limit: i64) -> Result<Vec<Listed>, DbError> {
    Ok(sqlx::query_as!(
        Listed,
        r#"SELECT id, target, file_name, created_at, status = 'committed' AS "committed!"
             FROM imports ORDER BY created_at DESC, id DESC LIMIT $1"#,
        limit
    )
    .fetch_all(conn)
    .await?)
}
