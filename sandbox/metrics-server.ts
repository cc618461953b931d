// metrics-server for the upper cluster, run as a local process, so that `kubectl top` works against
// virtual nodes exactly as against real ones: it scrapes fedlet's /metrics/resource at each node's
// InternalIP and kubelet port (verifying the serving certificate against the cluster CA, authenticating
// with its own client certificate) and serves metrics.k8s.io through the API server's aggregation layer.
//
// The aggregation layer dials the Service's EndpointSlice address, and EndpointSlices refuse loopback
// addresses: metrics-server needs the proxyable node address (see node-address.ts), or it is not started.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { findBinary } from './binaries.js';
import { kubeconfigYaml, serverExt, signCert, type Pki } from './pki.js';
import { startProcess, type ProcessRecord } from './processes.js';

function objects(o: { caBundle: string; nodeIP: string; port: number }): string {
  return `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: system:metrics-server}
rules:
- {apiGroups: [""], resources: [nodes/metrics], verbs: [get]}
- {apiGroups: [""], resources: [pods, nodes], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: system:metrics-server}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:metrics-server}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: system:metrics-server}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: metrics-server:system:auth-delegator}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:auth-delegator}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: system:metrics-server}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: metrics-server-auth-reader, namespace: kube-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: extension-apiserver-authentication-reader}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: system:metrics-server}]
---
apiVersion: v1
kind: Service
metadata: {name: metrics-server, namespace: kube-system}
spec:
  ports: [{name: https, port: 443, protocol: TCP, targetPort: ${o.port}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: metrics-server-local
  namespace: kube-system
  labels: {kubernetes.io/service-name: metrics-server, endpointslice.kubernetes.io/managed-by: fedlet-test-env}
addressType: ${o.nodeIP.includes(':') ? 'IPv6' : 'IPv4'}
endpoints: [{addresses: ["${o.nodeIP}"], conditions: {ready: true}}]
ports: [{name: https, port: ${o.port}, protocol: TCP}]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.k8s.io}
spec:
  group: metrics.k8s.io
  version: v1beta1
  groupPriorityMinimum: 100
  versionPriority: 100
  service: {name: metrics-server, namespace: kube-system, port: 443}
  caBundle: ${o.caBundle}
`;
}

/** Starts metrics-server for a running upper cluster and registers it; returns its process record. */
export function startMetricsServer(o: {
  dir: string;
  server: string;
  adminKubeconfig: string;
  pki: Pki;
  nodeIP: string;
  port: number;
}): ProcessRecord {
  const client = o.pki.client('metrics-server');
  const kubeconfig = path.join(o.dir, 'metrics-server.kubeconfig');
  writeFileSync(
    kubeconfig,
    kubeconfigYaml({ name: 'upper', server: o.server, caCert: o.pki.caCert, cert: client.cert, key: client.key }),
  );
  // The aggregator checks the serving certificate for <service>.<namespace>.svc against the caBundle.
  const serving = signCert(
    o.pki.dir,
    { cert: o.pki.caCert, key: o.pki.caKey },
    'metrics-server-serving',
    '/CN=metrics-server',
    serverExt(['DNS:metrics-server.kube-system.svc', 'DNS:metrics-server.kube-system.svc.cluster.local', `IP:${o.nodeIP}`]),
  );
  execFileSync(findBinary('kubectl'), ['--kubeconfig', o.adminKubeconfig, 'apply', '-f', '-'], {
    input: objects({ caBundle: readFileSync(o.pki.caCert).toString('base64'), nodeIP: o.nodeIP, port: o.port }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return startProcess(
    'metrics-server',
    findBinary('metrics-server'),
    [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      `--bind-address=${o.nodeIP}`,
      `--secure-port=${o.port}`,
      `--tls-cert-file=${serving.cert}`,
      `--tls-private-key-file=${serving.key}`,
      '--kubelet-preferred-address-types=InternalIP',
      '--kubelet-use-node-status-port',
      // fedlet's serving certificates in the sandbox are signed by the upper CA for the node IP: verified.
      `--kubelet-certificate-authority=${o.pki.caCert}`,
      // The shortest resolution metrics-server allows; the request timeout must stay below 90% of it.
      '--metric-resolution=10s',
      '--kubelet-request-timeout=5s',
    ],
    path.join(o.dir, 'metrics-server.log'),
  );
}
