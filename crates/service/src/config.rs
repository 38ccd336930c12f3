//! The gateway's configuration: one TOML file (`lienthong serve --config FILE`), secrets from
//! the environment.
//!
//! [`Config::load`] reads the file strictly (an unknown key is a mistake, not a silent
//! default) and [`Config::check`] explains every remaining mistake as a [`Finding`] with the
//! key's path, what was expected and what was found — `lienthong check-config` prints them
//! all at once. Secrets never live in the file: the DVCQG password and the journal's
//! encryption key are read from the environment variables the file names; client and
//! operator tokens are stored as SHA-256 hashes ([`crate::auth`]).
//!
//! Environment overrides (for containers and for secrets): `LIENTHONG_AMQP_URL` replaces
//! `bus.amqp_url`, `LIENTHONG_JOURNAL_URL` replaces `journal.url`, `LIENTHONG_LISTEN` replaces
//! `gateway.listen`, `LIENTHONG_NODE_NAME` replaces `gateway.node_name`.

use crate::auth::{Role, TokenHash};
use lienthong_model::OrganId;
use lienthong_model::finding::Finding;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The whole configuration, as written in the file (after environment overrides).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The process itself.
    #[serde(default)]
    pub gateway: Gateway,
    /// The journal (state, outbox, message log).
    #[serde(default)]
    pub journal: Journal,
    /// The message bus.
    #[serde(default)]
    pub bus: Bus,
    /// The national public service portal.
    pub dvcqg: Option<Dvcqg>,
    /// Dossiers citizens submit on the national portal: the receiver the portal pushes to,
    /// and the webhooks that bring them to the provincial systems.
    pub portal: Option<Portal>,
    /// The national document exchange axis: documents and statuses both ways, the agency
    /// directory, dossier progress from the axis.
    pub vdxp: Option<Vdxp>,
    /// Identifier rules of the province (`codes.md` §1.4 and §2).
    #[serde(default)]
    pub mapping: Mapping,
    /// The province's units (agencies, departments) the gateway serves.
    #[serde(default)]
    pub units: Vec<Unit>,
    /// Local systems allowed to submit, each for some units.
    #[serde(default)]
    pub clients: Vec<Client>,
    /// Named operators with roles.
    #[serde(default)]
    pub operators: Vec<Operator>,
}

/// `[gateway]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Gateway {
    /// Address of the HTTP API (default `127.0.0.1:8700`).
    pub listen: String,
    /// Directory of the SQLite files (journal, embedded bus) when no other URL is set
    /// (default `data`, relative to the working directory).
    pub data_dir: PathBuf,
    /// This node's name in leases and logs (default: the host name, else `lienthong`).
    pub node_name: Option<String>,
    /// Largest request body accepted, in bytes (default 10 MiB); larger ones get 413.
    pub max_request_bytes: usize,
    /// Start in maintenance mode (intake answers 503).
    pub maintenance: bool,
}

impl Default for Gateway {
    fn default() -> Self {
        Gateway {
            listen: "127.0.0.1:8700".into(),
            data_dir: PathBuf::from("data"),
            node_name: None,
            max_request_bytes: 10 * 1024 * 1024,
            maintenance: false,
        }
    }
}

/// `[journal]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Journal {
    /// `sqlite://FILE` or `postgres://…` (default `sqlite://{data_dir}/lienthong.db`).
    pub url: Option<String>,
    /// The environment variable holding the AES-256 key for personal data in stored bodies
    /// (64 hex digits or base64 of 32 bytes; default `LIENTHONG_JOURNAL_KEY`).
    pub encryption_key_env: String,
    /// Days the message log is kept (default 365).
    pub retention_days: u32,
    /// Days message bodies are kept (default 30).
    pub body_retention_days: u32,
    /// JSON members holding personal data, encrypted at rest and masked in searches
    /// (default: the journal's list for the provincial and DVCQG formats).
    pub personal_fields: Option<Vec<String>>,
    /// Connections in the journal's pool (default 16): intake, the routes and the relay
    /// share them; PostgreSQL commits concurrent transactions together, so more
    /// connections mean more throughput until the database's CPU is the limit.
    pub max_connections: u32,
}

impl Default for Journal {
    fn default() -> Self {
        Journal {
            url: None,
            encryption_key_env: "LIENTHONG_JOURNAL_KEY".into(),
            retention_days: 365,
            body_retention_days: 30,
            personal_fields: None,
            max_connections: 16,
        }
    }
}

