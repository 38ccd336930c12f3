//! `lienthong queues|parked|maintenance|audit|resync|partners|catalogue|submissions`: an operator's commands against a running
//! gateway's admin API (`/v1/admin/…`). Wiring only: an HTTP client, tables for people and
//! JSON (`--format json`) for scripts; the gateway decides and audits.
//!
//! Exit codes: 0 done, 1 refused by the gateway (bad request, role too low), 2 the gateway
//! could not be reached, the token was not accepted, or the gateway failed.

use crate::edxml_cmd::Outcome;
use serde_json::{Value, json};
use std::time::Duration;

/// Where the gateway is and who is asking.
#[derive(Debug, Clone, clap::Args)]
pub struct GatewayArgs {
    /// The gateway's API (default: LIENTHONG_URL, else the `gateway.listen` address of
    /// --config, else http://127.0.0.1:8700).
    #[arg(long)]
    pub url: Option<String>,
    /// The gateway's configuration file, for the default --url (default: LIENTHONG_CONFIG).
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
    /// An operator token (default: the environment variable LIENTHONG_TOKEN).
    #[arg(long)]
    pub token: Option<String>,
    /// Output: a table for people, JSON for scripts.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// The gateway's URL: `--url`, else `LIENTHONG_URL`, else the listen address of the
/// configuration (`--config` or `LIENTHONG_CONFIG`; an unspecified address means this host),
/// else the default listen address.
fn base_url(g: &GatewayArgs) -> Result<String, Failure> {
    if let Some(u) = g
        .url
        .clone()
        .or_else(|| std::env::var("LIENTHONG_URL").ok())
    {
        return Ok(u);
    }
    let config = g
        .config
        .clone()
        .or_else(|| std::env::var_os("LIENTHONG_CONFIG").map(Into::into));
    let Some(path) = config else {
        return Ok("http://127.0.0.1:8700".to_owned());
    };
    let env = |k: &str| std::env::var(k).ok();
    let c = lienthong_service::config::Config::load(&path, &env).map_err(|e| {
        Failure(
            Outcome::Unreadable,
            format!(
                "cannot read the gateway configuration {}: {e}",
                path.display()
            ),
        )
    })?;
    Ok(listen_url(&c.gateway.listen))
}

/// `http://` URL of a listen address; `0.0.0.0` / `[::]` (every interface) become loopback.
fn listen_url(listen: &str) -> String {
    let addr = match listen.rsplit_once(':') {
        Some(("0.0.0.0", port)) => format!("127.0.0.1:{port}"),
        Some(("[::]", port)) => format!("[::1]:{port}"),
        _ => listen.to_owned(),
    };
    format!("http://{addr}")
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns.
    Table,
    /// The gateway's JSON answer.
    Json,
}

/// `lienthong queues`.
#[derive(Debug, Clone, clap::Args)]
pub struct QueuesArgs {
    #[command(flatten)]
    gateway: GatewayArgs,
}

/// Which parked messages an action applies to.
#[derive(Debug, Clone, clap::Args)]
pub struct SelectArgs {
    /// One message: its id (with --route).
    #[arg(long, requires = "route", conflicts_with = "all")]
    id: Option<String>,
    /// The route (with --id: that message; alone: every parked message of the route).
    #[arg(long)]
    route: Option<String>,
    /// Every parked message with this partner code.
    #[arg(long, conflicts_with = "all")]
    partner_code: Option<String>,
    /// Every parked message.
    #[arg(long, conflicts_with = "route")]
    all: bool,
    /// Why (recorded in the audit log).
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    gateway: GatewayArgs,
}

/// `lienthong parked …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ParkedCommand {
    /// Parked messages waiting for an operator, newest first.
    List {
        /// Only this route.
        #[arg(long)]
        route: Option<String>,
        /// Only this partner code.
        #[arg(long)]
        partner_code: Option<String>,
        /// Only reasons containing this text.
        #[arg(long)]
        reason: Option<String>,
        /// Page size.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Rows to skip.
        #[arg(long, default_value_t = 0)]
        offset: u32,
        #[command(flatten)]
        gateway: GatewayArgs,
    },
    /// Publish parked messages back to their route (`--id ID --route R`, `--all`, or a
    /// filter: `--route R` / `--partner-code C`).
    Replay(SelectArgs),
    /// Discard parked messages (kept for audit), same selection as replay.
    Discard(SelectArgs),
}

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    /// Intake answers 503.
    On,
    /// Intake accepts again.
    Off,
}

