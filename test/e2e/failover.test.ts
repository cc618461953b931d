// Failures heal. A lower cluster whose API server dies: its virtual node turns NotReady, the
// upper cluster's own taint-based eviction deletes the pods, fedlet completes those deletions in
// bounded time, replacements run elsewhere, and leftovers are removed when the cluster returns.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restartComponent, stopComponent, waitForNodesReady } from '../../sandbox/sandbox.js';
import { createNamespace, lowerNamespaceFor } from './framework/namespaces.js';
import { eventually, kubectl, kubectlJson, sandbox } from './framework/kubectl.js';
import type { ApiPod as Pod } from './framework/pods.js';

const s = sandbox();
const upper = s.upperKubeconfig;
const [lower1] = s.lowerKubeconfigs as [string, string];
const [f1, f2] = s.fedlets as [(typeof s.fedlets)[0], (typeof s.fedlets)[0]];
const ns = 'failover-e2e';

beforeAll(async () => {
  await createNamespace(upper, ns);
});
afterAll(async () => {
  await kubectl(upper, ['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
});

describe.skipIf(s.external)('an unreachable lower cluster', () => {
  it('moves every replica to the other cluster, and cleans up the lost one when it returns', async () => {
    const tolerations = ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable'].map((key) => ({
      key,
      operator: 'Exists',
      effect: 'NoExecute',
      tolerationSeconds: 5,
    }));
    await kubectl(upper, ['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'ha', namespace: ns },
        spec: {
          replicas: 4,
          selector: { matchLabels: { app: 'ha' } },
          template: {
            metadata: { labels: { app: 'ha' } },
            spec: {
              tolerations,
              terminationGracePeriodSeconds: 5,
              topologySpreadConstraints: [
                {
                  maxSkew: 1,
                  topologyKey: 'fedlet.io/cluster',
                  whenUnsatisfiable: 'ScheduleAnyway',
                  labelSelector: { matchLabels: { app: 'ha' } },
                },
              ],
              containers: [{ name: 'app', image: 'registry.example/app:1' }],
            },
          },
        },
      }),
    });
    const running = (pods: Pod[]) =>
      pods.filter(
        (p) =>
          !p.metadata.deletionTimestamp &&
          p.status?.phase === 'Running' &&
          p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      );
    const initial = await eventually(
      async () => {
        const pods = running((await kubectlJson<{ items: Pod[] }>(upper, ['get', 'pods', '-n', ns, '-l', 'app=ha'])).items);
        if (pods.length !== 4) throw new Error(`${pods.length}/4 Running`);
        return pods;
      },
      { timeoutMs: 240_000, what: '4 replicas Running' },
    );
    expect(initial.filter((p) => p.spec.nodeName === f1.nodeName).length).toBeGreaterThan(0);

    await stopComponent(s, f1.cluster, 'kube-apiserver');
    try {
      await eventually(
        async () => {
          const pods = (await kubectlJson<{ items: Pod[] }>(upper, ['get', 'pods', '-n', ns, '-l', 'app=ha'])).items;
          const onB = running(pods).filter((p) => p.spec.nodeName === f2.nodeName);
          const onA = pods.filter((p) => p.spec.nodeName === f1.nodeName);
          if (onB.length !== 4 || onA.length)
            throw new Error(`${onB.length}/4 Running on ${f2.nodeName}, ${onA.length} left on ${f1.nodeName}`);
        },
        { timeoutMs: 180_000, intervalMs: 1000, what: 'all replicas Running on the reachable cluster, none stuck Terminating' },
      );
      const events = await kubectlJson<{ items: Array<{ reason: string }> }>(upper, ['get', 'events', '-n', ns]);
      expect(events.items.some((e) => e.reason === 'LowerClusterUnreachable')).toBe(true);
    } finally {
      restartComponent(s, f1.cluster, 'kube-apiserver');
    }
    await waitForNodesReady(s, [f1.nodeName], 120_000);
    await eventually(
      async () => {
        const left = (await kubectl(lower1, ['get', 'pods', '-n', ns, '-l', 'app=ha', '-o', 'name'])).trim();
        if (left) throw new Error(`leftovers in ${f1.cluster}: ${left.split('\n').join(', ')}`);
      },
      { timeoutMs: 120_000, what: 'leftover lower pods removed' },
    );
    await kubectl(upper, ['delete', 'deployment', 'ha', '-n', ns]);
  });
});

