// `fedlet sandbox up|down|status`: the command-line face of sandbox/ (local real clusters with fedlet
// between them). Parses the sandbox's flags and the fedlet options it applies to every fedlet, and prints
// what to do next.
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../src/config.js';
import { LABEL_CLUSTER, LABEL_ORIGIN, LABEL_REGION } from '../src/labels.js';
import { eachFlag } from './args.js';
import { fedletOverrides, type FedletOverrides } from './fedlet-overrides.js';
import type { CliIO } from './io.js';

export interface SandboxArgs {
  dir: string;
  lowers: number;
  noFedlet: boolean;
  foreground: boolean;
  realNodes: number;
  fedletConfig?: string;
  sets: string[];
}

export function sandboxArgs(argv: string[]): SandboxArgs {
  const out: SandboxArgs = { dir: '.sandbox', lowers: 2, noFedlet: false, foreground: false, realNodes: 0, sets: [] };
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
    else if (name === '--fedlet-config') out.fedletConfig = value();
    else if (name === '--set') out.sets.push(value());
    else throw new ConfigError(`unknown sandbox option ${a}; see 'fedlet sandbox up --help'`);
  });
  return out;
}

/**
 * The walkthrough printed by `sandbox up` (and run verbatim by the quick-start e2e test): a Deployment
 * spread over the lower clusters, then logs, exec and the lower side of it.
 */
export function quickStart(o: { binDir: string; cli: string; upper: string; lower: string; node: string }): string[] {
  return [
    `export PATH=${o.binDir}:$PATH   # kubectl built by npm run setup`,
    `export KUBECONFIG=${o.upper}`,
    `kubectl get nodes -L ${LABEL_CLUSTER},${LABEL_REGION}`,
    // A namespace of its own: fedlet never runs pods in a lower `default` it was not granted.
    'kubectl create namespace demo && kubectl config set-context --current --namespace=demo',
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

/** What to do after the walkthrough: where things are, how to change fedlet's options, how to stop. */
export function nextSteps(o: {
  dir: string;
  cli: string;
  upper: string;
  foreground: boolean;
  applied: string[];
  fedletCommands: string[];
}): string[] {
  const cli = `node ${o.cli}`;
  return [
    ...(o.applied.length ? [`fedlet options applied to every fedlet: ${o.applied.join(' ')}`] : []),
    'Next steps:',
    ...(o.fedletCommands.length
      ? ['- start the fedlets yourself (one per lower cluster):', ...o.fedletCommands.map((c) => `    ${c}`)]
      : [
          `- the virtual nodes, their health and capacity: ${cli} status --upper-kubeconfig ${o.upper}`,
          `- check every virtual node end to end (logs, exec, port-forward): ${cli} doctor --upper-kubeconfig ${o.upper}`,
        ]),
    `- every process of the sandbox and its state: ${cli} sandbox status --dir ${o.dir}   (logs: ${o.dir}/*.log)`,
    `- other fedlet options for every fedlet: sandbox down, then sandbox up with --set KEY=VALUE (e.g. --set serviceEndpoints=global) or --fedlet-config FILE (docs/configuration.md)`,
    '- what to try next: docs/scheduling.md, docs/services.md, docs/storage.md, docs/pools.md',
    o.foreground ? 'Press Ctrl-C to stop and tear everything down.' : `Stop it with: ${cli} sandbox down --dir ${o.dir}`,
  ];
}

/** Signals that end a foreground sandbox: Ctrl-C, kill, and the terminal going away. */
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Resolves with the first stop signal, and keeps answering later ones (a second Ctrl-C, the SIGHUP that
 * follows a closed terminal) so that none of them kills the teardown half-way.
 */
function firstStopSignal(onRepeat: (sig: NodeJS.Signals) => void): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let first: NodeJS.Signals | undefined;
    for (const sig of STOP_SIGNALS)
      process.on(sig, () => {
        if (first) return onRepeat(sig);
        first = sig;
        resolve(sig);
      });
  });
}

/**
 * A closed output pipe (`npm start | tee log` after Ctrl-C, a reader that exits) or a hung-up terminal
 * makes writes fail with EPIPE or EIO, reported as an 'error' event that would kill the process; the
 * teardown matters more than its messages, which also go to the sandbox's log file.
 */
function surviveClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
}