/// `lienthong maintenance on|off`.
#[derive(Debug, Clone, clap::Args)]
pub struct MaintenanceArgs {
    /// On or off.
    #[arg(value_enum)]
    state: Switch,
    /// Why (recorded in the audit log).
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    gateway: GatewayArgs,
}

/// `lienthong audit`.
#[derive(Debug, Clone, clap::Args)]
pub struct AuditArgs {
    /// Only this operator.
    #[arg(long)]
    actor: Option<String>,
    /// Only this action (parked.replay, parked.discard, maintenance.on, maintenance.off,
    /// dossier.resync).
    #[arg(long)]
    action: Option<String>,
    /// Only since this time (RFC 3339).
    #[arg(long)]
    since: Option<String>,
    /// At most this many entries.
    #[arg(long, default_value_t = 100)]
    limit: u32,
    #[command(flatten)]
    gateway: GatewayArgs,
}

/// `lienthong resync CODE`.
#[derive(Debug, Clone, clap::Args)]
pub struct ResyncArgs {
    /// The dossier code.
    code: String,
    /// Only compare and report; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Why (recorded in the audit log; required unless --dry-run).
    #[arg(long, required_unless_present = "dry_run")]
    reason: Option<String>,
    #[command(flatten)]
    gateway: GatewayArgs,
}

/// `lienthong partners …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum PartnersCommand {
    /// Call each configured partner: reachability, latency, error class, circuit breaker.
    Ping {
        #[command(flatten)]
        gateway: GatewayArgs,
    },
}

/// `lienthong catalogue`.
#[derive(Debug, Clone, clap::Args)]
pub struct CatalogueArgs {
    #[command(flatten)]
    gateway: GatewayArgs,
}

/// `lienthong submissions`.
#[derive(Debug, Clone, clap::Args)]
pub struct SubmissionsArgs {
    /// Only those the provincial system has not taken yet.
    #[arg(long)]
    undelivered: bool,
    /// Only those of this unit.
    #[arg(long)]
    unit: Option<String>,
    /// At most this many (newest first).
    #[arg(long, default_value_t = 100)]
    limit: u32,
    #[command(flatten)]
    gateway: GatewayArgs,
}

/// `lienthong edocs …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum EdocsCommand {
    /// Documents and statuses exchanged over the axis, newest first (no bodies).
    List {
        /// `in` (received) or `out` (sent).
        #[arg(long)]
        direction: Option<String>,
        /// `edoc` or `status`.
        #[arg(long)]
        kind: Option<String>,
        /// Only in this state (queued, sending, sent, parked, received).
        #[arg(long)]
        state: Option<String>,
        /// Only those linked to this dossier.
        #[arg(long)]
        dossier: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[command(flatten)]
        gateway: GatewayArgs,
    },
    /// One message with every message about the same document.
    Show {
        /// The gateway's id (`out-…` or `in-…`).
        id: String,
        #[command(flatten)]
        gateway: GatewayArgs,
    },
    /// Queue a parked or failed outgoing message again (operator; audited). Refused for a
    /// message the axis took.
    Resend {
        /// The gateway's id (`out-…`).
        id: String,
        /// You checked with the recipient that an interrupted send did not arrive: send
        /// without asking the axis first.
        #[arg(long)]
        not_sent: bool,
        /// Why (recorded in the audit log).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        gateway: GatewayArgs,
    },
}

/// `lienthong agencies …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AgenciesCommand {
    /// Search the agency directory synced from the axis by code, old code or name.
    Search {
        /// Part of a code or a name.
        text: String,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        gateway: GatewayArgs,
    },
}

/// Why a command failed, and its exit code.
struct Failure(Outcome, String);

