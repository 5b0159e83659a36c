#!/usr/bin/env bash
# Checks the alert rules in deploy/monitoring/prometheusrule.yaml with Prometheus's own
# `promtool check rules` (the PrometheusRule's `spec` is a rules file). promtool comes from
# Debian's prometheus package, unpacked into the tools cache (no service is installed or started).
#   TRELLIS_TOOLS_DIR   cache (default ${XDG_CACHE_HOME:-$HOME/.cache}/trellis/bin)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${TRELLIS_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/trellis/bin}
PROMTOOL=${PROMTOOL:-$(command -v promtool || echo "$DIR/promtool")}
mkdir -p "$DIR"
cd "$ROOT" # the rules are read with the yaml package of node_modules

if [ ! -x "$PROMTOOL" ]; then
  tmp=$(mktemp -d)
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  (cd "$tmp" && { timeout 300 apt-get download prometheus >/dev/null 2>&1 ||
    { timeout 300 $sudo apt-get update -qq && timeout 300 apt-get download prometheus; }; })
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"
  mv -f "$tmp/x/usr/bin/promtool" "$PROMTOOL"
  rm -rf "$tmp"
fi
"$PROMTOOL" --version 2>&1 | head -n 1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
node --input-type=module - "$ROOT/deploy/monitoring/prometheusrule.yaml" "$work/rules.yaml" <<'JS'
import { readFileSync, writeFileSync } from 'node:fs'
import { parse, stringify } from 'yaml'
const [src, out] = process.argv.slice(2)
writeFileSync(out, stringify(parse(readFileSync(src, 'utf8')).spec))
JS
"$PROMTOOL" check rules "$work/rules.yaml"
