#!/usr/bin/env bash
# Builds the container images real sandbox nodes run, without a registry: OCI image-layout tars that
# `ctr -n k8s.io images import` loads into a node's containerd (see sandbox/real-node.ts).
#   fedlet.local/pause:1    the pod sandbox image (pause.c, gcc -static)
#   fedlet.local/busybox:1  Debian's busybox-static with its applet links (also tagged docker.io/library/busybox:latest,
#                           so `kubectl debug --image=busybox` finds it)
#   fedlet.local/testapp:1  the project's own test program (testapp/, static Go)
# Output: $FEDLET_IMAGES_DIR, else $FEDLET_CACHE_DIR/images (default ~/.cache/fedlet/images), the directory
# the sandbox reads them from (sandbox/binaries.ts imagesDir); rebuilt when a source changes.
# Prints the directory last.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${FEDLET_CACHE_DIR:-$HOME/.cache/fedlet}"
OUT="${FEDLET_IMAGES_DIR:-$CACHE/images}"

log() { echo "[build-images] $*" >&2; }
fail() { echo "[build-images] ERROR: $*" >&2; exit 1; }

BUSYBOX="$(command -v busybox || true)"
[ -n "$BUSYBOX" ] || fail "busybox is not installed (Debian: busybox-static)"
command -v gcc >/dev/null || fail "gcc is not installed (it builds the pause image)"
command -v go >/dev/null || fail "the Go toolchain is not installed (it builds the test program)"

# The cache key covers every input: sources, this script and the busybox binary.
key=$(cat "$HERE/pause.c" "$HERE/testapp/main.go" "$HERE/testapp/go.mod" "$HERE/build-images.sh" "$BUSYBOX" | sha256sum | cut -c1-16)
if [ -f "$OUT/stamp" ] && [ "$(cat "$OUT/stamp")" = "$key" ]; then
  log "images: cached in $OUT"
  echo "$OUT"
  exit 0
fi
start=$(date +%s)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$OUT"
rm -f "$OUT"/*.tar "$OUT/stamp"

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

# oci_image OUT_TAR ROOTFS ENTRYPOINT_JSON NAME...: one uncompressed layer, a config, a manifest and an
# index that names the image once per NAME (containerd reads the io.containerd.image.name annotation).
oci_image() {
  local tar_out="$1" rootfs="$2" entrypoint="$3"
  shift 3
  local d="$work/layout-$(basename "$tar_out" .tar)"
  mkdir -p "$d/blobs/sha256"
  # Reproducible layer: sorted names, fixed times and owners.
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$d/layer.tar" .
  local layer; layer=$(sha "$d/layer.tar")
  mv "$d/layer.tar" "$d/blobs/sha256/$layer"
  printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":%s,"Env":["PATH=/bin:/usr/bin"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$entrypoint" "$layer" > "$d/config.json"
  local config; config=$(sha "$d/config.json")
  local config_size; config_size=$(size "$d/config.json")
  mv "$d/config.json" "$d/blobs/sha256/$config"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$config" "$config_size" "$layer" "$(size "$d/blobs/sha256/$layer")" > "$d/manifest.json"
  local manifest; manifest=$(sha "$d/manifest.json")
  local manifest_size; manifest_size=$(size "$d/manifest.json")
  mv "$d/manifest.json" "$d/blobs/sha256/$manifest"
  local entries="" name
  for name in "$@"; do
    [ -n "$entries" ] && entries+=","
    entries+=$(printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}' \
      "$manifest" "$manifest_size" "$name" "${name##*:}")
  done
  printf '{"schemaVersion":2,"manifests":[%s]}' "$entries" > "$d/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' > "$d/oci-layout"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$d" -cf "$tar_out.tmp" oci-layout index.json blobs
  mv "$tar_out.tmp" "$tar_out"
}

# Every image gets the directories a container runtime expects to mount over.
base_rootfs() {
  mkdir -p "$1"/{bin,dev,etc,proc,sys,tmp,var/run}
  chmod 1777 "$1/tmp"
  printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$1/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' > "$1/etc/group"
}

log "pause"
base_rootfs "$work/pause"
gcc -static -O2 -Wall -Wextra -o "$work/pause/bin/pause" "$HERE/pause.c" || fail "compiling pause.c failed"
strip "$work/pause/bin/pause" 2>/dev/null || true
oci_image "$OUT/pause.tar" "$work/pause" '["/bin/pause"]' fedlet.local/pause:1

log "busybox ($BUSYBOX)"
base_rootfs "$work/busybox"
cp "$BUSYBOX" "$work/busybox/bin/busybox"
for applet in $("$BUSYBOX" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$work/busybox/bin/$applet"
done
oci_image "$OUT/busybox.tar" "$work/busybox" '["/bin/sh"]' fedlet.local/busybox:1 docker.io/library/busybox:latest

log "testapp"
base_rootfs "$work/testapp"
(cd "$HERE/testapp" && CGO_ENABLED=0 GOFLAGS=-trimpath go build -ldflags "-s -w" -o "$work/testapp/bin/testapp" .) \
  || fail "building the test program failed"
oci_image "$OUT/testapp.tar" "$work/testapp" '["/bin/testapp"]' fedlet.local/testapp:1

echo "$key" > "$OUT/stamp"
log "images built in $(( $(date +%s) - start ))s into $OUT"
echo "$OUT"
