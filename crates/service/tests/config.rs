//! The configuration: the shipped examples pass the check; every mistake is explained with its
//! path, what was expected and what was found; environment overrides apply.

use lienthong_service::config::{Config, ConfigError};
use std::path::Path;

fn env_with_secrets(name: &str) -> Option<String> {
    match name {
        "LIENTHONG_DVCQG_PASSWORD" => Some("secret".into()),
        "LIENTHONG_JOURNAL_KEY" => Some("2a".repeat(32)),
        _ => None,
    }
}

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

#[test]
fn shipped_examples_pass() {
    for file in ["config/lienthong.toml", "config/lienthong-cluster.toml"] {
        let (c, warnings) = Config::load_checked(&repo(file), &env_with_secrets)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(warnings.is_empty(), "{file}: {warnings:?}");
        assert!(!c.units.is_empty() && !c.clients.is_empty());
    }
    let (c, _) =
        Config::load_checked(&repo("config/lienthong.toml"), &env_with_secrets).expect("ok");
    assert_eq!(c.journal_url(), "sqlite://data/lienthong.db");
    assert!(c.bus.amqp_url.is_none());
}

fn check(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let c = Config::parse(text, "test.toml", env).expect("parses");
    c.check(env).iter().map(ToString::to_string).collect()
}

const MINIMAL: &str = r#"
[dvcqg]
adapter_url = "http://127.0.0.1:8701"
username = "u"
madonvi = "000.00.00.H41"

[[units]]
code = "000.00.15.H41"
name = "Sở Xây dựng"
"#;

#[test]
fn every_mistake_is_named() {
    let text = format!(
        r#"{MINIMAL}
[[units]]
code = "28.22.H17"
name = ""

[[clients]]
name = "a"
token_sha256 = "abc"
units = ["000.00.99.H41"]

[[clients]]
name = "a"
token_sha256 = "{h}"
units = []

[[operators]]
name = "o"
token_sha256 = "{h}"
role = "root"
"#,
        h = "ab".repeat(32)
    );
    let found = check(&text, &env_with_secrets);
    let has = |needle: &str| {
        assert!(
            found.iter().any(|f| f.contains(needle)),
            "no finding with {needle:?} in {found:#?}"
        )
    };
    has("units[1].code: not a unit code in the strict form");
    has("units[1].name: empty name");
    has("clients[0].token_sha256: not a SHA-256 hash");
    has("clients[0].units[0]: not a configured unit");
    has("000.00.99.H41");
    has("clients[1].name: name used twice");
    has("clients[1].units: a client without units may submit nothing");
    has("operators[0].token_sha256: the same token is configured twice");
    has("operators[0].role: unknown role");
    has("viewer, operator or admin");
}

#[test]
fn missing_secrets_and_bad_urls_are_explained_without_printing_secrets() {
    let text = format!(
        "{MINIMAL}\n[bus]\namqp_url = \"http://guest:hunter2@x\"\n[journal]\nurl = \"mysql://u:hunter2@db/x\"\n"
    );
    let found = check(&text, &|_| None);
    let all = found.join("\n");
    assert!(all.contains("dvcqg.password_env"), "{all}");
    assert!(all.contains("LIENTHONG_DVCQG_PASSWORD"), "{all}");
    assert!(all.contains("journal.encryption_key_env"), "{all}");
    assert!(all.contains("bus.amqp_url: not an AMQP URL"), "{all}");
    assert!(
        all.contains("journal.url: unsupported journal database"),
        "{all}"
    );
    assert!(!all.contains("hunter2"), "a password was printed: {all}");
}

#[test]
fn syntax_errors_and_unknown_keys_point_at_the_line() {
    let e = Config::parse("[gateway]\nlisten = \"x\"\nport = 1\n", "c.toml", &|_| None)
        .expect_err("unknown key");
    let ConfigError::Syntax(f) = e else {
        panic!("expected a syntax error, got {e}")
    };
    assert!(f.path.starts_with("c.toml:3:"), "{f}");
    assert!(f.message.contains("port"), "{f}");
    let e = Config::parse("[gateway\n", "c.toml", &|_| None).expect_err("bad TOML");
    assert!(e.to_string().contains("c.toml:1:"), "{e}");
}

