#!/usr/bin/env bash
# Installs what building and testing Countertop needs on Debian/Ubuntu, skipping whatever is
# already there. Safe to run again. Rust itself (cargo) must already be installed.
#   scripts/setup.sh          what building and running the app needs
#   scripts/setup.sh --test   that, plus Xvfb and WebKit's WebDriver for the end-to-end tests
set -euo pipefail
cd "$(dirname "$0")/.."

# C toolchain (blake3), and what Tauri 2 links against on Linux (WebKitGTK 4.1 and friends).
# nats-server: the hub several tills sync through (the sync tests start their own).
packages=(build-essential pkg-config curl file libwebkit2gtk-4.1-dev libssl-dev librsvg2-dev
  libayatana-appindicator3-dev libxdo-dev nats-server)
if [ "${1:-}" = "--test" ]; then
  # A display for the window, and the WebDriver that drives it. faketime: the sync campaign
  # runs one till with its clock hours ahead.
  packages+=(xvfb xauth webkit2gtk-driver faketime)
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is not installed. Install Rust first (https://rustup.rs), then run this again." >&2
  exit 1
fi

# The test script checks formatting and lints; rustup's minimal profile leaves these out.
for tool in fmt clippy; do
  if ! cargo "$tool" --version >/dev/null 2>&1; then
    component=$([ "$tool" = fmt ] && echo rustfmt || echo clippy)
    echo "setup: installing the Rust component $component"
    rustup component add "$component" || { echo "setup: cargo $tool is missing; install it with: rustup component add $component" >&2; exit 1; }
  fi
done

command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

# Vite 7 needs Node.js 20.19 or newer.
node_ok=$(node -e 'const [a,b]=process.versions.node.split(".").map(Number); console.log(a>20||(a===20&&b>=19)?1:0)')
if [ "$node_ok" != 1 ]; then
  echo "setup: Node.js $(node --version) is too old for the UI build (Vite 7 needs 20.19+); install a newer Node.js" >&2
  exit 1
fi

# The UI's npm packages, exactly as locked; skipped when node_modules matches the lock file.
if [ ! -f ui/node_modules/.package-lock.json ] || ! cmp -s ui/package-lock.json ui/node_modules/.countertop-lock; then
  echo "setup: installing the UI's npm packages"
  npm --prefix ui ci --no-audit --no-fund
  cp ui/package-lock.json ui/node_modules/.countertop-lock
fi
