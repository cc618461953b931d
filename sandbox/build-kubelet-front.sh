#!/usr/bin/env bash
# Builds the sandbox's kubelet streaming front (sandbox/kubelet-front) into the directory given as $1,
# as $1/kubelet-front. Cached: a sha256 stamp of the sources, this script and the Go version sits next
# to the binary, and a rebuild happens only when it changes. Modules come from the Go module proxy.
# Prints the binary's path last.
set -euo pipefail

OUT="${1:?usage: build-kubelet-front.sh OUT_DIR}"
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/kubelet-front" && pwd)"
BIN="$OUT/kubelet-front"
STAMP="$OUT/kubelet-front.sha256"

log() { echo "[build-kubelet-front] $*" >&2; }
fail() { echo "[build-kubelet-front] ERROR: $*" >&2; exit 1; }

command -v go >/dev/null || fail "the Go toolchain is not installed"
mkdir -p "$OUT"

want=$(
  {
    cat "$SRC/main.go" "$SRC/go.mod" "$SRC/go.sum" "${BASH_SOURCE[0]}"
    go env GOVERSION GOOS GOARCH
  } | sha256sum | cut -d' ' -f1
)
if [ -x "$BIN" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
  log "cached"
  echo "$BIN"
  exit 0
fi

start=$(date +%s)
log "building $SRC"
tmp="$BIN.tmp.$$"
trap 'rm -f "$tmp"' EXIT
(
  cd "$SRC"
  CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false -mod=readonly" \
    go build -ldflags "-s -w" -o "$tmp" .
) || fail "go build failed (see above)"
mv -f "$tmp" "$BIN"
echo "$want" > "$STAMP"
log "done in $(( $(date +%s) - start ))s"
echo "$BIN"
