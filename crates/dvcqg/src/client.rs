//! The DVCQG HTTP client (`dvcqg.md` §2–8, §11): session handling, the request envelope,
//! the response rule, and the dossier flow, on tokio + reqwest (rustls with *ring*).
//!
//! # Sessions (§3.1)
//!
//! One token per client, in memory, fetched lazily on the first call and refreshed
//! proactively once it is older than `session_max_age_secs`. Fetching is **single-flight**:
//! the token sits behind an async mutex that is held across the authentication call, so
//! however many tasks need a token at once, one authentication call is made and the others
//! take its result (a failed attempt is shared the same way, so a wrong password costs one
//! call, not one per waiting task). Every token carries a generation number; a task that
//! asks for a refresh because *its* token failed gets the newer token without a further
//! authentication call when another task has already refreshed.
//!
//! When a call fails with anything but the duplicate signal — a §5 failure, `error_code`
//! 3/-3, or HTTP 401/403 — and the token it used is at least `refresh_if_older_than_secs`
//! old (default 60), the client fetches a new token and repeats the call **once**; a second
//! failure is reported as is. Timeouts, connection errors, HTTP 5xx/429 and undecodable
//! replies are not session problems and are reported at once.
//!
//! # What the client does not do
//!
//! It does not retry with back-off: that is the bus's job, guided by
//! [`DvcqgError::retryable`], [`DvcqgError::fault`] and [`DvcqgError::retry_after`] (see
//! the decision table in [`crate::error`]). Besides the one session-refresh repeat, its
//! only resend is the §6.1 fallback: an insert answered with the duplicate signal is sent
//! again, once, as an update.
//!
//! # Requests (§2, §4)
//!
//! `POST` to `adapter_url` + endpoint (string concatenation), headers `Accept:
//! application/json`, `Content-Type: application/json`, `Charset: utf-8` and `dstcode` when
//! configured; bodies from [`crate::wire`]. Redirects are not followed (a redirected `POST`
//! would lose its body). At most `max_concurrency` requests are in flight per client; each
//! has a timeout of `timeout_ms` (default 60 s, as OpenCPS), covering connect, send and the
//! whole reply.
//!
//! # TLS
//!
//! reqwest is built with `rustls-no-provider`; the constructor installs *ring* as the
//! process-wide rustls provider (ignoring "already installed"). Server certificates are
//! verified with `rustls-platform-verifier`, which on Linux reads the system CA store: a
//! host without CA certificates (a bare container image) cannot build the client unless
//! `extra_ca_file` names a PEM bundle.
//!
//! # Logging
//!
//! `tracing` events carry `partner = "dvcqg"`, `service`, and `dossier` (the dossier code)
//! where there is one, plus the error kind, fault and the portal's `error_code`. Never
//! logged: bodies, the password, the session token, the portal's `message` (a validation
//! message may echo personal data; it is kept in [`DvcqgError::message`] for operators).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::Url;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{Mutex, Semaphore};
use tracing::{debug, info, warn};

use crate::error::{DvcqgError, ErrorKind, Fault, chain};
use crate::wire::{
    self, DossierItem, MAX_PROGRESS_ITEMS_PER_CALL, Outcome, ProgressItem, Response,
    StatusSyncItem, classify, service, session_of,
};

/// The `partner` field of every log event.
const PARTNER: &str = "dvcqg";
/// The `service` name used for the authentication call.
const AUTH: &str = "auth";

fn default_timeout_ms() -> u64 {
    60_000
}
fn default_session_max_age_secs() -> u64 {
    1800
}
fn default_refresh_if_older_than_secs() -> u64 {
    60
}
fn default_max_concurrency() -> usize {
    8
}

