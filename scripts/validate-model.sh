#!/usr/bin/env bash
# Checks schema.zed against the model's validation files (test/validation/*.yaml) with
# SpiceDB's own validation code at the pinned version: what `zed validate` does, without zed,
# which the Go module proxy refuses. See tools/spicedb/validate/main.go.
#
# Then it proves the check can fail: the first file with assertTrue and assertFalse swapped,
# and a tiny model with a wrong assertion, must both be rejected. A validator that passes
# everything would otherwise look exactly like a model that is right.
#
#   bash scripts/validate-model.sh [file.yaml...]   (default: test/validation/*.yaml)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
log() { echo "validate-model: $*" >&2; }

BIN=$(bash tools/spicedb/validate/build.sh | tail -n1)

if [ $# -gt 0 ]; then files=("$@"); else
  shopt -s nullglob
  files=(test/validation/*.yaml)
  shopt -u nullglob
fi
[ ${#files[@]} -gt 0 ] || { log "no validation files in test/validation/"; exit 1; }

"$BIN" "${files[@]}"

# Negative controls.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
expect_rejected() {
  local name=$1 file=$2 out
  if out=$("$BIN" "$file" 2>&1); then
    echo "$out" >&2
    log "negative control '$name' passed validation; the validator is not checking assertions"
    exit 1
  fi
  grep -q 'assertion error' <<<"$out" || { echo "$out" >&2; log "negative control '$name' failed for another reason"; exit 1; }
  log "negative control '$name' rejected as expected ($(grep -c 'assertion error' <<<"$out") failed assertions)"
}

first=${files[0]}
schema=$(sed -n 's/^schemaFile:[[:space:]]*["'\'']\{0,1\}\([^"'\'']*\)["'\'']\{0,1\}[[:space:]]*$/\1/p' "$first")
if [ -n "$schema" ]; then
  abs=$(cd "$(dirname "$first")" && realpath "$schema")
  sed -e "s#^schemaFile:.*#schemaFile: \"$abs\"#" \
    -e 's/^\([[:space:]]*\)assertTrue:/\1__SWAP__:/' -e 's/^\([[:space:]]*\)assertFalse:/\1assertTrue:/' \
    -e 's/^\([[:space:]]*\)__SWAP__:/\1assertFalse:/' "$first" >"$tmp/swapped.yaml"
  expect_rejected "$first with assertTrue/assertFalse swapped" "$tmp/swapped.yaml"
fi

cat >"$tmp/wrong.yaml" <<'YAML'
schema: |
  definition user {}
  definition doc {
    relation viewer: user
    permission view = viewer
  }
relationships: |
  doc:readme#viewer@user:ann
assertions:
  assertTrue:
    - doc:readme#view@user:ann
    - doc:readme#view@user:bob
YAML
expect_rejected "wrong assertion" "$tmp/wrong.yaml"
