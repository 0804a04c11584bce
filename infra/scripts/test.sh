#!/usr/bin/env bash
# Runs every CallOps test. Installs what the tests need first, idempotently,
# so a fresh clone on a fresh machine passes with this one command.
set -euo pipefail
cd "$(dirname "$0")/../.."

export SAM_CLI_TELEMETRY=0
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n==> [%s s] %s\n' "$SECONDS" "$*"; }

step "Python tools (.venv)"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r infra/requirements-dev.txt

step "Debian packages: postgresql (migration tests), chromium + chromium-driver (dashboard browser test), curl (the README's quickstart)"
missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
ls -d /usr/lib/postgresql/*/bin
chromium --version
chromedriver --version

step "SAM template: sam validate --lint"
.venv/bin/sam validate --lint --template infra/template.yaml --region us-east-1

step "Gates: cargo fmt --check and clippy -D warnings"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo fmt --all -- --check
# The ci profile, as the tests: clippy's proc-macros and build-script runs
# (aws-lc-sys, SQLite) are then the test build's too, not built twice.
cargo clippy --workspace --all-targets --profile ci --locked -- -D warnings

step "Boundaries: the domain depends on no AWS, Lambda or HTTP crate; the dialer links no webhook crate"
if cargo tree -p callops-domain --edges normal --prefix none | grep -E '^(aws-|lambda|reqwest)'; then
  echo "callops-domain must not depend on AWS, Lambda or HTTP crates" >&2
  exit 1
fi
if cargo tree -p callops-dialer --edges normal --prefix none | grep -E '^callops-webhook'; then
  echo "the dialer must not depend on the webhook function" >&2
  exit 1
fi

step "Rust tests (unit, store against the embedded engine, behaviour through the local host)"
# The `ci` profile: dependencies optimised (Cargo.toml says why).
cargo test --workspace --profile ci --locked

step "API contract: schemathesis against the local host, from its own /openapi.json"
# The host binary with the test build's features (--tests brings every
# dev-dependency into the feature resolution): it reuses every dependency
# the tests compiled instead of compiling the tree again for a narrower set.
cargo build --workspace --profile ci --bin callops --tests --locked
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p target
target/ci/callops dev --memory --listen "127.0.0.1:$port" > target/schemathesis-host.log 2>&1 &
host_pid=$!
trap 'kill "$host_pid" 2>/dev/null || true' EXIT
python3 - "$port" <<'PY'
import sys, time, urllib.request
for _ in range(150):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=1)
        break
    except OSError:
        time.sleep(0.2)
else:
    sys.exit("the local host did not start; see target/schemathesis-host.log")
PY
# No 5xx, and every status, content type and body as the document says.
.venv/bin/st run "http://127.0.0.1:$port/openapi.json" \
  -H 'Authorization: Bearer dev-token' -H 'X-Vapi-Secret: dev-secret' \
  --generation-with-security-parameters false \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing,stateful --max-examples 50 --seed 20261124 --workers 1 --no-color

step "Done in ${SECONDS} s"