/// The admin API of one gateway.
struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    fn new(g: &GatewayArgs) -> Result<Api, Failure> {
        let token = g
            .token
            .clone()
            .or_else(|| std::env::var("LIENTHONG_TOKEN").ok())
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                Failure(
                    Outcome::Unreadable,
                    "no token: pass --token or set LIENTHONG_TOKEN to an operator token".into(),
                )
            })?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Failure(Outcome::Unreadable, format!("cannot build a client: {e}")))?;
        Ok(Api {
            base: base_url(g)?.trim_end_matches('/').to_owned(),
            token: token.trim().to_owned(),
            http,
        })
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, Failure> {
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.base)).map_err(|e| {
            Failure(
                Outcome::Unreadable,
                format!("not a URL: {}{path}: {e}", self.base),
            )
        })?;
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        let r = self.http.get(url).bearer_auth(&self.token);
        self.answer(r).await
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Value, Failure> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body);
        self.answer(r).await
    }

    async fn answer(&self, r: reqwest::RequestBuilder) -> Result<Value, Failure> {
        let resp = r.send().await.map_err(|e| {
            if e.is_connect() {
                Failure(
                    Outcome::Unreadable,
                    format!(
                        "no gateway at {} (is `lienthong serve` running there?)",
                        self.base
                    ),
                )
            } else if e.is_timeout() {
                Failure(
                    Outcome::Unreadable,
                    format!("the gateway at {} did not answer in time", self.base),
                )
            } else {
                Failure(
                    Outcome::Unreadable,
                    format!("cannot reach the gateway at {}: {e}", self.base),
                )
            }
        })?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let message = body["message"]
            .as_str()
            .unwrap_or("no explanation")
            .to_owned();
        Err(match status.as_u16() {
            401 => Failure(
                Outcome::Unreadable,
                format!(
                    "the token is not an operator token of this gateway ({})",
                    self.base
                ),
            ),
            403 => Failure(Outcome::Invalid, format!("not allowed: {message}")),
            409 => Failure(Outcome::Invalid, format!("not now: {message}")),
            503 if body["error"] == "not_configured" => {
                Failure(Outcome::Invalid, format!("refused: {message}"))
            }
            404 if body["error"] == "not_found" => {
                Failure(Outcome::Invalid, format!("not found: {message}"))
            }
            404 => Failure(
                Outcome::Unreadable,
                format!(
                    "{} has no admin API (an older gateway, or not a gateway)",
                    self.base
                ),
            ),
            s if s < 500 => Failure(Outcome::Invalid, format!("refused: {message}")),
            s => Failure(
                Outcome::Unreadable,
                format!("the gateway failed ({s}): {message}"),
            ),
        })
    }
}

/// Runs one command on a small runtime and turns its failure into a message and exit code.
fn run<F>(f: F) -> Outcome
where
    F: std::future::Future<Output = Result<(), Failure>>,
{
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Outcome::Unreadable;
        }
    };
    match rt.block_on(f) {
        Ok(()) => Outcome::Valid,
        Err(Failure(code, message)) => {
            eprintln!("error: {message}");
            code
        }
    }
}

fn print_json(v: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

/// Prints aligned columns.
fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let n = cells.len();
        let mut s = String::new();
        for (i, (c, w)) in cells.into_iter().zip(&widths).enumerate() {
            s.push_str(&c);
            if i + 1 < n {
                s.push_str(&" ".repeat(w - c.chars().count() + 2));
            }
        }
        println!("{s}");
    };
    line(headers.iter().map(|h| (*h).to_owned()).collect());
    for r in rows {
        line(r.clone());
    }
}

/// A JSON value as a cell: strings bare, null as `-`.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:.1}"),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// At most `n` characters, with `…` when cut.
fn cut(s: String, n: usize) -> String {
    if s.chars().count() <= n {
        s
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

fn items<'a>(v: &'a Value, member: &str) -> &'a [Value] {
    v[member].as_array().map_or(&[], Vec::as_slice)
}

/// `lienthong queues`.
pub fn queues(a: &QueuesArgs) -> Outcome {
    run(async {
        let api = Api::new(&a.gateway)?;
        let v = api.get("/v1/admin/queues", &[]).await?;
        if a.gateway.format == Format::Json {
            print_json(&v);
            return Ok(());
        }
        let rows: Vec<Vec<String>> = items(&v, "queues")
            .iter()
            .map(|q| {
                [
                    "route",
                    "partitions",
                    "ready",
                    "unacked",
                    "waiting_retry",
                    "parked",
                    "consumers",
                    "published_per_s",
                    "acked_per_s",
                ]
                .iter()
                .map(|k| cell(&q[*k]))
                .collect()
            })
            .collect();
        table(
            &[
                "ROUTE",
                "PARTITIONS",
                "READY",
                "UNACKED",
                "RETRYING",
                "PARKED",
                "CONSUMERS",
                "PUBLISHED/S",
                "ACKED/S",
            ],
            &rows,
        );
        Ok(())
    })
}

