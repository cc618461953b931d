// The virtual node's own upper identity, as a kubelet has one: a client certificate for
// system:node:<node> (O=system:nodes) from a kubernetes.io/kube-apiserver-client-kubelet CSR. fedlet's
// ServiceAccount submits it; kube-controller-manager's csrapproving controller approves it because that
// account may create certificatesigningrequests/nodeclient; the cluster signer issues it. Requests made
// with it are limited by the Node authorizer and NodeRestriction to what concerns pods bound to this
// node — tokens only for their service accounts, bound to them. Renewed before expiry (cert-rotation.ts)
// and kept in certDir when set, so a restart does not need a new CSR.
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type https from 'node:https';
import path from 'node:path';
import type { Logger } from 'pino';
import { KubeClient, type KubeClientOptions } from '../kube/client.js';
import { LABEL_NODE_CLIENT } from '../labels.js';
import { Backoff } from '../util/backoff.js';
import { certValidity, rotateServingCert } from '../kubelet/cert-rotation.js';
import { CertificateRequestRefused, requestCertificate } from '../kubelet/csr.js';
import type { ServingCert } from '../kubelet/serving-cert.js';
import { createClientCsr, newKeyPair } from '../kubelet/x509.js';

export const NODE_CLIENT_SIGNER = 'kubernetes.io/kube-apiserver-client-kubelet';

export interface NodeIdentityOptions {
  /** fedlet's own upper client: submits and follows the CSRs, and lends its server and CA. */
  upper: KubeClient;
  nodeName: string;
  /** Where the certificate and key are kept across restarts (none: memory only, a new CSR per start). */
  certDir?: string;
  /** File name of the kept certificate and key, without extension (default kubelet-client). */
  fileBase?: string;
  /** Options of the node client (rate limits, write fence). */
  clientOptions: KubeClientOptions;
  /** What the heartbeat client does differently (its own rate limit, a deadline per request). */
  heartbeatOptions?: Pick<KubeClientOptions, 'writeQps' | 'writeBurst' | 'requestTimeoutMs'>;
  log: Logger;
  /** How long approval may take before fedlet says it is missing (default 20 s). */
  patienceMs?: number;
  now?: () => number;
}

export class NodeIdentity {
  /** Upper client authenticated as system:node:<node>; usable once `pending()` says nothing. */
  readonly client: KubeClient;
  /**
   * The same identity with a rate limit of its own and a deadline per request: the node's Lease and
   * status, which no burst of pod writes or token requests may hold back (as the kubelet's heartbeat).
   */
  readonly heartbeat: KubeClient;
  private readonly issued: Promise<void>;
  private markIssued!: () => void;
  private current?: ServingCert;
  private expiresAt = 0;
  private waiting = 'the virtual node client certificate has not been requested yet';
  private readonly now: () => number;

  constructor(private readonly o: NodeIdentityOptions) {
    this.now = o.now ?? Date.now;
    this.issued = new Promise<void>((resolve) => (this.markIssued = resolve));
    const base = o.upper.credentials;
    const credentials = {
      server: base.server,
      apply: async (opts: https.RequestOptions) => {
        await base.apply(opts); // the server's CA and TLS name; its user is replaced below
        // A request made before the first certificate is issued waits for it a little (a CSR is approved
        // within seconds where its approver runs), then fails saying what is missing.
        if (!this.current) await Promise.race([this.issued, new Promise((r) => setTimeout(r, o.patienceMs ?? 20_000).unref())]);
        const c = this.current;
        if (!c) throw new Error(`no client certificate for system:node:${o.nodeName} yet: ${this.waiting}`);
        if (opts.headers && !Array.isArray(opts.headers)) {
          const h = { ...(opts.headers as Record<string, unknown>) };
          delete h.Authorization;
          delete h.authorization;
          opts.headers = h as https.RequestOptions['headers'];
        }
        opts.cert = c.cert;
        opts.key = c.key;
      },
    };
    const userAgent = `${o.clientOptions.userAgent ?? 'fedlet'}/node`;
    this.client = new KubeClient(credentials, { ...o.clientOptions, userAgent });
    this.heartbeat = new KubeClient(credentials, { ...o.clientOptions, ...o.heartbeatOptions, userAgent });
  }

  /** Why the node identity cannot be used now, or undefined when it can. */
  pending(): string | undefined {
    if (this.current && this.expiresAt > this.now()) return undefined;
    return this.current ? `the client certificate of system:node:${this.o.nodeName} expired; ${this.waiting}` : this.waiting;
  }

