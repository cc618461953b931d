// The stream checks of `fedlet doctor` on a running probe pod, each the way an operator's command goes
// through the upper API server, fedlet and the lower cluster: logs (the API), exec, attach and
// port-forward (the real kubectl, with its own WebSocket/SPDY client). Each returns one check row.
import net from 'node:net';
import type { KubeClient } from '../../src/kube/client.js';
import type { Pod } from '../../src/kube/types.js';
import type { Kubectl } from './kubectl.js';
import { failed, ok, skipped, type Check } from './report.js';

export const PROBE_PORT = 8080;
export const PROBE_MARKER = 'fedlet-doctor';
/** Set in the probe's container: a command that does not see it does not run in that container. */
export const PROBE_ENV = 'FEDLET_DOCTOR_PROBE';

export async function waitFor(pred: () => Promise<boolean>, timeoutMs: number, intervalMs = 1000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await pred()) return true;
    if (Date.now() + intervalMs > deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Without kubectl the checks that must go kubectl's way are skipped, saying how to get them. */
export const noKubectl = (node: string, check: string): Check =>
  skipped(
    node,
    check,
    'kubectl not found',
    'put kubectl on PATH or set KUBECTL: exec, attach, port-forward, dns-service and token are checked with the real kubectl',
  );

export async function logsCheck(upper: KubeClient, node: string, podPath: string, fix: string): Promise<Check> {
  try {
    const logs = await upper.getText(`${podPath}/log?container=probe&tailLines=20`, { timeoutMs: 15_000 });
    const last = logs.trim().split('\n').pop() ?? '';
    return ok(
      node,
      'logs',
      `${logs.split('\n').filter(Boolean).length} line(s) through the upper API server${last ? `, last: ${last.slice(0, 80)}` : ''}`,
    );
  } catch (e) {
    return failed(node, 'logs', `kubectl logs would fail: ${(e as Error).message}`, fix);
  }
}

/**
 * kubectl exec of echo in the probe; it also tells whether exec runs in the probe's container (its
 * environment variable is there) or on a simulated node's host (kwok runs exec on its own host).
 */
export async function execCheck(
  kubectl: Kubectl,
  node: string,
  pod: Pod,
  runId: string,
  fix: string,
): Promise<{ check: Check; inContainer?: boolean }> {
  const marker = `${PROBE_MARKER}-exec-${runId}`;
  const r = await kubectl.run(
    [
      'exec',
      '-n',
      pod.metadata.namespace!,
      pod.metadata.name!,
      '-c',
      'probe',
      '--',
      'sh',
      '-c',
      `echo ${marker} "$${PROBE_ENV}"`,
    ],
    30_000,
  );
  if (r.code !== 0 || !r.stdout.includes(marker))
    return {
      check: failed(node, 'exec', `kubectl exec: exit ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 300)}`, fix),
    };
  const inContainer = r.stdout.includes(`${marker} ${runId}`);
  return {
    check: ok(
      node,
      'exec',
      `kubectl exec ran a command in the probe pod (exit 0)${inContainer ? '' : ", on a simulated lower node's host (e.g. kwok), not in a container"}`,
    ),
    inContainer,
  };
}

/**
 * kubectl attach to the probe's main process, which prints a line every two seconds: output within 15 s
 * proves the path. A simulated lower node (kwok) sends only lines appended to its log later: there, a
 * stream that kubectl holds open without error for 15 s is what can be checked, and the detail says so.
 */
export async function attachCheck(
  kubectl: Kubectl,
  node: string,
  pod: Pod,
  fix: string,
  inContainer: Promise<boolean | undefined>,
): Promise<Check> {
  const child = kubectl.start(['attach', '-n', pod.metadata.namespace!, pod.metadata.name!, '-c', 'probe']);
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  try {
    await waitFor(async () => out.includes('\n') || child.exitCode !== null, 15_000, 100);
    const line = out.split('\n').find((l) => l.trim());
    if (line) return ok(node, 'attach', `kubectl attach streamed the probe's output (${line.trim().slice(0, 80)})`);
    const held = child.exitCode === null;
    if (held && (await inContainer) === false)
      return ok(
        node,
        'attach',
        'kubectl attach holds a stream through the upper API server and fedlet (no error in 15 s); the probe is on a simulated lower node, which sends only log lines appended later, so no output was expected',
      );
    return failed(
      node,
      'attach',
      held
        ? 'kubectl attach got no output in 15 s (the probe prints a line every 2 s)'
        : `kubectl attach exited ${child.exitCode}: ${(err || out).trim().slice(0, 300) || 'no output'}`,
      `${fix}; attach also needs the lower RBAC for pods/attach`,
    );
  } finally {
    child.kill('SIGTERM');
  }
}

/** Port-forwards to the probe's port with kubectl; the stream is up once kubectl listens locally. */
export async function portForwardCheck(kubectl: Kubectl, node: string, pod: Pod, fix: string): Promise<Check> {
  const child = kubectl.start(['port-forward', '-n', pod.metadata.namespace!, `pod/${pod.metadata.name}`, `:${PROBE_PORT}`]);
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  try {
    const listening = await waitFor(
      async () => /Forwarding from 127\.0\.0\.1:\d+/.test(out) || child.exitCode !== null,
      20_000,
      100,
    );
    const port = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out)?.[1];
    if (!listening || !port)
      return failed(
        node,
        'port-forward',
        `kubectl port-forward did not get a stream: ${(err || out).trim() || 'no answer in 20 s'}`,
        fix,
      );
    const answer = await new Promise<string>((resolve) => {
      const s = net.connect(Number(port), '127.0.0.1');
      let got = '';
      s.setTimeout(5000, () => s.destroy());
      s.on('connect', () => s.write('GET / HTTP/1.0\r\n\r\n'));
      s.on('data', (c: Buffer) => (got += c.toString('latin1')));
      s.on('close', () => resolve(got));
      s.on('error', () => undefined);
    });
    return ok(
      node,
      'port-forward',
      answer.startsWith('HTTP/')
        ? `HTTP answer from the probe pod's port ${PROBE_PORT} (${answer.split('\r\n')[0]})`
        : `stream established through the upper API server and fedlet to the lower kubelet (port ${PROBE_PORT} in the pod gave no answer${/refused/.test(err) ? ': connection refused there' : ''})`,
    );
  } finally {
    child.kill('SIGTERM');
  }
}
