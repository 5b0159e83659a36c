#!/usr/bin/env bash
# Builds trellis-validate (SpiceDB's validation-file checks, see main.go) into the tools cache
# outside git and prints its path. It rebuilds only when main.go, the pinned SpiceDB version
# or the Go toolchain changed: a stamp next to the binary records what it was built from.
#
#   TRELLIS_TOOLS_DIR  where binaries are cached (default ${XDG_CACHE_HOME:-$HOME/.cache}/trellis/bin)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MODULE=$(dirname "$HERE")
DIR=${TRELLIS_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/trellis/bin}
BIN=$DIR/trellis-validate

log() { echo "trellis-validate build: $*" >&2; }

command -v go >/dev/null || { log "go is required to build the validator (https://go.dev/dl/)"; exit 1; }
mkdir -p "$DIR"
exec 8>"$DIR/.validate.lock" # two CI jobs must not build into the same file at once
flock 8

# Not go.mod/go.sum as a whole: building with -mod=mod may add indirect requires to them.
stamp=$({ cat "$HERE"/*.go; grep -E '^\s*(require\s+)?github.com/authzed/spicedb ' "$MODULE/go.mod"; go version; } | sha256sum | cut -d' ' -f1)
if [ -x "$BIN" ] && [ "$(cat "$BIN.stamp" 2>/dev/null)" = "$stamp" ]; then
  log "reusing $BIN"
else
  log "building $BIN (pinned SpiceDB packages; cold Go cache: minutes, warm: seconds)"
  start=$SECONDS
  tmp=$(mktemp "$DIR/.trellis-validate.XXXXXX")
  trap 'rm -f "$tmp"' EXIT
  (cd "$MODULE" && GOFLAGS=-mod=mod go build -o "$tmp" ./validate)
  mv -f "$tmp" "$BIN"
  trap - EXIT
  echo "$stamp" >"$BIN.stamp"
  log "built in $((SECONDS - start))s"
fi
echo "$BIN"
