//! `lienthong import FILE.ndjson`: a bulk backfill of provincial dossiers and progress steps
//! through a running gateway's ingest API (wiring: an HTTP client and file handling).
//!
//! Each line is recognised as `lienthong validate` does (a `dossier_code` or `step_seq` key
//! makes a progress step, posted alone to `/v1/dossiers/{code}/progress`; anything else is a
//! dossier). Runs of dossier lines go to `/v1/dossiers` as NDJSON batches. Every request
//! carries an `Idempotency-Key` made of the file's SHA-256 and the line number where the
//! request starts (the gateway adds `#n` per batch line), so sending a line again — after a
//! crash, a lost answer or a re-run — gets the original answer instead of a second record.
//!
//! The import is resumable: after each request is fully answered, `FILE.import-state`
//! records the last line done, the counts so far and the size of `FILE.refused.ndjson`
//! (where refused lines go, with their findings). A new run continues after that line.
//! `429`/`503` are waited out as `Retry-After` says; connection failures are retried with
//! exponential backoff until `--give-up-secs`. Exit 0 all accepted, 1 some refused, 2 could
//! not run (or gave up; progress is kept).

use crate::edxml_cmd::Outcome;
use backon::{BackoffBuilder, ExponentialBuilder};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Options of `lienthong import`.
pub struct ImportArgs {
    /// The NDJSON file.
    pub file: PathBuf,
    /// The gateway's base URL.
    pub url: String,
    /// The client token (else `LIENTHONG_TOKEN`).
    pub token: Option<String>,
    /// Dossier lines per request.
    pub batch: usize,
    /// Seconds of failing connections after which the import gives up.
    pub give_up_secs: u64,
}

/// Largest NDJSON body sent in one request (the gateway's default limit is 10 MiB).
const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// What `FILE.import-state` holds.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct State {
    /// SHA-256 of the file the state belongs to.
    file_sha256: String,
    /// Last line fully answered (1-based; 0 = none).
    line: usize,
    /// Size of the refused file when `line` was reached.
    refused_bytes: u64,
    /// Counts so far.
    accepted: u64,
    stale: u64,
    duplicate: u64,
    refused: u64,
}

/// Why the import stops early (exit 2).
struct Fatal(String);

impl<E: std::fmt::Display> From<E> for Fatal {
    fn from(e: E) -> Fatal {
        Fatal(e.to_string())
    }
}

/// One request: a run of dossier lines or one step.
enum Unit {
    /// Lines `first..=last` (1-based), all dossiers or blank.
    Dossiers { first: usize, last: usize },
    /// One step of dossier `code` on line `line`.
    Step { line: usize, code: String },
}

impl Unit {
    fn last(&self) -> usize {
        match self {
            Unit::Dossiers { last, .. } => *last,
            Unit::Step { line, .. } => *line,
        }
    }
}

/// The answer to one line.
struct LineAnswer {
    line: usize,
    status: u16,
    body: Value,
}

/// `lienthong import`.
pub fn run(args: ImportArgs) -> Outcome {
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
    match rt.block_on(import(&args)) {
        Ok(o) => o,
        Err(Fatal(m)) => {
            eprintln!("\nerror: {m}");
            Outcome::Unreadable
        }
    }
}

fn sibling(file: &Path, suffix: &str) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// The dossier code of a progress step line, or `None` for a dossier (or not JSON: the
/// gateway then refuses it with its findings).
fn step_code(line: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(line).ok()?;
    match lienthong_provincial::Kind::detect(&v) {
        lienthong_provincial::Kind::Progress => Some(
            v.get("dossier_code")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim()
                .to_string(),
        ),
        lienthong_provincial::Kind::Dossier => None,
    }
}

/// Splits the lines after `from` into requests.
fn plan(lines: &[&[u8]], from: usize, batch: usize) -> Vec<Unit> {
    let mut units = Vec::new();
    let mut run: Option<(usize, usize, usize, usize)> = None; // first, last, count, bytes
    for (i, line) in lines.iter().enumerate().skip(from) {
        let n = i + 1;
        if is_blank(line) {
            if let Some(r) = &mut run {
                r.1 = n;
            }
            continue;
        }
        if let Some(code) = step_code(line) {
            if let Some((first, last, _, _)) = run.take() {
                units.push(Unit::Dossiers { first, last });
            }
            units.push(Unit::Step { line: n, code });
            continue;
        }
        if let Some((first, last, count, bytes)) = run
            && (count >= batch || bytes + line.len() + 1 > MAX_BATCH_BYTES)
        {
            units.push(Unit::Dossiers { first, last });
            run = None;
        }
        match &mut run {
            Some(r) => {
                r.1 = n;
                r.2 += 1;
                r.3 += line.len() + 1;
            }
            None => run = Some((n, n, 1, line.len() + 1)),
        }
    }
    if let Some((first, last, _, _)) = run {
        units.push(Unit::Dossiers { first, last });
    }
    units
}