/// Client configuration (§2). Deserialisable; the numeric settings have defaults.
#[derive(Clone, Deserialize)]
pub struct ClientConfig {
    /// Base URL of the portal adapter.
    pub adapter_url: String,
    /// Path of the authentication call, appended to `adapter_url`.
    pub auth_endpoint: String,
    /// Path for synchronisation and lookups.
    pub integration_endpoint: String,
    /// Path for the shared catalogues.
    pub share_endpoint: String,
    /// Account issued to the province.
    pub username: String,
    /// Its password. Redacted in `Debug`; never logged.
    pub password: String,
    /// Value of the `dstcode` header; the header is sent only when this is set.
    #[serde(default)]
    pub dstcode: Option<String>,
    /// The unit code sent in every body.
    pub madonvi: String,
    /// Per-request timeout in milliseconds (default 60 000).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Refresh the session proactively once it is this old, in seconds (default 1800).
    #[serde(default = "default_session_max_age_secs")]
    pub session_max_age_secs: u64,
    /// After a failed call, refresh the session and repeat once if the token is at least
    /// this old, in seconds (default 60; §3.1).
    #[serde(default = "default_refresh_if_older_than_secs")]
    pub refresh_if_older_than_secs: u64,
    /// At most this many requests in flight (default 8).
    #[serde(default = "default_max_concurrency")]
    pub max_concurrency: usize,
    /// A PEM bundle of extra trusted CA certificates, added to the system's (for a portal
    /// or provincial proxy whose certificate chains to a root the system does not trust).
    #[serde(default)]
    pub extra_ca_file: Option<PathBuf>,
}

impl Default for ClientConfig {
    /// Empty strings, no `dstcode`, and the default numbers.
    fn default() -> Self {
        ClientConfig {
            adapter_url: String::new(),
            auth_endpoint: String::new(),
            integration_endpoint: String::new(),
            share_endpoint: String::new(),
            username: String::new(),
            password: String::new(),
            dstcode: None,
            madonvi: String::new(),
            timeout_ms: default_timeout_ms(),
            session_max_age_secs: default_session_max_age_secs(),
            refresh_if_older_than_secs: default_refresh_if_older_than_secs(),
            max_concurrency: default_max_concurrency(),
            extra_ca_file: None,
        }
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("adapter_url", &self.adapter_url)
            .field("auth_endpoint", &self.auth_endpoint)
            .field("integration_endpoint", &self.integration_endpoint)
            .field("share_endpoint", &self.share_endpoint)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("dstcode", &self.dstcode)
            .field("madonvi", &self.madonvi)
            .field("timeout_ms", &self.timeout_ms)
            .field("session_max_age_secs", &self.session_max_age_secs)
            .field(
                "refresh_if_older_than_secs",
                &self.refresh_if_older_than_secs,
            )
            .field("max_concurrency", &self.max_concurrency)
            .field("extra_ca_file", &self.extra_ca_file)
            .finish()
    }
}

/// How [`DvcqgClient::sync_dossier`] got the dossier onto the portal (§6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncOutcome {
    /// Sent with `isUpdating` = `"False"` and accepted.
    Inserted,
    /// Sent with `isUpdating` = `"True"` (the dossier was known to be on the portal).
    Updated,
    /// The insert was answered with the duplicate signal; resent with `"True"` and
    /// accepted. The caller should now treat the dossier as known to the portal.
    UpdatedAfterDuplicate,
}

/// Which path a request goes to.
#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Auth,
    Integration,
    Share,
}

/// A successful (or, for an insert, duplicate) reply.
enum Reply {
    Success(Response),
    Duplicate,
}

/// A session token with its age and generation.
#[derive(Clone)]
struct Session {
    token: Arc<str>,
    obtained: Instant,
    generation: u64,
}

/// What sits behind the session mutex.
#[derive(Default)]
struct SessionState {
    current: Option<Session>,
    /// The last failed authentication attempt, with its attempt number.
    last_failure: Option<(u64, DvcqgError)>,
}

struct Inner {
    http: reqwest::Client,
    auth_url: Url,
    integration_url: Url,
    share_url: Url,
    headers: HeaderMap,
    username: String,
    password: String,
    madonvi: String,
    session_max_age: Duration,
    refresh_if_older_than: Duration,
    permits: Semaphore,
    session: Mutex<SessionState>,
    /// Number of completed authentication attempts; a token's generation is the attempt
    /// number that produced it.
    attempts: AtomicU64,
}

