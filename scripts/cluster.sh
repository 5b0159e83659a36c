#!/usr/bin/env bash
# The production topology on this machine, without Docker (docker-compose.yml runs the same):
#
#   Postgres (track_commit_timestamp=on)      127.0.0.1:$PG_PORT        scripts/postgres.sh, own dir
#   spicedb-1..3 (`spicedb serve`, dispatch)  127.0.0.N:$GRPC_PORT      one loopback address each
#   Redis (append-only file)                  127.0.0.1:$REDIS_PORT     own dir
#   gateway-1, gateway-2 (npm start's command) 127.0.0.1:$GW1_PORT, $GW2_PORT
#
# The three SpiceDB nodes form one dispatch cluster: each dispatches sub-problems, by SpiceDB's
# consistent hashring, to `dns:///trellis-spicedb-peers:$DISPATCH_PORT`, a name that three
# /etc/hosts lines map to 127.0.0.1, 127.0.0.2 and 127.0.0.3 (Go's resolver returns all three;
# SpiceDB has no static-list resolver besides kubernetes:///). Each node listens on its own
# loopback address, so the three share port numbers. The ring's members are the slots of
# scripts/dispatch-membership.mjs (127.0.0.N:$DISPATCH_PORT), which relays each to node N's own
# dispatch port ($DISPATCH_PORT+1) and, while node N is dead or hung, to the next live node: the
# part Kubernetes Endpoints play in production (SpiceDB's ring never skips a dead member). The gateways share Redis and
# CURSOR_SECRET and spread calls over the three nodes (SPICEDB_ENDPOINT lists them).
#
#   scripts/cluster.sh start          bring it up; the last line is GATEWAYS=http://...,http://...
#   scripts/cluster.sh stop           end everything it started, remove its directory
#   scripts/cluster.sh status         each part: up, stopped (SIGSTOP) or down
#   scripts/cluster.sh kill PART [SIG] signal a part (default KILL); postgres: an immediate stop
#   scripts/cluster.sh up PART        start a part that is down (SIGCONT one that is stopped)
#   scripts/cluster.sh env            the settings a client of the cluster needs (sourceable)
#
# PART is postgres, redis, spicedb-1..3, gateway-1..2 or membership. Pids are in $DIR/run/PART.pid, logs in
# $DIR/log/PART.log. Settings: TRELLIS_CLUSTER_DIR (default /tmp/trellis-cluster),
# TRELLIS_CLUSTER_PORT_BASE (default 14700: Postgres base+41, Redis base+42, SpiceDB gRPC base+51,
# dispatch base+53 (node's own: base+54), metrics base+59, gateways base+81 and base+82), TRELLIS_CLUSTER_API_KEYS
# (API_KEYS for the gateways; unset: no keys, the cluster is on loopback only),
# TRELLIS_CLUSTER_SPICEDB_LOG_LEVEL (default warn), SPICEDB_TIMEOUT_MS (default 3000).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${TRELLIS_CLUSTER_DIR:-/tmp/trellis-cluster}
BASE=${TRELLIS_CLUSTER_PORT_BASE:-14700}
PG_PORT=$((BASE + 41)) REDIS_PORT=$((BASE + 42))
GRPC_PORT=$((BASE + 51)) DISPATCH_PORT=$((BASE + 53)) NODE_DISPATCH_PORT=$((BASE + 54)) METRICS_PORT=$((BASE + 59))
GW1_PORT=$((BASE + 81)) GW2_PORT=$((BASE + 82))
PEERS=trellis-spicedb-peers
NODES=(spicedb-1 spicedb-2 spicedb-3)
RUN=$DIR/run LOG=$DIR/log
PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
ENDPOINTS="127.0.0.1:$GRPC_PORT,127.0.0.2:$GRPC_PORT,127.0.0.3:$GRPC_PORT"
GATEWAYS="http://127.0.0.1:$GW1_PORT,http://127.0.0.1:$GW2_PORT"

