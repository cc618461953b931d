// Fuzzing the translation against real API servers: generated pods are first sent to the upper API
// server (server-side dry run, so admission defaults and the service-account token volume are applied
// as for a real pod); whatever it accepts is translated exactly as fedlet does and sent to a lower API
// server, again as a dry run. Every translation must be accepted: a rejection is a translation bug.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { translatePod } from '../../provider/workload/translate.js';
import type { Pod } from '../../src/kube/types.js';
import { podArbitrary } from '../support/pod-arbitrary.js';
import { createNamespace } from './framework/namespaces.js';
import { kubectl, kubectlRaw, sandbox } from './framework/kubectl.js';

const s = sandbox();
const upper = s.upperKubeconfig;
const lower = s.lowerKubeconfigs[0]!;
const f1 = s.fedlets[0]!;
const ns = 'dryrun-e2e';
const seed = process.env.FEDLET_FUZZ_SEED ? Number(process.env.FEDLET_FUZZ_SEED) : Date.now() % 2 ** 31;
const wanted = Number(process.env.FEDLET_DRYRUN_SAMPLES ?? 20);

beforeAll(async () => {
  // The first lower cluster maps namespaces one to one (see sandbox.ts).
  await Promise.all([createNamespace(upper, ns), createNamespace(lower, ns)]);
});
afterAll(async () => {
  await Promise.all([upper, lower].map((k) => kubectl(k, ['delete', 'namespace', ns, '--wait=false']).catch(() => undefined)));
});

async function dryRunCreate(kubeconfig: string, pod: Pod): Promise<{ ok: true; pod: Pod } | { ok: false; error: string }> {
  const r = await kubectlRaw(kubeconfig, ['create', '--dry-run=server', '-o', 'json', '-f', '-'], { input: JSON.stringify(pod) });
  return r.code === 0 ? { ok: true, pod: JSON.parse(r.stdout) as Pod } : { ok: false, error: r.stderr.trim() };
}

describe('translated pods against a real lower API server', () => {
  it('are accepted by server-side dry run', async () => {
    console.log(`translate dry-run: seed ${seed} (FEDLET_FUZZ_SEED replays)`);
    const samples = fc.sample(podArbitrary({ nodeName: f1.nodeName, namespace: ns, refusals: false }), {
      seed,
      numRuns: wanted * 3,
    });
    const rejectedByLower: string[] = [];
    let rejectedByUpper = 0;
    let accepted = 0;
    for (const generated of samples) {
      if (accepted + rejectedByLower.length >= wanted) break;
      const { uid: _uid, ...meta } = generated.metadata;
      const up = await dryRunCreate(upper, { ...generated, metadata: meta });
      if (!up.ok) {
        rejectedByUpper++; // the generator overreached: not fedlet's concern
        continue;
      }
      const translated = translatePod(up.pod, {
        nodeName: f1.nodeName,
        clusterName: f1.cluster,
        lowerNamespace: ns,
        allowDaemonSetPods: false,
      });
      const low = await dryRunCreate(lower, translated);
      if (low.ok) accepted++;
      else rejectedByLower.push(`${generated.metadata.name}: ${low.error}\n${JSON.stringify(translated)}`);
    }
    console.log(
      `translate dry-run: ${accepted} accepted by the lower API server, ${rejectedByUpper} generated pods refused by the upper`,
    );
    expect(rejectedByLower).toEqual([]);
    expect(accepted).toBeGreaterThanOrEqual(wanted);
  });
});
