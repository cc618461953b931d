import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { doctorArgs } from '../../app/doctor.js';
import { rbacCheck, rightsNeeded } from '../../app/doctor/cluster-checks.js';
import { evaluateServingCert, kubeletPortCheck, reachFailure, servingCertCheck } from '../../app/doctor/kubelet-checks.js';
import { leaseCheck, nodeReadyCheck, summaryCheck } from '../../app/doctor/node-checks.js';
import { probePod, whyNotRunning } from '../../app/doctor/probe-pod.js';
import { evaluateDns, evaluateToken, parseTokenProbe, PROBE_ENV, probeService } from '../../app/doctor/in-pod-checks.js';
import { exitCode, failed, ok, renderJson, renderTable, skipped } from '../../app/doctor/report.js';
import type { KubeClient } from '../../src/kube/client.js';
import type { Lease, Node, Pod } from '../../src/kube/types.js';
import { createSelfSigned, newKeyPair } from '../../src/kubelet/x509.js';
import { LABEL_CLUSTER, LABEL_DOCTOR, LABEL_DOCTOR_PROBE, TAINT_VIRTUAL_NODE } from '../../src/labels.js';
import { encodeSummary } from '../../src/scheduling/summary.js';
import { createPki, serverExt, signCert } from '../../sandbox/pki.js';

const node = (o: Partial<Node['status']> = {}, name = 'fedlet-eu'): Node => ({
  metadata: { name, labels: { [LABEL_CLUSTER]: 'eu' } },
  status: {
    conditions: [{ type: 'Ready', status: 'True', reason: 'LowerClusterReady' }],
    addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
    daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
    ...o,
  },
});
const NOW = Date.parse('2030-01-01T00:00:00Z');
const lease = (renewedAgoS: number, duration = 40): Lease => ({
  metadata: { name: 'fedlet-eu', namespace: 'kube-node-lease' },
  spec: { renewTime: new Date(NOW - renewedAgoS * 1000).toISOString(), leaseDurationSeconds: duration },
});

describe('doctor report', () => {
  const checks = [
    ok('*', 'rbac', 'fine'),
    failed('fedlet-eu', 'kubelet-port', 'refused', 'start fedlet'),
    skipped('fedlet-eu', 'logs', 'blocked'),
  ];
  it('exits non-zero on any failure, not on a skip', () => {
    expect(exitCode(checks)).toBe(1);
    expect(exitCode([checks[0]!, checks[2]!])).toBe(0);
  });
  it('prints a table with the fix under what failed, and JSON for scripts', () => {
    const lines = renderTable(checks).split('\n');
    expect(lines[0]).toMatch(/^NODE\s+CHECK\s+RESULT\s+DETAIL$/);
    expect(lines[2]).toMatch(/^fedlet-eu\s+kubelet-port\s+failed\s+refused$/);
    expect(lines[3]).toMatch(/^\s+→ start fedlet$/);
    expect(renderTable(checks)).toMatch(/1 check\(s\) failed\.\n$/);
    expect(JSON.parse(renderJson(checks))).toEqual({ ok: false, checks });
  });
});

