// A ServiceAccount token that renews itself, so that fedlet's kubeconfig for a cluster can carry a token
// with a lifetime (`kubectl create token fedlet --duration=24h`, what the chart's notes and the sandbox
// use) instead of one that never expires. Before 80% of the current token's lifetime, fedlet asks for a
// new token of the same lifetime for its own ServiceAccount (TokenRequest; its RBAC names only that
// account) and uses it from then on; a copy leaked from an old kubeconfig or log stops working when its
// lifetime ends. The newest token is kept in a file (certDir) so that a restart within its lifetime needs
// no new kubeconfig. Tokens without an expiry, or not of a ServiceAccount, are left as they are.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import type https from 'node:https';
import type { Logger } from 'pino';
import type { ClusterCredentials } from './kubeconfig.js';
import type { KubeApi } from './client.js';
import { Backoff } from '../util/backoff.js';

interface Claims {
  exp?: number;
  iat?: number;
  sub?: string;
  'kubernetes.io'?: { serviceaccount?: { uid?: string } };
}

/** What a ServiceAccount token says about itself (unverified: the API server verifies it). */
export interface TokenFacts {
  namespace: string;
  serviceAccount: string;
  issuedAt: number;
  expiresAt: number;
  /** The uid of the ServiceAccount it was issued for (bound tokens): a token outlives no recreated account. */
  uid?: string;
}

/** Reads the claims of a ServiceAccount JWT; undefined for other tokens and tokens without an expiry. */
export function tokenFacts(token: string): TokenFacts | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  let c: Claims;
  try {
    c = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Claims;
  } catch {
    return undefined;
  }
  const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(c.sub ?? '');
  if (!m || typeof c.exp !== 'number' || typeof c.iat !== 'number' || c.exp <= c.iat) return undefined;
  const uid = c['kubernetes.io']?.serviceaccount?.uid;
  return { namespace: m[1]!, serviceAccount: m[2]!, issuedAt: c.iat * 1000, expiresAt: c.exp * 1000, ...(uid ? { uid } : {}) };
}

/** When to ask for the next token: at 80% of the current one's lifetime. */
export function renewAt(f: TokenFacts): number {
  return f.issuedAt + 0.8 * (f.expiresAt - f.issuedAt);
}

export interface RenewingTokenOptions {
  /** Where the newest token is kept across restarts (0600); none: memory only. */
  file?: string;
  /** What the credentials are for, in log lines (e.g. "lower cluster eu-1"). */
  what: string;
  log: Logger;
  now?: () => number;
  /** Called with each renewed token (e.g. to write it back where the kubeconfig came from); failures are logged. */
  onRenewed?: (token: string) => Promise<unknown>;
}

/** Credentials whose bearer token is replaced by renewals; everything else comes from the base. */
export class RenewingToken implements ClusterCredentials {
  readonly server: string;
  private token?: string;
  private facts?: TokenFacts;
  private readonly now: () => number;

  constructor(
    private readonly base: ClusterCredentials,
    private readonly o: RenewingTokenOptions,
  ) {
    this.server = base.server;
    this.now = o.now ?? Date.now;
  }

  /** Reads the starting token (the kubeconfig's, or a newer kept one); false when it cannot be renewed. */
  async init(): Promise<boolean> {
    const probe: https.RequestOptions = { headers: {} };
    await this.base.apply(probe);
    const auth = String((probe.headers as Record<string, unknown>).Authorization ?? '');
    const configured = /^Bearer\s+(.+)$/i.exec(auth)?.[1];
    const configuredFacts = configured ? tokenFacts(configured) : undefined;
    if (!configured || !configuredFacts) return false;
    this.token = configured;
    this.facts = configuredFacts;
    const kept = this.o.file && existsSync(this.o.file) ? readFileSync(this.o.file, 'utf8').trim() : undefined;
    const keptFacts = kept ? tokenFacts(kept) : undefined;
    if (
      kept &&
      keptFacts &&
      keptFacts.namespace === configuredFacts.namespace &&
      keptFacts.serviceAccount === configuredFacts.serviceAccount &&
      keptFacts.expiresAt > Math.max(configuredFacts.expiresAt, this.now())
    ) {
      this.token = kept;
      this.facts = keptFacts;
    }
    return true;
  }

  /** When the token in use expires (ms), if it does. */
  get expiresAt(): number | undefined {
    return this.facts?.expiresAt;
  }

  async apply(opts: https.RequestOptions): Promise<void> {
    await this.base.apply(opts);
    if (this.token) opts.headers = { ...opts.headers, Authorization: `Bearer ${this.token}` };
  }

  /** Renews the token before 80% of each lifetime until `signal` aborts; `client` must use these credentials. */
  async run(client: Pick<KubeApi, 'create'>, signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(2_000, 60_000);
    while (!signal.aborted && this.facts) {
      const wait = renewAt(this.facts) - this.now();
      if (wait > 0 && !(await sleep(wait, signal))) return;
      try {
        await this.renew(client, signal);
        backoff.reset();
      } catch (e) {
        if (signal.aborted) return;
        const left = Math.round((this.facts.expiresAt - this.now()) / 1000);
        this.o.log.error(
          { err: (e as Error).message, secondsLeft: left },
          `renewing the ServiceAccount token for the ${this.o.what} failed; retrying before it expires`,
        );
        await backoff.wait(signal).catch(() => undefined);
      }
    }
  }

  private async renew(client: Pick<KubeApi, 'create'>, signal: AbortSignal): Promise<void> {
    const f = this.facts!;
    const lifetime = Math.max(600, Math.round((f.expiresAt - f.issuedAt) / 1000));
    const r = await client.create<{ status?: { token?: string } }>(
      `/api/v1/namespaces/${encodeURIComponent(f.namespace)}/serviceaccounts/${encodeURIComponent(f.serviceAccount)}/token`,
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: lifetime } },
      { signal },
    );
    const token = r.status?.token;
    const facts = token ? tokenFacts(token) : undefined;
    if (!token || !facts) throw new Error('the TokenRequest answer holds no ServiceAccount token with an expiry');
    this.token = token;
    this.facts = facts;
    if (this.o.file) writeFileSync(this.o.file, `${token}\n`, { mode: 0o600 });
    // Kept where the kubeconfig came from too, so a replica starting after this token's predecessor
    // expired still connects; a failure here costs nothing now (this process holds the token).
    await this.o
      .onRenewed?.(token)
      .catch((e: Error) =>
        this.o.log.warn(
          { err: e.message },
          `the renewed token for the ${this.o.what} was not written back; a replica starting later may hold an expired one`,
        ),
      );
    this.o.log.info(
      { serviceAccount: `${f.namespace}/${f.serviceAccount}`, expires: new Date(facts.expiresAt).toISOString() },
      `renewed the ServiceAccount token for the ${this.o.what}`,
    );
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const t = setTimeout(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      },
      Math.min(ms, 2 ** 31 - 1),
    );
    const onAbort = () => {
      clearTimeout(t);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