/// `lienthong parked …`.
pub fn parked(c: &ParkedCommand) -> Outcome {
    match c {
        ParkedCommand::List {
            route,
            partner_code,
            reason,
            limit,
            offset,
            gateway,
        } => run(async {
            let api = Api::new(gateway)?;
            let mut q = vec![("limit", limit.to_string()), ("offset", offset.to_string())];
            for (k, v) in [
                ("route", route),
                ("partner_code", partner_code),
                ("reason", reason),
            ] {
                if let Some(v) = v {
                    q.push((k, v.clone()));
                }
            }
            let v = api.get("/v1/admin/parked", &q).await?;
            if gateway.format == Format::Json {
                print_json(&v);
                return Ok(());
            }
            let list = items(&v, "parked");
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|p| {
                    vec![
                        cell(&p["route"]),
                        cell(&p["id"]),
                        cell(&p["key"]),
                        cell(&p["parked_at"]),
                        cell(&p["attempts"]),
                        cell(&p["partner_code"]),
                        cut(cell(&p["reason"]), 70),
                    ]
                })
                .collect();
            table(
                &[
                    "ROUTE",
                    "ID",
                    "KEY",
                    "PARKED AT",
                    "ATTEMPTS",
                    "PARTNER CODE",
                    "REASON",
                ],
                &rows,
            );
            println!("{} parked message(s)", list.len());
            Ok(())
        }),
        ParkedCommand::Replay(s) => act(s, "replay", "replayed"),
        ParkedCommand::Discard(s) => act(s, "discard", "discarded"),
    }
}

fn act(s: &SelectArgs, verb: &str, done: &str) -> Outcome {
    let selection = if s.all {
        json!({ "all": true })
    } else if let (Some(id), Some(route)) = (&s.id, &s.route) {
        json!({ "route": route, "id": id })
    } else if s.route.is_some() || s.partner_code.is_some() {
        json!({ "filter": { "route": s.route, "partner_code": s.partner_code } })
    } else {
        eprintln!(
            "error: say which parked messages: --id ID --route R, --all, or a filter \
             (--route R, --partner-code C)"
        );
        return Outcome::Invalid;
    };
    let mut body = selection;
    body["reason"] = json!(s.reason);
    run(async {
        let api = Api::new(&s.gateway)?;
        let v = api.post(&format!("/v1/admin/parked/{verb}"), &body).await?;
        if s.gateway.format == Format::Json {
            print_json(&v);
        } else {
            println!(
                "{done} {} message(s) (audit entry {})",
                cell(&v[done]),
                cell(&v["audit_id"])
            );
        }
        Ok(())
    })
}

/// `lienthong maintenance on|off`.
pub fn maintenance(a: &MaintenanceArgs) -> Outcome {
    run(async {
        let api = Api::new(&a.gateway)?;
        let on = a.state == Switch::On;
        let v = api
            .post(
                "/v1/admin/maintenance",
                &json!({ "on": on, "reason": a.reason }),
            )
            .await?;
        if a.gateway.format == Format::Json {
            print_json(&v);
        } else {
            let word = |b: bool| if b { "on" } else { "off" };
            println!(
                "maintenance mode {} (was {}; audit entry {})",
                word(v["maintenance"].as_bool().unwrap_or(on)),
                word(v["was"].as_bool().unwrap_or(false)),
                cell(&v["audit_id"])
            );
        }
        Ok(())
    })
}

