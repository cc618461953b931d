import { describe, expect, it } from 'vitest';
import pino from 'pino';
import type { KubeClient } from '../../src/kube/client.js';
import { collectNamespaces, namespaceCandidates } from '../../provider/namespaces/namespace-gc.js';

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
