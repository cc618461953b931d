#!/usr/bin/env bash
# Builds (once) metrics-server from the Go module proxy (sigs.k8s.io/metrics-server, cmd/metrics-server)
# into the directory given as the first argument. Skips the build when "$1/metrics-server" already exists.
# Usage: build-metrics-server.sh OUT_DIR
set -euo pipefail
. "$(dirname "$0")/build-lib.sh"

# v0.9.0 is the newest version the Go module proxy serves; its go.mod asks for go 1.26.4.
export METRICS_SERVER_VERSION="${METRICS_SERVER_VERSION:-v0.9.0}"
gobuild_init metrics-server "$METRICS_SERVER_VERSION" "$@"
gobuild_cached
gobuild_wrapper sigs.k8s.io/metrics-server
gobuild_get sigs.k8s.io/metrics-server/cmd/metrics-server
# metrics-server reports its version through k8s.io/client-go/pkg/version (as its own Makefile sets it).
log "metrics-server $METRICS_SERVER_VERSION: building"
gobuild_binary "-s -w -X k8s.io/client-go/pkg/version.gitVersion=$METRICS_SERVER_VERSION" sigs.k8s.io/metrics-server/cmd/metrics-server
