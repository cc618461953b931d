// fedlet's commands behind the `fedlet` binary: `run` (the virtual kubelet), `sandbox` (local real
// clusters), `extender`, `status`, `doctor`, `join`/`leave` (add or remove a lower cluster), `config-reference`, and the help of each (`--help`/`-h` anywhere, or
// `fedlet help COMMAND`). Output goes through a CliIO so unit tests can run the commands.
import { networkInterfaces } from 'node:os';
import { ConfigError, loadConfig, optionsMarkdown } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { runFedlet, type RunningFedlet } from './run.js';
import { applyHeapGrowth } from './heap-growth.js';
import { eachFlag, wantsHelp } from './args.js';
import { helpFor, topHelp } from './help.js';
import type { CliIO } from './io.js';

function firstNonLoopbackIPv4(): string {
  for (const addrs of Object.values(networkInterfaces()))
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return '127.0.0.1';
}

async function cmdRun(argv: string[]): Promise<number> {
  const cfg = loadConfig({ argv, env: process.env, defaultNodeIP: firstNonLoopbackIPv4 });
  const log = createLogger({ level: cfg.logLevel, format: cfg.logFormat });
  applyHeapGrowth(cfg.heapGrowthPercent);
  if (cfg.heapGrowthPercent > 0) log.info({ heapGrowthPercent: cfg.heapGrowthPercent }, 'V8 heap growth factor fixed');
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
    case 'sandbox': {
      const { cmdSandbox } = await import('./sandbox-command.js');
      return cmdSandbox(rest, io);
    }
    case 'extender': {
      const { cmdExtender } = await import('./extender-command.js');
      return cmdExtender(rest);
    }
    case 'status':
      return cmdStatus(rest, io);
    case 'doctor': {
      const { cmdDoctor } = await import('./doctor.js');
      return cmdDoctor(rest, io);
    }
    case 'join': {
      const { cmdJoin } = await import('./join-command.js');
      return cmdJoin(rest, io);
    }
    case 'leave': {
      const { cmdLeave } = await import('./leave-command.js');
      return cmdLeave(rest, io);
    }
    case 'config-reference':
      return cmdConfigReference(rest, io);
    default:
      io.err(`fedlet: unknown command "${cmd}"\n\n${topHelp()}`);
      return 2;
  }
}
