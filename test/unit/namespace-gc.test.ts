import { describe, expect, it } from 'vitest';
import pino from 'pino';
import type { KubeClient } from '../../src/kube/client.js';
import { collectNamespaces, NamespaceCollector, namespaceCandidates } from '../../provider/namespaces/namespace-gc.js';
import { FakeKube } from './support/fake-kube.js';

const ns = (name: string, extra: Record<string, unknown> = {}) => ({ metadata: { name, uid: `uid-${name}`, ...extra } });

describe('namespaceCandidates', () => {
  it('only ours, not terminating, not wanted by a live pod', () => {
    const owned = [ns('a'), ns('b'), ns('c', { deletionTimestamp: '2026-01-01T00:00:00Z' })];
    expect(namespaceCandidates(owned, new Set(['b']))).toEqual(['a']);
  });
});

describe('collectNamespaces', () => {
  it('lists only namespaces labelled as ours and deletes those holding no pod and no claim, with a uid precondition', async () => {
    const calls: string[] = [];
    const fake = {
      get: (path: string, opts?: { query?: Record<string, unknown> }) => {
        calls.push(`GET ${path} ${JSON.stringify(opts?.query ?? {})}`);
        if (path === '/api/v1/namespaces') return Promise.resolve({ items: [ns('empty'), ns('busy'), ns('data'), ns('wanted')] });
        if (path === '/api/v1/namespaces/busy/pods') return Promise.resolve({ items: [{ metadata: { name: 'x' } }] });
        if (path === '/api/v1/namespaces/data/persistentvolumeclaims')
          return Promise.resolve({ items: [{ metadata: { name: 'data-web-0' } }] });
        return Promise.resolve({ items: [] });
      },
      delete: (path: string, body: unknown) => {
        calls.push(`DELETE ${path} ${JSON.stringify(body)}`);
        return Promise.resolve({});
      },
    } as unknown as KubeClient;
    const gone = await collectNamespaces(
      { lower: fake, nodeName: 'fedlet-x', log: pino({ level: 'silent' }) },
      new Set(['wanted']),
    );
    expect(gone).toEqual(['empty']);
    expect(calls[0]).toContain('"labelSelector":"fedlet.io/origin=fedlet-x"');
    expect(calls).toContain(
      'DELETE /api/v1/namespaces/empty {"apiVersion":"v1","kind":"DeleteOptions","preconditions":{"uid":"uid-empty"}}',
    );
    expect(calls.some((c) => c.startsWith('DELETE /api/v1/namespaces/busy'))).toBe(false);
    // A StatefulSet scaled to zero leaves only its claims: their data keeps the namespace.
    expect(calls.some((c) => c.startsWith('DELETE /api/v1/namespaces/data'))).toBe(false);
    expect(calls.some((c) => c.includes('/namespaces/wanted/'))).toBe(false);
  });
});

describe('NamespaceCollector (grace period)', () => {
  const setup = (graceMs: number) => {
    const lower = new FakeKube();
    let now = 0;
    const gc = new NamespaceCollector({
      lower: lower as unknown as KubeClient,
      nodeName: 'fedlet-x',
      graceMs,
      now: () => now,
      log: pino({ level: 'silent' }),
    });
    lower.seed('/api/v1/namespaces', { metadata: { name: 'shop-x', labels: { 'fedlet.io/origin': 'fedlet-x' } } });
    return { lower, gc, at: (t: number) => (now = t) };
  };
  const exists = (lower: FakeKube) => lower.peek('/api/v1/namespaces/shop-x') !== undefined;

  it('keeps an unneeded namespace for the grace period, then removes it', async () => {
    const { lower, gc, at } = setup(300_000);
    expect(await gc.collect(new Set())).toEqual({ deleted: [], againAfterMs: 300_000 });
    at(299_000);
    expect(await gc.collect(new Set())).toEqual({ deleted: [], againAfterMs: 1000 });
    expect(exists(lower)).toBe(true);
    at(300_000);
    expect(await gc.collect(new Set())).toEqual({ deleted: ['shop-x'] });
    expect(exists(lower)).toBe(false);
  });

  it('a namespace needed again in between starts its grace anew when it is next unneeded', async () => {
    const { lower, gc, at } = setup(300_000);
    await gc.collect(new Set());
    at(200_000);
    expect(await gc.collect(new Set(['shop-x']))).toEqual({ deleted: [] });
    at(350_000);
    expect(await gc.collect(new Set())).toEqual({ deleted: [], againAfterMs: 300_000 });
    expect(exists(lower)).toBe(true);
  });

  it('with no grace it is removed at once; one still holding a pod is kept', async () => {
    const { lower, gc } = setup(0);
    lower.seed('/api/v1/namespaces/shop-x/pods', { metadata: { name: 'theirs', namespace: 'shop-x' } });
    expect(await gc.collect(new Set())).toEqual({ deleted: [] });
    await lower.delete('/api/v1/namespaces/shop-x/pods/theirs');
    expect(await gc.collect(new Set())).toEqual({ deleted: ['shop-x'] });
  });
});
