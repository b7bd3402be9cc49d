#!/usr/bin/env bash
# Runs each cargo-fuzz target (tests/fuzz) for SECONDS (default 20) on a scratch copy of its
# seed corpus. CI runs it briefly; run it longer by hand: ./scripts/fuzz.sh 600
# A crash leaves its input in tests/fuzz/artifacts/TARGET/ and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export CARGO_TARGET_DIR="${COUNTERTOP_FUZZ_TARGET:-$HOME/.cache/countertop/fuzz-target}"
# libFuzzer's coverage flags are stable rustc options; cargo-fuzz itself asks for a nightly
# compiler only for sanitizers, which `-s none` turns off. RUSTC_BOOTSTRAP lets the stable
# toolchain accept the one unstable flag cargo-fuzz still passes.
export RUSTC_BOOTSTRAP=1

for target in import_csv event_decode hub_message; do
  corpus="$(mktemp -d)"
  cargo fuzz run --fuzz-dir tests/fuzz -s none "$target" "$corpus" "tests/fuzz/seeds/$target" \
    -- -max_total_time="$seconds" -rss_limit_mb=4096 -print_final_stats=1
  rm -rf "$corpus"
done
