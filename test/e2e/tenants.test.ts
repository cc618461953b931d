// Issue 22: tenant isolation below the virtual node, proven by absence. The test acts as a tenant who
// administers only upper namespaces payments, ledger and default (a ServiceAccount token bound to the
// `admin` ClusterRole there: real RBAC, real kubectl), against lower clusters where another team
// already owns lower namespace payments (Secret db-creds, ConfigMap db-config, ServiceAccount deployer)
// and ledger-lower-2. Every attack of the issue and its variants is run; each asserts the refusal and
// its reason as the tenant sees it, and — with real containers on real kubelet nodes printing their
// environment and mounts — that the lower team's objects never reach the tenant's container.
//
// The sandbox's first lower cluster keeps upper namespace names ({{namespace}}), the second qualifies
// them ({{namespace}}-{{cluster}}, the default).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REAL_NODE_TAINT } from '../../sandbox/real-node.js';
import { createNamespace, lowerNamespaceFor } from './framework/namespaces.js';
import { eventually, kubectl, kubectlJson, kubectlRaw, sandbox } from './framework/kubectl.js';
import { apply, BUSYBOX, realNodesMissing, realNodesOnly, realPodSpec, waitPod } from './framework/real-nodes.js';
import { getPod, type ApiPod } from './framework/pods.js';
import type { CoreEvent } from '../../src/kube/types.js';

const s = sandbox();
const missing = realNodesMissing(s);
const upper = s.upperKubeconfig;
const [lower1, lower2] = s.lowerKubeconfigs as [string, string];
const [f1, f2] = s.fedlets as [(typeof s.fedlets)[0], (typeof s.fedlets)[0]];
const PAY = 'payments';
const LEDGER = 'ledger';
/** What the lower team keeps in its namespace: never to be seen in a tenant's container. */
const SECRET_MARK = 'lower-team-secret-3141';
const CONFIG_MARK = 'lower-team-config-2718';
let tenant = '';
let restoreNodes: (() => Promise<void>) | undefined;

interface PodJson extends ApiPod {
  spec: ApiPod['spec'] & {
    tolerations?: Array<{ key?: string; operator?: string }>;
    volumes?: unknown[];
    containers: Array<{ env?: unknown[]; envFrom?: unknown[] }>;
    imagePullSecrets?: unknown[];
  };
  status?: ApiPod['status'] & { message?: string };
}

/** A busybox container printing its environment and every file under /v, then exiting 0. */
const printer = (extra: Record<string, unknown> = {}) => ({
  name: 'app',
  image: BUSYBOX,
  imagePullPolicy: 'Never',
  command: [
    'sh',
    '-c',
    'echo "--- env"; env | sort; for d in /v/*; do echo "--- $d"; ls -la "$d"; for f in "$d"/*; do [ -f "$f" ] && cat "$f" && echo; done; done; echo "--- end"',
  ],
  ...extra,
});

function tenantPod(
  name: string,
  ns: string,
  node: string,
  spec: Record<string, unknown>,
  annotations: Record<string, string> = {},
) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: { app: name }, annotations },
    spec: realPodSpec(node, { restartPolicy: 'Never', ...spec }),
  };
}

/** Creates the pod as the tenant (never as an admin). */
const asTenant = (obj: unknown) => apply(tenant, obj);
const tenantPodJson = (ns: string, name: string) => kubectlJson<PodJson>(tenant, ['get', 'pod', name, '-n', ns]);

/** The tenant's pod once its status says `reason` (Pending with it, or Failed with it). */
function reasonOf(ns: string, name: string, reason: string): Promise<PodJson> {
  return eventually(
    async () => {
      const p = await tenantPodJson(ns, name);
      if (p.status?.reason !== reason)
        throw new Error(`status ${p.status?.phase}/${p.status?.reason}: ${p.status?.message ?? ''}`);
      return p;
    },
    { timeoutMs: 90_000, what: `${ns}/${name} with reason ${reason}` },
  );
}

/** The tenant's view of the Events about its pod with `reason`. */
function eventsOf(ns: string, name: string, reason: string): Promise<CoreEvent[]> {
  return eventually(
    async () => {
      const l = await kubectlJson<{ items: CoreEvent[] }>(tenant, [
        'get',
        'events',
        '-n',
        ns,
        '--field-selector',
        `involvedObject.name=${name},reason=${reason}`,
      ]);
      if (!l.items.length) throw new Error(`no ${reason} event yet`);
      return l.items;
    },
    { timeoutMs: 60_000, what: `a ${reason} event on ${ns}/${name}` },
  );
}

