// Installable: the kustomize bases build and the API servers accept them (server-side dry run;
// the RBAC bases are applied for real by the sandbox, which runs fedlet with exactly those identities).
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../sandbox/sandbox.js';
import { kubectl, sandbox } from './framework/kubectl.js';

const s = sandbox();
const m = (p: string) => path.join(repoRoot(), 'manifests', p);

describe('manifests', () => {
  it.each(['upper', 'extender', 'overlays/example-eu-1', 'rbac/upper', 'rbac/upper-policy', 'rbac/extender'])(
    'kubectl apply -k manifests/%s is accepted by the upper cluster (server dry run)',
    async (dir) => {
      const out = await kubectl(s.upperKubeconfig, ['apply', '-k', m(dir), '--dry-run=server']);
      expect(out).toMatch(/(created|configured|unchanged) \(server dry run\)/);
    },
  );

  it('the overlay renames per cluster and wires the lower kubeconfig Secret and config', async () => {
    const y = await kubectl(s.upperKubeconfig, ['kustomize', m('overlays/example-eu-1')]);
    expect(y).toMatch(/name: fedlet-eu-1\n/);
    expect(y).toMatch(/secretName: fedlet-lower-kubeconfig-eu-1-/);
    expect(y).toMatch(/readOnlyRootFilesystem: true/);
    expect(y).toMatch(/runAsNonRoot: true/);
  });

  it.each(['lower', 'rbac/lower'])(
    'kubectl apply -k manifests/%s is accepted by a lower cluster (server dry run)',
    async (dir) => {
      const out = await kubectl(s.lowerKubeconfigs[0]!, ['apply', '-k', m(dir), '--dry-run=server']);
      expect(out).toMatch(
        /clusterrole.rbac.authorization.k8s.io\/fedlet:lower (created|configured|unchanged) \(server dry run\)/,
      );
    },
  );

  it('fedlet status prints every virtual node with its cluster and health', async () => {
    const { execFileSync } = await import('node:child_process');
    const { fedletCli } = await import('../../sandbox/sandbox.js');
    const out = execFileSync(process.execPath, [fedletCli(), 'status', '--upper-kubeconfig', s.upperKubeconfig], {
      encoding: 'utf8',
    });
    for (const f of s.fedlets) expect(out).toMatch(new RegExp(`${f.nodeName}\\s+${f.cluster}\\s+-\\s+True\\s+LowerClusterReady`));
  });
});
