// Only what the pod's own upper namespace holds goes down: every reference kind is found, names that
// are not object names and pods with too many references are refused, absent optional references are
// left out of the lower pod (every kind), volumes that make a lower kubelet read a Secret by name are
// refused, and API paths escape names.
import { describe, expect, it } from 'vitest';
import type { Container, Pod, Volume } from '../../src/kube/types.js';
import {
  podReferences,
  referenceProblem,
  translatePod,
  unsupportedField,
  type AbsentReferences,
} from '../../provider/workload/translate.js';
import { apiPath, isObjectName } from '../../src/kube/api-path.js';

const ctx = { nodeName: 'fedlet-eu', clusterName: 'eu', lowerNamespace: 'pay-eu', allowDaemonSetPods: false };
const pod = (spec: Partial<Pod['spec']> = {}): Pod => ({
  metadata: { name: 'p', namespace: 'pay', uid: 'u' },
  spec: { containers: [{ name: 'c', image: 'i' }], ...spec },
});
const c = (extra: Partial<Container>): Container => ({ name: 'c', image: 'i', ...extra });

describe('podReferences', () => {
  it('finds every kind with its field, and whether the pod runs without it', () => {
    const p = pod({
      volumes: [
        { name: 'a', secret: { secretName: 's-vol', optional: true } },
        { name: 'b', configMap: { name: 'cm-vol' } },
        {
          name: 'd',
          projected: { sources: [{ secret: { name: 's-proj' } }, { configMap: { name: 'cm-proj', optional: true } }] },
        },
      ],
      containers: [
        c({
          env: [
            { name: 'A', valueFrom: { secretKeyRef: { name: 's-env', key: 'k' } } },
            { name: 'B', valueFrom: { configMapKeyRef: { name: 'cm-env', key: 'k', optional: true } } },
          ],
          envFrom: [{ secretRef: { name: 's-from' } }, { configMapRef: { name: 'cm-from' } }],
        }),
      ],
      initContainers: [c({ name: 'i', envFrom: [{ secretRef: { name: 's-init', optional: true } }] })],
      ephemeralContainers: [c({ name: 'e', envFrom: [{ configMapRef: { name: 'cm-debug' } }] })],
      imagePullSecrets: [{ name: 'pull' }],
    });
    expect(podReferences(p).map((r) => [r.kind, r.name, r.optional, r.field])).toEqual([
      ['secrets', 's-vol', true, 'spec.volumes[0].secret.secretName'],
      ['configmaps', 'cm-vol', false, 'spec.volumes[1].configMap.name'],
      ['secrets', 's-proj', false, 'spec.volumes[2].projected.sources[0].secret.name'],
      ['configmaps', 'cm-proj', true, 'spec.volumes[2].projected.sources[1].configMap.name'],
      ['secrets', 's-env', false, 'spec.containers[0].env[0].valueFrom.secretKeyRef.name'],
      ['configmaps', 'cm-env', true, 'spec.containers[0].env[1].valueFrom.configMapKeyRef.name'],
      ['secrets', 's-from', false, 'spec.containers[0].envFrom[0].secretRef.name'],
      ['configmaps', 'cm-from', false, 'spec.containers[0].envFrom[1].configMapRef.name'],
      ['secrets', 's-init', true, 'spec.initContainers[0].envFrom[0].secretRef.name'],
      ['configmaps', 'cm-debug', true, 'spec.ephemeralContainers[0].envFrom[0].configMapRef.name'],
      ['secrets', 'pull', true, 'spec.imagePullSecrets[0].name'],
    ]);
  });
});

describe('referenceProblem', () => {
  const limits = { nodeName: 'fedlet-eu', maxReferences: 3 };
  it.each<[string, Partial<Pod['spec']>, string | undefined, string | undefined]>([
    ['valid names', { volumes: [{ name: 'a', secret: { secretName: 'db-creds.v2' } }] }, undefined, undefined],
    [
      'a path in a secret volume',
      { volumes: [{ name: 'a', secret: { secretName: '../kube-system/x' } }] },
      'InvalidReference',
      'spec.volumes[0].secret.secretName',
    ],
    [
      'an empty envFrom name',
      { containers: [c({ envFrom: [{ configMapRef: { name: '' } }] })] },
      'InvalidReference',
      'spec.containers[0].envFrom[0].configMapRef.name',
    ],
    [
      'upper case',
      { containers: [c({ env: [{ name: 'A', valueFrom: { secretKeyRef: { name: 'DB', key: 'k' } } }] })] },
      'InvalidReference',
      'spec.containers[0].env[0].valueFrom.secretKeyRef.name',
    ],
    [
      'a query string in an image pull secret',
      { imagePullSecrets: [{ name: 'x?watch=true' }] },
      'InvalidReference',
      'spec.imagePullSecrets[0].name',
    ],
    [
      'a name over 253 characters',
      { imagePullSecrets: [{ name: 'a'.repeat(254) }] },
      'InvalidReference',
      'spec.imagePullSecrets[0].name',
    ],
    [
      'four distinct objects over a limit of three',
      { containers: [c({ envFrom: ['a', 'b', 'c', 'd'].map((n) => ({ secretRef: { name: n } })) })] },
      'TooManyReferences',
      undefined,
    ],
    [
      'the same object referenced four times',
      { containers: [c({ envFrom: ['a', 'a', 'a', 'a'].map((n) => ({ secretRef: { name: n } })) })] },
      undefined,
      undefined,
    ],
  ])('%s', (_what, spec, reason, field) => {
    const r = referenceProblem(pod(spec), limits);
    expect(r?.reason).toBe(reason);
    if (field) expect(r?.field).toBe(field);
    if (reason === 'TooManyReferences') expect(r?.message).toMatch(/4 distinct .* at most 3 per pod \(maxReferencesPerPod\)/);
  });
});