#[test]
fn environment_overrides_apply() {
    let env = |n: &str| match n {
        "LIENTHONG_AMQP_URL" => Some("amqp://guest:guest@127.0.0.1:5672/%2f".to_string()),
        "LIENTHONG_JOURNAL_URL" => Some("postgres://postgres@127.0.0.1/test".to_string()),
        "LIENTHONG_LISTEN" => Some("0.0.0.0:9000".to_string()),
        other => env_with_secrets(other),
    };
    let c = Config::parse(MINIMAL, "t", &env).expect("parses");
    assert_eq!(
        c.bus.amqp_url.as_deref(),
        Some("amqp://guest:guest@127.0.0.1:5672/%2f")
    );
    assert_eq!(c.journal_url(), "postgres://postgres@127.0.0.1/test");
    assert_eq!(c.gateway.listen, "0.0.0.0:9000");
    assert!(c.check(&env).iter().all(|f| !f.is_error()));
}

#[test]
fn portal_mistakes_are_named() {
    let hash = "ab".repeat(32);
    let text = format!(
        r#"{MINIMAL}
[[clients]]
name = "mc"
token_sha256 = "{hash}"
units = ["000.00.15.H41"]

[portal]
receiver_path = "/v1/dossiers/push"
receiver_token_sha256 = "short"
webhook_timeout_secs = 0

[[portal.webhooks]]
client = "nobody"
url = "ftp://x"
secret_env = "HOOK_SECRET"

[[portal.webhooks]]
client = "mc"
url = "https://mc.example/hook"
secret_env = "SHORT_SECRET"
"#
    );
    let env = |name: &str| match name {
        "SHORT_SECRET" => Some("tiny".to_owned()),
        other => env_with_secrets(other),
    };
    let found = check(&text, &env);
    let at = |p: &str| found.iter().any(|f| f.contains(p));
    for p in [
        "portal.receiver_path",
        "portal.receiver_token_sha256",
        "portal.webhook_timeout_secs",
        "portal.webhooks[0].client",
        "portal.webhooks[0].url",
        "portal.webhooks[0].secret_env",
        "portal.webhooks[1].secret_env",
    ] {
        assert!(at(p), "{p} not named in {found:#?}");
    }
    assert!(
        !found.iter().any(|f| f.contains("tiny")),
        "a secret was printed"
    );

    // A good section passes without findings.
    let text = format!(
        r#"{MINIMAL}
[[clients]]
name = "mc"
token_sha256 = "{hash}"
units = ["000.00.15.H41"]

[portal]
receiver_token_sha256 = "{}"

[[portal.webhooks]]
client = "mc"
url = "https://mc.example/hook"
secret_env = "HOOK_SECRET"
"#,
        "cd".repeat(32)
    );
    let env = |name: &str| match name {
        "HOOK_SECRET" => Some("0123456789abcdef0123".to_owned()),
        other => env_with_secrets(other),
    };
    let found = check(&text, &env);
    assert!(found.is_empty(), "{found:#?}");
    let c = Config::parse(&text, "t", &env).expect("parses");
    let p = c.portal.expect("portal");
    assert_eq!(p.receiver_path, "/v1/portal/dossiers");
    assert_eq!(p.webhook_timeout_secs, 10);
}

