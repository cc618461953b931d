import { afterEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { Pod, Toleration } from '../../src/kube/types.js';
import { VIRTUAL_NODE_TOLERATION } from '../../scheduler-plugin/admission-webhook.js';
import { repairPatch, TolerationRepair } from '../../scheduler-plugin/toleration-repair.js';
import { FakeKube } from './support/fake-kube.js';

const log = pino({ level: 'silent' });
const PODS = '/api/v1/namespaces/n/pods';

const pod = (name: string, spec: Partial<Pod['spec']> = {}, meta: Partial<Pod['metadata']> = {}): Pod => ({
  metadata: { name, namespace: 'n', resourceVersion: '7', ...meta },
  spec: { containers: [{ name: 'c' }], ...spec },
});
const dsOwned = { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'd', uid: 'u', controller: true }] };
const other: Toleration = { key: 'x', operator: 'Exists' };

describe('repairPatch', () => {
  it('adds the toleration to an unscheduled plain pod, guarded by its resourceVersion', () => {
    expect(repairPatch(pod('p'))).toEqual([
      { op: 'test', path: '/metadata/resourceVersion', value: '7' },
      { op: 'add', path: '/spec/tolerations', value: [VIRTUAL_NODE_TOLERATION] },
    ]);
  });
  it('appends to tolerations the pod has', () => {
    expect(repairPatch(pod('p', { tolerations: [other] }))?.[1]).toEqual({
      op: 'add',
      path: '/spec/tolerations/-',
      value: VIRTUAL_NODE_TOLERATION,
    });
  });
  it('leaves alone DaemonSet pods, tolerating pods, scheduled pods and pods being deleted', () => {
    expect(repairPatch(pod('p', {}, dsOwned))).toBeUndefined();
    expect(repairPatch(pod('p', { tolerations: [VIRTUAL_NODE_TOLERATION] }))).toBeUndefined();
    expect(repairPatch(pod('p', { tolerations: [{ operator: 'Exists' }] }))).toBeUndefined();
    expect(repairPatch(pod('p', { nodeName: 'n1' }))).toBeUndefined();
    expect(repairPatch(pod('p', {}, { deletionTimestamp: '2026-01-01T00:00:00Z' }))).toBeUndefined();
  });
});

describe('TolerationRepair', () => {
  let repair: TolerationRepair | undefined;
  afterEach(async () => {
    await repair?.stop();
    repair = undefined;
  });

  it('adds the toleration to unscheduled pods the webhook missed, and to nothing else', async () => {
    const api = new FakeKube();
    for (const p of [
      pod('missed'),
      pod('ds', {}, dsOwned),
      pod('tolerating', { tolerations: [VIRTUAL_NODE_TOLERATION] }),
      pod('bound', { nodeName: 'n1' }),
    ])
      api.seed(PODS, { ...p, metadata: { ...p.metadata, resourceVersion: undefined } });
    const registry = new Registry();
    repair = new TolerationRepair({ upper: api, log, registry });
    await repair.start();
    await vi.waitFor(() => expect(api.peek<Pod>(`${PODS}/missed`)?.spec.tolerations).toEqual([VIRTUAL_NODE_TOLERATION]));
    // A pod the webhook misses later is caught from the watch.
    api.seed(PODS, { metadata: { name: 'later', namespace: 'n' }, spec: { containers: [{ name: 'c' }] } });
    await vi.waitFor(() => expect(api.peek<Pod>(`${PODS}/later`)?.spec.tolerations).toEqual([VIRTUAL_NODE_TOLERATION]));
    expect(api.peek<Pod>(`${PODS}/ds`)?.spec.tolerations).toBeUndefined();
    expect(api.peek<Pod>(`${PODS}/bound`)?.spec.tolerations).toBeUndefined();
    expect(api.calls.filter((c) => c.verb === 'PATCH').map((c) => c.path)).toEqual([`${PODS}/missed`, `${PODS}/later`]);
    expect(await registry.getSingleMetricAsString('fedlet_extender_tolerations_repaired_total')).toMatch(/ 2$/m);
  });

  it('never overwrites a concurrent change: a failed resourceVersion test is retried on the newer pod', async () => {
    const api = new FakeKube();
    api.seed(PODS, { metadata: { name: 'p', namespace: 'n' }, spec: { containers: [{ name: 'c' }] } });
    let raced = false;
    api.beforeRequest = (call) => {
      if (call.verb !== 'PATCH' || raced) return;
      raced = true; // another writer adds a toleration just before our patch lands
      const cur = api.peek<Pod>(`${PODS}/p`)!;
      api.seed(PODS, { ...cur, spec: { ...cur.spec, tolerations: [other] } });
    };
    repair = new TolerationRepair({ upper: api, log });
    await repair.start();
    await vi.waitFor(() => expect(api.peek<Pod>(`${PODS}/p`)?.spec.tolerations).toEqual([other, VIRTUAL_NODE_TOLERATION]), {
      timeout: 5000,
    });
    expect(api.calls.filter((c) => c.verb === 'PATCH')).toHaveLength(2);
  });
});