/// The progress line on stderr.
struct Progress {
    total: usize,
    done: usize,
    started: Instant,
    sent: usize,
    last_draw: Option<Instant>,
    tty: bool,
}

impl Progress {
    fn draw(&mut self, s: &State, note: &str, force: bool) {
        if !self.tty {
            return;
        }
        if !force
            && self
                .last_draw
                .is_some_and(|t| t.elapsed() < Duration::from_millis(200))
        {
            return;
        }
        self.last_draw = Some(Instant::now());
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = self.sent as f64 / secs;
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2K{}/{} lines  {rate:.0}/s  accepted {}  refused {}{note}",
            self.done,
            self.total,
            s.accepted + s.stale + s.duplicate,
            s.refused
        );
        let _ = err.flush();
    }
}

async fn import(args: &ImportArgs) -> Result<Outcome, Fatal> {
    let token = args
        .token
        .clone()
        .or_else(|| std::env::var("LIENTHONG_TOKEN").ok())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Fatal("no client token: pass --token or set LIENTHONG_TOKEN".into()))?;
    let bytes = std::fs::read(&args.file)
        .map_err(|e| Fatal(format!("cannot read {}: {e}", args.file.display())))?;
    let sha = hex(&Sha256::digest(&bytes));
    let key_prefix = format!("import-{}", &sha[..32]);
    let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let total = lines.iter().filter(|l| !is_blank(l)).count();

    let state_path = sibling(&args.file, ".import-state");
    let refused_path = sibling(&args.file, ".refused.ndjson");
    let mut state = match std::fs::read(&state_path) {
        Ok(b) => match serde_json::from_slice::<State>(&b) {
            Ok(s) if s.file_sha256 == sha => {
                if s.line > 0 {
                    eprintln!(
                        "resuming after line {} ({} already written down as done)",
                        s.line,
                        state_path.display()
                    );
                }
                s
            }
            Ok(_) => {
                eprintln!(
                    "{} belongs to another version of the file; starting from the beginning",
                    state_path.display()
                );
                State::default()
            }
            Err(e) => {
                return Err(Fatal(format!(
                    "{} is unreadable ({e}); delete it to start from the beginning",
                    state_path.display()
                )));
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
        Err(e) => return Err(Fatal(format!("cannot read {}: {e}", state_path.display()))),
    };
    state.file_sha256 = sha.clone();
    // The refused file holds exactly the lines refused before the state's line.
    let mut refused = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(&refused_path)
        .map_err(|e| Fatal(format!("cannot open {}: {e}", refused_path.display())))?;
    refused.set_len(state.refused_bytes)?;

    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(300))
        .build()
        .map_err(|e| Fatal(format!("cannot set up the HTTP client: {e}")))?;
    let base = args.url.trim_end_matches('/').to_string();
    let sender = Sender {
        http,
        base,
        token,
        give_up: Duration::from_secs(args.give_up_secs),
    };

    let done_before = lines
        .iter()
        .take(state.line.min(lines.len()))
        .filter(|l| !is_blank(l))
        .count();
    let mut progress = Progress {
        total,
        done: done_before,
        started: Instant::now(),
        sent: 0,
        last_draw: None,
        tty: std::io::stderr().is_terminal(),
    };
    progress.draw(&state, "", true);

    let units = plan(&lines, state.line.min(lines.len()), args.batch.max(1));
    for unit in units {
        let answers = match &unit {
            Unit::Dossiers { first, last } => {
                let body = lines[first - 1..*last].join(&b'\n');
                let key = format!("{key_prefix}-L{first}");
                sender
                    .batch(*first, body, &key, &state, &mut progress)
                    .await?
            }
            Unit::Step { line, code } => {
                let key = format!("{key_prefix}-L{line}");
                let (status, body) = sender
                    .step(code, lines[line - 1].to_vec(), &key, &state, &mut progress)
                    .await?;
                vec![LineAnswer {
                    line: *line,
                    status,
                    body,
                }]
            }
        };
        for a in answers {
            progress.done += 1;
            progress.sent += 1;
            if a.status == 202 {
                match a.body.get("result").and_then(Value::as_str) {
                    Some("stale") => state.stale += 1,
                    Some("duplicate") => state.duplicate += 1,
                    _ => state.accepted += 1,
                }
                continue;
            }
            state.refused += 1;
            let original = lines.get(a.line - 1).copied().unwrap_or_default();
            let document = serde_json::from_slice::<Value>(original)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(original).into()));
            let mut entry = serde_json::json!({ "line": a.line, "status": a.status });
            if let (Value::Object(e), Value::Object(b)) = (&mut entry, a.body) {
                for k in ["error", "message", "findings"] {
                    if let Some(v) = b.get(k) {
                        e.insert(k.into(), v.clone());
                    }
                }
                e.insert("document".into(), document);
            }
            writeln!(refused, "{entry}")?;
        }
        refused.flush()?;
        refused.sync_data()?;
        state.refused_bytes = refused.metadata()?.len();
        state.line = unit.last();
        save(&state_path, &state)?;
        progress.draw(&state, "", false);
    }
    state.line = lines.len();
    save(&state_path, &state)?;
    progress.draw(&state, "", true);
    if progress.tty {
        eprintln!();
    }
    eprintln!(
        "{}: {total} line(s): {} accepted, {} stale, {} duplicate, {} refused{}",
        args.file.display(),
        state.accepted,
        state.stale,
        state.duplicate,
        state.refused,
        if state.refused > 0 {
            format!(" (see {})", refused_path.display())
        } else {
            String::new()
        }
    );
    Ok(if state.refused > 0 {
        Outcome::Invalid
    } else {
        Outcome::Valid
    })
}

