// fedlet's credential for the lower cluster as `fedlet join` makes it: a kubeconfig holding a token with
// a lifetime (TokenRequest for the lower half's ServiceAccount; never a token that does not expire),
// which the running fedlet renews itself before 80% of its lifetime (src/kube/token-renewal.ts). Kept
// when the Secret already holds a token of the same account, server and CA with more than half its
// lifetime left, so that a second join changes nothing.
import yaml from 'js-yaml';
import type { KubeconfigCluster } from '../../src/kube/kubeconfig.js';
import { tokenFacts } from '../../src/kube/token-renewal.js';

/** fedlet's lower kubeconfig: the lower cluster (as the upper pods reach it) and the token. */
export function lowerKubeconfigYaml(cluster: string, c: KubeconfigCluster, user: string, token: string): string {
  return yaml.dump(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: cluster,
          cluster: {
            server: c.server,
            ...(c.caPem ? { 'certificate-authority-data': Buffer.from(c.caPem).toString('base64') } : {}),
            ...(c.tlsServerName ? { 'tls-server-name': c.tlsServerName } : {}),
            ...(c.insecureSkipTlsVerify ? { 'insecure-skip-tls-verify': true } : {}),
          },
        },
      ],
      users: [{ name: user, user: { token } }],
      contexts: [{ name: cluster, context: { cluster, user } }],
      'current-context': cluster,
    },
    { lineWidth: -1 },
  );
}

/** What a kubeconfig join wrote says: the server, the CA and the token (undefined when unreadable). */
export function readLowerKubeconfig(text: string): { server?: string; caPem?: string; token?: string } | undefined {
  try {
    const kc = yaml.load(text) as {
      clusters?: Array<{ cluster?: { server?: string; 'certificate-authority-data'?: string } }>;
      users?: Array<{ user?: { token?: string } }>;
    };
    const ca = kc.clusters?.[0]?.cluster?.['certificate-authority-data'];
    return {
      server: kc.clusters?.[0]?.cluster?.server,
      ...(ca ? { caPem: Buffer.from(ca, 'base64').toString('utf8') } : {}),
      token: kc.users?.[0]?.user?.token,
    };
  } catch {
    return undefined;
  }
}

/** Why the kubeconfig in the Secret must be replaced, or '' when it still serves. */
export function staleReason(
  existing: string | undefined,
  want: { cluster: KubeconfigCluster; namespace: string; serviceAccount: string; uid?: string; tokenSeconds: number },
  now: number,
): string {
  if (existing === undefined) return 'no kubeconfig yet';
  const kc = readLowerKubeconfig(existing);
  if (!kc) return 'the Secret holds no readable kubeconfig';
  if (kc.server !== want.cluster.server) return `the server changed (${kc.server ?? 'none'} → ${want.cluster.server})`;
  if ((kc.caPem ?? '') !== (want.cluster.caPem ?? '')) return "the lower cluster's CA changed";
  const f = kc.token ? tokenFacts(kc.token) : undefined;
  if (!f) return 'the token is not a ServiceAccount token with a lifetime';
  if (f.namespace !== want.namespace || f.serviceAccount !== want.serviceAccount)
    return `the token is for ${f.namespace}/${f.serviceAccount}, not ${want.namespace}/${want.serviceAccount}`;
  if (want.uid && f.uid && f.uid !== want.uid) return 'the ServiceAccount was recreated since the token was issued';
  const lifetime = (f.expiresAt - f.issuedAt) / 1000;
  if (Math.abs(lifetime - want.tokenSeconds) > Math.max(60, want.tokenSeconds * 0.05))
    return `the token's lifetime is ${Math.round(lifetime)}s, --token-duration asks ${want.tokenSeconds}s`;
  if (f.expiresAt - now < ((f.expiresAt - f.issuedAt) * 1) / 2)
    return `the token expires at ${new Date(f.expiresAt).toISOString()}, less than half its lifetime left`;
  return '';
}
