// Issue: fedlet in front of real kubelets. Pods go to the virtual nodes; in their lower clusters the kwok
// nodes are cordoned for this file, so the lower scheduler can only pick the real node (containerd +
// runc + kubelet, sandbox/real-node.ts). Every assertion is what a user sees in the upper cluster, with
// bytes, exit codes and restarts produced by real containers.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespace } from './framework/namespaces.js';
import { eventually, kubectl, kubectlJson, kubectlRaw, sandbox } from './framework/kubectl.js';
import {
  apply,
  BUSYBOX,
  container,
  kubectlStream,
  realNodesOnly,
  realNodesMissing,
  realPod,
  realPodSpec,
  waitPod,
} from './framework/real-nodes.js';
import { getPod, isReady, type ApiPod } from './framework/pods.js';
import type { ContainerStatus } from '../../src/kube/types.js';

const s = sandbox();
const missing = realNodesMissing(s);
const upper = s.upperKubeconfig;
const [lower1, lower2] = s.lowerKubeconfigs as [string, string];
const [f1, f2] = s.fedlets as [(typeof s.fedlets)[0], (typeof s.fedlets)[0]];
const ns = 'real-e2e';
const node = f1.nodeName;
/** Undoes the cordoning of the kwok nodes (so pods run on the real nodes) in afterAll. */
let restoreNodes: (() => Promise<void>) | undefined;

const status = (p: ApiPod, c = 'app'): ContainerStatus | undefined => p.status?.containerStatuses?.find((x) => x.name === c);
const pod = (name: string, spec: Record<string, unknown>, nodeName = node) => realPod(name, ns, nodeName, spec);

