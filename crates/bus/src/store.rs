//! The SQL store beside the queues: parked messages (listable, filterable, never only in
//! memory) and claim-check bodies. SQLite (one node; the embedded queue's own file) or
//! PostgreSQL (several nodes sharing a broker), through sqlx with queries checked at run time.
//!
//! Two tables, named after the configured prefix (`.` and `-` become `_`, so prefixes that
//! differ only in `.`, `-` and `_` share their tables):
//! - `{prefix}_parked`: one row per parked message, primary key (route, id); parking again
//!   overwrites the row and sets it back to `parked`. Replayed and discarded messages stay for
//!   audit with the operator, the time and the reason.
//! - `{prefix}_blobs`: claim-check bodies by blob id.
//!
//! Times are integer microseconds since the Unix epoch; headers are JSON text. The tables are
//! created idempotently at open (under an advisory lock on PostgreSQL, so that several nodes
//! starting together do not race).

use crate::BusError;
use crate::ops::{ParkedFilter, ParkedMessage, ParkedStatus, Selection};
use bytes::Bytes;
use jiff::Timestamp;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePool, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, Row};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

/// The operation named in the errors of table creation.
const CREATE_TABLES: &str = "create the store tables";

/// The largest page of [`Store::list_parked`].
const MAX_PAGE: u32 = 1000;

/// The store.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    sql: Arc<Sql>,
}

/// The connection pool of one of the two dialects.
#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Sqlite,
    Postgres,
}

/// Runs the same expression on whichever pool the store has (the sqlx calls are spelled the
/// same for both dialects; only their types differ).
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            Pool::Sqlite($pool) => $body,
            Pool::Postgres($pool) => $body,
        }
    };
}

/// Binds the parked-message columns in the order of [`Sql::park`].
macro_rules! bind_parked {
    ($q:expr, $m:expr, $headers:expr, $body:expr) => {
        $q.bind($m.route.as_str())
            .bind($m.id.as_str())
            .bind($m.key.as_str())
            .bind($headers)
            .bind($body)
            .bind(i64::try_from($m.body_size).unwrap_or(i64::MAX))
            .bind($m.claim.as_deref())
            .bind($m.reason.as_str())
            .bind($m.partner_code.as_deref())
            .bind(i64::from($m.attempts))
            .bind($m.first_error.as_deref())
            .bind($m.last_error.as_deref())
            .bind($m.parked_at.as_microsecond())
    };
}

/// Binds the arguments of a built `WHERE` clause.
macro_rules! bind_args {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Arg::Text(s) => q.bind(s),
                Arg::Int(i) => q.bind(i),
            };
        }
        q
    }};
}

/// Reads one parked row (the columns of [`PARKED_COLUMNS`]) into a message and its body.
macro_rules! parked_from_row {
    ($row:expr) => {{
        let row = $row;
        let headers: String = row.try_get("headers")?;
        let status: String = row.try_get("status")?;
        let body: Option<Vec<u8>> = row.try_get("body")?;
        let message = ParkedMessage {
            id: row.try_get("id")?,
            route: row.try_get("route")?,
            key: row.try_get("key")?,
            headers: decode_headers(&headers)?,
            body_size: u64::try_from(row.try_get::<i64, _>("body_size")?).unwrap_or(0),
            claim: row.try_get("claim")?,
            reason: row.try_get("reason")?,
            partner_code: row.try_get("partner_code")?,
            attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
            first_error: row.try_get("first_error")?,
            last_error: row.try_get("last_error")?,
            parked_at: micros(row.try_get("parked_at")?)?,
            status: ParkedStatus::from_name(&status).ok_or_else(|| {
                BusError::Store(format!("parked message: unknown status {status:?}"))
            })?,
            resolved_by: row.try_get("resolved_by")?,
            resolved_at: row
                .try_get::<Option<i64>, _>("resolved_at")?
                .map(micros)
                .transpose()?,
            resolution_reason: row.try_get("resolution_reason")?,
        };
        (message, body)
    }};
}

