#!/usr/bin/env bash
# Generates a Python client from openapi.yaml with openapi-python-client (pinned), imports every
# module, and sends events and checks through it against a real gateway (scripts/serve-for-clients.ts).
# First, openapi-generator (the PyPI package bundles its jar; needs Java) validates the document
# as its generators do. CI runs it from .ci/run; a generator that cannot read the document fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
GENERATOR_VERSION=0.29.1
OPENAPI_GENERATOR_VERSION=7.23.0
venv=${PYTHON_CLIENT_VENV:-$HOME/.cache/trellis/python-client-$GENERATOR_VERSION}
if [ ! -x "$venv/bin/openapi-python-client" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "openapi-python-client==$GENERATOR_VERSION" "openapi-generator-cli==$OPENAPI_GENERATOR_VERSION"
fi
if ! command -v java >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  { timeout 300 $sudo apt-get update -qq && timeout 600 $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless; } ||
    echo "java could not be installed: openapi-generator's validation will fail"
fi
"$venv/bin/openapi-generator-cli" validate -i openapi.yaml
work=$(mktemp -d)
gateway=""
cleanup() { [ -n "$gateway" ] && kill "$gateway" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# ruff (installed with the generator) formats the output; the venv's bin must be on PATH
PATH="$venv/bin:$PATH" openapi-python-client generate --path openapi.yaml --config scripts/python-client/config.yaml \
  --meta none --output-path "$work/trellis_client" 2>&1 | tee "$work/generate.log"
# the generator warns without failing on a document it half reads ("Warning(s) encountered"): that fails here
if grep -qi "warning" "$work/generate.log"; then exit 1; fi

key="python-client-$RANDOM$RANDOM$RANDOM"
mkfifo "$work/stdin"
API_KEYS="python:$key" npx tsx scripts/serve-for-clients.ts <"$work/stdin" >"$work/gateway.log" 2>&1 &
gateway=$!
exec 3>"$work/stdin" # holds the gateway's stdin open until this script ends
for _ in $(seq 1 120); do
  url=$(sed -n 's/^listening //p' "$work/gateway.log")
  [ -n "$url" ] && break
  kill -0 "$gateway" 2>/dev/null || { cat "$work/gateway.log"; exit 1; }
  sleep 0.5
done
[ -n "${url:-}" ] || { echo "the gateway did not start"; cat "$work/gateway.log"; exit 1; }
PYTHONPATH="$work" "$venv/bin/python" scripts/python-client/smoke.py "$url" "$key"
