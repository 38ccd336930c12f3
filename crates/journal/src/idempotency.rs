//! Idempotency keys: a duplicate submission gets the original answer.
//!
//! A submission is known by a key: the `Idempotency-Key` the client sent, or else one
//! derived from the client, the dossier code and the version ([`SubmissionKey`]). The first
//! submission with a key *begins* it ([`Journal::begin_submission`]) and, once answered,
//! *completes* it with the answer. A later submission with the same key and the same
//! request gets that answer back; with a different request it is refused
//! ([`Begin::Mismatch`]); while the first is still being handled it is told so
//! ([`Begin::InProgress`]), unless the first was abandoned for longer than the caller's
//! `stale_after` (its process died), in which case the new one takes over.

use crate::Journal;
use crate::error::Result;
use crate::state::sha256_hex;
use crate::time::us;
use jiff::{SignedDuration, Timestamp};
use sqlx::Row;

/// The key of a submission.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SubmissionKey(String);

impl SubmissionKey {
    /// The key a client sent (`Idempotency-Key` header), scoped to the client.
    pub fn from_header(client: &str, key: &str) -> SubmissionKey {
        SubmissionKey(format!(
            "h:{}:{}",
            client.len(),
            [client, key.trim()].concat()
        ))
    }

    /// The key derived from what is submitted: client, dossier code and version.
    pub fn for_version(client: &str, dossier_code: &str, version: u64) -> SubmissionKey {
        SubmissionKey(format!(
            "v:{}:{}:{}{dossier_code}",
            version,
            client.len(),
            client
        ))
    }

    /// The stored form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The answer given to the first submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    /// Status (HTTP status or the route's own code).
    pub status: u16,
    /// Body.
    pub body: Vec<u8>,
}

/// What to do with a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// First time: handle it, then [`Journal::complete_submission`].
    New,
    /// Seen and answered: give this answer again.
    Replay(StoredAnswer),
    /// Seen and still being handled: ask the client to retry later.
    InProgress,
    /// The key was used for a different request: refuse.
    Mismatch,
}

impl Journal {
    /// Begins a submission (see the module documentation).
    pub async fn begin_submission(
        &self,
        key: &SubmissionKey,
        request: &[u8],
        now: Timestamp,
        stale_after: SignedDuration,
    ) -> Result<Begin> {
        let hash = sha256_hex(request);
        let inserted = sqlx::query(
            "INSERT INTO idempotency (idem_key, request_sha256, state, created_at) \
             VALUES ($1, $2, 'pending', $3) ON CONFLICT (idem_key) DO NOTHING",
        )
        .bind(key.as_str())
        .bind(&hash)
        .bind(us(now))
        .execute(&self.pool)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(Begin::New);
        }
        let Some(r) = sqlx::query(
            "SELECT request_sha256, state, created_at, answer_status, answer_body \
             FROM idempotency WHERE idem_key = $1",
        )
        .bind(key.as_str())
        .fetch_optional(&self.pool)
        .await?
        else {
            // Purged between the two statements: treat as new next time.
            return Ok(Begin::InProgress);
        };
        let stored_hash: String = r.try_get(0)?;
        if stored_hash != hash {
            return Ok(Begin::Mismatch);
        }
        let state: String = r.try_get(1)?;
        if state == "done" {
            let status: Option<i64> = r.try_get(3)?;
            let body: Option<Vec<u8>> = r.try_get(4)?;
            return Ok(Begin::Replay(StoredAnswer {
                status: status.unwrap_or(0).clamp(0, i64::from(u16::MAX)) as u16,
                body: body.unwrap_or_default(),
            }));
        }
        let created: i64 = r.try_get(2)?;
        let stale_before = us(now.saturating_sub(stale_after).unwrap_or(now));
        if created < stale_before {
            let taken = sqlx::query(
                "UPDATE idempotency SET created_at = $3 \
                 WHERE idem_key = $1 AND state = 'pending' AND created_at = $2",
            )
            .bind(key.as_str())
            .bind(created)
            .bind(us(now))
            .execute(&self.pool)
            .await?
            .rows_affected();
            if taken == 1 {
                return Ok(Begin::New);
            }
        }
        Ok(Begin::InProgress)
    }

    /// Stores the answer to a submission begun with [`Journal::begin_submission`].
    pub async fn complete_submission(
        &self,
        key: &SubmissionKey,
        status: u16,
        body: &[u8],
        now: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE idempotency SET state = 'done', completed_at = $2, answer_status = $3, \
             answer_body = $4 WHERE idem_key = $1",
        )
        .bind(key.as_str())
        .bind(us(now))
        .bind(i64::from(status))
        .bind(body)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets a pending submission that failed before an answer worth repeating (the
    /// client may submit again).
    pub async fn abandon_submission(&self, key: &SubmissionKey) -> Result<()> {
        sqlx::query("DELETE FROM idempotency WHERE idem_key = $1 AND state = 'pending'")
            .bind(key.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes up to `batch` keys created before `before`; call until it returns 0.
    pub async fn purge_submissions(&self, before: Timestamp, batch: u32) -> Result<u64> {
        Ok(sqlx::query(
            "DELETE FROM idempotency WHERE idem_key IN (SELECT idem_key FROM idempotency \
             WHERE created_at < $1 LIMIT $2)",
        )
        .bind(us(before))
        .bind(i64::from(batch.max(1)))
        .execute(&self.pool)
        .await?
        .rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_do_not_collide_across_clients_and_forms() {
        assert_ne!(
            SubmissionKey::from_header("ab", "c"),
            SubmissionKey::from_header("a", "bc")
        );
        assert_ne!(
            SubmissionKey::for_version("a", "X", 1),
            SubmissionKey::for_version("a", "X", 11)
        );
        assert_ne!(
            SubmissionKey::for_version("a1", "X", 1).as_str(),
            SubmissionKey::for_version("a", "1X", 1).as_str()
        );
        assert_ne!(
            SubmissionKey::from_header("a", "k").as_str(),
            SubmissionKey::for_version("a", "k", 0).as_str()
        );
    }
}
