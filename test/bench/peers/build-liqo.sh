#!/usr/bin/env bash
# Builds (once, cached by version) the Liqo peer the optional bench comparison runs (BENCH_PEERS=liqo):
# Liqo's virtual kubelet and its controller manager, from the Go module github.com/liqotech/liqo, plus a
# copy of its CRDs. Nothing from the module enters this repository; it lives in the cache only.
#
# Why not `go install …@version`: Liqo's go.mod replaces github.com/virtual-kubelet/virtual-kubelet with
# its own fork, and a replace applies only in the main module, so the build runs inside a writable copy of
# the module's own tree. Static binaries (CGO_ENABLED=0), niced: a cold build takes minutes.
#
# Output: $FEDLET_LIQO_DIR (default ~/.cache/fedlet/bin/liqo-$LIQO_VERSION) with virtual-kubelet,
# liqo-controller-manager and crds/*.yaml. Prints the directory last. Idempotent: a stamp file says done.
set -euo pipefail

LIQO_VERSION="${LIQO_VERSION:-v1.2.0}"
CACHE="${FEDLET_CACHE_DIR:-$HOME/.cache/fedlet}"
OUT="${FEDLET_LIQO_DIR:-$CACHE/bin/liqo-$LIQO_VERSION}"
WORK="$CACHE/build/liqo-$LIQO_VERSION"

log() { echo "[build-liqo] $*" >&2; }
fail() { echo "[build-liqo] ERROR: $*" >&2; exit 1; }
command -v go >/dev/null || fail "the Go toolchain is not installed"

if [ -x "$OUT/virtual-kubelet" ] && [ -x "$OUT/liqo-controller-manager" ] &&
  [ "$(cat "$OUT/.version" 2>/dev/null)" = "$LIQO_VERSION" ]; then
  log "Liqo $LIQO_VERSION: cached in $OUT"
  echo "$OUT"
  exit 0
fi

start=$(date +%s)
mkdir -p "$OUT" "$CACHE/build"
log "downloading github.com/liqotech/liqo@$LIQO_VERSION"
dir=$(go mod download -json "github.com/liqotech/liqo@$LIQO_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
[ -n "$dir" ] && [ -d "$dir" ] || fail "cannot download github.com/liqotech/liqo@$LIQO_VERSION"

# The module cache is read-only; build in a writable copy so go.mod's replaces (and go.sum updates) apply.
if [ ! -f "$WORK/go.mod" ]; then
  rm -rf "$WORK.tmp"
  cp -r "$dir" "$WORK.tmp"
  chmod -R u+w "$WORK.tmp"
  mv "$WORK.tmp" "$WORK"
fi

tmp="$OUT/.build.tmp"
rm -rf "$tmp"
mkdir -p "$tmp"
log "building virtual-kubelet and liqo-controller-manager (minutes when cold)"
(
  cd "$WORK"
  CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false -mod=mod" \
    nice -n 10 go build -ldflags "-s -w" -o "$tmp/" ./cmd/virtual-kubelet ./cmd/liqo-controller-manager
) || fail "go build failed (see above)"
mv -f "$tmp/virtual-kubelet" "$tmp/liqo-controller-manager" "$OUT/"
rm -rf "$tmp" "$OUT/crds"
mkdir -p "$OUT/crds"
cp "$WORK"/deployments/liqo/charts/liqo-crds/crds/*.yaml "$OUT/crds/"
echo "$LIQO_VERSION" > "$OUT/.version"
log "done in $(( $(date +%s) - start ))s ($(ls "$OUT/crds" | wc -l) CRDs)"
echo "$OUT"
