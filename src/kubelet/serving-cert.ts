// The kubelet API's serving certificate: from files, from a CertificateSigningRequest with signer
// kubernetes.io/kubelet-serving (approved by a cluster admin or an approver controller, then signed by
// kube-controller-manager), or self-signed (explicit development option).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { X509Certificate, randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import type { KubeClient } from '../kube/client.js';
import { sleep } from '../util/backoff.js';
import { createCsr, createSelfSigned, keyPairFromPem, newKeyPair } from './x509.js';
import { LABEL_NODE } from '../labels.js';

export type ServingCertMode = 'files' | 'csr' | 'self-signed';

export interface ServingCert {
  cert: string;
  key: string;
  source: string;
}

export interface ServingCertOptions {
  mode: ServingCertMode;
  certFile?: string;
  keyFile?: string;
  /** Where CSR-issued material is kept across restarts (none: memory only, a new CSR per start). */
  certDir?: string;
  nodeName: string;
  nodeIP: string;
  upper: KubeClient;
  log: Logger;
  signal: AbortSignal;
  /** Renewal: ignore the kept certificate and key, and request a new certificate for a new key. */
  renew?: boolean;
}

interface Csr {
  metadata: { name: string; resourceVersion?: string };
  status?: { certificate?: string; conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> };
}

function stillValid(certPem: string, minHours = 1): boolean {
  try {
    return new Date(new X509Certificate(certPem).validTo).getTime() - Date.now() > minHours * 3600_000;
  } catch {
    return false;
  }
}

export async function obtainServingCert(o: ServingCertOptions): Promise<ServingCert> {
  const subject = { commonName: `system:node:${o.nodeName}`, organizations: ['system:nodes'] };
  const sans = { dns: [o.nodeName], ips: [o.nodeIP] };
  if (o.mode === 'files') {
    if (!o.certFile || !o.keyFile) throw new Error('serving certificate mode "files" needs tlsCertFile and tlsPrivateKeyFile');
    return { cert: readFileSync(o.certFile, 'utf8'), key: readFileSync(o.keyFile, 'utf8'), source: `files ${o.certFile}` };
  }
  if (o.mode === 'self-signed') {
    o.log.warn('serving the kubelet API with a self-signed certificate (development only)');
    const key = newKeyPair();
    return { cert: createSelfSigned(key, subject, sans), key: key.privateKeyPem, source: 'self-signed' };
  }
  const certPath = o.certDir ? path.join(o.certDir, 'kubelet-serving.crt') : undefined;
  const keyPath = o.certDir ? path.join(o.certDir, 'kubelet-serving.key') : undefined;
  if (!o.renew && certPath && keyPath && existsSync(certPath) && existsSync(keyPath)) {
    const cert = readFileSync(certPath, 'utf8');
    if (stillValid(cert)) return { cert, key: readFileSync(keyPath, 'utf8'), source: `CSR-issued ${certPath}` };
  }
  const key = !o.renew && keyPath && existsSync(keyPath) ? keyPairFromPem(readFileSync(keyPath, 'utf8')) : newKeyPair();
  const name = `fedlet-${o.nodeName}-${randomBytes(4).toString('hex')}`.slice(0, 253);
  await o.upper.create('/apis/certificates.k8s.io/v1/certificatesigningrequests', {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { name, labels: { [LABEL_NODE]: o.nodeName } },
    spec: {
      request: Buffer.from(createCsr(key, subject, sans)).toString('base64'),
      signerName: 'kubernetes.io/kubelet-serving',
      usages: ['digital signature', 'key encipherment', 'server auth'],
    },
  });
  o.log.warn({ csr: name }, `waiting for the kubelet serving certificate: approve it with 'kubectl certificate approve ${name}'`);
  // Watch the CSR (one object, by name): approval and signing arrive as events. Each watch is bounded;
  // between watches the object is read again, so nothing is missed across reconnects.
  const issued = (csr: Csr | undefined): string | undefined => {
    const bad = csr?.status?.conditions?.find((c) => (c.type === 'Denied' || c.type === 'Failed') && c.status === 'True');
    if (bad)
      throw new Error(
        `kubelet serving CSR ${name} was ${bad.type.toLowerCase()}: ${bad.reason ?? ''} ${bad.message ?? ''}`.trim(),
      );
    return csr?.status?.certificate;
  };
  const csrs = `/apis/certificates.k8s.io/v1/certificatesigningrequests`;
  for (let i = 0; !o.signal.aborted; i++) {
    const csr = await o.upper.get<Csr>(`${csrs}/${name}`).catch(() => undefined);
    let certificate = issued(csr);
    if (!certificate && csr?.metadata?.resourceVersion) {
      try {
        for await (const ev of o.upper.watch<Csr>(
          csrs,
          { fieldSelector: `metadata.name=${name}`, resourceVersion: csr.metadata.resourceVersion, timeoutSeconds: 60 },
          o.signal,
        )) {
          if (ev.type === 'ERROR') break;
          certificate = issued(ev.object);
          if (certificate) break;
        }
      } catch (e) {
        if (o.signal.aborted) break;
        if ((e as Error).message.startsWith('kubelet serving CSR')) throw e;
        await sleep(2000, o.signal); // a broken watch: back off briefly, then read and watch again
      }
    }
    if (certificate) {
      const cert = Buffer.from(certificate, 'base64').toString('utf8');
      if (certPath && keyPath && o.certDir) {
        mkdirSync(o.certDir, { recursive: true });
        writeFileSync(keyPath, key.privateKeyPem, { mode: 0o600 });
        writeFileSync(certPath, cert);
      }
      o.log.info({ csr: name }, 'kubelet serving certificate issued');
      return { cert, key: key.privateKeyPem, source: `CSR ${name}` };
    }
    if (i > 0) o.log.warn({ csr: name }, `still waiting for approval of CSR ${name}`);
  }
  throw new Error('stopped while waiting for the kubelet serving certificate');
}

/** The upper cluster's client CA, as published for delegated authentication. */
export async function upperClientCA(upper: KubeClient, file?: string): Promise<string> {
  if (file) return readFileSync(file, 'utf8');
  const cm = await upper.get<{ data?: Record<string, string> }>(
    '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication',
  );
  const ca = cm.data?.['client-ca-file'];
  if (!ca)
    throw new Error(
      'the upper cluster publishes no client CA (kube-system/extension-apiserver-authentication has no client-ca-file); set clientCAFile',
    );
  return ca;
}
