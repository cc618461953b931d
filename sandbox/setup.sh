#!/usr/bin/env bash
# Everything a fresh machine needs beyond `npm ci`: openssl (test PKI), iproute2 and the control-plane binaries
# (built from their Go modules, cached by version; see build-binaries.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# npm ci installs exactly the lock file (which records every platform's optional packages).
npm ci --no-audit --no-fund
# openssl makes the test PKI; iproute2's `ip` sets up the e2e suite's private network namespace.
install_pkg() {
  echo "[setup] installing $1" >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq "$1"; else sudo apt-get update -qq && sudo apt-get install -y -qq "$1"; fi
}
command -v openssl >/dev/null || install_pkg openssl
command -v ip >/dev/null || install_pkg iproute2
if ! command -v go >/dev/null; then
  echo "[setup] ERROR: the Go toolchain (1.26+) is needed to build kube-apiserver, etcd and kwok; install it and retry" >&2
  exit 1
fi
# Real sandbox nodes (fedlet sandbox up --real-nodes N, and the e2e suite when run as root) need a container
# runtime, CNI plugins and iptables; busybox-static and gcc go into the images built below. fedlet's own
# image is built with buildah on a base made by mmdebstrap, served by Debian's distribution registry
# (docker-registry) and pushed there with skopeo.
if [ "$(id -u)" = 0 ]; then
  missing=()
  command -v containerd >/dev/null || missing+=(containerd)
  command -v runc >/dev/null || missing+=(runc)
  [ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
  command -v iptables >/dev/null || missing+=(iptables)
  command -v busybox >/dev/null || missing+=(busybox-static)
  command -v gcc >/dev/null || missing+=(gcc libc6-dev)
  for tool in buildah skopeo mmdebstrap docker-registry; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "[setup] installing ${missing[*]} for real sandbox nodes" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  fi
else
  echo "[setup] not root: skipping containerd/runc/CNI/iptables for real sandbox nodes (--real-nodes and the real-node e2e tests need root)" >&2
fi
# fedlet's image builds beside the Go binaries (it mostly waits on the Debian mirror and on disk).
image_build=""
if [ "$(id -u)" = 0 ] && command -v buildah >/dev/null && command -v mmdebstrap >/dev/null; then
  bash sandbox/images/build-fedlet-image.sh >/dev/null &
  image_build=$!
else
  echo "[setup] not root or buildah/mmdebstrap missing: skipping fedlet's image (sandbox/images/build-fedlet-image.sh)" >&2
fi
bash sandbox/build-binaries.sh
if command -v busybox >/dev/null && command -v gcc >/dev/null; then
  bash sandbox/images/build-images.sh >/dev/null
else
  echo "[setup] busybox or gcc missing: skipping the real-node images (sandbox/images/build-images.sh)" >&2
fi
if [ -n "$image_build" ]; then wait "$image_build" || { echo "[setup] ERROR: building fedlet's image failed (see above)" >&2; exit 1; }; fi
# Leave a runnable CLI: README's `node dist/app/cli.js ...` and `npx fedlet ...` work right after setup.
npm run build