/// The DVCQG client. Cheap to clone (an `Arc` inside); clones share the session, the
/// connection pool and the concurrency limit.
#[derive(Clone)]
pub struct DvcqgClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for DvcqgClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DvcqgClient")
            .field("integration_url", &self.inner.integration_url.as_str())
            .field("madonvi", &self.inner.madonvi)
            .finish_non_exhaustive()
    }
}

/// Parses `adapter_url` + `endpoint`.
fn endpoint_url(base: &str, endpoint: &str, name: &str) -> Result<Url, DvcqgError> {
    let text = format!("{base}{endpoint}");
    let url =
        Url::parse(&text).map_err(|e| DvcqgError::config(format!("{name} URL {text:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(DvcqgError::config(format!(
            "{name} URL {text:?}: scheme must be http or https"
        )));
    }
    Ok(url)
}

impl DvcqgClient {
    /// Builds a client. Installs *ring* as the process-wide rustls provider if none is
    /// installed yet. No request is sent; the session is fetched on the first call.
    ///
    /// Fails with [`ErrorKind::Config`] on an unusable URL, `dstcode`, concurrency or
    /// timeout, an unreadable `extra_ca_file`, or when the TLS configuration cannot be
    /// built (no CA certificates on the system and no `extra_ca_file`).
    pub fn new(config: ClientConfig) -> Result<Self, DvcqgError> {
        let _ = rustls::crypto::ring::default_provider().install_default();

        if config.max_concurrency == 0 {
            return Err(DvcqgError::config("max_concurrency must be at least 1"));
        }
        if config.timeout_ms == 0 {
            return Err(DvcqgError::config("timeout_ms must be positive"));
        }
        let base = config.adapter_url.as_str();
        let auth_url = endpoint_url(base, &config.auth_endpoint, "authentication")?;
        let integration_url = endpoint_url(base, &config.integration_endpoint, "integration")?;
        let share_url = endpoint_url(base, &config.share_endpoint, "share")?;

        let mut headers = HeaderMap::new();
        let json = HeaderValue::from_static("application/json");
        headers.insert(ACCEPT, json.clone());
        headers.insert(CONTENT_TYPE, json);
        headers.insert(
            HeaderName::from_static("charset"),
            HeaderValue::from_static("utf-8"),
        );
        if let Some(dstcode) = &config.dstcode {
            let value = HeaderValue::from_str(dstcode).map_err(|e| {
                DvcqgError::config(format!("dstcode is not a valid header value: {e}"))
            })?;
            headers.insert(HeaderName::from_static("dstcode"), value);
        }

        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(config.max_concurrency)
            .user_agent(concat!("lienthong-dvcqg/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &config.extra_ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                DvcqgError::config(format!("extra_ca_file {}: {e}", path.display()))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                DvcqgError::config(format!("extra_ca_file {}: {e}", path.display()))
            })?;
            if certs.is_empty() {
                return Err(DvcqgError::config(format!(
                    "extra_ca_file {}: no certificate",
                    path.display()
                )));
            }
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder.build().map_err(|e| {
            DvcqgError::config(format!(
                "cannot build the HTTP client (no CA certificates on this system? see \
                 extra_ca_file): {}",
                chain(&e)
            ))
        })?;

        Ok(DvcqgClient {
            inner: Arc::new(Inner {
                http,
                auth_url,
                integration_url,
                share_url,
                headers,
                username: config.username,
                password: config.password,
                madonvi: config.madonvi,
                session_max_age: Duration::from_secs(config.session_max_age_secs),
                refresh_if_older_than: Duration::from_secs(config.refresh_if_older_than_secs),
                permits: Semaphore::new(config.max_concurrency),
                session: Mutex::new(SessionState::default()),
                attempts: AtomicU64::new(0),
            }),
        })
    }