describe.skipIf(s.external)('two fedlet replicas for one lower cluster', () => {
  it('only the leader works; SIGKILL it during a scale-up and the standby converges to exactly the desired pods', async () => {
    const { freePorts, startProcess, stopProcess } = await import('../../sandbox/processes.js');
    const { fedletCli, startFedlet, stopFedlet, saveState } = await import('../../sandbox/sandbox.js');
    const path = await import('node:path');
    const lower2 = s.lowerKubeconfigs[1]!;
    const lowerNs = lowerNamespaceFor(f2, ns);
    const [standbyPort, standbyHealth] = await freePorts(2);
    const args = f2.args.map((a) =>
      a.startsWith('--kubelet-port=')
        ? `--kubelet-port=${standbyPort}`
        : a.startsWith('--health-port=')
          ? `--health-port=${standbyHealth}`
          : a,
    );
    const readyz = async (port: number) => {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      return `${r.status} ${(await r.text()).trim()}`;
    };
    const standby = startProcess(
      'fedlet-standby',
      process.execPath,
      [fedletCli(), ...args],
      path.join(s.dir, 'fedlet-standby.log'),
    );
    const port = async () =>
      Number(await kubectl(upper, ['get', 'node', f2.nodeName, '-o', 'jsonpath={.status.daemonEndpoints.kubeletEndpoint.Port}']));
    try {
      expect(await port()).toBe(f2.kubeletPort);
      const leaderHealth = Number(f2.args.find((a) => a.startsWith('--health-port='))!.split('=')[1]);
      expect(await readyz(leaderHealth)).toBe('200 leader');
      await eventually(async () => expect(await readyz(standbyHealth!)).toBe('200 standby'), { what: 'standby reports standby' });
      await kubectl(upper, ['apply', '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'scale', namespace: ns },
          spec: {
            replicas: 120,
            selector: { matchLabels: { app: 'scale' } },
            template: {
              metadata: { labels: { app: 'scale' } },
              spec: {
                nodeSelector: { 'fedlet.io/cluster': f2.cluster },
                containers: [{ name: 'app', image: 'registry.example/app:1' }],
              },
            },
          },
        }),
      });
      await eventually(
        async () => {
          const n = (await kubectl(lower2, ['get', 'pods', '-n', lowerNs, '-l', 'app=scale', '-o', 'name']))
            .trim()
            .split('\n')
            .filter(Boolean).length;
          if (n < 10) throw new Error(`${n} lower pods`);
        },
        { intervalMs: 100, what: 'scale-up under way' },
      );
      await stopFedlet(s, f2.cluster, 'SIGKILL');
      await eventually(
        async () => {
          const p = await port();
          if (p !== standbyPort) throw new Error(`node still points at port ${p}`);
        },
        { timeoutMs: 90_000, what: 'standby took over and published its kubelet endpoint' },
      );
      await eventually(async () => expect(await readyz(standbyHealth!)).toBe('200 leader'), {
        what: 'the new leader reports ready once started',
      });
      await eventually(
        async () => {
          const ready = (
            await kubectl(upper, [
              'get',
              'pods',
              '-n',
              ns,
              '-l',
              'app=scale',
              '-o',
              'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
            ])
          )
            .trim()
            .split('\n')
            .filter((x) => x === 'True').length;
          if (ready !== 120) throw new Error(`${ready}/120 Ready`);
        },
        { timeoutMs: 180_000, what: '120 pods Ready after failover' },
      );
      const lowerNames = (await kubectl(lower2, ['get', 'pods', '-n', lowerNs, '-l', 'app=scale', '-o', 'name']))
        .trim()
        .split('\n');
      expect(lowerNames).toHaveLength(120);
      await kubectl(upper, ['delete', 'deployment', 'scale', '-n', ns]);
      await eventually(
        async () => {
          const left = (await kubectl(lower2, ['get', 'pods', '-n', lowerNs, '-l', 'app=scale', '-o', 'name'])).trim();
          if (left) throw new Error('lower pods left');
        },
        { timeoutMs: 120_000 },
      );
      // A clean stop (SIGTERM) hands the lease over: the stopped leader no longer holds it, so whoever
      // comes next takes over at once instead of after the lease expires.
      const holder = () =>
        kubectl(upper, [
          'get',
          'lease',
          `${f2.nodeName}-leader`,
          '-n',
          'kube-node-lease',
          '-o',
          'jsonpath={.spec.holderIdentity}',
        ]);
      const leader = (await holder()).trim();
      expect(leader).not.toBe('');
      // stopProcess sends SIGTERM and SIGKILLs after 5 s: a release that comes too late fails here.
      await stopProcess(standby);
      expect((await holder()).trim()).toBe('');
    } finally {
      // Hand the node back to the sandbox's own fedlet.
      await stopProcess(standby);
      startFedlet(s, f2.cluster);
      saveState(s);
      await waitForNodesReady(s, [f2.nodeName], 120_000);
      await eventually(async () => expect(await port()).toBe(f2.kubeletPort), {
        timeoutMs: 60_000,
        what: 'sandbox fedlet leads again',
      });
    }
  });
});
