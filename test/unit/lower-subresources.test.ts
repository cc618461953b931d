import { describe, expect, it } from 'vitest';
import { ephemeralContainersPatch, resizePatch } from '../../provider/workload/lower-subresources.js';
import { dependencyRefs, lowerEphemeralContainers, translatePod } from '../../provider/workload/translate.js';
import type { Container, Pod } from '../../src/kube/types.js';

const pod = (containers: Container[], extra: Partial<Pod['spec']> = {}): Pod => ({
  metadata: { name: 'p', namespace: 'ns', uid: 'u' },
  spec: { containers, ...extra },
});
const app = (resources?: Container['resources']): Container => ({
  name: 'app',
  image: 'img',
  ...(resources ? { resources } : {}),
});

describe('ephemeralContainersPatch', () => {
  const debug = { name: 'debugger-1', image: 'busybox', targetContainerName: 'app' };
  it.each([
    ['a new one is added', [], [debug], ['debugger-1']],
    ['one the lower pod has is never sent again', [{ name: 'debugger-1' }], [debug], undefined],
    ['only the missing ones', [{ name: 'debugger-1' }], [debug, { name: 'debugger-2', image: 'b' }], ['debugger-2']],
    ['none wanted', [], [], undefined],
  ] as Array<[string, Container[], Container[], string[] | undefined]>)('%s', (_what, have, want, names) => {
    const patch = ephemeralContainersPatch(pod([app()], { ephemeralContainers: have }), want);
    expect(patch?.spec.ephemeralContainers.map((c) => c.name)).toEqual(names);
  });
  it('sends the whole translated container', () => {
    expect(ephemeralContainersPatch(pod([app()]), [debug])).toEqual({ spec: { ephemeralContainers: [debug] } });
  });
});

describe('resizePatch', () => {
  const r = (cpu: string, mem?: string) => ({ requests: { cpu, ...(mem ? { memory: mem } : {}) }, limits: { cpu } });
  it('nothing when the resources agree', () => {
    expect(resizePatch(pod([app(r('100m'))]), pod([app(r('100m'))]))).toBeUndefined();
  });
  it('the changed container with its whole upper resources', () => {
    expect(resizePatch(pod([app(r('100m'))]), pod([app(r('200m', '64Mi'))]))).toEqual({
      spec: { containers: [{ name: 'app', resources: r('200m', '64Mi') }] },
    });
  });
  it('what the lower cluster added itself (a LimitRange default) is not undone', () => {
    const lower = app({ requests: { cpu: '100m', memory: '32Mi' }, limits: { memory: '32Mi' } });
    expect(resizePatch(pod([lower]), pod([app({ requests: { cpu: '100m' } })]))).toBeUndefined();
  });
  it('sidecars (init containers) resize too; containers the lower pod lacks are left alone', () => {
    const side = { name: 'side', image: 'i', restartPolicy: 'Always', resources: r('50m') };
    const patch = resizePatch(
      pod([app(r('1'))], { initContainers: [side] }),
      pod([app(r('1')), { name: 'new', image: 'x' }], { initContainers: [{ ...side, resources: r('60m') }] }),
    );
    expect(patch).toEqual({ spec: { initContainers: [{ name: 'side', resources: r('60m') }] } });
  });
});

describe('ephemeral containers in translation', () => {
  const upper = pod([app()], {
    nodeName: 'fedlet-eu',
    ephemeralContainers: [
      {
        name: 'debugger-1',
        image: 'busybox',
        targetContainerName: 'app',
        env: [
          { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
          { name: 'C', valueFrom: { configMapKeyRef: { name: 'only-debug', key: 'k' } } },
        ],
      },
    ],
  });
  const ctx = { nodeName: 'fedlet-eu', clusterName: 'eu', lowerNamespace: 'ns', allowDaemonSetPods: false };
  it('the lower pod is created without them (the API refuses them on create)', () => {
    expect(translatePod(upper, ctx).spec.ephemeralContainers).toBeUndefined();
  });
  it('they are translated like the other containers (downward API rewritten)', () => {
    const [c] = lowerEphemeralContainers(upper, ctx);
    expect(c).toMatchObject({ name: 'debugger-1', targetContainerName: 'app' });
    expect(c?.env?.[0]).toEqual({ name: 'NODE', value: 'fedlet-eu' });
  });
  it('their ConfigMaps are reflected but optional: a missing one never holds back the running pod', () => {
    expect(dependencyRefs(upper).configMaps.get('only-debug')).toBe(true);
  });
});