describe('absent optional references are not passed down', () => {
  const absent: AbsentReferences = { configMaps: new Set(['cm-gone']), secrets: new Set(['db-creds']) };
  const lower = (spec: Partial<Pod['spec']>) => translatePod(pod(spec), { ...ctx, absent }).spec;
  const mentions = (x: unknown, name: string) => JSON.stringify(x).includes(`"${name}"`);

  it.each<[string, Partial<Pod['spec']>]>([
    [
      'secret volume',
      { volumes: [{ name: 'v', secret: { secretName: 'db-creds', optional: true, defaultMode: 0o400 } as Volume['secret'] }] },
    ],
    ['configMap volume', { volumes: [{ name: 'v', configMap: { name: 'cm-gone', optional: true } }] }],
    [
      'projected sources',
      {
        volumes: [
          {
            name: 'v',
            projected: {
              sources: [{ secret: { name: 'db-creds', optional: true } }, { configMap: { name: 'cm-gone', optional: true } }],
            },
          },
        ],
      },
    ],
    [
      'envFrom',
      {
        containers: [
          c({
            envFrom: [{ secretRef: { name: 'db-creds', optional: true } }, { configMapRef: { name: 'cm-gone', optional: true } }],
          }),
        ],
      },
    ],
    [
      'env valueFrom',
      {
        containers: [
          c({
            env: [
              { name: 'PW', valueFrom: { secretKeyRef: { name: 'db-creds', key: 'pw', optional: true } } },
              { name: 'CFG', valueFrom: { configMapKeyRef: { name: 'cm-gone', key: 'k', optional: true } } },
            ],
          }),
        ],
      },
    ],
    [
      'init container envFrom',
      { initContainers: [c({ name: 'i', envFrom: [{ secretRef: { name: 'db-creds', optional: true } }] })] },
    ],
    ['imagePullSecrets', { imagePullSecrets: [{ name: 'db-creds' }] }],
  ])('%s', (_what, spec) => {
    const l = lower(spec);
    expect(mentions(l, 'db-creds')).toBe(false);
    expect(mentions(l, 'cm-gone')).toBe(false);
  });

  it('an optional volume stays as an empty read-only volume of the same name and mode; present references stay', () => {
    const l = lower({
      volumes: [
        { name: 'v', secret: { secretName: 'db-creds', optional: true, defaultMode: 0o400 } as Volume['secret'] },
        { name: 'keep', secret: { secretName: 'present' } },
      ],
      containers: [c({ volumeMounts: [{ name: 'v', mountPath: '/creds' }], envFrom: [{ secretRef: { name: 'present' } }] })],
      imagePullSecrets: [{ name: 'db-creds' }, { name: 'present' }],
    });
    expect(l.volumes).toEqual([
      { name: 'v', projected: { sources: [], defaultMode: 0o400 } },
      { name: 'keep', secret: { secretName: 'present' } },
    ]);
    expect(l.containers[0]!.envFrom).toEqual([{ secretRef: { name: 'present' } }]);
    expect(l.imagePullSecrets).toEqual([{ name: 'present' }]);
  });
});

describe('volumes that name a Secret a lower kubelet would read', () => {
  it.each<[string, Volume, string]>([
    [
      'csi nodePublishSecretRef',
      { name: 'v', csi: { driver: 'x', nodePublishSecretRef: { name: 'db-creds' } } },
      'spec.volumes[0].csi.nodePublishSecretRef',
    ],
    [
      'cephfs secretRef',
      { name: 'v', cephfs: { monitors: ['m'], secretRef: { name: 'db-creds' } } },
      'spec.volumes[0].cephfs.secretRef',
    ],
    [
      'azureFile secretName',
      { name: 'v', azureFile: { secretName: 'db-creds', shareName: 's' } },
      'spec.volumes[0].azureFile.secretName',
    ],
    [
      'flexVolume secretRef',
      { name: 'v', flexVolume: { driver: 'd', secretRef: { name: 'db-creds' } } },
      'spec.volumes[0].flexVolume.secretRef',
    ],
  ])('%s is refused', (_what, v, field) => {
    const u = unsupportedField(pod({ volumes: [v] }), ctx);
    expect(u?.field).toBe(field);
    expect(u?.message).toMatch(/lower kubelet would read from lower namespace pay-eu/);
  });
  it('a csi volume without a Secret passes', () => {
    expect(unsupportedField(pod({ volumes: [{ name: 'v', csi: { driver: 'x' } }] }), ctx)).toBeUndefined();
  });
});

describe('apiPath', () => {
  it('escapes every name and refuses an empty one', () => {
    expect(apiPath`/api/v1/namespaces/${'a'}/secrets/${'x/../y?watch=1'}`).toBe(
      '/api/v1/namespaces/a/secrets/x%2F..%2Fy%3Fwatch%3D1',
    );
    expect(() => apiPath`/api/v1/namespaces/${'a'}/secrets/${''}`).toThrow(/empty name/);
    expect(['db-creds', 'a.b', '0'].every(isObjectName)).toBe(true);
    expect(['', 'A', 'a/b', '-a', 'a..b', 'a'.repeat(254)].some(isObjectName)).toBe(false);
  });
});
