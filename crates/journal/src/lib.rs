//! The journal of lienthong: what the gateway knows and did, in a database.
//!
//! * **Dossier state** ([`state`]): per dossier the latest version received (the desired
//!   state, with its body), the latest version the portal acknowledged, whether the portal
//!   knows the dossier (insert or update), and per progress step whether the portal
//!   acknowledged it. Routes reconcile the portal towards this state, so the order in which
//!   bus messages arrive does not matter.
//! * **Outbox** ([`outbox`]): a state change and the work item it causes are written in one
//!   transaction; a relay hands work items to whatever [`outbox::OutboxSink`] the binary wires
//!   (the bus) and marks them handed over; a sweeper re-creates work for dossiers whose
//!   desired state stayed ahead of the portal for too long.
//! * **Idempotency keys** ([`idempotency`]): a duplicate submission gets the original answer.
//! * **Message log** ([`messages`]): every message in and out, bodies by retention, personal
//!   data encrypted at rest ([`crypto`]), search, a dossier timeline, purge in small batches.
//! * **Portal submissions** ([`portal`]): dossiers citizens submitted on the national portal,
//!   their delivery to the provincial system and the last status reported back.
//! * **Documents over the axis** ([`edocs`]): edXML documents and status messages sent to
//!   and received from the national document exchange axis (VDXP), each with its work item;
//!   a durable send intent so a crash never sends a document twice unnoticed; statuses
//!   correlated with the documents they are about; delivery to the document system; named
//!   leases for a single active poller across nodes.
//! * **Agency directory** ([`agencies`]): the axis's agencies, merged from its lists, and
//!   their old codes (from the axis and from configuration) resolved to current ones.
//! * **Audit log** ([`audit`]): every state-changing operator action — who, what, when,
//!   why.
//! * **Statistics** ([`stats`]): the centre's report per period, agency and department
//!   (formulas in `docs/statistics.md`).
//!
//! Two backends behind one API: SQLite (default, a file) and PostgreSQL (several gateway
//! nodes). Queries are plain SQL checked at run time through sqlx's `Any` driver; the two
//! dialects have their own migration directories (`migrations/sqlite`,
//! `migrations/postgres`), embedded at compile time without a database, and a test keeps
//! the two schemas equivalent ([`schema`]).

pub mod agencies;
pub mod audit;
pub mod crypto;
pub mod edocs;
mod error;
pub mod idempotency;
pub mod messages;
pub mod outbox;
pub mod portal;
pub mod schema;
pub mod state;
pub mod stats;
mod time;

pub use crypto::{Key, PersonalData, Reveal};
pub use error::{Blame, JournalError, Result};

use crypto::Protector;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Executor, SqlSafeStr};
use std::path::Path;
use std::time::Duration;

/// The migrations of each dialect, embedded at compile time (no database needed to
/// build): (version, description, SQL). Keep the two lists in step.
const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "journal",
        include_str!("../migrations/sqlite/0001_journal.sql"),
    ),
    (
        2,
        "audit",
        include_str!("../migrations/sqlite/0002_audit.sql"),
    ),
    (
        3,
        "portal",
        include_str!("../migrations/sqlite/0003_portal.sql"),
    ),
    (
        4,
        "edocs",
        include_str!("../migrations/sqlite/0004_edocs.sql"),
    ),
];
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "journal",
        include_str!("../migrations/postgres/0001_journal.sql"),
    ),
    (
        2,
        "audit",
        include_str!("../migrations/postgres/0002_audit.sql"),
    ),
    (
        3,
        "portal",
        include_str!("../migrations/postgres/0003_portal.sql"),
    ),
    (
        4,
        "edocs",
        include_str!("../migrations/postgres/0004_edocs.sql"),
    ),
];

fn migrator(list: &'static [(i64, &'static str, &'static str)]) -> Migrator {
    Migrator::with_migrations(
        list.iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    (*description).into(),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// The database behind a journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file (one gateway node).
    Sqlite,
    /// A PostgreSQL database (several gateway nodes).
    Postgres,
}

impl Backend {
    /// The backend a URL names: `sqlite:` or `postgres:` / `postgresql:`.
    pub fn of_url(url: &str) -> Result<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(JournalError::Config(format!(
                "journal URL must start with sqlite: or postgres:, found {:?}",
                url.split(':').next().unwrap_or("")
            )))
        }
    }
}

/// How to open a journal.
#[derive(Debug, Clone)]
pub struct JournalOptions {
    /// `sqlite://data/lienthong.db` (the file and its directory are created) or
    /// `postgres://user@host/db`.
    pub url: String,
    /// Connection pool size (SQLite: readers; writes are serialised by SQLite).
    pub max_connections: u32,
    /// Personal data in stored bodies.
    pub personal_data: PersonalData,
    /// How long message bodies are kept.
    pub body_retention: jiff::SignedDuration,
    /// Whether to apply pending migrations on open (otherwise a schema that is behind is
    /// an error).
    pub migrate: bool,
}