const PARKED_COLUMNS: &str = "route, id, key, headers, body, body_size, claim, reason, \
     partner_code, attempts, first_error, last_error, parked_at, status, resolved_by, \
     resolved_at, resolution_reason";

/// Where a page of [`Store::select_parked`] ends: the last row's `parked_at`, route and id
/// (the page order), so that the next page starts after it even when rows of this page stay
/// parked.
#[derive(Clone, Debug)]
pub(crate) struct PageCursor {
    pub(crate) parked_at: Timestamp,
    pub(crate) route: String,
    pub(crate) id: String,
}

/// A bind argument of a built `WHERE` clause.
enum Arg {
    Text(String),
    Int(i64),
}

/// The statements, built once for the table names of a prefix.
struct Sql {
    dialect: Dialect,
    parked: String,
    blobs: String,
    park: String,
    put_blob: String,
    get_blob: String,
    delete_blob: String,
    parked_count: String,
    mark_replayed: String,
}

impl Sql {
    fn new(prefix: &str, dialect: Dialect) -> Sql {
        let p = table_prefix(prefix);
        let parked = format!("{p}_parked");
        let blobs = format!("{p}_blobs");
        Sql {
            dialect,
            park: format!(
                "INSERT INTO {parked} (route, id, key, headers, body, body_size, claim, reason, \
                 partner_code, attempts, first_error, last_error, parked_at, status) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'parked') \
                 ON CONFLICT (route, id) DO UPDATE SET key = excluded.key, \
                 headers = excluded.headers, body = excluded.body, \
                 body_size = excluded.body_size, claim = excluded.claim, \
                 reason = excluded.reason, partner_code = excluded.partner_code, \
                 attempts = excluded.attempts, first_error = excluded.first_error, \
                 last_error = excluded.last_error, parked_at = excluded.parked_at, \
                 status = 'parked', resolved_by = NULL, resolved_at = NULL, \
                 resolution_reason = NULL"
            ),
            put_blob: format!(
                "INSERT INTO {blobs} (id, body, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO NOTHING"
            ),
            get_blob: format!("SELECT body FROM {blobs} WHERE id = $1"),
            delete_blob: format!("DELETE FROM {blobs} WHERE id = $1"),
            parked_count: format!(
                "SELECT COUNT(*) FROM {parked} WHERE route = $1 AND status = 'parked'"
            ),
            mark_replayed: format!(
                "UPDATE {parked} SET status = 'replayed', resolved_by = $3, resolved_at = $4, \
                 resolution_reason = NULL WHERE route = $1 AND id = $2 AND status = 'parked' \
                 AND parked_at = $5"
            ),
            parked,
            blobs,
        }
    }

    /// The `CREATE … IF NOT EXISTS` statements.
    fn schema(&self) -> Vec<String> {
        let (blob, int) = match self.dialect {
            Dialect::Sqlite => ("BLOB", "INTEGER"),
            Dialect::Postgres => ("BYTEA", "BIGINT"),
        };
        let Sql { parked, blobs, .. } = self;
        vec![
            format!(
                "CREATE TABLE IF NOT EXISTS {parked} (\
                 route TEXT NOT NULL, id TEXT NOT NULL, key TEXT NOT NULL, \
                 headers TEXT NOT NULL, body {blob}, body_size {int} NOT NULL, claim TEXT, \
                 reason TEXT NOT NULL, partner_code TEXT, attempts {int} NOT NULL, \
                 first_error TEXT, last_error TEXT, parked_at {int} NOT NULL, \
                 status TEXT NOT NULL, resolved_by TEXT, resolved_at {int}, \
                 resolution_reason TEXT, PRIMARY KEY (route, id))"
            ),
            format!(
                "CREATE INDEX IF NOT EXISTS {parked}_status_at ON {parked} (status, parked_at)"
            ),
            format!("CREATE INDEX IF NOT EXISTS {parked}_route_status ON {parked} (route, status)"),
            format!(
                "CREATE TABLE IF NOT EXISTS {blobs} (\
                 id TEXT PRIMARY KEY, body {blob} NOT NULL, created_at {int} NOT NULL)"
            ),
        ]
    }

