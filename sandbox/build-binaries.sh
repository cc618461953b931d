#!/usr/bin/env bash
# Builds (once, cached by version) every control-plane binary the tests and the sandbox use:
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (from the k8s.io/kubernetes Go module),
# etcd (from go.etcd.io/etcd/server/v3), kwok (from sigs.k8s.io/kwok), metrics-server (from
# sigs.k8s.io/metrics-server; see build-metrics-server.sh) and the sandbox's kubelet streaming front
# (sandbox/kubelet-front; see build-kubelet-front.sh); for real sandbox nodes also kubelet, kube-proxy
# and CoreDNS (see build-coredns.sh).
# Output: $FEDLET_BIN_DIR (default ~/.cache/fedlet/bin/k8s-$K8S_VERSION). Prints the directory last.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
CACHE="${FEDLET_CACHE_DIR:-$HOME/.cache/fedlet}"
OUT="${FEDLET_BIN_DIR:-$CACHE/bin/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION}"
WORK="$CACHE/build"
mkdir -p "$OUT" "$WORK"
export CGO_ENABLED=0 GOFLAGS=-trimpath

log() { echo "[build-binaries] $*" >&2; }
fail() { echo "[build-binaries] ERROR building $1: $2" >&2; exit 1; }
have() { [ -x "$OUT/$1" ]; }

build_kubernetes() {
  # kubelet and kube-proxy run on the sandbox's real nodes (sandbox/real-node.ts).
  local names=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy) missing=()
  for n in "${names[@]}"; do have "$n" || missing+=("$n"); done
  [ ${#missing[@]} -eq 0 ] && { log "kubernetes $K8S_VERSION: cached"; return; }
  local minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  local staging="v0.${K8S_VERSION#v1.}"
  local dir="$WORK/kubernetes-$K8S_VERSION"
  mkdir -p "$dir"; cd "$dir"
  log "kubernetes $K8S_VERSION: resolving modules (staging modules pinned to $staging)"
  go mod download -json "k8s.io/kubernetes@$K8S_VERSION" > download.json || fail kubernetes "cannot download k8s.io/kubernetes@$K8S_VERSION from the Go module proxy"
  local gomod; gomod=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod
  local godirective; godirective=$(awk '/^go [0-9]/{print $2; exit}' "$gomod")
  {
    echo "module fedlet.local/k8sbuild"
    echo "go $godirective"
    echo "require k8s.io/kubernetes $K8S_VERSION"
    # Kubernetes points its staging modules at ./staging; pin each to the published v0.X.Y instead.
    grep -E '^\s*k8s.io/[a-z0-9-]+ => \./staging/' "$gomod" | awk -v v="$staging" '{print "replace " $1 " => " $1 " " v}'
  } > go.mod
  local pkgs=(); for n in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$n@$K8S_VERSION"); done
  go get "${pkgs[@]}" >get.log 2>&1 || { cat get.log >&2; fail kubernetes "go get failed (see above)"; }
  local ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  # One `go build` for all of them: shared packages compile once and the links run side by side.
  log "kubernetes $K8S_VERSION: building ${missing[*]}"
  local tmp="$OUT/.kubernetes.tmp"; rm -rf "$tmp"; mkdir -p "$tmp"
  local targets=(); for n in "${missing[@]}"; do targets+=("k8s.io/kubernetes/cmd/$n"); done
  go build -ldflags "$ld" -o "$tmp/" "${targets[@]}" || fail kubernetes "go build failed (see above)"
  for n in "${missing[@]}"; do mv "$tmp/$n" "$OUT/$n"; done
  rmdir "$tmp"
}

build_etcd() {
  have etcd && { log "etcd $ETCD_VERSION: cached"; return; }
  local dir="$WORK/etcd-$ETCD_VERSION"; mkdir -p "$dir"; cd "$dir"
  printf 'module fedlet.local/etcdbuild\ngo 1.24\n' > go.mod
  log "etcd $ETCD_VERSION: resolving modules"
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >get.log 2>&1 || { cat get.log >&2; fail etcd "go get failed"; }
  log "etcd $ETCD_VERSION: building"
  go build -ldflags "-s -w" -o "$OUT/etcd.tmp" go.etcd.io/etcd/server/v3 || fail etcd "go build failed (see above)"
  mv "$OUT/etcd.tmp" "$OUT/etcd"
}

build_kwok() {
  have kwok && { log "kwok $KWOK_VERSION: cached"; return; }
  log "kwok $KWOK_VERSION: building"
  GOBIN="$WORK/kwok-$KWOK_VERSION" go install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" || fail kwok "go install failed (see above)"
  mv "$WORK/kwok-$KWOK_VERSION/kwok" "$OUT/kwok"
}

command -v go >/dev/null || fail go "the Go toolchain is not installed"
start=$(date +%s)
# Two lanes: Kubernetes (the longest build) and everything else, so one lane's single-threaded link steps
# overlap the other's compiling. Each lane fails the whole script.
(
  set -e
  build_etcd
  build_kwok
  bash "$HERE/build-metrics-server.sh" "$OUT"
  bash "$HERE/build-coredns.sh" "$OUT"
  bash "$HERE/build-kubelet-front.sh" "$OUT" >/dev/null
  # helm, which the e2e suite installs charts/fedlet with (from helm.sh/helm/v3; see build-helm.sh).
  bash "$HERE/build-helm.sh" "$OUT"
) &
others=$!
(build_kubernetes) &
kube=$!
kube_rc=0; wait "$kube" || kube_rc=$?
others_rc=0; wait "$others" || others_rc=$?
[ "$kube_rc" = 0 ] && [ "$others_rc" = 0 ] || { echo "[build-binaries] ERROR: a build lane failed (see above)" >&2; exit 1; }
log "done in $(( $(date +%s) - start ))s"
echo "$OUT"
