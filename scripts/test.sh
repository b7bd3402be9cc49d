#!/usr/bin/env bash
# Sets up what is missing, then runs every check: formatting, lints, and all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

# Build products live outside the clone so repeated runs (and CI) reuse them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/countertop/target}"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
