// Writes a renewed ServiceAccount token back into the upper Secret that fedlet's lower kubeconfig is
// mounted from. A renewed token otherwise lives only in the running replica (and its certDir, which is
// an emptyDir in the chart): a replica that starts after the token in the Secret expired — a restart, a
// reschedule, an upgrade a day later — could not reach the lower cluster. Only the user entries holding
// a token of the same ServiceAccount are changed; everything else in the kubeconfig stays as written.
import yaml from 'js-yaml';
import type { Logger } from 'pino';
import { apiPath } from './api-path.js';
import { isConflict, type KubeApi } from './client.js';
import { tokenFacts } from './token-renewal.js';
import type { KubeObject } from './types.js';

interface SecretObj extends KubeObject {
  data?: Record<string, string>;
}
interface KubeconfigDoc {
  users?: Array<{ name?: string; user?: { token?: string } }>;
}

/**
 * The kubeconfig text with every token of `token`'s ServiceAccount replaced by it, or undefined when it
 * holds none (then nothing is written: the Secret is not fedlet's to reshape).
 */
export function withRenewedToken(kubeconfig: string, token: string): string | undefined {
  const want = tokenFacts(token);
  if (!want) return undefined;
  const doc = yaml.load(kubeconfig) as KubeconfigDoc | undefined;
  let changed = false;
  for (const u of doc?.users ?? []) {
    const f = u.user?.token ? tokenFacts(u.user.token) : undefined;
    if (!f || f.namespace !== want.namespace || f.serviceAccount !== want.serviceAccount) continue;
    if (u.user!.token !== token && f.expiresAt < want.expiresAt) {
      u.user!.token = token;
      changed = true;
    }
  }
  return changed ? yaml.dump(doc, { lineWidth: -1 }) : undefined;
}

/** Replaces the token in the Secret's kubeconfig (a few tries on write conflicts); false when not written. */
export async function writeTokenBack(
  upper: Pick<KubeApi, 'get' | 'replace'>,
  ref: { namespace: string; name: string; key: string },
  token: string,
  log: Logger,
): Promise<boolean> {
  const path = apiPath`/api/v1/namespaces/${ref.namespace}/secrets/${ref.name}`;
  for (let attempt = 1; ; attempt++) {
    const secret = await upper.get<SecretObj>(path);
    const encoded = secret.data?.[ref.key];
    if (encoded === undefined) {
      log.warn(
        { secret: `${ref.namespace}/${ref.name}`, key: ref.key },
        'the lower kubeconfig Secret has no such key; renewed token not written back',
      );
      return false;
    }
    const updated = withRenewedToken(Buffer.from(encoded, 'base64').toString('utf8'), token);
    if (updated === undefined) return false;
    secret.data = { ...secret.data, [ref.key]: Buffer.from(updated).toString('base64') };
    try {
      await upper.replace(path, secret);
      log.info({ secret: `${ref.namespace}/${ref.name}` }, 'wrote the renewed lower token back into the kubeconfig Secret');
      return true;
    } catch (e) {
      if (!isConflict(e) || attempt >= 3) throw e;
    }
  }
}
