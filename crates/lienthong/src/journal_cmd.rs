//! `lienthong journal search|timeline` and `lienthong report`: read the journal named by
//! the configuration directly, so they work while the gateway is down.
//!
//! Which journal: `--journal URL`, else `LIENTHONG_JOURNAL_URL`, else the `journal.url` of
//! `--config FILE`, else `sqlite://data/lienthong.db` (config/README.md).

use crate::edxml_cmd::Outcome;
use anyhow::{Context, bail};
use jiff::Timestamp;
use jiff::civil::Date;
use lienthong_journal::messages::{Cursor, Outcome as MsgOutcome, SearchQuery};
use lienthong_journal::stats::{Counts, GroupBy, Report, ReportQuery, day_start};
use lienthong_journal::{Journal, JournalOptions, Key, PersonalData, Reveal};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The default journal.
pub const DEFAULT_URL: &str = "sqlite://data/lienthong.db";
/// The default environment variable holding the encryption key.
pub const DEFAULT_KEY_ENV: &str = "LIENTHONG_JOURNAL_KEY";
/// Member names holding personal data in the formats the gateway stores (provincial
/// format and DVCQG items), used when the configuration names none.
pub const DEFAULT_PERSONAL_FIELDS: &[&str] = lienthong_service::gateway::DEFAULT_PERSONAL_FIELDS;

/// Where the journal is and how to open it.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct JournalArgs {
    /// Journal URL (`sqlite://FILE` or `postgres://…`); overrides the environment
    /// (`LIENTHONG_JOURNAL_URL`) and the configuration file.
    #[arg(long, global = true, value_name = "URL")]
    pub journal: Option<String>,
    /// Configuration file: the gateway's TOML (`lienthong serve --config`; its `[journal]`
    /// section), or JSON whose `journal` member has `url`, `retention_days`,
    /// `body_retention_days`, `encryption_key_env`, `personal_fields`.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Output formats of the journal commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutFormat {
    /// Aligned columns for people.
    Table,
    /// JSON.
    Json,
    /// CSV (report only).
    Csv,
}

/// The journal members of the configuration file.
#[derive(Debug, Clone, Default)]
pub struct JournalConfig {
    url: Option<String>,
    retention_days: Option<u64>,
    body_retention_days: Option<u64>,
    encryption_key_env: Option<String>,
    personal_fields: Option<Vec<String>>,
}

fn read_config(path: &Path) -> anyhow::Result<JournalConfig> {
    if path.extension().is_some_and(|e| e == "toml") {
        // The gateway's own configuration (`lienthong serve --config`): its [journal] section.
        let env = |n: &str| std::env::var(n).ok();
        let c = lienthong_service::config::Config::load(path, &env)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        return Ok(JournalConfig {
            url: Some(c.journal_url()),
            retention_days: Some(u64::from(c.journal.retention_days)),
            body_retention_days: Some(u64::from(c.journal.body_retention_days)),
            encryption_key_env: Some(c.journal.encryption_key_env.clone()),
            personal_fields: c.journal.personal_fields.clone(),
        });
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let v: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let Some(j) = v.get("journal") else {
        return Ok(JournalConfig::default());
    };
    let j = j
        .as_object()
        .with_context(|| format!("{}: /journal must be an object", path.display()))?;
    let known = [
        "url",
        "retention_days",
        "body_retention_days",
        "encryption_key_env",
        "personal_fields",
        "max_connections",
    ];
    if let Some(k) = j.keys().find(|k| !known.contains(&k.as_str())) {
        bail!(
            "{}: unknown member /journal/{k} (known: {})",
            path.display(),
            known.join(", ")
        );
    }
    let text_of = |k: &str| -> anyhow::Result<Option<String>> {
        match j.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => bail!("{}: /journal/{k} must be a string", path.display()),
        }
    };
    let days_of = |k: &str| -> anyhow::Result<Option<u64>> {
        match j.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_u64().map(Some).with_context(|| {
                format!(
                    "{}: /journal/{k} must be a whole number of days",
                    path.display()
                )
            }),
        }
    };
    let personal_fields = match j.get("personal_fields") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|x| x.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .with_context(|| {
                    format!(
                        "{}: /journal/personal_fields must list strings",
                        path.display()
                    )
                })?,
        ),
        Some(_) => bail!(
            "{}: /journal/personal_fields must be an array",
            path.display()
        ),
    };
    Ok(JournalConfig {
        url: text_of("url")?,
        retention_days: days_of("retention_days")?,
        body_retention_days: days_of("body_retention_days")?,
        encryption_key_env: text_of("encryption_key_env")?,
        personal_fields,
    })
}

