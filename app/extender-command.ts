// `fedlet extender`: the scheduler extender kube-scheduler calls (HTTPS with client certificates only)
// and, with --webhook-port, the virtual-node toleration webhook and its repair loop.
import { ConfigError } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { eachFlag } from './args.js';

export async function cmdExtender(argv: string[]): Promise<number> {
  const o = {
    upperKubeconfig: process.env.FEDLET_UPPER_KUBECONFIG,
    port: 8888,
    bind: '0.0.0.0',
    namespace: 'fedlet-system',
    logLevel: 'info',
    webhookPort: 0,
    webhookCert: '',
    webhookKey: '',
    tlsCert: '',
    tlsKey: '',
    clientCA: '',
    allowedClientNames: [] as string[],
    healthPort: 8889,
    healthBind: '127.0.0.1',
  };
  eachFlag(argv, (name, value, a) => {
    if (name === '--upper-kubeconfig') o.upperKubeconfig = value();
    else if (name === '--port') o.port = Number(value());
    else if (name === '--bind-address') o.bind = value();
    else if (name === '--tls-cert-file') o.tlsCert = value();
    else if (name === '--tls-private-key-file') o.tlsKey = value();
    else if (name === '--client-ca-file') o.clientCA = value();
    else if (name === '--allowed-client-names')
      o.allowedClientNames = value()
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
    else if (name === '--health-port') o.healthPort = Number(value());
    else if (name === '--health-bind-address') o.healthBind = value();
    else if (name === '--summary-namespace') o.namespace = value();
    else if (name === '--log-level') o.logLevel = value();
    else if (name === '--webhook-port') o.webhookPort = Number(value());
    else if (name === '--webhook-tls-cert-file') o.webhookCert = value();
    else if (name === '--webhook-tls-private-key-file') o.webhookKey = value();
    else throw new ConfigError(`unknown extender option ${a}; see 'fedlet extender --help'`);
  });
  // kube-scheduler waits on every call and the answers say where pods fit: no plain, anonymous HTTP.
  if (!o.tlsCert || !o.tlsKey || !o.clientCA)
    throw new ConfigError(
      "the extender serves HTTPS with client certificates only: give --tls-cert-file, --tls-private-key-file and --client-ca-file (the CA of the certificate in kube-scheduler's extenders[].tlsConfig; see docs/extender.md)",
    );
  if (!Number.isInteger(o.healthPort) || o.healthPort < 0 || o.healthPort > 65535)
    throw new ConfigError('--health-port must be a port number (0 turns the health endpoint off)');
  if (o.webhookPort && (!Number.isInteger(o.webhookPort) || o.webhookPort < 1 || o.webhookPort > 65535))
    throw new ConfigError('--webhook-port must be a port number');
  if (o.webhookPort && (!o.webhookCert || !o.webhookKey))
    throw new ConfigError(
      '--webhook-port needs --webhook-tls-cert-file and --webhook-tls-private-key-file (the API server calls webhooks over HTTPS only)',
    );
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new ConfigError('--port must be a port number');
  const { readFileSync } = await import('node:fs');
  const pem = (file: string, flag: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`${flag} ${file}: ${(e as Error).message}`);
    }
  };
  const tls = {
    cert: pem(o.tlsCert, '--tls-cert-file'),
    key: pem(o.tlsKey, '--tls-private-key-file'),
    clientCA: pem(o.clientCA, '--client-ca-file'),
  };
  const { Extender } = await import('../scheduler-plugin/extender.js');
  const { KubeClient, loadKubeConfig } = await import('../src/kube/client.js');
  const log = createLogger({ level: o.logLevel, name: 'fedlet-extender' });
  const upper = new KubeClient(loadKubeConfig(o.upperKubeconfig), { userAgent: 'fedlet-extender' });
  const { Registry } = await import('prom-client');
  const metrics = new Registry();
  const ext = new Extender({ upper, namespace: o.namespace, log, metrics });
  const { AdmissionWebhook } = await import('../scheduler-plugin/admission-webhook.js');
  const webhook = o.webhookPort ? new AdmissionWebhook({ certFile: o.webhookCert, keyFile: o.webhookKey, log }) : undefined;
  // The repair belongs to the webhook feature: without the webhook nobody asked for the toleration, and
  // pods are meant to avoid virtual nodes (e.g. a chart install that does not ship the webhook).
  let repair: import('../scheduler-plugin/toleration-repair.js').TolerationRepair | undefined;
  if (webhook) {
    const { TolerationRepair } = await import('../scheduler-plugin/toleration-repair.js');
    const { EventRecorder } = await import('../src/events.js');
    const { hostname } = await import('node:os');
    const events = new EventRecorder({ client: upper, component: 'fedlet-extender', host: hostname(), log });
    repair = new TolerationRepair({ upper, log, registry: metrics, events });
  }
  // Listening for signals before starting: as a container's PID 1 a process ignores SIGTERM it has no handler for.
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await webhook?.start(o.webhookPort, o.bind);
  await repair?.start();
  await ext.start({
    port: o.port,
    host: o.bind,
    tls,
    allowedClientNames: o.allowedClientNames,
    healthPort: o.healthPort || undefined,
    healthHost: o.healthBind,
  });
  await stopped;
  await Promise.all([ext.stop(), webhook?.stop(), repair?.stop()]);
  return 0;
}
