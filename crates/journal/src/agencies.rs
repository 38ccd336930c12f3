//! The agency directory of the national document exchange axis: who can be sent to, under
//! which code.
//!
//! The axis describes agencies in several lists (`getAgenciesList` with `oldCode`,
//! `getAgenciesListQD20` with `code102`, `getSynchronizeUnit` with versions and deletions),
//! none of them complete. [`Journal::upsert_agencies`] merges a list into the directory by
//! code, never forgetting a value an earlier list knew, and records an agency's other codes
//! (`oldCode`, `code102`) as aliases of its code (source `axis`). Units merged by a
//! reorganisation come from configuration ([`Journal::set_config_aliases`], source
//! `config`), which wins over the axis. [`Journal::resolve_agency`] turns a code someone
//! wrote into the agency to send to.

use crate::Journal;
use crate::edocs::like_escape;
use crate::error::{JournalError, Result};
use crate::time::{ts, us};
use jiff::Timestamp;
use sqlx::Row;

/// Source of the aliases the axis's lists give (`oldCode`, `code102`).
pub const ALIAS_SOURCE_AXIS: &str = "axis";
/// Source of the aliases configuration gives (merged units).
pub const ALIAS_SOURCE_CONFIG: &str = "config";
/// How many aliases [`Journal::resolve_agency`] follows at most.
pub const MAX_ALIAS_HOPS: usize = 8;

/// One agency as one of the axis's lists describes it (`None`: the list does not say).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgencyRow {
    /// Its current code.
    pub code: String,
    /// Name.
    pub name: Option<String>,
    /// Mail address.
    pub mail: Option<String>,
    /// `pid` (parent) as the axis gives it.
    pub pid: Option<String>,
    /// Its old code (`oldCode`).
    pub old_code: Option<String>,
    /// Its code in the QCVN 102 system (`code102`).
    pub code102: Option<String>,
    /// Level.
    pub level: Option<i64>,
    /// `centerCode`.
    pub center_code: Option<String>,
    /// `isAgency`.
    pub is_agency: Option<bool>,
    /// Whether the axis deleted it (a list that does not say gives `false`).
    pub deleted: bool,
    /// The axis's version of the entry.
    pub version: Option<i64>,
    /// `modifyDate` as the axis wrote it.
    pub modified: Option<String>,
}

/// One agency of the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgencyRecord {
    /// Its current code.
    pub code: String,
    /// Name.
    pub name: Option<String>,
    /// Mail address.
    pub mail: Option<String>,
    /// `pid` (parent).
    pub pid: Option<String>,
    /// Its old code.
    pub old_code: Option<String>,
    /// Its QCVN 102 code.
    pub code102: Option<String>,
    /// Level.
    pub level: Option<i64>,
    /// `centerCode`.
    pub center_code: Option<String>,
    /// `isAgency`.
    pub is_agency: Option<bool>,
    /// Whether the axis deleted it.
    pub deleted: bool,
    /// The axis's version of the entry.
    pub version: Option<i64>,
    /// `modifyDate` as the axis wrote it.
    pub modified: Option<String>,
    /// The list that last wrote it.
    pub source: String,
    /// When it was last written.
    pub synced_at: Timestamp,
}

/// What a code stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// A current agency of the directory.
    Current(AgencyRecord),
    /// An old code (or one of a merged unit): the agency it stands for now.
    Renamed {
        /// The code looked up (trimmed).
        from: String,
        /// The agency it leads to.
        to: AgencyRecord,
    },
    /// Neither an agency nor an alias leading to one.
    Unknown,
}

const COLUMNS: &str = "code, name, mail, pid, old_code, code102, level, center_code, is_agency, \
    deleted, version, modified, source, synced_at";

fn agency_of(r: &sqlx::any::AnyRow) -> Result<AgencyRecord> {
    Ok(AgencyRecord {
        code: r.try_get(0)?,
        name: r.try_get(1)?,
        mail: r.try_get(2)?,
        pid: r.try_get(3)?,
        old_code: r.try_get(4)?,
        code102: r.try_get(5)?,
        level: r.try_get(6)?,
        center_code: r.try_get(7)?,
        is_agency: r.try_get::<Option<i64>, _>(8)?.map(|v| v != 0),
        deleted: r.try_get::<i64, _>(9)? != 0,
        version: r.try_get(10)?,
        modified: r.try_get(11)?,
        source: r.try_get(12)?,
        synced_at: ts(r.try_get(13)?)?,
    })
}