describe('doctor: node checks', () => {
  it('Ready, and why not, naming the fedlet behind the node', () => {
    expect(nodeReadyCheck(node())).toMatchObject({ result: 'ok', detail: 'Ready (LowerClusterReady)' });
    const lower = nodeReadyCheck(
      node({
        conditions: [
          {
            type: 'Ready',
            status: 'False',
            reason: 'LowerClusterUnreachable',
            message: 'lower cluster eu at https://x is unreachable',
          },
        ],
      }),
    );
    expect(lower).toMatchObject({ result: 'failed', detail: expect.stringMatching(/Ready=False \(LowerClusterUnreachable\)/) });
    expect(lower.fix).toMatch(/the fedlet of lower cluster eu cannot reach its lower API server/);
    const gone = nodeReadyCheck(
      node({
        conditions: [
          { type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' },
        ],
      }),
    );
    expect(gone.fix).toMatch(/the fedlet of lower cluster eu is not reporting/);
  });

  it('the Lease is fresh while renewTime + duration lies ahead', () => {
    expect(leaseCheck(node(), lease(5), NOW)).toMatchObject({ result: 'ok', detail: 'renewed 5s ago (duration 40s)' });
    expect(leaseCheck(node(), lease(41), NOW)).toMatchObject({
      result: 'failed',
      detail: 'last renewed 41s ago, past its 40s duration',
    });
    expect(leaseCheck(node(), undefined, NOW)).toMatchObject({ result: 'failed', detail: 'no Lease kube-node-lease/fedlet-eu' });
  });

  it('the extender summary: present, readable, this node, trusted only with a fresh Lease', () => {
    const summary = (n: string) => ({
      metadata: { name: `fedlet-summary-${n}`, namespace: 'fedlet-system' },
      data: {
        'summary.json': encodeSummary({
          v: 1,
          node: n,
          cluster: 'eu',
          generated: new Date(NOW).toISOString(),
          labelSets: [{}],
          taintSets: [[]],
          nodes: [[0, 0, { cpu: '8000' }, 3]],
          avoid: {},
        }),
      },
    });
    expect(summaryCheck(node(), summary('fedlet-eu'), 'fedlet-system', true)).toMatchObject({
      result: 'ok',
      detail: expect.stringMatching(/3 schedulable lower node\(s\), trusted by the extender/),
    });
    expect(summaryCheck(node(), summary('fedlet-eu'), 'fedlet-system', false).detail).toMatch(
      /ignores it while the node Lease is stale/,
    );
    expect(summaryCheck(node(), summary('fedlet-us'), 'fedlet-system', true).detail).toMatch(/describes node fedlet-us/);
    expect(summaryCheck(node(), undefined, 'fedlet-system', true)).toMatchObject({
      result: 'failed',
      detail: 'no ConfigMap fedlet-system/fedlet-summary-fedlet-eu',
    });
    expect(summaryCheck(node(), { metadata: {}, data: { 'summary.json': '{' } }, 'ns', true).detail).toMatch(
      /unreadable: not JSON/,
    );
  });
});

describe('doctor: the kubelet port', () => {
  const e = { address: '198.18.0.1', port: 23456 };
  it.each([
    [
      'error trying to reach service: dial tcp 198.18.0.1:23456: connect: connection refused',
      /nothing listens on 198.18.0.1:23456: connection refused/,
      /not running, not the leader, or listens elsewhere/,
    ],
    ['dial tcp 198.18.0.1:23456: i/o timeout', /the dial timed out/, /firewall, NetworkPolicy or route/],
    ['connect EHOSTUNREACH 198.18.0.1:23456', /unreachable: no route/, /set nodeIP/],
    ['address not allowed', /will not dial 198.18.0.1:23456 \(a loopback or link-local address\)/, /routable address/],
    ['x509: certificate signed by unknown authority', /TLS with 198.18.0.1:23456 failed/, /kubelet-certificate-authority/],
    [
      'Forbidden (user=kube-apiserver, verb=get, resource=nodes, subresource=proxy)',
      /refused the API server/,
      /kubelet-client-certificate/,
    ],
  ])('names the cause of %j', (message, cause, fix) => {
    const r = reachFailure(message, e, 'the fedlet of lower cluster eu');
    expect(r.cause).toMatch(cause);
    expect(r.fix).toMatch(fix);
  });

  it('goes through the upper API server node proxy', async () => {
    const paths: string[] = [];
    const up = { getText: async (p: string) => (paths.push(p), 'ok') } as unknown as KubeClient;
    expect(await kubeletPortCheck(up, node())).toMatchObject({
      result: 'ok',
      detail: expect.stringMatching(/reaches the kubelet API at 127.0.0.1:10250 \(\/healthz: ok\)/),
    });
    expect(paths).toEqual(['/api/v1/nodes/fedlet-eu/proxy/healthz']);
    const down = {
      getText: async () => {
        throw new Error('error trying to reach service: dial tcp 127.0.0.1:10250: connect: connection refused');
      },
    } as unknown as KubeClient;
    expect(await kubeletPortCheck(down, node())).toMatchObject({
      result: 'failed',
      detail: 'the upper API server cannot reach the kubelet API: nothing listens on 127.0.0.1:10250: connection refused',
    });
  });
});

describe('doctor: the serving certificate', () => {
  const servers: tls.Server[] = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
  });
  const key = newKeyPair();
  const selfSigned = new X509Certificate(
    createSelfSigned(key, { commonName: 'system:node:fedlet-eu' }, { dns: ['fedlet-eu'], ips: ['127.0.0.1'] }, 30),
  );
  const now = Date.now();

  it('valid, covering the address, signed by the cluster CA or not', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fedlet-doctor-pki-'));
    const pki = createPki(dir);
    const signed = signCert(
      dir,
      { cert: pki.caCert, key: pki.caKey },
      'fedlet-eu',
      '/O=system:nodes/CN=system:node:fedlet-eu',
      serverExt(['IP:198.18.0.1']),
    );
    const ca = new X509Certificate(readFileSync(pki.caCert));
    const cert = new X509Certificate(readFileSync(signed.cert));
    // openssl stamps notBefore at the signing second: judge a minute later, never before it.
    const later = Date.parse(cert.validFrom) + 60_000;
    expect(evaluateServingCert('fedlet-eu', cert, '198.18.0.1', later, [ca])).toMatchObject({
      result: 'ok',
      detail: expect.stringMatching(/covers 198.18.0.1, signed by the cluster CA$/),
    });
    expect(evaluateServingCert('fedlet-eu', selfSigned, '127.0.0.1', now, [ca]).detail).toMatch(/not signed by the cluster CA/);
    expect(evaluateServingCert('fedlet-eu', cert, '10.1.2.3', later, [ca])).toMatchObject({
      result: 'failed',
      detail: expect.stringMatching(/names IP Address:198.18.0.1, not the node's address 10.1.2.3/),
    });
  });

  it('expired or not yet valid fails, saying how it renews', () => {
    const expired = evaluateServingCert('fedlet-eu', selfSigned, '127.0.0.1', now + 31 * 86_400_000, []);
    expect(expired).toMatchObject({ result: 'failed', detail: expect.stringMatching(/^expired at /) });
    expect(expired.fix).toMatch(/kubectl get csr -l fedlet.io\/node=fedlet-eu/);
    expect(evaluateServingCert('fedlet-eu', selfSigned, '127.0.0.1', now - 2 * 3600_000, []).detail).toMatch(/^not valid before/);
  });

  it('reads it from the kubelet port; unreachable from here is a skip when the API server reaches it', async () => {
    const server = tls.createServer({ key: key.privateKeyPem, cert: selfSigned.toString() }, (s) => s.end());
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const n = node({ daemonEndpoints: { kubeletEndpoint: { Port: port } } });
    expect(await servingCertCheck(n, [], true)).toMatchObject({
      result: 'ok',
      detail: expect.stringMatching(/covers 127.0.0.1/),
    });
    server.close();
    expect(await servingCertCheck(n, [], true)).toMatchObject({
      result: 'skipped',
      detail: expect.stringMatching(/connection refused from this machine/),
    });
    expect(await servingCertCheck(n, [], false)).toMatchObject({
      result: 'failed',
      detail: expect.stringMatching(/cannot read the certificate: nothing listens/),
    });
  });
});

