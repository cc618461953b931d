// fedlet join / leave without clusters: the command lines they accept and refuse, the names they derive
// as the chart does, the dry-run plan (what runs, and that it runs nothing), and when the lower
// credential in the Secret is kept or replaced.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chartFullname, joinArgs, joinNames, leaveArgs, parseDuration } from '../../app/join/args.js';
import { canonical, findHelm, redact } from '../../app/join/helm.js';
import { lowerKubeconfigYaml, staleReason } from '../../app/join/lower-credential.js';
import { installArgs, joinPlan, leavePlan, renderPlan } from '../../app/join/plan.js';
import { leaveCommand } from '../../app/join-command.js';
import { main } from '../../app/main.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'fedlet-join-unit-'));
const U = path.join(dir, 'upper.kubeconfig');
const L = path.join(dir, 'lower.kubeconfig');
writeFileSync(U, 'apiVersion: v1\n');
writeFileSync(L, 'apiVersion: v1\n');
const base = ['--upper-kubeconfig', U, '--lower-kubeconfig', L];

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

describe('fedlet join / leave arguments', () => {
  it('derives the names the chart derives: release fedlet-<cluster>, node and ServiceAccount = fullname', () => {
    const a = joinArgs([...base, '--cluster', 'eu-1']);
    expect(a).toMatchObject({ release: 'fedlet-eu-1', nodeName: 'fedlet-eu-1', namespace: 'fedlet-system', dryRun: false });
    expect(joinNames(a)).toEqual({
      fullname: 'fedlet-eu-1',
      serviceAccount: 'fedlet-eu-1',
      secret: 'fedlet-eu-1-lower-kubeconfig',
    });
    expect(a.tokenSeconds).toBe(86_400);
    expect(chartFullname('eu-1')).toBe('fedlet-eu-1');
    expect(chartFullname('my-fedlet')).toBe('my-fedlet');
    // A node name given alone names the release; a pool-style name under a release is accepted.
    expect(joinArgs([...base, '--cluster', 'eu-1', '--node-name', 'fedlet-west']).release).toBe('fedlet-west');
    expect(joinArgs([...base, '--cluster', 'eu-1', '--release', 'r', '--node-name', 'fedlet-r-a']).nodeName).toBe('fedlet-r-a');
  });

  it.each([
    [['--cluster', 'eu-1'], 'needs --upper-kubeconfig FILE, --lower-kubeconfig FILE'],
    [[...base], 'needs --cluster NAME'],
    [[...base, '--cluster', 'EU_1'], 'not a DNS label'],
    [
      ['--upper-kubeconfig', '/nonexistent', '--lower-kubeconfig', L, '--cluster', 'eu'],
      'kubeconfig /nonexistent does not exist',
    ],
    [[...base, '--cluster', 'eu', '--node-name', 'other'], "must be the release's name fedlet-other"],
    [[...base, '--cluster', 'eu', '--release', 'r', '--node-name', 'fedlet-x'], 'Change --node-name or --release'],
    [[...base, '--cluster', 'eu', '--image', 'fedlet'], 'use REPOSITORY:TAG'],
    [[...base, '--cluster', 'eu', '--set', 'novalue'], 'use KEY=VALUE'],
    [[...base, '--cluster', 'eu', '--token-duration', '5m'], 'at least 10m'],
    [[...base, '--cluster', 'eu', '--token-duration', 'forever'], 'use a duration'],
    [[...base, '--cluster', 'eu', '--lower-server', 'http://x:6443'], 'use https://HOST:PORT'],
    [[...base, '--cluster', 'eu', '--chart', dir], 'no Chart.yaml there'],
    [[...base, '--cluster', 'eu', '--force'], 'unknown join option --force'],
  ])('join %j is refused: %s', (argv, message) => {
    expect(() => joinArgs(argv)).toThrow(message);
  });

  it('leave takes a timeout and --force, and refuses join-only options', () => {
    expect(leaveArgs([...base, '--cluster', 'eu', '--timeout', '90s', '--force'])).toMatchObject({
      timeoutSeconds: 90,
      force: true,
      release: 'fedlet-eu',
    });
    expect(leaveArgs([...base, '--cluster', 'eu']).timeoutSeconds).toBe(300);
    expect(() => leaveArgs([...base, '--cluster', 'eu', '--set', 'a=b'])).toThrow('unknown leave option --set');
  });

  it('reads durations as kubectl writes them', () => {
    expect(parseDuration('--x', '1h30m')).toBe(5400);
    expect(parseDuration('--x', '24h')).toBe(86_400);
    expect(parseDuration('--x', '45')).toBe(45);
    expect(() => parseDuration('--x', '')).toThrow();
  });

  it('an image with a registry port splits at the tag', () => {
    expect(joinArgs([...base, '--cluster', 'eu', '--image', 'reg.local:5000/fedlet:0.2.0']).image).toEqual({
      repository: 'reg.local:5000/fedlet',
      tag: '0.2.0',
    });
  });
});

