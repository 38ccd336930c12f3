//! `lienthong check-config` and `lienthong token`: wiring of the service crate's configuration
//! and token functions to the command line.

use crate::edxml_cmd::Outcome;
use lienthong_service::auth::{TokenHash, new_token};
use lienthong_service::config::{Config, ConfigError};
use std::io::Read;
use std::path::Path;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Prints every finding; exit 0 when the configuration is usable (warnings allowed), 1 when it
/// has errors, 2 when it cannot be read or parsed.
pub fn check_config(file: &Path) -> Outcome {
    let c = match Config::load(file, &env) {
        Ok(c) => c,
        Err(ConfigError::Syntax(f)) => {
            eprintln!("{f}");
            return Outcome::Unreadable;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return Outcome::Unreadable;
        }
    };
    let findings = c.check(&env);
    for f in &findings {
        println!("{f}");
    }
    let errors = findings.iter().filter(|f| f.is_error()).count();
    if errors > 0 {
        println!(
            "{}: {errors} error(s); the gateway will not start",
            file.display()
        );
        Outcome::Invalid
    } else {
        println!(
            "{}: usable ({} unit(s), {} client(s), {} operator(s), journal {}, bus {})",
            file.display(),
            c.units.len(),
            c.clients.len(),
            c.operators.len(),
            lienthong_service::config::redact(&c.journal_url()),
            c.bus
                .amqp_url
                .as_deref()
                .map_or_else(|| "embedded".to_string(), lienthong_service::config::redact)
        );
        Outcome::Valid
    }
}

/// `lienthong token new`.
pub fn token_new() -> Outcome {
    match new_token() {
        Ok(t) => {
            println!("token:        {}", t.token);
            println!("token_sha256: {}", t.hash);
            eprintln!(
                "Give the token to the client or operator once (it is not stored); put \
                 token_sha256 in the configuration."
            );
            Outcome::Valid
        }
        Err(e) => {
            eprintln!("error: {e}");
            Outcome::Unreadable
        }
    }
}

/// `lienthong token hash` (the token on standard input, so it stays out of shell history).
pub fn token_hash() -> Outcome {
    let mut s = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut s) {
        eprintln!("error: cannot read the token from standard input: {e}");
        return Outcome::Unreadable;
    }
    let token = s.trim();
    if token.is_empty() {
        eprintln!("error: no token on standard input");
        return Outcome::Unreadable;
    }
    println!("{}", TokenHash::of(token));
    Outcome::Valid
}

/// `lienthong serve --config FILE`: exit 0 after a graceful stop, 1 when the configuration
/// has errors, 2 when the gateway cannot start.
pub fn serve(file: &Path) -> Outcome {
    let (config, warnings) = match Config::load_checked(file, &env) {
        Ok(c) => c,
        Err(ConfigError::Invalid(findings)) => {
            for f in &findings {
                eprintln!("{f}");
            }
            eprintln!(
                "{}: the configuration has errors; see `lienthong check-config`",
                file.display()
            );
            return Outcome::Invalid;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return Outcome::Unreadable;
        }
    };
    for w in &warnings {
        eprintln!("{w}");
    }
    init_logs("info");
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Outcome::Unreadable;
        }
    };
    rt.block_on(async {
        let gateway = match lienthong_service::gateway::Gateway::start(&config, &env).await {
            Ok(g) => g,
            Err(e) => {
                eprintln!("error: {e}");
                return Outcome::Unreadable;
            }
        };
        eprintln!("lienthong listening on http://{}", gateway.addr());
        wait_for_stop().await;
        eprintln!("stopping: intake closed, finishing the work in hand…");
        gateway.stop().await;
        Outcome::Valid
    })
}

/// Ctrl-C or SIGTERM.
async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Logs on stderr: `RUST_LOG` filters (default `default_level`); `LIENTHONG_LOG_FORMAT=json` writes
/// one JSON object per line for log shippers.
pub fn init_logs(default_level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = if std::env::var("LIENTHONG_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
