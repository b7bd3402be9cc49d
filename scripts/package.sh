#!/usr/bin/env bash
# Builds Countertop as a Debian package: the desktop app (with a menu entry) and the
# `countertop` CLI, in one .deb that installs with
#   sudo apt install ./countertop_*.deb
# The release build takes several minutes the first time. The package lands in dist/.
# Uses the npm @tauri-apps/cli (prebuilt, installed with the UI's packages); AppImage is not
# offered: it needs a download at build time.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/countertop/target}"

npm --prefix ui run build
# The `dist` profile: release, stripped (Cargo.toml).
cargo build --profile dist --locked -p countertop-cli
cli="$CARGO_TARGET_DIR/dist/countertop"
# The CLI goes in beside the app; the bundle is switched on for this build only (the config
# in the repository keeps it off, so `cargo build` never bundles).
config=$(printf '{"bundle":{"active":true,"targets":["deb"],"linux":{"deb":{"files":{"/usr/bin/countertop":"%s"}}}}}' "$cli")
./ui/node_modules/.bin/tauri build --bundles deb --config "$config" -- --profile dist

mkdir -p dist
rm -f dist/countertop_*.deb
for deb in "$CARGO_TARGET_DIR"/dist/bundle/deb/*.deb; do
  # Debian's own naming: lower case.
  name=$(basename "$deb" | tr '[:upper:]' '[:lower:]')
  cp "$deb" "dist/$name"
  echo "package: dist/$name"
done
echo "package: install it with: sudo apt install ./dist/countertop_*.deb (the app is in the menu as Countertop; the CLI is countertop)"
