// Issue: fedlet in front of real kubelets — what changes a running pod: `kubectl debug` (ephemeral
// containers through the lower ephemeralcontainers subresource, the session attached through fedlet),
// in-place resize (the lower resize subresource; the lower kubelet's verdict mirrored), and what only
// a real kubelet does over time: CronJobs whose Jobs finish, liveness-probe restarts. Pods run on the
// real lower node (the lower cluster's kwok nodes are cordoned for this file).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespace } from './framework/namespaces.js';
import { eventually, kubectl, kubectlJson, kubectlRaw, sandbox } from './framework/kubectl.js';
import {
  apply,
  BUSYBOX,
  container,
  kubectlStream,
  realNodesMissing,
  realNodesOnly,
  realPod,
  realPodSpec,
  waitPod,
} from './framework/real-nodes.js';
import { getPod, isReady, type ApiPod } from './framework/pods.js';
import type { ContainerStatus } from '../../src/kube/types.js';

const s = sandbox();
const missing = realNodesMissing(s);
const upper = s.upperKubeconfig;
const lower1 = s.lowerKubeconfigs[0]!;
const f1 = s.fedlets[0]!;
const ns = 'real-debug';
const node = f1.nodeName;
let restore: (() => Promise<void>) | undefined;

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}
interface FullStatus {
  conditions?: Condition[];
  containerStatuses?: Array<ContainerStatus & { resources?: unknown; allocatedResources?: Record<string, string> }>;
  ephemeralContainerStatuses?: ContainerStatus[];
}
interface FullPod {
  spec: { containers: Array<{ name: string; resources?: unknown }>; ephemeralContainers?: Array<{ name: string }> };
  status?: FullStatus;
}
const full = (kubeconfig: string, name: string, namespace = ns) =>
  kubectlJson<FullPod>(kubeconfig, ['get', 'pod', name, '-n', namespace]);
const app = (p: FullPod) => p.status?.containerStatuses?.find((c) => c.name === 'app');
const cond = (p: FullPod, type: string) => p.status?.conditions?.find((c) => c.type === type);
const pod = (name: string, spec: Record<string, unknown>, namespace = ns) => realPod(name, namespace, node, spec);

async function upperEvents(namespace: string, name: string, reason: string): Promise<string[]> {
  const list = await kubectlJson<{ items: Array<{ message?: string }> }>(upper, [
    'get',
    'events',
    '-n',
    namespace,
    '--field-selector',
    `involvedObject.name=${name},reason=${reason}`,
  ]);
  return list.items.map((e) => e.message ?? '');
}

/** `kubectl patch pod <pod> --subresource resize` of the container "app" in the upper cluster; never throws. */
function resizeApp(pod: string, resources: Record<string, unknown>) {
  return kubectlRaw(upper, [
    'patch',
    'pod',
    pod,
    '-n',
    ns,
    '--subresource',
    'resize',
    '--patch',
    JSON.stringify({ spec: { containers: [{ name: 'app', resources }] } }),
  ]);
}

