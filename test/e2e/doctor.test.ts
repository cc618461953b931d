// `fedlet doctor` against the e2e sandbox, as an operator runs it: with the admin kubeconfig of the upper
// cluster and the real kubectl on PATH. On the healthy install every check passes (the probe sent to the
// lower clusters' real nodes, where DNS and in-cluster API clients work; on their simulated kwok nodes
// those two checks say they were skipped and why) and nothing is left behind; with a fedlet stopped it
// fails and names the cause (the kubelet port refuses connections); with the extender down, it names the
// extender.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBinary } from '../../sandbox/binaries.js';
import { isProxyableAddress } from '../../sandbox/node-address.js';
import { restartProcess, stopProcess } from '../../sandbox/processes.js';
import { REAL_NODE_LABEL, REAL_NODE_TAINT } from '../../sandbox/real-node.js';
import { saveState, startFedlet, stopFedlet, waitForNodesReady } from '../../sandbox/sandbox.js';
import { waitForWebhook } from '../../sandbox/webhook.js';
import type { Check } from '../../app/doctor/report.js';
import { kubectl, run, sandbox } from './framework/kubectl.js';
import { createNamespace } from './framework/namespaces.js';
import { BUSYBOX, realNodesMissing } from './framework/real-nodes.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(repo, 'dist', 'app', 'cli.js');
const local = !sandbox().external;
// The upper API server dials virtual nodes only at a proxyable address (the e2e network namespace's).
const proxyable = isProxyableAddress(sandbox().nodeIP ?? '127.0.0.1');

