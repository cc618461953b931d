# fedlet container image: multi-stage, runs as a non-root user on a read-only root filesystem.
# BASE_IMAGE: any image with Node.js 20 and npm on Debian bookworm; the public node image by default. The
# sandbox builds on a base it makes itself (sandbox/images/build-fedlet-image.sh: no registry is reachable
# there), with `buildah bud --build-arg BASE_IMAGE=...`.
ARG BASE_IMAGE=node:20-bookworm-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY app ./app
COPY src ./src
COPY provider ./provider
COPY scheduler-plugin ./scheduler-plugin
COPY sandbox ./sandbox
RUN npm run build && npm prune --omit=dev
# FEDLET_VERSION: stamps package.json's version (what the virtual node reports as its kubelet version),
# e.g. for a release candidate. Declared here so that every layer above is shared between versions.
ARG FEDLET_VERSION=
RUN if [ -n "$FEDLET_VERSION" ]; then npm pkg set "version=$FEDLET_VERSION"; fi

FROM ${BASE_IMAGE}
ENV NODE_ENV=production
# Memory settings read at process start (src/memory-env.ts holds the same values, and why; docs/operations.md):
# glibc malloc with two arenas instead of eight per core and blocks of 128 KiB or more mmapped and returned on
# free; V8's young generation at 8 MiB instead of up to 32. At 1,000 and 10,000 pods they cut what stays
# resident after a relist or a burst.
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072 NODE_OPTIONS=--max-semi-space-size=4
WORKDIR /app
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/package.json ./
# uid/gid 65532: no login shell, owns nothing in the image.
USER 65532:65532
EXPOSE 10250 10248 8888
ENTRYPOINT ["node", "dist/app/cli.js"]
CMD ["run"]
