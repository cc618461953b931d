import { describe, expect, it } from 'vitest';
import {
  chooseLowerClass,
  desiredLowerClaim,
  desiredUpperVolume,
  expansionAction,
  unsupportedClaim,
  upperClaimStatus,
  parseLowerClaimLocation,
  podClaims,
  releaseAction,
} from '../../provider/storage/claim-objects.js';
import { translatePod, unsupportedField } from '../../provider/workload/translate.js';
import { storageRefusal, unboundClaimClasses } from '../../scheduler-plugin/storage.js';
import type { ClusterSummary } from '../../src/scheduling/summary.js';
import type { ClaimObj, Pod } from '../../src/kube/types.js';

const cls = (name: string, extra: Record<string, unknown> = {}) => ({ metadata: { name, ...extra } });
const def = (name: string, created = '2026-01-01T00:00:00Z') =>
  cls(name, { annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' }, creationTimestamp: created });

describe('chooseLowerClass', () => {
  it.each([
    ['mapped class that exists', { fedlet: 'ssd' }, [cls('ssd'), def('local')], { lower: 'ssd' }],
    ['unmapped: the default class', {}, [cls('ssd'), def('local')], { lower: 'local' }],
    [
      'several defaults: the newest',
      {},
      [def('old', '2026-01-01T00:00:00Z'), def('new', '2026-02-01T00:00:00Z')],
      { lower: 'new' },
    ],
  ])('%s', (_n, map, classes, want) => expect(chooseLowerClass('fedlet', map, classes, 'eu')).toEqual(want));

  it('a mapped class that does not exist is refused with a reason naming it', () => {
    const r = chooseLowerClass('fedlet', { fedlet: 'nope' }, [def('local')], 'eu');
    expect(r).toEqual({ reason: expect.stringContaining('lower class nope') });
    expect('reason' in r && r.reason).toMatch(/does not exist in lower cluster eu/);
  });
  it('no default class and no map entry is refused', () => {
    expect(chooseLowerClass('fedlet', {}, [cls('ssd')], 'eu')).toEqual({
      reason: expect.stringMatching(/no default storage class/),
    });
  });
});

const claim: ClaimObj = {
  metadata: { name: 'data-web-0', namespace: 'shop', uid: 'c-1' },
  spec: {
    storageClassName: 'fedlet',
    accessModes: ['ReadWriteOnce'],
    volumeMode: 'Block',
    resources: { requests: { storage: '5Gi' } },
  },
};

describe('objects fedlet creates for a claim', () => {
  it('the lower claim: same name in the mapped namespace, lower class, size/modes/volumeMode, ownership', () => {
    expect(desiredLowerClaim(claim, 'shop-eu', 'local', 'fedlet-eu')).toEqual({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name: 'data-web-0',
        namespace: 'shop-eu',
        labels: { 'fedlet.io/origin': 'fedlet-eu', 'fedlet.io/upper-uid': 'c-1' },
        annotations: {
          'fedlet.io/upper-namespace': 'shop',
          'fedlet.io/upper-name': 'data-web-0',
          'fedlet.io/upper-pv': 'fedlet-c-1',
        },
      },
      spec: {
        storageClassName: 'local',
        accessModes: ['ReadWriteOnce'],
        volumeMode: 'Block',
        resources: { requests: { storage: '5Gi' } },
      },
    });
  });
  it('the upper PV: bound to the claim, pinned to the virtual node, reclaim policy of the class', () => {
    const pv = desiredUpperVolume(
      claim,
      { metadata: { name: 'fedlet' }, reclaimPolicy: 'Retain' },
      {
        nodeName: 'fedlet-eu',
        cluster: 'eu',
        lowerNs: 'shop-eu',
      },
    );
    expect(pv.metadata?.name).toBe('fedlet-c-1');
    expect(pv.metadata?.annotations).toEqual({
      'pv.kubernetes.io/provisioned-by': 'fedlet.io/lower-cluster',
      'fedlet.io/lower-claim': 'eu/shop-eu/data-web-0',
    });
    expect(pv.spec).toMatchObject({
      capacity: { storage: '5Gi' },
      accessModes: ['ReadWriteOnce'],
      volumeMode: 'Block',
      claimRef: { namespace: 'shop', name: 'data-web-0', uid: 'c-1' },
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: 'fedlet',
      nodeAffinity: {
        required: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['fedlet-eu'] }] }],
        },
      },
    });
  });
  it('lower claim locations round-trip; malformed ones are rejected', () => {
    expect(parseLowerClaimLocation('eu/shop-eu/data')).toEqual({ cluster: 'eu', namespace: 'shop-eu', name: 'data' });
    expect(parseLowerClaimLocation('eu/data')).toBeUndefined();
    expect(parseLowerClaimLocation(undefined)).toBeUndefined();
  });
  it.each([
    [{ status: { phase: 'Bound' } }, 'none'],
    [{ status: { phase: 'Released' }, spec: { persistentVolumeReclaimPolicy: 'Delete' } }, 'delete'],
    [{ status: { phase: 'Released' }, spec: { persistentVolumeReclaimPolicy: 'Retain' } }, 'retain'],
  ] as const)('release action %j → %s', (pv, want) => expect(releaseAction(pv)).toBe(want));
});