    /// `WHERE …` for a filter (numbered from `$1`); `parked_only` restricts to `parked` rows
    /// whatever the filter's status says.
    fn filter(&self, f: &ParkedFilter, parked_only: bool) -> (String, Vec<Arg>) {
        let mut conds: Vec<String> = Vec::new();
        let mut args: Vec<Arg> = Vec::new();
        let mut push = |cond: &str, arg: Arg, args: &mut Vec<Arg>| {
            args.push(arg);
            conds.push(cond.replace('?', &format!("${}", args.len())));
        };
        if let Some(r) = &f.route {
            push("route = ?", Arg::Text(r.clone()), &mut args);
        }
        if let Some(k) = &f.key {
            push("key = ?", Arg::Text(k.clone()), &mut args);
        }
        if let Some(c) = &f.partner_code {
            push("partner_code = ?", Arg::Text(c.clone()), &mut args);
        }
        if let Some(r) = &f.reason_contains {
            // Both sides lowercased by the database, so that they agree: ASCII only on SQLite
            // (its LOWER), every Unicode letter on PostgreSQL.
            let pattern = format!("%{}%", escape_like(r));
            push(
                "LOWER(reason) LIKE LOWER(?) ESCAPE '\\'",
                Arg::Text(pattern),
                &mut args,
            );
        }
        if let Some(t) = f.since {
            push("parked_at >= ?", Arg::Int(t.as_microsecond()), &mut args);
        }
        if let Some(t) = f.until {
            push("parked_at < ?", Arg::Int(t.as_microsecond()), &mut args);
        }
        let status = if parked_only {
            Some(ParkedStatus::Parked)
        } else {
            f.status
        };
        if let Some(s) = status {
            push("status = ?", Arg::Text(s.name().into()), &mut args);
        }
        if !f.ids.is_empty() {
            let first = args.len() + 1;
            let marks: Vec<String> = (0..f.ids.len())
                .map(|i| format!("${}", first + i))
                .collect();
            args.extend(f.ids.iter().map(|id| Arg::Text(id.clone())));
            conds.push(format!("id IN ({})", marks.join(", ")));
        }
        if conds.is_empty() {
            (String::new(), args)
        } else {
            (format!(" WHERE {}", conds.join(" AND ")), args)
        }
    }

    /// `WHERE …` for the still-parked messages of a selection.
    fn selection(&self, s: &Selection) -> (String, Vec<Arg>) {
        let f = match s {
            Selection::One { route, id } => ParkedFilter {
                route: Some(route.clone()),
                ids: vec![id.clone()],
                ..ParkedFilter::default()
            },
            Selection::All => ParkedFilter::default(),
            Selection::Filter(f) => f.clone(),
        };
        self.filter(&f, true)
    }
}

/// The table-name prefix: `.` and `-` become `_`.
fn table_prefix(prefix: &str) -> String {
    prefix.replace(['.', '-'], "_")
}

/// Escapes `\`, `%` and `_` for a `LIKE … ESCAPE '\'` pattern.
fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn micros(us: i64) -> Result<Timestamp, BusError> {
    Timestamp::from_microsecond(us)
        .map_err(|e| BusError::Store(format!("time {us} µs out of range: {e}")))
}

/// Headers as stored (JSON object of strings).
pub(crate) fn encode_headers(headers: &BTreeMap<String, String>) -> String {
    // A map of strings always serializes.
    serde_json::to_string(headers).unwrap_or_else(|_| "{}".into())
}

/// Headers as read back.
pub(crate) fn decode_headers(json: &str) -> Result<BTreeMap<String, String>, BusError> {
    serde_json::from_str(json).map_err(|e| BusError::Store(format!("stored headers: {e}")))
}

fn checked_limit(limit: u32) -> i64 {
    i64::from(limit.min(MAX_PAGE))
}

