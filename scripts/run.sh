#!/usr/bin/env bash
# Sets up what is missing, builds the UI and the desktop app, and starts it.
# The shop lives in the per-user data folder (~/.local/share/countertop), shared with the
# `countertop` CLI; set COUNTERTOP_DATA=DIR to use another folder. On first start the app
# asks for the shop's name, currency and time zone, or loads a demo shop.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/countertop/target}"

npm --prefix ui run build
cargo build --locked -p countertop-app -p countertop-cli

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "run: there is no display to open the window on. Run this from a desktop session," >&2
  echo "     or on a headless machine: xvfb-run -a ./scripts/run.sh" >&2
  exit 1
fi
echo "run: starting Countertop (the CLI is at $CARGO_TARGET_DIR/debug/countertop)"
exec "$CARGO_TARGET_DIR/debug/countertop-app"
