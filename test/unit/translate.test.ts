import { describe, expect, it } from 'vitest';
import { dependencyRefs, translatePod, unsupportedField } from '../../provider/workload/translate.js';
import { lowerNamespace, shortenName, validateNamespaceTemplate } from '../../provider/namespaces/namespace-map.js';
import { IpRemapper, parseRemapPairs, RemapError } from '../../provider/workload/remap.js';
import { upperStatusFromLower } from '../../provider/workload/pod-status.js';
import { statusPatch } from '../../src/pods/status-patch.js';
import type { Pod } from '../../src/kube/types.js';

const ctx = { nodeName: 'fedlet-eu', clusterName: 'eu', lowerNamespace: 'team-a', allowDaemonSetPods: false };
const base = (): Pod => ({
  metadata: {
    name: 'web-1',
    namespace: 'team-a',
    uid: 'u-1',
    labels: { app: 'web' },
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
  },
  spec: {
    nodeName: 'fedlet-eu',
    nodeSelector: { 'fedlet.io/cluster': 'eu' },
    schedulerName: 'default-scheduler',
    priorityClassName: 'high',
    priority: 1000,
    serviceAccountName: 'app',
    containers: [
      {
        name: 'c',
        image: 'img',
        env: [
          { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
          { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
          { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'CFG', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'k' } } },
        ],
        envFrom: [{ secretRef: { name: 'sec', optional: true } }],
        volumeMounts: [
          { name: 'kube-api-access-x', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' },
          { name: 'data', mountPath: '/data' },
        ],
      },
    ],
    volumes: [
      {
        name: 'kube-api-access-x',
        projected: { sources: [{ serviceAccountToken: { path: 'token' } }, { configMap: { name: 'kube-root-ca.crt' } }] },
      },
      { name: 'data', configMap: { name: 'data-cm' } },
    ],
    imagePullSecrets: [{ name: 'pull' }],
  },
});

describe('translatePod', () => {
  it('strips upper scheduling and the upper identity, rewrites downward API, adds ownership', () => {
    const l = translatePod(base(), ctx);
    expect(l.metadata).toMatchObject({
      name: 'web-1',
      namespace: 'team-a',
      labels: { app: 'web', 'fedlet.io/origin': 'fedlet-eu', 'fedlet.io/upper-uid': 'u-1' },
    });
    expect(l.metadata.annotations).toEqual({ 'fedlet.io/upper-namespace': 'team-a', 'fedlet.io/upper-name': 'web-1' });
    for (const k of ['nodeName', 'nodeSelector', 'schedulerName', 'priorityClassName', 'priority'])
      expect(l.spec).not.toHaveProperty(k);
    expect(l.spec.serviceAccountName).toBe('default');
    expect(l.spec.automountServiceAccountToken).toBe(false);
    // The token volume stays, rewritten to the upper token (service-account.test.ts).
    expect(l.spec.volumes?.map((v) => v.name)).toEqual(['kube-api-access-x', 'data']);
    expect(l.spec.containers[0]!.volumeMounts?.map((m) => m.name)).toEqual(['kube-api-access-x', 'data']);
    expect(l.spec.hostname).toBe('web-1');
    const env = Object.fromEntries(l.spec.containers[0]!.env!.map((e) => [e.name, e.value ?? e.valueFrom]));
    expect(env.NS).toBe('team-a');
    expect(env.NODE).toBe('fedlet-eu');
    expect(env.IP).toEqual({ fieldRef: { fieldPath: 'status.podIP' } }); // documented: the lower pod IP
  });

  it.each([
    ['hostNetwork', (p: Pod) => (p.spec.hostNetwork = true), 'spec.hostNetwork'],
    ['hostPID', (p: Pod) => (p.spec.hostPID = true), 'spec.hostPID'],
    ['hostPath', (p: Pod) => p.spec.volumes!.push({ name: 'h', hostPath: { path: '/' } }), 'spec.volumes[2].hostPath'],
    [
      'hostPort',
      (p: Pod) => (p.spec.containers[0]!.ports = [{ containerPort: 80, hostPort: 80 }]),
      'spec.containers[0].ports[0].hostPort',
    ],
    [
      'DaemonSet',
      (p: Pod) =>
        (p.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'ds', uid: 'x', controller: true }]),
      'metadata.ownerReferences',
    ],
  ])('refuses %s, naming the field', (_n, mutate, field) => {
    const p = base();
    mutate(p);
    expect(unsupportedField(p, ctx)).toMatchObject({ field, message: expect.stringContaining('pod team-a/web-1') });
  });

  it('allows DaemonSet pods when configured', () => {
    const p = base();
    p.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'ds', uid: 'x', controller: true }];
    expect(unsupportedField(p, { ...ctx, allowDaemonSetPods: true })).toBeUndefined();
    expect(unsupportedField(base(), ctx)).toBeUndefined();
  });

  // StatefulSet identity: <hostname>.<subdomain>.<ns>.svc resolves below through the reflected headless Service.
  it.each<[string, { hostname?: string; subdomain?: string; name?: string }, { hostname: string; subdomain?: string }]>([
    [
      'StatefulSet pod: hostname and subdomain kept',
      { name: 'web-0', hostname: 'web-0', subdomain: 'nginx' },
      { hostname: 'web-0', subdomain: 'nginx' },
    ],
    [
      'explicit hostname differs from the name',
      { name: 'web-0', hostname: 'db', subdomain: 'dbs' },
      { hostname: 'db', subdomain: 'dbs' },
    ],
    [
      'subdomain without hostname: hostname = pod name',
      { name: 'api-1', subdomain: 'api' },
      { hostname: 'api-1', subdomain: 'api' },
    ],
    ['neither: hostname = pod name, no subdomain', { name: 'web-1' }, { hostname: 'web-1' }],
  ])('keeps pod DNS identity: %s', (_n, given, want) => {
    const p = base();
    if (given.name) p.metadata.name = given.name;
    if (given.hostname) p.spec.hostname = given.hostname;
    if (given.subdomain) p.spec.subdomain = given.subdomain;
    const l = translatePod(p, ctx);
    expect(l.spec.hostname).toBe(want.hostname);
    if (want.subdomain) expect(l.spec.subdomain).toBe(want.subdomain);
    else expect(l.spec).not.toHaveProperty('subdomain');
  });

  it('finds every ConfigMap and Secret reference but not the token volume', () => {
    const r = dependencyRefs(base());
    expect([...r.configMaps]).toEqual([
      ['data-cm', false],
      ['cfg', false],
    ]);
    // A kubelet pulls without an image pull secret it cannot find: optional.
    expect([...r.secrets]).toEqual([
      ['sec', true],
      ['pull', true],
    ]);
  });
});