/// A code as stored: trimmed, `None` when empty.
fn code_of(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl Journal {
    /// Merges one of the axis's lists into the directory, in one transaction: by code, a
    /// value the list gives replaces the stored one, a value it does not give (`None`)
    /// keeps the stored one; `deleted`, the source and the sync time are always the list's.
    /// An agency's `old_code` and `code102`, when they differ from its code, become aliases
    /// of it (source `axis`). Returns how many agencies were written.
    pub async fn upsert_agencies(
        &self,
        rows: &[AgencyRow],
        source: &str,
        now: Timestamp,
    ) -> Result<u64> {
        let at = us(now);
        let mut tx = self.pool.begin().await?;
        let mut written = 0;
        for a in rows {
            let code = a.code.trim();
            if code.is_empty() {
                return Err(JournalError::Invalid("agency without a code".into()));
            }
            let old_code = code_of(&a.old_code);
            let code102 = code_of(&a.code102);
            written += sqlx::query(
                "INSERT INTO agency (code, name, mail, pid, old_code, code102, level, \
                   center_code, is_agency, deleted, version, modified, source, synced_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                 ON CONFLICT (code) DO UPDATE SET \
                   name = COALESCE(excluded.name, agency.name), \
                   mail = COALESCE(excluded.mail, agency.mail), \
                   pid = COALESCE(excluded.pid, agency.pid), \
                   old_code = COALESCE(excluded.old_code, agency.old_code), \
                   code102 = COALESCE(excluded.code102, agency.code102), \
                   level = COALESCE(excluded.level, agency.level), \
                   center_code = COALESCE(excluded.center_code, agency.center_code), \
                   is_agency = COALESCE(excluded.is_agency, agency.is_agency), \
                   deleted = excluded.deleted, \
                   version = COALESCE(excluded.version, agency.version), \
                   modified = COALESCE(excluded.modified, agency.modified), \
                   source = excluded.source, synced_at = excluded.synced_at",
            )
            .bind(code)
            .bind(a.name.as_deref())
            .bind(a.mail.as_deref())
            .bind(a.pid.as_deref())
            .bind(old_code.as_deref())
            .bind(code102.as_deref())
            .bind(a.level)
            .bind(a.center_code.as_deref())
            .bind(a.is_agency.map(i64::from))
            .bind(i64::from(a.deleted))
            .bind(a.version)
            .bind(a.modified.as_deref())
            .bind(source)
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            for alias in [old_code, code102].into_iter().flatten() {
                if alias == code {
                    continue;
                }
                sqlx::query(
                    "INSERT INTO agency_alias (alias, code, source) VALUES ($1, $2, $3) \
                     ON CONFLICT (alias, source) DO UPDATE SET code = excluded.code",
                )
                .bind(alias)
                .bind(code)
                .bind(ALIAS_SOURCE_AXIS)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        tracing::debug!(source, written, "agency directory merged");
        Ok(written)
    }

    /// Replaces every configured alias (source `config`) by `aliases` (old code, current
    /// code), in one transaction.
    pub async fn set_config_aliases(&self, aliases: &[(String, String)]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM agency_alias WHERE source = $1")
            .bind(ALIAS_SOURCE_CONFIG)
            .execute(&mut *tx)
            .await?;
        for (old, new) in aliases {
            let (old, new) = (old.trim(), new.trim());
            if old.is_empty() || new.is_empty() {
                return Err(JournalError::Invalid(format!(
                    "agency alias {old:?} -> {new:?}: empty code"
                )));
            }
            if old == new {
                continue;
            }
            sqlx::query(
                "INSERT INTO agency_alias (alias, code, source) VALUES ($1, $2, $3) \
                 ON CONFLICT (alias, source) DO UPDATE SET code = excluded.code",
            )
            .bind(old)
            .bind(new)
            .bind(ALIAS_SOURCE_CONFIG)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn agency_row(&self, code: &str) -> Result<Option<AgencyRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM agency WHERE code = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(code)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(agency_of).transpose()
    }

    /// What a code (trimmed) stands for: a current agency; else, following aliases (a
    /// configured one before the axis's, at most [`MAX_ALIAS_HOPS`], never in a loop) past
    /// unknown and deleted codes, the first current agency reached; else unknown.
    pub async fn resolve_agency(&self, code: &str) -> Result<Resolved> {
        let from = code.trim();
        if from.is_empty() {
            return Ok(Resolved::Unknown);
        }
        if let Some(a) = self.agency_row(from).await?
            && !a.deleted
        {
            return Ok(Resolved::Current(a));
        }
        let mut seen = vec![from.to_owned()];
        let mut current = from.to_owned();
        for _ in 0..MAX_ALIAS_HOPS {
            let next: Option<String> = sqlx::query_scalar(
                "SELECT code FROM agency_alias WHERE alias = $1 \
                 ORDER BY CASE WHEN source = $2 THEN 0 ELSE 1 END, source LIMIT 1",
            )
            .bind(&current)
            .bind(ALIAS_SOURCE_CONFIG)
            .fetch_optional(&self.pool)
            .await?;
            let Some(next) = next else {
                break;
            };
            if seen.contains(&next) {
                tracing::warn!(code = from, alias = %next, "agency aliases form a loop");
                break;
            }
            if let Some(a) = self.agency_row(&next).await?
                && !a.deleted
            {
                return Ok(Resolved::Renamed {
                    from: from.to_owned(),
                    to: a,
                });
            }
            seen.push(next.clone());
            current = next;
        }
        Ok(Resolved::Unknown)
    }

    /// Agencies whose code, name, old code or QCVN 102 code contains `text` (trimmed), case
    /// ignored, plus the one whose code is `text`; deleted ones included; by code, at most
    /// `limit`. SQLite ignores case in ASCII letters only: a Vietnamese fragment matches
    /// there when written in the stored case.
    pub async fn search_agencies(&self, text: &str, limit: u32) -> Result<Vec<AgencyRecord>> {
        let text = text.trim();
        let lower = format!("%{}%", like_escape(&text.to_lowercase()));
        let exact_case = format!("%{}%", like_escape(text));
        let sql = format!(
            "SELECT {COLUMNS} FROM agency WHERE code = $1 \
               OR LOWER(code) LIKE $2 ESCAPE '\\' OR LOWER(name) LIKE $2 ESCAPE '\\' \
               OR LOWER(old_code) LIKE $2 ESCAPE '\\' OR LOWER(code102) LIKE $2 ESCAPE '\\' \
               OR name LIKE $3 ESCAPE '\\' \
             ORDER BY code LIMIT $4"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(text)
            .bind(lower)
            .bind(exact_case)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(agency_of).collect()
    }

    /// How many agencies the directory holds (deleted ones included).
    pub async fn agency_count(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM agency")
            .fetch_one(&self.pool)
            .await?;
        Ok(n.max(0) as u64)
    }
}