describe('doctor: probe pod and RBAC', () => {
  const o = { namespace: 'default', image: 'busybox:1.36', timeoutMs: 1000, runId: 'abc123', can: () => true };
  it('the probe pod is bound to the node, labelled with the run, tolerates the taint, runs unprivileged', () => {
    const p = probePod('fedlet-eu', 2, o);
    expect(p.metadata).toMatchObject({
      name: 'fedlet-doctor-abc123-2',
      namespace: 'default',
      labels: { [LABEL_DOCTOR]: 'abc123', [LABEL_DOCTOR_PROBE]: 'fedlet-doctor-abc123-2' },
    });
    // It mounts its token (the token check calls the upper API server with it).
    expect(p.spec).toMatchObject({ nodeName: 'fedlet-eu', automountServiceAccountToken: true, restartPolicy: 'Never' });
    expect(p.spec.nodeSelector).toBeUndefined();
    expect(p.spec.tolerations).toEqual([{ key: TAINT_VIRTUAL_NODE, operator: 'Exists' }]);
    expect(p.spec.securityContext).toMatchObject({ runAsNonRoot: true });
    expect(p.spec.containers[0]!.env).toEqual([{ name: PROBE_ENV, value: 'abc123' }]);
    // Its Service selects this pod only.
    expect(probeService(p, 'abc123')).toMatchObject({
      metadata: { name: 'fedlet-doctor-abc123-2', namespace: 'default', labels: { [LABEL_DOCTOR]: 'abc123' } },
      spec: { selector: { [LABEL_DOCTOR_PROBE]: 'fedlet-doctor-abc123-2' }, ports: [{ port: 8080, targetPort: 8080 }] },
    });
    // Where lower clusters mix simulated and real nodes, the probe can be sent to the real ones.
    const real = probePod('fedlet-eu', 0, {
      ...o,
      lowerNodeSelector: { 'example.com/real': 'true' },
      tolerations: ['example.com/real'],
    });
    expect(real.spec.nodeSelector).toEqual({ 'example.com/real': 'true' });
    expect(real.spec.tolerations).toEqual([
      { key: TAINT_VIRTUAL_NODE, operator: 'Exists' },
      { key: 'example.com/real', operator: 'Exists' },
    ]);
  });

  it.each([
    [
      { phase: 'Pending', reason: 'LowerRejected', message: 'pods "x" is forbidden: violates PodSecurity' },
      /reason LowerRejected: pods "x" is forbidden/,
      /lower cluster refuses the probe pod/,
    ],
    [
      { phase: 'Pending', containerStatuses: [{ state: { waiting: { reason: 'ImagePullBackOff', message: 'not found' } } }] },
      /container waiting: ImagePullBackOff/,
      /cannot pull busybox:1.36: pass --image/,
    ],
    [
      {
        phase: 'Pending',
        conditions: [{ type: 'fedlet.io/LowerScheduled', status: 'False', message: '0/2 nodes are available' }],
      },
      /lower scheduler: 0\/2 nodes are available/,
      /no node for the probe/,
    ],
    [{ phase: 'Pending' }, /^phase Pending$/, /did not act on the pod: check that it runs and leads/],
  ])('why the probe did not run: %j', (status, detail, fix) => {
    const r = whyNotRunning({ ...probePod('fedlet-eu', 0, o), status } as Pod, 'busybox:1.36', 'the fedlet of lower cluster eu');
    expect(r.detail).toMatch(detail);
    expect(r.fix).toMatch(fix);
  });

  it('RBAC: names each right the caller lacks and the check that needs it', async () => {
    const reviews: Array<Record<string, string>> = [];
    const up = {
      create: async (_p: string, body: { spec: { resourceAttributes: Record<string, string> } }) => {
        const a = body.spec.resourceAttributes;
        reviews.push(a);
        return { status: { allowed: a.subresource !== 'exec' && a.subresource !== 'proxy' } };
      },
    } as unknown as KubeClient;
    const { check, missing } = await rbacCheck(up, rightsNeeded('team-a', 'fedlet-system'));
    expect(reviews).toContainEqual({ verb: 'create', resource: 'pods', subresource: 'portforward', namespace: 'team-a' });
    expect(reviews).toContainEqual({ verb: 'create', resource: 'pods', subresource: 'attach', namespace: 'team-a' });
    expect(reviews).toContainEqual({ verb: 'create', resource: 'services', namespace: 'team-a' });
    expect(missing.map((m) => m.for)).toEqual(['kubelet-port', 'exec', 'top', 'token']);
    expect(check).toMatchObject({
      result: 'failed',
      detail:
        'your credentials may not get nodes/proxy (kubelet-port), create pods/exec in team-a (exec), get nodes/proxy (top), create pods/exec in team-a (token)',
    });
  });

  it('parses its arguments, refusing bad ones by name', () => {
    expect(doctorArgs(['--node', 'fedlet-eu', '-o', 'json', '--timeout=30', '-n', 'probes'], {})).toMatchObject({
      nodes: ['fedlet-eu'],
      output: 'json',
      timeoutSeconds: 30,
      namespace: 'probes',
    });
    expect(() => doctorArgs(['-o', 'yaml'], {})).toThrow(/-o yaml: use table or json/);
    expect(() => doctorArgs(['--node', 'Bad_Name'], {})).toThrow(/--node Bad_Name: not a valid Node name/);
    expect(() => doctorArgs(['--timeout', '1'], {})).toThrow(/at least 5/);
    expect(() => doctorArgs(['--frobnicate'], {})).toThrow(/unknown doctor option --frobnicate/);
    expect(
      doctorArgs(['--probe-node-selector', 'a.io/real=true', '--probe-node-selector=b=', '--probe-toleration', 'a.io/real'], {}),
    ).toMatchObject({ probeNodeSelector: { 'a.io/real': 'true', b: '' }, probeTolerations: ['a.io/real'] });
    expect(() => doctorArgs(['--probe-node-selector', 'novalue'], {})).toThrow(/use KEY=VALUE/);
  });
});