log() { echo "cluster.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# Secrets made once per cluster directory, so a part restarted later gets the same ones.
secret() {
  local f=$DIR/$1
  [ -s "$f" ] || { mkdir -p "$DIR"; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$f"; chmod 600 "$f"; }
  cat "$f"
}

pg() { TRELLIS_PG_DIR=$DIR/postgres TRELLIS_PG_PORT=$PG_PORT TRELLIS_PG_TRACK_COMMIT_TIMESTAMP=on TRELLIS_PG_DURABLE=1 bash "$ROOT/scripts/postgres.sh" "$@"; }
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r | head -n 1; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

spicedb_bin() {
  if [ -n "${SPICEDB_BIN:-}" ] && [ -x "$SPICEDB_BIN" ]; then echo "$SPICEDB_BIN"; else bash "$ROOT/scripts/spicedb-install.sh" | tail -n 1; fi
}

node_ip() { echo "127.0.0.${1#spicedb-}"; }
pid_of() { [ -f "$RUN/$1.pid" ] && cat "$RUN/$1.pid" || true; }
alive() { local p; p=$(pid_of "$1"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
# a process in state T (stopped by SIGSTOP)
stopped() { local p; p=$(pid_of "$1"); [ -n "$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = T ]; }

# /etc/hosts: one line per node for the peers' name, added once (in place: in a container the
# file is a bind mount that cannot be replaced).
peers_in_hosts() {
  local n ip
  for n in "${NODES[@]}"; do
    ip=$(node_ip "$n")
    grep -qE "^$ip[[:space:]]+$PEERS\$" /etc/hosts && continue
    if [ -w /etc/hosts ]; then echo "$ip $PEERS" >>/etc/hosts
    else echo "$ip $PEERS" | sudo tee -a /etc/hosts >/dev/null || die "cannot add '$ip $PEERS' to /etc/hosts (needed for SpiceDB's dispatch)"; fi
  done
}

wait_for() { # NAME TRIES CMD...: poll every 0.1 s
  local name=$1 tries=$2; shift 2
  for _ in $(seq 1 "$tries"); do "$@" >/dev/null 2>&1 && return 0; alive "$name" || [ "$name" = postgres ] || return 1; sleep 0.1; done
  return 1
}

grpc_serving() { # ip: SpiceDB answers an authenticated call (NOT_FOUND before any schema is written)
  (cd "$ROOT" && node -e "
    const { v1 } = require('@authzed/authzed-node')
    const c = v1.NewClient(process.argv[2], process.argv[1], v1.ClientSecurity.INSECURE_PLAINTEXT_CREDENTIALS)
    c.readSchema(v1.ReadSchemaRequest.create({}), { deadline: Date.now() + 1000 }, (err) => process.exit(!err || err.code === 5 ? 0 : 1))
  " "$1:$GRPC_PORT" "$(secret preshared_key)")
}

start_postgres() {
  pg start >/dev/null 2>>"$LOG/postgres.log"
  # SpiceDB's tables, once (migrate is idempotent: head is head)
  "$(spicedb_bin)" datastore migrate head --datastore-engine postgres --datastore-conn-uri "$PG_URL" \
    --log-level warn --skip-release-check >>"$LOG/migrate.log" 2>&1 || die "migration failed; see $LOG/migrate.log"
}

start_redis() {
  mkdir -p "$DIR/redis"
  command -v redis-server >/dev/null || REDIS_TEST_PORT=$REDIS_PORT REDIS_TEST_DIR=$DIR/redis bash "$ROOT/scripts/redis.sh" start >/dev/null
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$DIR/redis" --daemonize yes --pidfile "$RUN/redis.pid" \
    --logfile "$LOG/redis.log" --save '' --appendonly yes --appendfsync everysec >/dev/null
  for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && return 0; sleep 0.1; done
  die "redis did not answer on $REDIS_PORT; see $LOG/redis.log"
}

start_spicedb() {
  local n=$1 ip; ip=$(node_ip "$1")
  setsid "$(spicedb_bin)" serve \
    --grpc-addr="$ip:$GRPC_PORT" --grpc-preshared-key="$(secret preshared_key)" \
    --datastore-engine=postgres --datastore-conn-uri="$PG_URL" \
    --datastore-conn-pool-read-max-open=8 --datastore-conn-pool-read-min-open=1 \
    --datastore-conn-pool-write-max-open=4 --datastore-conn-pool-write-min-open=1 \
    --dispatch-cluster-enabled --dispatch-cluster-addr="$ip:$NODE_DISPATCH_PORT" \
    --dispatch-upstream-addr="dns:///$PEERS:$DISPATCH_PORT" \
    --dispatch-upstream-timeout="${TRELLIS_CLUSTER_DISPATCH_TIMEOUT:-1s}" \
    --metrics-enabled --metrics-addr="$ip:$METRICS_PORT" --http-enabled=false \
    --telemetry-endpoint= --skip-release-check --grpc-shutdown-grace-period=1s \
    --log-format=json --log-level="${TRELLIS_CLUSTER_SPICEDB_LOG_LEVEL:-warn}" \
    >>"$LOG/$n.log" 2>&1 </dev/null &
  echo $! >"$RUN/$n.pid"
  wait_for "$n" 300 grpc_serving "$ip" || die "$n did not serve on $ip:$GRPC_PORT; see $LOG/$n.log"
}

start_membership() {
  local slots=() n
  for n in "${NODES[@]}"; do slots+=("$(node_ip "$n"):$DISPATCH_PORT=$(node_ip "$n"):$NODE_DISPATCH_PORT"); done
  setsid node "$ROOT/scripts/dispatch-membership.mjs" "${slots[@]}" >>"$LOG/membership.log" 2>&1 </dev/null &
  echo $! >"$RUN/membership.pid"
  wait_for membership 100 grep -q "slot 127.0.0.3" "$LOG/membership.log" || die "the dispatch membership did not start; see $LOG/membership.log"
}

start_gateway() {
  local n=$1 port; [ "$1" = gateway-1 ] && port=$GW1_PORT || port=$GW2_PORT
  # `npm start` is `tsx src/server.ts`; node with tsx's loader is the same program in one
  # process. The subshell execs into it (setsid and env exec too), so $! is the gateway itself:
  # the pid file names the process a signal must reach, and no shell is left holding the
  # caller's stdout (a `$(cluster.sh start)` would otherwise wait for the gateways to end).
  (cd "$ROOT" && exec setsid env HOST=127.0.0.1 PORT="$port" LOG_LEVEL="${LOG_LEVEL:-warn}" \
    SPICEDB_ENDPOINT="$ENDPOINTS" SPICEDB_PRESHARED_KEY="$(secret preshared_key)" SPICEDB_INSECURE=true \
    SPICEDB_TIMEOUT_MS="${SPICEDB_TIMEOUT_MS:-3000}" REDIS_URL="$REDIS_URL" CURSOR_SECRET="$(secret cursor_secret)" \
    API_KEYS="${TRELLIS_CLUSTER_API_KEYS:-}" WORKERS=1 \
    node --import tsx src/server.ts >>"$LOG/$n.log" 2>&1 </dev/null) &
  echo $! >"$RUN/$n.pid"
  wait_for "$n" 600 curl -fsS "http://127.0.0.1:$port/readyz" || die "$n did not become ready on $port; see $LOG/$n.log"
}

up() {
  local n=$1
  case $n in
    postgres) "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" || start_postgres ;;
    redis) alive redis || start_redis ;;
    membership) alive membership || start_membership ;;
    spicedb-[123]|gateway-[12])
      if stopped "$n"; then kill -CONT "$(pid_of "$n")"
      elif ! alive "$n"; then [[ $n == spicedb-* ]] && start_spicedb "$n" || start_gateway "$n"; fi ;;
    *) die "no part $n (postgres, redis, spicedb-1..3, gateway-1..2, membership)" ;;
  esac
}

kill_part() {
  local n=$1 sig=${2:-KILL}
  if [ "$n" = postgres ]; then
    # an immediate stop: what a crash looks like to clients (no checkpoint, connections cut)
    as_pg "$(pg_bin)/pg_ctl" -D "$DIR/postgres/data" -m immediate -w stop >/dev/null 2>&1 || true
    return
  fi
  local p; p=$(pid_of "$n"); [ -n "$p" ] || die "no pid for $n"
  kill -s "$sig" "$p" 2>/dev/null || true
  if [ "$sig" = KILL ] || [ "$sig" = TERM ]; then
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  fi
}

start() {
  command -v curl >/dev/null || die "curl is needed"
  mkdir -p "$RUN" "$LOG"
  # Made here, before any part starts: a part's `cmd "$(secret ...)" &` expands in the
  # background job, so on a fresh directory it raced the foreground's own `secret` (the
  # readiness call) and the two could write different keys (spicedb-1 then refused every call).
  secret preshared_key >/dev/null
  secret cursor_secret >/dev/null
  peers_in_hosts
  up postgres
  up redis
  up membership
  for n in "${NODES[@]}"; do up "$n"; done
  # the first gateway writes the schema; the second starts once it is there
  up gateway-1
  up gateway-2
  log "up in $DIR (logs in $LOG)"
  echo "GATEWAYS=$GATEWAYS"
}

stop() {
  local n
  for n in gateway-2 gateway-1 spicedb-3 spicedb-2 spicedb-1 membership redis; do
    alive "$n" || continue
    stopped "$n" && kill -CONT "$(pid_of "$n")" 2>/dev/null
    kill_part "$n" TERM
    alive "$n" && kill_part "$n" KILL
  done
  pg stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
  log "stopped"
}

status() {
  local n
  for n in postgres redis membership "${NODES[@]}" gateway-1 gateway-2; do
    if [ "$n" = postgres ]; then "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && echo "$n up" || echo "$n down"
    elif stopped "$n"; then echo "$n stopped"; elif alive "$n"; then echo "$n up"; else echo "$n down"; fi
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  kill) [ -n "${2:-}" ] || die "usage: $0 kill PART [SIGNAL]"; kill_part "$2" "${3:-KILL}" ;;
  up) [ -n "${2:-}" ] || die "usage: $0 up PART"; mkdir -p "$RUN" "$LOG"; up "$2" ;;
  env)
    echo "CLUSTER_GATEWAYS=$GATEWAYS"
    echo "CLUSTER_SPICEDB=$ENDPOINTS"
    echo "CLUSTER_PRESHARED_KEY=$(secret preshared_key)"
    echo "CLUSTER_METRICS=http://127.0.0.1:$METRICS_PORT,http://127.0.0.2:$METRICS_PORT,http://127.0.0.3:$METRICS_PORT"
    echo "CLUSTER_REDIS_URL=$REDIS_URL"
    echo "CLUSTER_POSTGRES_URL=$PG_URL"
    echo "CLUSTER_SCRIPT=$ROOT/scripts/cluster.sh"
    ;;
  *) echo "usage: $0 start|stop|status|kill PART [SIGNAL]|up PART|env" >&2; exit 2 ;;
esac
