# syntax=docker/dockerfile:1
# The gateway image: built and type-checked in one stage, run from a slim stage as the
# unprivileged `node` user (uid 1000) with production dependencies only.

FROM node:22.21.1-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY gateway ./gateway
# The image is never built from code that does not type-check.
RUN npx tsc -p tsconfig.build.json --noEmit \
  && npm prune --omit=dev --ignore-scripts

FROM node:22.21.1-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=3000 \
    METRICS_PORT=9464 \
    DATA_DIR=/data
WORKDIR /app
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --chown=root:root package.json ./
COPY --chown=root:root gateway ./gateway
COPY --chown=root:root scripts/encryption-keys ./scripts/encryption-keys
# Code stays root-owned and read-only for the service; only DATA_DIR is writable.
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 3000 9464
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3000/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# tsx runs the TypeScript sources directly (it is a production dependency), so the
# SQL migrations beside them are found; node stays PID 1 and receives SIGTERM.
CMD ["node", "--import", "tsx", "gateway/src/main.ts"]
