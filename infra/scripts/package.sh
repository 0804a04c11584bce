#!/usr/bin/env bash
# Builds every Lambda function the way AWS runs it (cargo lambda: release,
# arm64, one bootstrap each under target/lambda/<function>/), the one
# optimized build CI makes; checks that each zip Lambda would fetch is under
# 5 MB; then runs each bootstrap once (under qemu-aarch64 on another
# architecture) against the Lambda Runtime API emulator. Cold-start figures
# are a benchmark, not part of this: see docs/benchmarks.md. Installs
# cargo-lambda (and Zig, its cross-linker) into .venv from PyPI, and
# qemu-user, idempotently.
set -euo pipefail
cd "$(dirname "$0")/../.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
step() { printf '\n==> [%s s] %s\n' "$SECONDS" "$*"; }
functions=(analytics outbound dialer webhook dashboard)
packages=()
for f in "${functions[@]}"; do packages+=(-p "callops-$f"); done

step "cargo-lambda (.venv)"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r infra/requirements-dev.txt
export PATH="$PWD/.venv/bin:$PATH"
cargo lambda --version

step "The arm64 standard library (rustup)"
rustup target add aarch64-unknown-linux-gnu

step "cargo lambda build --release --arm64"
cargo lambda build --release --arm64 --locked "${packages[@]}"

step "Zips (what Lambda fetches at a cold start: each under 5 MB, 5,000,000 bytes)"
limit=5000000
failed=0
printf '| function | bootstrap | zip |\n|---|---:|---:|\n'
for f in "${functions[@]}"; do
  python3 - "target/lambda/$f" <<'PY'
import sys, zipfile, pathlib
folder = pathlib.Path(sys.argv[1])
with zipfile.ZipFile(folder / "bootstrap.zip", "w", compression=zipfile.ZIP_DEFLATED) as z:
    z.write(folder / "bootstrap", "bootstrap")
PY
  size=$(stat -c %s "target/lambda/$f/bootstrap")
  zipped=$(stat -c %s "target/lambda/$f/bootstrap.zip")
  printf '| %s | %s bytes | %s bytes |\n' "$f" "$size" "$zipped"
  if [ "$zipped" -ge "$limit" ]; then
    echo "target/lambda/$f/bootstrap.zip is over 5 MB" >&2
    failed=1
  fi
done
[ "$failed" -eq 0 ]

step "qemu-aarch64 (Debian's qemu-user and the arm64 C library), to run the arm64 bootstraps here"
runner=""
if [ "$(uname -m)" != "aarch64" ]; then
  missing=()
  command -v qemu-aarch64 >/dev/null 2>&1 || missing+=(qemu-user)
  [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || missing+=(libc6-arm64-cross)
  if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  qemu-aarch64 --version | head -1
  runner="qemu-aarch64 -L /usr/aarch64-linux-gnu"
fi

step "The shipped bootstraps answer their first request as Lambda starts them (Runtime API emulator)"
CALLOPS_ARTIFACT_DIR="$PWD/target/lambda" CALLOPS_ARTIFACT_RUNNER="$runner" \
  cargo test --workspace --profile ci --locked --test behaviour artifact -- --ignored --nocapture

step "Done in ${SECONDS} s"
