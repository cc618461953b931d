#!/usr/bin/env bash
# Builds (once) the helm CLI from its Go module (helm.sh/helm/v3, cmd/helm) into the directory given as
# the first argument. The e2e suite installs charts/fedlet with it. Skipped when "$1/helm" already
# reports $HELM_VERSION. Usage: build-helm.sh OUT_DIR
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CACHE="${FEDLET_CACHE_DIR:-$HOME/.cache/fedlet}"

log() { echo "[build-helm] $*" >&2; }
fail() { echo "[build-helm] ERROR building helm $HELM_VERSION: $*" >&2; exit 1; }

[ $# -ge 1 ] && [ -n "$1" ] || fail "usage: $0 OUT_DIR"
OUT="$1"
if [ -x "$OUT/helm" ] && [ "$("$OUT/helm" version --template '{{.Version}}' 2>/dev/null)" = "$HELM_VERSION" ]; then
  log "helm $HELM_VERSION: cached in $OUT"
  exit 0
fi
command -v go >/dev/null || fail "the Go toolchain is not installed"
mkdir -p "$OUT" || fail "cannot create $OUT"

export CGO_ENABLED=0
start=$(date +%s)
# helm's go.mod has no replace directives; a throwaway wrapper module pins the version (the layout
# build-metrics-server.sh uses) and lets `go list -m` tell which client-go helm was built against.
dir="$CACHE/build/helm-$HELM_VERSION"
mkdir -p "$dir" || fail "cannot create $dir"
cd "$dir"
dl=$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION" 2>&1) \
  || { printf '%s\n' "$dl" >&2; fail "cannot download helm.sh/helm/v3@$HELM_VERSION from the Go module proxy"; }
gomod=$(printf '%s\n' "$dl" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
commit=$(printf '%s\n' "$dl" | sed -n 's/^[[:space:]]*"Hash": "\([0-9a-f]*\)",\{0,1\}$/\1/p')
godirective=$(awk '/^go [0-9]/{print $2; exit}' "$gomod" 2>/dev/null || true)
{
  echo "module fedlet.local/helmbuild"
  echo "go ${godirective:-1.26}"
  echo "require helm.sh/helm/v3 $HELM_VERSION"
} > go.mod
rm -f go.sum
log "helm $HELM_VERSION: resolving modules"
go get "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >get.log 2>&1 \
  || { cat get.log >&2; fail "go get failed (see above; a newer Go than $(go env GOVERSION) may be needed)"; }

# The same version stamps helm's own Makefile sets: `helm version` reports the release and commit, and
# the Kubernetes version helm assumes for `helm template`/`lint` follows the client-go it links
# (client-go v0.X.Y is Kubernetes 1.X).
cg=$(go list -m -f '{{.Version}}' k8s.io/client-go) || fail "cannot tell helm's client-go version"
cg="${cg#v0.}"
k8s_minor="${cg%%.*}"
ld="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
ld+=" -X helm.sh/helm/v3/internal/version.gitCommit=$commit -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ld+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$k8s_minor"
done
log "helm $HELM_VERSION: building (commit ${commit:-unknown}, client-go v0.$cg)"
go build -trimpath -ldflags "$ld" -o "$OUT/helm.tmp" helm.sh/helm/v3/cmd/helm \
  || { rm -f "$OUT/helm.tmp"; fail "go build failed (see above)"; }
mv "$OUT/helm.tmp" "$OUT/helm"
log "helm $HELM_VERSION: built in $(( $(date +%s) - start ))s into $OUT"
