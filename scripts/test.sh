#!/usr/bin/env bash
# Sets up what is missing, then runs every check: formatting, lints, all tests, and the
# end-to-end tests of the real app window under Xvfb (screenshots in tests/e2e/artifacts/).
# COUNTERTOP_HEAVY=1 runs the long versions (whole data sets, long crash campaigns).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --test

# Build products live outside the clone so repeated runs (and CI) reuse them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/countertop/target}"

# The codemap names only paths that exist.
./scripts/check-paths.sh

# The UI: type-check, its unit tests (the money arithmetic), then build ui/dist (the app binary embeds it).
npm --prefix ui run check
npm --prefix ui test
npm --prefix ui run build

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

# The app binary the end-to-end tests drive. (Whole-workspace builds share one feature set, so
# the app binary and the tests reuse each other's artifacts.)
cargo build --workspace --locked
# Every test that needs nothing beyond cargo. The ones that need more are `#[ignore]`d, so a
# plain `cargo test` lists them as ignored rather than passed; they run below.
# (`--workspace` throughout, and targets picked by name: one feature set, so nothing is rebuilt.)
xvfb-run -a -s "-screen 0 1280x800x24" cargo test --workspace --locked

# The end-to-end tests: the real app window, driven through WebKitWebDriver on a virtual display.
COUNTERTOP_APP="$CARGO_TARGET_DIR/debug/countertop-app" \
  xvfb-run -a -s "-screen 0 1280x800x24" \
  cargo test --workspace --locked --test app --test sync -- --ignored

# The disk-full test mounts a small tmpfs (root, and a sandbox that allows mounts): it runs
# wherever a trial mount works, and says so where it cannot.
probe="$(mktemp -d)"
if mount -t tmpfs -o size=1m tmpfs "$probe" 2>/dev/null; then
  umount "$probe"
  cargo test --workspace --locked --test it -- --ignored disk_full
else
  echo "note: cannot mount a tmpfs here; the disk-full test did not run" >&2
fi
rmdir "$probe"

# Fuzz smoke: each cargo-fuzz target for a short while (longer: COUNTERTOP_FUZZ_SECONDS=600).
./scripts/fuzz.sh "${COUNTERTOP_FUZZ_SECONDS:-20}"
