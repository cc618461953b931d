import { describe, expect, it } from 'vitest';
import { desiredServiceSpec, isReflectable, serviceSpecDiffers, serviceUpdateSpec } from '../../provider/exposition/services.js';
import { desiredMeta, mergeMeta, metaDiffers } from '../../provider/exposition/reflected-meta.js';
import { desiredNetworkPolicySpec, networkPolicySpecDiffers } from '../../provider/exposition/network-policies.js';
import type { NetworkPolicySpec, ServiceSpec } from '../../src/kube/types.js';

// A Service as the upper API server returns it (defaulted), with allocated values.
const upperSpec = (over: Partial<ServiceSpec> = {}): ServiceSpec => ({
  type: 'ClusterIP',
  selector: { app: 'web' },
  ports: [
    { name: 'http', protocol: 'TCP', port: 80, targetPort: 'http' },
    { name: 'dns', protocol: 'UDP', port: 53, targetPort: 5353, appProtocol: 'dns' },
  ],
  clusterIP: '10.96.0.10',
  clusterIPs: ['10.96.0.10'],
  sessionAffinity: 'None',
  ipFamilies: ['IPv4'],
  ipFamilyPolicy: 'SingleStack',
  internalTrafficPolicy: 'Cluster',
  ...over,
});

/** What the lower API server makes of a created spec: its own ClusterIP, defaults filled. */
const lowerAfterCreate = (d: ServiceSpec, ip = '10.0.0.7'): ServiceSpec => {
  const l = structuredClone(d);
  if (l.type !== 'ExternalName' && l.clusterIP !== 'None') {
    l.clusterIP = ip;
    l.clusterIPs = [ip];
  }
  if (l.clusterIP === 'None') l.clusterIPs = ['None'];
  if (l.type === 'NodePort' || l.type === 'LoadBalancer') l.ports = l.ports?.map((p, i) => ({ ...p, nodePort: 30000 + i }));
  return l;
};

describe('desiredServiceSpec', () => {
  it.each<[string, ServiceSpec, 'clusterip' | 'preserve', Partial<ServiceSpec>, string[]]>([
    [
      'ClusterIP keeps ports (names, protocols, named and numeric targetPorts), selector, families; never the ClusterIP',
      upperSpec({
        publishNotReadyAddresses: true,
        sessionAffinity: 'ClientIP',
        sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
      }),
      'clusterip',
      {
        type: 'ClusterIP',
        selector: { app: 'web' },
        ports: [
          { name: 'http', protocol: 'TCP', port: 80, targetPort: 'http' },
          { name: 'dns', protocol: 'UDP', port: 53, targetPort: 5353, appProtocol: 'dns' },
        ],
        publishNotReadyAddresses: true,
        sessionAffinity: 'ClientIP',
        sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
        ipFamilies: ['IPv4'],
        ipFamilyPolicy: 'SingleStack',
        internalTrafficPolicy: 'Cluster',
      },
      ['clusterIP', 'clusterIPs'],
    ],
    [
      'headless stays headless',
      upperSpec({ clusterIP: 'None', clusterIPs: ['None'] }),
      'clusterip',
      { type: 'ClusterIP', clusterIP: 'None' },
      ['clusterIPs'],
    ],
    [
      'NodePort becomes ClusterIP: no node ports, no external traffic policy',
      upperSpec({
        type: 'NodePort',
        externalTrafficPolicy: 'Local',
        ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 31000 }],
      }),
      'clusterip',
      { type: 'ClusterIP', ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }] },
      ['externalTrafficPolicy', 'clusterIP'],
    ],
    [
      'LoadBalancer becomes ClusterIP',
      upperSpec({
        type: 'LoadBalancer',
        allocateLoadBalancerNodePorts: true,
        externalTrafficPolicy: 'Cluster',
        healthCheckNodePort: 32000,
      }),
      'clusterip',
      { type: 'ClusterIP' },
      ['allocateLoadBalancerNodePorts', 'externalTrafficPolicy', 'healthCheckNodePort'],
    ],
    [
      'preserve keeps LoadBalancer, lets the lower cluster allocate node ports and health check port',
      upperSpec({
        type: 'LoadBalancer',
        allocateLoadBalancerNodePorts: true,
        externalTrafficPolicy: 'Local',
        healthCheckNodePort: 32000,
        loadBalancerSourceRanges: ['10.0.0.0/8'],
        externalIPs: ['192.0.2.1'],
        ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 31000 }],
      }),
      'preserve',
      {
        type: 'LoadBalancer',
        externalTrafficPolicy: 'Local',
        allocateLoadBalancerNodePorts: true,
        loadBalancerSourceRanges: ['10.0.0.0/8'],
        ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }],
      },
      ['healthCheckNodePort', 'externalIPs', 'clusterIP'],
    ],
    [
      'ExternalName is copied as is, in both modes',
      { type: 'ExternalName', externalName: 'db.example.com', sessionAffinity: 'None' },
      'clusterip',
      { type: 'ExternalName', externalName: 'db.example.com' },
      ['selector', 'clusterIP', 'sessionAffinity', 'ipFamilies'],
    ],
  ])('%s', (_name, upper, mode, expected, absent) => {
    const d = desiredServiceSpec(upper, mode);
    expect(d).toMatchObject(expected);
    for (const k of absent) expect(d, k).not.toHaveProperty(k);
    for (const p of d.ports ?? []) expect(p).not.toHaveProperty('nodePort');
  });

  it('skips the upper API server Service', () => {
    expect(isReflectable({ metadata: { namespace: 'default', name: 'kubernetes' } })).toBe(false);
    expect(isReflectable({ metadata: { namespace: 'shop', name: 'kubernetes' } })).toBe(true);
  });
});

