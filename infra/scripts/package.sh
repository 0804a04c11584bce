#!/usr/bin/env bash
# Builds every Lambda function the way AWS runs it (cargo lambda: release,
# arm64, one bootstrap each under target/lambda/<function>/), checks that each
# bootstrap is under 10 MB (10,000,000 bytes), then measures cold starts through a Lambda Runtime
# API emulator (tests/benches/cold_start.rs). Installs cargo-lambda (and Zig,
# its cross-linker) into .venv from PyPI, idempotently.
set -euo pipefail
cd "$(dirname "$0")/../.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
step() { printf '\n==> %s\n' "$*"; }
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

step "Bootstrap sizes (limit 10 MB = 10,000,000 bytes each)"
limit=10000000
failed=0
printf '| function | bootstrap |\n|---|---:|\n'
for f in "${functions[@]}"; do
  size=$(stat -c %s "target/lambda/$f/bootstrap")
  printf '| %s | %s bytes (%s MB) |\n' "$f" "$size" "$(python3 -c "print(f'{$size / 1e6:.2f}')")"
  if [ "$size" -ge "$limit" ]; then
    echo "target/lambda/$f/bootstrap is over 10 MB" >&2
    failed=1
  fi
done
[ "$failed" -eq 0 ]

step "Cold start through a Lambda Runtime API emulator (this machine's architecture)"
cargo build --release --locked "${packages[@]}"
cargo bench --locked -p callops-tests --bench cold_start
