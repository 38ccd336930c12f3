//! Journal errors: who is at fault and whether retrying can help.

use std::fmt;

/// Who has to act for a failed journal operation to succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The caller: a request the journal refuses (bad input, a conflicting idempotency key).
    Caller,
    /// The operator: configuration (URL, key, retention) is wrong.
    Configuration,
    /// The database: unreachable, busy, out of connections, or failing a statement.
    Database,
    /// Stored data does not read back (corrupt row, wrong key, foreign schema).
    StoredData,
}

impl fmt::Display for Blame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Blame::Caller => "caller fault",
            Blame::Configuration => "configuration fault",
            Blame::Database => "database fault",
            Blame::StoredData => "stored data fault",
        })
    }
}

/// A failed journal operation.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The configuration is unusable (bad URL, bad key, …).
    #[error("journal configuration: {0}")]
    Config(String),
    /// The database could not be reached or was busy; retrying later can help.
    #[error("journal database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// A statement failed for another reason.
    #[error("journal database error: {0}")]
    Database(#[source] sqlx::Error),
    /// Applying the schema migrations failed.
    #[error("journal migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value does not read back.
    #[error("journal data unreadable: {0}")]
    Corrupt(String),
    /// Encrypting or decrypting personal data failed (wrong key, tampered value).
    #[error("personal data encryption: {0}")]
    Crypto(String),
    /// The caller's request is refused.
    #[error("journal request refused: {0}")]
    Invalid(String),
    /// The message log's group commit that held this entry failed (the writer's error).
    #[error("journal database error (message log, written with others): {0}")]
    Grouped(String),
}

impl JournalError {
    /// Who has to act.
    pub fn blame(&self) -> Blame {
        match self {
            JournalError::Config(_) => Blame::Configuration,
            JournalError::Unavailable(_)
            | JournalError::Database(_)
            | JournalError::Migrate(_)
            | JournalError::Grouped(_) => Blame::Database,
            JournalError::Corrupt(_) => Blame::StoredData,
            JournalError::Crypto(_) => Blame::StoredData,
            JournalError::Invalid(_) => Blame::Caller,
        }
    }

    /// Whether the same call may succeed later without anyone changing anything.
    pub fn retryable(&self) -> bool {
        matches!(self, JournalError::Unavailable(_))
    }
}

impl From<sqlx::Error> for JournalError {
    fn from(e: sqlx::Error) -> Self {
        if is_transient(&e) {
            JournalError::Unavailable(e)
        } else {
            JournalError::Database(e)
        }
    }
}

/// Whether a database error is worth retrying: connection trouble, pool exhaustion,
/// SQLite's busy/locked, PostgreSQL's serialization failures and deadlocks.
fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code();
            let code = code.as_deref().unwrap_or("");
            // SQLite: 5 SQLITE_BUSY, 6 SQLITE_LOCKED and their extended codes (x + 256·n).
            let sqlite_busy = code
                .parse::<i64>()
                .map(|c| matches!(c & 0xff, 5 | 6))
                .unwrap_or(false);
            sqlite_busy || matches!(code, "40001" | "40P01" | "57P01" | "57P03" | "53300")
        }
        _ => false,
    }
}

/// Result of a journal operation.
pub type Result<T, E = JournalError> = std::result::Result<T, E>;