/// `[bus]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Bus {
    /// RabbitMQ (`amqp://…`); without it the embedded queue in `{data_dir}/bus.db` is used.
    pub amqp_url: Option<String>,
    /// With RabbitMQ: the SQL store for parked messages and large bodies (default: the
    /// journal's PostgreSQL URL, else `sqlite://{data_dir}/bus-store.db`).
    pub store_url: Option<String>,
    /// Attempts before a work item is parked (default 12).
    pub max_attempts: u32,
    /// Unsettled deliveries tolerated before a message is parked as poison (default 10).
    pub delivery_limit: u32,
    /// Delay tiers of retries, in seconds, ascending (default 5, 30, 120, 600, 3600, 21600).
    pub retry_delays_secs: Vec<u64>,
    /// Prefix of the queue, exchange and table names (default `lienthong`): gateways that
    /// share a broker but not their work need different prefixes.
    pub prefix: String,
    /// Intake answers `429` (with `Retry-After: 5`) while more than this many work items
    /// wait on `dossier.sync` (default 50,000): during a long portal outage the backlog
    /// then stays with the clients. `0` turns the backpressure off, so the gateway queues
    /// whatever it is sent.
    pub backpressure_depth: u64,
}

impl Default for Bus {
    fn default() -> Self {
        Bus {
            amqp_url: None,
            store_url: None,
            max_attempts: 12,
            delivery_limit: 10,
            retry_delays_secs: vec![5, 30, 120, 600, 3600, 21600],
            prefix: "lienthong".into(),
            backpressure_depth: 50_000,
        }
    }
}

/// `[dvcqg]`: the portal adapter (`dvcqg.md` §2).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Dvcqg {
    /// Base URL of the portal adapter.
    pub adapter_url: String,
    /// Path of the authentication call (default `/auth`).
    #[serde(default = "default_auth")]
    pub auth_endpoint: String,
    /// Path for synchronisation and lookups (default `/integration`).
    #[serde(default = "default_integration")]
    pub integration_endpoint: String,
    /// Path for the shared catalogues (default `/share`).
    #[serde(default = "default_share")]
    pub share_endpoint: String,
    /// The account issued to the province.
    pub username: String,
    /// The environment variable holding its password (default `LIENTHONG_DVCQG_PASSWORD`).
    #[serde(default = "default_password_env")]
    pub password_env: String,
    /// The `dstcode` header, when the portal issued one.
    pub dstcode: Option<String>,
    /// The unit code sent in every body (`madonvi`).
    pub madonvi: String,
    /// Per-request timeout in milliseconds (default 60 000).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Consecutive failures that open the circuit breaker in front of the portal (default 5).
    #[serde(default = "default_breaker_failures")]
    pub breaker_failures: u32,
    /// Seconds the breaker stays open before one probe call (default 30).
    #[serde(default = "default_breaker_open_secs")]
    pub breaker_open_secs: u64,
    /// Seconds the procedure catalogue (`LayDanhSachTTHC`, `LayThuTuc`) is kept before it
    /// is fetched again (default 21 600: six hours).
    #[serde(default = "default_catalogue_ttl_secs")]
    pub catalogue_ttl_secs: u64,
    /// Dossiers synchronised at the same time by this node (default 16): deliveries are
    /// spread over this many lanes by dossier code, one dossier's work stays in one lane.
    #[serde(default = "default_sync_lanes")]
    pub sync_lanes: u32,
}

fn default_sync_lanes() -> u32 {
    16
}

fn default_catalogue_ttl_secs() -> u64 {
    6 * 3600
}

fn default_breaker_failures() -> u32 {
    5
}
fn default_breaker_open_secs() -> u64 {
    30
}

fn default_auth() -> String {
    "/auth".into()
}
fn default_integration() -> String {
    "/integration".into()
}
fn default_share() -> String {
    "/share".into()
}
fn default_password_env() -> String {
    "LIENTHONG_DVCQG_PASSWORD".into()
}
fn default_timeout_ms() -> u64 {
    60_000
}

/// `[portal]`: portal submissions (dossiers citizens submit on DVCQG itself).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Portal {
    /// Path of the receiver the portal pushes dossiers to (default `/v1/portal/dossiers`).
    #[serde(default = "default_receiver_path")]
    pub receiver_path: String,
    /// SHA-256 (64 hex digits) of the token the portal presents as
    /// `Authorization: Bearer TOKEN` (`lienthong token hash TOKEN` prints it).
    pub receiver_token_sha256: String,
    /// Seconds a webhook call may take (default 10).
    #[serde(default = "default_webhook_timeout_secs")]
    pub webhook_timeout_secs: u64,
    /// Webhooks: submissions for a client's units are pushed to its URL, signed.
    #[serde(default)]
    pub webhooks: Vec<Webhook>,
}

