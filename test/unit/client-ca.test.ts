// The kubelet API follows the upper client CA bundle (kube-system/extension-apiserver-authentication):
// a republished bundle reaches it, and a watch that expires at once (the ConfigMap unchanged while other
// ConfigMaps move the API server's watch window on) is not re-read and re-watched in a tight loop.
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { followClientCA } from '../../src/kubelet/cert-rotation.js';
import type { KubeApi } from '../../src/kube/client.js';

const log = pino({ level: 'silent' });
const cm = (ca: string, rv: string) => ({
  metadata: { name: 'extension-apiserver-authentication', namespace: 'kube-system', resourceVersion: rv },
  data: { 'client-ca-file': ca },
});
const expired = { type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' } };

describe('followClientCA', () => {
  it('hands a republished bundle to the kubelet API, once, and reads the ConfigMap by name', async () => {
    const changes: string[] = [];
    const queries: unknown[] = [];
    const abort = new AbortController();
    const fake = {
      get: (_p: string, o: { query?: unknown }) => {
        queries.push(o.query);
        return Promise.resolve({ metadata: { resourceVersion: '100' }, items: [cm('A', '7')] });
      },
      async *watch(_p: string, q: unknown, signal: AbortSignal) {
        queries.push(q);
        yield { type: 'MODIFIED', object: cm('B', '101') };
        yield { type: 'MODIFIED', object: cm('B', '102') };
        await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
      },
    };
    const done = followClientCA(fake as unknown as KubeApi, 'A', (ca) => changes.push(ca), log, abort.signal);
    for (let i = 0; i < 100 && !changes.length; i++) await new Promise((r) => setTimeout(r, 10));
    abort.abort();
    await done;
    expect(changes).toEqual(['B']);
    expect(queries[0]).toMatchObject({ fieldSelector: 'metadata.name=extension-apiserver-authentication' });
    // The watch resumes from the list's version, not from the object's (7: long gone from the window).
    expect(queries[1]).toMatchObject({
      resourceVersion: '100',
      fieldSelector: 'metadata.name=extension-apiserver-authentication',
    });
  });

  it('a watch that expires right after every read is retried with backoff, not in a tight loop', async () => {
    let reads = 0;
    const abort = new AbortController();
    const fake = {
      // Answered on the next turn of the event loop, like a real server: a loop without backoff spins
      // but lets the test's timer fire.
      get: async () => {
        reads++;
        await new Promise((r) => setImmediate(r));
        return { metadata: { resourceVersion: String(reads) }, items: [cm('A', '7')] };
      },
      async *watch() {
        yield expired;
      },
    };
    const done = followClientCA(fake as unknown as KubeApi, 'A', () => undefined, log, abort.signal);
    await new Promise((r) => setTimeout(r, 1500));
    abort.abort();
    await done;
    // Read, watch, expired, read again without a pause was thousands of reads in this time.
    expect(reads).toBeGreaterThanOrEqual(2);
    expect(reads).toBeLessThanOrEqual(6);
  });
});
