//! A connection whose statements are planned afresh with their values every
//! time, for compile-time checked queries that must not be cached.
//!
//! sqlx keeps each statement prepared on its connection, and PostgreSQL may
//! then run it with a generic plan chosen for average values. For searches
//! whose matches are skewed, a plan chosen for a common pattern can be slow
//! for a rare one. `QueryBuilder` queries say `persistent(false)`; the
//! `query_as!` macro's query offers no such switch, so it runs on a
//! [`Replanning`] connection instead: `query_as!(..).fetch_all(Replanning(conn))`.

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use sqlx::postgres::{PgArguments, PgQueryResult, PgRow, PgStatement, PgTypeInfo};
use sqlx::{Describe, Either, Execute, Executor, PgConnection, Postgres, SqlStr};

/// A connection that sends every statement unnamed: parsed and planned with
/// its values, and not kept once it has run.
#[derive(Debug)]
pub struct Replanning<'c>(pub &'c mut PgConnection);

impl<'c> Executor<'c> for Replanning<'c> {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        self.0.fetch_many(Unnamed(query))
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        self.0.fetch_optional(Unnamed(query))
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement, sqlx::Error>>
    where
        'c: 'e,
    {
        self.0.prepare_with(sql, parameters)
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<Describe<Postgres>, sqlx::Error>>
    where
        'c: 'e,
    {
        self.0.describe(sql)
    }
}

/// A query as it is, except that it is never kept prepared.
struct Unnamed<Q>(Q);

impl<'q, Q: Execute<'q, Postgres>> Execute<'q, Postgres> for Unnamed<Q> {
    fn sql(self) -> SqlStr {
        self.0.sql()
    }

    fn statement(&self) -> Option<&PgStatement> {
        self.0.statement()
    }

    fn take_arguments(&mut self) -> Result<Option<PgArguments>, sqlx::error::BoxDynError> {
        self.0.take_arguments()
    }

    fn persistent(&self) -> bool {
        false
    }
}