impl JournalOptions {
    /// Defaults for a URL: 8 connections, bodies kept 30 days, migrations applied, no
    /// personal fields configured.
    pub fn new(url: impl Into<String>) -> JournalOptions {
        JournalOptions {
            url: url.into(),
            max_connections: 8,
            personal_data: PersonalData::default(),
            body_retention: jiff::SignedDuration::from_hours(24 * 30),
            migrate: true,
        }
    }
}

/// An open journal. Cheap to clone (a pool handle).
#[derive(Debug, Clone)]
pub struct Journal {
    pub(crate) pool: AnyPool,
    /// Woken after every commit that wrote a work item (the relay waits on it).
    pub(crate) work: std::sync::Arc<tokio::sync::Notify>,
    /// The message log's group commit.
    pub(crate) log_group: std::sync::Arc<messages::LogGroup>,
    pub(crate) backend: Backend,
    pub(crate) protector: Protector,
    pub(crate) body_retention: jiff::SignedDuration,
}

impl Journal {
    /// Resolves once a work item has been committed through this handle (or one of its
    /// clones) since the last time it resolved: the relay waits on it instead of only
    /// polling, so new work is handed over at once. Work written by another process or
    /// node is not seen here; the relay's polling finds it.
    pub async fn work_written(&self) {
        self.work.notified().await;
    }

    /// Called after each commit that wrote a work item. A stored permit wakes the next
    /// waiter, so a commit between two waits is not missed.
    pub(crate) fn work_committed(&self) {
        self.work.notify_one();
    }

    /// Opens (and by default migrates) the journal.
    pub async fn open(opts: &JournalOptions) -> Result<Journal> {
        install_default_drivers();
        let backend = Backend::of_url(&opts.url)?;
        let url = match backend {
            Backend::Sqlite => sqlite_url(&opts.url)?,
            Backend::Postgres => opts.url.clone(),
        };
        let mut pool_opts = AnyPoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .acquire_timeout(Duration::from_secs(30));
        if backend == Backend::Sqlite {
            pool_opts = pool_opts.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA busy_timeout = 30000;",
                    )
                    .await?;
                    Ok(())
                })
            });
        }
        let pool = pool_opts.connect(&url).await.map_err(|e| match e {
            sqlx::Error::Configuration(c) => JournalError::Config(c.to_string()),
            other => JournalError::from(other),
        })?;
        let journal = Journal {
            pool,
            backend,
            protector: Protector::new(&opts.personal_data),
            body_retention: opts.body_retention,
            work: std::sync::Arc::default(),
            log_group: std::sync::Arc::default(),
        };
        if opts.migrate {
            journal.migrator().run(&journal.pool).await?;
        } else {
            // Refuse a schema that is behind: queries would fail in confusing ways.
            let applied: Vec<i64> =
                sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                    .fetch_all(&journal.pool)
                    .await
                    .unwrap_or_default();
            if let Some(m) = journal
                .migrator()
                .iter()
                .find(|m| !applied.contains(&m.version))
            {
                return Err(JournalError::Config(format!(
                    "journal schema is behind: migration {} ({}) not applied",
                    m.version, m.description
                )));
            }
        }
        tracing::debug!(backend = ?backend, "journal open");
        Ok(journal)
    }

    /// How long message bodies are kept.
    pub fn body_retention(&self) -> jiff::SignedDuration {
        self.body_retention
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn migrator(&self) -> Migrator {
        match self.backend {
            Backend::Sqlite => migrator(SQLITE_MIGRATIONS),
            Backend::Postgres => migrator(POSTGRES_MIGRATIONS),
        }
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A SQLite URL with the file's directory created and `mode=rwc` (create if missing).
fn sqlite_url(url: &str) -> Result<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    if path.is_empty() || path == ":memory:" {
        return Err(JournalError::Config(
            "an in-memory SQLite journal is not supported (each connection would see its own); \
             use a file"
                .into(),
        ));
    }
    if let Some(dir) = Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|e| {
            JournalError::Config(format!("cannot create the journal directory {dir:?}: {e}"))
        })?;
    }
    let query = match query {
        Some(q) if q.split('&').any(|kv| kv.starts_with("mode=")) => q.to_owned(),
        Some(q) => format!("{q}&mode=rwc"),
        None => "mode=rwc".to_owned(),
    };
    Ok(format!("sqlite://{path}?{query}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(Backend::of_url("sqlite://x.db").ok(), Some(Backend::Sqlite));
        assert_eq!(
            Backend::of_url("postgresql://h/db").ok(),
            Some(Backend::Postgres)
        );
        assert!(Backend::of_url("mysql://h/db").is_err());
        let dir = std::env::temp_dir().join(format!("lt-url-{}", std::process::id()));
        let u = sqlite_url(&format!("sqlite://{}/j.db", dir.display())).expect("url");
        assert!(u.ends_with("/j.db?mode=rwc"), "{u}");
        assert!(dir.is_dir());
        assert!(sqlite_url("sqlite::memory:").is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
