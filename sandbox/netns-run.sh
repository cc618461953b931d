#!/usr/bin/env bash
# Runs a command (the e2e suite) inside a private network namespace whose loopback interface also carries
# a non-loopback address (default 198.18.0.1, from the benchmarking range). Node addresses in the test
# clusters use it, because kube-apiserver refuses to proxy to loopback addresses
# (`kubectl get --raw /api/v1/nodes/<node>/proxy/...`, the aggregation layer for metrics.k8s.io).
# Nothing in the namespace can reach beyond this machine: it has no other interface.
# Without the privilege to make a namespace (root or CAP_SYS_ADMIN + CAP_NET_ADMIN) the command runs
# as it is, with node address 127.0.0.1, and the tests that need a proxyable node address say so and skip.
set -euo pipefail
ADDR="${FEDLET_NETNS_ADDRESS:-198.18.0.1}"
if [ -n "${FEDLET_SANDBOX_NODE_IP:-}" ] || [ "${FEDLET_NETNS:-auto}" = off ]; then exec "$@"; fi
if ! command -v ip >/dev/null || ! unshare --net true 2>/dev/null; then
  echo "[netns-run] cannot create a network namespace here (need root and iproute2); node addresses stay 127.0.0.1" >&2
  exec "$@"
fi
exec unshare --net -- bash -c '
  set -e
  ip link set lo up
  ip addr add "$0/32" dev lo
  export FEDLET_SANDBOX_NODE_IP="$0"
  echo "[netns-run] private network namespace; node address $0" >&2
  exec "$@"' "$ADDR" "$@"