#[test]
fn catalogue_ttl_and_bus_prefix_are_checked() {
    let c = Config::parse(MINIMAL, "test.toml", &env_with_secrets).expect("parses");
    let p = c.dvcqg.as_ref().expect("dvcqg");
    assert_eq!(p.catalogue_ttl_secs, 6 * 3600, "six hours by default");
    assert_eq!(c.bus.prefix, "lienthong");
    let text = MINIMAL.replace(
        "madonvi = \"000.00.00.H41\"",
        "madonvi = \"000.00.00.H41\"\ncatalogue_ttl_secs = 5",
    ) + "\n[bus]\nprefix = \"Bad Prefix\"\n";
    let found = check(&text, &env_with_secrets);
    assert!(
        found.iter().any(|f| f.contains("dvcqg.catalogue_ttl_secs")),
        "{found:?}"
    );
    assert!(found.iter().any(|f| f.contains("bus.prefix")), "{found:?}");
}

#[test]
fn vdxp_mistakes_are_named() {
    let hash = "cd".repeat(32);
    let text = format!(
        r#"{MINIMAL}
[[clients]]
name = "vt"
token_sha256 = "{hash}"
units = ["000.00.15.H41"]

[vdxp]
base_url = "ftp://axis"
systemid = ""
poll_interval_secs = 0

[[vdxp.organisations]]
organ_id = "28.22.H17"
organization_in_charge = "UBND"
organ_name = "UBND"
organ_add = ""
email = "a@b.c"
telephone = "1"
fax = "2"
website = "w"

[[vdxp.organisations]]
organ_id = "000.00.00.H41"
organization_in_charge = "UBND"
organ_name = "UBND"
organ_add = "x"
email = "a@b.c"
telephone = "1"
fax = "2"
website = "w"

[vdxp.aliases]
"000.00.00.H40" = "000.00.00.H40"

[vdxp.progress."07"]
text = "x"

[vdxp.progress."06"]
status = "done"
text = ""

[[vdxp.webhooks]]
client = "nobody"
url = "https://x"
secret_env = "NOPE"
"#
    );
    let found = check(&text, &env_with_secrets);
    let at = |p: &str| found.iter().any(|f| f.contains(p));
    for p in [
        "vdxp.base_url",
        "vdxp.systemid",
        "vdxp.secret_env",
        "vdxp.poll_interval_secs",
        "vdxp.organisations[0].organ_id",
        "vdxp.organisations[0].organ_add",
        // a strict own code, but not a configured unit (clients are scoped by units)
        "vdxp.organisations[1].organ_id",
        "vdxp.aliases.000.00.00.H40",
        "vdxp.progress.07",
        "vdxp.progress.06.status",
        "vdxp.progress.06.text",
        "vdxp.webhooks[0].client",
        "vdxp.webhooks[0].secret_env",
    ] {
        assert!(at(p), "{p} not named in {found:#?}");
    }

    // A good section passes without findings.
    let text = format!(
        r#"{MINIMAL}
[[units]]
code = "000.00.00.H41"
name = "UBND Tỉnh Nghệ An"

[vdxp]
base_url = "http://127.0.0.1:8702"
systemid = "lienthong"

[[vdxp.organisations]]
organ_id = "000.00.00.H41"
organization_in_charge = "UBND Tỉnh Nghệ An"
organ_name = "UBND Tỉnh Nghệ An"
organ_add = "Số 03 đường Trường Thi"
email = "vanthu@example.gov.vn"
telephone = "0238 3840000"
fax = "0238 3840001"
website = "example.gov.vn"

[vdxp.progress."06"]
status = "finished"
text = "{{organ}} đã xử lý xong văn bản {{code}}"
"#
    );
    let env = |name: &str| match name {
        "LIENTHONG_VDXP_SECRET" => Some("s3cret".to_owned()),
        other => env_with_secrets(other),
    };
    let found = check(&text, &env);
    assert!(found.is_empty(), "{found:#?}");
    let c = Config::parse(&text, "t", &env).expect("parses");
    let v = c.vdxp.expect("vdxp");
    assert_eq!(v.poll_interval_secs, 10);
    assert!(v.arrival_status);
}

