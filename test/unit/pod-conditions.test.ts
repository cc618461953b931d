import { describe, expect, it } from 'vitest';
import type { Pod, PodCondition } from '../../src/kube/types.js';
import { failedStatus, gatedReady, mergeConditions, ownsCondition } from '../../src/pods/pod-conditions.js';
import { statusPatch } from '../../src/pods/status-patch.js';

const T0 = '2026-01-01T00:00:00Z';
const NOW = '2026-01-01T01:00:00.000Z';

function pod(conditions: PodCondition[], gates: string[] = []): Pod {
  return {
    metadata: { name: 'p', namespace: 'n' },
    spec: {
      containers: [{ name: 'c' }],
      ...(gates.length ? { readinessGates: gates.map((conditionType) => ({ conditionType })) } : {}),
    },
    status: { phase: 'Running', conditions },
  };
}
const c = (type: string, status: string, extra: Partial<PodCondition> = {}): PodCondition => ({
  type,
  status,
  lastTransitionTime: T0,
  ...extra,
});

describe('condition ownership', () => {
  it.each([
    ['Ready', true],
    ['ContainersReady', true],
    ['Initialized', true],
    ['PodReadyToStartContainers', true],
    ['PodResizePending', true],
    ['PodResizeInProgress', true],
    ['fedlet.io/LowerScheduled', true],
    ['PodScheduled', false],
    ['DisruptionTarget', false],
    ['example.com/gate', false],
  ])('%s owned: %s', (type, owned) => expect(ownsCondition(type)).toBe(owned));
});

describe('mergeConditions', () => {
  it("keeps others' conditions in place and replaces only owned ones", () => {
    const p = pod(
      [c('PodScheduled', 'True'), c('DisruptionTarget', 'True'), c('Ready', 'False'), c('example.com/gate', 'True')],
      ['example.com/gate'],
    );
    const out = mergeConditions(
      p,
      [c('PodScheduled', 'False'), c('Ready', 'True', { lastTransitionTime: '2026-01-01T00:30:00Z' })],
      NOW,
    );
    expect(out).toEqual([
      c('PodScheduled', 'True'),
      c('DisruptionTarget', 'True'),
      c('Ready', 'True', { lastTransitionTime: '2026-01-01T00:30:00Z' }),
      c('example.com/gate', 'True'),
    ]);
  });

  it('removes owned conditions no longer wanted, appends new owned ones', () => {
    const p = pod([c('PodScheduled', 'True'), c('fedlet.io/LowerAccepted', 'False')]);
    expect(mergeConditions(p, [c('ContainersReady', 'True')], NOW)).toEqual([
      c('PodScheduled', 'True'),
      c('ContainersReady', 'True'),
    ]);
  });

  it('holds Ready False while a readiness gate is missing or not True, with the reason', () => {
    const want = [c('ContainersReady', 'True'), c('Ready', 'True')];
    const missing = mergeConditions(pod([c('Ready', 'True')], ['example.com/gate']), want, NOW);
    expect(missing.find((x) => x.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'ReadinessGatesNotReady',
      message: 'corresponding condition of pod readiness gate "example.com/gate" does not exist.',
      lastTransitionTime: NOW,
    });
    const falseGate = mergeConditions(pod([c('example.com/gate', 'False')], ['example.com/gate']), want, NOW);
    expect(falseGate.find((x) => x.type === 'Ready')?.message).toBe(
      'the status of pod readiness gate "example.com/gate" is not "True", but False',
    );
    const trueGate = mergeConditions(pod([c('example.com/gate', 'True')], ['example.com/gate']), want, NOW);
    expect(trueGate.find((x) => x.type === 'Ready')?.status).toBe('True');
  });

  it('keeps lastTransitionTime when the status did not change, so a steady pod needs no write', () => {
    const p = pod(
      [c('Ready', 'False', { reason: 'ReadinessGatesNotReady', message: 'm' }), c('example.com/gate', 'False')],
      ['example.com/gate'],
    );
    p.status!.conditions![0]!.message = 'the status of pod readiness gate "example.com/gate" is not "True", but False';
    const want = { phase: 'Running', conditions: [c('Ready', 'True', { lastTransitionTime: '2026-01-01T00:59:00Z' })] };
    expect(statusPatch(p.status, { ...want, conditions: mergeConditions(p, want.conditions, NOW) })).toBeUndefined();
  });

  it('does not gate a Ready that is already False', () => {
    const base = c('Ready', 'False', { reason: 'ContainersNotReady' });
    expect(gatedReady(base, pod([], ['g']), [])).toBe(base);
  });
});

describe('failedStatus', () => {
  it('fails the pod with its containers not ready (READY 0/1) and running ones terminated', () => {
    const p = pod([c('PodScheduled', 'True'), c('Ready', 'True'), c('ContainersReady', 'True')]);
    p.status!.containerStatuses = [{ name: 'c', ready: true, started: true, state: { running: { startedAt: T0 } } }];
    const st = failedStatus(p, 'LowerPodDeleted', 'gone');
    expect(st.phase).toBe('Failed');
    expect(st.conditions?.find((x) => x.type === 'Ready')).toMatchObject({ status: 'False', reason: 'LowerPodDeleted' });
    expect(st.conditions?.find((x) => x.type === 'PodScheduled')?.status).toBe('True');
    expect(st.containerStatuses).toEqual([
      {
        name: 'c',
        ready: false,
        started: false,
        state: {
          terminated: expect.objectContaining({ exitCode: 137, reason: 'ContainerStatusUnknown', startedAt: T0 }) as unknown,
        },
      },
    ]);
  });

  it('adds Ready/ContainersReady False to a pod that never started', () => {
    const st = failedStatus(pod([c('PodScheduled', 'True')]), 'LowerRejected', 'refused');
    expect(st.conditions?.map((x) => `${x.type}=${x.status}`)).toEqual([
      'PodScheduled=True',
      'Ready=False',
      'ContainersReady=False',
    ]);
  });
});