describe('serviceSpecDiffers (owned fields only)', () => {
  const d = desiredServiceSpec(upperSpec(), 'clusterip');
  it('a freshly created lower copy does not differ (allocated ClusterIP ignored)', () => {
    expect(serviceSpecDiffers(d, lowerAfterCreate(d))).toBe(false);
  });
  it.each<[string, (s: ServiceSpec) => void]>([
    ['a port number', (s) => (s.ports![0]!.port = 81)],
    ['a named targetPort', (s) => (s.ports![0]!.targetPort = 'web')],
    ['a protocol', (s) => (s.ports![1]!.protocol = 'TCP')],
    ['a port name', (s) => (s.ports![0]!.name = 'web')],
    ['an added port', (s) => s.ports!.push({ name: 'x', protocol: 'TCP', port: 9, targetPort: 9 })],
    ['the selector', (s) => (s.selector = { app: 'api' })],
    ['publishNotReadyAddresses', (s) => (s.publishNotReadyAddresses = true)],
    ['session affinity', (s) => (s.sessionAffinity = 'ClientIP')],
    ['headless', (s) => (s.clusterIP = 'None')],
    ['the type', (s) => (s.type = 'NodePort')],
  ])('notices a change of %s', (_n, change) => {
    const lower = lowerAfterCreate(d);
    change(lower);
    expect(serviceSpecDiffers(d, lower)).toBe(true);
  });
  it('ignores what the lower cluster allocated or defaulted on its own', () => {
    const lower = lowerAfterCreate(d, '10.0.9.9');
    lower.healthCheckNodePort = 0;
    expect(serviceSpecDiffers(d, lower)).toBe(false);
    const pre = desiredServiceSpec(upperSpec({ type: 'NodePort', externalTrafficPolicy: 'Cluster' }), 'preserve');
    expect(serviceSpecDiffers(pre, lowerAfterCreate(pre))).toBe(false);
  });
});

describe('serviceUpdateSpec', () => {
  it('keeps the lower ClusterIP and node ports of ports that stay', () => {
    const before = desiredServiceSpec(upperSpec({ type: 'NodePort', externalTrafficPolicy: 'Cluster' }), 'preserve');
    const lower = lowerAfterCreate(before);
    const after = desiredServiceSpec(
      upperSpec({
        type: 'NodePort',
        externalTrafficPolicy: 'Cluster',
        ports: [
          { name: 'http', protocol: 'TCP', port: 80, targetPort: 8081 },
          { name: 'new', protocol: 'TCP', port: 90, targetPort: 90 },
        ],
      }),
      'preserve',
    );
    const next = serviceUpdateSpec(after, lower);
    expect(next).not.toBe('recreate');
    const spec = next as ServiceSpec;
    expect(spec.clusterIP).toBe('10.0.0.7');
    expect(spec.clusterIPs).toEqual(['10.0.0.7']);
    expect(spec.ports).toEqual([
      { name: 'http', protocol: 'TCP', port: 80, targetPort: 8081, nodePort: 30000 },
      { name: 'new', protocol: 'TCP', port: 90, targetPort: 90 },
    ]);
  });
  it('recreates when headless changes; drops the ClusterIP when turning into ExternalName', () => {
    const d = desiredServiceSpec(upperSpec(), 'clusterip');
    expect(serviceUpdateSpec(desiredServiceSpec(upperSpec({ clusterIP: 'None' }), 'clusterip'), lowerAfterCreate(d))).toBe(
      'recreate',
    );
    const ext = serviceUpdateSpec({ type: 'ExternalName', externalName: 'x.example' }, lowerAfterCreate(d));
    expect(ext).toEqual({ type: 'ExternalName', externalName: 'x.example' });
  });
});