describe.skipIf(!!missing)(`real lower nodes${missing ? ` (skipped: ${missing})` : ''}`, () => {
  beforeAll(async () => {
    restoreNodes = await realNodesOnly(
      upper,
      [lower1, lower2],
      s.fedlets.map((f) => f.nodeName),
    );
    await createNamespace(upper, ns);
  });

  afterAll(async () => {
    await kubectl(upper, ['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
    await restoreNodes?.();
  });

  it('runs a pod on the real node: Ready, a real pod IP from the node CIDR, the node address as hostIP', async () => {
    await apply(upper, pod('web', { containers: [container('app', ['serve', '8080'], { ports: [{ containerPort: 8080 }] })] }));
    const p = await waitPod(upper, ns, 'web', isReady, 'Ready');
    const lower = await getPod(lower1, ns, 'web');
    expect(lower.spec.nodeName).toBe(s.realNodes!.find((r) => r.cluster === f1.cluster)!.name);
    // Real-node pod IPs are routable as they are: outside the kwok CIDR the remap applies to.
    expect(p.status?.podIP).toBe(lower.status?.podIP);
    expect(p.status?.podIP).toMatch(/^10\.100\.\d+\.\d+$/);
    expect(status(p)?.containerID).toBe(status(lower)?.containerID);
    expect(status(p)?.containerID).toMatch(/^containerd:\/\//);
  });

  it('mirrors the real kubelet status field by field (only PodScheduled and the host IPs are the upper side’s; LowerScheduled names the lower node)', async () => {
    await eventually(async () => {
      const [u, l] = await Promise.all([getPod(upper, ns, 'web'), getPod(lower1, ns, 'web')]);
      const { hostIP: _uh, hostIPs: _uhs, conditions: uc, ...upperRest } = u.status as Record<string, unknown>;
      const { hostIP: _lh, hostIPs: _lhs, conditions: lc, ...lowerRest } = l.status as Record<string, unknown>;
      const keys = (o: object) => Object.keys(o).sort().join(',');
      expect(keys(upperRest), 'status fields').toBe(keys(lowerRest));
      expect(upperRest).toEqual(lowerRest);
      type Cond = { type: string; status?: string; message?: string };
      // The lower PodScheduled, renamed; once True it names the lower node (the lower scheduler leaves the message empty).
      const rename = (c: Cond) =>
        c.type === 'PodScheduled'
          ? {
              ...c,
              type: 'fedlet.io/LowerScheduled',
              ...(c.status === 'True' && !c.message ? { message: `scheduled to lower node ${l.spec.nodeName}` } : {}),
            }
          : c;
      const byType = (xs: Cond[]) => [...xs].sort((a, b) => a.type.localeCompare(b.type));
      expect(byType((uc as Cond[]).filter((c) => c.type !== 'PodScheduled'))).toEqual(byType((lc as Cond[]).map(rename)));
    });
  });

  it('kubectl logs: real output, -f of a live writer, --previous after a real restart', async () => {
    await apply(upper, pod('ticker', { containers: [container('app', ['tick', '200'])] }));
    await waitPod(upper, ns, 'ticker', isReady, 'Ready');
    await eventually(async () => expect(await kubectl(upper, ['logs', 'ticker', '-n', ns])).toMatch(/^tick 1\ntick 2\n/), {
      what: 'ticks in the log',
    });
    const follow = kubectlStream(upper, ['logs', '-f', '--tail=1', 'ticker', '-n', ns]);
    try {
      const first = Number((await follow.waitFor(/tick (\d+)/))[1]);
      // Lines written after kubectl started following arrive on the same stream.
      await follow.waitFor(new RegExp(`tick ${first + 3}\\n`));
    } finally {
      follow.stop();
    }

    await apply(upper, pod('crasher', { containers: [container('app', ['crash', '0', '3'])] }));
    const p = await waitPod(upper, ns, 'crasher', (x) => (status(x)?.restartCount ?? 0) >= 1, 'restarted once');
    expect(status(p)?.lastState?.terminated?.exitCode).toBe(3);
    // The kubelet answers "unable to retrieve container logs" while the dead container it names is being
    // replaced by the next one (a crash loop); both reads are retried until they agree on a real log.
    await eventually(
      async () => {
        const previous = await kubectl(upper, ['logs', 'crasher', '-n', ns, '--previous']);
        expect(previous).toContain('crashing with 3');
        expect(previous).toBe(await kubectl(lower1, ['logs', 'crasher', '-n', ns, '--previous']));
      },
      { timeoutMs: 60_000, what: 'kubectl logs --previous through fedlet equal to the lower one' },
    );
  });

  it('mirrors restarts exactly as the kubelet reports them: restartCount, lastState.terminated, CrashLoopBackOff', async () => {
    const p = await waitPod(
      upper,
      ns,
      'crasher',
      (x) => status(x)?.state?.waiting?.reason === 'CrashLoopBackOff' && (status(x)?.restartCount ?? 0) >= 1,
      'in CrashLoopBackOff',
      220_000,
    );
    const up = status(p)!;
    expect(up.lastState?.terminated?.reason).toBe('Error');
    expect(up.lastState?.terminated?.exitCode).toBe(3);
    expect(up.ready).toBe(false);
    // The upper pod shows what the kubelet said, not an approximation: compare with the lower pod.
    await eventually(async () => {
      const [u, l] = await Promise.all([getPod(upper, ns, 'crasher'), getPod(lower1, ns, 'crasher')]);
      expect(status(u)?.restartCount).toBe(status(l)?.restartCount);
      expect(status(u)?.lastState).toEqual(status(l)?.lastState);
      expect(status(u)?.state?.waiting?.reason).toBe(status(l)?.state?.waiting?.reason);
    });
  });

  it('kubectl exec: the exit code and stdin of a real process', async () => {
    const r = await kubectlRaw(upper, ['exec', 'web', '-n', ns, '--', '/bin/testapp', 'exit', '7']);
    expect(r.code, r.stderr).toBe(7);
    expect(r.stdout).toContain('exiting with 7');
    const input = `line-${randomBytes(4).toString('hex')}\nsecond line\n`;
    const out = await kubectl(upper, ['exec', '-i', 'web', '-n', ns, '--', '/bin/testapp', 'stdin'], { input });
    expect(out).toBe(
      input
        .trim()
        .split('\n')
        .map((l) => `got: ${l}\n`)
        .join(''),
    );
    const missingCommand = await kubectlRaw(upper, ['exec', 'web', '-n', ns, '--', '/no/such/binary']);
    expect(missingCommand.code).not.toBe(0);
    expect(missingCommand.stderr).toMatch(/no such file or directory/i);
  });

  it('a Job runs to Complete; a failing Job counts its failures', async () => {
    const job = (name: string, args: string[], backoffLimit: number) => ({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name, namespace: ns },
      spec: {
        backoffLimit,
        template: { spec: realPodSpec(node, { restartPolicy: 'Never', containers: [container('app', args)] }) },
      },
    });
    await apply(upper, job('ok', ['exit', '0'], 0));
    await apply(upper, job('fails', ['exit', '4'], 1));
    await kubectl(upper, ['wait', '--for=condition=Complete', 'job/ok', '-n', ns, '--timeout=180s'], { timeoutMs: 200_000 });
    await kubectl(upper, ['wait', '--for=condition=Failed', 'job/fails', '-n', ns, '--timeout=180s'], { timeoutMs: 200_000 });
    const failed = await kubectlJson<{ status: { failed?: number; succeeded?: number } }>(upper, [
      'get',
      'job',
      'fails',
      '-n',
      ns,
    ]);
    expect(failed.status.failed).toBe(2);
    const ok = await kubectlJson<{ status: { succeeded?: number } }>(upper, ['get', 'job', 'ok', '-n', ns]);
    expect(ok.status.succeeded).toBe(1);
    const jobPods = await kubectlJson<{ items: ApiPod[] }>(upper, ['get', 'pods', '-n', ns, '-l', 'job-name=fails']);
    for (const jp of jobPods.items) {
      expect(jp.status?.phase).toBe('Failed');
      expect(status(jp)?.state?.terminated?.exitCode).toBe(4);
    }
  });

  it('OOMKilled: a container over its memory limit is killed and says so', async () => {
    await apply(
      upper,
      pod('hog', {
        restartPolicy: 'Never',
        containers: [
          container('app', ['oom', '256'], { resources: { limits: { memory: '48Mi' }, requests: { memory: '48Mi' } } }),
        ],
      }),
    );
    const p = await waitPod(upper, ns, 'hog', (x) => x.status?.phase === 'Failed', 'Failed', 180_000);
    expect(status(p)?.state?.terminated?.reason).toBe('OOMKilled');
    expect(status(p)?.state?.terminated?.exitCode).toBe(137);
    expect(p.status?.phase).toBe('Failed');
  });

  it('kubectl port-forward reaches a real listening socket', async () => {
    const pf = kubectlStream(upper, ['port-forward', 'pod/web', '-n', ns, ':8080']);
    try {
      const port = Number((await pf.waitFor(/Forwarding from 127\.0\.0\.1:(\d+)/))[1]);
      const body = await new Promise<string>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: '/echo?msg=through-fedlet' }, (res) => {
            let b = '';
            res.on('data', (c: Buffer) => (b += c.toString()));
            res.on('end', () => resolve(b));
          })
          .on('error', reject);
      });
      // The container's hostname is the upper pod's name (translation sets it).
      expect(body).toBe('through-fedlet from web\n');
    } finally {
      pf.stop();
    }
  });

  it('a failing readiness probe keeps the upper pod Running but not Ready', async () => {
    await apply(
      upper,
      pod('unready', {
        containers: [
          container('app', ['sleep', '0'], {
            readinessProbe: { exec: { command: ['/bin/testapp', 'exit', '1'] }, periodSeconds: 1 },
          }),
        ],
      }),
    );
    const p = await waitPod(
      upper,
      ns,
      'unready',
      (x) =>
        x.status?.phase === 'Running' &&
        !!status(x)?.started &&
        !!x.status?.conditions?.some((c) => c.type === 'ContainersReady'),
      'Running',
    );
    expect(isReady(p)).toBe(false);
    expect(status(p)?.ready).toBe(false);
    expect(p.status?.conditions?.find((c) => c.type === 'Ready')?.reason).toBe('ContainersNotReady');
  });

  it('init containers run to completion before a native sidecar and the app start', async () => {
    await apply(
      upper,
      pod('withinit', {
        initContainers: [container('setup', ['exit', '0']), container('sidecar', ['tick', '1000'], { restartPolicy: 'Always' })],
        containers: [container('app', ['sleep', '0'])],
      }),
    );
    const p = await waitPod(upper, ns, 'withinit', isReady, 'Ready');
    const init = Object.fromEntries((p.status?.initContainerStatuses ?? []).map((c) => [c.name, c]));
    expect(init.setup?.state?.terminated?.reason).toBe('Completed');
    expect(init.setup?.state?.terminated?.exitCode).toBe(0);
    expect(init.sidecar?.state?.running).toBeDefined();
    expect(init.sidecar?.started).toBe(true);
    expect(await kubectl(upper, ['logs', 'withinit', '-n', ns, '-c', 'sidecar'])).toMatch(/^tick 1\n/);
  });

  it('graceful deletion: the upper pod stays Terminating until the container has handled SIGTERM', async () => {
    await apply(upper, pod('slow', { terminationGracePeriodSeconds: 60, containers: [container('app', ['slowterm', '8'])] }));
    await waitPod(upper, ns, 'slow', isReady, 'Ready');
    await kubectl(upper, ['delete', 'pod', 'slow', '-n', ns, '--wait=false']);
    // The lower container got the signal and is still in its handler...
    await eventually(async () => expect(await kubectl(lower1, ['logs', 'slow', '-n', ns])).toContain('got SIGTERM'), {
      what: 'SIGTERM reaching the container',
    });
    const lower = await getPod(lower1, ns, 'slow');
    if (status(lower)?.state?.running) {
      // ...so the upper pod is still there, Terminating.
      const up = await getPod(upper, ns, 'slow');
      expect(up.metadata.deletionTimestamp).toBeDefined();
    }
    await eventually(
      async () => {
        const r = await kubectlRaw(upper, ['get', 'pod', 'slow', '-n', ns]);
        expect(r.stderr).toMatch(/NotFound/);
      },
      { timeoutMs: 90_000, what: 'the upper pod gone after the container exited' },
    );
  });

  it('kubectl attach shows the live output of the main process', async () => {
    await apply(upper, pod('attached', { containers: [container('app', ['tick', '300'])] }));
    await waitPod(upper, ns, 'attached', isReady, 'Ready');
    const a = kubectlStream(upper, ['attach', 'attached', '-n', ns]);
    try {
      await a.waitFor(/tick \d+\ntick \d+\n/);
    } finally {
      a.stop();
    }
  });

  it('kubectl cp copies files into and out of a real container', async () => {
    await apply(
      upper,
      pod('files', { containers: [{ name: 'app', image: BUSYBOX, imagePullPolicy: 'Never', command: ['sleep', '3600'] }] }),
    );
    await waitPod(upper, ns, 'files', isReady, 'Ready');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fedlet-cp-'));
    const payload = `payload ${randomBytes(8).toString('hex')}\n`.repeat(1000);
    writeFileSync(path.join(dir, 'in.txt'), payload);
    await kubectl(upper, ['cp', path.join(dir, 'in.txt'), `${ns}/files:/tmp/in.txt`]);
    expect(await kubectl(upper, ['exec', 'files', '-n', ns, '--', 'md5sum', '/tmp/in.txt'])).toMatch(/^[0-9a-f]{32}/);
    await kubectl(upper, ['cp', `${ns}/files:/tmp/in.txt`, path.join(dir, 'out.txt')]);
    expect(readFileSync(path.join(dir, 'out.txt'), 'utf8')).toBe(payload);
  });

  it('kubectl top shows the real usage the kubelet measured', async () => {
    const top = await eventually(
      async () => {
        const out = await kubectl(upper, ['top', 'pod', 'web', '-n', ns, '--no-headers']);
        const m = /^web\s+(\d+)m\s+(\d+)Mi/.exec(out.trim());
        if (!m) throw new Error(`unexpected kubectl top output: ${out}`);
        return { cpu: Number(m[1]), memMi: Number(m[2]) };
      },
      { timeoutMs: 180_000, intervalMs: 3000, what: 'kubectl top pod web' },
    );
    expect(top.memMi).toBeGreaterThan(0);
    // The numbers come from the real kubelet's summary of the lower pod.
    const realNode = s.realNodes!.find((r) => r.cluster === f1.cluster)!.name;
    const summary = JSON.parse(await kubectl(lower1, ['get', '--raw', `/api/v1/nodes/${realNode}/proxy/stats/summary`])) as {
      pods: Array<{ podRef: { name: string; namespace: string }; memory?: { workingSetBytes?: number } }>;
    };
    const web = summary.pods.find((p) => p.podRef.name === 'web' && p.podRef.namespace === ns);
    expect(web?.memory?.workingSetBytes).toBeGreaterThan(0);
  });

  it('pod IPs are routable across lower clusters: a pod behind one virtual node reaches one behind the other', async () => {
    const web = await getPod(upper, ns, 'web');
    await apply(
      upper,
      pod(
        'client',
        {
          restartPolicy: 'Never',
          containers: [container('app', ['get', `http://${web.status!.podIP}:8080/echo?msg=cross-cluster`])],
        },
        f2.nodeName,
      ),
    );
    const p = await waitPod(upper, ns, 'client', (x) => !!status(x)?.state?.terminated, 'finished', 120_000);
    const logs = await kubectl(upper, ['logs', 'client', '-n', ns]);
    expect(logs).toBe('cross-cluster from web\n');
    expect(status(p)?.state?.terminated?.exitCode).toBe(0);
  });
});