  /** Obtains the certificate (retrying until it is issued), then keeps it renewed until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const log = this.o.log;
    const backoff = new Backoff(5_000, 120_000);
    let first: ServingCert | undefined = this.kept();
    while (!first && !signal.aborted) {
      try {
        first = await this.request(signal);
      } catch (e) {
        if (signal.aborted) return;
        this.waiting = (e as Error).message;
        log.error({ err: this.waiting }, `no client certificate for system:node:${this.o.nodeName}; retrying`);
        await backoff.wait(signal).catch(() => undefined);
      }
    }
    if (!first) return;
    this.use(first);
    await rotateServingCert(
      first,
      {
        renew: (s) => this.request(s),
        apply: (c) => this.use(c),
        what: `client certificate of system:node:${this.o.nodeName}`,
        log,
      },
      signal,
    );
  }

  private use(c: ServingCert): void {
    const first = !this.current;
    this.current = c;
    this.markIssued();
    this.expiresAt = certValidity(c.cert).notAfter;
    if (first)
      this.o.log.info(
        { source: c.source, expires: new Date(this.expiresAt).toISOString() },
        `virtual node identity system:node:${this.o.nodeName} ready: service-account tokens are requested with it`,
      );
  }

  private paths(): { cert: string; key: string } | undefined {
    const d = this.o.certDir;
    const base = this.o.fileBase ?? 'kubelet-client';
    return d ? { cert: path.join(d, `${base}.crt`), key: path.join(d, `${base}.key`) } : undefined;
  }

  /** A kept certificate that is still valid (renewal, if due, happens at once). */
  private kept(): ServingCert | undefined {
    const p = this.paths();
    if (!p || !existsSync(p.cert) || !existsSync(p.key)) return undefined;
    try {
      const cert = readFileSync(p.cert, 'utf8');
      if (certValidity(cert).notAfter - this.now() < 30_000) return undefined;
      // Another node's certificate (a cert dir reused by another fedlet) is not this node's identity.
      if (!new X509Certificate(cert).subject.split('\n').includes(`CN=system:node:${this.o.nodeName}`)) return undefined;
      return { cert, key: readFileSync(p.key, 'utf8'), source: `kept ${p.cert}` };
    } catch {
      return undefined;
    }
  }

  private async request(signal: AbortSignal): Promise<ServingCert> {
    const { nodeName, log } = this.o;
    const key = newKeyPair();
    let patience: NodeJS.Timeout | undefined;
    try {
      const { cert, csr } = await requestCertificate({
        client: this.o.upper,
        namePrefix: `fedlet-${nodeName}-client`,
        labels: { [LABEL_NODE_CLIENT]: nodeName },
        signerName: NODE_CLIENT_SIGNER,
        usages: ['digital signature', 'client auth'],
        csrPem: createClientCsr(key, { commonName: `system:node:${nodeName}`, organizations: ['system:nodes'] }),
        what: 'virtual node client CSR',
        onSubmitted: (name) => {
          if (!this.current) this.waiting = `CSR ${name} (signer ${NODE_CLIENT_SIGNER}) is not approved yet`;
          log.info({ csr: name }, `requested a client certificate for system:node:${nodeName}`);
          patience = setTimeout(() => {
            const why =
              `CSR ${name} for system:node:${nodeName} is not approved after ${Math.round((this.o.patienceMs ?? 20_000) / 1000)} s: ` +
              `kube-controller-manager's csrapproving controller approves it only if fedlet's account may create ` +
              `certificatesigningrequests/nodeclient (see docs/tokens.md); else approve it with 'kubectl certificate approve ${name}'`;
            if (!this.current) this.waiting = why;
            log.warn({ csr: name }, why);
          }, this.o.patienceMs ?? 20_000);
          patience.unref();
        },
        log,
        signal,
      });
      const p = this.paths();
      if (p && this.o.certDir) {
        mkdirSync(this.o.certDir, { recursive: true });
        writeFileSync(p.key, key.privateKeyPem, { mode: 0o600 });
        writeFileSync(p.cert, cert, { mode: 0o600 });
      }
      return { cert, key: key.privateKeyPem, source: `CSR ${csr}` };
    } catch (e) {
      if (e instanceof CertificateRequestRefused) log.error({ err: e.message }, 'virtual node client CSR refused');
      throw e;
    } finally {
      clearTimeout(patience);
    }
  }
}
