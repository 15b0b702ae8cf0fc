//! What the bulk actions on orders and on products share: the preview their
//! confirmation page shows, and the check, when the action is applied, that
//! its targets are still exactly the rows confirmed.

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::jobs::Skipped;
use super::listing::Listing;
use super::DbError;

/// What a bulk action would change, shown on its confirmation page.
#[derive(Debug)]
pub struct BulkPreview<R> {
    /// How many rows the action targets.
    pub count: i64,
    /// The targets' ids and versions condensed (see [`fingerprint`]): the
    /// action goes ahead only if it still matches when it is applied.
    pub token: String,
    /// The first few targets.
    pub sample: Vec<R>,
}

impl<R> Default for BulkPreview<R> {
    /// Nothing to change (the action could not be read yet).
    fn default() -> Self {
        BulkPreview { count: 0, token: String::new(), sample: Vec::new() }
    }
}

/// What an applied bulk action did: the rows it changed, and the rows a rule
/// kept it from changing, counted by reason (as a job counts them).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub changed: usize,
    pub skipped: Vec<Skipped>,
}

impl Applied {
    /// How many rows were left alone, for whatever reason.
    pub fn skipped_count(&self) -> i64 {
        self.skipped.iter().map(|s| s.count).sum()
    }
}

/// Why a bulk action (on orders or products) changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    /// The targets are not the ones confirmed: rows joined or left the
    /// selection, or one of them was edited since.
    #[error("the targeted rows changed since they were confirmed")]
    Changed { now: i64, confirmed: i64 },
    /// Products without enough stock to revive cancelled orders: name, available, needed.
    #[error("not enough stock")]
    OutOfStock(Vec<(String, i64, i64)>),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for BulkError {
    fn from(e: sqlx::Error) -> Self {
        BulkError::Db(e.into())
    }
}

/// SQL condensing the ids and versions of the rows aliased `alias` into one
/// text: equal texts mean the same rows, none of them edited in between.
fn fingerprint(alias: &str) -> String {
    format!("coalesce(md5(string_agg({alias}.id::TEXT || '.' || {alias}.version::TEXT, ',' ORDER BY {alias}.id)), '')")
}

/// The [`fingerprint`] of rows already read (and locked) by id and version.
async fn fingerprint_of(conn: &mut sqlx::PgConnection, rows: &[(i64, i32)]) -> Result<String, sqlx::Error> {
    let (ids, versions): (Vec<i64>, Vec<i32>) = rows.iter().copied().unzip();
    // `fingerprint("r")` written out: a bulk action's confirmation and its
    // application compare the two, so every bulk test fails if they differ.
    sqlx::query_scalar!(
        r#"SELECT coalesce(md5(string_agg(r.id::TEXT || '.' || r.version::TEXT, ',' ORDER BY r.id)), '') AS "fingerprint!"
             FROM unnest($1::BIGINT[], $2::INTEGER[]) AS r(id, version)"#,
        &ids,
        &versions
    )
    .fetch_one(conn)
    .await
}

/// Appends the conditions of a bulk action's targets: the rows of list `L`
/// that match `filter`, and of those only `ids` when the action names rows.
fn push_targets<L: Listing>(query: &mut QueryBuilder<Postgres>, filter: &L::Filter, ids: Option<&[i64]>) {
    L::push_filter(query, filter);
    if let Some(ids) = ids {
        let (_, alias) = L::COUNTED;
        query.push(format!(" AND {alias}.id = ANY(")).push_bind(ids.to_vec()).push(")");
    }
}

/// A bulk action's preview: how many rows it targets, their
/// [`fingerprint`], and the first ten in `order`, read by `sample` (a
/// `SELECT ... FROM` to which the targets' conditions are added).
pub(crate) async fn preview<L: Listing, R>(
    conn: &mut PgConnection,
    filter: &L::Filter,
    ids: Option<&[i64]>,
    mut sample: QueryBuilder<Postgres>,
    order: &str,
) -> Result<BulkPreview<R>, DbError>
where
    R: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
{
    let (table, alias) = L::COUNTED;
    let mut count = QueryBuilder::new(format!("SELECT count(*), {} FROM {table} {alias}", fingerprint(alias)));
    push_targets::<L>(&mut count, filter, ids);
    let (count, token): (i64, String) = count.build_query_as().persistent(false).fetch_one(&mut *conn).await?;
    push_targets::<L>(&mut sample, filter, ids);
    sample.push(format!(" ORDER BY {order} LIMIT 10"));
    let sample = sample.build_query_as::<R>().persistent(false).fetch_all(conn).await?;
    Ok(BulkPreview { count, token, sample })
}

/// Locks a bulk action's targets, reading `columns` of each (in id order, so
/// concurrent actions queue rather than deadlock), and goes on only if they
/// are the rows `confirmed` (their count and fingerprint): none joined or
/// left the selection, and none was edited since. `version` reads a row's
/// id and version.
pub(crate) async fn lock_confirmed<L: Listing, R>(
    conn: &mut PgConnection,
    columns: &str,
    filter: &L::Filter,
    ids: Option<&[i64]>,
    confirmed: (i64, &str),
    version: impl Fn(&R) -> (i64, i32),
) -> Result<Vec<R>, BulkError>
where
    R: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
{
    let (table, alias) = L::COUNTED;
    let mut lock = QueryBuilder::new(format!("SELECT {columns} FROM {table} {alias}"));
    push_targets::<L>(&mut lock, filter, ids);
    lock.push(format!(" ORDER BY {alias}.id FOR UPDATE OF {alias}"));
    let targets: Vec<R> = lock.build_query_as().persistent(false).fetch_all(&mut *conn).await?;
    let versions: Vec<(i64, i32)> = targets.iter().map(version).collect();
    if fingerprint_of(conn, &versions).await? != confirmed.1 {
        return Err(BulkError::Changed { now: targets.len() as i64, confirmed: confirmed.0 });
    }
    Ok(targets)
}
