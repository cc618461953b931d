#!/usr/bin/env bash
# One real sandbox node: containerd, kubelet and (optionally) kube-proxy and CoreDNS. sandbox/real-node.ts
# starts this script as `unshare --net --mount --propagation private`, so the node has a network namespace
# of its own (its own iptables for kube-proxy, its own CNI bridge) and a mount namespace of its own (the
# kubelet and containerd write some host paths whatever their configuration says; here those paths are
# bind mounts of the node directory, and every mount disappears with the namespace).
# The script waits for "$NODE_DIR/go" (written once real-node.ts has wired the network and the cgroups),
# writes each component's pid to "$NODE_DIR/pids/<name>" and stops them all on SIGTERM.
# Usage: real-node.sh NODE_DIR   (NODE_DIR/node.env names the binaries and config files)
set -euo pipefail
D="$1"
# shellcheck source=/dev/null
. "$D/node.env"
log() { echo "[real-node $(date +%T)] $*"; }

children=()
stop() {
  log "stopping"
  for ((i = ${#children[@]} - 1; i >= 0; i--)); do kill -TERM "${children[$i]}" 2>/dev/null || true; done
  wait || true
  exit 0
}
trap stop TERM INT

for _ in $(seq 1 600); do [ -e "$D/go" ] && break; sleep 0.05; done
[ -e "$D/go" ] || { log "network and cgroups were not prepared in time"; exit 1; }

# Host paths the kubelet, containerd and the CNI plugins use regardless of configuration.
for p in $HOST_PATHS; do
  src="$D/host${p//\//_}"
  mkdir -p "$src" "$p"
  mount --bind "$src" "$p"
done
# The kubelet sets some kernel settings machine-wide; here it sees files that already hold its values.
for m in $SYSCTL_MOUNTS; do mount --bind "${m%%:*}" "${m#*:}"; done

mkdir -p "$D/pids"
start() {
  local name="$1"
  shift
  "$@" >"$D/$name.log" 2>&1 &
  children+=("$!")
  echo "$!" >"$D/pids/$name"
  log "started $name (pid $!)"
}

start containerd "$CONTAINERD" --config "$D/containerd.toml"
for _ in $(seq 1 200); do [ -S "$CONTAINERD_SOCKET" ] && break; sleep 0.05; done
[ -S "$CONTAINERD_SOCKET" ] || { log "containerd did not create its socket"; stop; }
for tar in $IMAGE_TARS; do
  ctr --address "$CONTAINERD_SOCKET" -n k8s.io images import "$tar" >/dev/null || { log "importing $tar failed"; stop; }
done
log "images imported"

start kubelet "$KUBELET" --config="$D/kubelet.yaml" --kubeconfig="$D/kubelet.kubeconfig" \
  --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" --node-labels="$NODE_LABELS" --v=2
[ -n "${KUBE_PROXY:-}" ] && start kube-proxy "$KUBE_PROXY" --config="$D/kube-proxy.yaml" --v=1
[ -n "${COREDNS:-}" ] && start coredns "$COREDNS" -conf "$D/Corefile"
touch "$D/started"

# Any component exiting ends the node: the sandbox shows it stopped instead of half-running.
set +e
wait -n
log "a component exited ($?)"
stop