describe('doctor: checks inside the probe (dns-service, token)', () => {
  it('a simulated lower node (exec runs on its host, not in the container) is a skip that says how to reach a real node', () => {
    for (const c of [
      evaluateDns('fedlet-eu', 'svc', 0, '@@simulated\n', ''),
      evaluateToken('fedlet-eu', 'ns', parseTokenProbe(0, '@@simulated\n', '')),
    ])
      expect(c).toMatchObject({
        result: 'skipped',
        detail: expect.stringMatching(/simulated node/),
        fix: expect.stringMatching(/--probe-node-selector/),
      });
  });

  it('dns-service: no cluster DNS is a skip; unresolved or unreachable fail with what to look at; an HTTP answer passes', () => {
    expect(
      evaluateDns(
        'n',
        'svc',
        0,
        '@@nameserver 10.0.0.2 search a.svc.cluster.local\n@@no-cluster-dns kubernetes.default.svc.cluster.local does not resolve\n',
        '',
      ),
    ).toMatchObject({
      result: 'skipped',
      detail: expect.stringMatching(/no cluster DNS .*kubernetes.default.svc.cluster.local/),
    });
    expect(evaluateDns('n', 'svc', 0, '@@nameserver x search s\n@@unresolved svc.a.svc.cluster.local\n', '')).toMatchObject({
      result: 'failed',
      fix: expect.stringMatching(/LowerObjectConflict/),
    });
    const resolved = '@@nameserver x search a.svc.cluster.local\n@@resolved svc.a.svc.cluster.local 10.96.3.4\n';
    expect(
      evaluateDns('n', 'svc', 0, `${resolved}@@wget 1 wget: server returned error: HTTP/1.1 404 Not Found\n`, ''),
    ).toMatchObject({
      result: 'ok',
      detail: 'resolved svc.a.svc.cluster.local to 10.96.3.4 and got an HTTP answer from the probe through the Service',
    });
    expect(evaluateDns('n', 'svc', 0, `${resolved}@@wget 1 wget: download timed out\n`, '')).toMatchObject({
      result: 'failed',
      detail: expect.stringMatching(/no HTTP answer there: wget: download timed out/),
      fix: expect.stringMatching(/EndpointSlices/),
    });
    expect(evaluateDns('n', 'svc', 1, '', 'error: unable to upgrade connection')).toMatchObject({
      result: 'failed',
      fix: 'see exec',
    });
  });

  it('token: the pod reaches the upper API server and its token is accepted as its service account; each way it breaks is named', () => {
    const out = (reach: string) => `@@server https://10.0.0.1:6443\n@@reach ${reach}\n@@token eyJsecret\n`;
    const reached = parseTokenProbe(0, out('1 wget: server returned error: HTTP/1.0 400 Bad Request'), '');
    expect(reached).toEqual({ verdict: 'reached', server: 'https://10.0.0.1:6443', token: 'eyJsecret' });
    expect(evaluateToken('n', 'ns', reached, { user: 'system:serviceaccount:ns:default' })).toMatchObject({
      result: 'ok',
      detail: expect.stringMatching(
        /reaches the upper API server at https:\/\/10.0.0.1:6443, which accepts the pod's projected token as system:serviceaccount:ns:default/,
      ),
    });
    expect(evaluateToken('n', 'ns', reached, { user: 'admin' })).toMatchObject({
      result: 'failed',
      detail: expect.stringMatching(/taken as admin, not as a service account of ns/),
    });
    expect(evaluateToken('n', 'ns', reached, { code: 401, error: 'Unauthorized' })).toMatchObject({
      result: 'failed',
      detail: expect.stringMatching(/refuses the pod's token \(401/),
    });
    const unreachable = parseTokenProbe(0, out("1 wget: can't connect to remote host (10.0.0.1): Connection refused"), '');
    expect(evaluateToken('n', 'ns', unreachable)).toMatchObject({
      result: 'failed',
      detail: expect.stringMatching(/cannot reach the upper API server at https:\/\/10.0.0.1:6443: wget: can't connect/),
      fix: expect.stringMatching(/upperAPIServerAddress must be reachable/),
    });
    expect(evaluateToken('n', 'ns', parseTokenProbe(0, '@@no-address\n', ''))).toMatchObject({
      result: 'failed',
      fix: expect.stringMatching(/set upperAPIServerAddress/),
    });
    // The token never shows in what is reported.
    const broken = parseTokenProbe(1, '@@server https://x\n@@token eyJsecret\n', '');
    expect(broken.verdict).toBe('broken');
    expect(JSON.stringify(evaluateToken('n', 'ns', broken))).not.toContain('eyJsecret');
  });
});

describe('doctor top check', () => {
  const node = {
    metadata: { name: 'vn', labels: {} },
    status: { conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z' }] },
  };
  const upperWith = (nodeCpu: number, nodeMem: number) => ({
    get: async (path: string) => {
      if (path.endsWith('/proxy/stats/summary'))
        return { node: { cpu: { usageNanoCores: nodeCpu }, memory: { workingSetBytes: nodeMem } }, pods: [] };
      if (path === '/apis/metrics.k8s.io/v1beta1') return {};
      const { KubeApiError } = await import('../../src/kube/client.js');
      throw new KubeApiError(404, 'NotFound', `nodemetrics.metrics.k8s.io "vn" not found`, 'GET', path);
    },
  });

  it('an idle node that metrics-server keeps no metrics for is noted, not failed; a busy one without metrics fails', async () => {
    const { topCheck } = await import('../../app/doctor/top-check.js');
    const pod = { name: 'probe', namespace: 'd' };
    // As seen in the sandbox: 0m CPU, 8Mi memory (fedlet's own pods' memory over kwok nodes).
    const idle = await topCheck(upperWith(0, 8 * 2 ** 20) as never, node as never, pod);
    expect(idle).toMatchObject({ result: 'ok' });
    expect(JSON.stringify(idle)).toContain('reports no CPU used');
    const busy = await topCheck(upperWith(250e6, 512 * 2 ** 20) as never, node as never, pod);
    expect(busy).toMatchObject({ result: 'failed' });
    expect(JSON.stringify(busy)).toContain('kubectl top node vn would fail');
  });
});