async function doctor(args: string[]): Promise<{ code: number; report: { ok: boolean; checks: Check[] }; stderr: string }> {
  const s = sandbox();
  const env = { PATH: `${path.dirname(findBinary('kubectl'))}:${process.env.PATH ?? ''}` };
  const r = await run(process.execPath, [cli, 'doctor', '--upper-kubeconfig', s.upperKubeconfig, '-o', 'json', ...args], {
    env,
    timeoutMs: 200_000,
  });
  let report: { ok: boolean; checks: Check[] };
  try {
    report = JSON.parse(r.stdout) as typeof report;
  } catch {
    throw new Error(`doctor printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, report, stderr: r.stderr };
}

const table = (checks: Check[]) =>
  checks.map((c) => `${c.node} ${c.check} ${c.result}: ${c.detail}${c.fix ? ` → ${c.fix}` : ''}`).join('\n');

// The probe pods run in a namespace of their own: the upper `default` namespace maps to the lower
// `default` on the first lower cluster, which fedlet never uses unless a lower admin grants it.
const PROBE_NS = 'doctor-e2e';

describe.skipIf(!proxyable)('fedlet doctor', () => {
  beforeAll(async () => {
    await createNamespace(sandbox().upperKubeconfig, PROBE_NS);
  });
  afterAll(async () => {
    await kubectl(sandbox().upperKubeconfig, ['delete', 'namespace', PROBE_NS, '--wait=false', '--ignore-not-found']);
  });

  it('passes on the healthy sandbox: every node end to end, and removes its probe objects', async () => {
    const s = sandbox();
    // On the real lower nodes (when the sandbox has them) the probe runs in a real container.
    const real = !realNodesMissing(s);
    const toReal = real
      ? ['--probe-node-selector', `${REAL_NODE_LABEL}=true`, '--probe-toleration', REAL_NODE_TAINT, '--image', BUSYBOX]
      : [];
    const { code, report } = await doctor(['--timeout', '90', '--namespace', PROBE_NS, ...toReal]);
    expect(code, table(report.checks)).toBe(0);
    expect(report.ok).toBe(true);
    const byKey = new Map(report.checks.map((c) => [`${c.node} ${c.check}`, c]));
    expect(byKey.get('* rbac')?.result).toBe('ok');
    expect(byKey.get('* webhook')?.result, table(report.checks)).toBe(local ? 'ok' : 'skipped');
    // The scheduler consulted the extender: it kept off a pod only the extender refuses.
    if (local)
      expect(byKey.get('* extender'), table(report.checks)).toMatchObject({
        result: 'ok',
        detail: expect.stringMatching(
          /the scheduler consulted the extender: it kept a pod asking \d+m CPU for .* off \(no single node in lower cluster/,
        ),
      });
    for (const f of s.fedlets) {
      for (const check of [
        'node-ready',
        'lease-fresh',
        'extender-summary',
        'kubelet-port',
        'serving-cert',
        'pod-round-trip',
        'logs',
        'exec',
        'attach',
        'port-forward',
        'top',
        'cleanup',
      ])
        expect(byKey.get(`${f.nodeName} ${check}`)?.result, `${f.nodeName} ${check}\n${table(report.checks)}`).toBe('ok');
      for (const check of ['dns-service', 'token'])
        expect(byKey.get(`${f.nodeName} ${check}`)?.result, `${f.nodeName} ${check}\n${table(report.checks)}`).toBe(
          real ? 'ok' : 'skipped',
        );
    }
    const first = s.fedlets[0]!.nodeName;
    expect(byKey.get(`${first} serving-cert`)?.detail).toMatch(/covers .*, signed by the cluster CA/);
    expect(byKey.get(`${first} top`)?.detail).toMatch(
      /^\/stats\/summary through the upper API server: node \d+m CPU, \d+Mi memory; probe pod/,
    );
    if (real) {
      expect(byKey.get(`${first} attach`)?.detail).toMatch(/kubectl attach streamed the probe's output \(fedlet-doctor probe/);
      expect(byKey.get(`${first} dns-service`)?.detail).toMatch(
        /^resolved fedlet-doctor-\w+-0\.[-a-z0-9]+\.svc\.cluster\.local to [\d.]+ and got an HTTP answer from the probe through the Service$/,
      );
      expect(byKey.get(`${first} token`)?.detail).toMatch(
        new RegExp(`which accepts the pod's projected token as system:serviceaccount:${PROBE_NS}:default`),
      );
    }
    // The table an operator reads says the same (the probe on whatever node the lower scheduler picks:
    // on a simulated one, dns-service and token say why they were skipped).
    const env = { PATH: `${path.dirname(findBinary('kubectl'))}:${process.env.PATH ?? ''}` };
    const t = await run(process.execPath, [cli, 'doctor', '--upper-kubeconfig', s.upperKubeconfig, '--namespace', PROBE_NS], {
      env,
      timeoutMs: 200_000,
    });
    process.stderr.write(`[doctor]\n${t.stdout}`);
    expect(t.code, t.stdout + t.stderr).toBe(0);
    expect(t.stdout).toMatch(/^NODE\s+CHECK\s+RESULT\s+DETAIL$/m);
    expect(t.stdout).toMatch(/All checks passed\.\n$/);
    const left = await kubectl(s.upperKubeconfig, ['get', 'pods,services', '-A', '-l', 'fedlet.io/doctor', '-o', 'name']);
    expect(left.trim()).toBe('');
  });

  describe.skipIf(!local)('with a fedlet stopped', () => {
    const s = sandbox();
    const f = s.fedlets[1]!;
    afterAll(async () => {
      startFedlet(s, f.cluster);
      saveState(s);
      await waitForNodesReady(s, [f.nodeName], 120_000);
    });

    it('fails and names the cause: nothing listens on the kubelet port; probes are skipped, not hung', async () => {
      await stopFedlet(s, f.cluster);
      const { code, report } = await doctor(['--node', f.nodeName, '--timeout', '30']);
      expect(code, table(report.checks)).toBe(1);
      const port = report.checks.find((c) => c.check === 'kubelet-port')!;
      expect(port, table(report.checks)).toMatchObject({ node: f.nodeName, result: 'failed' });
      expect(port.detail).toMatch(/the upper API server cannot reach the kubelet API: nothing listens on .*: connection refused/);
      expect(port.fix).toMatch(
        new RegExp(`the fedlet of lower cluster ${f.cluster} is not running, not the leader, or listens elsewhere`),
      );
      for (const c of ['pod-round-trip', 'logs', 'exec', 'port-forward', 'cleanup'])
        expect(
          report.checks.find((x) => x.check === c),
          c,
        ).toMatchObject({ result: 'skipped', detail: 'the kubelet port is unreachable (see kubelet-port)' });
      // The table names it too, with what to do under the failed line.
      const s2 = sandbox();
      const env = { PATH: `${path.dirname(findBinary('kubectl'))}:${process.env.PATH ?? ''}` };
      const t = await run(process.execPath, [cli, 'doctor', '--upper-kubeconfig', s2.upperKubeconfig, '--node', f.nodeName], {
        env,
        timeoutMs: 120_000,
      });
      expect(t.code).toBe(1);
      expect(t.stdout).toMatch(
        new RegExp(
          `^${f.nodeName}\\s+kubelet-port\\s+failed\\s+the upper API server cannot reach the kubelet API: nothing listens on`,
          'm',
        ),
      );
      expect(t.stdout).toMatch(new RegExp(`^\\s+→ the fedlet of lower cluster ${f.cluster} is not running`, 'm'));
      expect(t.stdout).toMatch(/check\(s\) failed\.\n$/);
      // Only the stopped node is checked.
      expect(new Set(report.checks.filter((c) => c.node !== '*').map((c) => c.node))).toEqual(new Set([f.nodeName]));
    });
  });

  describe.skipIf(!local)('with the extender down', () => {
    const s = sandbox();
    afterAll(async () => {
      // The state as it is now: a snapshot read when this file was collected still holds the fedlet
      // that the block above replaced, and saving it would point later files at a dead process.
      const now = sandbox();
      const e = now.extender!;
      now.extender = { ...restartProcess(e), port: e.port, tls: e.tls };
      saveState(now);
      await waitForWebhook(now.upperKubeconfig, 60_000);
    });

    it('fails and names the extender: the scheduler placed a pod only the extender refuses', async () => {
      await stopProcess(s.extender!);
      const node = s.fedlets[0]!.nodeName;
      const { code, report } = await doctor(['--node', node, '--timeout', '30', '--namespace', PROBE_NS]);
      expect(code, table(report.checks)).toBe(1);
      const ext = report.checks.find((c) => c.check === 'extender')!;
      expect(ext, table(report.checks)).toMatchObject({ node: '*', result: 'failed' });
      expect(ext.detail).toMatch(
        new RegExp(`the scheduler placed a pod asking \\d+m CPU for ${node} .* on ${node}: it did not consult the extender`),
      );
      expect(ext.fix).toMatch(/the extender is down or kube-scheduler cannot reach it .*check that `fedlet extender` runs/);
      // The same process serves the admission webhook: that check names it too; the node itself is fine.
      expect(report.checks.find((c) => c.check === 'webhook')).toMatchObject({ result: 'failed' });
      for (const c of ['node-ready', 'kubelet-port', 'pod-round-trip'])
        expect(report.checks.find((x) => x.check === c)?.result, c).toBe('ok');
      const left = await kubectl(s.upperKubeconfig, ['get', 'pods,services', '-A', '-l', 'fedlet.io/doctor', '-o', 'name']);
      expect(left.trim()).toBe('');
    });
  });
});
