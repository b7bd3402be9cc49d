#!/usr/bin/env bash
# Installs what building and testing Countertop needs on Debian/Ubuntu, skipping whatever is
# already there. Safe to run again. Rust itself (cargo) must already be installed.
set -euo pipefail

# C toolchain for crates with C/assembly parts (blake3).
packages=(build-essential pkg-config)

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