/// `lienthong audit`.
pub fn audit(a: &AuditArgs) -> Outcome {
    run(async {
        let api = Api::new(&a.gateway)?;
        let mut q = vec![("limit", a.limit.to_string())];
        for (k, v) in [
            ("actor", &a.actor),
            ("action", &a.action),
            ("since", &a.since),
        ] {
            if let Some(v) = v {
                q.push((k, v.clone()));
            }
        }
        let v = api.get("/v1/admin/audit", &q).await?;
        if a.gateway.format == Format::Json {
            print_json(&v);
            return Ok(());
        }
        let rows: Vec<Vec<String>> = items(&v, "audit")
            .iter()
            .map(|e| {
                vec![
                    cell(&e["id"]),
                    cell(&e["at"]),
                    cell(&e["actor"]),
                    cell(&e["role"]),
                    cell(&e["action"]),
                    cut(cell(&e["target"]), 40),
                    cut(cell(&e["reason"]), 60),
                ]
            })
            .collect();
        table(
            &["ID", "AT", "ACTOR", "ROLE", "ACTION", "TARGET", "REASON"],
            &rows,
        );
        Ok(())
    })
}

/// `s` as one URL path segment (percent-encoded outside the unreserved characters).
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `lienthong resync CODE`.
pub fn resync(a: &ResyncArgs) -> Outcome {
    run(async {
        let api = Api::new(&a.gateway)?;
        let mut body = json!({ "dry_run": a.dry_run });
        if let Some(r) = &a.reason {
            body["reason"] = json!(r);
        }
        let path = format!("/v1/admin/dossiers/{}/resync", segment(&a.code));
        let v = api.post(&path, &body).await?;
        if a.gateway.format == Format::Json {
            print_json(&v);
            return Ok(());
        }
        let j = &v["journal"];
        let p = &v["portal"];
        println!("dossier {}", cell(&v["code"]));
        table(
            &["", "JOURNAL", "PORTAL"],
            &[
                vec![
                    "known to the portal".into(),
                    cell(&j["portal_known"]),
                    cell(&p["found"]),
                ],
                vec!["status".into(), cell(&j["status"]), cell(&p["status"])],
                vec![
                    "version (desired / acknowledged)".into(),
                    format!("{} / {}", cell(&j["version"]), cell(&j["acked_version"])),
                    "-".into(),
                ],
                vec![
                    "progress steps (recorded / acknowledged)".into(),
                    format!("{} / {}", cell(&j["steps"]), cell(&j["steps_acked"])),
                    cell(&p["steps"]),
                ],
            ],
        );
        let diffs = items(&v, "differences");
        if !diffs.is_empty() {
            println!();
            let rows: Vec<Vec<String>> = diffs
                .iter()
                .map(|d| {
                    let shown = |x: &Value| {
                        if x.is_null() {
                            "(hidden)".into()
                        } else {
                            cut(cell(x), 40)
                        }
                    };
                    vec![cell(&d["field"]), shown(&d["expected"]), shown(&d["found"])]
                })
                .collect();
            table(&["FIELD", "JOURNAL WOULD SEND", "PORTAL HOLDS"], &rows);
        }
        println!();
        for f in items(&v, "findings") {
            println!("- {}", cell(f));
        }
        if v["in_step"] == true {
            println!("in step: nothing to repair");
        } else if v["repaired"] == true {
            println!(
                "repaired: the journal forgot what the portal no longer holds; the next send \
                 is an {} (work item {}, audit entry {})",
                cell(&v["repair"]["next_send"]),
                cell(&v["work_item"]),
                cell(&v["audit_id"])
            );
        } else {
            println!(
                "dry run: would repair (next send: {}); run without --dry-run to repair",
                cell(&v["repair"]["next_send"])
            );
        }
        Ok(())
    })
}

/// `lienthong partners ping`.
pub fn partners(c: &PartnersCommand) -> Outcome {
    let PartnersCommand::Ping { gateway } = c;
    run(async {
        let api = Api::new(gateway)?;
        let v = api.get("/v1/admin/partners", &[]).await?;
        if gateway.format == Format::Json {
            print_json(&v);
            return Ok(());
        }
        let rows: Vec<Vec<String>> = items(&v, "partners")
            .iter()
            .map(|p| {
                let configured = p["configured"] == true;
                vec![
                    cell(&p["partner"]),
                    if configured { "yes" } else { "no" }.into(),
                    if !configured {
                        "-".into()
                    } else if p["reachable"] == true {
                        "yes".into()
                    } else {
                        "no".into()
                    },
                    cell(&p["latency_ms"]),
                    match (&p["error_class"], &p["error"]) {
                        (Value::Null, _) => "-".into(),
                        (c, e) => format!("{}: {}", cell(c), cell(e)),
                    },
                    cell(&p["breaker"]["state"]),
                ]
            })
            .collect();
        table(
            &[
                "PARTNER",
                "CONFIGURED",
                "REACHABLE",
                "LATENCY MS",
                "ERROR",
                "BREAKER",
            ],
            &rows,
        );
        Ok(())
    })
}

