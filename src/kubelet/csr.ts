// One certificate through the certificates.k8s.io API: submit a CertificateSigningRequest, then follow
// it (one object, by name) until it is signed, denied or failed. Used for the kubelet serving
// certificate and the virtual node's client certificate.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { KubeClient } from '../kube/client.js';
import { sleep } from '../util/backoff.js';

export interface CertificateRequest {
  /** Creates and follows the CSR (needs create, get, watch on certificatesigningrequests). */
  client: KubeClient;
  /** Name prefix; a random suffix makes every request distinct. */
  namePrefix: string;
  labels: Record<string, string>;
  signerName: string;
  usages: string[];
  /** PKCS#10 request, PEM. */
  csrPem: string;
  /** What is being requested, for messages ("kubelet serving CSR"). */
  what: string;
  /** Called once the CSR exists (e.g. to tell how to approve it). */
  onSubmitted?: (name: string) => void;
  log: Logger;
  signal: AbortSignal;
}

/** A CSR was denied or failed: waiting longer will not help. */
export class CertificateRequestRefused extends Error {}

interface Csr {
  metadata: { name: string; resourceVersion?: string };
  status?: { certificate?: string; conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> };
}

const CSRS = '/apis/certificates.k8s.io/v1/certificatesigningrequests';

/** Submits the CSR and resolves with the issued certificate (PEM) and the CSR's name. */
export async function requestCertificate(o: CertificateRequest): Promise<{ cert: string; csr: string }> {
  const name = `${o.namePrefix}-${randomBytes(4).toString('hex')}`.slice(0, 253);
  await o.client.create(CSRS, {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { name, labels: o.labels },
    spec: { request: Buffer.from(o.csrPem).toString('base64'), signerName: o.signerName, usages: o.usages },
  });
  o.onSubmitted?.(name);
  const issued = (csr: Csr | undefined): string | undefined => {
    const bad = csr?.status?.conditions?.find((c) => (c.type === 'Denied' || c.type === 'Failed') && c.status === 'True');
    if (bad)
      throw new CertificateRequestRefused(
        `${o.what} ${name} was ${bad.type.toLowerCase()}: ${bad.reason ?? ''} ${bad.message ?? ''}`.trim(),
      );
    return csr?.status?.certificate;
  };
  // Approval and signing arrive as watch events. Each watch is bounded; between watches the object is
  // read again, so nothing is missed across reconnects. A read or watch that fails or ends at once (the
  // API server away, a resourceVersion too old to watch from) waits before the next try, so the loop
  // never spins, and the operator is reminded at most every 30 s.
  let warned = 0;
  for (let i = 0; !o.signal.aborted; i++) {
    const began = Date.now();
    const csr = await o.client.get<Csr>(`${CSRS}/${name}`).catch(() => undefined);
    let certificate = issued(csr);
    if (!certificate && csr?.metadata?.resourceVersion) {
      try {
        for await (const ev of o.client.watch<Csr>(
          CSRS,
          { fieldSelector: `metadata.name=${name}`, resourceVersion: csr.metadata.resourceVersion, timeoutSeconds: 60 },
          o.signal,
        )) {
          if (ev.type === 'ERROR') break;
          certificate = issued(ev.object);
          if (certificate) break;
        }
      } catch (e) {
        if (o.signal.aborted) break;
        if (e instanceof CertificateRequestRefused) throw e;
      }
    }
    if (certificate) return { cert: Buffer.from(certificate, 'base64').toString('utf8'), csr: name };
    if (i > 0 && Date.now() - warned >= 30_000) {
      warned = Date.now();
      o.log.warn({ csr: name }, `still waiting for approval of ${o.what} ${name}`);
    }
    if (Date.now() - began < 2000) await sleep(2000, o.signal).catch(() => undefined);
  }
  throw new Error(`stopped while waiting for ${o.what} ${name}`);
}
