// Property-based: for any pod an upper API server would accept, validation either names the unsupported
// field (a result value, exactly when the pod uses a feature fedlet refuses) or translation produces a
// lower pod with fedlet's invariants. Neither ever throws.
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dependencyRefs, translatePod, unsupportedField } from '../../provider/workload/translate.js';
import type { Pod } from '../../src/kube/types.js';
import { podArbitrary, shouldBeRefused } from '../support/pod-arbitrary.js';

const seed = process.env.FEDLET_FUZZ_SEED ? Number(process.env.FEDLET_FUZZ_SEED) : Date.now() % 2 ** 31;
const runs = Number(process.env.FEDLET_FUZZ_RUNS ?? 300);
const params = { seed, numRuns: runs };
const ctx = (allowDaemonSetPods: boolean) => ({
  nodeName: 'fedlet-eu',
  clusterName: 'eu',
  lowerNamespace: 'team-a-eu',
  allowDaemonSetPods,
});

/** Resolves a JSON path like spec.volumes[2].hostPath against an object. */
function at(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.replace(/\[(\d+)\]/g, '.$1').split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

describe('translation fuzz', { timeout: 300_000 }, () => {
  beforeAll(() => console.log(`translation fuzz: seed ${seed}, ${runs} runs (FEDLET_FUZZ_SEED / FEDLET_FUZZ_RUNS to replay)`));

  it('refuses exactly the unsupported pods, naming a field the pod has', () => {
    fc.assert(
      fc.property(podArbitrary({ nodeName: 'fedlet-eu', namespace: 'team-a' }), fc.boolean(), (pod, allowDs) => {
        const input = structuredClone(pod);
        const refusal = unsupportedField(pod, ctx(allowDs));
        if (!refusal) translatePod(pod, ctx(allowDs)); // must not throw
        expect(pod).toEqual(input); // neither mutates the cached upper pod
        expect(!!refusal).toBe(shouldBeRefused(pod, allowDs));
        if (refusal) {
          expect(at(pod, refusal.field)).toBeDefined();
          expect(refusal.message).toContain(`${pod.metadata.namespace}/${pod.metadata.name}`);
        }
      }),
      params,
    );
  });

  it('a translated pod keeps fedlet invariants: no upper binding or token, ownership, a valid hostname, consistent mounts', () => {
    fc.assert(
      fc.property(podArbitrary({ nodeName: 'fedlet-eu', namespace: 'team-a', refusals: false }), (pod) => {
        const l = translatePod(pod, ctx(false));
        expect(l.metadata.namespace).toBe('team-a-eu');
        expect(l.metadata.labels?.['fedlet.io/origin']).toBe('fedlet-eu');
        expect(l.metadata.labels?.['fedlet.io/upper-uid']).toBe(pod.metadata.uid);
        expect(l.spec.nodeName).toBeUndefined();
        expect(l.spec.nodeSelector).toBeUndefined();
        expect(l.spec.affinity).toBeUndefined();
        expect(l.spec.serviceAccountName).toBe('default');
        expect(l.spec.automountServiceAccountToken).toBe(false);
        expect(l.spec.hostname).toMatch(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/);
        const volumes = new Set((l.spec.volumes ?? []).map((v) => v.name));
        expect((l.spec.volumes ?? []).some((v) => v.projected?.sources?.some((s) => s.serviceAccountToken))).toBe(false);
        for (const c of [...l.spec.containers, ...(l.spec.initContainers ?? [])]) {
          for (const m of c.volumeMounts ?? []) expect(volumes.has(m.name)).toBe(true);
          for (const e of c.env ?? [])
            expect(e.valueFrom?.fieldRef?.fieldPath ?? '').not.toMatch(/^(metadata\.(name|namespace|uid)|spec\.)/);
        }
        expect(l.spec.containers.map((c) => c.name)).toEqual(pod.spec.containers.map((c) => c.name));
      }),
      params,
    );
  });

  it('dependency extraction never throws and only names objects the pod references', () => {
    fc.assert(
      fc.property(podArbitrary({ nodeName: 'fedlet-eu', namespace: 'team-a' }), (pod: Pod) => {
        const refs = dependencyRefs(pod);
        const text = JSON.stringify(pod.spec);
        for (const name of [...refs.configMaps.keys(), ...refs.secrets.keys()]) expect(text).toContain(`"${name}"`);
        expect(refs.configMaps.has('kube-root-ca.crt')).toBe(false); // part of the dropped token volume
      }),
      params,
    );
  });
});
