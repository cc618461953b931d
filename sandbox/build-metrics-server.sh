#!/usr/bin/env bash
# Builds (once) metrics-server from the Go module proxy (sigs.k8s.io/metrics-server, cmd/metrics-server)
# into the directory given as the first argument. Skips the build when "$1/metrics-server" already exists.
# Usage: build-metrics-server.sh OUT_DIR
set -euo pipefail

# v0.9.0 is the newest version the Go module proxy serves; its go.mod asks for go 1.26.4.
export METRICS_SERVER_VERSION="${METRICS_SERVER_VERSION:-v0.9.0}"
CACHE="${FEDLET_CACHE_DIR:-$HOME/.cache/fedlet}"

log() { echo "[build-metrics-server] $*" >&2; }
fail() { echo "[build-metrics-server] ERROR building metrics-server $METRICS_SERVER_VERSION: $*" >&2; exit 1; }

[ $# -ge 1 ] && [ -n "$1" ] || fail "usage: $0 OUT_DIR"
OUT="$1"
if [ -x "$OUT/metrics-server" ]; then
  log "metrics-server: cached in $OUT"
  exit 0
fi
command -v go >/dev/null || fail "the Go toolchain is not installed"
mkdir -p "$OUT" || fail "cannot create $OUT"

export CGO_ENABLED=0
start=$(date +%s)
# metrics-server's go.mod has no replace directives, so a throwaway wrapper module is enough to pin the
# version and keep the build reproducible (the same layout build-binaries.sh uses for kubernetes).
dir="$CACHE/build/metrics-server-$METRICS_SERVER_VERSION"
mkdir -p "$dir" || fail "cannot create $dir"
cd "$dir"
gomod_json=$(go mod download -json "sigs.k8s.io/metrics-server@$METRICS_SERVER_VERSION" 2>&1) \
  || { printf '%s\n' "$gomod_json" >&2; fail "cannot download sigs.k8s.io/metrics-server@$METRICS_SERVER_VERSION from the Go module proxy"; }
gomod=$(printf '%s\n' "$gomod_json" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
godirective=$(awk '/^go [0-9]/{print $2; exit}' "$gomod" 2>/dev/null || true)
{
  echo "module fedlet.local/metricsserverbuild"
  echo "go ${godirective:-1.26}"
  echo "require sigs.k8s.io/metrics-server $METRICS_SERVER_VERSION"
} > go.mod
rm -f go.sum
log "metrics-server $METRICS_SERVER_VERSION: resolving modules"
go get "sigs.k8s.io/metrics-server/cmd/metrics-server@$METRICS_SERVER_VERSION" >get.log 2>&1 \
  || { cat get.log >&2; fail "go get failed (see above; a newer Go than $(go env GOVERSION) may be needed)"; }

# metrics-server reports its version through k8s.io/client-go/pkg/version (as its own Makefile sets it).
ld="-s -w -X k8s.io/client-go/pkg/version.gitVersion=$METRICS_SERVER_VERSION"
log "metrics-server $METRICS_SERVER_VERSION: building"
go build -trimpath -ldflags "$ld" -o "$OUT/metrics-server.tmp" sigs.k8s.io/metrics-server/cmd/metrics-server \
  || { rm -f "$OUT/metrics-server.tmp"; fail "go build failed (see above)"; }
mv "$OUT/metrics-server.tmp" "$OUT/metrics-server"
log "metrics-server $METRICS_SERVER_VERSION: built in $(( $(date +%s) - start ))s into $OUT"
