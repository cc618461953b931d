import { describe, expect, it } from 'vitest';
import {
  decidePodClasses,
  REASON_PRIORITY_CLASS_NOT_FOUND,
  REASON_RUNTIME_CLASS_NOT_FOUND,
} from '../../provider/workload/lower-classes.js';
import { translatePod } from '../../provider/workload/translate.js';
import type { Pod } from '../../src/kube/types.js';

const below = { runtimeClassName: new Set(['kata', 'runc-low']), priorityClassName: new Set(['high', 'prio-low']) };
const has = (f: keyof typeof below, name: string) => below[f].has(name);
const noMaps = { runtimeClassName: {}, priorityClassName: {} };

describe('decidePodClasses', () => {
  it.each([
    ['no classes', {}, noMaps, {}, []],
    [
      'same name below',
      { runtimeClassName: 'kata', priorityClassName: 'high' },
      noMaps,
      { runtimeClassName: 'kata', priorityClassName: 'high' },
      [],
    ],
    [
      'mapped names',
      { runtimeClassName: 'runc', priorityClassName: 'prio' },
      { runtimeClassName: { runc: 'runc-low' }, priorityClassName: { prio: 'prio-low' } },
      { runtimeClassName: 'runc-low', priorityClassName: 'prio-low' },
      [],
    ],
    [
      'missing below',
      { runtimeClassName: 'gvisor', priorityClassName: 'urgent' },
      noMaps,
      {},
      [REASON_RUNTIME_CLASS_NOT_FOUND, REASON_PRIORITY_CLASS_NOT_FOUND],
    ],
    // A map decides the lower name: a class of the upper name below does not stand in for a missing mapped one.
    [
      'mapped to a missing class',
      { runtimeClassName: 'kata' },
      { runtimeClassName: { kata: 'kata-v2' }, priorityClassName: {} },
      {},
      [REASON_RUNTIME_CLASS_NOT_FOUND],
    ],
  ] as const)('%s', (_name, spec, maps, kept, reasons) => {
    const d = decidePodClasses(spec, maps, has, 'eu');
    expect({ runtimeClassName: d.runtimeClassName, priorityClassName: d.priorityClassName }).toEqual({
      runtimeClassName: undefined,
      priorityClassName: undefined,
      ...kept,
    });
    expect(d.dropped.map((e) => e.reason)).toEqual(reasons);
    for (const e of d.dropped) expect(e.type).toBe('Warning');
  });

  it('the event names the lower cluster, the class, the map and the fields dropped with it', () => {
    const d = decidePodClasses(
      { runtimeClassName: 'kata', priorityClassName: 'urgent' },
      { runtimeClassName: { kata: 'kata-v2' }, priorityClassName: {} },
      has,
      'eu',
    );
    expect(d.dropped[0]!.message).toBe(
      'lower cluster eu has no RuntimeClass "kata-v2" (runtimeClassMap for "kata"): the pod runs there without runtimeClassName and overhead',
    );
    expect(d.dropped[1]!.message).toMatch(
      /^lower cluster eu has no PriorityClass "urgent": the pod runs there without priorityClassName, priority and preemptionPolicy/,
    );
  });
});

describe('translatePod with classes', () => {
  const pod = (): Pod => ({
    metadata: { name: 'p', namespace: 'ns', uid: 'u' },
    spec: {
      containers: [{ name: 'c', image: 'img' }],
      runtimeClassName: 'kata',
      overhead: { cpu: '250m' },
      priorityClassName: 'high',
      priority: 1000,
      preemptionPolicy: 'Never',
    },
  });
  const ctx = { nodeName: 'fedlet-eu', clusterName: 'eu', lowerNamespace: 'ns', allowDaemonSetPods: false };

  it('keeps the lower class names; what the upper admission derived from the classes never goes down', () => {
    const l = translatePod(pod(), { ...ctx, classes: { runtimeClassName: 'kata-low', priorityClassName: 'high-low' } });
    expect(l.spec.runtimeClassName).toBe('kata-low');
    expect(l.spec.priorityClassName).toBe('high-low');
    for (const k of ['overhead', 'priority', 'preemptionPolicy']) expect(l.spec).not.toHaveProperty(k);
  });

  it('without lower classes, drops the class names with their dependent fields', () => {
    const l = translatePod(pod(), { ...ctx, classes: {} });
    for (const k of ['runtimeClassName', 'overhead', 'priorityClassName', 'priority', 'preemptionPolicy'])
      expect(l.spec).not.toHaveProperty(k);
  });
});
