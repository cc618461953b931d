// Cross-cluster placement that never lies. Its own sandbox with fragmented lower clusters:
//   lower-1: 5 nodes × 2 CPU (10 CPU in total, no single node takes 3)
//   lower-2: 1 node × 8 CPU
//   lower-3: 1 node × 4 CPU
// The upper kube-scheduler (unmodified) calls fedlet's extender; a second scheduler profile without
// the extender shows the failure mode it fixes.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBinary } from '../../sandbox/binaries.js';
import type { KwokNodeSpec } from '../../sandbox/cluster.js';
import { freePorts, startProcess, stopProcess, type ProcessRecord } from '../../sandbox/processes.js';
import {
  restartComponent,
  sandboxDown,
  sandboxUp,
  saveState,
  startFedlet,
  stopComponent,
  stopFedlet,
  type SandboxState,
} from '../../sandbox/sandbox.js';
import { createNamespace } from './framework/namespaces.js';
import { eventually, kubectl, kubectlJson } from './framework/kubectl.js';
import { forbiddenInLogs } from './global-setup.js';
import { isReady, type ApiPod as Pod } from './framework/pods.js';

const layouts: KwokNodeSpec[][] = [
  Array.from({ length: 5 }, (_, i) => ({
    name: `small-${i}`,
    cpu: '2',
    memory: '8Gi',
    pods: 110,
    podCIDR: `10.244.${i * 4}.0/22`,
  })),
  [{ name: 'big-0', cpu: '8', memory: '32Gi', pods: 110, podCIDR: '10.244.0.0/22' }],
  [{ name: 'mid-0', cpu: '4', memory: '16Gi', pods: 110, podCIDR: '10.244.0.0/22' }],
];
const ns = 'placement-e2e';
/** The sandbox maps namespaces of its second lower cluster with the template {{namespace}}-{{cluster}}. */
const ns2 = `${ns}-lower-2`;
let s: SandboxState;
let noExtScheduler: ProcessRecord | undefined;
const external = !!process.env.FEDLET_E2E_UPPER_KUBECONFIG;

function podManifest(name: string, spec: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns },
    spec: { containers: [{ name: 'c', image: 'registry.example/app:1', resources: { requests: { cpu: '3' } } }], ...spec },
  });
}
const getPod = (name: string) => kubectlJson<Pod>(s.upperKubeconfig, ['get', 'pod', name, '-n', ns]);

