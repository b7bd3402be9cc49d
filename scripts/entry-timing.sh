#!/usr/bin/env bash
# Order entry as the owner feels it, in the real window: Enter to the placed order on screen,
# p50/p99 idle, during an import of the Online Retail export and during a rebuild. Builds the
# release app (a few minutes the first time; with the `test-dialogs` feature, so the import's
# dialog is answered by the script) and runs tests/e2e's `entry-timing` under Xvfb.
# A measurement for BENCHMARKS.md, not a test. Arguments go to entry-timing
# (--orders N, default 100; --export FILE; --json OUT).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --test
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/countertop/target}"

npm --prefix ui run build
cargo build --release --locked -p countertop-app --features countertop-app/custom-protocol,countertop-app/test-dialogs
cargo build --release --locked -p countertop-e2e --bin entry-timing
xvfb-run -a -s "-screen 0 1280x800x24" \
  "$CARGO_TARGET_DIR/release/entry-timing" --app "$CARGO_TARGET_DIR/release/countertop-app" "$@"