/// `[[portal.webhooks]]`: where a client takes portal submissions by push.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// The client (a `[[clients]]` name); its units decide which submissions it receives.
    pub client: String,
    /// The URL submissions are POSTed to.
    pub url: String,
    /// The environment variable holding the HMAC-SHA256 secret (at least 16 bytes).
    pub secret_env: String,
}

fn default_receiver_path() -> String {
    "/v1/portal/dossiers".into()
}
fn default_webhook_timeout_secs() -> u64 {
    10
}

/// `[vdxp]`: the document exchange axis (`vdxp.md`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Vdxp {
    /// Base URL of the axis (every operation is `{base_url}/{operation}`).
    pub base_url: String,
    /// The `systemid` of this centre on the axis.
    pub systemid: String,
    /// The environment variable holding the HMAC secret issued with the `systemid`
    /// (default `LIENTHONG_VDXP_SECRET`).
    #[serde(default = "default_vdxp_secret_env")]
    pub secret_env: String,
    /// Per-request timeout in milliseconds (default 60 000).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Seconds between two passes of the receiving loops (default 10).
    #[serde(default = "default_poll_interval_secs")]
    pub poll_interval_secs: u64,
    /// Send status 01 ("arrived") back for every document received (default true).
    #[serde(default = "default_true")]
    pub arrival_status: bool,
    /// Seconds between two syncs of the agency directory (default 21 600; 0: never).
    #[serde(default = "default_agencies_sync_secs")]
    pub agencies_sync_secs: u64,
    /// The own organisations hosted by this centre, written as `From` of every message:
    /// all eight children are required (`edxml.md` §10). The first one is the default
    /// sender.
    pub organisations: Vec<OwnOrganisation>,
    /// Merged units: old code → new code, consulted before the axis's own old codes.
    #[serde(default)]
    pub aliases: BTreeMap<String, String>,
    /// Axis status code → dossier progress (`docs/edocs.md`); codes not listed use the
    /// defaults.
    #[serde(default)]
    pub progress: BTreeMap<String, ProgressRule>,
    /// Webhooks: documents and statuses received for a client's units are pushed to it.
    #[serde(default)]
    pub webhooks: Vec<Webhook>,
}

/// `[[vdxp.organisations]]`: an own organisation (`From` block, `edxml.md` §3.2).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OwnOrganisation {
    /// `OrganId`, strict form with A, G or H.
    pub organ_id: String,
    /// `OrganizationInCharge`.
    pub organization_in_charge: String,
    /// `OrganName`.
    pub organ_name: String,
    /// `OrganAdd`.
    pub organ_add: String,
    /// `Email`.
    pub email: String,
    /// `Telephone`.
    pub telephone: String,
    /// `Fax`.
    pub fax: String,
    /// `Website`.
    pub website: String,
}

/// `[vdxp.progress."NN"]`: what an axis status about a document linked to a dossier
/// becomes in the dossier's progress.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProgressRule {
    /// The dossier status after the step (a canonical name such as `processing`), or
    /// empty for a step that does not change the status.
    #[serde(default)]
    pub status: String,
    /// The step's text; `{code}`, `{subject}`, `{organ}`, `{description}` are replaced.
    pub text: String,
    /// `false`: this status adds no step.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

fn default_vdxp_secret_env() -> String {
    "LIENTHONG_VDXP_SECRET".into()
}
fn default_poll_interval_secs() -> u64 {
    10
}
fn default_agencies_sync_secs() -> u64 {
    6 * 3600
}
fn default_true() -> bool {
    true
}

/// Paths the receiver may not take: the gateway's own API.
const RESERVED_PATHS: &[&str] = &[
    "/v1/dossiers",
    "/v1/submissions",
    "/admin",
    "/health",
    "/ready",
    "/metrics",
    "/openapi.json",
];

/// `[mapping]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mapping {
    /// Local procedure code → the portal's code.
    pub procedure_map: BTreeMap<String, String>,
    /// Own unit codes accepted outside the strict form.
    pub own_codes: Vec<String>,
}

/// `[[units]]`: a unit the gateway serves.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Unit {
    /// Its code (`NNN.NN.NN.XNN`).
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its `madonvi` on the portal, when different from `dvcqg.madonvi`.
    pub madonvi: Option<String>,
}

/// `[[clients]]`: a local system (one-stop-shop) allowed to submit.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// Its name (in logs, the journal, idempotency keys).
    pub name: String,
    /// SHA-256 of its token, 64 hex digits (`lienthong token new` prints both).
    pub token_sha256: String,
    /// The unit codes it may submit for; `["*"]` for every configured unit.
    pub units: Vec<String>,
}

