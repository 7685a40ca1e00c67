# syntax=docker/dockerfile:1
# MikroLB: one image for every role. `docker run IMAGE` runs the all-in-one controller;
# `docker run IMAGE serve allocate` (program, release, webhook) one function on $PORT.
# test/image/image.test.ts performs this file's COPY and RUN steps outside a container engine.
# The base is pinned by digest: the multi-platform index of node:22-bookworm-slim (Node 22.23.2,
# Debian bookworm) as docker-library/repo-info recorded it; update tag and digest together.

# --- build: compile TypeScript to dist/ (needs the devDependencies) ---
FROM node:22-bookworm-slim@sha256:48e4b67d85f87bd551df43704e24d252f56cc5f8e9718841aace50f19948f0f9 AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm,sharing=locked npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY lib ./lib
COPY functions ./functions
COPY bridge ./bridge
RUN npm run build

# --- runtime: production dependencies and the compiled code only ---
FROM node:22-bookworm-slim@sha256:48e4b67d85f87bd551df43704e24d252f56cc5f8e9718841aace50f19948f0f9 AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm,sharing=locked npm ci --omit=dev --ignore-scripts
COPY --from=build /app/dist/bridge ./dist/bridge
COPY --from=build /app/dist/lib ./dist/lib
COPY --from=build /app/dist/functions ./dist/functions
# Files stay root-owned and read-only for the process: it writes only to /tmp (the webhook's
# certificates are mounted under /tmp/k8s-webhook-server/serving-certs), so the root
# filesystem can be mounted read-only.
RUN groupadd --gid 65532 nonroot && useradd --uid 65532 --gid 65532 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin nonroot
ENV HOME=/tmp
USER 65532:65532
EXPOSE 8080 9443
ENTRYPOINT ["node", "/app/dist/bridge/main.js"]
CMD ["controller"]
