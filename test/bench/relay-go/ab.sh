#!/bin/bash
# Interleaved A/B of fedlet's stream relay against a Go io.Copy relay on the same traffic (see main.go):
#   test/bench/relay-go/ab.sh WT_A WT_B exec|pf [MiB] [rounds]
# WT_A, WT_B: built worktrees (their dist/test/bench/relay-micro.js --fedlet serves the kubelet API).
# Prints each relay's CPU ms per MiB per round and the median (pf: per MiB each way). RATE=40 makes the
# upper peer read at 40 MiB/s, as the upper API server does in the bench; WARM=n warm-up sessions.
set -e
A=$(realpath $1); B=$(realpath $2); KIND=$3; MIB=${4:-64}; N=${5:-5}
D=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf $D' EXIT
(cd "$(dirname "$0")" && go build -o $D/peers .)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout $D/key.pem -out $D/cert.pem 2>/dev/null
cd $D
start() { local name=$1; shift; "$@" > $D/$name.port & eval "${name}_PID=$!"
  while [ ! -s $D/$name.port ]; do sleep 0.1; done; eval "${name}_PORT=$(head -1 $D/$name.port)"; }
P="./peers -cert cert.pem -key key.pem"
start LOW $P -mode lower -mib $MIB
start REL $P -mode relay -target 127.0.0.1:$LOW_PORT
start FA node $A/dist/test/bench/relay-micro.js --fedlet $LOW_PORT $D
start FB node $B/dist/test/bench/relay-micro.js --fedlet $LOW_PORT $D
U="$P -mode upper -kind $KIND -mib $MIB -rate ${RATE:-0}"
for p in "$REL_PORT $REL_PID" "$FA_PORT $FA_PID" "$FB_PORT $FB_PID"; do
  set -- $p; $U -target 127.0.0.1:$1 -pid $2 -warm ${WARM:-1} -rounds 0 > /dev/null; done
for i in $(seq $N); do
  for p in "go $REL_PORT $REL_PID" "A $FA_PORT $FA_PID" "B $FB_PORT $FB_PID"; do
    set -- $p; echo "$1 $(timeout 120 $U -target 127.0.0.1:$2 -pid $3 -warm 0 -rounds 1 | awk '{print $2}')"; done
done | python3 -c '
import sys, collections, statistics
v = collections.defaultdict(list)
for l in sys.stdin:
    k, x = l.split(); v[k].append(float(x))
for k in sorted(v): print(k, "median %.2f ms/MiB" % statistics.median(v[k]), v[k])'