/// Key paths of a TOML value: `a.b`, `a[].b` for arrays of tables, `<…>` for the keys of the
/// tables whose keys the operator chooses.
fn key_paths(v: &toml::Value, prefix: &str, out: &mut std::collections::BTreeSet<String>) {
    const CHOSEN: &[(&str, &str)] = &[
        ("vdxp.aliases", "<OLD>"),
        ("vdxp.progress", "<NN>"),
        ("mapping.procedure_map", "<LOCAL>"),
    ];
    let toml::Value::Table(t) = v else {
        out.insert(prefix.to_owned());
        return;
    };
    for (k, v) in t {
        let name = CHOSEN
            .iter()
            .find(|(p, _)| *p == prefix)
            .map_or(k.as_str(), |(_, placeholder)| placeholder);
        let path = if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}.{name}")
        };
        match v {
            toml::Value::Array(items) if items.first().is_some_and(toml::Value::is_table) => {
                for item in items {
                    key_paths(item, &format!("{path}[]"), out);
                }
            }
            other => key_paths(other, &path, out),
        }
    }
}

#[test]
fn the_configuration_reference_lists_every_key() {
    use std::collections::BTreeSet;
    let doc = std::fs::read_to_string(repo("docs/configuration.md")).expect("reference");
    let keys_section = doc
        .split("## Keys")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a Keys section");
    let table: BTreeSet<String> = keys_section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect();
    assert!(table.len() > 60, "{table:?}");
    let example = doc
        .split("## Every key at once")
        .nth(1)
        .and_then(|s| s.split("```toml\n").nth(1))
        .and_then(|s| s.split("\n```").next())
        .expect("the example");
    // Accepted as it is: every key it sets exists (unknown keys are errors).
    let config = Config::parse(example, "docs/configuration.md", &|_| None)
        .unwrap_or_else(|e| panic!("the example is refused: {e}"));
    let mut in_example = BTreeSet::new();
    key_paths(
        &toml::from_str::<toml::Value>(example).expect("TOML"),
        "",
        &mut in_example,
    );
    let undocumented: Vec<_> = in_example.difference(&table).collect();
    let unset: Vec<_> = table.difference(&in_example).collect();
    assert!(
        undocumented.is_empty(),
        "set in the example, not in the table: {undocumented:?}"
    );
    assert!(
        unset.is_empty(),
        "in the table, not set in the example: {unset:?}"
    );
    // The configuration as the gateway holds it has no key the table does not list.
    let mut in_code = BTreeSet::new();
    key_paths(
        &toml::Value::try_from(&config).expect("serialise"),
        "",
        &mut in_code,
    );
    let missing: Vec<_> = in_code.difference(&table).collect();
    assert!(
        missing.is_empty(),
        "keys of the code not in docs/configuration.md: {missing:?}"
    );
    // And the example is a good configuration (with its secrets in the environment).
    let env = |name: &str| match name {
        "LIENTHONG_VDXP_SECRET" => Some("s3cret".to_owned()),
        "LIENTHONG_WEBHOOK_MOTCUA" | "LIENTHONG_WEBHOOK_VANTHU" => Some("x".repeat(32)),
        other => env_with_secrets(other),
    };
    let errors: Vec<_> = config
        .check(&env)
        .into_iter()
        .filter(|f| f.is_error())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn node_names_come_from_the_file_the_environment_or_the_host() {
    let named = Config::parse("[gateway]\nnode_name = \"n1\"\n", "t", &|_| None).expect("parses");
    assert_eq!(named.node_name(), "n1");
    let env = |name: &str| (name == "LIENTHONG_NODE_NAME").then(|| "pod-7".to_owned());
    let overridden = Config::parse("[gateway]\nnode_name = \"n1\"\n", "t", &env).expect("parses");
    assert_eq!(overridden.node_name(), "pod-7");
    // Without either: the host name, which differs between the nodes of a cluster.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    let default = Config::parse("", "t", &|_| None).expect("parses");
    if host.is_empty() {
        assert!(!default.node_name().is_empty());
    } else {
        assert_eq!(default.node_name(), host);
    }
}