/// Writes the state next to the file, atomically (write, sync, rename).
fn save(path: &Path, s: &State) -> Result<(), Fatal> {
    let tmp = sibling(path, ".tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(serde_json::to_string(s)?.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Sends requests until they are answered.
struct Sender {
    http: reqwest::Client,
    base: String,
    token: String,
    give_up: Duration,
}

/// What one exchange came to.
enum Exchange {
    /// An answer to read.
    Answered(u16, Option<u64>, Vec<u8>),
    /// The connection failed: wait and send again (with what to show).
    Failed(String),
}

impl Sender {
    /// One exchange, retried while the connection fails (with backoff, up to `give_up`).
    async fn send(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        key: &str,
        state: &State,
        progress: &mut Progress,
    ) -> Result<(u16, Option<u64>, Vec<u8>), Fatal> {
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(10))
            .without_max_times()
            .build();
        let mut failing_since: Option<Instant> = None;
        loop {
            let sent = self
                .http
                .post(format!("{}{path}", self.base))
                .bearer_auth(&self.token)
                .header("content-type", content_type)
                .header("idempotency-key", key)
                .body(body.clone())
                .send()
                .await;
            let exchange = match sent {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok());
                    match resp.bytes().await {
                        Ok(b) => Exchange::Answered(status, retry, b.to_vec()),
                        Err(e) => Exchange::Failed(format!("answer lost: {e}")),
                    }
                }
                Err(e) => Exchange::Failed(format!("{e}")),
            };
            match exchange {
                Exchange::Answered(status, None, _) if status >= 500 => {
                    // A server error without advice: like a failing connection.
                    failing_since.get_or_insert_with(Instant::now);
                    self.wait_failing(
                        &mut delays,
                        failing_since,
                        format!("HTTP {status}"),
                        state,
                        progress,
                    )
                    .await?;
                }
                Exchange::Answered(status, retry, b) => return Ok((status, retry, b)),
                Exchange::Failed(why) => {
                    failing_since.get_or_insert_with(Instant::now);
                    self.wait_failing(&mut delays, failing_since, why, state, progress)
                        .await?;
                }
            }
        }
    }

    async fn wait_failing(
        &self,
        delays: &mut impl Iterator<Item = Duration>,
        since: Option<Instant>,
        why: String,
        state: &State,
        progress: &mut Progress,
    ) -> Result<(), Fatal> {
        let elapsed = since.map(|s| s.elapsed()).unwrap_or_default();
        if elapsed >= self.give_up {
            return Err(Fatal(format!(
                "giving up: {} did not answer for {} s ({why}). Progress is kept; run the same \
                 command again to continue / đã lưu tiến độ, chạy lại lệnh để tiếp tục",
                self.base,
                elapsed.as_secs()
            )));
        }
        let d = delays.next().unwrap_or(Duration::from_secs(10));
        progress.draw(
            state,
            &format!("  (retrying in {:.1} s: {why})", d.as_secs_f64()),
            true,
        );
        tokio::time::sleep(d).await;
        Ok(())
    }

    /// Waits as the gateway asked (`429`, `503`, `409 in_progress`).
    async fn wait_advised(&self, secs: u64, why: &str, state: &State, progress: &mut Progress) {
        progress.draw(state, &format!("  (waiting {secs} s: {why})"), true);
        tokio::time::sleep(Duration::from_secs(secs.max(1))).await;
    }

    /// A refusal of the whole request that no retry mends.
    fn fatal(status: u16, body: &[u8]) -> Fatal {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let message = v
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect());
        Fatal(format!("the gateway answered {status}: {message}"))
    }

    /// Sends a run of dossier lines starting at line `first`; answers per line.
    async fn batch(
        &self,
        first: usize,
        body: Vec<u8>,
        key: &str,
        state: &State,
        progress: &mut Progress,
    ) -> Result<Vec<LineAnswer>, Fatal> {
        loop {
            let (status, retry, b) = self
                .send(
                    "/v1/dossiers",
                    "application/x-ndjson",
                    body.clone(),
                    key,
                    state,
                    progress,
                )
                .await?;
            match status {
                200 => {}
                429 | 503 => {
                    let why = if status == 429 {
                        "backpressure"
                    } else {
                        "unavailable"
                    };
                    self.wait_advised(retry.unwrap_or(5), why, state, progress)
                        .await;
                    continue;
                }
                _ => return Err(Self::fatal(status, &b)),
            }
            let mut answers = Vec::new();
            let mut wait: Option<u64> = None;
            for l in b.split(|c| *c == b'\n').filter(|l| !is_blank(l)) {
                let v: Value = serde_json::from_slice(l)
                    .map_err(|e| Fatal(format!("unreadable answer line from the gateway: {e}")))?;
                let n = v.get("line").and_then(Value::as_u64).unwrap_or(0) as usize;
                let s = v.get("status").and_then(Value::as_u64).unwrap_or(0) as u16;
                if n == 0 || s == 0 {
                    return Err(Fatal(format!(
                        "unexpected answer line from the gateway: {v}"
                    )));
                }
                if retryable(s, &v) {
                    wait = Some(wait.unwrap_or(0).max(5));
                }
                answers.push(LineAnswer {
                    line: first + n - 1,
                    status: s,
                    body: v,
                });
            }
            if let Some(secs) = wait {
                // Lines answered before are replayed from their idempotency keys.
                self.wait_advised(
                    secs,
                    "some lines could not be recorded yet",
                    state,
                    progress,
                )
                .await;
                continue;
            }
            return Ok(answers);
        }
    }

    /// Sends one progress step.
    async fn step(
        &self,
        code: &str,
        body: Vec<u8>,
        key: &str,
        state: &State,
        progress: &mut Progress,
    ) -> Result<(u16, Value), Fatal> {
        let path = format!("/v1/dossiers/{}/progress", encode_segment(code));
        loop {
            let (status, retry, b) = self
                .send(
                    &path,
                    "application/json",
                    body.clone(),
                    key,
                    state,
                    progress,
                )
                .await?;
            let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
            match status {
                202 | 400 | 409 | 422 if !retryable(status, &v) => return Ok((status, v)),
                403 if v
                    .get("message")
                    .and_then(Value::as_str)
                    .is_some_and(|m| m.contains("may not submit for unit")) =>
                {
                    return Ok((status, v));
                }
                409 | 429 | 503 => {
                    let why = v.get("error").and_then(Value::as_str).unwrap_or("busy");
                    self.wait_advised(retry.unwrap_or(5), why, state, progress)
                        .await;
                }
                // 404 (empty code), 413 (a line above the limit): refusals of this line.
                404 | 413 => return Ok((status, v)),
                _ => return Err(Self::fatal(status, &b)),
            }
        }
    }
}