impl Store {
    /// Opens (creating tables if missing) the store at `url`: `sqlite://PATH?mode=rwc` or
    /// `postgres://…`; table names start with `prefix`.
    pub async fn open(url: &str, prefix: &str) -> Result<Store, BusError> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| BusError::Config(format!("store url: {e}")))?
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options)
                .await
                .map_err(|e| unavailable("sqlite", e))?;
            Store::with_sqlite(pool, prefix).await
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .connect(url)
                .await
                .map_err(|e| unavailable("postgres", e))?;
            let store = Store {
                pool: Pool::Postgres(pool),
                sql: Arc::new(Sql::new(prefix, Dialect::Postgres)),
            };
            store.create_tables().await?;
            Ok(store)
        } else {
            Err(BusError::Config(
                "store url: expected sqlite://PATH?mode=rwc or postgres://…".into(),
            ))
        }
    }

    /// A store on an open SQLite pool (the embedded queue's own file), creating its tables.
    pub(crate) async fn with_sqlite(pool: SqlitePool, prefix: &str) -> Result<Store, BusError> {
        let store = Store {
            pool: Pool::Sqlite(pool),
            sql: Arc::new(Sql::new(prefix, Dialect::Sqlite)),
        };
        store.create_tables().await?;
        Ok(store)
    }

    async fn create_tables(&self) -> Result<(), BusError> {
        match &self.pool {
            Pool::Sqlite(pool) => {
                let mut tx = pool.begin().await.map_err(ctx(CREATE_TABLES))?;
                for stmt in self.sql.schema() {
                    sqlx::query(AssertSqlSafe(stmt))
                        .execute(&mut *tx)
                        .await
                        .map_err(ctx(CREATE_TABLES))?;
                }
                tx.commit().await.map_err(ctx(CREATE_TABLES))?;
            }
            Pool::Postgres(pool) => {
                // CREATE … IF NOT EXISTS races with itself on PostgreSQL (unique violation in
                // the catalog) when nodes start together: serialize on an advisory lock.
                let mut tx = pool.begin().await.map_err(ctx(CREATE_TABLES))?;
                sqlx::query("SELECT pg_advisory_xact_lock(7243901651)")
                    .execute(&mut *tx)
                    .await
                    .map_err(ctx(CREATE_TABLES))?;
                for stmt in self.sql.schema() {
                    sqlx::query(AssertSqlSafe(stmt))
                        .execute(&mut *tx)
                        .await
                        .map_err(ctx(CREATE_TABLES))?;
                }
                tx.commit().await.map_err(ctx(CREATE_TABLES))?;
            }
        }
        Ok(())
    }

    /// The SQLite pool, when the store is on SQLite.
    pub(crate) fn sqlite_pool(&self) -> Option<&SqlitePool> {
        match &self.pool {
            Pool::Sqlite(p) => Some(p),
            Pool::Postgres(_) => None,
        }
    }

    /// The name of the blob table.
    pub(crate) fn blobs_table(&self) -> &str {
        &self.sql.blobs
    }

    /// Stores a claim-check body under `id` (idempotent).
    pub async fn put_blob(&self, id: &str, body: &[u8]) -> Result<(), BusError> {
        let now = Timestamp::now().as_microsecond();
        on_pool!(self, pool => sqlx::query(AssertSqlSafe(self.sql.put_blob.as_str()))
            .bind(id)
            .bind(body)
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(ctx(format_args!("put claim-check body {id}")))?;
        Ok(())
    }

    /// Stores a claim-check body inside an open SQLite transaction (idempotent).
    pub(crate) async fn put_blob_on(
        &self,
        conn: &mut SqliteConnection,
        id: &str,
        body: &[u8],
    ) -> Result<(), BusError> {
        sqlx::query(AssertSqlSafe(self.sql.put_blob.as_str()))
            .bind(id)
            .bind(body)
            .bind(Timestamp::now().as_microsecond())
            .execute(&mut *conn)
            .await
            .map_err(ctx(format_args!("put claim-check body {id}")))?;
        Ok(())
    }

    /// The claim-check body `id`, `None` when missing.
    pub async fn get_blob(&self, id: &str) -> Result<Option<Bytes>, BusError> {
        let body: Option<Vec<u8>> = on_pool!(self, pool => {
            sqlx::query_scalar(AssertSqlSafe(self.sql.get_blob.as_str()))
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(ctx(format_args!("get claim-check body {id}")))?
        });
        Ok(body.map(Bytes::from))
    }

    /// Deletes a claim-check body (idempotent).
    pub async fn delete_blob(&self, id: &str) -> Result<(), BusError> {
        on_pool!(self, pool => sqlx::query(AssertSqlSafe(self.sql.delete_blob.as_str()))
            .bind(id)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(ctx(format_args!("delete claim-check body {id}")))?;
        Ok(())
    }

    /// Deletes a claim-check body inside an open SQLite transaction (idempotent).
    pub(crate) async fn delete_blob_on(
        &self,
        conn: &mut SqliteConnection,
        id: &str,
    ) -> Result<(), BusError> {
        sqlx::query(AssertSqlSafe(self.sql.delete_blob.as_str()))
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(ctx(format_args!("delete claim-check body {id}")))?;
        Ok(())
    }

    /// Parks a message (idempotent on route + id: parking again overwrites and sets it back to
    /// `parked`). `body` is `None` when the body is claim-checked (`message.claim`).
    pub async fn park(&self, message: &ParkedMessage, body: Option<&[u8]>) -> Result<(), BusError> {
        let headers = encode_headers(&message.headers);
        on_pool!(self, pool => bind_parked!(
                sqlx::query(AssertSqlSafe(self.sql.park.as_str())),
                message,
                headers.as_str(),
                body
            )
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(ctx(format_args!(
            "park parked message {}/{}",
            message.route, message.id
        )))?;
        Ok(())
    }

    /// Parks a message inside an open SQLite transaction (see [`Store::park`]).
    pub(crate) async fn park_on(
        &self,
        conn: &mut SqliteConnection,
        message: &ParkedMessage,
        body: Option<&[u8]>,
    ) -> Result<(), BusError> {
        let headers = encode_headers(&message.headers);
        bind_parked!(
            sqlx::query(AssertSqlSafe(self.sql.park.as_str())),
            message,
            headers.as_str(),
            body
        )
        .execute(&mut *conn)
        .await
        .map_err(ctx(format_args!(
            "park parked message {}/{}",
            message.route, message.id
        )))?;
        Ok(())
    }

    /// Parked messages matching the filter, newest first.
    pub async fn list_parked(&self, filter: &ParkedFilter) -> Result<Vec<ParkedMessage>, BusError> {
        let (cond, args) = self.sql.filter(filter, false);
        let n = args.len();
        // The body is not needed for a listing: select NULL in its place.
        let columns = PARKED_COLUMNS.replace(" body,", " NULL AS body,");
        let sql = format!(
            "SELECT {columns} FROM {}{cond} ORDER BY parked_at DESC, route DESC, id DESC \
             LIMIT ${} OFFSET ${}",
            self.sql.parked,
            n + 1,
            n + 2
        );
        let limit = checked_limit(filter.limit);
        let offset = i64::from(filter.offset);
        let mut out = Vec::new();
        on_pool!(self, pool => {
            let rows = bind_args!(sqlx::query(AssertSqlSafe(sql)), args)
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await
                .map_err(ctx("list parked messages"))?;
            for row in &rows {
                out.push(parked_from_row!(row).0);
            }
        });
        Ok(out)
    }

    /// Messages still parked on a route.
    pub async fn parked_count(&self, route: &str) -> Result<u64, BusError> {
        let n: i64 = on_pool!(self, pool => {
            sqlx::query_scalar(AssertSqlSafe(self.sql.parked_count.as_str()))
                .bind(route)
                .fetch_one(pool)
                .await
                .map_err(ctx(format_args!("count parked messages of {route}")))?
        });
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The still-parked messages of a selection parked before `parked_before`, with their
    /// bodies (claim-checked ones come with an empty body and `claim` set), oldest first, at
    /// most `limit`.
    ///
    /// A replay passes the time it started as `parked_before`: a message it publishes that
    /// fails and is parked again meanwhile is not selected again by the same replay (which
    /// would otherwise loop on it), and stays parked for the operator.
    pub async fn select_parked(
        &self,
        selection: &Selection,
        limit: u32,
        parked_before: Timestamp,
    ) -> Result<Vec<(ParkedMessage, Bytes)>, BusError> {
        let (sql, args) = self.select_sql(selection, parked_before, None);
        let mut out = Vec::new();
        on_pool!(self, pool => {
            let rows = bind_args!(sqlx::query(AssertSqlSafe(sql)), args)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .map_err(ctx("select parked messages"))?;
            for row in &rows {
                let (m, body) = parked_from_row!(row);
                out.push((m, body.map(Bytes::from).unwrap_or_default()));
            }
        });
        Ok(out)
    }

    /// [`Store::select_parked`] inside an open SQLite transaction, from after `after` (the last
    /// row of the previous page: its parked_at, route and id) in the page order.
    pub(crate) async fn select_parked_on(
        &self,
        conn: &mut SqliteConnection,
        selection: &Selection,
        limit: u32,
        parked_before: Timestamp,
        after: Option<&PageCursor>,
    ) -> Result<Vec<(ParkedMessage, Bytes)>, BusError> {
        let (sql, args) = self.select_sql(selection, parked_before, after);
        let rows = bind_args!(sqlx::query(AssertSqlSafe(sql)), args)
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await
            .map_err(ctx("select parked messages"))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let (m, body) = parked_from_row!(row);
            out.push((m, body.map(Bytes::from).unwrap_or_default()));
        }
        Ok(out)
    }

    fn select_sql(
        &self,
        selection: &Selection,
        parked_before: Timestamp,
        after: Option<&PageCursor>,
    ) -> (String, Vec<Arg>) {
        let (cond, mut args) = self.sql.selection(selection);
        args.push(Arg::Int(parked_before.as_microsecond()));
        let mut extra = format!("parked_at < ${}", args.len());
        if let Some(c) = after {
            // (parked_at, route, id) > the cursor, spelled out for both dialects.
            let n = args.len();
            args.push(Arg::Int(c.parked_at.as_microsecond()));
            args.push(Arg::Text(c.route.clone()));
            args.push(Arg::Text(c.id.clone()));
            let (t, r, i) = (n + 1, n + 2, n + 3);
            extra.push_str(&format!(
                " AND (parked_at > ${t} OR (parked_at = ${t} AND (route > ${r} \
                 OR (route = ${r} AND id > ${i}))))"
            ));
        }
        let cond = if cond.is_empty() {
            format!(" WHERE {extra}")
        } else {
            format!("{cond} AND {extra}")
        };
        let sql = format!(
            "SELECT {PARKED_COLUMNS} FROM {}{cond} ORDER BY parked_at, route, id LIMIT ${}",
            self.sql.parked,
            args.len() + 1
        );
        (sql, args)
    }

    /// Marks one parked message replayed by `operator`, only if it is still parked **and**
    /// still the parking that was selected (`parked_at` as read by [`Store::select_parked`]):
    /// a message parked again since (its replay failed again) stays parked. Whether a row
    /// changed.
    pub async fn mark_replayed(
        &self,
        route: &str,
        id: &str,
        operator: &str,
        parked_at: Timestamp,
    ) -> Result<bool, BusError> {
        let now = Timestamp::now().as_microsecond();
        let done =
            on_pool!(self, pool => sqlx::query(AssertSqlSafe(self.sql.mark_replayed.as_str()))
            .bind(route)
            .bind(id)
            .bind(operator)
            .bind(now)
            .bind(parked_at.as_microsecond())
            .execute(pool)
            .await
            .map(|d| d.rows_affected()))
            .map_err(ctx(format_args!(
                "mark parked message {route}/{id} replayed"
            )))?;
        Ok(done > 0)
    }

    /// [`Store::mark_replayed`] inside an open SQLite transaction; whether a row changed.
    pub(crate) async fn mark_replayed_on(
        &self,
        conn: &mut SqliteConnection,
        route: &str,
        id: &str,
        operator: &str,
        parked_at: Timestamp,
    ) -> Result<bool, BusError> {
        let done = sqlx::query(AssertSqlSafe(self.sql.mark_replayed.as_str()))
            .bind(route)
            .bind(id)
            .bind(operator)
            .bind(Timestamp::now().as_microsecond())
            .bind(parked_at.as_microsecond())
            .execute(&mut *conn)
            .await
            .map_err(ctx(format_args!(
                "mark parked message {route}/{id} replayed"
            )))?;
        Ok(done.rows_affected() > 0)
    }

    /// Marks the selected parked messages discarded (kept for audit, claim-check bodies
    /// deleted). Returns how many.
    pub async fn discard(
        &self,
        selection: &Selection,
        operator: &str,
        reason: &str,
    ) -> Result<u64, BusError> {
        const DISCARD: &str = "discard parked messages";
        let (cond, args) = self.sql.selection(selection);
        let n = args.len();
        let parked = &self.sql.parked;
        let blobs = &self.sql.blobs;
        // The blob ids first (same condition), then the update that returns how many.
        let delete_blobs = format!(
            "DELETE FROM {blobs} WHERE id IN (SELECT claim FROM {parked}{cond} \
             {} claim IS NOT NULL)",
            if cond.is_empty() { "WHERE" } else { "AND" }
        );
        let update = format!(
            "UPDATE {parked} SET status = 'discarded', resolved_by = ${}, resolved_at = ${}, \
             resolution_reason = ${}{cond}",
            n + 1,
            n + 2,
            n + 3
        );
        // Rebuild the arguments for the second statement (they are consumed by binding).
        let (_, args2) = self.sql.selection(selection);
        let now = Timestamp::now().as_microsecond();
        let count = on_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(ctx(DISCARD))?;
            bind_args!(sqlx::query(AssertSqlSafe(delete_blobs)), args)
                .execute(&mut *tx)
                .await
                .map_err(ctx(DISCARD))?;
            let done = bind_args!(sqlx::query(AssertSqlSafe(update)), args2)
                .bind(operator)
                .bind(now)
                .bind(reason)
                .execute(&mut *tx)
                .await
                .map_err(ctx(DISCARD))?;
            tx.commit().await.map_err(ctx(DISCARD))?;
            done.rows_affected()
        });
        tracing::info!(operator, count, "bus store: discarded parked messages");
        Ok(count)
    }
}

/// Adds the operation to a SQL error: `put claim-check body: database is locked`.
pub(crate) fn ctx(op: impl std::fmt::Display) -> impl FnOnce(sqlx::Error) -> BusError {
    move |e| BusError::Store(format!("{op}: {e}"))
}

fn unavailable(what: &'static str, e: sqlx::Error) -> BusError {
    BusError::Store(format!("cannot open the {what} store: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_are_escaped() {
        assert_eq!(escape_like("a%b_c\\d"), "a\\%b\\_c\\\\d");
        assert_eq!(table_prefix("t.x-y"), "t_x_y");
    }

    #[test]
    fn filters_number_their_placeholders() {
        let sql = Sql::new("p", Dialect::Sqlite);
        let f = ParkedFilter {
            route: Some("r".into()),
            ids: vec!["a".into(), "b".into()],
            reason_contains: Some("X".into()),
            ..ParkedFilter::default()
        };
        let (cond, args) = sql.filter(&f, false);
        assert_eq!(
            cond,
            " WHERE route = $1 AND LOWER(reason) LIKE LOWER($2) ESCAPE '\\' AND status = $3 \
             AND id IN ($4, $5)"
        );
        assert_eq!(args.len(), 5);
    }
}
