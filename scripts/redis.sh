#!/usr/bin/env bash
# A throwaway redis-server for tests: `scripts/redis.sh start` installs Debian's redis-server
# if missing, starts it on 127.0.0.1:6390 with its own directory under /tmp, waits until it
# answers PING and prints the URL (use it as TEST_REDIS_URL). `stop` stops it. Both are idempotent.
# It runs with the append-only file (appendonly yes, appendfsync everysec), as production must:
# the gateway refuses a Redis that would lose the events stream (REDIS_ALLOW_DATA_LOSS).
set -euo pipefail
PORT="${REDIS_TEST_PORT:-6390}"
DIR="${REDIS_TEST_DIR:-/tmp/trellis-redis-$PORT}"
URL="redis://127.0.0.1:$PORT"

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install() {
  command -v redis-server >/dev/null && return
  export DEBIAN_FRONTEND=noninteractive
  sudo_if_needed apt-get install -y -qq redis-server >/dev/null 2>&1 || {
    sudo_if_needed apt-get update -qq >/dev/null
    sudo_if_needed apt-get install -y -qq redis-server >/dev/null
  }
}

ping() { redis-cli -p "$PORT" ping 2>/dev/null | grep -q PONG; }

case "${1:-}" in
  start)
    install
    if ping; then
      # Already running (perhaps started before it had persistence): turn the AOF on in place.
      redis-cli -p "$PORT" config set appendonly yes >/dev/null
      redis-cli -p "$PORT" config set appendfsync everysec >/dev/null
      echo "$URL"; exit 0
    fi
    mkdir -p "$DIR"
    redis-server --port "$PORT" --bind 127.0.0.1 --dir "$DIR" --daemonize yes \
      --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" --save '' \
      --appendonly yes --appendfsync everysec >/dev/null
    for _ in $(seq 1 100); do ping && { echo "$URL"; exit 0; }; sleep 0.1; done
    echo "redis-server on port $PORT did not answer PING; see $DIR/redis.log" >&2
    exit 1
    ;;
  stop)
    if ping; then redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true; fi
    [ -f "$DIR/redis.pid" ] && rm -f "$DIR/redis.pid"
    echo "stopped"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
