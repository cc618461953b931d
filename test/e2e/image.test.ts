// A container image built by the Dockerfile. No container engine exists on the test machines, so
// the Dockerfile is rehearsed (test/support/dockerfile.ts): its stages are built in directories with npm
// working offline from the cache `npm run setup` filled, and the final stage's artifact is started the
// way the image would start it — its ENTRYPOINT, its numeric USER, its ENV, production dependencies
// only, in a directory it cannot write — against the e2e clusters. The virtual node must become Ready
// and run a pod.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { rehearseDockerfile, type RehearsedStage } from '../support/dockerfile.js';
import { freePorts } from '../../sandbox/processes.js';
import { upperIdentityKubeconfig } from '../../sandbox/sandbox.js';
import { eventually, kubectl, kubectlJson, sandbox } from './framework/kubectl.js';
import { readyCondition, type NodeJson } from './framework/nodes.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const s = sandbox();
const f1 = s.fedlets[0]!;
const upper = s.upperKubeconfig;
const nodeName = 'fedlet-image-check';
const ns = 'image-e2e';
const isRoot = process.getuid?.() === 0;

describe.skipIf(s.external || !isRoot)('container image (Dockerfile rehearsal)', () => {
  let proc: ChildProcess | undefined;
  afterAll(async () => {
    await kubectl(upper, ['delete', 'namespace', ns, '--wait=true', '--timeout=60s']).catch(() => undefined);
    proc?.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1000));
    proc?.kill('SIGKILL');
    await kubectl(upper, ['delete', 'node', nodeName, '--ignore-not-found']).catch(() => undefined);
  });

  it('packages a runnable fedlet: production dependencies only, numeric non-root user, read-only app directory', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'fedlet-image-'));
    chmodSync(out, 0o755);
    const stages = rehearseDockerfile({
      context: repo,
      dockerfile: path.join(repo, 'Dockerfile'),
      out,
      // Hermetic: packages come from the npm cache that `npm run setup` filled, never the registry.
      runEnv: { npm_config_offline: 'true', npm_config_update_notifier: 'false' },
      log: (m) => process.stderr.write(`[image] ${m}\n`),
    });
    const final: RehearsedStage = stages[stages.length - 1]!;
    // The base image's Node.js major version is the one the rehearsal runs with.
    const nodeMajor = /^node:(\d+)/.exec(final.from)?.[1];
    expect(nodeMajor, `final stage FROM ${final.from}`).toBe(process.versions.node.split('.')[0]);
    expect(final.user, 'USER in the final stage').toBeDefined();
    expect(final.user!.uid).not.toBe(0);
    const app = path.join(final.root, final.workdir);

    // Only production dependencies are shipped.
    // (A dev dependency may remain when a production package needs it too: the lock file says which.)
    const pkg = JSON.parse(readFileSync(path.join(app, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    const lock = JSON.parse(readFileSync(path.join(stages[0]!.root, stages[0]!.workdir, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const shippedDevOnly = Object.keys(pkg.devDependencies).filter(
      (d) => existsSync(path.join(app, 'node_modules', d)) && lock.packages[`node_modules/${d}`]?.dev,
    );
    expect(shippedDevOnly).toEqual([]);
    for (const tool of ['typescript', 'vitest', 'eslint', 'pino-pretty'])
      expect(existsSync(path.join(app, 'node_modules', tool)), `${tool} in the image`).toBe(false);
    expect(existsSync(path.join(app, 'dist', 'app', 'cli.js'))).toBe(true);

    // Credentials as the Deployment mounts them: readable by the image's user only.
    const secrets = path.join(out, 'secrets');
    mkdirSync(secrets, { mode: 0o700 });
    for (const [src, dst] of [
      // An upper account of its own, named after its node (the admission policy holds it to that node).
      [upperIdentityKubeconfig(upper, s.dir, nodeName), 'upper.kubeconfig'],
      [f1.lowerKubeconfig, 'lower.kubeconfig'],
    ] as const) {
      copyFileSync(src, path.join(secrets, dst));
      chownSync(path.join(secrets, dst), final.user!.uid, final.user!.gid);
    }
    chownSync(secrets, final.user!.uid, final.user!.gid);

    const [kubeletPort, healthPort] = await freePorts(2);
    const nodeIP = s.nodeIP ?? '127.0.0.1';
    const args = [
      ...final.entrypoint.slice(1),
      'run', // container args replace CMD, as the Deployment's do
      `--upper-kubeconfig=${path.join(secrets, 'upper.kubeconfig')}`,
      `--lower-kubeconfig=${path.join(secrets, 'lower.kubeconfig')}`,
      `--cluster-name=${f1.cluster}`,
      `--node-name=${nodeName}`,
      `--node-ip=${nodeIP}`,
      `--kubelet-port=${kubeletPort}`,
      `--kubelet-bind-address=${nodeIP}`,
      `--health-port=${healthPort}`,
      '--health-bind-address=127.0.0.1',
      '--serving-cert=self-signed',
      // pino-pretty is a dev dependency: the artifact must say so and keep logging JSON, not crash.
      '--log-format=pretty',
      // Keep the e2e suite's other pods off this node.
      '--node-taint=fedlet.io/image-check=true:NoSchedule',
    ];
    expect(final.entrypoint[0]).toBe('node');
    const log = openSync(path.join(s.dir, 'fedlet-image-check.log'), 'a');
    proc = spawn(process.execPath, args, {
      cwd: app,
      uid: final.user!.uid,
      gid: final.user!.gid,
      // The image's environment, not the test runner's: no HOME it could write to.
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/nonexistent', ...final.env },
      stdio: ['ignore', log, log],
    });

    await eventually(
      async () => {
        const n = await kubectlJson<NodeJson>(upper, ['get', 'node', nodeName, '-o', 'json']);
        if (readyCondition(n)?.status !== 'True') throw new Error(`node ${nodeName} not Ready yet`);
      },
      { timeoutMs: 90_000, what: `virtual node ${nodeName} from the packaged artifact Ready` },
    );
    await kubectl(upper, ['create', 'namespace', ns]);
    await kubectl(upper, [
      'run',
      'from-image',
      '-n',
      ns,
      '--image=registry.k8s.io/pause:3.10',
      '--overrides',
      JSON.stringify({ spec: { nodeName } }),
    ]);
    await eventually(
      async () => {
        const phase = (await kubectl(upper, ['get', 'pod', 'from-image', '-n', ns, '-o', 'jsonpath={.status.phase}'])).trim();
        if (phase !== 'Running') throw new Error(`phase ${phase}`);
      },
      { timeoutMs: 90_000, what: 'pod on the packaged fedlet Running' },
    );
    expect(proc.exitCode).toBeNull();
    const logText = readFileSync(path.join(s.dir, 'fedlet-image-check.log'), 'utf8');
    expect(logText).toMatch(/"msg":"logFormat \\"pretty\\" needs the pino-pretty package/);
  });
});