/// The options the command line, environment and configuration give.
pub fn options(args: &JournalArgs) -> anyhow::Result<(JournalOptions, JournalConfig)> {
    let cfg = match &args.config {
        Some(p) => read_config(p)?,
        None => JournalConfig::default(),
    };
    let url = args
        .journal
        .clone()
        .or_else(|| {
            std::env::var("LIENTHONG_JOURNAL_URL")
                .ok()
                .filter(|u| !u.is_empty())
        })
        .or_else(|| cfg.url.clone())
        .unwrap_or_else(|| DEFAULT_URL.to_owned());
    let mut o = JournalOptions::new(url);
    o.max_connections = 2;
    if let Some(d) = cfg.body_retention_days {
        o.body_retention = jiff::SignedDuration::from_hours(24 * d as i64);
    }
    let key_env = cfg
        .encryption_key_env
        .clone()
        .unwrap_or_else(|| DEFAULT_KEY_ENV.to_owned());
    let key = match std::env::var(&key_env) {
        Ok(k) if !k.is_empty() => {
            Some(Key::parse(&k).with_context(|| format!("the key in {key_env} is unusable"))?)
        }
        _ => None,
    };
    o.personal_data = PersonalData {
        fields: cfg.personal_fields.clone().unwrap_or_else(|| {
            DEFAULT_PERSONAL_FIELDS
                .iter()
                .map(|s| (*s).to_owned())
                .collect()
        }),
        key,
        encrypt_opaque: true,
    };
    Ok((o, cfg))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn finish(r: anyhow::Result<Outcome>) -> Outcome {
    match r {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e:#}");
            Outcome::Unreadable
        }
    }
}

async fn open(args: &JournalArgs) -> anyhow::Result<Journal> {
    let (o, _) = options(args)?;
    Journal::open(&o).await.with_context(|| {
        format!(
            "cannot open the journal {}",
            lienthong_service::config::redact(&o.url)
        )
    })
}

/// A time on the command line: RFC 3339 or a calendar day (Vietnamese time); a day as
/// the end of a range means the end of that day.
fn parse_time(s: &str, end: bool) -> anyhow::Result<Timestamp> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    let d: Date = s
        .parse()
        .with_context(|| format!("{s:?} is neither a date (YYYY-MM-DD) nor an RFC 3339 time"))?;
    let d = if end { d.tomorrow()? } else { d };
    Ok(day_start(d)?)
}

/// Search filters.
#[derive(Debug, Clone)]
pub struct SearchArgs {
    pub dossier: Option<String>,
    pub doc: Option<String>,
    pub partner: Option<String>,
    pub outcome: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: u32,
    pub after: Option<String>,
    pub bodies: bool,
    pub reveal: bool,
    pub format: OutFormat,
}

/// `lienthong journal search`.
pub fn search(args: &JournalArgs, s: &SearchArgs) -> Outcome {
    finish(runtime().and_then(|rt| rt.block_on(search_async(args, s))))
}

async fn search_async(args: &JournalArgs, s: &SearchArgs) -> anyhow::Result<Outcome> {
    let outcome = match &s.outcome {
        Some(o) => Some(MsgOutcome::from_name(o).with_context(|| {
            let names: Vec<&str> = MsgOutcome::ALL.iter().map(|o| o.name()).collect();
            format!("unknown outcome {o:?} (known: {})", names.join(", "))
        })?),
        None => None,
    };
    let q = SearchQuery {
        dossier_code: s.dossier.clone(),
        doc_id: s.doc.clone(),
        partner: s.partner.clone(),
        outcome,
        from: s
            .from
            .as_deref()
            .map(|t| parse_time(t, false))
            .transpose()?,
        to: s.to.as_deref().map(|t| parse_time(t, true)).transpose()?,
        limit: s.limit,
        after: match &s.after {
            Some(c) => {
                Some(Cursor::parse(c).context("--after: not a cursor from a previous page")?)
            }
            None => None,
        },
        with_bodies: s.bodies,
        reveal: if s.reveal {
            Reveal::Clear
        } else {
            Reveal::Masked
        },
    };
    let j = open(args).await?;
    let page = j.search(&q).await?;
    j.close().await;
    let mut out = std::io::stdout().lock();
    match s.format {
        OutFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &page)?;
            writeln!(out)?;
        }
        OutFormat::Table | OutFormat::Csv => {
            let mut rows = vec![vec![
                "created (+07)".to_owned(),
                "dir".into(),
                "partner".into(),
                "kind".into(),
                "dossier".into(),
                "doc".into(),
                "outcome".into(),
                "tries".into(),
                "answer".into(),
                "id".into(),
            ]];
            for f in &page.items {
                let r = &f.record;
                rows.push(vec![
                    local_time(r.created_at),
                    r.direction.name().into(),
                    r.partner.clone(),
                    r.kind.clone(),
                    r.dossier_code.clone().unwrap_or_default(),
                    r.doc_id.clone().unwrap_or_default(),
                    r.outcome.name().into(),
                    r.attempts.to_string(),
                    match (&r.answer_code, &r.answer_message) {
                        (Some(c), Some(m)) => format!("{c} {m}"),
                        (Some(c), None) => c.clone(),
                        (None, Some(m)) => m.clone(),
                        (None, None) => String::new(),
                    },
                    r.id.clone(),
                ]);
            }
            write_rows(&mut out, &rows, s.format)?;
            if s.bodies {
                for f in &page.items {
                    if let Some(b) = &f.body {
                        writeln!(out, "\n--- {} ---\n{b}", f.record.id)?;
                    }
                }
            }
            if let Some(c) = &page.next {
                writeln!(out, "\nmore: --after {}", c.to_text())?;
            }
        }
    }
    Ok(Outcome::Valid)
}

