// Loads credentials for one API server from a kubeconfig file or the in-cluster service account.
// A small loader of our own: @kubernetes/client-node's KubeConfig pulls its whole generated API into
// memory (~75 MiB RSS). Exec plugins and auth providers are delegated to client-node, loaded lazily
// only for kubeconfigs that use them.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type https from 'node:https';
import yaml from 'js-yaml';

export interface ClusterCredentials {
  /** API server base URL. */
  server: string;
  /** Adds TLS material and Authorization to request options (re-reads rotating token files). */
  apply(opts: https.RequestOptions): Promise<void>;
}

interface KubeconfigFile {
  'current-context'?: string;
  contexts?: Array<{ name: string; context?: { cluster?: string; user?: string } }>;
  clusters?: Array<{
    name: string;
    cluster?: {
      server?: string;
      'certificate-authority'?: string;
      'certificate-authority-data'?: string;
      'insecure-skip-tls-verify'?: boolean;
      'tls-server-name'?: string;
    };
  }>;
  users?: Array<{
    name: string;
    user?: {
      token?: string;
      tokenFile?: string;
      'client-certificate'?: string;
      'client-certificate-data'?: string;
      'client-key'?: string;
      'client-key-data'?: string;
      username?: string;
      password?: string;
      exec?: unknown;
      'auth-provider'?: unknown;
    };
  }>;
}

export class KubeconfigError extends Error {}

const IN_CLUSTER_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

function tokenFileReader(file: string): () => string {
  let cached = '';
  let readAt = 0;
  return () => {
    if (Date.now() - readAt > 60_000) {
      cached = readFileSync(file, 'utf8').trim();
      readAt = Date.now();
    }
    return cached;
  };
}

function fileOrData(base: string, file: string | undefined, data: string | undefined): Buffer | undefined {
  if (data) return Buffer.from(data, 'base64');
  if (file) return readFileSync(path.isAbsolute(file) ? file : path.join(base, file));
  return undefined;
}

function inClusterCredentials(): ClusterCredentials {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host || !existsSync(path.join(IN_CLUSTER_DIR, 'token')))
    throw new KubeconfigError(
      'no kubeconfig given and not running in a cluster (KUBERNETES_SERVICE_HOST or the service-account token is missing)',
    );
  const ca = readFileSync(path.join(IN_CLUSTER_DIR, 'ca.crt'));
  const token = tokenFileReader(path.join(IN_CLUSTER_DIR, 'token'));
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    async apply(opts) {
      opts.ca = ca;
      opts.headers = { ...opts.headers, Authorization: `Bearer ${token()}` };
    },
  };
}

/** The cluster entry of a kubeconfig's current context, as `fedlet join` copies it into fedlet's own kubeconfig. */
export interface KubeconfigCluster {
  server: string;
  /** The CA bundle (PEM), from certificate-authority-data or the file certificate-authority names. */
  caPem?: string;
  tlsServerName?: string;
  insecureSkipTlsVerify?: boolean;
}

/** The current context's cluster (with a server) and user of a kubeconfig file; a KubeconfigError naming what is missing. */
function currentContext(file: string) {
  let kc: KubeconfigFile;
  try {
    kc = (yaml.load(readFileSync(file, 'utf8')) ?? {}) as KubeconfigFile;
  } catch (e) {
    throw new KubeconfigError(`kubeconfig ${file}: ${(e as Error).message}`);
  }
  const ctxName = kc['current-context'];
  const ctx =
    kc.contexts?.find((c) => c.name === ctxName)?.context ?? (kc.contexts?.length === 1 ? kc.contexts[0]!.context : undefined);
  if (!ctx) throw new KubeconfigError(`kubeconfig ${file}: no current context (set current-context)`);
  const cluster = kc.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster?.server) throw new KubeconfigError(`kubeconfig ${file}: cluster "${ctx.cluster ?? ''}" has no server`);
  const user = kc.users?.find((u) => u.name === ctx.user)?.user ?? {};
  return { cluster: { ...cluster, server: cluster.server }, user };
}

export function kubeconfigCluster(file: string): KubeconfigCluster {
  const { cluster } = currentContext(file);
  const ca = fileOrData(
    path.dirname(path.resolve(file)),
    cluster['certificate-authority'],
    cluster['certificate-authority-data'],
  );
  return {
    server: cluster.server,
    ...(ca ? { caPem: ca.toString('utf8') } : {}),
    ...(cluster['tls-server-name'] ? { tlsServerName: cluster['tls-server-name'] } : {}),
    ...(cluster['insecure-skip-tls-verify'] ? { insecureSkipTlsVerify: true } : {}),
  };
}

export function loadCredentials(file: string | undefined): ClusterCredentials {
  if (!file) {
    const env = process.env.KUBECONFIG?.split(path.delimiter).find((f) => f && existsSync(f));
    const home = path.join(homedir(), '.kube', 'config');
    if (env) file = env;
    else if (process.env.KUBERNETES_SERVICE_HOST) return inClusterCredentials();
    else if (existsSync(home)) file = home;
    else return inClusterCredentials();
  }
  const base = path.dirname(path.resolve(file));
  const { cluster, user } = currentContext(file);
  if (user.exec || user['auth-provider']) return delegated(file, cluster.server);
  const ca = fileOrData(base, cluster['certificate-authority'], cluster['certificate-authority-data']);
  const cert = fileOrData(base, user['client-certificate'], user['client-certificate-data']);
  const key = fileOrData(base, user['client-key'], user['client-key-data']);
  const token = user.token
    ? () => user.token!
    : user.tokenFile
      ? tokenFileReader(path.isAbsolute(user.tokenFile) ? user.tokenFile : path.join(base, user.tokenFile))
      : undefined;
  const basic = user.username && user.password ? Buffer.from(`${user.username}:${user.password}`).toString('base64') : undefined;
  return {
    server: cluster.server,
    async apply(opts) {
      if (ca) opts.ca = ca;
      if (cert) opts.cert = cert;
      if (key) opts.key = key;
      if (cluster['insecure-skip-tls-verify']) opts.rejectUnauthorized = false;
      if (cluster['tls-server-name']) opts.servername = cluster['tls-server-name'];
      if (token) opts.headers = { ...opts.headers, Authorization: `Bearer ${token()}` };
      else if (basic) opts.headers = { ...opts.headers, Authorization: `Basic ${basic}` };
    },
  };
}

/** Exec plugins and auth providers: handled by @kubernetes/client-node, imported only when needed. */
function delegated(file: string, server: string): ClusterCredentials {
  let kc: Promise<{ applyToHTTPSOptions(o: https.RequestOptions): Promise<void> }> | undefined;
  return {
    server,
    async apply(opts) {
      kc ??= import('@kubernetes/client-node').then((m) => {
        const k = new m.KubeConfig();
        k.loadFromFile(file);
        return k;
      });
      await (await kc).applyToHTTPSOptions(opts);
    },
  };
}
