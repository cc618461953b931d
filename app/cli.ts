#!/usr/bin/env node
// fedlet command line: `run` (the virtual kubelet), `sandbox up|down|status` (local real clusters).
import { networkInterfaces } from 'node:os';
import { ConfigError, loadConfig, options, optionsMarkdown } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { runFedlet, StartupError, type RunningFedlet } from './run.js';
import { LABEL_CLUSTER, LABEL_ORIGIN, LABEL_REGION } from '../src/labels.js';

const usage = `fedlet — a virtual kubelet that makes whole Kubernetes clusters look like nodes

Usage:
  fedlet run --lower-kubeconfig FILE --cluster-name NAME [--upper-kubeconfig FILE] [--config FILE] [options]
  fedlet sandbox up --dir DIR [--lowers N] [--real-nodes N] [--no-fedlet] [--foreground]
  fedlet sandbox down --dir DIR
  fedlet sandbox status --dir DIR
  fedlet extender --upper-kubeconfig FILE [--port 8888] [--bind-address 0.0.0.0] [--summary-namespace fedlet-system]
                  [--webhook-port 8443 --webhook-tls-cert-file FILE --webhook-tls-private-key-file FILE]
  fedlet status [--upper-kubeconfig FILE]   table of virtual nodes: cluster, health, capacity, pods
  fedlet config-reference            print every option as a Markdown table
  fedlet help

Options of 'run' (flag / env var / YAML key, default):
${options.map((o) => `  --${o.flag.padEnd(32)} ${o.env.padEnd(40)} ${o.help} (default: ${o.default})`).join('\n')}
  --config FILE                      FEDLET_CONFIG                            YAML file with any of the keys above
`;

function firstNonLoopbackIPv4(): string {
  for (const addrs of Object.values(networkInterfaces()))
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return '127.0.0.1';
}

async function cmdRun(argv: string[]): Promise<number> {
  const cfg = loadConfig({ argv, env: process.env, defaultNodeIP: firstNonLoopbackIPv4 });
  const log = createLogger({ level: cfg.logLevel, format: cfg.logFormat });
  // Signals are handled from the start: a standby campaigns inside runFedlet until it leads, and as a
  // container's PID 1 a process without a handler ignores SIGTERM (the pod would take its whole grace
  // period to die, and a rolling upgrade with it).
  const early = new AbortController();
  let fedlet: RunningFedlet | undefined;
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal: sig }, 'shutting down');
    setTimeout(() => process.exit(0), 10_000).unref();
    if (fedlet) void fedlet.stop().then(() => process.exit(0));
    else early.abort(); // still starting or standing by: nothing held yet that a stop would hand over
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  try {
    fedlet = await runFedlet(cfg, log, early.signal);
  } catch (e) {
    if (early.signal.aborted) process.exit(0);
    throw e;
  }
  if (stopping) {
    await fedlet.stop();
    process.exit(0);
  }
  await fedlet.done;
  return 0;
}

/** Walks `--name value` and `--name=value` flags; value() takes the flag's value or says it is missing. */
function eachFlag(argv: string[], visit: (name: string, value: () => string, raw: string) => void): void {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const name = eq >= 0 ? a.slice(0, eq) : a;
    visit(
      name,
      () => {
        if (eq >= 0) return a.slice(eq + 1);
        const v = argv[++i];
        if (v === undefined) throw new ConfigError(`${name} needs a value`);
        return v;
      },
      a,
    );
  }
}

