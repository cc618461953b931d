#!/usr/bin/env bash
# Builds (once) the helm CLI from its Go module (helm.sh/helm/v3, cmd/helm) into the directory given as
# the first argument. The e2e suite installs charts/fedlet with it. Skipped when "$1/helm" already
# reports $HELM_VERSION. Usage: build-helm.sh OUT_DIR
set -euo pipefail
. "$(dirname "$0")/build-lib.sh"

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
gobuild_init helm "$HELM_VERSION" "$@"
reports_version() { [ "$("$OUT/helm" version --template '{{.Version}}' 2>/dev/null)" = "$HELM_VERSION" ]; }
gobuild_cached reports_version
# The wrapper module also lets `go list -m` tell which client-go helm is built against.
gobuild_wrapper helm.sh/helm/v3
gobuild_get helm.sh/helm/v3/cmd/helm

# The same version stamps helm's own Makefile sets: `helm version` reports the release and commit, and
# the Kubernetes version helm assumes for `helm template`/`lint` follows the client-go it links
# (client-go v0.X.Y is Kubernetes 1.X).
cg=$(go list -m -f '{{.Version}}' k8s.io/client-go) || fail "cannot tell helm's client-go version"
cg="${cg#v0.}"
k8s_minor="${cg%%.*}"
ld="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
ld+=" -X helm.sh/helm/v3/internal/version.gitCommit=$GOBUILD_COMMIT -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ld+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$k8s_minor"
done
log "helm $HELM_VERSION: building (commit ${GOBUILD_COMMIT:-unknown}, client-go v0.$cg)"
gobuild_binary "$ld" helm.sh/helm/v3/cmd/helm