describe.skipIf(external)('placement with the scheduler extender', () => {
  beforeAll(async () => {
    s = await sandboxUp({
      dir: mkdtempSync(path.join(os.tmpdir(), 'fedlet-placement-')),
      lowers: 3,
      lowerNodes: (i) => layouts[i]!,
      extraFedletArgs: ['--bounce-after=10', '--avoid-after-bounce=300'],
    });
    await createNamespace(s.upperKubeconfig, ns);
    // (sandboxUp returns once every summary is published without lifecycle taints.)
    // A second scheduler profile without the extender (same unmodified kube-scheduler binary).
    const [port] = await freePorts(1);
    const cfg = path.join(s.upper.dir, 'no-extender.yaml');
    writeFileSync(
      cfg,
      [
        'apiVersion: kubescheduler.config.k8s.io/v1',
        'kind: KubeSchedulerConfiguration',
        'clientConnection:',
        `  kubeconfig: ${path.join(s.upper.dir, 'kube-scheduler.kubeconfig')}`,
        'leaderElection:',
        '  leaderElect: false',
        'profiles:',
        '  - schedulerName: no-extender',
        '',
      ].join('\n'),
    );
    noExtScheduler = startProcess(
      'kube-scheduler-no-extender',
      findBinary('kube-scheduler'),
      [
        `--config=${cfg}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${port}`,
        `--cert-dir=${path.join(s.upper.dir, 'no-ext-certs')}`,
      ],
      path.join(s.upper.dir, 'kube-scheduler-no-extender.log'),
    );
  }, 300_000);

  afterAll(async () => {
    if (noExtScheduler) await stopProcess(noExtScheduler);
    const forbidden = s ? forbiddenInLogs(s.dir) : [];
    if (s && !process.env.FEDLET_E2E_KEEP) await sandboxDown(s.dir);
    expect(forbidden).toEqual([]);
  });

  it('places a 3-CPU pod on the cluster where one node fits it, and it runs', async () => {
    await kubectl(s.upperKubeconfig, ['apply', '-f', '-'], { input: podManifest('fits') });
    try {
      const p = await eventually(
        async () => {
          const p = await getPod('fits');
          if (!isReady(p)) throw new Error(`phase ${p.status?.phase} on ${p.spec.nodeName}`);
          return p;
        },
        { timeoutMs: 90_000, what: '3-CPU pod Running' },
      );
      expect(['fedlet-lower-2', 'fedlet-lower-3']).toContain(p.spec.nodeName);
      expect(p.spec.nodeName).toBe('fedlet-lower-2'); // most headroom for the pod: 2 copies vs 1
    } finally {
      await kubectl(s.upperKubeconfig, ['delete', 'pod', 'fits', '-n', ns, '--wait=true', '--timeout=60s']);
    }
  });

  it('without the extender, the same pod lands on the fragmented cluster and stays Pending there', async () => {
    await kubectl(s.upperKubeconfig, ['apply', '-f', '-'], {
      input: podManifest('no-extender', { schedulerName: 'no-extender' }),
    });
    const p = await eventually(
      async () => {
        const p = await getPod('no-extender');
        const c = p.status?.conditions?.find((x) => x.type === 'fedlet.io/LowerScheduled');
        if (c?.status !== 'False') throw new Error(`on ${p.spec.nodeName}, LowerScheduled ${c?.status}`);
        return p;
      },
      { timeoutMs: 60_000, what: 'pod bound to lower-1 and unschedulable there' },
    );
    expect(p.spec.nodeName).toBe('fedlet-lower-1');
    expect(p.status?.conditions?.find((x) => x.type === 'fedlet.io/LowerScheduled')?.message).toMatch(/Insufficient cpu/);
    await kubectl(s.upperKubeconfig, ['delete', 'pod', 'no-extender', '-n', ns, '--wait=true', '--timeout=60s']);
  });

  it('keeps pods that tolerate nothing away from a tainted lower pool, and lets tolerating pods in', async () => {
    await kubectl(s.lowerKubeconfigs[2]!, ['taint', 'node', 'mid-0', 'dedicated=batch:NoSchedule']);
    try {
      const pin = { nodeSelector: { 'fedlet.io/cluster': 'lower-3' } };
      await eventually(
        async () => {
          const cm = await kubectl(s.upperKubeconfig, [
            'get',
            'configmap',
            'fedlet-summary-fedlet-lower-3',
            '-n',
            'fedlet-system',
            '-o',
            'jsonpath={.data.summary\\.json}',
          ]);
          if (!cm.includes('dedicated')) throw new Error('taint not in summary yet');
        },
        { what: 'taint published' },
      );
      await kubectl(s.upperKubeconfig, ['apply', '-f', '-'], { input: podManifest('intolerant', pin) });
      await kubectl(s.upperKubeconfig, ['apply', '-f', '-'], {
        input: podManifest('tolerant', {
          ...pin,
          tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'batch', effect: 'NoSchedule' }],
        }),
      });
      await eventually(async () => expect(isReady(await getPod('tolerant'))).toBe(true), {
        timeoutMs: 90_000,
        what: 'tolerating pod Running',
      });
      const events = await eventually(
        async () => {
          const out = await kubectl(s.upperKubeconfig, [
            'get',
            'events',
            '-n',
            ns,
            '--field-selector',
            'involvedObject.name=intolerant,reason=FailedScheduling',
            '-o',
            'jsonpath={.items[*].message}',
          ]);
          if (!out.includes('untolerated taints')) throw new Error(`events: ${out}`);
          return out;
        },
        { what: 'FailedScheduling naming the taint' },
      );
      expect(events).toMatch(/lower cluster lower-3/);
      expect((await getPod('intolerant')).spec.nodeName).toBeUndefined();
    } finally {
      await kubectl(s.lowerKubeconfigs[2]!, ['taint', 'node', 'mid-0', 'dedicated-']);
      await kubectl(s.upperKubeconfig, ['delete', 'pod', 'intolerant', 'tolerant', '-n', ns, '--wait=true', '--timeout=60s']);
    }
  });

  it('bounces a pod whose only fitting lower node is cordoned after binding, and runs the replacement elsewhere', async () => {
    // Hold lower-2's own scheduler so the pod is bound upstairs but not yet placed downstairs.
    await stopComponent(s, 'lower-2', 'kube-scheduler');
    try {
      await kubectl(s.upperKubeconfig, ['apply', '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'bouncer', namespace: ns },
          spec: {
            replicas: 1,
            selector: { matchLabels: { app: 'bouncer' } },
            template: {
              metadata: { labels: { app: 'bouncer' } },
              spec: {
                affinity: {
                  nodeAffinity: {
                    preferredDuringSchedulingIgnoredDuringExecution: [
                      {
                        weight: 100,
                        preference: { matchExpressions: [{ key: 'fedlet.io/cluster', operator: 'In', values: ['lower-2'] }] },
                      },
                    ],
                  },
                },
                containers: [{ name: 'c', image: 'registry.example/app:1', resources: { requests: { cpu: '3' } } }],
              },
            },
          },
        }),
      });
      await eventually(
        async () => {
          const n = (await kubectl(s.lowerKubeconfigs[1]!, ['get', 'pods', '-n', ns2, '-l', 'app=bouncer', '-o', 'name'])).trim();
          if (!n) throw new Error('no lower pod yet');
        },
        { what: 'lower pod created in lower-2' },
      );
      await kubectl(s.lowerKubeconfigs[1]!, ['cordon', 'big-0']);
    } finally {
      restartComponent(s, 'lower-2', 'kube-scheduler');
    }
    try {
      const bounced = await eventually(
        async () => {
          const pods = (await kubectlJson<{ items: Pod[] }>(s.upperKubeconfig, ['get', 'pods', '-n', ns, '-l', 'app=bouncer']))
            .items;
          const b = pods.find((p) => p.status?.reason === 'LowerUnschedulable');
          if (!b) throw new Error(pods.map((p) => `${p.metadata.name}:${p.status?.phase}/${p.status?.reason ?? ''}`).join(' '));
          return b;
        },
        { timeoutMs: 120_000, what: 'pod bounced (LowerUnschedulable)' },
      );
      expect(bounced.status?.phase).toBe('Failed');
      const replacement = await eventually(
        async () => {
          const pods = (
            await kubectlJson<{ items: Pod[] }>(s.upperKubeconfig, ['get', 'pods', '-n', ns, '-l', 'app=bouncer'])
          ).items.filter((p) => p.status?.phase !== 'Failed');
          const r = pods.find(isReady);
          if (!r)
            throw new Error(
              pods.map((p) => `${p.metadata.name}:${p.spec.nodeName}:${p.status?.phase}`).join(' ') || 'no replacement yet',
            );
          return r;
        },
        { timeoutMs: 120_000, what: 'replacement Running' },
      );
      expect(replacement.spec.nodeName).toBe('fedlet-lower-3');
      // Never two running copies: nothing of the bouncer is left in lower-2.
      expect((await kubectl(s.lowerKubeconfigs[1]!, ['get', 'pods', '-n', ns2, '-l', 'app=bouncer', '-o', 'name'])).trim()).toBe(
        '',
      );

      // The record that keeps the bouncer's ReplicaSet away from lower-2 survives a fedlet restart: it
      // lives in the published summary, which the new process reads back before publishing its own.
      const owner = (
        await kubectl(s.upperKubeconfig, [
          'get',
          'pod',
          bounced.metadata.name,
          '-n',
          ns,
          '-o',
          'jsonpath={.metadata.ownerReferences[0].uid}',
        ])
      ).trim();
      const summary = async () =>
        JSON.parse(
          await kubectl(s.upperKubeconfig, [
            'get',
            'configmap',
            'fedlet-summary-fedlet-lower-2',
            '-n',
            'fedlet-system',
            '-o',
            'jsonpath={.data.summary\\.json}',
          ]),
        ) as { generated: string; avoid: Record<string, string> };
      // (Published within a few seconds of the bounce: capacity debounce plus the publisher's interval.)
      await eventually(
        async () => {
          const before = await summary();
          if (!Object.keys(before.avoid).includes(owner))
            throw new Error(`avoid ${JSON.stringify(before.avoid)} (generated ${before.generated})`);
        },
        { timeoutMs: 30_000, what: 'bounced controller in the published summary' },
      );
      await stopFedlet(s, 'lower-2');
      const restartedAt = Date.now();
      startFedlet(s, 'lower-2');
      saveState(s); // the sandbox's teardown stops the new process too
      // A restart that finds its summary as published writes nothing; a change of the lower cluster
      // (big-0 schedulable again, which the summary shows) makes the new process publish, from its
      // restored bounce record (whether it lists the change at start or sees it later).
      await kubectl(s.lowerKubeconfigs[1]!, ['uncordon', 'big-0']);
      const republished = await eventually(
        async () => {
          const sm = await summary();
          if (Date.parse(sm.generated) < restartedAt) throw new Error(`summary still from before the restart (${sm.generated})`);
          return sm;
        },
        { timeoutMs: 60_000, what: 'summary republished by the restarted fedlet' },
      );
      expect(Object.keys(republished.avoid)).toContain(owner);
    } finally {
      await kubectl(s.lowerKubeconfigs[1]!, ['uncordon', 'big-0']);
      await kubectl(s.upperKubeconfig, ['delete', 'deployment', 'bouncer', '-n', ns]);
    }
  });
});