describe('fedlet join --dry-run', () => {
  const argv = [
    ...base,
    '--cluster',
    'eu-1',
    '--image',
    'reg.local/fedlet:1.2.3',
    '--set',
    'servingCert.mode=self-signed',
    '-n',
    'fed',
    '--dry-run',
  ];

  it('plans the lower identity, the credential, then the upper release with matching names', () => {
    const plan = joinPlan(joinArgs(argv));
    expect(plan.map((s) => `${s.cluster}:${s.id}`)).toEqual([
      'lower:lower-namespace',
      'lower:lower-release',
      'upper:upper-namespace',
      'lower:lower-credential'.replace('lower:', 'upper:'),
      'upper:upper-release',
    ]);
    expect(plan[1]!.helm).toEqual([
      'upgrade',
      '--install',
      'fedlet-eu-1',
      expect.stringMatching(/charts\/fedlet$/),
      '--set',
      'target=lower',
      '--kubeconfig',
      L,
      '-n',
      'fed',
      '--wait',
      '--timeout=300s',
    ]);
    const upper = plan[4]!.helm!.join(' ');
    expect(upper).toContain(
      `--set clusterName=eu-1 --set nodeName=fedlet-eu-1 --set lowerKubeconfig.existingSecret=fedlet-eu-1-lower-kubeconfig`,
    );
    expect(upper).toContain('--set image.repository=reg.local/fedlet --set image.tag=1.2.3 --set servingCert.mode=self-signed');
    expect(upper).toContain(`--kubeconfig ${U} -n fed`);
    // No token that never expires: the lower half is installed without lowerToken.create.
    expect(plan.flatMap((s) => s.helm ?? []).join(' ')).not.toContain('lowerToken');
    expect(plan[3]!.text).toContain('24h token of fed/fedlet-eu-1');
  });

  it('prints every step with its helm command line and changes nothing (no helm, no cluster needed)', async () => {
    const r = await cli(['join', ...argv]);
    expect(r.code).toBe(0);
    expect(r.out).toBe(renderPlan('join', joinPlan(joinArgs(argv))));
    expect(r.out).toMatch(/^fedlet join --dry-run: nothing is changed/);
    expect(r.out).toContain(`helm ${installArgs(joinArgs(argv), 'upper').join(' ')}`);
    const leave = await cli(['leave', ...base, '--cluster', 'eu-1', '-n', 'fed', '--dry-run']);
    expect(leave.code).toBe(0);
    expect(leave.out).toContain('helm uninstall fedlet-eu-1 --kubeconfig');
    expect(leavePlan(leaveArgs([...base, '--cluster', 'eu-1'])).map((s) => s.id)).toEqual([
      'cordon',
      'drain',
      'upper-release',
      'upper-leftovers',
      'lower-leftovers',
      'lower-release',
      'namespaces',
    ]);
  });

  it('tells how to leave again, with exactly the names that differ from the defaults', () => {
    expect(leaveCommand(joinArgs([...base, '--cluster', 'eu-1']))).toBe(`fedlet leave ${base.join(' ')} --cluster eu-1`);
    expect(leaveCommand(joinArgs([...base, '--cluster', 'eu-1', '--release', 'r', '--node-name', 'fedlet-r-a', '-n', 'x']))).toBe(
      `fedlet leave ${base.join(' ')} --cluster eu-1 --release r --node-name fedlet-r-a -n x`,
    );
  });

  it('a bad command line is exit code 2 before anything runs', async () => {
    await expect(cli(['join', '--cluster', 'eu', '--dry-run'])).rejects.toThrow('needs --upper-kubeconfig');
  });
});

