import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { KubeClient } from '../../src/kube/client.js';
import { removeRemoteSlices, remoteSlices } from '../../provider/exposition/global-endpoints.js';
import type { EndpointSlice } from '../../src/kube/types.js';

const slice = (
  name: string,
  endpoints: EndpointSlice['endpoints'],
  ports = [{ name: 'http', protocol: 'TCP', port: 8080 }],
): EndpointSlice => ({
  metadata: { name, namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
  addressType: 'IPv4',
  ports,
  endpoints,
});

describe('remoteSlices', () => {
  const ready = new Set(['fedlet-b', 'real-node']);
  const nodeReady = (n: string) => ready.has(n);

  it('lists endpoints of other nodes at their upper addresses, never local ones', () => {
    const out = remoteSlices(
      'web',
      [
        slice('web-1', [
          { addresses: ['10.101.0.5'], nodeName: 'fedlet-a', conditions: { ready: true } },
          {
            addresses: ['10.102.0.7'],
            nodeName: 'fedlet-b',
            conditions: { ready: true },
            hostname: 'web-0',
            targetRef: { kind: 'Pod' },
          },
          { addresses: ['10.0.0.9'], nodeName: 'real-node', conditions: { ready: false, serving: true, terminating: true } },
        ]),
      ],
      'fedlet-a',
      nodeReady,
    );
    expect(out).toHaveLength(1);
    expect(out[0]!.name).toMatch(/^web-fedlet-[0-9a-f]{8}$/);
    expect(out[0]!.ports).toEqual([{ name: 'http', protocol: 'TCP', port: 8080 }]);
    expect(out[0]!.endpoints).toEqual([
      { addresses: ['10.0.0.9'], conditions: { ready: false, serving: true, terminating: true } },
      { addresses: ['10.102.0.7'], conditions: { ready: true, serving: true, terminating: false }, hostname: 'web-0' },
    ]);
  });

  it('turns endpoints on a node that is not Ready not-ready', () => {
    const out = remoteSlices(
      'web',
      [slice('web-1', [{ addresses: ['10.103.0.1'], nodeName: 'fedlet-c', conditions: { ready: true } }])],
      'fedlet-a',
      nodeReady,
    );
    expect(out[0]!.endpoints[0]!.conditions).toEqual({ ready: false, serving: false, terminating: false });
  });

  it('groups by port set (named target ports may resolve differently per pod); nothing when all are local', () => {
    const out = remoteSlices(
      'web',
      [
        slice('a', [{ addresses: ['10.102.0.1'], nodeName: 'fedlet-b' }]),
        slice('b', [{ addresses: ['10.102.0.2'], nodeName: 'fedlet-b' }], [{ name: 'http', protocol: 'TCP', port: 9090 }]),
        slice('c', [{ addresses: ['10.102.0.3'], nodeName: 'fedlet-b' }]),
      ],
      'fedlet-a',
      nodeReady,
    );
    expect(out.map((s) => s.endpoints.length).sort()).toEqual([1, 2]);
    expect(new Set(out.map((s) => s.name)).size).toBe(2);
    expect(
      remoteSlices('web', [slice('a', [{ addresses: ['10.101.0.1'], nodeName: 'fedlet-a' }])], 'fedlet-a', nodeReady),
    ).toEqual([]);
  });
});

describe('removeRemoteSlices (serviceEndpoints: local)', () => {
  it("deletes exactly the slices this node's global run left, selected by origin and managed-by", async () => {
    const calls: string[] = [];
    const lower = {
      get: async (path: string, opts?: { query?: Record<string, unknown> }) => {
        calls.push(`list ${path} ${String(opts?.query?.labelSelector)}`);
        return {
          items: [
            slice('web-fedlet-1', []),
            { ...slice('db-fedlet-2', []), metadata: { name: 'db-fedlet-2', namespace: 'data' } },
          ],
        };
      },
      delete: async (path: string) => {
        calls.push(`delete ${path}`);
        return {};
      },
    } as unknown as KubeClient;
    expect(await removeRemoteSlices(lower, 'fedlet-a', pino({ level: 'silent' }))).toBe(2);
    expect(calls).toEqual([
      'list /apis/discovery.k8s.io/v1/endpointslices fedlet.io/origin=fedlet-a,endpointslice.kubernetes.io/managed-by=fedlet.io',
      'delete /apis/discovery.k8s.io/v1/namespaces/shop/endpointslices/web-fedlet-1',
      'delete /apis/discovery.k8s.io/v1/namespaces/data/endpointslices/db-fedlet-2',
    ]);
  });
});
