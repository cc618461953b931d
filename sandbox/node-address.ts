// The address that node objects (kwok's simulated nodes and fedlet's virtual nodes) publish and listen
// on. 127.0.0.1 by default; sandbox/netns-run.sh sets FEDLET_SANDBOX_NODE_IP to a non-loopback address
// inside a private network namespace, because kube-apiserver refuses to proxy to loopback node addresses.
import { isIP } from 'node:net';

export function sandboxNodeIP(): string {
  const ip = process.env.FEDLET_SANDBOX_NODE_IP?.trim() || '127.0.0.1';
  if (!isIP(ip)) throw new Error(`FEDLET_SANDBOX_NODE_IP="${ip}" is not an IP address`);
  return ip;
}

/** Whether the API server will proxy to this node address (it refuses loopback and link-local ones). */
export function isProxyableAddress(ip: string): boolean {
  return !(/^127\./.test(ip) || ip === '::1' || /^169\.254\./.test(ip) || /^fe80:/i.test(ip) || ip === '0.0.0.0' || ip === '::');
}

/** host:port, with IPv6 hosts in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