describe('the lower credential', () => {
  const jwt = (claims: object) => ['x', Buffer.from(JSON.stringify(claims)).toString('base64url'), 'sig'].join('.');
  const NOW = 1_000_000_000_000;
  const cluster = { server: 'https://10.0.0.1:6443', caPem: '-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n' };
  const want = { cluster, namespace: 'fedlet-system', serviceAccount: 'fedlet-eu', uid: 'u1', tokenSeconds: 86_400 };
  const token = (issuedAgoS: number, lifetime = 86_400, sa = 'fedlet-eu', uid = 'u1') =>
    jwt({
      sub: `system:serviceaccount:fedlet-system:${sa}`,
      iat: NOW / 1000 - issuedAgoS,
      exp: NOW / 1000 - issuedAgoS + lifetime,
      'kubernetes.io': { serviceaccount: { name: sa, uid } },
    });
  const kc = (t: string, c = cluster) => lowerKubeconfigYaml('eu', c, 'fedlet-eu', t);

  it('is kept while it has more than half its lifetime left, for the same account, server and CA', () => {
    expect(staleReason(kc(token(3600)), want, NOW)).toBe('');
  });

  it.each([
    ['missing', undefined, 'no kubeconfig yet'],
    ['unreadable', '{{', 'no readable kubeconfig'],
    ['past half its lifetime', 'HALF', 'less than half its lifetime left'],
    ['of another account', 'OTHER', 'not fedlet-system/fedlet-eu'],
    ['of a recreated account', 'UID', 'recreated'],
    ['of another lifetime', 'LIFE', '--token-duration asks'],
    ['for another server', 'SERVER', 'the server changed'],
    ['never expiring', 'LEGACY', 'not a ServiceAccount token with a lifetime'],
  ])('is replaced when %s', (_, k, reason) => {
    const text =
      k === 'HALF'
        ? kc(token(50_000))
        : k === 'OTHER'
          ? kc(token(10, 86_400, 'other'))
          : k === 'UID'
            ? kc(token(10, 86_400, 'fedlet-eu', 'u0'))
            : k === 'LIFE'
              ? kc(token(10, 3600))
              : k === 'SERVER'
                ? kc(token(10), { ...cluster, server: 'https://127.0.0.1:6443' })
                : k === 'LEGACY'
                  ? kc(jwt({ sub: 'system:serviceaccount:fedlet-system:fedlet-eu', iat: 1 }))
                  : k;
    expect(staleReason(text, want, NOW)).toContain(reason);
  });
});

describe('fedlet join failures', () => {
  it('without helm, says how to get it', () => {
    expect(() => findHelm({ PATH: dir })).toThrow('helm not found: install helm 3');
  });

  it('names the failed step, its cluster, the cause and what to do, exit code 1', async () => {
    // A lower API server that refuses connections: the first step fails, nothing after it runs.
    const closed = path.join(dir, 'closed.kubeconfig');
    writeFileSync(
      closed,
      [
        'apiVersion: v1',
        'clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]',
        'users: [{name: u, user: {token: t}}]',
        'contexts: [{name: c, context: {cluster: c, user: u}}]',
        'current-context: c',
      ].join('\n'),
    );
    const saved = process.env.HELM;
    process.env.HELM = '/bin/true';
    try {
      const r = await cli(['join', '--upper-kubeconfig', closed, '--lower-kubeconfig', closed, '--cluster', 'eu']);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/^\[1\/5\] lower: lower-namespace \.\.\. failed$/m);
      expect(r.err).toContain('fedlet join: step lower-namespace (lower cluster) failed:');
      expect(r.err).toContain('ECONNREFUSED');
      expect(r.err).toContain("what to do: check that --lower-kubeconfig is a cluster admin's kubeconfig");
      expect(r.err).not.toContain('[2/5]');
    } finally {
      if (saved === undefined) delete process.env.HELM;
      else process.env.HELM = saved;
    }
  });
});

describe('helpers', () => {
  it('compares value trees regardless of key order', () => {
    expect(canonical({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe(
      canonical({ a: { c: null, d: [1, { x: 1, y: 2 }] }, b: 1 }),
    );
    expect(canonical({ a: 1 })).not.toBe(canonical({ a: '1' }));
  });
  it('never prints a token in a helm command line', () => {
    expect(redact(['--set', 'lowerKubeconfig.token=abcdefghijkl'])).toEqual(['--set', 'lowerKubeconfig.token=<redacted>']);
  });
});
