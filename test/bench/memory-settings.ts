// Bench part `memory` (optional): fedlet's resident memory under several process settings (allocator
// environment such as MALLOC_ARENA_MAX, Node/V8 flags in NODE_OPTIONS) on the same sandbox, so that one
// sandbox and one set of pods serve every setting. For each setting fedlet is restarted with it and measured
// idle; then `large` pods are made once and fedlet is restarted with each setting again and measured once it
// has synced them. The last setting's process then goes through a cycle (all pods deleted, made again) and is
// measured once more: memory a long-running process keeps after churn.
// Settings: BENCH_MEMORY_SETTINGS='label:VAR=value,VAR=value;label2:...' (a label alone: no change).
import path from 'node:path';
import type { KubeClient } from '../../src/kube/client.js';
import { saveState, startFedlet, stopFedlet, waitForNodesReady, type SandboxState } from '../../sandbox/sandbox.js';
import type { Recorder } from './run.js';
import { cpuSeconds, memoryReading, rssMiB } from './fedlet-process.js';
import { controllerStarts } from './restart.js';

export interface MemorySetting {
  label: string;
  env: Record<string, string>;
}

/** Parses BENCH_MEMORY_SETTINGS; empty: the default process alone. */
export function memorySettings(raw: string | undefined): MemorySetting[] {
  const out: MemorySetting[] = [];
  for (const entry of (raw ?? 'default').split(';').map((e) => e.trim())) {
    if (!entry) continue;
    const colon = entry.indexOf(':');
    const label = colon < 0 ? entry : entry.slice(0, colon);
    const env: Record<string, string> = {};
    for (const kv of colon < 0 ? [] : entry.slice(colon + 1).split(',')) {
      const eq = kv.indexOf('=');
      if (eq <= 0) throw new Error(`BENCH_MEMORY_SETTINGS: '${kv}' in ${label} is not VAR=value`);
      env[kv.slice(0, eq).trim()] = kv.slice(eq + 1);
    }
    out.push({ label, env });
  }
  return out;
}

export interface MemoryBenchOptions {
  s: SandboxState;
  upper: KubeClient;
  lower: KubeClient;
  ns: string;
  pods: number;
  burst: (c: KubeClient, ns: string, name: string, replicas: number) => Promise<number>;
  deleteDeployment: (c: KubeClient, ns: string, name: string, lowerC: KubeClient, lowerNs: string) => Promise<void>;
  r: Pick<Recorder, 'measure' | 'note' | 'print'>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function benchMemory(o: MemoryBenchOptions): Promise<void> {
  const settings = memorySettings(process.env.BENCH_MEMORY_SETTINGS);
  const settleMs = Number(process.env.BENCH_MEMORY_SETTLE_MS ?? 45_000);
  for (const st of settings) {
    await restartWith(o, st);
    await sleep(15_000);
    await record(o, `memory.${st.label}.idle`, `fedlet RSS idle, setting ${st.label}`);
  }
  await o.burst(o.upper, o.ns, 'memory', o.pods);
  for (const st of settings) {
    await restartWith(o, st);
    await sleep(settleMs);
    await record(o, `memory.${st.label}.${o.pods}-pods`, `fedlet RSS with ${o.pods} pods after a restart, setting ${st.label}`);
  }
  if (process.env.BENCH_MEMORY_CYCLE === '0') return;
  const last = settings[settings.length - 1]!;
  await o.deleteDeployment(o.upper, o.ns, 'memory', o.lower, o.ns);
  await sleep(settleMs);
  await record(o, `memory.${last.label}.cycle-0-pods`, `fedlet RSS after ${o.pods} pods went, setting ${last.label}`);
  await o.burst(o.upper, o.ns, 'memory', o.pods);
  await sleep(settleMs);
  await record(
    o,
    `memory.${last.label}.cycle-${o.pods}-pods`,
    `fedlet RSS with ${o.pods} pods made again, setting ${last.label}`,
  );
}

async function record(o: MemoryBenchOptions, key: string, label: string): Promise<void> {
  const pid = o.s.fedlets[0]!.process!.pid;
  o.r.measure(key, label, rssMiB(pid), 'MiB');
  // CPU since the process started: a smaller young generation trades memory for more scavenges.
  o.r.note(label, `${await memoryReading(o.s, pid, false)}; CPU so far ${cpuSeconds(pid).toFixed(1)} s`);
}

/** Restarts the first fedlet with a setting's environment and waits until its pod controller has started. */
async function restartWith(o: MemoryBenchOptions, st: MemorySetting): Promise<void> {
  const f = o.s.fedlets[0]!;
  o.r.print(`memory: fedlet with ${st.label} ${JSON.stringify(st.env)}`);
  await stopFedlet(o.s, f.cluster);
  // The old process is gone: hand its leader Lease over at once instead of waiting for it to expire.
  await o.upper
    .delete(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${f.nodeName}-leader`)
    .catch(() => undefined);
  const log = path.join(o.s.dir, `fedlet-${f.cluster}.log`);
  const before = controllerStarts(log);
  const t0 = Date.now();
  startFedlet(o.s, f.cluster, st.env);
  saveState(o.s);
  await waitForNodesReady(o.s, [f.nodeName], 60_000);
  while (controllerStarts(log) <= before && Date.now() - t0 < 120_000) await sleep(200);
}
