//! The `lienthong` command: the gateway's single binary.
//!
//! This crate only wires library crates to a command line; it holds no format logic.

mod admin_cmd;
mod demo_cmd;
mod dossier_cmd;
mod edxml_cmd;
mod import_cmd;
mod journal_cmd;
mod sandbox_cmd;
mod service_cmd;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// lienthong — interoperability gateway for Vietnamese public administration
/// (one-stop-shop dossiers, DVCQG, VDXP/edXML).
#[derive(Debug, Parser)]
#[command(name = "lienthong", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with edXML messages (QCVN 102:2016).
    #[command(subcommand)]
    Edxml(EdxmlCommand),
    /// Convert dossiers and progress steps between the provincial format and DVCQG items.
    Convert {
        /// Input format.
        #[arg(long, value_enum)]
        from: DossierFormat,
        /// Output format.
        #[arg(long, value_enum)]
        to: DossierFormat,
        /// What the documents are; detected from their fields when omitted.
        #[arg(long, value_enum)]
        kind: Option<KindArg>,
        /// One JSON document or NDJSON (one per line); `-` or nothing for standard input.
        file: Option<PathBuf>,
        /// Format of the findings (on stderr).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        #[command(flatten)]
        mapping: MappingArgs,
    },
    /// Check a file in any format the gateway reads (edXML, provincial JSON, DVCQG JSON).
    Validate {
        /// The file; `-` or nothing for standard input.
        file: Option<PathBuf>,
        #[command(flatten)]
        mapping: MappingArgs,
        /// Format of the findings.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Generate realistic test data, deterministic by seed.
    #[command(subcommand)]
    Gen(GenCommand),
    /// Run the gateway: the ingest API, the outbox relay and the routes to the national portal
    /// (see config/lienthong.toml; secrets from the environment). Ctrl-C or SIGTERM stops it
    /// gracefully.
    Serve {
        /// The TOML configuration.
        #[arg(long)]
        config: PathBuf,
    },
    /// A demonstration on this machine: the portal and axis simulators and a gateway on the
    /// embedded backends, fed with generated dossiers (some invalid, some out of order, a
    /// portal outage in the middle), with a live summary.
    Demo {
        /// End after this many seconds (otherwise Ctrl-C).
        #[arg(long)]
        duration: Option<u64>,
        /// Dossier stories fed per second.
        #[arg(long, default_value_t = 10)]
        rate: u32,
        /// Use RabbitMQ at this URL instead of the embedded queue.
        #[arg(long)]
        amqp: Option<String>,
        /// Use this PostgreSQL database instead of SQLite.
        #[arg(long)]
        database: Option<String>,
        /// Seed of the generated dossiers.
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Bulk backfill through a running gateway: provincial dossiers and progress steps from
    /// an NDJSON file, sent in batches with idempotency keys; resumable (FILE.import-state),
    /// refused lines in FILE.refused.ndjson. Exit 0 all accepted, 1 some refused, 2 could not
    /// run.
    Import {
        /// The NDJSON file (one dossier or progress step per line).
        file: PathBuf,
        /// The gateway's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8700")]
        url: String,
        /// The client token (default: the environment variable LIENTHONG_TOKEN).
        #[arg(long)]
        token: Option<String>,
        /// Dossier lines per request.
        #[arg(long, default_value_t = 200)]
        batch: usize,
        /// Give up after the gateway has been unreachable for this many seconds.
        #[arg(long, default_value_t = 300)]
        give_up_secs: u64,
    },
    /// Check a gateway configuration file and explain every mistake (exit 0 usable, 1 not).
    CheckConfig {
        /// The TOML file (see config/lienthong.toml).
        file: PathBuf,
    },
    /// Client and operator tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Look into the journal (works while the gateway is down).
    Journal {
        #[command(subcommand)]
        command: JournalCommand,
        #[command(flatten)]
        journal: journal_cmd::JournalArgs,
    },
    /// The centre's report from the journal: received, resolved, on time, overdue,
    /// online… per month, agency or department (docs/statistics.md).
    Report {
        /// First day (YYYY-MM-DD, inclusive).
        #[arg(long)]
        from: jiff::civil::Date,
        /// Last day (YYYY-MM-DD, inclusive).
        #[arg(long)]
        to: jiff::civil::Date,
        /// Only this agency (level-1 code, e.g. 000.00.00.H41) or department (unit code).
        #[arg(long)]
        agency: Option<String>,
        /// Rows per month, agency or department.
        #[arg(long, value_enum, default_value_t = ReportBy::Month)]
        by: ReportBy,
        /// Output format.
        #[arg(long, value_enum, default_value_t = journal_cmd::OutFormat::Table)]
        format: journal_cmd::OutFormat,
        #[command(flatten)]
        journal: journal_cmd::JournalArgs,
    },
    /// Run the simulators of the national portal (DVCQG) and of the document exchange
    /// axis (VDXP) for tests and demos (docs/simulators.md).
    Sandbox {
        /// Address of the DVCQG simulator.
        #[arg(long, default_value = "127.0.0.1:8701")]
        dvcqg: std::net::SocketAddr,
        /// Address of the VDXP simulator.
        #[arg(long, default_value = "127.0.0.1:8702")]
        vdxp: std::net::SocketAddr,
        /// Simulator configuration: a JSON object with optional `dvcqg` and `vdxp` members
        /// (docs/simulators.md); built-in defaults otherwise.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// The bus routes of a running gateway: depth, retries, parked, consumers, rates.
    Queues(admin_cmd::QueuesArgs),
    /// Parked work items of a running gateway: list, replay, discard (audited).
    #[command(subcommand)]
    Parked(admin_cmd::ParkedCommand),
    /// Switch a running gateway's maintenance mode (intake answers 503 while on; audited).
    Maintenance(admin_cmd::MaintenanceArgs),
    /// The audit log of a running gateway: who did what, when and why.
    Audit(admin_cmd::AuditArgs),
    /// Compare a dossier in a running gateway's journal with the portal's copy and repair
    /// (operator; audited; --dry-run only reports).
    Resync(admin_cmd::ResyncArgs),
    /// The partners of a running gateway: `partners ping` checks each one.
    #[command(subcommand)]
    Partners(admin_cmd::PartnersCommand),
    /// The portal's procedure catalogue as a running gateway caches it.
    Catalogue(admin_cmd::CatalogueArgs),
    /// Dossiers citizens submitted on the national portal, and whether the provincial system
    /// took them (a running gateway's view; no personal data).
    Submissions(admin_cmd::SubmissionsArgs),
    /// Documents and statuses a running gateway exchanged over the axis: list, show,
    /// resend (operator; audited).
    #[command(subcommand)]
    Edocs(admin_cmd::EdocsCommand),
    /// The agency directory a running gateway synced from the axis: `agencies search TEXT`.
    #[command(subcommand)]
    Agencies(admin_cmd::AgenciesCommand),
}

/// Rows of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportBy {
    /// One row per calendar month.
    Month,
    /// One row per level-1 agency.
    Agency,
    /// One row per receiving unit.
    Department,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Make a random token: give the token to the client or operator, put its hash in the
    /// configuration (`token_sha256`).
    New,
    /// Print the hash of an existing token read from standard input.
    Hash,
}

#[derive(Debug, Subcommand)]
enum JournalCommand {
    /// Find messages in the message log, newest first.
    Search {
        /// Dossier code.
        #[arg(long)]
        dossier: Option<String>,
        /// Axis document id.
        #[arg(long)]
        doc: Option<String>,
        /// Partner (dvcqg, vdxp, a one-stop-shop system).
        #[arg(long)]
        partner: Option<String>,
        /// Outcome (pending, accepted, rejected, parked, duplicate).
        #[arg(long)]
        outcome: Option<String>,
        /// From (RFC 3339 time, or a day in Vietnamese time).
        #[arg(long)]
        from: Option<String>,
        /// To (RFC 3339 time exclusive, or a day inclusive).
        #[arg(long)]
        to: Option<String>,
        /// Page size.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Continue after this cursor (printed at the end of a page).
        #[arg(long)]
        after: Option<String>,
        /// Print the kept bodies (personal data masked).
        #[arg(long)]
        bodies: bool,
        /// Show personal data in bodies in clear (needs the encryption key).
        #[arg(long, requires = "bodies")]
        reveal: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = journal_cmd::OutFormat::Table)]
        format: journal_cmd::OutFormat,
    },
    /// Everything known about one dossier, in time order.
    Timeline {
        /// Dossier code.
        code: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = journal_cmd::OutFormat::Table)]
        format: journal_cmd::OutFormat,
    },
    /// Record provincial dossiers and progress steps (JSON or NDJSON, e.g. from `gen`) straight
    /// into the journal: an offline backfill that works while the gateway is down. Each
    /// document is validated first; refused ones are reported with their findings.
    Load {
        /// The file; `-` or nothing for standard input.
        file: Option<PathBuf>,
        /// The one-stop-shop system the documents come from.
        #[arg(long, default_value = "backfill")]
        source: String,
    },
    /// Delete old records in small batches (retention).
    Purge {
        /// Keep this many days (default: journal.retention_days, else 365).
        #[arg(long)]
        days: Option<u64>,
    },
}