const pod = (volumes: Pod['spec']['volumes']): Pod => ({
  metadata: { name: 'web-0', namespace: 'shop', uid: 'p-1' },
  spec: { containers: [{ name: 'c', image: 'img' }], volumes },
});
const ephemeral = (storageClassName?: string) => ({
  volumeClaimTemplate: {
    spec: { ...(storageClassName ? { storageClassName } : {}), resources: { requests: { storage: '1Gi' } } },
  },
});
const tctx = { nodeName: 'fedlet-eu', clusterName: 'eu', lowerNamespace: 'shop', allowDaemonSetPods: false };

describe('pod volumes backed by lower claims', () => {
  const p = pod([
    { name: 'data', persistentVolumeClaim: { claimName: 'data-web-0' } },
    { name: 'tmp', ephemeral: ephemeral('fedlet') },
  ]);
  it('lists the claims of claim volumes and generic ephemeral volumes', () => {
    expect(podClaims(p)).toEqual([
      { volume: 'data', claim: 'data-web-0', ephemeral: false },
      { volume: 'tmp', claim: 'web-0-tmp', ephemeral: true },
    ]);
  });
  it('translation mounts the lower claims; an ephemeral volume becomes a plain claim volume', () => {
    const out = translatePod(p, {
      ...tctx,
      lowerClaims: new Map([
        ['data-web-0', 'data-web-0'],
        ['web-0-tmp', 'web-0-tmp'],
      ]),
    });
    expect(out.spec.volumes).toEqual([
      { name: 'data', persistentVolumeClaim: { claimName: 'data-web-0' } },
      { name: 'tmp', persistentVolumeClaim: { claimName: 'web-0-tmp' } },
    ]);
  });
  it('claims of other classes keep a clear refusal naming the field', () => {
    const refusal = unsupportedField(p, { ...tctx, lowerClaims: new Map([['web-0-tmp', 'web-0-tmp']]) });
    expect(refusal?.field).toBe('spec.volumes[0].persistentVolumeClaim');
    expect(refusal?.message).toMatch(/persistentVolumeClaim "data-web-0", which is not of a fedlet storage class/);
    expect(unsupportedField(p, { ...tctx, lowerClaims: new Map([['data-web-0', 'd']]) })?.message).toMatch(
      /ephemeral volume "tmp" does not use a fedlet storage class/,
    );
  });
});

describe('extender storage check', () => {
  const summary = (storage: ClusterSummary['storage']): ClusterSummary => ({
    v: 1,
    node: 'fedlet-eu',
    cluster: 'eu',
    generated: '',
    labelSets: [],
    taintSets: [],
    nodes: [],
    avoid: {},
    storage,
  });
  const claims: Record<string, { storageClassName?: string; volumeName?: string }> = {
    'shop/unbound': { storageClassName: 'fedlet' },
    'shop/bound': { storageClassName: 'fedlet', volumeName: 'pv-1' },
  };
  const claimOf = (ns: string, n: string) => claims[`${ns}/${n}`];
  it('collects the classes of unbound claims and of ephemeral templates', () => {
    const p = pod([
      { name: 'a', persistentVolumeClaim: { claimName: 'unbound' } },
      { name: 'b', persistentVolumeClaim: { claimName: 'bound' } },
      { name: 'c', ephemeral: ephemeral('fast') },
    ]);
    expect(unboundClaimClasses(p, claimOf).sort()).toEqual(['fast', 'fedlet']);
  });
  it('refuses a cluster without a lower class for one of them, with its reason', () => {
    const s = summary({ fedlet: { lower: 'local' }, fast: { reason: 'no default class' } });
    expect(storageRefusal(['fedlet'], s)).toBeUndefined();
    expect(storageRefusal(['fedlet', 'fast'], s)).toBe(
      'no storage for claims of class fast in lower cluster eu: no default class',
    );
    // Classes not provisioned by fedlet, and summaries of fedlets without storage, are left alone.
    expect(storageRefusal(['other'], s)).toBeUndefined();
    expect(storageRefusal(['fast'], summary(undefined))).toBeUndefined();
  });
});

