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
bash sandbox/build-binaries.sh
# Leave a runnable CLI: README's `node dist/src/cli.js ...` and `npx fedlet ...` work right after setup.
npm run build
