#!/usr/bin/env bash
# A throwaway Postgres cluster for the remote-engine tests: initdb into a /tmp directory,
# listen on 127.0.0.1 only with trust auth, no durability settings (fsync off: the data is
# thrown away). `start` waits until it accepts connections and prints its URL as the last
# line; `stop` stops it and removes the directory. Both are idempotent.
#
#   TRELLIS_PG_DIR   cluster directory (default /tmp/trellis-postgres)
#   TRELLIS_PG_PORT  port (default 5439)
#   TRELLIS_PG_TRACK_COMMIT_TIMESTAMP  on (default; SpiceDB's Watch needs it, so CI's Postgres
#                    must keep it on) or off (a test of what the gateway says without it)
set -euo pipefail

DIR=${TRELLIS_PG_DIR:-/tmp/trellis-postgres}
PORT=${TRELLIS_PG_PORT:-5439}
TRACK_COMMIT_TIMESTAMP=${TRELLIS_PG_TRACK_COMMIT_TIMESTAMP:-on}
DATA=$DIR/data
URL="postgres://postgres@127.0.0.1:$PORT/postgres?sslmode=disable"

log() { echo "postgres.sh: $*" >&2; }

find_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  command -v initdb >/dev/null && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

install_postgres() {
  log "Postgres binaries not found: installing Debian's postgresql"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y --no-install-recommends postgresql postgresql-client >&2 \
    || { $sudo apt-get update >&2 && $sudo apt-get install -y --no-install-recommends postgresql postgresql-client >&2; }
}

BIN=$(find_bindir) || { install_postgres; BIN=$(find_bindir); }

# Postgres refuses to run as root: as root, run it as the `postgres` OS user.
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

ready() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; }

start() {
  if ready; then
    log "already accepting connections on 127.0.0.1:$PORT"
    echo "$URL"
    return 0
  fi
  mkdir -p "$DIR"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$DIR"
  chmod 700 "$DIR"
  # Tests throw their data away: no durability, for speed. The production topology
  # (scripts/cluster.sh, TRELLIS_PG_DURABLE=1) keeps Postgres's defaults: a commit it
  # acknowledged survives a crash (an immediate stop), as it must in production.
  if [ "${TRELLIS_PG_DURABLE:-0}" = 1 ]; then DURABILITY="# durable: fsync, synchronous_commit and full_page_writes at their defaults (on)"
  else DURABILITY=$'fsync = off\nsynchronous_commit = off\nfull_page_writes = off'; fi
  if [ ! -f "$DATA/PG_VERSION" ]; then
    as_pg "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >"$DIR/initdb.log" 2>&1 \
      || { cat "$DIR/initdb.log" >&2; exit 1; }
    # Each test starts its own spicedb with a small pool; room for a few suites at once.
    cat >>"$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR'
max_connections = 400
$DURABILITY
# SpiceDB's Watch API on Postgres needs commit timestamps.
track_commit_timestamp = $TRACK_COMMIT_TIMESTAMP
CONF
    printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' >"$DATA/pg_hba.conf"
  fi
  as_pg "$BIN/pg_ctl" -D "$DATA" -l "$DIR/postgres.log" -w -t 60 start >&2 \
    || { tail -20 "$DIR/postgres.log" >&2; exit 1; }
  for _ in $(seq 1 100); do ready && break; sleep 0.1; done
  ready || { log "Postgres did not become ready; see $DIR/postgres.log"; exit 1; }
  log "started Postgres $("$BIN/postgres" --version | awk '{print $3}') in $DATA"
  echo "$URL"
}

stop() {
  if [ -f "$DATA/postmaster.pid" ]; then
    as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >&2 || true
  fi
  rm -rf "$DIR"
  log "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) echo "$URL" ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