/// `lienthong catalogue`.
pub fn catalogue(a: &CatalogueArgs) -> Outcome {
    run(async {
        let api = Api::new(&a.gateway)?;
        let v = api.get("/v1/admin/catalogue", &[]).await?;
        if a.gateway.format == Format::Json {
            print_json(&v);
            return Ok(());
        }
        if let Some(w) = v["warning"].as_str() {
            eprintln!("warning: {w}");
        }
        let rows: Vec<Vec<String>> = items(&v, "procedures")
            .iter()
            .map(|p| {
                let fields = items(p, "fields")
                    .iter()
                    .map(|f| cell(&f["code"]))
                    .collect::<Vec<_>>()
                    .join(", ");
                vec![
                    cell(&p["code"]),
                    cut(cell(&p["name"]), 60),
                    if fields.is_empty() {
                        "-".into()
                    } else {
                        fields
                    },
                ]
            })
            .collect();
        table(&["CODE", "NAME", "FIELDS"], &rows);
        println!(
            "{} procedure(s), fetched {} (TTL {} s)",
            rows.len(),
            cell(&v["fetched_at"]),
            cell(&v["ttl_secs"])
        );
        Ok(())
    })
}

/// `lienthong submissions`.
pub fn submissions(a: &SubmissionsArgs) -> Outcome {
    run(async {
        let api = Api::new(&a.gateway)?;
        let mut query = vec![("limit", a.limit.to_string())];
        if a.undelivered {
            query.push(("undelivered", "true".into()));
        }
        if let Some(u) = &a.unit {
            query.push(("unit", u.clone()));
        }
        let v = api.get("/v1/admin/submissions", &query).await?;
        if a.gateway.format == Format::Json {
            print_json(&v);
            return Ok(());
        }
        let rows: Vec<Vec<String>> = items(&v, "submissions")
            .iter()
            .map(|s| {
                let delivered = if s["delivered_at"].is_null() {
                    format!("waiting {} s", cell(&s["waiting_secs"]))
                } else {
                    format!(
                        "{} via {} to {}",
                        cell(&s["delivered_at"]),
                        cell(&s["delivered_via"]),
                        cell(&s["delivered_to"])
                    )
                };
                vec![
                    cell(&s["code"]),
                    cell(&s["unit"]),
                    cell(&s["procedure"]),
                    cell(&s["received_at"]),
                    delivered,
                    cell(&s["status_reported"]),
                ]
            })
            .collect();
        table(
            &[
                "CODE",
                "UNIT",
                "PROCEDURE",
                "RECEIVED",
                "DELIVERED",
                "STATUS REPORTED",
            ],
            &rows,
        );
        println!("{} submission(s)", rows.len());
        Ok(())
    })
}

fn edoc_rows(list: &[Value]) -> Vec<Vec<String>> {
    list.iter()
        .map(|e| {
            vec![
                cell(&e["id"]),
                format!("{} {}", cell(&e["direction"]), cell(&e["kind"])),
                cut(cell(&e["document_id"]), 48),
                cell(&e["status_code"]),
                cell(&e["from"]),
                e["to"]
                    .as_array()
                    .map(|t| t.iter().map(cell).collect::<Vec<_>>().join(","))
                    .unwrap_or_default(),
                cell(&e["state"]),
                cell(&e["last_status"]),
                cell(&e["dossier_code"]),
                cell(&e["created_at"]),
            ]
        })
        .collect()
}

const EDOC_HEADERS: &[&str] = &[
    "ID",
    "KIND",
    "DOCUMENT",
    "STATUS",
    "FROM",
    "TO",
    "STATE",
    "LAST STATUS",
    "DOSSIER",
    "CREATED",
];