function sandboxArgs(argv: string[]): {
  dir: string;
  lowers: number;
  noFedlet: boolean;
  foreground: boolean;
  realNodes: number;
} {
  const out = { dir: '.sandbox', lowers: 2, noFedlet: false, foreground: false, realNodes: 0 };
  eachFlag(argv, (name, value, a) => {
    if (name === '--dir') out.dir = value();
    else if (name === '--lowers') {
      out.lowers = Number(value());
      if (!Number.isInteger(out.lowers) || out.lowers < 1 || out.lowers > 8)
        throw new ConfigError('--lowers must be a whole number from 1 to 8');
    } else if (name === '--real-nodes') {
      out.realNodes = Number(value());
      if (!Number.isInteger(out.realNodes) || out.realNodes < 0 || out.realNodes > 4)
        throw new ConfigError('--real-nodes must be a whole number from 0 to 4 (real nodes per lower cluster)');
    } else if (name === '--no-fedlet') out.noFedlet = true;
    else if (name === '--foreground') out.foreground = true;
    else throw new ConfigError(`unknown sandbox option ${a}`);
  });
  return out;
}

/**
 * The walkthrough printed by `sandbox up` (and run verbatim by the quick-start e2e test): a Deployment
 * spread over the lower clusters, then logs, exec and the lower side of it.
 */
function quickStart(o: { binDir: string; cli: string; upper: string; lower: string; node: string }): string[] {
  return [
    `export PATH=${o.binDir}:$PATH   # kubectl built by npm run setup`,
    `export KUBECONFIG=${o.upper}`,
    `kubectl get nodes -L ${LABEL_CLUSTER},${LABEL_REGION}`,
    'kubectl create deployment hello --image=registry.k8s.io/pause:3.10 --replicas=4',
    'kubectl rollout status deployment/hello --timeout=240s',
    'kubectl get pods -o wide',
    'kubectl logs deployment/hello --tail=2',
    'kubectl exec deployment/hello -- echo hello from a lower cluster',
    `kubectl describe node ${o.node} | sed -n '/Allocatable/,/System Info/p'`,
    `kubectl --kubeconfig ${o.lower} get pods -A -l ${LABEL_ORIGIN} -o wide`,
    `node ${o.cli} status`,
  ];
}

async function cmdSandbox(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const a = sandboxArgs(rest);
  // The sandbox launcher (sandbox/) is a product module of its own, loaded only when asked for.
  const sb = await import('../sandbox/sandbox.js');
  const say = (m: string) => process.stderr.write(`[sandbox] ${m}\n`);
  if (sub === 'up') {
    const s = await sb.sandboxUp({
      dir: a.dir,
      lowers: a.lowers,
      withFedlet: !a.noFedlet,
      realNodes: a.realNodes,
      progress: say,
    });
    const { findBinary } = await import('../sandbox/binaries.js');
    const { fileURLToPath } = await import('node:url');
    const path = await import('node:path');
    const cli = fileURLToPath(import.meta.url);
    process.stdout.write(
      [
        '',
        `Sandbox is up in ${s.dir}: upper cluster + ${s.lowers.length} lower cluster(s)${a.noFedlet ? '' : ', one fedlet each'}.`,
        ...(a.noFedlet
          ? []
          : [
              'Try it (copy and paste into another shell):',
              ...quickStart({
                binDir: path.dirname(findBinary('kubectl')),
                cli,
                upper: s.upperKubeconfig,
                lower: s.lowerKubeconfigs[0]!,
                node: s.fedlets[0]?.nodeName ?? '',
              }).map((l) => `  ${l}`),
            ]),
        a.foreground ? 'Press Ctrl-C to stop and tear everything down.' : `Stop it with: fedlet sandbox down --dir ${a.dir}`,
        '',
      ].join('\n'),
    );
    if (a.foreground) {
      // A pending promise alone does not keep Node running: hold the event loop open until a signal.
      const keepAlive = setInterval(() => undefined, 1 << 30);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      clearInterval(keepAlive);
      say('tearing down');
      await sb.sandboxDown(a.dir);
      say('stopped');
    }
    return 0;
  }
  if (sub === 'down') {
    await sb.sandboxDown(a.dir);
    say(`stopped every process of the sandbox in ${a.dir}`);
    return 0;
  }
  if (sub === 'status') {
    const rows = sb.sandboxStatus(a.dir);
    process.stdout.write(`${'CLUSTER'.padEnd(10)} ${'COMPONENT'.padEnd(26)} ${'PID'.padEnd(8)} STATE\n`);
    for (const r of rows)
      process.stdout.write(
        `${r.cluster.padEnd(10)} ${r.component.padEnd(26)} ${String(r.pid).padEnd(8)} ${r.running ? 'running' : 'stopped'}\n`,
      );
    return rows.every((r) => r.running) ? 0 : 1;
  }
  throw new ConfigError(`unknown sandbox command "${sub ?? ''}": use up, down or status`);
}