fn local_time(t: Timestamp) -> String {
    jiff::tz::offset(7)
        .to_datetime(t)
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// `lienthong journal purge`: deletes, in batches of 1000, messages older than the
/// retention (`--days`, else `journal.retention_days`, else 365 days), bodies past their
/// retention, outbox items handed over before the same limit, and idempotency keys
/// older than it.
pub fn purge(args: &JournalArgs, days: Option<u64>) -> Outcome {
    finish(runtime().and_then(|rt| {
        rt.block_on(async {
            let (o, cfg) = options(args)?;
            let days = days.or(cfg.retention_days).unwrap_or(365);
            let now = Timestamp::now();
            let before = now
                .checked_sub(jiff::SignedDuration::from_hours(24 * days as i64))
                .context("retention too long")?;
            let j = Journal::open(&o)
                .await
                .with_context(|| format!("cannot open the journal {}", lienthong_service::config::redact(&o.url)))?;
            let mut totals = [0u64; 4];
            loop {
                let n = j.purge_messages(before, 1000).await?;
                totals[0] += n;
                if n == 0 {
                    break;
                }
            }
            loop {
                let n = j.purge_expired_bodies(now, 1000).await?;
                totals[1] += n;
                if n == 0 {
                    break;
                }
            }
            loop {
                let n = j.purge_outbox(before, 1000).await?;
                totals[2] += n;
                if n == 0 {
                    break;
                }
            }
            loop {
                let n = j.purge_submissions(before, 1000).await?;
                totals[3] += n;
                if n == 0 {
                    break;
                }
            }
            j.close().await;
            println!(
                "purged (older than {days} days): {} messages, {} bodies, {} outbox items, {} idempotency keys",
                totals[0], totals[1], totals[2], totals[3]
            );
            Ok(Outcome::Valid)
        })
    }))
}

/// `lienthong journal load [FILE] [--source NAME]`: reads provincial dossiers and progress steps
/// (one JSON document or NDJSON), validates each like `lienthong validate`, and records the valid
/// ones as received now from `source`. Prints a summary; exit 1 if any document was refused.
pub fn load(args: &JournalArgs, file: Option<&Path>, source: &str) -> Outcome {
    finish(runtime().and_then(|rt| {
        rt.block_on(async {
            let bytes = crate::edxml_cmd::load(file.unwrap_or(Path::new("-")))
                .map_err(|f| anyhow::anyhow!("{f}"))?;
            let docs = crate::dossier_cmd::provincial_documents(&bytes);
            let j = open(args).await?;
            let now = Timestamp::now();
            let (mut current, mut stale, mut duplicate, mut steps, mut refused) = (0, 0, 0, 0, 0);
            for doc in docs {
                let place = doc.place();
                match doc.item {
                    Err(findings) => {
                        refused += 1;
                        eprintln!("{place}: refused");
                        crate::edxml_cmd::print_findings(
                            &mut std::io::stderr().lock(),
                            &findings,
                            crate::Format::Text,
                        );
                    }
                    Ok(crate::dossier_cmd::Provincial::Dossier(d, body)) => {
                        let at = d.received_at.or(d.submitted_at).unwrap_or(now);
                        let r = j
                            .record_version(&lienthong_journal::state::IncomingVersion {
                                dossier: &d,
                                body: &body,
                                body_kind: "provincial.dossier",
                                source,
                                at,
                            })
                            .await
                            .with_context(|| format!("{place}: cannot record dossier"))?;
                        match r {
                            lienthong_journal::state::Recorded::Current { .. } => current += 1,
                            lienthong_journal::state::Recorded::Stale { .. } => stale += 1,
                            _ => duplicate += 1,
                        }
                    }
                    Ok(crate::dossier_cmd::Provincial::Progress(p, body)) => {
                        let at = p.at.unwrap_or(now);
                        let r = j
                            .record_step(&lienthong_journal::state::IncomingStep {
                                step: &p,
                                body: &body,
                                body_kind: "provincial.progress",
                                source,
                                at,
                            })
                            .await
                            .with_context(|| format!("{place}: cannot record progress step"))?;
                        match r {
                            lienthong_journal::state::StepRecorded::New { .. } => steps += 1,
                            _ => duplicate += 1,
                        }
                    }
                }
            }
            j.close().await;
            println!(
                "recorded: {current} current versions, {stale} stale versions, {steps} progress steps, \
                 {duplicate} duplicates; refused: {refused}"
            );
            Ok(if refused > 0 {
                Outcome::Invalid
            } else {
                Outcome::Valid
            })
        })
    }))
}

/// `lienthong journal timeline CODE`.
pub fn timeline(args: &JournalArgs, code: &str, format: OutFormat) -> Outcome {
    finish(runtime().and_then(|rt| {
        rt.block_on(async {
            let j = open(args).await?;
            let tl = j.timeline(code).await?;
            let state = j.dossier_state(code).await?;
            j.close().await;
            let mut out = std::io::stdout().lock();
            if tl.is_empty() {
                eprintln!("no record of dossier {code} in the journal");
                return Ok(Outcome::Invalid);
            }
            match format {
                OutFormat::Json => {
                    serde_json::to_writer_pretty(&mut out, &tl)?;
                    writeln!(out)?;
                }
                OutFormat::Table | OutFormat::Csv => {
                    if let Some(s) = state {
                        writeln!(
                            out,
                            "dossier {code}: version {} received, portal {} ({})",
                            s.version,
                            match s.acked_version {
                                Some(v) => format!("has version {v}"),
                                None => "has no version".to_owned(),
                            },
                            match s.ahead_since {
                                Some(t) => format!("behind since {}", local_time(t)),
                                None => "in sync".to_owned(),
                            }
                        )?;
                    }
                    let mut rows =
                        vec![vec!["time (+07)".to_owned(), "what".into(), "event".into()]];
                    for e in &tl {
                        rows.push(vec![
                            local_time(e.at),
                            format!("{:?}", e.kind).to_lowercase(),
                            e.summary.clone(),
                        ]);
                    }
                    write_rows(&mut out, &rows, format)?;
                }
            }
            Ok(Outcome::Valid)
        })
    }))
}

/// `lienthong report`.
pub fn report(
    args: &JournalArgs,
    from: Date,
    to: Date,
    agency: Option<String>,
    by: GroupBy,
    format: OutFormat,
) -> Outcome {
    if to < from {
        eprintln!("error: --to {to} is before --from {from}");
        return Outcome::Unreadable;
    }
    finish(runtime().and_then(|rt| {
        rt.block_on(async {
            let j = open(args).await?;
            let r = j
                .report(&ReportQuery {
                    from,
                    to,
                    agency,
                    by,
                })
                .await?;
            j.close().await;
            let mut out = std::io::stdout().lock();
            match format {
                OutFormat::Json => {
                    serde_json::to_writer_pretty(&mut out, &r)?;
                    writeln!(out)?;
                }
                OutFormat::Csv | OutFormat::Table => write_report(&mut out, &r, format)?,
            }
            Ok(Outcome::Valid)
        })
    }))
}

const REPORT_HEADERS: &[(&str, &str)] = &[
    ("Tiếp nhận", "Received"),
    ("Trực tuyến", "Online"),
    ("Trực tiếp", "In person"),
    ("Bưu chính", "Postal"),
    ("Đã giải quyết", "Resolved"),
    ("Đúng hạn", "On time"),
    ("Trước hạn", "Early"),
    ("Trễ hạn", "Late"),
    ("Đang giải quyết", "Pending"),
    ("Quá hạn", "Overdue"),
    ("Không tiếp nhận", "Refused"),
    ("Rút hồ sơ", "Withdrawn"),
    ("Dừng xử lý", "Stopped"),
    ("% đúng hạn", "% on time"),
    ("% trực tuyến", "% online"),
];

fn count_cells(c: &Counts) -> Vec<String> {
    let pct = |p: Option<f64>| p.map(|v| format!("{v:.1}")).unwrap_or_default();
    vec![
        c.received.to_string(),
        c.online.to_string(),
        c.in_person.to_string(),
        c.postal.to_string(),
        c.resolved.to_string(),
        c.on_time.to_string(),
        c.early.to_string(),
        c.late.to_string(),
        c.pending.to_string(),
        c.overdue.to_string(),
        c.refused.to_string(),
        c.withdrawn.to_string(),
        c.stopped.to_string(),
        pct(c.on_time_percent()),
        pct(c.online_percent()),
    ]
}

fn write_report(out: &mut dyn Write, r: &Report, format: OutFormat) -> anyhow::Result<()> {
    let first = match r.by {
        GroupBy::Month => ("Tháng", "Month"),
        GroupBy::Agency => ("Cơ quan", "Agency"),
        GroupBy::Department => ("Đơn vị", "Department"),
    };
    let with_label = r.by == GroupBy::Department;
    let mut rows = Vec::new();
    if format == OutFormat::Csv {
        let mut h = vec![first.1.to_lowercase()];
        if with_label {
            h.push("name".into());
        }
        h.extend(
            REPORT_HEADERS
                .iter()
                .map(|(_, en)| en.to_lowercase().replace("% ", "pct_").replace(' ', "_")),
        );
        rows.push(h);
    } else {
        writeln!(
            out,
            "BÁO CÁO TÌNH HÌNH GIẢI QUYẾT HỒ SƠ THỦ TỤC HÀNH CHÍNH / DOSSIER RESOLUTION REPORT"
        )?;
        writeln!(
            out,
            "Kỳ báo cáo / Period: {} – {}{}\n",
            r.from,
            r.to,
            r.agency
                .as_deref()
                .map(|a| format!("   Cơ quan / Agency: {a}"))
                .unwrap_or_default()
        )?;
        let mut vi = vec![first.0.to_owned()];
        let mut en = vec![first.1.to_owned()];
        if with_label {
            vi.push("Tên".into());
            en.push("Name".into());
        }
        vi.extend(REPORT_HEADERS.iter().map(|(v, _)| (*v).to_owned()));
        en.extend(REPORT_HEADERS.iter().map(|(_, e)| (*e).to_owned()));
        rows.push(vi);
        rows.push(en);
    }
    for row in &r.rows {
        let mut cells = vec![row.key.clone()];
        if with_label {
            cells.push(row.label.clone().unwrap_or_default());
        }
        cells.extend(count_cells(&row.counts));
        rows.push(cells);
    }
    let mut total = vec![if format == OutFormat::Csv {
        "total".to_owned()
    } else {
        "Tổng / Total".to_owned()
    }];
    if with_label {
        total.push(String::new());
    }
    total.extend(count_cells(&r.total));
    rows.push(total);
    write_rows(out, &rows, format)?;
    Ok(())
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Writes rows as aligned columns (text left, numbers right) or CSV.
fn write_rows(out: &mut dyn Write, rows: &[Vec<String>], format: OutFormat) -> std::io::Result<()> {
    if format == OutFormat::Csv {
        for r in rows {
            let line: Vec<String> = r.iter().map(|c| csv_cell(c)).collect();
            writeln!(out, "{}", line.join(","))?;
        }
        return Ok(());
    }
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut width = vec![0usize; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            width[i] = width[i].max(c.chars().count());
        }
    }
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            let pad = width[i] - c.chars().count();
            let numeric = !c.is_empty() && c.chars().all(|ch| ch.is_ascii_digit() || ch == '.');
            if i > 0 {
                line.push_str("  ");
            }
            if numeric {
                line.push_str(&" ".repeat(pad));
                line.push_str(c);
            } else {
                line.push_str(c);
                if i + 1 < r.len() {
                    line.push_str(&" ".repeat(pad));
                }
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let a = parse_time("2025-03-01", false).expect("t");
        let b = parse_time("2025-03-01", true).expect("t");
        assert_eq!(a.to_string(), "2025-02-28T17:00:00Z");
        assert_eq!(b.duration_since(a).as_hours(), 24);
        assert!(parse_time("yesterday", false).is_err());
    }
}