/// `[[operators]]`: a person who operates the gateway.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Operator {
    /// Their name (in the audit log).
    pub name: String,
    /// SHA-256 of their token.
    pub token_sha256: String,
    /// `viewer`, `operator` or `admin`.
    pub role: String,
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the configuration {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema; the finding says where.
    #[error("{0}")]
    Syntax(Box<Finding>),
    /// The file parses but has mistakes (at least one error finding).
    #[error("the configuration has {} error(s); first: {}", .0.iter().filter(|f| f.is_error()).count(), .0.iter().find(|f| f.is_error()).map(ToString::to_string).unwrap_or_default())]
    Invalid(Vec<Finding>),
}

impl Config {
    /// Reads and parses the file, applies the environment overrides (read through `env`, so
    /// tests need not touch the process environment).
    pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, &path.display().to_string(), env)
    }

    /// Parses TOML text; `origin` names it in messages.
    pub fn parse(
        text: &str,
        origin: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut c: Config = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|s| {
                    let before = &text[..s.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                    format!("{origin}:{line}:{col}")
                })
                .unwrap_or_else(|| origin.to_string());
            ConfigError::Syntax(Box::new(Finding::error(at, e.message().trim().to_string())))
        })?;
        if let Some(u) = env("LIENTHONG_AMQP_URL").filter(|u| !u.is_empty()) {
            c.bus.amqp_url = Some(u);
        }
        if let Some(u) = env("LIENTHONG_JOURNAL_URL").filter(|u| !u.is_empty()) {
            c.journal.url = Some(u);
        }
        if let Some(l) = env("LIENTHONG_LISTEN").filter(|l| !l.is_empty()) {
            c.gateway.listen = l;
        }
        if let Some(n) = env("LIENTHONG_NODE_NAME").filter(|n| !n.trim().is_empty()) {
            c.gateway.node_name = Some(n.trim().to_owned());
        }
        Ok(c)
    }

    /// Loads and checks: the configuration when it has no error finding (warnings are
    /// returned beside it).
    pub fn load_checked(
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(Config, Vec<Finding>), ConfigError> {
        let c = Config::load(path, env)?;
        let findings = c.check(env);
        if findings.iter().any(Finding::is_error) {
            return Err(ConfigError::Invalid(findings));
        }
        Ok((c, findings))
    }

    /// Every mistake at once: paths like `clients[1].units[0]`, what was expected, what was
    /// found. Secrets are checked for presence in the environment, never printed.
    pub fn check(&self, env: &dyn Fn(&str) -> Option<String>) -> Vec<Finding> {
        let mut f = Vec::new();
        let err = |path: String, msg: &str, expected: &str, found: String| {
            Finding::error(path, msg).expected(expected).found(found)
        };
        if self.gateway.listen.parse::<SocketAddr>().is_err() {
            f.push(err(
                "gateway.listen".into(),
                "not a socket address",
                "IP:PORT, e.g. 127.0.0.1:8700",
                self.gateway.listen.clone(),
            ));
        }
        if self.gateway.max_request_bytes < 1024 {
            f.push(err(
                "gateway.max_request_bytes".into(),
                "too small to hold one dossier",
                "at least 1024",
                self.gateway.max_request_bytes.to_string(),
            ));
        }
        if let Some(url) = &self.journal.url
            && !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
        {
            f.push(err(
                "journal.url".into(),
                "unsupported journal database",
                "sqlite://FILE or postgres://…",
                redact(url),
            ));
        }
        if env(&self.journal.encryption_key_env).is_none_or(|k| k.trim().is_empty()) {
            f.push(
                Finding::warning(
                    "journal.encryption_key_env",
                    format!(
                        "the environment variable {} is not set: bodies holding personal data \
                         cannot be stored",
                        self.journal.encryption_key_env
                    ),
                )
                .expected("64 hex digits or base64 of 32 bytes in the environment"),
            );
        }
        if self.journal.retention_days == 0 {
            f.push(err(
                "journal.retention_days".into(),
                "the message log would be purged at once",
                "at least 1",
                "0".into(),
            ));
        }
        if self.journal.max_connections == 0 || self.journal.max_connections > 512 {
            f.push(err(
                "journal.max_connections".into(),
                "the size of the journal's connection pool",
                "1 to 512 (default 16)",
                self.journal.max_connections.to_string(),
            ));
        }
        if let Some(url) = &self.bus.amqp_url
            && !(url.starts_with("amqp://") || url.starts_with("amqps://"))
        {
            f.push(err(
                "bus.amqp_url".into(),
                "not an AMQP URL",
                "amqp://user:password@host:5672/vhost",
                redact(url),
            ));
        }
        let prefix_ok = self.bus.prefix.len() <= 64
            && self
                .bus
                .prefix
                .starts_with(|c: char| c.is_ascii_lowercase())
            && self.bus.prefix.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
            });
        if !prefix_ok {
            f.push(err(
                "bus.prefix".into(),
                "not a usable name prefix",
                "a lowercase letter then [a-z0-9._-], at most 64 characters",
                self.bus.prefix.clone(),
            ));
        }
        if self.bus.max_attempts == 0 {
            f.push(err(
                "bus.max_attempts".into(),
                "no attempt would ever be made",
                "at least 1",
                "0".into(),
            ));
        }
        let d = &self.bus.retry_delays_secs;
        if d.is_empty() || d[0] == 0 || d.windows(2).any(|w| w[0] >= w[1]) {
            f.push(err(
                "bus.retry_delays_secs".into(),
                "retry delays must be positive and strictly ascending",
                "e.g. [5, 30, 120, 600, 3600, 21600]",
                format!("{d:?}"),
            ));
        }
        match &self.dvcqg {
            None => f.push(Finding::warning(
                "dvcqg",
                "no [dvcqg] section: dossiers are journaled but not sent to the national portal",
            )),
            Some(p) => {
                if !(p.adapter_url.starts_with("http://") || p.adapter_url.starts_with("https://"))
                {
                    f.push(err(
                        "dvcqg.adapter_url".into(),
                        "not an HTTP URL",
                        "http(s)://host[:port][/path]",
                        p.adapter_url.clone(),
                    ));
                }
                for (key, v) in [
                    ("dvcqg.auth_endpoint", &p.auth_endpoint),
                    ("dvcqg.integration_endpoint", &p.integration_endpoint),
                    ("dvcqg.share_endpoint", &p.share_endpoint),
                ] {
                    if !v.starts_with('/') {
                        f.push(err(key.into(), "not a path", "/…", v.clone()));
                    }
                }
                if p.username.trim().is_empty() {
                    f.push(err(
                        "dvcqg.username".into(),
                        "empty account",
                        "the account the portal issued",
                        String::new(),
                    ));
                }
                if env(&p.password_env).is_none_or(|v| v.is_empty()) {
                    f.push(
                        Finding::error(
                            "dvcqg.password_env",
                            format!(
                                "the environment variable {} (the portal password) is not set",
                                p.password_env
                            ),
                        )
                        .expected("the password in the environment, never in the file"),
                    );
                }
                check_unit_code(&mut f, "dvcqg.madonvi", &p.madonvi, &self.mapping.own_codes);
                if p.breaker_failures == 0 {
                    f.push(err(
                        "dvcqg.breaker_failures".into(),
                        "the breaker would open without a failure",
                        "at least 1",
                        "0".into(),
                    ));
                }
                if p.sync_lanes == 0 || p.sync_lanes > 256 {
                    f.push(err(
                        "dvcqg.sync_lanes".into(),
                        "the number of dossiers synchronised at the same time",
                        "1 to 256 (default 16)",
                        p.sync_lanes.to_string(),
                    ));
                }
                if p.catalogue_ttl_secs < 60 {
                    f.push(err(
                        "dvcqg.catalogue_ttl_secs".into(),
                        "the catalogue would be fetched again almost at once",
                        "at least 60 seconds (default 21600)",
                        p.catalogue_ttl_secs.to_string(),
                    ));
                }
                if p.breaker_open_secs == 0 {
                    f.push(err(
                        "dvcqg.breaker_open_secs".into(),
                        "the breaker would never hold back",
                        "at least 1 second",
                        "0".into(),
                    ));
                }
            }
        }
        let mut unit_codes = BTreeSet::new();
        if self.units.is_empty() {
            f.push(Finding::warning(
                "units",
                "no [[units]]: no client can submit dossiers",
            ));
        }
        for (i, u) in self.units.iter().enumerate() {
            check_unit_code(
                &mut f,
                &format!("units[{i}].code"),
                &u.code,
                &self.mapping.own_codes,
            );
            if !unit_codes.insert(u.code.as_str()) {
                f.push(err(
                    format!("units[{i}].code"),
                    "unit listed twice",
                    "each unit once",
                    u.code.clone(),
                ));
            }
            if u.name.trim().is_empty() {
                f.push(err(
                    format!("units[{i}].name"),
                    "empty name",
                    "the unit's name",
                    String::new(),
                ));
            }
        }
        let mut names = BTreeSet::new();
        let mut hashes = BTreeSet::new();
        for (i, c) in self.clients.iter().enumerate() {
            check_name(&mut f, &format!("clients[{i}].name"), &c.name, &mut names);
            check_hash(
                &mut f,
                &format!("clients[{i}].token_sha256"),
                &c.token_sha256,
                &mut hashes,
            );
            if c.units.is_empty() {
                f.push(err(
                    format!("clients[{i}].units"),
                    "a client without units may submit nothing",
                    "unit codes from [[units]], or [\"*\"]",
                    "[]".into(),
                ));
            }
            for (j, u) in c.units.iter().enumerate() {
                if u != "*" && !unit_codes.contains(u.as_str()) {
                    f.push(err(
                        format!("clients[{i}].units[{j}]"),
                        "not a configured unit",
                        "a code listed in [[units]], or \"*\"",
                        u.clone(),
                    ));
                }
            }
        }
        let mut names = BTreeSet::new();
        for (i, o) in self.operators.iter().enumerate() {
            check_name(&mut f, &format!("operators[{i}].name"), &o.name, &mut names);
            check_hash(
                &mut f,
                &format!("operators[{i}].token_sha256"),
                &o.token_sha256,
                &mut hashes,
            );
            if Role::from_name(&o.role).is_none() {
                f.push(err(
                    format!("operators[{i}].role"),
                    "unknown role",
                    "viewer, operator or admin",
                    o.role.clone(),
                ));
            }
        }
        if let Some(p) = &self.portal {
            self.check_portal(p, env, &mut f);
        }
        if let Some(v) = &self.vdxp {
            self.check_vdxp(v, env, &unit_codes, &mut f);
        }
        for (local, portal) in &self.mapping.procedure_map {
            if local.trim().is_empty() || portal.trim().is_empty() {
                f.push(err(
                    format!("mapping.procedure_map.{local}"),
                    "empty procedure code",
                    "LOCAL = \"PORTAL\", both non-empty",
                    format!("{local:?} = {portal:?}"),
                ));
            }
        }
        f
    }

    fn check_portal(&self, p: &Portal, env: &dyn Fn(&str) -> Option<String>, f: &mut Vec<Finding>) {
        let path = p.receiver_path.trim_end_matches('/');
        if !p.receiver_path.starts_with('/')
            || path.is_empty()
            || p.receiver_path.contains(['{', '}', '*', '?', '#', ' '])
        {
            f.push(
                Finding::error("portal.receiver_path", "not a plain path")
                    .expected("/… without {, }, *, ?, # or spaces, e.g. /v1/portal/dossiers")
                    .found(p.receiver_path.clone()),
            );
        } else if RESERVED_PATHS
            .iter()
            .any(|r| path == *r || path.starts_with(&format!("{r}/")))
        {
            f.push(
                Finding::error("portal.receiver_path", "taken by the gateway's own API")
                    .expected("a path outside /v1/dossiers, /v1/submissions, /admin, /health, /ready, /metrics")
                    .found(p.receiver_path.clone()),
            );
        }
        if TokenHash::parse(&p.receiver_token_sha256).is_none() {
            f.push(
                Finding::error("portal.receiver_token_sha256", "not a SHA-256 hash")
                    .expected("64 hex digits: `lienthong token hash TOKEN` of the portal's token")
                    .found(format!(
                        "{} characters",
                        p.receiver_token_sha256.chars().count()
                    )),
            );
        }
        if p.webhook_timeout_secs == 0 {
            f.push(
                Finding::error(
                    "portal.webhook_timeout_secs",
                    "no webhook call could succeed",
                )
                .expected("at least 1")
                .found("0"),
            );
        }
        if self.dvcqg.is_none() {
            f.push(Finding::warning(
                "portal",
                "no [dvcqg] section: the statuses of portal submissions are not reported back",
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, w) in p.webhooks.iter().enumerate() {
            if !self.clients.iter().any(|c| c.name == w.client) {
                f.push(
                    Finding::error(
                        format!("portal.webhooks[{i}].client"),
                        "not a configured client",
                    )
                    .expected("a name listed in [[clients]]")
                    .found(w.client.clone()),
                );
            } else if !seen.insert(w.client.as_str()) {
                f.push(
                    Finding::error(
                        format!("portal.webhooks[{i}].client"),
                        "client has two webhooks",
                    )
                    .expected("one webhook per client")
                    .found(w.client.clone()),
                );
            }
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                f.push(
                    Finding::error(format!("portal.webhooks[{i}].url"), "not an HTTP URL")
                        .expected("http(s)://host[:port]/path")
                        .found(redact(&w.url)),
                );
            }
            match env(&w.secret_env) {
                None => f.push(
                    Finding::error(
                        format!("portal.webhooks[{i}].secret_env"),
                        format!(
                            "the environment variable {} (the webhook secret) is not set",
                            w.secret_env
                        ),
                    )
                    .expected("the secret in the environment, never in the file"),
                ),
                Some(s) if s.len() < 16 => f.push(
                    Finding::error(
                        format!("portal.webhooks[{i}].secret_env"),
                        "secret too short",
                    )
                    .expected("at least 16 bytes (openssl rand -hex 32)")
                    .found(format!("{} bytes", s.len())),
                ),
                Some(_) => {}
            }
        }
    }

    fn check_vdxp(
        &self,
        v: &Vdxp,
        env: &dyn Fn(&str) -> Option<String>,
        units: &BTreeSet<&str>,
        f: &mut Vec<Finding>,
    ) {
        if !(v.base_url.starts_with("http://") || v.base_url.starts_with("https://")) {
            f.push(
                Finding::error("vdxp.base_url", "not an HTTP URL")
                    .expected("http(s)://host[:port][/path]")
                    .found(redact(&v.base_url)),
            );
        }
        if v.systemid.trim().is_empty() || !v.systemid.is_ascii() {
            f.push(
                Finding::error("vdxp.systemid", "not a usable system id")
                    .expected("the ASCII systemid the axis issued, e.g. vxp.h41")
                    .found(v.systemid.clone()),
            );
        }
        if env(&v.secret_env).is_none_or(|s| s.is_empty()) {
            f.push(
                Finding::error(
                    "vdxp.secret_env",
                    format!(
                        "the environment variable {} (the axis secret) is not set",
                        v.secret_env
                    ),
                )
                .expected("the secret in the environment, never in the file"),
            );
        }
        if v.poll_interval_secs == 0 {
            f.push(
                Finding::error(
                    "vdxp.poll_interval_secs",
                    "the axis would be polled without pause",
                )
                .expected("at least 1")
                .found("0"),
            );
        }
        if v.organisations.is_empty() {
            f.push(
                Finding::error("vdxp.organisations", "no own organisation")
                    .expected("at least one [[vdxp.organisations]] with all eight fields")
                    .found("none"),
            );
        }
        let mut seen = BTreeSet::new();
        for (i, o) in v.organisations.iter().enumerate() {
            let path = format!("vdxp.organisations[{i}]");
            if !OrganId::parse_lenient(&o.organ_id).is_some_and(|c| c.is_valid_own_code()) {
                f.push(
                    Finding::error(
                        format!("{path}.organ_id"),
                        "not an own code in the strict form",
                    )
                    .expected("NNN.NN.NN.XNN with X one of A, G, H (codes.md §1.4)")
                    .found(o.organ_id.clone()),
                );
            } else if !units.contains(o.organ_id.as_str()) {
                f.push(
                    Finding::error(format!("{path}.organ_id"), "not a configured unit")
                        .expected("the code listed in [[units]] too (clients are scoped by units)")
                        .found(o.organ_id.clone()),
                );
            }
            if !seen.insert(o.organ_id.as_str()) {
                f.push(
                    Finding::error(format!("{path}.organ_id"), "organisation listed twice")
                        .expected("each organisation once")
                        .found(o.organ_id.clone()),
                );
            }
            for (name, value) in [
                ("organization_in_charge", &o.organization_in_charge),
                ("organ_name", &o.organ_name),
                ("organ_add", &o.organ_add),
                ("email", &o.email),
                ("telephone", &o.telephone),
                ("fax", &o.fax),
                ("website", &o.website),
            ] {
                if value.trim().is_empty() {
                    f.push(
                        Finding::error(format!("{path}.{name}"), "empty")
                            .expected("a value: receivers' validators require every field of the sender (edxml.md §10)")
                            .found(""),
                    );
                }
            }
        }
        for (old, new) in &v.aliases {
            if old.trim().is_empty() || new.trim().is_empty() || old == new {
                f.push(
                    Finding::error(format!("vdxp.aliases.{old}"), "not a code change")
                        .expected("\"OLD\" = \"NEW\", two different non-empty codes")
                        .found(format!("{old:?} = {new:?}")),
                );
            }
        }
        for (code, rule) in &v.progress {
            if lienthong_model::StatusCode::new(code)
                .and_then(|c| c.known())
                .is_none()
            {
                f.push(
                    Finding::error(format!("vdxp.progress.{code}"), "not an axis status code")
                        .expected("01, 02, 03, 04, 05, 06, 13, 15 or 16")
                        .found(code.clone()),
                );
            }
            if !rule.status.is_empty()
                && lienthong_model::DossierStatus::from_name(&rule.status).is_none()
            {
                f.push(
                    Finding::error(
                        format!("vdxp.progress.{code}.status"),
                        "unknown dossier status",
                    )
                    .expected(format!(
                        "empty or one of {}",
                        lienthong_model::DossierStatus::names()
                    ))
                    .found(rule.status.clone()),
                );
            }
            if rule.enabled && rule.text.trim().is_empty() {
                f.push(
                    Finding::error(format!("vdxp.progress.{code}.text"), "empty step text")
                        .expected("a text, e.g. \"Văn bản {code} đã đến {organ}\"")
                        .found(""),
                );
            }
        }
        let mut hooks = BTreeSet::new();
        for (i, w) in v.webhooks.iter().enumerate() {
            if !self.clients.iter().any(|c| c.name == w.client) {
                f.push(
                    Finding::error(
                        format!("vdxp.webhooks[{i}].client"),
                        "not a configured client",
                    )
                    .expected("a name listed in [[clients]]")
                    .found(w.client.clone()),
                );
            } else if !hooks.insert(w.client.as_str()) {
                f.push(
                    Finding::error(
                        format!("vdxp.webhooks[{i}].client"),
                        "client has two webhooks",
                    )
                    .expected("one webhook per client")
                    .found(w.client.clone()),
                );
            }
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                f.push(
                    Finding::error(format!("vdxp.webhooks[{i}].url"), "not an HTTP URL")
                        .expected("http(s)://host[:port]/path")
                        .found(redact(&w.url)),
                );
            }
            if env(&w.secret_env).is_none_or(|s| s.len() < 16) {
                f.push(
                    Finding::error(
                        format!("vdxp.webhooks[{i}].secret_env"),
                        format!(
                            "the environment variable {} (the webhook secret) is not set or shorter than 16 bytes",
                            w.secret_env
                        ),
                    )
                    .expected("the secret in the environment (openssl rand -hex 32)"),
                );
            }
        }
    }

    /// The journal URL in use: `journal.url`, else the SQLite file in the data directory.
    pub fn journal_url(&self) -> String {
        self.journal.url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                self.gateway.data_dir.join("lienthong.db").display()
            )
        })
    }

    /// This node's name in leases, claims and logs: `gateway.node_name` (or
    /// `LIENTHONG_NODE_NAME`), else the host name (in Kubernetes the pod's name), else
    /// `lienthong`. Nodes sharing a journal must have different names.
    pub fn node_name(&self) -> String {
        if let Some(n) = self
            .gateway
            .node_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            return n.to_owned();
        }
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "lienthong".to_owned())
    }

    /// The unit `code`, if configured.
    pub fn unit(&self, code: &str) -> Option<&Unit> {
        self.units.iter().find(|u| u.code == code)
    }
}

