#!/usr/bin/env bash
# Builds libtrellis-spicedb (tools/spicedb-lib: SpiceDB as a C shared library with its caches
# on, and the patches in tools/spicedb-lib/patches) once, from the Go module proxy, into a
# cache outside git, and prints the library's path as the last line. The embedded engine loads
# it when present (src/engine/embedded.ts) and falls back to the npm package's library
# otherwise. A later run reuses the library while a stamp of the Go sources, the patches, the
# pinned SpiceDB version and the Go toolchain still matches.
#
#   TRELLIS_TOOLS_DIR  where it is cached (default ${XDG_CACHE_HOME:-$HOME/.cache}/trellis/bin)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODULE=$ROOT/tools/spicedb-lib
DIR=${TRELLIS_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/trellis/bin}
LIB=$DIR/libtrellis-spicedb.so

log() { echo "spicedb-lib-install: $*" >&2; }

command -v go >/dev/null || { log "go is required to build the library (https://go.dev/dl/)"; exit 1; }
command -v patch >/dev/null || { log "patch is required to apply tools/spicedb-lib/patches (apt-get install patch)"; exit 1; }
mkdir -p "$DIR"
exec 9>"$DIR/.spicedb-lib.lock" # two CI jobs must not build into the same file at once
flock 9

# Not go.mod/go.sum as a whole: building with -mod=mod may add indirect requires to them.
stamp=$({ cat "$MODULE"/*.go "$MODULE"/patches/*.patch; grep -E '^\s*(require\s+)?github.com/authzed/spicedb ' "$MODULE/go.mod"; go version; } | sha256sum | cut -d' ' -f1)
if [ -f "$LIB" ] && [ "$(cat "$LIB.stamp" 2>/dev/null)" = "$stamp" ]; then
  log "reusing $LIB"
else
  log "building $LIB (cold Go cache: several minutes, warm: about a minute)"
  start=$SECONDS
  tmp=$(mktemp -d "$DIR/.spicedb-lib.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  # SpiceDB with our patches (tools/spicedb-lib/patches, each says why): the pinned module is
  # copied out of the module cache, patched, and built in its place through a temporary modfile,
  # so the repository's go.mod and the module cache stay as they are.
  src=$(cd "$MODULE" && GOFLAGS=-mod=mod go mod download -json github.com/authzed/spicedb | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -d "$src" ] || { log "could not find the SpiceDB module in the Go module cache"; exit 1; }
  cp -R "$src" "$tmp/spicedb" && chmod -R u+w "$tmp/spicedb"
  for p in "$MODULE"/patches/*.patch; do
    patch -s -p1 -d "$tmp/spicedb" <"$p" || { log "patch $(basename "$p") does not apply to $(basename "$src")"; exit 1; }
  done
  cp "$MODULE/go.mod" "$tmp/go.mod" && cp "$MODULE/go.sum" "$tmp/go.sum"
  (cd "$MODULE" && go mod edit -modfile="$tmp/go.mod" -replace "github.com/authzed/spicedb=$tmp/spicedb")
  (cd "$MODULE" && CGO_ENABLED=1 GOFLAGS=-mod=mod go build -modfile="$tmp/go.mod" -buildmode=c-shared -trimpath -ldflags='-s -w' -o "$tmp/lib.so" .)
  mv -f "$tmp/lib.so" "$LIB"
  echo "$stamp" >"$LIB.stamp"
  log "built in $((SECONDS - start))s"
fi
echo "$LIB"
