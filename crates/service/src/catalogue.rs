//! The portal's procedure catalogue, cached: procedure names and fields (lĩnh vực) as
//! DVCQG knows them, for dossiers whose local systems do not send them.
//!
//! * The list (`LayDanhSachTTHC`: code and name of every procedure) is fetched at start and
//!   again every `dvcqg.catalogue_ttl_secs` by a background task ([`Catalogue::run`]); a
//!   failed refresh is retried after a minute (or the TTL, when shorter).
//! * A procedure's details (`LayThuTuc`: its name and fields) are fetched the first time the
//!   sync route needs them and kept for the same TTL.
//! * When the portal cannot be reached the cached copy is **served stale** — with a warning
//!   in the log and `"stale": true` on the admin API — rather than not at all; a failed
//!   detail fetch is not repeated for a minute, so a portal outage does not cost one extra
//!   call per work item.
//!
//! The sync route fills only what a dossier lacks (procedure name, field code and name);
//! what a local system sent is sent unchanged. `GET /v1/admin/catalogue` shows the cache.

use jiff::Timestamp;
use lienthong_dvcqg::client::DvcqgClient;
use lienthong_model::Dossier;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;

/// How long after a failed fetch the portal is asked again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(60);

/// A field (lĩnh vực) of a procedure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    /// `MALINHVUC`.
    pub code: String,
    /// `TENLINHVUC`.
    pub name: String,
}

/// A procedure as the portal describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Procedure {
    /// `MATTHC`.
    pub code: String,
    /// `TENTTHC` (empty when unknown).
    pub name: String,
    /// `LINHVUCTHUCHIEN`, once the details were fetched.
    pub fields: Option<Vec<Field>>,
    /// When the details were fetched.
    pub detailed_at: Option<Timestamp>,
    /// Whether the portal knows the procedure (`false`: `LayThuTuc` answered nothing).
    pub known: bool,
}

#[derive(Debug, Default)]
struct State {
    procedures: BTreeMap<String, Procedure>,
    listed_at: Option<Timestamp>,
    last_attempt: Option<Timestamp>,
    last_error: Option<String>,
    /// Per procedure code: when its last detail fetch failed.
    detail_failed: BTreeMap<String, Timestamp>,
}

/// The cached catalogue. See the [module documentation](self).
#[derive(Debug)]
pub struct Catalogue {
    client: DvcqgClient,
    ttl: Duration,
    state: Mutex<State>,
}

/// A text member, whatever the case of its name (`TENTTHC`, `TenTTHC`).
fn text(v: &Value, name: &str) -> Option<String> {
    let o = v.as_object()?;
    let x = o.get(name).or_else(|| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, x)| x)
    })?;
    match x {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
    .filter(|s| !s.is_empty())
}

fn missing(s: &Option<String>) -> bool {
    s.as_deref().is_none_or(|s| s.trim().is_empty())
}

fn age(since: Timestamp, now: Timestamp) -> Duration {
    Duration::try_from(now.duration_since(since)).unwrap_or(Duration::ZERO)
}