/// Whether a per-line answer asks to send again (`409 in_progress`, `503`).
fn retryable(status: u16, v: &Value) -> bool {
    status == 503
        || (status == 409 && v.get("error").and_then(Value::as_str) == Some("in_progress"))
}

/// Percent-encodes a dossier code for a URL path segment.
fn encode_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_batches_dossiers_and_sends_steps_alone() {
        let d = br#"{"code":"A","version":1}"#.as_slice();
        let s = br#"{"dossier_code":"A","step_seq":1}"#.as_slice();
        let lines = vec![d, d, b"".as_slice(), d, s, d, d, d];
        let units = plan(&lines, 0, 2);
        let shape: Vec<String> = units
            .iter()
            .map(|u| match u {
                Unit::Dossiers { first, last } => format!("D{first}-{last}"),
                Unit::Step { line, code } => format!("S{line}:{code}"),
            })
            .collect();
        assert_eq!(shape, ["D1-3", "D4-4", "S5:A", "D6-7", "D8-8"]);
        let resumed = plan(&lines, 5, 2);
        assert_eq!(resumed.first().map(Unit::last), Some(7));
    }

    #[test]
    fn codes_are_encoded_for_the_path() {
        assert_eq!(
            encode_segment("000.00.12.H41-250314-0007"),
            "000.00.12.H41-250314-0007"
        );
        assert_eq!(encode_segment("a/b c"), "a%2Fb%20c");
    }
}
