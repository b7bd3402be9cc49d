#!/usr/bin/env bash
# Sets up what is missing, builds the `countertop` CLI, shows its help, and runs a short demo
# in a throw-away shop (the desktop app will take this place).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/countertop/target}"
cargo build --locked -p countertop-cli
countertop="$CARGO_TARGET_DIR/debug/countertop"

"$countertop" --help
echo

demo=$(mktemp -d)
trap 'rm -rf "$demo"' EXIT
export COUNTERTOP_DATA="$demo"
say() { printf '\n$ countertop'; printf ' %q' "$@"; printf '\n'; "$countertop" "$@"; }
say init --name "Corner Shop" --currency GBP --timezone Europe/London --day-start 04:00 --prices-include-tax --tax-rate 20%
say product add --sku MUG --name "Enamel mug" --price 8.00
say product add --sku CARD --name "Greeting card" --price 2.50
say customer add --name "Ada Lovelace" --email ada@example.org --country "United Kingdom"
say order place --customer 1 --line MUG:2 --line CARD:3 --item "Gift wrap:1@1.50" --discount 10% --payment card
say order ship 1001 --carrier "Royal Mail" --tracking RM123456789GB
say order refund 1001 --amount 5.00 --reason "one mug arrived chipped"
say order place --walk-in --line CARD:1 --payment cash
say order cancel 1002 --reason "customer changed their mind"
printf '\n$ countertop order place --line MUG:0   (a mistake, on purpose)\n'
"$countertop" order place --line MUG:0 || true
say order show 1001
say dashboard --range 7d
say search "ada mug"
say orders list --status shipped
say chart overview --from "$(date -d '-29 days' +%F)" --to "$(date +%F)" --out "$demo/overview.png"
say status
say verify
echo
echo "Demo data was in $demo (removed on exit). Use --data DIR or COUNTERTOP_DATA to keep a shop."
