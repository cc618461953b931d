// A throw-away PKI for one local cluster, made with the openssl CLI: a CA, the API server's serving
// certificate, client certificates for each component and for the admin, and a service-account key.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface ClientCert {
  cert: string;
  key: string;
}
export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  saKey: string;
  saPub: string;
  client(name: string): ClientCert;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`openssl ${args[0]} failed: ${err.stderr?.toString() || err.message}`);
  }
}

function keyArgs(out: string): string[] {
  return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', out];
}

/** Signs a new key pair with the CA. `subject` like /CN=admin/O=system:masters. */
export function signCert(dir: string, ca: { cert: string; key: string }, name: string, subject: string, ext: string): ClientCert {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  if (existsSync(cert) && existsSync(key)) return { cert, key };
  const csr = path.join(dir, `${name}.csr`);
  const extFile = path.join(dir, `${name}.ext`);
  writeFileSync(extFile, ext);
  openssl(['req', '-new', ...keyArgs(key), '-subj', subject, '-out', csr], dir);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-CAcreateserial',
      '-days',
      '3650',
      '-sha256',
      '-extfile',
      extFile,
      '-out',
      cert,
    ],
    dir,
  );
  return { cert, key };
}

export function clientExt(): string {
  return 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n';
}
export function serverExt(sans: string[]): string {
  return `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${sans.join(',')}\n`;
}

/** The self-signed CA `<base>.crt`/`<base>.key` in `dir`; created when absent, else the existing one. */
function selfSignedCa(dir: string, base: string, cn: string): { cert: string; key: string } {
  const cert = path.join(dir, `${base}.crt`);
  const key = path.join(dir, `${base}.key`);
  if (!existsSync(cert)) {
    openssl(
      [
        'req',
        '-x509',
        ...keyArgs(key),
        '-subj',
        `/CN=${cn}`,
        '-days',
        '3650',
        '-sha256',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
        '-out',
        cert,
      ],
      dir,
    );
  }
  return { cert, key };
}

/** `extraSANs`: more subjectAltName entries for the API server certificate (e.g. 'IP:198.19.1.1'). */
export function createPki(dir: string, extraSANs: string[] = []): Pki {
  mkdirSync(dir, { recursive: true });
  const ca = selfSignedCa(dir, 'ca', 'fedlet-test-ca');
  const caCert = ca.cert;
  const caKey = ca.key;
  const server = signCert(
    dir,
    ca,
    'apiserver',
    '/CN=kube-apiserver',
    serverExt([
      'IP:127.0.0.1',
      'IP:10.96.0.1',
      'DNS:localhost',
      'DNS:kubernetes',
      'DNS:kubernetes.default',
      'DNS:kubernetes.default.svc',
      'DNS:kubernetes.default.svc.cluster.local',
      ...extraSANs,
    ]),
  );
  const saKey = path.join(dir, 'sa.key');
  const saPub = path.join(dir, 'sa.pub');
  if (!existsSync(saPub)) {
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', saKey], dir);
    openssl(['pkey', '-in', saKey, '-pubout', '-out', saPub], dir);
  }
  return {
    dir,
    caCert,
    caKey,
    serverCert: server.cert,
    serverKey: server.key,
    saKey,
    saPub,
    client: (name: string) => {
      const subjects: Record<string, string> = {
        admin: '/O=system:masters/CN=admin',
        'kube-controller-manager': '/CN=system:kube-controller-manager',
        'kube-scheduler': '/CN=system:kube-scheduler',
        kwok: '/O=system:masters/CN=kwok',
        'apiserver-kubelet-client': '/O=system:masters/CN=kube-apiserver-kubelet-client',
        'metrics-server': '/CN=system:metrics-server',
      };
      return signCert(dir, ca, name, subjects[name] ?? `/CN=${name}`, clientExt());
    },
  };
}

/**
 * The aggregation layer's PKI: a separate front-proxy CA (kube-apiserver --requestheader-client-ca-file)
 * and the client certificate the API server presents to extension API servers (--proxy-client-cert-file).
 */
export function frontProxyPki(dir: string): { caCert: string; client: ClientCert } {
  const ca = selfSignedCa(dir, 'front-proxy-ca', 'fedlet-test-front-proxy-ca');
  return { caCert: ca.cert, client: signCert(dir, ca, 'front-proxy-client', '/CN=front-proxy-client', clientExt()) };
}

/**
 * The scheduler extender's PKI: a CA of its own, the extender's serving certificate, and the client
 * certificate kube-scheduler presents (extenders[].tlsConfig). The extender accepts only clients this
 * CA signed, so no other certificate of the cluster opens it.
 */
export function extenderPki(dir: string): { caCert: string; serving: ClientCert; scheduler: ClientCert } {
  mkdirSync(dir, { recursive: true });
  const ca = selfSignedCa(dir, 'extender-ca', 'fedlet-extender-ca');
  return {
    caCert: ca.cert,
    serving: signCert(dir, ca, 'extender-serving', '/CN=fedlet-extender', serverExt(['IP:127.0.0.1', 'DNS:localhost'])),
    scheduler: signCert(dir, ca, 'extender-client-kube-scheduler', '/CN=system:kube-scheduler', clientExt()),
  };
}

export function kubeconfigYaml(opts: { name: string; server: string; caCert: string; cert: string; key: string }): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${opts.name}`,
    '  cluster:',
    `    server: ${opts.server}`,
    `    certificate-authority: ${opts.caCert}`,
    'users:',
    `- name: ${opts.name}`,
    '  user:',
    `    client-certificate: ${opts.cert}`,
    `    client-key: ${opts.key}`,
    'contexts:',
    `- name: ${opts.name}`,
    '  context:',
    `    cluster: ${opts.name}`,
    `    user: ${opts.name}`,
    `current-context: ${opts.name}`,
    '',
  ].join('\n');
}
