#!/usr/bin/env bash
# Every file or folder ARCHITECTURE.md names in backticks (a path with a `/`, or a file name with
# an extension) must be in the repository, so the codemap cannot quietly rot. A path counts as
# found when a tracked path is it, ends with it, or lies below it (so a crate's section may name
# `src/main.rs`, and `tests/e2e/` names a folder). Run by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
tracked="$(git ls-files)"
missing=0
while IFS= read -r name; do
  name="${name#./}"
  name="${name%/}"
  if ! grep -qE "(^|/)$(printf '%s' "$name" | sed 's/[.[\]*^$+?(){}|]/\\&/g')(/|$)" <<<"$tracked"; then
    echo "ARCHITECTURE.md names \`$name\`, which is not in the repository: fix the path or the text" >&2
    missing=1
  fi
done < <(grep -o '`[^` ]*`' ARCHITECTURE.md | tr -d '`' \
  | grep -E '^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]*)+$|^[A-Za-z0-9_-]+\.(rs|ts|md|sh|toml|json|svelte|css|html|csv)$' \
  | grep -vE '^(\.\./|~|/)|://' | sort -u)
if [ "$missing" -eq 0 ]; then
  echo "ARCHITECTURE.md: every path it names is in the repository"
fi
exit "$missing"
