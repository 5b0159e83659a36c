#!/usr/bin/env bash
# Builds libtrellis-spicedb (tools/spicedb-lib: SpiceDB as a C shared library with its caches
# on) once, from the Go module proxy, into a cache outside git, and prints the library's path
# as the last line. The embedded engine loads it when present (src/engine/embedded.ts) and
# falls back to the npm package's library otherwise. A later run reuses the library while a
# stamp of the Go sources, the pinned SpiceDB version and the Go toolchain still matches.
#
#   TRELLIS_TOOLS_DIR  where it is cached (default ${XDG_CACHE_HOME:-$HOME/.cache}/trellis/bin)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODULE=$ROOT/tools/spicedb-lib
DIR=${TRELLIS_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/trellis/bin}
LIB=$DIR/libtrellis-spicedb.so

log() { echo "spicedb-lib-install: $*" >&2; }

command -v go >/dev/null || { log "go is required to build the library (https://go.dev/dl/)"; exit 1; }
mkdir -p "$DIR"
exec 9>"$DIR/.spicedb-lib.lock" # two CI jobs must not build into the same file at once
flock 9

# Not go.mod/go.sum as a whole: building with -mod=mod may add indirect requires to them.
stamp=$({ cat "$MODULE"/*.go; grep -E '^\s*(require\s+)?github.com/authzed/spicedb ' "$MODULE/go.mod"; go version; } | sha256sum | cut -d' ' -f1)
if [ -f "$LIB" ] && [ "$(cat "$LIB.stamp" 2>/dev/null)" = "$stamp" ]; then
  log "reusing $LIB"
else
  log "building $LIB (cold Go cache: several minutes, warm: about a minute)"
  start=$SECONDS
  tmp=$(mktemp -d "$DIR/.spicedb-lib.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  (cd "$MODULE" && CGO_ENABLED=1 GOFLAGS=-mod=mod go build -buildmode=c-shared -trimpath -ldflags='-s -w' -o "$tmp/lib.so" .)
  mv -f "$tmp/lib.so" "$LIB"
  echo "$stamp" >"$LIB.stamp"
  log "built in $((SECONDS - start))s"
fi
echo "$LIB"
