#!/usr/bin/env bash
# Checks the deployment artefacts under deploy/ (run from anywhere; CI runs it after the tests):
#   1. compose.yml and every Kubernetes manifest parse as YAML and have the expected kinds,
#      services, probes and security settings; `kubectl kustomize` builds the manifests when
#      kubectl is installed; the TOML configurations parse, and `lienthong check-config`
#      accepts them when a built binary is found;
#   2. the Grafana dashboard and the Prometheus alert rules use only metric names the gateway
#      exports (the `pub const … = "lienthong_…"` names of crates/service/src/metrics.rs, plus
#      _bucket/_sum/_count of the histogram);
#   3. the systemd units pass `systemd-analyze verify` (skipped where it is not installed);
#   4. deploy/rabbitmq/definitions.json imports into the running RabbitMQ (skipped where
#      rabbitmqctl is not installed), into a vhost of its own that is deleted afterwards, so the
#      broker the tests share is left as it was.
# Usage: deploy/check.sh   (exit 0 when every check passed or was skipped with a message)
set -euo pipefail
cd "$(dirname "$0")/.."

check_start=$(date +%s)
step_start=$check_start
step() {
  local now
  now=$(date +%s)
  [ -n "${step_name:-}" ] && printf -- '--- %-44s %4ss\n' "$step_name" "$((now - step_start))"
  step_name="$1"
  step_start=$now
  printf -- '--- %s\n' "$1"
}
finish() {
  local rc=$1 now
  now=$(date +%s)
  [ -n "${step_name:-}" ] && printf -- '--- %-44s %4ss%s\n' "$step_name" "$((now - step_start))" \
    "$([ $rc -ne 0 ] && echo ' (FAILED)')"
  printf -- '--- deploy checks: %ss, exit %s\n' "$((now - check_start))" "$rc"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/lienthong-deploy-check.XXXXXX")
vhost=""
cleanup() {
  if [ -n "$vhost" ]; then
    timeout 120 rabbitmqctl -q delete_vhost "$vhost" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
on_exit() {
  local rc=$?
  cleanup
  finish "$rc"
}
trap on_exit EXIT

if ! python3 -c 'import yaml' 2>/dev/null; then
  echo "installing python3-yaml"
  if [ "$(id -u)" -eq 0 ]; then as_root=(); else as_root=(sudo); fi
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-yaml
fi

# A built binary for check-config and as the ExecStart of the verified units, if there is one.
lienthong_bin=""
for b in target/debug/lienthong target/release/lienthong; do
  if [ -x "$b" ]; then lienthong_bin="$PWD/$b"; break; fi
done

step "YAML: compose, Kubernetes manifests, TOML"
python3 - "$work" <<'EOF'
import os, sys, tomllib, yaml

work = sys.argv[1]
errors = []

def expect(cond, what):
    if not cond:
        errors.append(what)

def load_all(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]

# Compose.
compose = load_all("deploy/docker/compose.yml")
expect(len(compose) == 1, "compose.yml: one document expected")
services = compose[0].get("services", {})
for name in ("rabbitmq", "rabbitmq-definitions", "postgres", "gateway-1", "gateway-2"):
    expect(name in services, f"compose.yml: no service {name}")
expect(str(services.get("postgres", {}).get("image", "")).startswith("postgres:15"),
       "compose.yml: postgres is not PostgreSQL 15")
expect("management" in str(services.get("rabbitmq", {}).get("image", "")),
       "compose.yml: rabbitmq is not a management image")
for name in ("rabbitmq", "postgres"):
    expect("healthcheck" in services.get(name, {}), f"compose.yml: {name} has no healthcheck")
defs = services.get("rabbitmq-definitions", {})
expect(any("deploy/rabbitmq/definitions.json" in os.path.normpath(os.path.join("deploy/docker", v.split(":")[0]))
           for v in defs.get("volumes", [])),
       "compose.yml: rabbitmq-definitions does not mount deploy/rabbitmq/definitions.json")
node_names, ports = set(), set()
for name in ("gateway-1", "gateway-2"):
    s = services.get(name, {})
    build = s.get("build", {})
    expect(build.get("dockerfile") == "deploy/docker/Dockerfile"
           and os.path.normpath(os.path.join("deploy/docker", build.get("context", ""))) == ".",
           f"compose.yml: {name} is not built from deploy/docker/Dockerfile in the repository root")
    deps = s.get("depends_on", {})
    for dep in ("rabbitmq", "postgres"):
        expect(deps.get(dep, {}).get("condition") == "service_healthy",
               f"compose.yml: {name} does not wait for {dep} to be healthy")
    expect(deps.get("rabbitmq-definitions", {}).get("condition") == "service_completed_successfully",
           f"compose.yml: {name} does not wait for the definitions import")
    expect("healthcheck" in s, f"compose.yml: {name} has no healthcheck")
    env = s.get("environment", {})
    node_names.add(env.get("LIENTHONG_NODE_NAME"))
    ports.update(str(p).rsplit(":", 1)[0] for p in s.get("ports", []))
    expect(any(v.startswith("./lienthong.toml:") for v in s.get("volumes", [])),
           f"compose.yml: {name} does not mount deploy/docker/lienthong.toml")
    for var in ("LIENTHONG_JOURNAL_KEY", "LIENTHONG_DVCQG_PASSWORD", "LIENTHONG_AMQP_URL", "LIENTHONG_JOURNAL_URL"):
        expect(var in env, f"compose.yml: {name} does not set {var}")
expect(len(node_names - {None}) == 2, "compose.yml: the gateways need two different LIENTHONG_NODE_NAME")
expect(len(ports) == 2, "compose.yml: the gateways need two different host ports")
print(f"compose.yml: services {', '.join(services)}")

# example.env: every variable compose.yml requires, placeholders only.
with open("deploy/docker/example.env", encoding="utf-8") as f:
    example = {l.split("=", 1)[0] for l in f if "=" in l and not l.lstrip().startswith("#")}
import re
with open("deploy/docker/compose.yml", encoding="utf-8") as f:
    required = set(re.findall(r"\$\{([A-Z_]+):\?", f.read()))
expect(required <= example, f"example.env lacks {sorted(required - example)}")
print(f"example.env: {', '.join(sorted(example))}")

# Kubernetes.
expected = {
    "namespace.yaml": "Namespace",
    "configmap.yaml": "ConfigMap",
    "secret.example.yaml": "Secret",
    "deployment.yaml": "Deployment",
    "service.yaml": "Service",
    "kustomization.yaml": "Kustomization",
}
k8s = {}
for fname, kind in expected.items():
    docs = load_all(os.path.join("deploy/kubernetes", fname))
    expect(len(docs) == 1 and docs[0].get("kind") == kind, f"{fname}: expected one {kind}")
    k8s[fname] = docs[0] if docs else {}
listed = k8s["kustomization.yaml"].get("resources", [])
for r in listed:
    expect(os.path.isfile(os.path.join("deploy/kubernetes", r)), f"kustomization.yaml: {r} does not exist")
for r in ("configmap.yaml", "deployment.yaml", "service.yaml"):
    expect(r in listed, f"kustomization.yaml: {r} not listed")
expect("secret.example.yaml" not in listed, "kustomization.yaml must not apply the example Secret")
dep = k8s["deployment.yaml"]
spec = dep.get("spec", {})
expect(spec.get("replicas") == 2, "deployment.yaml: 2 replicas expected")
pod = spec.get("template", {}).get("spec", {})
expect(pod.get("securityContext", {}).get("runAsNonRoot") is True, "deployment.yaml: not runAsNonRoot")
main = next((c for c in pod.get("containers", []) if c.get("name") == "lienthong"), {})
expect(main.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/health",
       "deployment.yaml: livenessProbe is not on /health")
expect(main.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/ready",
       "deployment.yaml: readinessProbe is not on /ready")
for c in pod.get("containers", []) + pod.get("initContainers", []):
    sc = c.get("securityContext", {})
    expect(sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False,
           f"deployment.yaml: container {c.get('name')} is not read-only / may escalate")
    expect("limits" in c.get("resources", {}), f"deployment.yaml: container {c.get('name')} has no limits")
env = {e["name"]: e.get("value") for e in main.get("env", [])}
expect(env.get("LIENTHONG_LISTEN") == "0.0.0.0:8700", "deployment.yaml: LIENTHONG_LISTEN=0.0.0.0:8700 expected")
secret_name = k8s["secret.example.yaml"].get("metadata", {}).get("name")
expect(any(e.get("secretRef", {}).get("name") == secret_name for e in main.get("envFrom", [])),
       "deployment.yaml: the environment does not come from the Secret")
svc_ports = [p.get("port") for p in k8s["service.yaml"].get("spec", {}).get("ports", [])]
expect(8700 in svc_ports, "service.yaml: port 8700 expected")
print("kubernetes: " + ", ".join(f"{f} ({k})" for f, k in expected.items()))

# TOML: the compose configuration and the ConfigMap's, kept for check-config.
tomls = {
    "deploy/docker/lienthong.toml": open("deploy/docker/lienthong.toml", encoding="utf-8").read(),
    "deploy/kubernetes/configmap.yaml lienthong.toml": k8s["configmap.yaml"].get("data", {}).get("lienthong.toml", ""),
}
for i, (name, text) in enumerate(tomls.items()):
    try:
        t = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        errors.append(f"{name}: {e}")
        continue
    expect("node_name" not in t.get("gateway", {}),
           f"{name}: gateway.node_name must be left to each node")
    with open(os.path.join(work, f"config-{i}.toml"), "w", encoding="utf-8") as f:
        f.write(text.replace("[gateway]\n", '[gateway]\nnode_name = "check"\n', 1))
    with open(os.path.join(work, f"config-{i}.name"), "w", encoding="utf-8") as f:
        f.write(name)
    print(f"{name}: TOML parses")

if errors:
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    sys.exit(1)
EOF
if command -v kubectl >/dev/null; then
  kubectl kustomize deploy/kubernetes >"$work/kustomized.yaml"
  python3 - "$work/kustomized.yaml" <<'EOF'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = sorted(d["kind"] for d in docs)
assert kinds == ["ConfigMap", "Deployment", "Namespace", "Service"], kinds
assert all(d["metadata"].get("namespace") == "lienthong" for d in docs if d["kind"] != "Namespace")
print("kubectl kustomize deploy/kubernetes: " + ", ".join(kinds))
EOF
else
  echo "skipped: kubectl kustomize (kubectl is not installed)"
fi
if [ -n "$lienthong_bin" ]; then
  for cfg in "$work"/config-*.toml; do
    env -i PATH="$PATH" \
      LIENTHONG_JOURNAL_KEY=0000000000000000000000000000000000000000000000000000000000000000 \
      LIENTHONG_DVCQG_PASSWORD=check LIENTHONG_VDXP_SECRET=check \
      "$lienthong_bin" check-config "$cfg" >"$work/check-config.out" 2>&1 \
      || { echo "error: $(cat "${cfg%.toml}.name"):"; cat "$work/check-config.out"; exit 1; }
    echo "lienthong check-config $(cat "${cfg%.toml}.name"): $(cat "$work/check-config.out")"
  done
else
  echo "skipped: lienthong check-config (no target/debug/lienthong or target/release/lienthong)"
fi

step "Dockerfile and .dockerignore"
python3 - <<'EOF'
import fnmatch, re, sys
text = open("deploy/docker/Dockerfile", encoding="utf-8").read()
errors = []
for pattern, what in [
    (r"(?m)^FROM \S+ AS build$", "a build stage"),
    (r"cargo build --release --locked -p lienthong", "cargo build --release --locked -p lienthong"),
    (r"(?m)^FROM debian:bookworm-slim$", "a debian:bookworm-slim runtime"),
    (r"ca-certificates", "ca-certificates"),
    (r"--uid 10001", "the user lienthong with uid 10001"),
    (r"(?m)^USER lienthong$", "USER lienthong"),
    (r"(?m)^EXPOSE 8700$", "EXPOSE 8700"),
    (r"(?m)^HEALTHCHECK .*\n?.*/ready", "a HEALTHCHECK on /ready"),
    (r'(?m)^ENTRYPOINT \["lienthong"\]$', 'ENTRYPOINT ["lienthong"]'),
    (r'(?m)^CMD \["serve", "--config", "/etc/lienthong/lienthong.toml"\]$', "CMD serve --config"),
]:
    if not re.search(pattern, text):
        errors.append(f"Dockerfile: no {what}")
ignore = [l.strip().rstrip("/") for l in open(".dockerignore", encoding="utf-8")
          if l.strip() and not l.startswith("#")]
def ignored(path):
    parts = path.split("/")
    return any(fnmatch.fnmatch("/".join(parts[:i]), p.lstrip("/").replace("**/", ""))
               or fnmatch.fnmatch(parts[i - 1], p.replace("**/", ""))
               for p in ignore for i in range(1, len(parts) + 1))
for must in ("target", ".git"):
    if not ignored(must):
        errors.append(f".dockerignore: {must} is sent to the build")
# What the build reads: the manifests, the lock file, the sources and what they include.
needed = ["Cargo.toml", "Cargo.lock", "crates/lienthong/src/main.rs", "tests/Cargo.toml"]
import glob
for src in glob.glob("crates/*/src/**/*.rs", recursive=True):
    for inc in re.findall(r'include_(?:str|bytes)!\("([^"]+)"\)', open(src, encoding="utf-8").read()):
        import os
        needed.append(os.path.normpath(os.path.join(os.path.dirname(src), inc)))
for path in needed:
    if ignored(path):
        errors.append(f".dockerignore: {path} is needed by the build but ignored")
if errors:
    print("\n".join(f"error: {e}" for e in errors), file=sys.stderr)
    sys.exit(1)
print(f"Dockerfile: stages, user, port, health check, entrypoint; .dockerignore keeps the {len(needed)} files the build reads")
EOF
echo "not checked here: building the image (docker build -f deploy/docker/Dockerfile .)"

step "metric names (dashboard, alert rules)"
python3 - <<'EOF'
import json, re, sys
src = open("crates/service/src/metrics.rs", encoding="utf-8").read()
consts = set(re.findall(r'pub const \w+\s*:\s*&str\s*=\s*"(lienthong_[a-z0-9_]+)"', src))
if not consts:
    sys.exit("error: no metric names found in crates/service/src/metrics.rs")
exported = set(consts)
# Histograms (metrics::histogram!) are exported with _sum and _count, and with _bucket when
# buckets are set for them (a summary with quantiles otherwise).
def name_of(const):
    m = re.search(rf'pub const {const}\s*:\s*&str\s*=\s*"(lienthong_[a-z0-9_]+)"', src)
    return m.group(1) if m else None
for const in re.findall(r"describe_histogram!\(\s*(\w+)", src):
    if name_of(const):
        exported |= {name_of(const) + "_sum", name_of(const) + "_count"}
for const in re.findall(r"set_buckets_for_metric\(\s*Matcher::Full\(\s*(\w+)", src):
    if name_of(const):
        exported.add(name_of(const) + "_bucket")
if not any(n.endswith("_bucket") for n in exported):
    sys.exit("error: no histogram found among the exported metrics")
json.load(open("deploy/grafana/lienthong.json", encoding="utf-8"))  # must be JSON
bad = 0
for path in ("deploy/grafana/lienthong.json", "deploy/prometheus/alerts.yml"):
    used = set(re.findall(r"\blienthong_[a-z0-9_]+", open(path, encoding="utf-8").read()))
    unknown = sorted(used - exported)
    for n in unknown:
        print(f"error: {path}: {n} is not exported by the gateway", file=sys.stderr)
    bad += len(unknown)
    print(f"{path}: {len(used)} names, all exported" if not unknown else f"{path}: {len(unknown)} unknown")
print(f"exported: {', '.join(sorted(exported))}")
d = json.load(open("deploy/grafana/lienthong.json", encoding="utf-8"))
if d.get("schemaVersion", 0) < 36 or not any(i.get("name") == "DS_PROMETHEUS" for i in d.get("__inputs", [])):
    sys.exit("error: the dashboard needs schemaVersion >= 36 and a DS_PROMETHEUS input")
import yaml
rules = yaml.safe_load(open("deploy/prometheus/alerts.yml", encoding="utf-8"))
alerts = [r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r]
print(f"alerts.yml: {len(alerts)} alerts; dashboard: {len([p for p in d['panels'] if p['type'] != 'row'])} panels")
missing = [a for a in alerts if f"`{a}`" not in open("docs/operations.md", encoding="utf-8").read()]
for a in missing:
    print(f"error: docs/operations.md does not explain the alert {a}", file=sys.stderr)
sys.exit(1 if bad or missing else 0)
EOF

step "systemd-analyze verify"
if command -v systemd-analyze >/dev/null; then
  # verify wants ExecStart's binary to exist: the copies run a built lienthong, else true(1).
  exec_bin="${lienthong_bin:-$(type -P true)}"
  mkdir -p "$work/systemd"
  for unit in deploy/systemd/*.service deploy/systemd/*.timer; do
    sed "s#/usr/local/bin/lienthong#$exec_bin#g" "$unit" >"$work/systemd/$(basename "$unit")"
  done
  # verify prints problems but exits 0 for many of them: any output fails the check.
  out=$(cd "$work/systemd" && systemd-analyze verify ./*.service ./*.timer 2>&1) || {
    echo "$out"
    exit 1
  }
  if [ -n "$out" ]; then
    echo "$out"
    echo "error: systemd-analyze verify reported problems" >&2
    exit 1
  fi
  echo "systemd-analyze verify: $(cd deploy/systemd && ls -- *.service *.timer | tr '\n' ' ')(ExecStart: $exec_bin)"
else
  echo "skipped: systemd-analyze is not installed"
fi

step "RabbitMQ definitions import"
if ! command -v rabbitmqctl >/dev/null; then
  echo "skipped: rabbitmqctl is not installed"
elif ! timeout 120 rabbitmqctl -q status >/dev/null 2>&1; then
  echo "error: rabbitmqctl cannot reach the local RabbitMQ node" >&2
  exit 1
else
  # The definitions declare queues of the prefix `lienthong` on vhost /, which the tests use:
  # they are imported into a vhost of their own instead, deleted afterwards (and on failure).
  check_vhost="lienthong-ci-check"
  # rabbitmqctl may run as the broker's user (Debian's wrapper switches to it): the copy must be
  # readable by everyone (it holds no secret).
  mkdir -p "$work/rabbitmq"
  chmod 0755 "$work" "$work/rabbitmq"
  python3 - "$check_vhost" "$work/rabbitmq/definitions.json" <<'EOF'
import json, os, sys
vhost, out = sys.argv[1], sys.argv[2]
d = json.load(open("deploy/rabbitmq/definitions.json", encoding="utf-8"))
for key in ("queues", "exchanges", "bindings", "policies", "parameters", "permissions"):
    for item in d.get(key, []):
        item["vhost"] = vhost
d.pop("vhosts", None)
d.pop("users", None)
json.dump(d, open(out, "w"))
os.chmod(out, 0o644)
print(f"definitions.json: {len(d.get('queues', []))} queues, {len(d.get('exchanges', []))} exchanges, "
      f"{len(d.get('bindings', []))} bindings, {len(d.get('policies', []))} policies -> vhost {vhost}")
EOF
  timeout 120 rabbitmqctl -q delete_vhost "$check_vhost" >/dev/null 2>&1 || true
  vhost="$check_vhost"
  timeout 120 rabbitmqctl -q add_vhost "$check_vhost"
  # The broker imports asynchronously ("Successfully started definition import"): wait until
  # every queue and exchange is there, with its type.
  imported() {
    timeout 120 rabbitmqctl -q list_queues -p "$check_vhost" name type --no-table-headers \
      >"$work/queues.txt" || return 1
    timeout 120 rabbitmqctl -q list_exchanges -p "$check_vhost" name type --no-table-headers \
      >"$work/exchanges.txt" || return 1
    python3 - "$work" "$1" <<'EOF'
import json, os, sys
work, final = sys.argv[1], sys.argv[2] == "final"
d = json.load(open(os.path.join(work, "rabbitmq", "definitions.json")))
def rows(name):
    return {tuple(l.rstrip("\n").split("\t")[:2]) for l in open(os.path.join(work, name)) if l.strip()}
queues, exchanges = rows("queues.txt"), rows("exchanges.txt")
missing = [f"queue {q['name']} ({q['arguments'].get('x-queue-type', 'classic')})" for q in d["queues"]
           if (q["name"], q["arguments"].get("x-queue-type", "classic")) not in queues]
missing += [f"exchange {x['name']} ({x['type']})" for x in d["exchanges"]
            if (x["name"], x["type"]) not in exchanges]
if missing:
    if final:
        for m in missing:
            print(f"error: {m} is not on the broker", file=sys.stderr)
    sys.exit(1)
print(f"broker: {len(d['queues'])} queues and {len(d['exchanges'])} exchanges present with their types")
EOF
  }
  for pass in 1 2; do # the second import (of what exists already) proves it idempotent
    timeout 120 rabbitmqctl -q import_definitions "$work/rabbitmq/definitions.json"
    deadline=$(($(date +%s) + 120))
    until imported wait; do
      if [ "$(date +%s)" -ge "$deadline" ]; then
        imported final || true
        echo "error: the import did not complete within 120 s" >&2
        exit 1
      fi
      sleep 1
    done
    echo "rabbitmqctl import_definitions: pass $pass complete"
  done
  timeout 120 rabbitmqctl -q delete_vhost "$check_vhost"
  vhost=""
  echo "vhost $check_vhost deleted"
fi