async function sandboxUp(a: SandboxArgs, overrides: FedletOverrides, io: CliIO): Promise<number> {
  // The sandbox launcher (sandbox/) is a product module of its own, loaded only when asked for.
  const sb = await import('../sandbox/sandbox.js');
  const logFile = path.join(path.resolve(a.dir), 'sandbox.log');
  const say = (m: string) => {
    io.err(`[sandbox] ${m}\n`);
    if (!a.foreground) return;
    try {
      mkdirSync(path.dirname(logFile), { recursive: true });
      appendFileSync(logFile, `${new Date().toISOString()} ${m}\n`);
    } catch {
      // the log is a convenience; the teardown goes on without it
    }
  };
  let stopSignal: Promise<NodeJS.Signals> | undefined;
  if (a.foreground) {
    surviveClosedOutput();
    stopSignal = firstStopSignal((sig) => say(`${sig}: already tearing down, please wait`));
  }
  const starting = sb.sandboxUp({
    dir: a.dir,
    lowers: a.lowers,
    withFedlet: !a.noFedlet,
    realNodes: a.realNodes,
    progress: say,
    extraFedletArgs: overrides.args,
    foreground: a.foreground,
  });
  const first = await Promise.race([
    starting.then((s) => ({ s }) as const),
    ...(stopSignal ? [stopSignal.then((sig) => ({ sig }) as const)] : []),
  ]).catch(async (e: unknown) => {
    // A failed start stops what it started; the ledger sweep catches anything it missed.
    if (a.foreground) await sb.sandboxDown(a.dir).catch(() => undefined);
    throw e;
  });
  if ('sig' in first) {
    say(`${first.sig} while starting: tearing down as soon as the start settles`);
    await starting.catch(() => undefined);
  } else {
    const { findBinary } = await import('../sandbox/binaries.js');
    printWelcome(first.s, a, overrides, path.dirname(findBinary('kubectl')), io);
  }
  if (!stopSignal) return 0;
  // A pending promise alone does not keep Node running: hold the event loop open until a signal.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  const sig = await stopSignal;
  clearInterval(keepAlive);
  say(`${sig}: tearing down`);
  const leftovers = await sb.sandboxDown(a.dir);
  if (leftovers.length) say(`also stopped ${leftovers.length} unrecorded process(es): ${leftovers.join(', ')}`);
  say('stopped');
  return 0;
}

function printWelcome(
  s: import('../sandbox/sandbox.js').SandboxState,
  a: SandboxArgs,
  overrides: FedletOverrides,
  kubectlDir: string,
  io: CliIO,
): void {
  const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cli.js');
  io.out(
    [
      '',
      `Sandbox is up in ${s.dir}: upper cluster + ${s.lowers.length} lower cluster(s)${a.noFedlet ? '' : ', one fedlet each'}.`,
      ...(a.noFedlet
        ? []
        : [
            'Try it (copy and paste into another shell):',
            ...quickStart({
              binDir: kubectlDir,
              cli,
              upper: s.upperKubeconfig,
              lower: s.lowerKubeconfigs[0]!,
              node: s.fedlets[0]?.nodeName ?? '',
            }).map((l) => `  ${l}`),
          ]),
      '',
      ...nextSteps({
        dir: s.dir,
        cli,
        upper: s.upperKubeconfig,
        foreground: a.foreground,
        applied: overrides.applied,
        fedletCommands: a.noFedlet ? s.fedlets.map((f) => [`node ${cli}`, ...f.args].join(' ')) : [],
      }),
      '',
    ].join('\n'),
  );
}

export async function cmdSandbox(argv: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  const a = sandboxArgs(rest);
  const overrides: FedletOverrides =
    a.fedletConfig !== undefined || a.sets.length
      ? fedletOverrides({ configFile: a.fedletConfig, sets: a.sets })
      : { args: [], applied: [] };
  if (sub !== 'up' && overrides.args.length) throw new ConfigError(`--fedlet-config and --set belong to 'sandbox up'`);
  if (sub === 'up') return sandboxUp(a, overrides, io);
  const sb = await import('../sandbox/sandbox.js');
  if (sub === 'down') {
    const leftovers = await sb.sandboxDown(a.dir);
    io.err(
      `[sandbox] stopped every process of the sandbox in ${a.dir}${leftovers.length ? ` (${leftovers.length} of them left by a stopped orchestrator: ${leftovers.join(', ')})` : ''}\n`,
    );
    return 0;
  }
  if (sub === 'status') {
    const rows = sb.sandboxStatus(a.dir);
    io.out(`${'CLUSTER'.padEnd(10)} ${'COMPONENT'.padEnd(26)} ${'PID'.padEnd(8)} STATE\n`);
    for (const r of rows)
      io.out(
        `${r.cluster.padEnd(10)} ${r.component.padEnd(26)} ${String(r.pid).padEnd(8)} ${r.running ? 'running' : 'stopped'}\n`,
      );
    return rows.every((r) => r.running) ? 0 : 1;
  }
  throw new ConfigError(`unknown sandbox command "${sub ?? ''}": use up, down or status (fedlet sandbox --help)`);
}
