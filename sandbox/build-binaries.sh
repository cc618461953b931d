#!/usr/bin/env bash
# Builds (once, cached by version) every binary the sandbox and the tests use, from their Go modules:
#   Kubernetes (k8s.io/kubernetes): kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, and for
#     the sandbox's real nodes kubelet and kube-proxy;
#   etcd (go.etcd.io/etcd/server/v3), kwok (sigs.k8s.io/kwok), metrics-server (sigs.k8s.io/metrics-server),
#   helm (helm.sh/helm/v3, which the e2e suite installs charts/fedlet with) and CoreDNS (github.com/coredns/
#     coredns with the plugins a cluster DNS uses);
#   the sandbox's kubelet streaming front (sandbox/kubelet-front, its own module; see build-kubelet-front.sh).
#
# All of them (but the front) come from ONE wrapper module that pins every module Kubernetes requires to
# the version Kubernetes's own go.mod gives (its staging modules to v0.X.Y). Built separately, each tool
# asks for a slightly different client-go, apimachinery, apiserver, grpc, otel..., and those large libraries
# were compiled five times over; here they compile once, which is most of a cold machine's setup time.
# Kubernetes is built exactly against its own go.mod; the tools follow it (they compile against it and are
# tested with it). etcd defaults to the version Kubernetes requires.
#
# Output: $FEDLET_BIN_DIR (default ~/.cache/fedlet/bin/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION).
# Prints the directory last.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.8}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
METRICS_SERVER_VERSION="${METRICS_SERVER_VERSION:-v0.9.0}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
COREDNS_VERSION="${COREDNS_VERSION:-v1.15.0}"
CACHE="${FEDLET_CACHE_DIR:-$HOME/.cache/fedlet}"
OUT="${FEDLET_BIN_DIR:-$CACHE/bin/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION}"
WORK="$CACHE/build/tools-k8s-$K8S_VERSION"
mkdir -p "$OUT" "$WORK"
export CGO_ENABLED=0 GOFLAGS=-trimpath

log() { echo "[build-binaries] $*" >&2; }
fail() { echo "[build-binaries] ERROR building $1: $2" >&2; exit 1; }
command -v go >/dev/null || fail go "the Go toolchain is not installed"

# binary → Go package, and the version each one is cached under.
declare -A PKG=(
  [kube-apiserver]=k8s.io/kubernetes/cmd/kube-apiserver
  [kube-controller-manager]=k8s.io/kubernetes/cmd/kube-controller-manager
  [kube-scheduler]=k8s.io/kubernetes/cmd/kube-scheduler
  [kubectl]=k8s.io/kubernetes/cmd/kubectl
  [kubelet]=k8s.io/kubernetes/cmd/kubelet
  [kube-proxy]=k8s.io/kubernetes/cmd/kube-proxy
  [etcd]=go.etcd.io/etcd/server/v3
  [kwok]=sigs.k8s.io/kwok/cmd/kwok
  [metrics-server]=sigs.k8s.io/metrics-server/cmd/metrics-server
  [helm]=helm.sh/helm/v3/cmd/helm
  [coredns]=./cmd/coredns
)
declare -A STAMP=(
  [kube-apiserver]=$K8S_VERSION [kube-controller-manager]=$K8S_VERSION [kube-scheduler]=$K8S_VERSION
  [kubectl]=$K8S_VERSION [kubelet]=$K8S_VERSION [kube-proxy]=$K8S_VERSION [etcd]=$ETCD_VERSION
  [kwok]=$KWOK_VERSION [metrics-server]=$METRICS_SERVER_VERSION [helm]=$HELM_VERSION [coredns]=$COREDNS_VERSION
)
# The version each binary was built at sits next to it, so a changed *_VERSION rebuilds just that one.
cached() { [ -x "$OUT/$1" ] && [ "$(cat "$OUT/.$1.version" 2>/dev/null)" = "${STAMP[$1]}" ]; }
# Binaries of earlier layouts (no stamp) that report the right version are kept.
adopt() {
  local n="$1" v="${STAMP[$1]}" got=""
  [ -x "$OUT/$n" ] && [ ! -e "$OUT/.$n.version" ] || return 0
  case "$n" in
    kube-*|kubelet) got=$("$OUT/$n" --version 2>/dev/null | awk '{print $2}') ;;
    kubectl) got=$("$OUT/$n" version --client 2>/dev/null | awk '/Client Version/{print $3}') ;;
    helm) got=$("$OUT/$n" version --template '{{.Version}}' 2>/dev/null) ;;
    *) got="$v" ;; # etcd, kwok, metrics-server, coredns: the directory name or the old scripts pinned them
  esac
  [ "$got" = "$v" ] && echo "$v" > "$OUT/.$n.version" || true
}

missing=()
for n in "${!PKG[@]}"; do adopt "$n"; cached "$n" || missing+=("$n"); done
start=$(date +%s)

# The kubelet front is small and has its own module: build it beside the big build.
bash "$HERE/build-kubelet-front.sh" "$OUT" >/dev/null &
front=$!