describe('namespace mapping', () => {
  it('applies the template and shortens long names stably', () => {
    expect(lowerNamespace('{{namespace}}', 'a', 'eu')).toBe('a');
    expect(lowerNamespace('{{namespace}}-{{cluster}}', 'a', 'eu')).toBe('a-eu');
    const long = `ns-${'x'.repeat(60)}`;
    const m = lowerNamespace('{{namespace}}-{{cluster}}', long, 'eu');
    expect(m.length).toBeLessThanOrEqual(63);
    expect(m).toBe(lowerNamespace('{{namespace}}-{{cluster}}', long, 'eu'));
    expect(m).not.toBe(lowerNamespace('{{namespace}}-{{cluster}}', `${long}y`, 'eu'));
    expect(shortenName('a'.repeat(70))).toMatch(/^a{52}-[0-9a-f]{10}$/);
  });
  it('validates templates', () => {
    expect(() => validateNamespaceTemplate('fixed')).toThrow(/must contain \{\{namespace\}\}/);
    expect(() => validateNamespaceTemplate('{{namespace}}_x')).toThrow(/only lowercase/);
  });
});

describe('IP remapping', () => {
  const r = new IpRemapper(parseRemapPairs('10.244.0.0/16=10.101.0.0/16,fd00:10:244::/64=fd00:101::/64'));
  it.each([
    ['10.244.0.0', '10.101.0.0'],
    ['10.244.255.255', '10.101.255.255'],
    ['10.244.3.7', '10.101.3.7'],
    ['10.245.0.1', '10.245.0.1'],
    ['fd00:10:244::1', 'fd00:101::1'],
    ['fd00:10:244::ffff:ffff:ffff:ffff', 'fd00:101::ffff:ffff:ffff:ffff'],
    ['fd00:10:245::1', 'fd00:10:245::1'],
    ['not-an-ip', 'not-an-ip'],
  ])('%s → %s', (from, to) => expect(r.map(from)).toBe(to));
  it('rejects mismatched pairs', () => {
    expect(() => new IpRemapper([{ lower: '10.0.0.0/16', upper: '10.1.0.0/24' }])).toThrow(RemapError);
    expect(() => new IpRemapper([{ lower: '10.0.0.0/16', upper: 'fd00::/16' }])).toThrow(/both sides/);
    expect(() => parseRemapPairs('10.0.0.0/16')).toThrow(/lowerCIDR=upperCIDR/);
  });
});

describe('status reflection', () => {
  const upper: Pod = { ...base(), status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'True' }] } };
  const lower: Pod = {
    ...base(),
    spec: { ...base().spec, nodeName: 'kwok-7' },
    status: {
      phase: 'Running',
      podIP: '10.244.1.2',
      podIPs: [{ ip: '10.244.1.2' }, { ip: 'fd00:10:244::2' }],
      hostIP: '192.168.0.9',
      conditions: [
        { type: 'PodScheduled', status: 'True' },
        { type: 'Ready', status: 'True' },
      ],
      containerStatuses: [{ name: 'c' }],
    },
  };
  it('remaps IPs, keeps the upper PodScheduled and uses the node address as host IP', () => {
    const st = upperStatusFromLower(lower, upper, {
      nodeIP: '127.0.0.1',
      remapper: new IpRemapper(parseRemapPairs('10.244.0.0/16=10.101.0.0/16,fd00:10:244::/64=fd00:101::/64')),
    });
    expect(st).toMatchObject({
      phase: 'Running',
      podIP: '10.101.1.2',
      podIPs: [{ ip: '10.101.1.2' }, { ip: 'fd00:101::2' }],
      hostIP: '127.0.0.1',
      hostIPs: [{ ip: '127.0.0.1' }],
    });
    expect(st.conditions?.map((c) => c.type)).toEqual(['PodScheduled', 'fedlet.io/LowerScheduled', 'Ready']);
    expect(st.conditions?.[1]).toEqual({
      type: 'fedlet.io/LowerScheduled',
      status: 'True',
      message: 'scheduled to lower node kwok-7',
    });
    expect(statusPatch({ ...st }, st)).toBeUndefined();
    expect(statusPatch(upper.status, st)?.status.phase).toBe('Running');
    expect(statusPatch({ ...st, reason: 'Old' }, st)?.status).toEqual({ reason: null });
  });
});
