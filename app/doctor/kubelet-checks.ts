// Checks of a virtual node's kubelet API: whether the upper API server reaches it (the path of every
// `kubectl logs/exec/port-forward`), and whether its serving certificate is valid for the address the
// node publishes. The reasons a dial fails are told apart, so the output names the cause.
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import type { KubeClient } from '../../src/kube/client.js';
import type { Node } from '../../src/kube/types.js';
import { fedletName } from './node-checks.js';
import { failed, ok, skipped, type Check } from './report.js';

export interface KubeletEndpoint {
  address: string;
  port: number;
}

/** Where the upper API server dials the node: its InternalIP (fedlet publishes one) and daemon endpoint. */
export function kubeletEndpoint(node: Node): KubeletEndpoint | undefined {
  const addrs = node.status?.addresses ?? [];
  const a = addrs.find((x) => x.type === 'InternalIP') ?? addrs[0];
  if (!a) return undefined;
  return { address: a.address, port: node.status?.daemonEndpoints?.kubeletEndpoint?.Port ?? 10250 };
}

const hostPort = (e: KubeletEndpoint) => (e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`);

/** Why a dial to the kubelet port failed, and what to do, from the error text (the API server's or ours). */
export function reachFailure(message: string, e: KubeletEndpoint, fedlet: string): { cause: string; fix: string } {
  const at = hostPort(e);
  if (/connection refused|ECONNREFUSED/i.test(message))
    return {
      cause: `nothing listens on ${at}: connection refused`,
      fix: `${fedlet} is not running, not the leader, or listens elsewhere (kubeletPort, kubeletBindAddress): check its pods and logs`,
    };
  if (/address not allowed/i.test(message))
    return {
      cause: `the upper API server will not dial ${at} (a loopback or link-local address)`,
      fix: 'publish an address the API server may proxy to: set nodeIP to a routable address of fedlet (its pod IP in the cluster)',
    };
  if (/timeout|timed out|ETIMEDOUT|i\/o timeout/i.test(message))
    return {
      cause: `no answer from ${at}: the dial timed out`,
      fix: `a firewall, NetworkPolicy or route drops traffic from the upper API server to ${at} (nodeIP must be reachable from it; fedlet's pod IP when it runs in the cluster)`,
    };
  if (/no route to host|EHOSTUNREACH|network is unreachable|ENETUNREACH/i.test(message))
    return {
      cause: `${at} is unreachable: no route`,
      fix: `the node publishes an address the upper API server cannot route to: set nodeIP to one it reaches`,
    };
  if (/x509|certificate|tls/i.test(message))
    return {
      cause: `TLS with ${at} failed: ${message}`,
      fix: 'the API server does not accept the serving certificate (--kubelet-certificate-authority): see serving-cert',
    };
  if (/Forbidden|403|401|Unauthorized/.test(message))
    return {
      cause: `the kubelet API refused the API server: ${message}`,
      fix: `the API server's kubelet client certificate (--kubelet-client-certificate) must be signed by the client CA fedlet trusts (clientCAFile) and allowed nodes/proxy`,
    };
  return { cause: `${at}: ${message}`, fix: `check ${fedlet}'s logs and the upper API server's logs` };
}

/** The upper API server's node proxy to /healthz: the same dial it makes for logs, exec and port-forward. */
export async function kubeletPortCheck(upper: Pick<KubeClient, 'getText'>, node: Node): Promise<Check> {
  const name = node.metadata.name;
  const e = kubeletEndpoint(node);
  if (!e)
    return failed(name, 'kubelet-port', 'the node publishes no address', `${fedletName(node)} sets it (nodeIP) once it runs`);
  try {
    const body = await upper.getText(`/api/v1/nodes/${encodeURIComponent(name)}/proxy/healthz`, { timeoutMs: 15_000 });
    return ok(
      name,
      'kubelet-port',
      `the upper API server reaches the kubelet API at ${hostPort(e)} (/healthz: ${body.trim() || 'empty'})`,
    );
  } catch (err) {
    const { cause, fix } = reachFailure((err as Error).message, e, fedletName(node));
    return failed(name, 'kubelet-port', `the upper API server cannot reach the kubelet API: ${cause}`, fix);
  }
}

/** Decides on a serving certificate: valid now, names the node's address, and (for information) who signed it. */
export function evaluateServingCert(
  name: string,
  cert: X509Certificate,
  address: string,
  now: number,
  cas: X509Certificate[],
): Check {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  const renew = `renewal: with servingCert csr fedlet renews it at 70–90% of its lifetime once the CSR is approved (kubectl get csr -l fedlet.io/node=${name})`;
  if (now < from)
    return failed(
      name,
      'serving-cert',
      `not valid before ${cert.validFrom}`,
      `the clocks of fedlet's host and this machine disagree, or the certificate was issued for later`,
    );
  if (now >= to) return failed(name, 'serving-cert', `expired at ${cert.validTo}`, renew);
  const covers = address.includes(':') || /^\d+\.\d+\.\d+\.\d+$/.test(address) ? cert.checkIP(address) : cert.checkHost(address);
  if (!covers)
    return failed(
      name,
      'serving-cert',
      `it names ${cert.subjectAltName ?? 'no SANs'}, not the node's address ${address}`,
      'issue it for the address fedlet publishes (nodeIP), or let fedlet request one (servingCert: csr)',
    );
  const signed = cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
  const days = Math.floor((to - now) / 86_400_000);
  return ok(
    name,
    'serving-cert',
    `valid ${days} more day(s), covers ${address}, ${signed ? 'signed by the cluster CA' : 'not signed by the cluster CA (only an API server with --kubelet-certificate-authority would refuse it)'}`,
  );
}

function peerCertificate(e: KubeletEndpoint, timeoutMs: number): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: e.address, port: e.port, rejectUnauthorized: false, timeout: timeoutMs });
    const done = (f: () => void) => {
      socket.destroy();
      f();
    };
    socket.once('secureConnect', () => {
      const cert = socket.getPeerX509Certificate();
      done(() => (cert ? resolve(cert) : reject(new Error('no certificate presented'))));
    });
    socket.once('timeout', () => done(() => reject(new Error(`timed out after ${timeoutMs} ms`))));
    socket.once('error', (err) => done(() => reject(err)));
  });
}

/**
 * Dials the kubelet port from here for its certificate. When this machine cannot reach it (fedlet's pod
 * IP from outside the cluster) while the API server can, that is no fault of the install: skipped.
 */
export async function servingCertCheck(
  node: Node,
  cas: X509Certificate[],
  apiServerReaches: boolean,
  now = Date.now(),
): Promise<Check> {
  const name = node.metadata.name;
  const e = kubeletEndpoint(node);
  if (!e) return skipped(name, 'serving-cert', 'the node publishes no address');
  try {
    return evaluateServingCert(name, await peerCertificate(e, 5000), e.address, now, cas);
  } catch (err) {
    const { cause, fix } = reachFailure((err as Error).message, e, fedletName(node));
    if (apiServerReaches)
      return skipped(
        name,
        'serving-cert',
        `${cause} from this machine (the upper API server reaches it)`,
        'run doctor where the node address is reachable to check the certificate',
      );
    return failed(name, 'serving-cert', `cannot read the certificate: ${cause}`, fix);
  }
}