    /// Synchronises one dossier with `DongBoHoSoMC` (§6.1; one dossier per call).
    ///
    /// `known_to_portal` = false (first synchronisation): sent with `isUpdating` =
    /// `"False"`; on the duplicate signal the same payload is resent once with `"True"`
    /// ([`SyncOutcome::UpdatedAfterDuplicate`]). `known_to_portal` = true: sent with
    /// `"True"`. On success the caller continues with the dossier's progress
    /// ([`send_progress`](Self::send_progress)).
    pub async fn sync_dossier(
        &self,
        item: &DossierItem,
        known_to_portal: bool,
    ) -> Result<SyncOutcome, DvcqgError> {
        let dossier = Some(item.MaHoSo.as_str());
        let items = std::slice::from_ref(item);
        let madonvi = self.inner.madonvi.as_str();
        let update = |s: &str| wire::sync_dossiers_body(s, madonvi, true, items);
        if known_to_portal {
            self.inner
                .call(
                    Endpoint::Integration,
                    service::SYNC_DOSSIERS,
                    dossier,
                    false,
                    update,
                )
                .await?;
            return Ok(SyncOutcome::Updated);
        }
        let insert = |s: &str| wire::sync_dossiers_body(s, madonvi, false, items);
        match self
            .inner
            .call(
                Endpoint::Integration,
                service::SYNC_DOSSIERS,
                dossier,
                true,
                insert,
            )
            .await?
        {
            Reply::Success(_) => Ok(SyncOutcome::Inserted),
            Reply::Duplicate => {
                info!(
                    partner = PARTNER,
                    service = service::SYNC_DOSSIERS,
                    dossier,
                    "dossier already on the portal; resending as an update"
                );
                self.inner
                    .call(
                        Endpoint::Integration,
                        service::SYNC_DOSSIERS,
                        dossier,
                        false,
                        update,
                    )
                    .await
                    .map_err(|mut e| {
                        e.portal_has_dossier = true;
                        e
                    })?;
                Ok(SyncOutcome::UpdatedAfterDuplicate)
            }
        }
    }