describe.skipIf(!!missing)(`real lower nodes: debug, resize, CronJob, liveness${missing ? ` (skipped: ${missing})` : ''}`, () => {
  beforeAll(async () => {
    restore = await realNodesOnly(upper, [lower1], [node]);
    await createNamespace(upper, ns);
    await apply(upper, pod('web', { containers: [container('app', ['serve', '8080'])] }));
    await waitPod(upper, ns, 'web', isReady, 'Ready');
  });

  afterAll(async () => {
    await kubectl(upper, ['delete', 'namespace', ns, `${ns}-psa`, '--wait=false']).catch(() => undefined);
    await restore?.();
  });

  it('kubectl debug --target: the ephemeral container runs in the lower pod, the session is attached through fedlet, its status mirrored', async () => {
    const marker = `debug-${randomBytes(4).toString('hex')}`;
    // An interactive session: kubectl keeps stdin open while the shell runs commands typed into it
    // (kubectl closes the stream at EOF, and a real kubelet then ends the attach session with the
    // container, dropping output still in flight: the same directly against the lower cluster).
    const session = kubectlStream(upper, [
      'debug',
      '-i',
      'web',
      '-n',
      ns,
      `--image=${BUSYBOX}`,
      '--image-pull-policy=Never',
      // The lower namespace enforces Pod Security "baseline" (fedlet's podSecurityFloor): kubectl's
      // default "general" profile adds SYS_PTRACE, which baseline refuses (as it would upstairs).
      '--profile=baseline',
      '--target=app',
      '--container=dbg',
      '--',
      'sh',
    ]);
    try {
      // kubectl sends this only once it has attached: every byte that comes back was produced in the
      // lower ephemeral container and relayed by fedlet's kubelet API.
      session.child.stdin.write(`echo ${marker}; tr '\\0' ' ' < /proc/1/cmdline; echo\n`);
      await session.waitFor(new RegExp(marker));
      // --target shares the app container's process namespace: its PID 1 is the app's own process.
      await session.waitFor(/testapp serve 8080/);
      session.child.stdin.end('exit 0\n');
      expect(await session.exited, session.errors()).toBe(0);
    } finally {
      session.stop();
    }

    const lower = await full(lower1, 'web');
    expect(lower.spec.ephemeralContainers?.map((c) => c.name)).toEqual(['dbg']);
    const terminated = await eventually(
      async () => {
        const [u, l] = await Promise.all([full(upper, 'web'), full(lower1, 'web')]);
        const dbg = u.status?.ephemeralContainerStatuses?.find((c) => c.name === 'dbg');
        if (!dbg?.state?.terminated) throw new Error(`dbg not terminated upstairs yet: ${JSON.stringify(dbg)}`);
        expect(u.status?.ephemeralContainerStatuses).toEqual(l.status?.ephemeralContainerStatuses);
        return dbg;
      },
      { what: 'the ephemeral container terminated upstairs as below' },
    );
    expect(terminated.state?.terminated?.exitCode).toBe(0);
    expect(terminated.containerID).toMatch(/^containerd:\/\//);
    // Its log is served through fedlet as well.
    expect(await kubectl(upper, ['logs', 'web', '-n', ns, '-c', 'dbg'])).toContain(marker);
    // The app container was left alone.
    expect(app(await full(upper, 'web'))?.restartCount).toBe(0);
  });

  it('an ephemeral container the lower cluster refuses waits upstairs with the lower reason and an event', async () => {
    const psa = `${ns}-psa`;
    await createNamespace(upper, psa);
    await apply(upper, pod('guarded', { containers: [container('app', ['serve', '8080'])] }, psa));
    await waitPod(upper, psa, 'guarded', isReady, 'Ready');
    // Only the lower namespace enforces Pod Security "baseline" (fedlet's podSecurityFloor, made sure of
    // here): the upper API server accepts a privileged debug container, the lower one refuses it.
    await kubectl(lower1, ['label', 'namespace', psa, '--overwrite', 'pod-security.kubernetes.io/enforce=baseline']);
    await kubectl(upper, [
      'debug',
      'guarded',
      '-n',
      psa,
      `--image=${BUSYBOX}`,
      '--image-pull-policy=Never',
      '--profile=sysadmin',
      '--container=root-dbg',
      '--',
      'sleep',
      '60',
    ]);
    const waiting = await eventually(
      async () => {
        const u = await full(upper, 'guarded', psa);
        const w = u.status?.ephemeralContainerStatuses?.find((c) => c.name === 'root-dbg')?.state?.waiting;
        if (!w) throw new Error(`no waiting state for root-dbg: ${JSON.stringify(u.status?.ephemeralContainerStatuses)}`);
        return w;
      },
      { what: 'the refused ephemeral container waiting upstairs' },
    );
    expect(waiting.reason).toBe('LowerRejected');
    expect(waiting.message).toMatch(/violates PodSecurity "baseline/);
    const events = await eventually(
      async () => {
        const e = await upperEvents(psa, 'guarded', 'LowerRejected');
        if (!e.length) throw new Error('no LowerRejected event yet');
        return e;
      },
      { what: 'the LowerRejected event' },
    );
    expect(events.join('\n')).toMatch(/refused to add ephemeral containers \(403\).*privileged/);
    expect((await full(lower1, 'guarded', psa)).spec.ephemeralContainers).toBeUndefined();
    // The pod itself keeps running.
    expect(isReady((await getPod(upper, psa, 'guarded')) as ApiPod)).toBe(true);
  });

  it('in-place resize reaches the lower pod; the kubelet applies it and its status is mirrored', async () => {
    const resources = (cpu: string, limit: string) => ({
      requests: { cpu, memory: '32Mi' },
      limits: { cpu: limit, memory: '64Mi' },
    });
    await apply(
      upper,
      pod('sized', { containers: [container('app', ['serve', '8080'], { resources: resources('100m', '200m') })] }),
    );
    await waitPod(upper, ns, 'sized', isReady, 'Ready');
    const quota = () =>
      kubectl(upper, ['exec', 'sized', '-n', ns, '--', '/bin/testapp', 'cat', '/sys/fs/cgroup/cpu/cpu.cfs_quota_us']);
    expect((await quota()).trim()).toBe('20000');

    const accepted = await resizeApp('sized', resources('150m', '300m'));
    expect(accepted.code, accepted.stderr).toBe(0);
    await eventually(
      async () => {
        const [u, l] = await Promise.all([full(upper, 'sized'), full(lower1, 'sized')]);
        expect(l.spec.containers[0]?.resources).toEqual(resources('150m', '300m'));
        const st = app(u);
        expect(st?.allocatedResources).toEqual({ cpu: '150m', memory: '32Mi' });
        expect(st?.resources).toEqual(resources('150m', '300m'));
        expect(cond(u, 'PodResizeInProgress')).toBeUndefined();
        expect(cond(u, 'PodResizePending')).toBeUndefined();
        expect(u.status?.containerStatuses).toEqual(l.status?.containerStatuses);
      },
      { timeoutMs: 90_000, what: 'the resize applied below and mirrored' },
    );
    // The container really got the new limit (read through fedlet's exec), without a restart.
    await eventually(async () => expect((await quota()).trim()).toBe('30000'), { what: 'the new CFS quota' });
    expect(app(await full(upper, 'sized'))?.restartCount).toBe(0);
  });

  it('a CronJob’s Jobs run on the real node and finish: the upper Job is Complete', async () => {
    await apply(upper, {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'every-minute', namespace: ns },
      spec: {
        schedule: '* * * * *',
        concurrencyPolicy: 'Forbid',
        jobTemplate: {
          spec: {
            backoffLimit: 0,
            template: { spec: realPodSpec(node, { restartPolicy: 'Never', containers: [container('app', ['exit', '0'])] }) },
          },
        },
      },
    });
    interface Job {
      metadata: { name: string; ownerReferences?: Array<{ kind: string; name: string }> };
      status?: { succeeded?: number; conditions?: Condition[] };
    }
    const done = await eventually(
      async () => {
        const jobs = await kubectlJson<{ items: Job[] }>(upper, ['get', 'jobs', '-n', ns]);
        const mine = jobs.items.filter((j) =>
          j.metadata.ownerReferences?.some((o) => o.kind === 'CronJob' && o.name === 'every-minute'),
        );
        const complete = mine.find((j) => j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True'));
        if (!complete) throw new Error(`no complete Job yet: ${JSON.stringify(mine.map((j) => j.status))}`);
        return complete;
      },
      { timeoutMs: 180_000, intervalMs: 2000, what: 'a Job of the CronJob Complete' },
    );
    expect(done.status?.succeeded).toBe(1);
    await eventually(
      async () => {
        const cj = await kubectlJson<{ status?: { lastSuccessfulTime?: string } }>(upper, [
          'get',
          'cronjob',
          'every-minute',
          '-n',
          ns,
        ]);
        expect(cj.status?.lastSuccessfulTime).toBeTruthy();
      },
      { what: 'the CronJob records its last success' },
    );
    const jobPods = await kubectlJson<{ items: ApiPod[] }>(upper, [
      'get',
      'pods',
      '-n',
      ns,
      '-l',
      `job-name=${done.metadata.name}`,
    ]);
    expect(jobPods.items.map((p) => p.status?.phase)).toEqual(['Succeeded']);
    await kubectl(upper, ['delete', 'cronjob', 'every-minute', '-n', ns]);
  });

  it('a failing liveness probe restarts the container; restartCount rises upstairs with the kubelet’s events', async () => {
    await apply(
      upper,
      pod('unhealthy', {
        containers: [
          container('app', ['serve', '8080'], {
            // Nothing listens on 8081: every probe fails.
            livenessProbe: { httpGet: { path: '/', port: 8081 }, periodSeconds: 1, failureThreshold: 2 },
          }),
        ],
      }),
    );
    const p = await waitPod(
      upper,
      ns,
      'unhealthy',
      (x) => (x.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 2,
      'restarted twice',
      180_000,
    );
    expect(p.status?.containerStatuses?.[0]?.lastState?.terminated).toBeDefined();
    await eventually(
      async () => {
        const [u, l] = await Promise.all([getPod(upper, ns, 'unhealthy'), getPod(lower1, ns, 'unhealthy')]);
        expect(u.status?.containerStatuses?.[0]?.restartCount).toBe(l.status?.containerStatuses?.[0]?.restartCount);
      },
      { what: 'restartCount as below' },
    );
    const unhealthy = await eventually(
      async () => {
        const e = await upperEvents(ns, 'unhealthy', 'Unhealthy');
        if (!e.length) throw new Error('no Unhealthy event upstairs yet');
        return e;
      },
      { what: 'the kubelet’s Unhealthy event mirrored' },
    );
    expect(unhealthy.join('\n')).toMatch(/Liveness probe failed/);
    expect((await upperEvents(ns, 'unhealthy', 'Killing')).join('\n')).toMatch(/failed liveness probe, will be restarted/);
  });

  it('a resize beyond the node is refused by the upper API server; one the lower kubelet must defer shows its own reason (PodResizePending)', async () => {
    const resize = (cpu: string) => resizeApp('sized', { requests: { cpu }, limits: { cpu } });
    // The upper API server checks a resize against the node's allocatable itself: the virtual node's is
    // what the lower cluster can take (here its real node alone, the kwok nodes being cordoned).
    const tooBig = await resize('500');
    expect(tooBig.code).not.toBe(0);
    expect(tooBig.stderr).toMatch(/node didn't have enough allocatable resources: cpu/);
    // Another fedlet pod holds 600m of the real node's 2 CPUs. Both API servers accept 1500m (within
    // the node's allocatable, and fedlet's own pods are not subtracted from the virtual node's), but the
    // lower kubelet cannot fit it next to the other pod now: it defers the resize, saying why.
    await apply(
      upper,
      pod('holder', { containers: [container('app', ['sleep', '0'], { resources: { requests: { cpu: '600m' } } })] }),
    );
    await waitPod(upper, ns, 'holder', isReady, 'Ready');
    const accepted = await resize('1500m');
    expect(accepted.code, accepted.stderr).toBe(0);
    const pending = await eventually(
      async () => {
        const [u, l] = await Promise.all([full(upper, 'sized'), full(lower1, 'sized')]);
        const c = cond(u, 'PodResizePending');
        if (!c) throw new Error(`no PodResizePending upstairs: ${JSON.stringify(u.status?.conditions)}`);
        const {
          lastProbeTime: _a,
          lastTransitionTime: _b,
          observedGeneration: _c,
          ...lowerCond
        } = cond(l, 'PodResizePending') as Condition & Record<string, unknown>;
        expect(c).toMatchObject(lowerCond);
        return c;
      },
      { timeoutMs: 90_000, what: 'PodResizePending mirrored' },
    );
    expect(pending.reason).toBe('Deferred');
    expect(pending.message).toMatch(/cpu/);
    expect(app(await full(upper, 'sized'))?.allocatedResources).toEqual({ cpu: '150m', memory: '32Mi' });
    // Room again: the kubelet completes the deferred resize, and the upper pod says so.
    await kubectl(upper, ['delete', 'pod', 'holder', '-n', ns, '--wait=true'], { timeoutMs: 90_000 });
    await eventually(
      async () => {
        const u = await full(upper, 'sized');
        expect(app(u)?.allocatedResources).toEqual({ cpu: '1500m', memory: '32Mi' });
        expect(cond(u, 'PodResizePending')).toBeUndefined();
      },
      { timeoutMs: 120_000, what: 'the deferred resize applied and mirrored' },
    );
  });
  it('a resize within the virtual node but beyond the lower node the pod runs on: Infeasible upstairs with the lower reason', async () => {
    // With the kwok nodes schedulable again the virtual node offers far more than the real node the pod
    // runs on: the upper API server accepts 3 CPUs, the lower one refuses them for its node.
    await restore?.();
    restore = undefined;
    await eventually(
      async () => {
        const cpu = await kubectl(upper, ['get', 'node', node, '-o', 'jsonpath={.status.allocatable.cpu}']);
        if (!(parseFloat(cpu) >= 4)) throw new Error(`virtual node allocatable cpu ${cpu}`);
      },
      { what: 'the virtual node offering the kwok nodes again' },
    );
    const accepted = await resizeApp('sized', { requests: { cpu: '3' }, limits: { cpu: '3' } });
    expect(accepted.code, accepted.stderr).toBe(0);
    const pending = await eventually(
      async () => {
        const c = cond(await full(upper, 'sized'), 'PodResizePending');
        if (!c) throw new Error('no PodResizePending upstairs yet');
        return c;
      },
      { what: 'PodResizePending upstairs' },
    );
    expect(pending.reason).toBe('Infeasible');
    expect(pending.message).toMatch(/refused to resize the pod \(403\).*node didn't have enough allocatable resources: cpu/);
    expect((await upperEvents(ns, 'sized', 'LowerRejected')).join('\n')).toMatch(/refused to resize the pod/);
    // The container keeps what it had.
    expect(app(await full(upper, 'sized'))?.allocatedResources).toEqual({ cpu: '1500m', memory: '32Mi' });
  });
});