impl Catalogue {
    /// An empty cache over `client`, entries kept for `ttl`.
    pub fn new(client: DvcqgClient, ttl: Duration) -> Self {
        Catalogue {
            client,
            ttl,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Plain data: a panic elsewhere cannot leave it half-written.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fetches the list (`LayDanhSachTTHC`) and replaces the cached names; details fetched
    /// before are kept. Returns the number of procedures listed.
    pub async fn refresh(&self) -> Result<usize, lienthong_dvcqg::DvcqgError> {
        let now = Timestamp::now();
        self.lock().last_attempt = Some(now);
        match self.client.procedures().await {
            Ok(list) => {
                let mut st = self.lock();
                let mut seen = 0;
                for v in &list {
                    let Some(code) = text(v, "MATTHC") else {
                        continue;
                    };
                    seen += 1;
                    let name = text(v, "TENTTHC").unwrap_or_default();
                    st.procedures
                        .entry(code.clone())
                        .and_modify(|p| {
                            if !name.is_empty() {
                                p.name.clone_from(&name);
                            }
                            p.known = true;
                        })
                        .or_insert(Procedure {
                            code,
                            name,
                            fields: None,
                            detailed_at: None,
                            known: true,
                        });
                }
                st.listed_at = Some(now);
                st.last_error = None;
                tracing::info!(
                    partner = crate::sync::PARTNER,
                    procedures = seen,
                    "procedure catalogue refreshed"
                );
                Ok(seen)
            }
            Err(e) => {
                let mut st = self.lock();
                st.last_error = Some(e.to_string());
                if st.listed_at.is_some() {
                    tracing::warn!(partner = crate::sync::PARTNER, error = %e,
                        "procedure catalogue not refreshed; serving the cached copy (stale)");
                } else {
                    tracing::warn!(partner = crate::sync::PARTNER, error = %e,
                        "procedure catalogue not fetched; procedures are sent as dossiers name them");
                }
                Err(e)
            }
        }
    }

    /// Refreshes the list now and then every TTL (a minute after a failure) until
    /// `shutdown` turns `true`.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            let wait = match self.refresh().await {
                Ok(_) => self.ttl,
                Err(_) => self.ttl.min(RETRY_AFTER_FAILURE),
            };
            if crate::relay::pause(&mut shutdown, wait).await {
                break;
            }
        }
    }

    /// The procedure `code` (the portal's code), with its details: from the cache while
    /// fresh, else from `LayThuTuc`; the cached entry (stale) when the portal fails.
    pub async fn procedure(&self, code: &str) -> Option<Procedure> {
        let code = code.trim();
        if code.is_empty() {
            return None;
        }
        let now = Timestamp::now();
        let cached = {
            let st = self.lock();
            let cached = st.procedures.get(code).cloned();
            let fresh = cached
                .as_ref()
                .and_then(|p| p.detailed_at)
                .is_some_and(|t| age(t, now) < self.ttl);
            let failed_recently = st
                .detail_failed
                .get(code)
                .is_some_and(|t| age(*t, now) < self.ttl.min(RETRY_AFTER_FAILURE));
            if fresh || failed_recently {
                return cached.filter(|p| p.known);
            }
            cached
        };
        match self.client.procedure(code).await {
            Ok(found) => {
                let entry = match found {
                    Some(v) => {
                        let fields = v
                            .as_object()
                            .and_then(|o| {
                                o.iter()
                                    .find(|(k, _)| k.eq_ignore_ascii_case("LINHVUCTHUCHIEN"))
                            })
                            .and_then(|(_, f)| f.as_array())
                            .map(|a| {
                                a.iter()
                                    .filter_map(|f| {
                                        Some(Field {
                                            code: text(f, "MALINHVUC")?,
                                            name: text(f, "TENLINHVUC").unwrap_or_default(),
                                        })
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        Procedure {
                            code: code.to_owned(),
                            name: text(&v, "TENTTHC")
                                .or_else(|| cached.as_ref().map(|c| c.name.clone()))
                                .unwrap_or_default(),
                            fields: Some(fields),
                            detailed_at: Some(now),
                            known: true,
                        }
                    }
                    None => Procedure {
                        code: code.to_owned(),
                        name: String::new(),
                        fields: Some(Vec::new()),
                        detailed_at: Some(now),
                        known: false,
                    },
                };
                let mut st = self.lock();
                st.detail_failed.remove(code);
                st.procedures.insert(code.to_owned(), entry.clone());
                Some(entry).filter(|p| p.known)
            }
            Err(e) => {
                self.lock().detail_failed.insert(code.to_owned(), now);
                if cached.is_some() {
                    tracing::warn!(partner = crate::sync::PARTNER, procedure = code, error = %e,
                        "procedure details not fetched; using the cached entry (stale)");
                } else {
                    tracing::warn!(partner = crate::sync::PARTNER, procedure = code, error = %e,
                        "procedure details not fetched and not cached");
                }
                cached.filter(|p| p.known)
            }
        }
    }

    /// Fills what `dossier` lacks of its procedure (name, field code and name) from the
    /// catalogue; `portal_code` is the procedure's code on the portal. Returns whether
    /// anything was filled. A dossier that names everything costs no lookup.
    pub async fn fill(&self, dossier: &mut Dossier, portal_code: &str) -> bool {
        let p = &dossier.procedure;
        if !(missing(&p.name) || missing(&p.field_code) || missing(&p.field_name)) {
            return false;
        }
        let Some(found) = self.procedure(portal_code).await else {
            return false;
        };
        let mut filled = false;
        let p = &mut dossier.procedure;
        if missing(&p.name) && !found.name.is_empty() {
            p.name = Some(found.name.clone());
            filled = true;
        }
        let first = found.fields.as_ref().and_then(|f| f.first());
        if let Some(field) = first {
            if missing(&p.field_code) {
                p.field_code = Some(field.code.clone());
                filled = true;
            }
            if missing(&p.field_name)
                && p.field_code.as_deref() == Some(field.code.as_str())
                && !field.name.is_empty()
            {
                p.field_name = Some(field.name.clone());
                filled = true;
            }
        }
        filled
    }

    /// The cache as the admin API shows it.
    pub fn view(&self) -> Value {
        let now = Timestamp::now();
        let st = self.lock();
        let age_secs = st.listed_at.map(|t| age(t, now).as_secs());
        let stale = age_secs.is_none_or(|a| a >= self.ttl.as_secs()) || st.last_error.is_some();
        let warning = match (&st.listed_at, &st.last_error) {
            (None, _) => Some("the portal's catalogue has not been fetched yet".to_owned()),
            (Some(_), Some(_)) => Some(
                "the portal could not be reached at the last refresh; this is the cached copy"
                    .to_owned(),
            ),
            (Some(_), None) if stale => Some("the cached copy is older than its TTL".to_owned()),
            _ => None,
        };
        json!({
            "ttl_secs": self.ttl.as_secs(),
            "fetched_at": st.listed_at,
            "age_secs": age_secs,
            "last_attempt_at": st.last_attempt,
            "last_error": st.last_error,
            "stale": stale,
            "warning": warning,
            "procedures": st.procedures.values().collect::<Vec<_>>(),
        })
    }
}
