// Helpers for e2e tests against real lower nodes (sandbox/real-node.ts): pods pinned to a virtual node
// whose lower cluster has its kwok nodes cordoned, so the lower scheduler can only pick the real node.
import { spawn } from 'node:child_process';
import { findBinary } from '../../../sandbox/binaries.js';
import { REAL_NODE_TAINT, realNodeUnavailableReason } from '../../../sandbox/real-node.js';
import type { SandboxState } from '../../../sandbox/sandbox.js';
import { eventually, kubectl } from './kubectl.js';
import { getPod, type ApiPod } from './pods.js';

export const TESTAPP = 'fedlet.local/testapp:1';
export const BUSYBOX = 'fedlet.local/busybox:1';

/** Why this sandbox cannot run the real-node tests (they skip, saying so in their name), or ''. */
export function realNodesMissing(s: SandboxState): string {
  if (s.external) return 'external clusters';
  if (s.realNodes?.length) return '';
  return realNodeUnavailableReason() ?? 'the sandbox runs without real nodes';
}

/** A pod for the given virtual node, tolerating the real nodes' taint; containers default to testapp. */
export function realPod(
  name: string,
  namespace: string,
  nodeName: string,
  spec: Record<string, unknown>,
  labels: Record<string, string> = {},
): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { app: name, ...labels } },
    spec: realPodSpec(nodeName, spec),
  };
}

export function realPodSpec(nodeName: string, spec: Record<string, unknown>): Record<string, unknown> {
  return {
    nodeName,
    terminationGracePeriodSeconds: 2,
    tolerations: [{ key: REAL_NODE_TAINT, operator: 'Exists', effect: 'NoSchedule' }],
    ...spec,
  };
}

export function container(name: string, args: string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, image: TESTAPP, imagePullPolicy: 'Never', args, ...extra };
}

export async function apply(kubeconfig: string, obj: unknown): Promise<void> {
  await kubectl(kubeconfig, ['apply', '-f', '-'], { input: JSON.stringify(obj) });
}

export async function waitPod(
  kubeconfig: string,
  ns: string,
  name: string,
  check: (p: ApiPod) => boolean,
  what: string,
  timeoutMs = 120_000,
): Promise<ApiPod> {
  let last: ApiPod | undefined;
  return eventually(
    async () => {
      last = await getPod(kubeconfig, ns, name);
      if (!check(last)) throw new Error(`${what}: ${JSON.stringify(last.status ?? {}).slice(0, 1500)}`);
      return last;
    },
    { timeoutMs, what: `${ns}/${name} ${what}` },
  );
}

/** The names of the kwok nodes of a lower cluster. */
export async function kwokNodes(lower: string): Promise<string[]> {
  const out = await kubectl(lower, ['get', 'nodes', '-l', 'type=kwok', '-o', 'jsonpath={.items[*].metadata.name}']);
  return out.split(/\s+/).filter(Boolean);
}

/**
 * A long-running kubectl (logs -f, attach, port-forward): collects stdout and resolves `waitFor` once it
 * matches. `stop` kills it.
 */
export function kubectlStream(kubeconfig: string, args: string[], input?: string) {
  const child = spawn(findBinary('kubectl'), ['--kubeconfig', kubeconfig, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  if (input !== undefined) child.stdin.write(input);
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    child,
    output: () => out,
    errors: () => err,
    exited,
    async waitFor(re: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
      return eventually(
        async () => {
          const m = re.exec(out);
          if (!m) throw new Error(`no ${re} in output yet: ${out.slice(-300)} / stderr: ${err.slice(-300)}`);
          return m;
        },
        { timeoutMs, intervalMs: 100, what: `kubectl ${args.join(' ')} printing ${re}` },
      );
    },
    stop(): void {
      child.kill('SIGTERM');
    },
  };
}

/**
 * Waits until the lower kube-scheduler's own node cache has the cordons. Its node watch can lag the API
 * server by up to a minute after an earlier file restarted that API server (client-go's reflector backs
 * off with jitter), and a scheduler with a stale cache puts the next pod on a kwok node. A probe pod that
 * tolerates nothing fits nowhere once every kwok node is cordoned (the real nodes are tainted): the
 * scheduler calling it Unschedulable proves the cache is current; a probe it binds proves it is not.
 */
async function schedulerSeesOnlyRealNodes(lower: string): Promise<void> {
  const probe = (n: number) => `fedlet-e2e-cordon-probe-${n}`;
  const ns = 'default';
  for (let attempt = 0; attempt < 12; attempt++) {
    const name = probe(attempt);
    await apply(lower, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: ns },
      spec: { containers: [{ name: 'probe', image: 'fedlet.local/none:1' }] },
    });
    try {
      const verdict = await eventually(
        async () => {
          const p = await getPod(lower, ns, name);
          if (p.spec.nodeName) return 'bound';
          const c = p.status?.conditions?.find((x) => x.type === 'PodScheduled');
          if (c?.status === 'False' && c.reason === 'Unschedulable') return 'unschedulable';
          throw new Error('not yet looked at by the scheduler');
        },
        { timeoutMs: 90_000, what: `the lower scheduler's verdict on ${name}` },
      );
      if (verdict === 'unschedulable') return;
    } finally {
      await kubectl(lower, ['delete', 'pod', name, '-n', ns, '--grace-period=0', '--force']).catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 5_000));
  }
  throw new Error('the lower kube-scheduler bound each of 12 probe pods to a cordoned kwok node');
}

/**
 * Cordons the kwok nodes of the given lower clusters (so their schedulers can only pick the real nodes)
 * and returns what undoes it: uncordon, then wait until the virtual nodes' labels are the kwok nodes'
 * again (with the real node alone behind it, a virtual node took the real node's zone label).
 */
export async function realNodesOnly(upper: string, lowers: string[], virtualNodes: string[]): Promise<() => Promise<void>> {
  const cordoned: Array<[string, string]> = [];
  const uncordon = async () => {
    for (const [lower, n] of cordoned) await kubectl(lower, ['uncordon', n]).catch(() => undefined);
  };
  try {
    for (const lower of lowers)
      for (const n of await kwokNodes(lower)) {
        await kubectl(lower, ['cordon', n]);
        cordoned.push([lower, n]);
      }
    for (const lower of lowers) await schedulerSeesOnlyRealNodes(lower);
  } catch (e) {
    await uncordon(); // leave the shared sandbox as it was
    throw e;
  }
  return async () => {
    await uncordon();
    for (const v of virtualNodes)
      await eventually(
        async () => {
          const zone = await kubectl(upper, [
            'get',
            'node',
            v,
            '-o',
            'jsonpath={.metadata.labels.topology\\.kubernetes\\.io/zone}',
          ]);
          if (zone.trim()) throw new Error(`${v} still has zone ${zone}`);
        },
        { timeoutMs: 60_000, what: 'virtual node labels back to the kwok nodes' },
      ).catch(() => undefined);
  };
}