async function cmdStatus(argv: string[]): Promise<number> {
  let kubeconfig = process.env.FEDLET_UPPER_KUBECONFIG;
  eachFlag(argv, (name, value, a) => {
    if (name === '--upper-kubeconfig' || name === '--kubeconfig') kubeconfig = value();
    else throw new ConfigError(`unknown status option ${a}; use --upper-kubeconfig FILE`);
  });
  const { KubeClient, loadKubeConfig } = await import('../src/kube/client.js');
  const { statusTable } = await import('../src/status-table.js');
  process.stdout.write(await statusTable(new KubeClient(loadKubeConfig(kubeconfig))));
  return 0;
}

async function cmdExtender(argv: string[]): Promise<number> {
  const o = {
    upperKubeconfig: process.env.FEDLET_UPPER_KUBECONFIG,
    port: 8888,
    bind: '0.0.0.0',
    namespace: 'fedlet-system',
    logLevel: 'info',
    webhookPort: 0,
    webhookCert: '',
    webhookKey: '',
  };
  eachFlag(argv, (name, value, a) => {
    if (name === '--upper-kubeconfig') o.upperKubeconfig = value();
    else if (name === '--port') o.port = Number(value());
    else if (name === '--bind-address') o.bind = value();
    else if (name === '--summary-namespace') o.namespace = value();
    else if (name === '--log-level') o.logLevel = value();
    else if (name === '--webhook-port') o.webhookPort = Number(value());
    else if (name === '--webhook-tls-cert-file') o.webhookCert = value();
    else if (name === '--webhook-tls-private-key-file') o.webhookKey = value();
    else
      throw new ConfigError(
        `unknown extender option ${a}; options: --upper-kubeconfig, --port, --bind-address, --summary-namespace, --log-level, --webhook-port, --webhook-tls-cert-file, --webhook-tls-private-key-file`,
      );
  });
  if (o.webhookPort && (!Number.isInteger(o.webhookPort) || o.webhookPort < 1 || o.webhookPort > 65535))
    throw new ConfigError('--webhook-port must be a port number');
  if (o.webhookPort && (!o.webhookCert || !o.webhookKey))
    throw new ConfigError(
      '--webhook-port needs --webhook-tls-cert-file and --webhook-tls-private-key-file (the API server calls webhooks over HTTPS only)',
    );
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new ConfigError('--port must be a port number');
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
  await ext.start(o.port, o.bind);
  await stopped;
  await Promise.all([ext.stop(), webhook?.stop(), repair?.stop()]);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'run':
      return cmdRun(rest);
    case 'sandbox':
      return cmdSandbox(rest);
    case 'extender':
      return cmdExtender(rest);
    case 'status':
      return cmdStatus(rest);
    case 'config-reference':
      process.stdout.write(`${optionsMarkdown()}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(usage);
      return 0;
    default:
      process.stderr.write(`fedlet: unknown command "${cmd}"\n\n${usage}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    const known = e instanceof ConfigError || e instanceof StartupError;
    process.stderr.write(`fedlet: ${known ? '' : 'unexpected error: '}${e.message}\n`);
    if (!known && e.stack) process.stderr.write(`${e.stack}\n`);
    process.exit(known ? 2 : 1);
  },
);
