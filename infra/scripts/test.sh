#!/usr/bin/env bash
# Runs every CallOps test. Installs what the tests need first, idempotently,
# so a fresh clone on a fresh machine passes with this one command.
set -euo pipefail
cd "$(dirname "$0")/../.."

export SAM_CLI_TELEMETRY=0
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n==> %s\n' "$*"; }

step "Python tools (.venv)"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r infra/requirements-dev.txt

step "Debian packages: postgresql (migration tests), chromium + chromium-driver (dashboard browser test)"
missing=()
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

step "The domain crate depends on no AWS or Lambda crate"
if cargo tree -p callops-domain --edges normal --prefix none | grep -E '^(aws-|lambda)'; then
  echo "callops-domain must not depend on AWS or Lambda crates" >&2
  exit 1
fi

step "Rust tests (unit, store against the embedded engine, behaviour through the local host)"
cargo test --workspace --locked
