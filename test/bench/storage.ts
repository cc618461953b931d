// Bench part `storage`: a pod with a fresh claim (generic ephemeral volume, 1Gi), create → Ready, through
// fedlet (upper class `fedlet`: the upper scheduler waits for fedlet to provision the upper PV and the
// lower claim, then the lower scheduler and the sandbox's local-path provisioner bind the lower claim)
// against the same pod created directly in the lower cluster (its default class `local`). kwok nodes.
import type { KubeClient } from '../../src/kube/client.js';
import type { Recorder } from './run.js';

export interface StorageBenchContext {
  upper: KubeClient;
  lower: KubeClient;
  /** The namespace used on both sides (the bench's lower cluster maps namespaces one to one). */
  ns: string;
  count: number;
  startLatency: (c: KubeClient, ns: string, name: string, body: unknown) => Promise<number>;
  r: Pick<Recorder, 'compare'>;
  pct: (xs: number[], p: number) => number;
}

function podWithClaim(name: string, storageClassName: string): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      containers: [{ name: 'c', image: 'x', volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
      volumes: [
        {
          name: 'data',
          ephemeral: {
            volumeClaimTemplate: {
              spec: { storageClassName, accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
            },
          },
        },
      ],
    },
  };
}

export async function benchStorage(b: StorageBenchContext): Promise<void> {
  const via: number[] = [];
  const direct: number[] = [];
  // i = -1: one unmeasured pod each way (cold caches, first provisioning).
  for (let i = -1; i < b.count; i++) {
    const v = await b.startLatency(b.upper, b.ns, `claim-${i + 1}`, podWithClaim(`claim-${i + 1}`, 'fedlet'));
    const d = await b.startLatency(b.lower, b.ns, `claim-direct-${i + 1}`, podWithClaim(`claim-direct-${i + 1}`, 'local'));
    if (i < 0) continue;
    via.push(v);
    direct.push(d);
  }
  b.r.compare('claim-pod-start.p50', 'pod with a new claim start → Ready, p50', b.pct(via, 50), b.pct(direct, 50), 'ms');
  b.r.compare('claim-pod-start.p99', 'pod with a new claim start → Ready, p99', b.pct(via, 99), b.pct(direct, 99), 'ms');
  // Their claims go with the pods (ephemeral volumes); the sandbox deletes the released lower volumes.
  await Promise.all(
    Array.from({ length: b.count + 1 }, (_, i) => [
      b.upper.delete(`/api/v1/namespaces/${b.ns}/pods/claim-${i}`).catch(() => undefined),
      b.lower.delete(`/api/v1/namespaces/${b.ns}/pods/claim-direct-${i}`).catch(() => undefined),
    ]).flat(),
  );
}
