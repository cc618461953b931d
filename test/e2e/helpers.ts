// Shared e2e helpers: the real kubectl binary, bounded polling, and access to the sandbox state.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { inject } from 'vitest';
import { findBinary } from '../../sandbox/binaries.js';
import { loadState, type SandboxState } from '../../sandbox/sandbox.js';
import { DEFAULT_NAMESPACE_TEMPLATE } from '../../src/config.js';
import { lowerNamespace } from '../../provider/namespaces/namespace-map.js';

export function sandbox(): SandboxState {
  return loadState(inject('sandboxDir'));
}

/**
 * The lower namespace that a fedlet started with `args` (its --namespace-template, else the default)
 * uses for upper namespace `ns`: tests never assume the two names are the same.
 */
export function lowerNamespaceFor(f: { args: string[]; cluster: string }, ns: string): string {
  const flag = f.args.find((a) => a.startsWith('--namespace-template='));
  return lowerNamespace(flag ? flag.slice('--namespace-template='.length) : DEFAULT_NAMESPACE_TEMPLATE, ns, f.cluster);
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program asynchronously; never throws (check `code`). Tests never block their worker on a child:
 * a worker blocked for a minute misses vitest's own RPC deadlines.
 */
export function run(
  file: string,
  args: string[],
  opts: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv; inheritEnv?: boolean } = {},
): Promise<KubectlResult> {
  const env = opts.inheritEnv === false ? opts.env : { ...process.env, ...opts.env };
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, env, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Runs the real kubectl; never throws (check `code`). */
export function kubectlRaw(
  kubeconfig: string,
  args: string[],
  opts: { input?: string | Buffer; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<KubectlResult> {
  return run(process.env.KUBECTL ?? findBinary('kubectl'), ['--kubeconfig', kubeconfig, ...args], opts);
}

/** Runs kubectl and returns stdout; throws with stderr when it fails. */
export async function kubectl(
  kubeconfig: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<string> {
  const r = await kubectlRaw(kubeconfig, args, opts);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

export async function kubectlJson<T>(kubeconfig: string, args: string[]): Promise<T> {
  return JSON.parse(await kubectl(kubeconfig, [...args, '-o', 'json'])) as T;
}

/**
 * Polls `probe` until it returns a value without throwing, or the deadline passes (then rethrows the
 * last error). The deadline is a safety bound, not a performance assertion.
 */
export async function eventually<T>(
  probe: () => Promise<T>,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      return await probe();
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 500));
  }
  throw new Error(`${opts.what ?? 'condition'} not reached: ${(last as Error)?.message ?? String(last)}`);
}

export interface NodeJson {
  metadata: { name: string; labels?: Record<string, string> };
  spec?: { unschedulable?: boolean; taints?: unknown[] };
  status?: {
    allocatable?: Record<string, string>;
    capacity?: Record<string, string>;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
  };
}

export function readyCondition(n: NodeJson) {
  return n.status?.conditions?.find((c) => c.type === 'Ready');
}

/** Creates a namespace and waits for its default ServiceAccount (pods cannot be created before it). */
export async function createNamespace(kubeconfig: string, ns: string): Promise<void> {
  await kubectl(kubeconfig, ['create', 'namespace', ns]);
  await eventually(() => kubectl(kubeconfig, ['get', 'serviceaccount', 'default', '-n', ns]), {
    what: `default service account in ${ns}`,
  });
}

/** The name of the first CSR fedlet filed for `nodeName` (labelled fedlet.io/node), once there is one. */
export function nodeCsr(upperKubeconfig: string, nodeName: string, timeoutMs = 60_000): Promise<string> {
  return eventually(
    async () => {
      const name = (
        await kubectl(upperKubeconfig, [
          'get',
          'csr',
          '-l',
          `fedlet.io/node=${nodeName}`,
          '-o',
          'jsonpath={.items[0].metadata.name}',
        ])
      ).trim();
      if (!name) throw new Error('no CSR yet');
      return name;
    },
    { timeoutMs, what: `a CSR from fedlet for node ${nodeName}` },
  );
}

/**
 * A request to the sandbox's scheduler extender over HTTPS, with kube-scheduler's client certificate
 * unless `as` says otherwise ('none': no certificate; or another certificate's files). Resolves with the
 * status, or rejects when the TLS handshake is refused.
 */
export function extenderRequest(
  method: 'GET' | 'POST',
  urlPath: string,
  opts: { body?: string; as?: 'scheduler' | 'none' | { cert: string; key: string } } = {},
): Promise<{ status: number; body: string }> {
  const ext = sandbox().extender;
  if (!ext?.tls) throw new Error('this sandbox has no extender with TLS');
  const as = opts.as ?? 'scheduler';
  const client = as === 'none' ? undefined : as === 'scheduler' ? { cert: ext.tls.clientCert, key: ext.tls.clientKey } : as;
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: ext.port,
        path: urlPath,
        method,
        ca: readFileSync(ext.tls!.caCert),
        ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
        headers: opts.body !== undefined ? { 'Content-Type': 'application/json' } : {},
        timeout: 10_000,
      },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(opts.body);
  });
}
