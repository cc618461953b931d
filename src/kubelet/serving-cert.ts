// The kubelet API's serving certificate: from files, from a CertificateSigningRequest with signer
// kubernetes.io/kubelet-serving (approved by a cluster admin or an approver controller, then signed by
// kube-controller-manager), or self-signed (explicit development option).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import type { KubeClient } from '../kube/client.js';
import { requestCertificate } from './csr.js';
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
  const { cert, csr } = await requestCertificate({
    client: o.upper,
    namePrefix: `fedlet-${o.nodeName}`,
    labels: { [LABEL_NODE]: o.nodeName },
    signerName: 'kubernetes.io/kubelet-serving',
    usages: ['digital signature', 'key encipherment', 'server auth'],
    csrPem: createCsr(key, subject, sans),
    what: 'kubelet serving CSR',
    onSubmitted: (name) =>
      o.log.warn(
        { csr: name },
        `waiting for the kubelet serving certificate: approve it with 'kubectl certificate approve ${name}'`,
      ),
    log: o.log,
    signal: o.signal,
  });
  if (certPath && keyPath && o.certDir) {
    mkdirSync(o.certDir, { recursive: true });
    writeFileSync(keyPath, key.privateKeyPem, { mode: 0o600 });
    writeFileSync(certPath, cert);
  }
  o.log.info({ csr }, 'kubelet serving certificate issued');
  return { cert, key: key.privateKeyPem, source: `CSR ${csr}` };
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