/** What the tenant's container printed (it ran to completion on a real node). */
async function printed(ns: string, name: string): Promise<string> {
  const p = await waitPod(
    tenant,
    ns,
    name,
    (x) => x.status?.phase === 'Succeeded' || x.status?.phase === 'Failed',
    'finished',
    180_000,
  );
  const out = await kubectl(tenant, ['logs', name, '-n', ns]);
  expect(p.status?.phase, out).toBe('Succeeded');
  expect(out).toContain('--- end');
  return out;
}

/** What the printer listed for one directory. */
function section(out: string, dir: string): string {
  const start = out.indexOf(`--- ${dir}\n`);
  expect(start, `${dir} listed`).toBeGreaterThanOrEqual(0);
  const rest = out.slice(start + dir.length + 5);
  return rest.slice(0, rest.indexOf('\n--- '));
}

/** The lower team's objects are nowhere in what the container saw. */
function expectNothingOfTheLowerTeam(out: string): void {
  expect(out).not.toContain(SECRET_MARK);
  expect(out).not.toContain(CONFIG_MARK);
  expect(out).not.toMatch(/^(password|host|PASSWORD|DB_HOST)=/m);
}

/** fedlet's pods in a lower namespace (by its origin label). */
async function fedletPodsIn(lower: string, ns: string): Promise<string> {
  return (await kubectl(lower, ['get', 'pods', '-n', ns, '-l', 'fedlet.io/origin', '-o', 'name', '--ignore-not-found'])).trim();
}

/** A RBAC-limited kubeconfig: a ServiceAccount token bound to `admin` in the tenant's namespaces only. */
async function makeTenant(): Promise<string> {
  await kubectl(upper, ['create', 'serviceaccount', 'tenant', '-n', PAY]);
  for (const ns of [PAY, LEDGER, 'default'])
    await kubectl(upper, [
      'create',
      'rolebinding',
      'tenant-admin',
      '-n',
      ns,
      '--clusterrole=admin',
      `--serviceaccount=${PAY}:tenant`,
    ]);
  const token = (await kubectl(upper, ['create', 'token', 'tenant', '-n', PAY, '--duration=3h'])).trim();
  const view = (jsonpath: string) =>
    kubectl(upper, ['config', 'view', '--minify', '--raw', '--flatten', '-o', `jsonpath=${jsonpath}`]);
  const server = (await view('{.clusters[0].cluster.server}')).trim();
  const ca = (await view('{.clusters[0].cluster.certificate-authority-data}')).trim();
  const file = path.join(s.dir, 'tenant.kubeconfig');
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: upper',
      '  cluster:',
      `    server: ${server}`,
      `    certificate-authority-data: ${ca}`,
      'users:',
      '- name: tenant',
      '  user:',
      `    token: ${token}`,
      'contexts:',
      '- name: tenant',
      `  context: {cluster: upper, user: tenant, namespace: ${PAY}}`,
      'current-context: tenant',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return file;
}

/** The lower team's namespace, Secret, ConfigMap and ServiceAccount (as the lower admin). */
async function lowerTeam(lower: string, ns: string, withNamespace = true): Promise<void> {
  if (withNamespace) await kubectl(lower, ['create', 'namespace', ns]);
  await kubectl(lower, ['create', 'secret', 'generic', 'db-creds', '-n', ns, `--from-literal=password=${SECRET_MARK}`]);
  await kubectl(lower, ['create', 'configmap', 'db-config', '-n', ns, `--from-literal=host=${CONFIG_MARK}`]);
  await kubectl(lower, ['create', 'serviceaccount', 'deployer', '-n', ns]).catch(() => undefined);
}

/** Every kind of optional reference to db-creds and db-config, with a container printing what it got. */
function everyOptionalReference(): Record<string, unknown> {
  return {
    volumes: [
      { name: 'secret', secret: { secretName: 'db-creds', optional: true } },
      { name: 'cm', configMap: { name: 'db-config', optional: true } },
      {
        name: 'proj',
        projected: {
          sources: [{ secret: { name: 'db-creds', optional: true } }, { configMap: { name: 'db-config', optional: true } }],
        },
      },
    ],
    imagePullSecrets: [{ name: 'db-creds' }],
    containers: [
      printer({
        env: [
          { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'db-creds', key: 'password', optional: true } } },
          { name: 'DB_HOST', valueFrom: { configMapKeyRef: { name: 'db-config', key: 'host', optional: true } } },
        ],
        envFrom: [{ secretRef: { name: 'db-creds', optional: true } }, { configMapRef: { name: 'db-config', optional: true } }],
        volumeMounts: [
          { name: 'secret', mountPath: '/v/secret' },
          { name: 'cm', mountPath: '/v/cm' },
          { name: 'proj', mountPath: '/v/proj' },
        ],
      }),
    ],
  };
}