describe('reflected metadata', () => {
  const upper = {
    namespace: 'shop',
    name: 'web',
    uid: 'u1',
    labels: { app: 'web', tier: 'front' },
    annotations: { note: 'x', 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
  };
  it('copies labels and annotations, adds ownership, records what it copied', () => {
    const m = desiredMeta(upper, 'fedlet-eu');
    expect(m.labels).toEqual({ app: 'web', tier: 'front', 'fedlet.io/origin': 'fedlet-eu', 'fedlet.io/upper-uid': 'u1' });
    expect(m.annotations).toMatchObject({ note: 'x', 'fedlet.io/upper-namespace': 'shop', 'fedlet.io/upper-name': 'web' });
    expect(m.annotations).not.toHaveProperty('kubectl.kubernetes.io/last-applied-configuration');
    expect(metaDiffers(m, { labels: m.labels, annotations: m.annotations })).toBe(false);
  });
  it('keeps keys others added below, removes keys dropped upstream', () => {
    const before = desiredMeta(upper, 'fedlet-eu');
    const lower = {
      labels: { ...before.labels, 'lower.example/x': '1' },
      annotations: { ...before.annotations, 'lower.example/y': '2' },
    };
    expect(metaDiffers(before, lower)).toBe(false);
    const after = desiredMeta({ ...upper, labels: { app: 'web' }, annotations: {} }, 'fedlet-eu');
    expect(metaDiffers(after, lower)).toBe(true);
    const merged = mergeMeta(after, lower);
    expect(merged.labels).toEqual({
      app: 'web',
      'lower.example/x': '1',
      'fedlet.io/origin': 'fedlet-eu',
      'fedlet.io/upper-uid': 'u1',
    });
    expect(merged.annotations['lower.example/y']).toBe('2');
    expect(merged.annotations).not.toHaveProperty('note');
  });
});

describe('desiredNetworkPolicySpec', () => {
  const map = (ns: string) => `${ns}-eu`;
  it('keeps selectors, ports and ipBlocks; maps namespace-name selectors to lower namespaces', () => {
    const upper: NetworkPolicySpec = {
      podSelector: { matchLabels: { app: 'db' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        {
          from: [
            { podSelector: { matchLabels: { app: 'web' } } },
            { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'shop' } }, podSelector: {} },
            {
              namespaceSelector: {
                matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['a', 'b'] }],
              },
            },
            { namespaceSelector: { matchLabels: { team: 'x' } } },
          ],
          ports: [{ protocol: 'TCP', port: 5432 }],
        },
      ],
      egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }] }],
    };
    const d = desiredNetworkPolicySpec(upper, map);
    expect(d.podSelector).toEqual({ matchLabels: { app: 'db' } });
    const from = d.ingress![0]!.from!;
    expect(from[0]).toEqual({ podSelector: { matchLabels: { app: 'web' } } });
    expect(from[1]!.namespaceSelector).toEqual({ matchLabels: { 'kubernetes.io/metadata.name': 'shop-eu' } });
    expect(from[2]!.namespaceSelector!.matchExpressions![0]!.values).toEqual(['a-eu', 'b-eu']);
    expect(from[3]!.namespaceSelector).toEqual({ matchLabels: { team: 'x' } });
    expect(d.ingress![0]!.ports).toEqual([{ protocol: 'TCP', port: 5432 }]);
    expect(d.egress).toEqual(upper.egress);
    expect(upper.ingress![0]!.from![1]!.namespaceSelector!.matchLabels!['kubernetes.io/metadata.name']).toBe('shop'); // not mutated
    expect(networkPolicySpecDiffers(d, structuredClone(d))).toBe(false);
    expect(networkPolicySpecDiffers(d, { ...d, policyTypes: ['Ingress'] })).toBe(true);
  });
});