    /// Appends processing steps with `CapNhatTienDoHoSoMC` (§7), in order, at most
    /// [`MAX_PROGRESS_ITEMS_PER_CALL`] items per call. Stops at the first failed call; the
    /// error's [`accepted`](DvcqgError::accepted) says how many items (from the start of
    /// `items`) the portal accepted before it. An empty slice sends nothing.
    pub async fn send_progress(&self, items: &[ProgressItem]) -> Result<(), DvcqgError> {
        let madonvi = self.inner.madonvi.as_str();
        let mut accepted = 0;
        for chunk in items.chunks(MAX_PROGRESS_ITEMS_PER_CALL) {
            let dossier = chunk.first().map(|i| i.MaHoSo.as_str());
            let result = self
                .inner
                .call(
                    Endpoint::Integration,
                    service::PROGRESS,
                    dossier,
                    false,
                    |s: &str| wire::progress_body(s, madonvi, chunk),
                )
                .await;
            match result {
                Ok(_) => accepted += chunk.len(),
                Err(mut e) => {
                    e.accepted = Some(accepted);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Asks `TraCuuHoSo` whether the portal knows dossier `mahoso`: the first item of
    /// `result`, or `None` when it is empty.
    pub async fn lookup_dossier(&self, mahoso: &str) -> Result<Option<Value>, DvcqgError> {
        let madonvi = self.inner.madonvi.as_str();
        let reply = self
            .inner
            .call(
                Endpoint::Integration,
                service::LOOKUP_DOSSIER,
                Some(mahoso),
                false,
                |s: &str| wire::lookup_dossier_body(s, madonvi, mahoso),
            )
            .await?;
        Ok(first(reply))
    }

    /// Procedure details with `LayThuTuc` (`maTTHC`): the first item of `result`
    /// (`TENTTHC`, `LINHVUCTHUCHIEN`, …), or `None` when the portal does not know it.
    pub async fn procedure(&self, ma_tthc: &str) -> Result<Option<Value>, DvcqgError> {
        let madonvi = self.inner.madonvi.as_str();
        let reply = self
            .inner
            .call(
                Endpoint::Integration,
                service::PROCEDURE,
                None,
                false,
                |s: &str| {
                    wire::request_body(
                        s,
                        madonvi,
                        service::PROCEDURE,
                        vec![("maTTHC", Value::String(ma_tthc.to_owned()))],
                    )
                },
            )
            .await?;
        Ok(first(reply))
    }

    /// The procedure catalogue (`LayDanhSachTTHC`, share endpoint): `[{MATTHC, TENTTHC}]`.
    pub async fn procedures(&self) -> Result<Vec<Value>, DvcqgError> {
        self.catalogue(service::PROCEDURE_CATALOGUE).await
    }

    /// The agency catalogue (`LayDanhMucCoQuan`, share endpoint):
    /// `[{MADONVI, TENDONVI, CAPDONVI}]`.
    pub async fn agencies(&self) -> Result<Vec<Value>, DvcqgError> {
        self.catalogue(service::AGENCY_CATALOGUE).await
    }

    /// The field catalogue (`LayDanhMucLinhVuc`, share endpoint):
    /// `[{MALINHVUC, TENLINHVUC, MANGANH}]`.
    pub async fn fields(&self) -> Result<Vec<Value>, DvcqgError> {
        self.catalogue(service::FIELD_CATALOGUE).await
    }

    /// Reports the status of dossiers submitted on the portal itself with
    /// `DongBoTrangThaiHoSo`, `type` = `"2"` (§8), in one call. An empty slice sends
    /// nothing.
    pub async fn sync_status(&self, items: &[StatusSyncItem]) -> Result<(), DvcqgError> {
        if items.is_empty() {
            return Ok(());
        }
        let madonvi = self.inner.madonvi.as_str();
        let dossier = items.first().map(|i| i.MaHoSo.as_str());
        self.inner
            .call(
                Endpoint::Integration,
                service::STATUS_SYNC,
                dossier,
                false,
                |s: &str| wire::status_sync_body(s, madonvi, items),
            )
            .await?;
        Ok(())
    }

    async fn catalogue(&self, name: &'static str) -> Result<Vec<Value>, DvcqgError> {
        let madonvi = self.inner.madonvi.as_str();
        let reply = self
            .inner
            .call(Endpoint::Share, name, None, false, |s: &str| {
                wire::request_body(s, madonvi, name, Vec::new())
            })
            .await?;
        Ok(match reply {
            Reply::Success(r) => r.result,
            Reply::Duplicate => Vec::new(),
        })
    }
}

/// The first `result` item of a reply.
fn first(reply: Reply) -> Option<Value> {
    match reply {
        Reply::Success(r) => r.result.into_iter().next(),
        Reply::Duplicate => None,
    }
}

impl Inner {
    fn url(&self, endpoint: Endpoint) -> &Url {
        match endpoint {
            Endpoint::Auth => &self.auth_url,
            Endpoint::Integration => &self.integration_url,
            Endpoint::Share => &self.share_url,
        }
    }

    /// A service call with the session rule of §3.1: fetch (or reuse) the token, send,
    /// classify (§5); on a session-suspect failure with a token at least
    /// `refresh_if_older_than` old, refresh and repeat once.
    ///
    /// `is_insert`: a `DongBoHoSoMC` with `isUpdating` = `"False"`, the only call for which
    /// the duplicate signal is returned as [`Reply::Duplicate`] instead of a failure.
    async fn call<F>(
        &self,
        endpoint: Endpoint,
        service: &'static str,
        dossier: Option<&str>,
        is_insert: bool,
        body: F,
    ) -> Result<Reply, DvcqgError>
    where
        F: Fn(&str) -> String,
    {
        let mut session = self.session(None).await?;
        let mut repeated = false;
        loop {
            let started = Instant::now();
            match self
                .attempt(endpoint, service, is_insert, body(&session.token))
                .await
            {
                Ok(reply) => {
                    debug!(
                        partner = PARTNER,
                        service,
                        dossier,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        duplicate = matches!(reply, Reply::Duplicate),
                        "call succeeded"
                    );
                    return Ok(reply);
                }
                Err(e)
                    if !repeated
                        && e.session_suspect()
                        && session.obtained.elapsed() >= self.refresh_if_older_than =>
                {
                    info!(
                        partner = PARTNER,
                        service,
                        dossier,
                        kind = %e.kind,
                        error_code = e.error_code.as_ref().map(display),
                        session_generation = session.generation,
                        "call failed with an older session; refreshing it and repeating once"
                    );
                    repeated = true;
                    session = self.session(Some(session.generation)).await?;
                }
                Err(e) => {
                    warn!(
                        partner = PARTNER,
                        service,
                        dossier,
                        kind = %e.kind,
                        fault = %e.fault,
                        retryable = e.retryable,
                        error_code = e.error_code.as_ref().map(display),
                        retry_after_s = e.retry_after.map(|d| d.as_secs()),
                        repeated,
                        "call failed"
                    );
                    return Err(e);
                }
            }
        }
    }

    /// One request of a service call, classified by §5.
    async fn attempt(
        &self,
        endpoint: Endpoint,
        service: &'static str,
        is_insert: bool,
        body: String,
    ) -> Result<Reply, DvcqgError> {
        let reply = self.post(endpoint, service, body).await?;
        match classify(&reply, is_insert) {
            Outcome::Success => Ok(Reply::Success(reply)),
            Outcome::Duplicate => Ok(Reply::Duplicate),
            Outcome::NeedsReview(_) => {
                Err(
                    DvcqgError::new(ErrorKind::NeedsReview, Fault::Partner, false)
                        .at(service)
                        .with_reply(reply.error_code, reply.message),
                )
            }
            Outcome::Failure(_) => Err(DvcqgError::new(ErrorKind::Partner, Fault::Partner, true)
                .at(service)
                .with_reply(reply.error_code, reply.message)),
        }
    }

    /// Sends one request within the concurrency limit and reads the reply envelope.
    async fn post(
        &self,
        endpoint: Endpoint,
        service: &'static str,
        body: String,
    ) -> Result<Response, DvcqgError> {
        let permit = self.permits.acquire().await.map_err(|e| {
            DvcqgError::new(ErrorKind::Config, Fault::Us, false)
                .at(service)
                .with_source(e)
        })?;
        let response = self
            .http
            .post(self.url(endpoint).clone())
            .headers(self.headers.clone())
            .body(body)
            .send()
            .await
            .map_err(|e| DvcqgError::transport(service, e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| lienthong_model::partner::parse_retry_after(v, jiff::Timestamp::now()));
        let bytes = response
            .bytes()
            .await
            .map_err(|e| DvcqgError::transport(service, e))?;
        drop(permit);

        if !status.is_success() {
            let e = DvcqgError::http(service, status.as_u16(), retry_after);
            return Err(match Response::parse(&bytes) {
                Ok(r) => e.with_reply(r.error_code, r.message),
                Err(_) => e,
            });
        }
        Response::parse(&bytes).map_err(|e| {
            let mut err = DvcqgError::new(ErrorKind::Decode, Fault::Partner, true)
                .at(service)
                .with_source(e);
            err.retry_after = retry_after;
            err
        })
    }

    /// The current token, fetched if there is none or it is older than `session_max_age`.
    /// `stale`: the generation of a token that just failed; a newer token is returned
    /// if another task already fetched one, else a new one is fetched.
    ///
    /// Single-flight: the mutex is held across the authentication call, and a task that
    /// waited while another task's attempt failed gets that failure instead of trying again.
    async fn session(&self, stale: Option<u64>) -> Result<Session, DvcqgError> {
        let seen = self.attempts.load(Ordering::Acquire);
        let mut state = self.session.lock().await;
        if let Some(s) = &state.current
            && s.obtained.elapsed() < self.session_max_age
            && stale != Some(s.generation)
        {
            return Ok(s.clone());
        }
        if let Some((attempt, e)) = &state.last_failure
            && *attempt > seen
        {
            return Err(e.clone());
        }
        let reason = match (&state.current, stale) {
            (None, _) => "no session yet",
            (Some(_), Some(_)) => "refresh after a failed call",
            (Some(_), None) => "session older than session_max_age",
        };
        let result = self.authenticate().await;
        let generation = self.attempts.fetch_add(1, Ordering::AcqRel) + 1;
        match result {
            Ok(token) => {
                info!(
                    partner = PARTNER,
                    service = AUTH,
                    session_generation = generation,
                    reason,
                    "session obtained"
                );
                let s = Session {
                    token,
                    obtained: Instant::now(),
                    generation,
                };
                state.current = Some(s.clone());
                state.last_failure = None;
                Ok(s)
            }
            Err(e) => {
                warn!(
                    partner = PARTNER,
                    service = AUTH,
                    kind = %e.kind,
                    fault = %e.fault,
                    retryable = e.retryable,
                    error_code = e.error_code.as_ref().map(display),
                    reason,
                    "authentication failed"
                );
                state.last_failure = Some((generation, e.clone()));
                Err(e)
            }
        }
    }

    /// The authentication call (§3).
    async fn authenticate(&self) -> Result<Arc<str>, DvcqgError> {
        let body = wire::auth_body(&self.username, &self.password);
        let reply = self.post(Endpoint::Auth, AUTH, body).await?;
        if let Some(token) = session_of(&reply) {
            return Ok(Arc::from(token));
        }
        // A code other than success: the portal refused the account (credentials,
        // dstcode) — configuration. A success code (or none) without a session: an anomaly
        // on the portal's side.
        let refused = reply.error_code.as_ref().is_some_and(|c| !c.is_success());
        let (fault, retryable) = if refused {
            (Fault::Us, false)
        } else {
            (Fault::Partner, true)
        };
        Err(DvcqgError::new(ErrorKind::Auth, fault, retryable)
            .at(AUTH)
            .with_reply(reply.error_code, reply.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_redaction() {
        let cfg: ClientConfig = serde_json::from_value(serde_json::json!({
            "adapter_url": "https://portal.example",
            "auth_endpoint": "/auth",
            "integration_endpoint": "/int",
            "share_endpoint": "/share",
            "username": "u",
            "password": "s3cret-pw",
            "madonvi": "000.00.00.H41"
        }))
        .expect("config");
        assert_eq!(cfg.timeout_ms, 60_000);
        assert_eq!(cfg.session_max_age_secs, 1800);
        assert_eq!(cfg.refresh_if_older_than_secs, 60);
        assert_eq!(cfg.max_concurrency, 8);
        assert_eq!(cfg.dstcode, None);
        let text = format!("{cfg:?}");
        assert!(!text.contains("s3cret-pw"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
        let client = DvcqgClient::new(cfg).expect("client");
        assert!(!format!("{client:?}").contains("s3cret-pw"));
    }

    #[test]
    fn config_errors() {
        let base = ClientConfig {
            adapter_url: "https://portal.example".into(),
            ..ClientConfig::default()
        };
        for cfg in [
            ClientConfig {
                adapter_url: "portal.example".into(),
                ..base.clone()
            },
            ClientConfig {
                adapter_url: "ftp://portal.example".into(),
                ..base.clone()
            },
            ClientConfig {
                max_concurrency: 0,
                ..base.clone()
            },
            ClientConfig {
                timeout_ms: 0,
                ..base.clone()
            },
            ClientConfig {
                dstcode: Some("a\nb".into()),
                ..base.clone()
            },
            ClientConfig {
                extra_ca_file: Some("/nonexistent/ca.pem".into()),
                ..base.clone()
            },
        ] {
            let e = DvcqgClient::new(cfg).expect_err("config error");
            assert_eq!(e.kind, ErrorKind::Config);
            assert_eq!((e.fault, e.retryable), (Fault::Us, false));
        }
        assert!(DvcqgClient::new(base).is_ok());
    }
}
