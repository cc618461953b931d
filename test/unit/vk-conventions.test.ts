import { describe, expect, it } from 'vitest';
import { translatePod } from '../../provider/workload/translate.js';
import { missingReason } from '../../provider/configuration/dependencies.js';
import type { Pod } from '../../src/kube/types.js';

const ctx = { nodeName: 'fedlet-eu', clusterName: 'eu', lowerNamespace: 'team-a', allowDaemonSetPods: false };
const pod = (): Pod => ({
  metadata: { name: 'p', namespace: 'team-a', uid: 'u' },
  spec: {
    containers: [
      {
        name: 'c',
        image: 'img',
        volumeMounts: [
          { name: 'kube-api-access-x', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' },
          { name: 'bundle', mountPath: '/etc/bundle' },
          { name: 'only-token', mountPath: '/var/run/token' },
        ],
      },
    ],
    volumes: [
      {
        name: 'kube-api-access-x',
        projected: { sources: [{ serviceAccountToken: { path: 'token' } }, { configMap: { name: 'kube-root-ca.crt' } }] },
      },
      {
        name: 'bundle',
        projected: {
          sources: [
            { configMap: { name: 'cfg' } },
            { secret: { name: 'sec' } },
            { downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } },
            { serviceAccountToken: { path: 'token', audience: 'vault' } },
          ],
        },
      },
      { name: 'only-token', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } },
    ],
  },
});

describe('virtual-kubelet event reasons for missing dependencies', () => {
  it.each([
    ['configmaps', false, 'MandatoryConfigMapNotFound'],
    ['secrets', false, 'MandatorySecretNotFound'],
    ['configmaps', true, 'OptionalConfigMapNotFound'],
    ['secrets', true, 'OptionalSecretNotFound'],
  ] as const)('%s optional=%s → %s', (kind, optional, reason) => {
    expect(missingReason(kind, optional)).toBe(reason);
  });
});

describe('runtime class', () => {
  it('drops overhead together with runtimeClassName (lower RuntimeClass admission refuses overhead without a class)', () => {
    const p = pod();
    p.spec.runtimeClassName = 'gvisor';
    p.spec.overhead = { cpu: '250m' };
    const l = translatePod(p, ctx);
    expect(l.spec.runtimeClassName).toBeUndefined();
    expect(l.spec.overhead).toBeUndefined();
  });
});