if [ ${#missing[@]} -eq 0 ]; then
  log "Kubernetes $K8S_VERSION, etcd $ETCD_VERSION, kwok, metrics-server, helm, CoreDNS: cached in $OUT"
else
  cd "$WORK"
  log "resolving modules for ${missing[*]}"
  go mod download -json "k8s.io/kubernetes@$K8S_VERSION" > download.json \
    || fail kubernetes "cannot download k8s.io/kubernetes@$K8S_VERSION from the Go module proxy"
  kmod=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod
  minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  staging="v0.${K8S_VERSION#v1.}"
  {
    echo "module fedlet.local/toolsbuild"
    echo "go $(awk '/^go [0-9]/{print $2; exit}' "$kmod")"
    echo "require k8s.io/kubernetes $K8S_VERSION"
    # Kubernetes points its staging modules at ./staging; use the published v0.X.Y instead.
    grep -E '^\s*k8s.io/[a-z0-9-]+ => \./staging/' "$kmod" | awk -v v="$staging" '{print "replace " $1 " => " $1 " " v}'
    # Every other module Kubernetes requires, at the version Kubernetes requires (the etcd family at ETCD_VERSION).
    awk '/^require \(/{r=1; next} r && /^\)/{r=0} r && $1 !~ /^\/\// && $2 != "v0.0.0" {print $1, $2}' "$kmod" |
      awk -v etcd="$ETCD_VERSION" '{v = ($1 ~ /^go\.etcd\.io\/etcd\//) ? etcd : $2; print "replace " $1 " => " $1 " " v}'
  } > go.mod
  rm -f go.sum
  # CoreDNS with the plugins a cluster DNS uses, in CoreDNS's own order (core/dnsserver/zdirectives.go).
  plugins=(reload bind ready health errors log loadbalance cache hosts kubernetes loop forward)
  mkdir -p cmd/coredns
  {
    echo "// Generated by sandbox/build-binaries.sh: CoreDNS with the plugins a cluster DNS uses."
    echo "package main"
    echo
    echo "import ("
    echo "	\"github.com/coredns/coredns/core/dnsserver\""
    echo "	\"github.com/coredns/coredns/coremain\""
    for p in "${plugins[@]}"; do echo "	_ \"github.com/coredns/coredns/plugin/$p\""; done
    echo ")"
    echo
    printf 'func init() {\n\tdnsserver.Directives = []string{'
    for p in "${plugins[@]}"; do printf '"%s", ' "$p"; done
    printf '}\n}\n\nfunc main() { coremain.Run() }\n'
  } > cmd/coredns/main.go
  gofmt -w cmd/coredns/main.go
  gets=()
  for n in kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy; do
    gets+=("${PKG[$n]}@$K8S_VERSION")
  done
  gets+=("go.etcd.io/etcd/server/v3@$ETCD_VERSION" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
    "sigs.k8s.io/metrics-server/cmd/metrics-server@$METRICS_SERVER_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
    "github.com/coredns/coredns@$COREDNS_VERSION")
  go get "${gets[@]}" > get.log 2>&1 || { cat get.log >&2; fail modules "go get failed (see above)"; }

  # Versions as each project's own release build stamps them.
  version_x() { local p; for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    printf -- ' -X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=%s -X %s.gitTreeState=clean' "$p" "$1" "$p" "$p" "$minor" "$p"; done; }
  helm_commit=$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/^[[:space:]]*"Hash": "\([0-9a-f]*\)",\{0,1\}$/\1/p')
  helm_ld=" -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  helm_ld+=" -X helm.sh/helm/v3/internal/version.gitCommit=$helm_commit -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    helm_ld+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$minor"
  done

  # Two `go build`s sharing one cache: the first compiles nearly everything (all cores busy, links side by
  # side); the second only adds what metrics-server and helm have of their own, linked with their stamps.
  tmp="$OUT/.build.tmp"; rm -rf "$tmp"; mkdir -p "$tmp"
  first=() second=()
  for n in "${missing[@]}"; do
    case "$n" in metrics-server|helm) second+=("$n") ;; *) first+=("$n") ;; esac
  done
  build() {
    local ld="$1"; shift
    local pkgs=(); for n in "$@"; do pkgs+=("${PKG[$n]}"); done
    log "building $*"
    go build -ldflags "-s -w$ld" -o "$tmp/" "${pkgs[@]}" || fail "$*" "go build failed (see above)"
  }
  [ ${#first[@]} -eq 0 ] || build "$(version_x "$K8S_VERSION")" "${first[@]}"
  [ ${#second[@]} -eq 0 ] || build "$helm_ld -X k8s.io/client-go/pkg/version.gitVersion=$METRICS_SERVER_VERSION" "${second[@]}"
  for n in "${missing[@]}"; do
    src="$tmp/$(basename "${PKG[$n]}")"
    [ "$n" = etcd ] && src="$tmp/server" # a /v3 module path names its binary after the element before
    [ -x "$src" ] || fail "$n" "go build left no binary at $src"
    mv "$src" "$OUT/$n"
    echo "${STAMP[$n]}" > "$OUT/.$n.version"
  done
  rm -rf "$tmp"
fi
wait "$front" || fail kubelet-front "see above"
log "done in $(( $(date +%s) - start ))s"
echo "$OUT"