describe('claim expansion', () => {
  const upperOf = (size: string, status: ClaimObj['status'] = { phase: 'Bound', capacity: { storage: '1Gi' } }): ClaimObj => ({
    metadata: { name: 'data', namespace: 'shop', uid: 'u' },
    spec: { storageClassName: 'fedlet', resources: { requests: { storage: size } } },
    status,
  });
  const lowerOf = (size: string, status: ClaimObj['status'] = { phase: 'Bound', capacity: { storage: size } }): ClaimObj => ({
    metadata: { name: 'data', namespace: 'shop-eu' },
    spec: { storageClassName: 'local', resources: { requests: { storage: size } } },
    status,
  });
  const growable = { metadata: { name: 'local' }, allowVolumeExpansion: true };

  it.each([
    ['same size: nothing', '1Gi', '1Gi', growable, { kind: 'none' }],
    ['smaller (the API refuses shrinking anyway): nothing', '512Mi', '1Gi', growable, { kind: 'none' }],
    ['larger, the lower class allows it: grow the lower claim', '1536Mi', '1Gi', growable, { kind: 'expand', size: '1536Mi' }],
  ])('%s', (_n, want, has, lowerClass, out) =>
    expect(expansionAction(upperOf(want), lowerOf(has), lowerClass, 'eu')).toEqual(out),
  );

  it.each([
    [
      'a class without allowVolumeExpansion',
      { metadata: { name: 'local' } },
      /lower storage class local .* does not allow volume expansion; the claim stays at 1Gi/,
    ],
    ['no class', undefined, /does not exist there/],
  ])('larger, refused: %s', (_n, lowerClass, msg) => {
    const r = expansionAction(upperOf('2Gi'), lowerOf('1Gi'), lowerClass, 'eu');
    expect(r.kind).toBe('refuse');
    expect(r.kind === 'refuse' && r.message).toMatch(msg);
    expect(r.kind === 'refuse' && r.message).toMatch(/lower claim shop-eu\/data in cluster eu/);
  });

  it('the upper claim shows the lower capacity once larger, never smaller', () => {
    expect(upperClaimStatus(upperOf('2Gi'), lowerOf('2Gi'), undefined, 't')).toEqual({
      capacity: { storage: '2Gi' },
      conditions: [],
    });
    expect(upperClaimStatus(upperOf('1Gi'), lowerOf('1Gi'), undefined, 't')).toBeUndefined();
    expect(
      upperClaimStatus(upperOf('2Gi', { phase: 'Bound', capacity: { storage: '2Gi' } }), lowerOf('1Gi'), undefined, 't'),
    ).toBeUndefined();
    // Not bound below yet: nothing to mirror.
    expect(upperClaimStatus(upperOf('1Gi'), lowerOf('1Gi', { phase: 'Pending' }), undefined, 't')).toBeUndefined();
  });

  it('mirrors the lower resize conditions and sets ControllerResizeError while refused (once, kept stable)', () => {
    const resizing = { type: 'Resizing', status: 'True', lastTransitionTime: 'x' };
    expect(
      upperClaimStatus(
        upperOf('2Gi'),
        lowerOf('1Gi', { phase: 'Bound', capacity: { storage: '1Gi' }, conditions: [resizing] }),
        undefined,
        't',
      ),
    ).toEqual({ conditions: [resizing] });
    const refused = upperClaimStatus(upperOf('2Gi'), lowerOf('1Gi'), 'no growth here', 't');
    expect(refused).toEqual({
      conditions: [
        {
          type: 'ControllerResizeError',
          status: 'True',
          reason: 'ExpansionRefused',
          message: 'no growth here',
          lastProbeTime: null,
          lastTransitionTime: 't',
        },
      ],
    });
    // Written once: the same refusal later changes nothing.
    const upper = upperOf('2Gi', { phase: 'Bound', capacity: { storage: '1Gi' }, conditions: refused!.conditions });
    expect(upperClaimStatus(upper, lowerOf('1Gi'), 'no growth here', 'later')).toBeUndefined();
    // Lifted (e.g. the request went back): the condition goes.
    expect(upperClaimStatus(upper, lowerOf('1Gi'), undefined, 'later')).toEqual({ conditions: [] });
  });
});

describe('unsupportedClaim', () => {
  it('a plain claim is fine', () => expect(unsupportedClaim(claim)).toBeUndefined());
  it.each([
    [
      'a snapshot',
      { dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'snap-1' } },
      /VolumeSnapshot snap-1/,
    ],
    ['a clone', { dataSourceRef: { kind: 'PersistentVolumeClaim', name: 'data-0' } }, /PersistentVolumeClaim data-0/],
  ])('%s is refused, naming it', (_n, extra, re) => {
    const msg = unsupportedClaim({ ...claim, spec: { ...claim.spec, ...extra } });
    expect(msg).toMatch(re);
    expect(msg).toMatch(/not supported by fedlet storage classes; the lower claim would start empty/);
  });
});