/// `lienthong edocs …`.
pub fn edocs(c: &EdocsCommand) -> Outcome {
    match c {
        EdocsCommand::List {
            direction,
            kind,
            state,
            dossier,
            limit,
            gateway,
        } => run(async {
            let api = Api::new(gateway)?;
            let mut query = vec![("limit", limit.to_string())];
            for (k, v) in [
                ("direction", direction),
                ("kind", kind),
                ("state", state),
                ("dossier", dossier),
            ] {
                if let Some(v) = v {
                    query.push((k, v.clone()));
                }
            }
            let v = api.get("/v1/admin/edocs", &query).await?;
            if gateway.format == Format::Json {
                print_json(&v);
                return Ok(());
            }
            let rows = edoc_rows(items(&v, "edocs"));
            table(EDOC_HEADERS, &rows);
            println!("{} message(s)", rows.len());
            Ok(())
        }),
        EdocsCommand::Show { id, gateway } => run(async {
            let api = Api::new(gateway)?;
            let v = api
                .get(&format!("/v1/admin/edocs/{}", segment(id)), &[])
                .await?;
            if gateway.format == Format::Json {
                print_json(&v);
                return Ok(());
            }
            for key in [
                "id",
                "direction",
                "kind",
                "action",
                "document_id",
                "code",
                "subject",
                "from",
                "to",
                "dossier_code",
                "client",
                "state",
                "axis_doc_id",
                "attempts",
                "last_error",
                "last_status",
                "last_status_at",
                "axis_ack",
                "created_at",
                "sent_at",
                "delivered_at",
                "delivered_to",
                "delivered_via",
            ] {
                let value = match &v[key] {
                    Value::Array(a) => a.iter().map(cell).collect::<Vec<_>>().join(", "),
                    other => cell(other),
                };
                println!("{key:>15}: {value}");
            }
            println!();
            println!("every message about this document:");
            table(EDOC_HEADERS, &edoc_rows(items(&v, "history")));
            Ok(())
        }),
        EdocsCommand::Resend {
            id,
            not_sent,
            reason,
            gateway,
        } => run(async {
            let api = Api::new(gateway)?;
            let v = api
                .post(
                    &format!("/v1/admin/edocs/{}/resend", segment(id)),
                    &serde_json::json!({ "reason": reason, "not_sent": not_sent }),
                )
                .await?;
            if gateway.format == Format::Json {
                print_json(&v);
            } else {
                println!(
                    "{} queued again (work item {}, audit entry {})",
                    cell(&v["id"]),
                    cell(&v["work_item"]),
                    cell(&v["audit_id"])
                );
            }
            Ok(())
        }),
    }
}

/// `lienthong agencies …`.
pub fn agencies(c: &AgenciesCommand) -> Outcome {
    let AgenciesCommand::Search {
        text,
        limit,
        gateway,
    } = c;
    run(async {
        let api = Api::new(gateway)?;
        let v = api
            .get(
                "/v1/admin/agencies",
                &[("q", text.clone()), ("limit", limit.to_string())],
            )
            .await?;
        if gateway.format == Format::Json {
            print_json(&v);
            return Ok(());
        }
        if let Some(from) = v["resolved"]["renamed_from"].as_str() {
            println!("{from} is now {}", cell(&v["resolved"]["code"]));
        }
        let rows: Vec<Vec<String>> = items(&v, "agencies")
            .iter()
            .map(|a| {
                vec![
                    cell(&a["code"]),
                    cut(cell(&a["name"]), 50),
                    cell(&a["old_code"]),
                    cell(&a["code102"]),
                    cell(&a["center_code"]),
                    if a["deleted"] == Value::Bool(true) {
                        "deleted".into()
                    } else {
                        String::new()
                    },
                ]
            })
            .collect();
        table(
            &["CODE", "NAME", "OLD CODE", "CODE 102", "CENTRE", ""],
            &rows,
        );
        println!("{} of {} agencies", rows.len(), cell(&v["total"]));
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::listen_url;

    #[test]
    fn listen_addresses_become_urls() {
        assert_eq!(listen_url("127.0.0.1:8700"), "http://127.0.0.1:8700");
        assert_eq!(listen_url("0.0.0.0:9000"), "http://127.0.0.1:9000");
        assert_eq!(listen_url("[::]:9000"), "http://[::1]:9000");
        assert_eq!(listen_url("gw.internal:80"), "http://gw.internal:80");
    }
}