describe.skipIf(!!missing)(`tenant isolation below the virtual node${missing ? ` (skipped: ${missing})` : ''}`, () => {
  beforeAll(async () => {
    restoreNodes = await realNodesOnly(upper, [lower1, lower2], [f1.nodeName, f2.nodeName]);
    await createNamespace(upper, PAY);
    await createNamespace(upper, LEDGER);
    tenant = await makeTenant();
    // Lower cluster 1: the other team's payments (the same name as the tenant's upper namespace).
    await lowerTeam(lower1, PAY);
    // Lower cluster 2: the other team's namespace happens to be what the default template makes of ledger.
    await lowerTeam(lower2, lowerNamespaceFor(f2, LEDGER));
  });

  afterAll(async () => {
    await kubectl(upper, ['delete', 'namespace', PAY, LEDGER, '--wait=false']).catch(() => undefined);
    await kubectl(upper, ['delete', 'pods', '-n', 'default', '-l', 'tenants-e2e', '--wait=false']).catch(() => undefined);
    await kubectl(upper, ['delete', 'rolebinding', 'tenant-admin', '-n', 'default']).catch(() => undefined);
    await kubectl(lower1, ['delete', 'namespace', PAY, '--wait=false']).catch(() => undefined);
    await kubectl(lower2, ['delete', 'namespace', lowerNamespaceFor(f2, LEDGER), '--wait=false']).catch(() => undefined);
    await restoreNodes?.();
  });

  it('the tenant’s kubeconfig is RBAC-limited: admin in its namespaces, nothing cluster-wide', async () => {
    const can = async (args: string[]) => (await kubectlRaw(tenant, ['auth', 'can-i', ...args])).stdout.trim();
    expect(await can(['create', 'pods', '-n', PAY])).toBe('yes');
    expect(await can(['get', 'secrets', '-n', PAY])).toBe('yes');
    expect(await can(['create', 'pods', '-n', 'kube-system'])).toBe('no');
    expect(await can(['patch', `namespace/${PAY}`])).toBe('no');
    expect(await can(['get', 'nodes'])).toBe('no');
    expect((await kubectlRaw(tenant, ['get', 'pods', '-n', 'kube-system'])).stderr).toMatch(/forbidden/i);
  });

  it('a pod cannot reach into a lower namespace that another team owns: LowerNamespaceNotOwned, nothing written there', async () => {
    await asTenant(tenantPod('steal', PAY, f1.nodeName, everyOptionalReference()));
    const p = await reasonOf(PAY, 'steal', 'LowerNamespaceNotOwned');
    expect(p.status?.phase).toBe('Pending');
    expect(p.status?.message).toContain(`lower namespace ${PAY} of cluster ${f1.cluster}`);
    expect(p.status?.message).toContain(`kubectl label namespace ${PAY} fedlet.io/grant=${f1.nodeName}`);
    const events = await eventsOf(PAY, 'steal', 'LowerNamespaceNotOwned');
    expect(events[0]!.type).toBe('Warning');
    expect(events[0]!.message).toContain('fedlet did not create it');
    // Nothing of fedlet's in the other team's namespace, and the namespace is as they left it.
    expect(await fedletPodsIn(lower1, PAY)).toBe('');
    const theirs = await kubectlJson<{ metadata: { labels?: Record<string, string> } }>(lower1, ['get', 'namespace', PAY]);
    expect(
      Object.keys(theirs.metadata.labels ?? {}).filter((k) => k.startsWith('fedlet.io/') || k.startsWith('pod-security')),
    ).toEqual([]);
    const secrets = (await kubectl(lower1, ['get', 'secrets', '-n', PAY, '-o', 'name'])).trim().split('\n');
    expect(secrets).toEqual(['secret/db-creds']);
  });

  it('the upper default namespace never lands in the lower default namespace', async () => {
    const pod = tenantPod('in-default', 'default', f1.nodeName, { containers: [printer()] });
    (pod.metadata.labels as Record<string, string>)['tenants-e2e'] = 'true';
    await asTenant(pod);
    const p = await reasonOf('default', 'in-default', 'LowerNamespaceNotOwned');
    expect(p.status?.message).toMatch(/lower namespace default of cluster lower-1 .* is reserved/);
    expect(await fedletPodsIn(lower1, 'default')).toBe('');
  });

  it('a namespace-template collision is refused: the lower team already has ledger-lower-2', async () => {
    const lowerNs = lowerNamespaceFor(f2, LEDGER);
    expect(lowerNs).toBe(`${LEDGER}-${f2.cluster}`);
    await asTenant(tenantPod('collide', LEDGER, f2.nodeName, everyOptionalReference()));
    const p = await reasonOf(LEDGER, 'collide', 'LowerNamespaceNotOwned');
    expect(p.status?.message).toContain(`lower namespace ${lowerNs} of cluster ${f2.cluster}`);
    expect(await fedletPodsIn(lower2, lowerNs)).toBe('');
  });

  it('in a namespace fedlet owns, an optional reference that does not resolve upstairs never resolves below (every kind)', async () => {
    const lowerNs = lowerNamespaceFor(f2, PAY);
    // A first pod makes fedlet create the lower namespace, with Pod Security carried down (the floor).
    await asTenant(tenantPod('first', PAY, f2.nodeName, { containers: [printer()] }));
    await printed(PAY, 'first');
    const created = await kubectlJson<{ metadata: { labels: Record<string, string> } }>(lower2, ['get', 'namespace', lowerNs]);
    expect(created.metadata.labels).toMatchObject({
      'fedlet.io/origin': f2.nodeName,
      'pod-security.kubernetes.io/enforce': 'baseline',
    });
    // Someone below puts objects of the referenced names next to the tenant's pods.
    await lowerTeam(lower2, lowerNs, false);
    await asTenant(tenantPod('every-ref', PAY, f2.nodeName, everyOptionalReference()));
    const out = await printed(PAY, 'every-ref');
    expectNothingOfTheLowerTeam(out);
    // The optional volumes are there, empty, as a kubelet upstairs would mount them.
    for (const v of ['/v/secret', '/v/cm', '/v/proj']) expect(section(out, v)).not.toMatch(/password|host/);
    // What the lower kubelet was given: no reference to either object at all.
    const low = await kubectlJson<PodJson>(lower2, ['get', 'pod', 'every-ref', '-n', lowerNs]);
    expect(JSON.stringify(low.spec)).not.toContain('db-creds');
    expect(JSON.stringify(low.spec)).not.toContain('db-config');
    const optional = await eventsOf(PAY, 'every-ref', 'OptionalSecretNotFound');
    expect(optional[0]!.message).toContain(`Secret ${PAY}/db-creds does not exist`);
  });

  it('a decoy upper Secret of the lower object’s name does not unlock it: LowerDependencyConflict', async () => {
    const lowerNs = lowerNamespaceFor(f2, PAY);
    await kubectl(tenant, ['create', 'secret', 'generic', 'db-creds', '-n', PAY, '--from-literal=password=decoy']);
    await asTenant(
      tenantPod('decoy', PAY, f2.nodeName, {
        volumes: [{ name: 'secret', secret: { secretName: 'db-creds' } }],
        containers: [printer({ volumeMounts: [{ name: 'secret', mountPath: '/v/secret' }] })],
      }),
    );
    const p = await reasonOf(PAY, 'decoy', 'LowerDependencyConflict');
    expect(p.status?.message).toContain(
      `lower Secret ${lowerNs}/db-creds in cluster ${f2.cluster} exists and is not fedlet's copy`,
    );
    await eventsOf(PAY, 'decoy', 'LowerDependencyConflict');
    expect((await kubectlRaw(lower2, ['get', 'pod', 'decoy', '-n', lowerNs])).code).not.toBe(0);
    // The lower object is untouched.
    const theirs = await kubectlJson<{ data: Record<string, string>; metadata: { labels?: Record<string, string> } }>(lower2, [
      'get',
      'secret',
      'db-creds',
      '-n',
      lowerNs,
    ]);
    expect(Buffer.from(theirs.data.password!, 'base64').toString()).toBe(SECRET_MARK);
    expect(theirs.metadata.labels?.['fedlet.io/origin']).toBeUndefined();
    await kubectl(tenant, ['delete', 'secret', 'db-creds', '-n', PAY]);
  });

  it('a privileged pod is refused below by the Pod Security floor fedlet put on the lower namespace', async () => {
    await asTenant(
      tenantPod('privileged', PAY, f2.nodeName, { containers: [printer({ securityContext: { privileged: true } })] }),
    );
    const p = await reasonOf(PAY, 'privileged', 'LowerRejected');
    expect(p.status?.message).toMatch(/violates PodSecurity "baseline:latest".*privileged/);
    expect((await kubectlRaw(lower2, ['get', 'pod', 'privileged', '-n', lowerNamespaceFor(f2, PAY)])).code).not.toBe(0);
  });

  it('tolerations of the lower system nodes stay upstairs (TolerationDropped); the pod runs without them', async () => {
    const lowerNs = lowerNamespaceFor(f2, PAY);
    await asTenant(
      tenantPod('tolerant', PAY, f2.nodeName, {
        containers: [printer()],
        tolerations: [
          { key: REAL_NODE_TAINT, operator: 'Exists', effect: 'NoSchedule' },
          { operator: 'Exists' },
          { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
          { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
        ],
      }),
    );
    await printed(PAY, 'tolerant');
    const low = await kubectlJson<PodJson>(lower2, ['get', 'pod', 'tolerant', '-n', lowerNs]);
    const keys = (low.spec.tolerations ?? []).map((t) => t.key ?? '(none)');
    expect(keys).toContain(REAL_NODE_TAINT);
    for (const k of ['(none)', 'node-role.kubernetes.io/control-plane', 'node.kubernetes.io/unschedulable'])
      expect(keys).not.toContain(k);
    const [e] = await eventsOf(PAY, 'tolerant', 'TolerationDropped');
    expect(e!.message).toMatch(
      /without these tolerations: \(any key\):\(any effect\).*node-role\.kubernetes\.io\/control-plane:NoSchedule.*node\.kubernetes\.io\/unschedulable:NoSchedule/,
    );
  });

  it.each([
    ['a node selector no node it offers carries', { 'node-role.kubernetes.io/control-plane': '' }],
    ['another cluster’s virtual node label', { 'fedlet.io/cluster': 'lower-1' }],
  ])('a pod bound by hand with %s fails with reason NodeAffinity, as a kubelet rejects it', async (what, nodeSelector) => {
    const name = what.startsWith('a node') ? 'hand-bound-system' : 'hand-bound-cluster';
    await asTenant(tenantPod(name, PAY, f2.nodeName, { nodeSelector, containers: [printer()] }));
    const p = await reasonOf(PAY, name, 'NodeAffinity');
    expect(p.status?.phase).toBe('Failed');
    expect(p.status?.message).toMatch(/^Pod was rejected: Predicate NodeAffinity failed/);
    expect((await kubectlRaw(lower2, ['get', 'pod', name, '-n', lowerNamespaceFor(f2, PAY)])).code).not.toBe(0);
  });

  it('references that are no object names, too many references and Secrets a lower kubelet would read by name are refused', async () => {
    // The upper API server checks some reference names and not others; whatever it lets through, fedlet
    // refuses before the name reaches an API path.
    const badNames: Array<[string, Record<string, unknown>, string]> = [
      [
        'bad-env',
        {
          containers: [
            printer({
              env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'db-creds/../../x', key: 'k', optional: true } } }],
            }),
          ],
        },
        'spec.containers[0].env[0].valueFrom.secretKeyRef.name',
      ],
      [
        'bad-volume',
        {
          volumes: [{ name: 'v', secret: { secretName: 'DB_Creds', optional: true } }],
          containers: [printer({ volumeMounts: [{ name: 'v', mountPath: '/v/s' }] })],
        },
        'spec.volumes[0].secret.secretName',
      ],
      [
        'bad-pull',
        { imagePullSecrets: [{ name: 'db-creds?watch=1' }], containers: [printer()] },
        'spec.imagePullSecrets[0].name',
      ],
    ];
    const reachedFedlet: string[] = [];
    for (const [name, spec, field] of badNames) {
      const created = await kubectlRaw(tenant, ['apply', '-f', '-'], {
        input: JSON.stringify(tenantPod(name, PAY, f2.nodeName, spec)),
      });
      if (created.code !== 0) {
        expect(created.stderr, name).toMatch(/Invalid value/);
        continue;
      }
      reachedFedlet.push(name);
      const p = await reasonOf(PAY, name, 'InvalidReference');
      expect(p.status?.message).toContain(`${field} "`);
      expect(p.status?.message).toContain('is not a valid Secret name');
    }
    console.log(`tenants e2e: bad reference names the upper API server let through: ${reachedFedlet.join(', ')}`);
    // At least one kind's names are only checked to be non-empty upstairs: fedlet's own check is what refuses it.
    expect(reachedFedlet.length).toBeGreaterThan(0);

    await asTenant(
      tenantPod('many-refs', PAY, f2.nodeName, {
        containers: [
          printer({ envFrom: Array.from({ length: 70 }, (_, i) => ({ secretRef: { name: `s-${i}`, optional: true } })) }),
        ],
      }),
    );
    const many = await reasonOf(PAY, 'many-refs', 'TooManyReferences');
    expect(many.status?.message).toContain('references 70 distinct ConfigMaps and Secrets');

    await asTenant(
      tenantPod('csi-secret', PAY, f2.nodeName, {
        volumes: [{ name: 'v', csi: { driver: 'secrets.example.com', nodePublishSecretRef: { name: 'db-creds' } } }],
        containers: [printer({ volumeMounts: [{ name: 'v', mountPath: '/v/csi' }] })],
      }),
    );
    const csi = await reasonOf(PAY, 'csi-secret', 'UnsupportedPodSpec');
    expect(csi.status?.message).toContain('names a Secret (csi.nodePublishSecretRef) that a lower kubelet would read');
    expect(await fedletPodsIn(lower2, lowerNamespaceFor(f2, PAY))).not.toMatch(/bad-|many-refs|csi-secret/);
  });

  describe('once the lower admin grants fedlet their namespace', () => {
    beforeAll(async () => {
      await kubectl(lower1, ['label', 'namespace', PAY, `fedlet.io/grant=${f1.nodeName}`]);
    });

    it('pods run there, yet the other team’s Secret next to them is still out of reach (optional references, every kind)', async () => {
      await asTenant(tenantPod('granted', PAY, f1.nodeName, everyOptionalReference()));
      const out = await printed(PAY, 'granted');
      expectNothingOfTheLowerTeam(out);
      const low = await getPod(lower1, PAY, 'granted');
      expect(low.spec.nodeName).toBe(s.realNodes!.find((r) => r.cluster === f1.cluster)!.name);
      // The lower team's objects are as they were.
      expect((await kubectl(lower1, ['get', 'secret', 'db-creds', '-n', PAY, '-o', 'jsonpath={.metadata.labels}'])).trim()).toBe(
        '',
      );
    });

    it('a decoy upper Secret named db-creds is refused there too (LowerDependencyConflict)', async () => {
      await kubectl(tenant, ['create', 'secret', 'generic', 'db-creds', '-n', PAY, '--from-literal=password=decoy']);
      await asTenant(
        tenantPod('granted-decoy', PAY, f1.nodeName, {
          containers: [printer({ envFrom: [{ secretRef: { name: 'db-creds' } }] })],
        }),
      );
      const p = await reasonOf(PAY, 'granted-decoy', 'LowerDependencyConflict');
      expect(p.status?.message).toContain(`lower Secret ${PAY}/db-creds in cluster ${f1.cluster}`);
      expect(await fedletPodsIn(lower1, PAY)).not.toContain('granted-decoy');
    });

    it('the annotation alone does not make a pod the other team’s ServiceAccount: LowerIdentityNotAllowed', async () => {
      await kubectl(tenant, ['create', 'serviceaccount', 'deployer', '-n', PAY]).catch(() => undefined);
      await asTenant(
        tenantPod(
          'as-deployer',
          PAY,
          f1.nodeName,
          { serviceAccountName: 'deployer', containers: [printer()] },
          {
            'fedlet.io/service-account': 'lower',
          },
        ),
      );
      const p = await reasonOf(PAY, 'as-deployer', 'LowerIdentityNotAllowed');
      expect(p.status?.message).toContain(`kubectl label namespace ${PAY} fedlet.io/lower-identity=${f1.nodeName}`);
      await eventsOf(PAY, 'as-deployer', 'LowerIdentityNotAllowed');
      expect(await fedletPodsIn(lower1, PAY)).not.toContain('as-deployer');
    });
  });
});
