// Keeps the kubelet API's TLS material current without a restart, as the kubelet does: a CSR-issued
// serving certificate is renewed at a jittered 70–90% of its lifetime (so a fleet of nodes does not renew
// at once), and the upper cluster's client CA is followed as kube-apiserver republishes it. The server
// swaps its secure context; connections and streams already established keep their session.
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import type { KubeApi } from '../kube/client.js';
import { Informer } from '../kube/informer.js';
import type { KubeObject } from '../kube/types.js';
import { Backoff, sleep } from '../util/backoff.js';
import type { ServingCert } from './serving-cert.js';

/** Milliseconds from `now` until a certificate valid [notBefore, notAfter] should be renewed. */
export function renewalDelayMs(notBefore: number, notAfter: number, now: number, random: () => number): number {
  const lifetime = Math.max(0, notAfter - notBefore);
  const at = notBefore + lifetime * (0.7 + 0.2 * random());
  return Math.max(0, Math.round(at - now));
}

/** The longest setTimeout delay (2^31 - 1 ms); longer ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function certValidity(certPem: string): { notBefore: number; notAfter: number } {
  const c = new X509Certificate(certPem);
  return { notBefore: new Date(c.validFrom).getTime(), notAfter: new Date(c.validTo).getTime() };
}

export interface ServingCertRotatorOptions {
  /** Obtains a fresh certificate (a new key and CSR); may wait for approval. */
  renew: (signal: AbortSignal) => Promise<ServingCert>;
  /** Starts serving the new certificate. */
  apply: (cert: ServingCert) => void;
  log: Logger;
  /** What is renewed, for logs (default "kubelet serving certificate"). */
  what?: string;
  now?: () => number;
  random?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** Renews `current` (a serving or client certificate) before it expires, forever (until signal aborts). */
export async function rotateServingCert(current: ServingCert, o: ServingCertRotatorOptions, signal: AbortSignal): Promise<void> {
  const now = o.now ?? Date.now;
  const random = o.random ?? Math.random;
  const wait = o.sleep ?? sleep;
  const backoff = new Backoff(5_000, 120_000);
  const what = o.what ?? 'kubelet serving certificate';
  let cert = current;
  while (!signal.aborted) {
    const { notBefore, notAfter } = certValidity(cert.cert);
    const delay = renewalDelayMs(notBefore, notAfter, now(), random);
    o.log.info(
      { renewAt: new Date(now() + delay).toISOString(), expires: new Date(notAfter).toISOString() },
      `${what} renewal scheduled`,
    );
    // Timers hold at most ~24.8 days: a longer wait (a one-year certificate) is taken in steps.
    const renewAt = now() + delay;
    for (let left = delay; ; left = renewAt - now()) {
      await wait(Math.min(left, MAX_TIMER_MS), signal);
      if (signal.aborted) return;
      if (renewAt - now() <= 0) break;
    }
    try {
      const next = await o.renew(signal);
      if (signal.aborted) return;
      o.apply(next);
      cert = next;
      backoff.reset();
      o.log.info({ source: next.source }, `${what} renewed`);
    } catch (e) {
      if (signal.aborted) return;
      const left = notAfter - now();
      o.log.error(
        { err: (e as Error).message, expiresInSeconds: Math.round(left / 1000) },
        `renewing the ${what} failed; retrying`,
      );
      await wait(backoff.next(), signal);
    }
  }
}

const AUTH_CM = '/api/v1/namespaces/kube-system/configmaps';
const AUTH_CM_NAME = 'extension-apiserver-authentication';

/**
 * Follows kube-system/extension-apiserver-authentication and calls `onChange` with the new client CA
 * bundle whenever kube-apiserver republishes it (CA rotation). An informer of that one ConfigMap (listed
 * and watched by name, as extension API servers do): a watch resumes from the list's resourceVersion, not
 * the object's. The object's own version is as old as its last change, which other ConfigMaps' writes push
 * out of the API server's watch window; a watch from it expired at once, and following it by hand (read,
 * watch, expired, read again) spun at ~110 requests a second with 100 pool nodes' summary ConfigMaps
 * being written. The informer relists on expiry and backs off when the next watch expires too.
 * Resolves when `signal` aborts.
 */
export async function followClientCA(
  upper: KubeApi,
  initial: string,
  onChange: (ca: string) => void,
  log: Logger,
  signal: AbortSignal,
): Promise<void> {
  interface Cm extends KubeObject {
    data?: Record<string, string>;
  }
  let known = initial;
  const seen = (cm: Cm) => {
    const ca = cm.data?.['client-ca-file'];
    if (ca && ca !== known) {
      known = ca;
      log.info('upper client CA changed; kubelet API now trusts the new bundle');
      onChange(ca);
    }
  };
  const informer = new Informer<Cm>({ client: upper, path: AUTH_CM, fieldSelector: `metadata.name=${AUTH_CM_NAME}`, log });
  informer.addHandlers({ onAdd: seen, onUpdate: seen });
  informer.start();
  if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  await informer.stop();
}
