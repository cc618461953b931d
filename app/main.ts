// fedlet's commands behind the `fedlet` binary: `run` (the virtual kubelet), `sandbox` (local real
// clusters), `extender`, `status`, `config-reference`, and the help of each (`--help`/`-h` anywhere, or
// `fedlet help COMMAND`). Output goes through a CliIO so unit tests can run the commands.
import { networkInterfaces } from 'node:os';
import { ConfigError, loadConfig, optionsMarkdown } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { runFedlet } from './run.js';
import { eachFlag, wantsHelp } from './args.js';
import { helpFor, topHelp } from './help.js';
import type { CliIO } from './io.js';
import { cmdSandbox } from './sandbox-command.js';

function firstNonLoopbackIPv4(): string {
  for (const addrs of Object.values(networkInterfaces()))
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return '127.0.0.1';
}

async function cmdRun(argv: string[]): Promise<number> {
  const cfg = loadConfig({ argv, env: process.env, defaultNodeIP: firstNonLoopbackIPv4 });
  const log = createLogger({ level: cfg.logLevel, format: cfg.logFormat });
  const fedlet = await runFedlet(cfg, log);
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal: sig }, 'shutting down');
    void fedlet.stop().then(() => process.exit(0));
    setTimeout(() => process.exit(0), 10_000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await fedlet.done;
  return 0;
}

async function cmdStatus(argv: string[], io: CliIO): Promise<number> {
  let kubeconfig = process.env.FEDLET_UPPER_KUBECONFIG;
  eachFlag(argv, (name, value, a) => {
    if (name === '--upper-kubeconfig' || name === '--kubeconfig') kubeconfig = value();
    else throw new ConfigError(`unknown status option ${a}; use --upper-kubeconfig FILE (fedlet status --help)`);
  });
  const { KubeClient, loadKubeConfig } = await import('../src/kube/client.js');
  const { statusTable } = await import('../src/status-table.js');
  io.out(await statusTable(new KubeClient(loadKubeConfig(kubeconfig))));
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
    else throw new ConfigError(`unknown extender option ${a}; see 'fedlet extender --help'`);
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
  await webhook?.start(o.webhookPort, o.bind);
  await repair?.start();
  await ext.start(o.port, o.bind);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await Promise.all([ext.stop(), webhook?.stop(), repair?.stop()]);
  return 0;
}

async function cmdConfigReference(argv: string[], io: CliIO): Promise<number> {
  let file: string | undefined;
  eachFlag(argv, (name, value, a) => {
    if (name === '--update') file = value();
    else throw new ConfigError(`unknown config-reference option ${a}; see 'fedlet config-reference --help'`);
  });
  if (file === undefined) {
    io.out(`${optionsMarkdown()}\n`);
    return 0;
  }
  const { updateOptionsTable } = await import('./config-doc.js');
  io.err(updateOptionsTable(file) ? `updated the option table in ${file}\n` : `${file} is up to date\n`);
  return 0;
}

/** The command path whose help `--help` asks for: ["sandbox", "up"] for `sandbox up --dir x --help`. */
function commandPath(cmd: string, rest: string[]): string[] {
  return cmd === 'sandbox' && rest[0] !== undefined && !rest[0].startsWith('-') ? [cmd, rest[0]] : [cmd];
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h') {
    io.out(topHelp());
    return 0;
  }
  if (cmd === 'help') {
    const help = helpFor(rest);
    if (help === undefined) {
      io.err(`fedlet: no help for "${rest.join(' ')}": no such command\n\n${topHelp()}`);
      return 2;
    }
    io.out(help);
    return 0;
  }
  if (wantsHelp(rest)) {
    const path = commandPath(cmd, rest);
    const help = helpFor(path) ?? helpFor([cmd]);
    if (help !== undefined) {
      if (helpFor(path) === undefined) io.err(`fedlet: unknown command "${path.join(' ')}"\n\n`);
      io.out(help);
      return helpFor(path) === undefined ? 2 : 0;
    }
  }
  switch (cmd) {
    case 'run':
      return cmdRun(rest);
    case 'sandbox':
      return cmdSandbox(rest, io);
    case 'extender':
      return cmdExtender(rest);
    case 'status':
      return cmdStatus(rest, io);
    case 'doctor': {
      const { cmdDoctor } = await import('./doctor.js');
      return cmdDoctor(rest, io);
    }
    case 'config-reference':
      return cmdConfigReference(rest, io);
    default:
      io.err(`fedlet: unknown command "${cmd}"\n\n${topHelp()}`);
      return 2;
  }
}