fn check_unit_code(f: &mut Vec<Finding>, path: &str, code: &str, own: &[String]) {
    let strict = OrganId::parse_lenient(code).is_some_and(|o| o.is_strict());
    if !strict && !own.iter().any(|o| o == code) {
        f.push(
            Finding::error(path, "not a unit code in the strict form")
                .expected("NNN.NN.NN.XNN, e.g. 000.00.15.H41 (or list it in mapping.own_codes)")
                .found(code),
        );
    }
}

fn check_name(f: &mut Vec<Finding>, path: &str, name: &str, seen: &mut BTreeSet<String>) {
    if name.trim().is_empty() {
        f.push(
            Finding::error(path, "empty name")
                .expected("a name")
                .found(""),
        );
    } else if !seen.insert(name.to_string()) {
        f.push(
            Finding::error(path, "name used twice")
                .expected("unique names")
                .found(name),
        );
    }
}

fn check_hash(f: &mut Vec<Finding>, path: &str, hash: &str, seen: &mut BTreeSet<String>) {
    match TokenHash::parse(hash) {
        None => f.push(
            Finding::error(path, "not a SHA-256 hash")
                .expected("64 hex digits, as printed by `lienthong token new`")
                .found(format!("{} characters", hash.chars().count())),
        ),
        Some(h) => {
            if !seen.insert(h.to_string()) {
                f.push(
                    Finding::error(path, "the same token is configured twice")
                        .expected("one token per client or operator")
                        .found("a hash used before"),
                );
            }
        }
    }
}

/// A URL without its password (`scheme://user:***@host/...`); a URL without a password is
/// returned as it is.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
            None => url.to_string(),
        },
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_redacted_and_nothing_else() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(
            redact("amqp://guest:p@ss@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://data/x.db"), "sqlite://data/x.db");
        assert_eq!(redact("not a url"), "not a url");
    }
}
