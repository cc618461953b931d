#!/bin/sh
# TLS material between kube-scheduler and fedlet's scheduler extender for the kind quick start: a CA of
# the extender's own, the extender's serving certificate (for the fixed ClusterIP 10.96.200.200 of its
# Service) and kube-scheduler's client certificate (CN system:kube-scheduler). Run from the repository
# root BEFORE `kind create cluster --config docs/kind/upper.yaml`, which mounts the directory into the
# control-plane node for kube-scheduler; the extender gets tls.crt, tls.key and ca.crt as a Secret.
# Usage: extender-tls.sh [DIR [SANS]]; SANS: the serving certificate's subjectAltName, i.e. the host of
# kube-scheduler's urlPrefix (default: the quick start's ClusterIP and the Service name of fedlet-eu-1).
set -eu
dir=${1:-docs/kind/extender-tls}
san=${2:-IP:10.96.200.200,DNS:fedlet-eu-1-extender.fedlet-system.svc}
mkdir -p "$dir"
cd "$dir"
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
# shellcheck disable=SC2086
openssl req -x509 $ec -keyout ca.key -out ca.crt -days 365 -subj /CN=fedlet-extender-ca \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
sign() { # name subject extensions
  # shellcheck disable=SC2086
  openssl req -new $ec -keyout "$1.key" -out "$1.csr" -subj "$2"
  printf '%b' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -sha256 -extfile "$1.ext" -out "$1.crt"
  rm -f "$1.csr" "$1.ext"
}
sign tls /CN=fedlet-extender \
  "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=$san\n"
sign client /CN=system:kube-scheduler \
  'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n'
chmod 600 ./*.key
echo "extender TLS material in $dir (ca.key signs nothing else: keep it or delete it)"
