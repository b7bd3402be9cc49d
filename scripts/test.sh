#!/usr/bin/env bash
# Sets up what is missing, then runs every check: formatting, lints, all tests, and the
# end-to-end tests of the real app window under Xvfb (screenshots in tests/e2e/artifacts/).
# COUNTERTOP_HEAVY=1 runs the long versions (whole data sets, long crash campaigns).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --test

# Build products live outside the clone so repeated runs (and CI) reuse them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/countertop/target}"

# The UI: type-check, then build ui/dist (the app binary embeds it).
npm --prefix ui run check
npm --prefix ui run build

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

# Every test, including the end-to-end ones: the real app window, driven through
# WebKitWebDriver on a virtual display. (Whole-workspace builds share one feature set, so the
# app binary and the tests reuse each other's artifacts.)
cargo build --workspace --locked
# The disk-full test mounts a small tmpfs (root, and a sandbox that allows mounts). Where a
# trial mount works, the test must not skip.
probe="$(mktemp -d)"
if mount -t tmpfs -o size=1m tmpfs "$probe" 2>/dev/null; then
  umount "$probe"
  export COUNTERTOP_REQUIRE_TMPFS=1
else
  echo "note: cannot mount a tmpfs here; the disk-full test will skip" >&2
fi
rmdir "$probe"
COUNTERTOP_E2E=1 COUNTERTOP_APP="$CARGO_TARGET_DIR/debug/countertop-app" \
  xvfb-run -a -s "-screen 0 1280x800x24" \
  cargo test --workspace --locked

# Fuzz smoke: each cargo-fuzz target for a short while (longer: COUNTERTOP_FUZZ_SECONDS=600).
./scripts/fuzz.sh "${COUNTERTOP_FUZZ_SECONDS:-20}"