/// Identifier rules the province configures (`codes.md` §1.4 and §2).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct MappingArgs {
    /// A local procedure code and the code the portal knows it by, as LOCAL=PORTAL
    /// (repeatable). Codes without an entry are sent unchanged.
    #[arg(long = "procedure-map", value_name = "LOCAL=PORTAL", value_parser = parse_pair)]
    pub procedure_map: Vec<(String, String)>,
    /// An own unit code accepted although it is not in the strict 4-part form
    /// (repeatable).
    #[arg(long = "own-code", value_name = "CODE")]
    pub own_codes: Vec<String>,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((a, b)) if !a.trim().is_empty() && !b.trim().is_empty() => {
            Ok((a.trim().to_owned(), b.trim().to_owned()))
        }
        _ => Err(format!("expected LOCAL=PORTAL, found {s:?}")),
    }
}

/// Dossier formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DossierFormat {
    /// The provincial dossier format v1 (docs/provincial-format.md).
    Provincial,
    /// DVCQG items (DongBoHoSoMC / CapNhatTienDoHoSoMC `data` items).
    Dvcqg,
}

/// Document kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// A dossier.
    Dossier,
    /// A progress step.
    Progress,
}

#[derive(Debug, Subcommand)]
enum GenCommand {
    /// Provincial dossiers as NDJSON (several versions per dossier).
    Dossiers {
        /// Number of lines.
        #[arg(long, default_value_t = 10)]
        count: usize,
        /// Seed; the same seed gives the same output.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Provincial progress steps as NDJSON, for the dossiers of the same seed.
    Progress {
        /// Number of lines.
        #[arg(long, default_value_t = 10)]
        count: usize,
        /// Seed; the same seed gives the same output.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

/// How findings are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One finding per line: `severity: path: message (expected …, found …)`.
    Text,
    /// A JSON array of findings.
    Json,
}

#[derive(Debug, Subcommand)]
enum EdxmlCommand {
    /// Print the facts of a message as one JSON object (findings on stderr).
    Inspect {
        /// The message file (`-` for standard input).
        file: PathBuf,
        /// Format of the findings.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Write the message in the strict layout to stdout (findings on stderr).
    Normalize {
        /// The message file (`-` for standard input).
        file: PathBuf,
        /// Format of the findings.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Check a message and print its findings on stdout.
    Validate {
        /// The message file (`-` for standard input).
        file: PathBuf,
        /// Format of the findings.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Edxml(EdxmlCommand::Inspect { file, format }) => edxml_cmd::inspect(&file, format),
        Command::Edxml(EdxmlCommand::Normalize { file, format }) => {
            edxml_cmd::normalize(&file, format)
        }
        Command::Edxml(EdxmlCommand::Validate { file, format }) => {
            edxml_cmd::validate(&file, format)
        }
        Command::Convert {
            from,
            to,
            kind,
            file,
            format,
            mapping,
        } => dossier_cmd::convert(from, to, kind, file.as_deref(), format, &mapping),
        Command::Validate {
            file,
            format,
            mapping,
        } => dossier_cmd::validate(file.as_deref(), format, &mapping),
        Command::Sandbox {
            dvcqg,
            vdxp,
            config,
        } => sandbox_cmd::run(dvcqg, vdxp, config.as_deref()),
        Command::Import {
            file,
            url,
            token,
            batch,
            give_up_secs,
        } => import_cmd::run(import_cmd::ImportArgs {
            file,
            url,
            token,
            batch,
            give_up_secs,
        }),
        Command::CheckConfig { file } => service_cmd::check_config(&file),
        Command::Serve { config } => service_cmd::serve(&config),
        Command::Demo {
            duration,
            rate,
            amqp,
            database,
            seed,
        } => match demo_cmd::run(demo_cmd::DemoArgs {
            duration,
            rate,
            amqp,
            database,
            seed,
        }) {
            Ok(()) => edxml_cmd::Outcome::Valid,
            Err(e) => {
                eprintln!("error: {e:#}");
                edxml_cmd::Outcome::Unreadable
            }
        },
        Command::Queues(a) => admin_cmd::queues(&a),
        Command::Parked(c) => admin_cmd::parked(&c),
        Command::Maintenance(a) => admin_cmd::maintenance(&a),
        Command::Audit(a) => admin_cmd::audit(&a),
        Command::Resync(a) => admin_cmd::resync(&a),
        Command::Partners(c) => admin_cmd::partners(&c),
        Command::Catalogue(a) => admin_cmd::catalogue(&a),
        Command::Submissions(a) => admin_cmd::submissions(&a),
        Command::Edocs(c) => admin_cmd::edocs(&c),
        Command::Agencies(c) => admin_cmd::agencies(&c),
        Command::Token(TokenCommand::New) => service_cmd::token_new(),
        Command::Token(TokenCommand::Hash) => service_cmd::token_hash(),
        Command::Journal { command, journal } => match command {
            JournalCommand::Search {
                dossier,
                doc,
                partner,
                outcome,
                from,
                to,
                limit,
                after,
                bodies,
                reveal,
                format,
            } => journal_cmd::search(
                &journal,
                &journal_cmd::SearchArgs {
                    dossier,
                    doc,
                    partner,
                    outcome,
                    from,
                    to,
                    limit,
                    after,
                    bodies,
                    reveal,
                    format,
                },
            ),
            JournalCommand::Timeline { code, format } => {
                journal_cmd::timeline(&journal, &code, format)
            }
            JournalCommand::Purge { days } => journal_cmd::purge(&journal, days),
            JournalCommand::Load { file, source } => {
                journal_cmd::load(&journal, file.as_deref(), &source)
            }
        },
        Command::Report {
            from,
            to,
            agency,
            by,
            format,
            journal,
        } => {
            let by = match by {
                ReportBy::Month => lienthong_journal::stats::GroupBy::Month,
                ReportBy::Agency => lienthong_journal::stats::GroupBy::Agency,
                ReportBy::Department => lienthong_journal::stats::GroupBy::Department,
            };
            journal_cmd::report(&journal, from, to, agency, by, format)
        }
        Command::Gen(GenCommand::Dossiers { count, seed }) => {
            dossier_cmd::gen_dossiers(count, seed)
        }
        Command::Gen(GenCommand::Progress { count, seed }) => {
            dossier_cmd::gen_progress(count, seed)
        }
    };
    report_peak_rss();
    ExitCode::from(code as u8)
}

/// With `LIENTHONG_REPORT_PEAK_RSS` set, prints the process's peak resident set size
/// (`VmHWM`, Linux) to stderr as `peak_rss_kib=N`: how memory limits are tested.
fn report_peak_rss() {
    if std::env::var_os("LIENTHONG_REPORT_PEAK_RSS").is_none() {
        return;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(kib) = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    {
        eprintln!("peak_rss_kib={kib}");
    }
}
