// Heartbeats a flood cannot starve: while anyone who can reach fedlet's kubelet port sends requests with
// fresh made-up bearer tokens (each one a TokenReview in the upper cluster if let through), the virtual
// node's Lease keeps being renewed and the node never leaves Ready. The flood is answered 401/429 and
// never costs more than a bounded number of pending reviews; the Lease and node status use a client of
// their own.
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import { describe, expect, it } from 'vitest';
import { KubeClient, loadKubeConfig } from '../../src/kube/client.js';
import type { Lease, Node } from '../../src/kube/types.js';
import { sandbox } from './framework/kubectl.js';
import { kubeletCall } from './framework/kubelet-port.js';

const s = sandbox();
const f1 = s.fedlets[0]!;
const admin = new KubeClient(loadKubeConfig(s.upperKubeconfig));
const agent = new https.Agent({ keepAlive: true, maxSockets: 48, rejectUnauthorized: false });

/** One request to fedlet's kubelet port with a bearer token nobody issued (0: no answer). */
function unknownTokenRequest(): Promise<number> {
  const token = randomBytes(24).toString('base64url');
  return kubeletCall({
    host: s.nodeIP ?? '127.0.0.1',
    port: f1.kubeletPort,
    path: '/pods',
    agent,
    token,
    timeoutMs: 30_000,
  }).then(
    (r) => r.status,
    () => 0,
  );
}

/** The apiserver's own kubelet client identity still gets answers during the flood. */
function apiserverRequest(): Promise<number> {
  const call = { host: s.nodeIP ?? '127.0.0.1', port: f1.kubeletPort, path: '/healthz', cert: s.upper.kubeletClientCert! };
  return kubeletCall(call).then(
    (r) => r.status,
    () => 0,
  );
}

describe('heartbeats under a flood of unknown bearer tokens on the kubelet port', () => {
  it('the Lease is renewed throughout, the node stays Ready, and the flood gets only 401/429', async () => {
    const leasePath = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${encodeURIComponent(f1.nodeName)}`;
    const nodePath = `/api/v1/nodes/${encodeURIComponent(f1.nodeName)}`;
    const codes = new Map<number, number>();
    let stop = false;
    const workers = Array.from({ length: 48 }, async () => {
      while (!stop) {
        const code = await unknownTokenRequest();
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    });
    const renewals = new Set<string>();
    const samples: string[] = [];
    try {
      // Bounded: the lease renews every 10 s; four renewals are seen well within 40 samples of ~1 s.
      for (let i = 0; i < 40 && renewals.size < 4; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        const [lease, node] = await Promise.all([admin.get<Lease>(leasePath), admin.get<Node>(nodePath)]);
        const renew = lease.spec?.renewTime ?? '';
        const validUntil = Date.parse(renew) + (lease.spec?.leaseDurationSeconds ?? 0) * 1000;
        const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
        samples.push(`renewTime=${renew} ready=${ready?.status}/${ready?.reason}`);
        // Lease semantics: whenever we look, the holder's lease has not run out, and the node is Ready.
        expect(validUntil, `lease expired during the flood: ${samples.join('; ')}`).toBeGreaterThan(Date.now());
        expect(ready?.status, `node left Ready during the flood: ${samples.join('; ')}`).toBe('True');
        renewals.add(renew);
      }
      expect(await apiserverRequest()).toBe(200);
    } finally {
      stop = true;
      await Promise.all(workers);
      agent.destroy();
    }
    // The Lease moved on several times while the flood ran (the first sample may predate it).
    expect(renewals.size, samples.join('; ')).toBeGreaterThanOrEqual(4);
    const answered = [...codes].reduce((n, [, c]) => n + c, 0);
    expect(answered, JSON.stringify([...codes])).toBeGreaterThan(500); // a flood, not a trickle
    // Every flood request was refused: unknown tokens (401) or too many waiting for review (429).
    expect(
      [...codes.keys()].filter((c) => c !== 401 && c !== 429),
      JSON.stringify([...codes]),
    ).toEqual([]);
    expect(codes.get(429) ?? 0, 'the bound on pending reviews refused part of the flood').toBeGreaterThan(0);
  });
});
