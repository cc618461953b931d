// Wires one fedlet process: clients for both clusters, the lower provider, and the node + lease
// controllers. Fails fast with a clear message when a cluster cannot be reached at start.
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { FedletConfig } from './config.js';
import { ConfigError } from './config.js';
import { KubeClient, loadKubeConfig } from './kube/client.js';
import { LeaseController } from './node/lease-controller.js';
import { NodeController } from './node/node-controller.js';
import { LowerProvider } from '../provider/lower-provider.js';
import { validateNamespaceTemplate } from '../provider/namespace-map.js';
import { IpRemapper, parseRemapPairs, type CidrPair } from '../provider/remap.js';
import { EventRecorder } from './events.js';
import { PodController } from './pods/pod-controller.js';

export class StartupError extends Error {}

function clientFor(which: 'upper' | 'lower', file: string | undefined, cfg: FedletConfig): KubeClient {
  if (file && !existsSync(file)) throw new ConfigError(`${which} kubeconfig ${file} does not exist`);
  try {
    return new KubeClient(loadKubeConfig(file), { writeQps: cfg.writeQps, writeBurst: cfg.writeBurst, userAgent: `fedlet/${cfg.clusterName}` });
  } catch (e) {
    throw new ConfigError(`cannot load ${which} kubeconfig ${file ?? '(default)'}: ${(e as Error).message}`);
  }
}

async function checkReachable(which: string, client: KubeClient): Promise<string> {
  try {
    const v = await client.get<{ gitVersion?: string }>('/version', { timeoutMs: 10_000 });
    return v.gitVersion ?? 'unknown';
  } catch (e) {
    throw new StartupError(`${which} cluster API server ${client.server.origin} is not reachable: ${(e as Error).message}`);
  }
}

export interface RunningFedlet {
  stop(): Promise<void>;
  done: Promise<void>;
}

export async function runFedlet(cfg: FedletConfig, log: Logger): Promise<RunningFedlet> {
  const upper = clientFor('upper', cfg.upperKubeconfig, cfg);
  const lower = clientFor('lower', cfg.lowerKubeconfig, cfg);
  const [uv, lv] = await Promise.all([checkReachable('upper', upper), checkReachable(`lower (${cfg.clusterName})`, lower)]);
  log.info({ node: cfg.nodeName, cluster: cfg.clusterName, upperVersion: uv, lowerVersion: lv }, 'starting fedlet');

  const abort = new AbortController();
  let podIPRemap: CidrPair[] = [];
  try {
    validateNamespaceTemplate(cfg.namespaceTemplate);
    podIPRemap = cfg.podIPRemap ? parseRemapPairs(cfg.podIPRemap) : [];
    new IpRemapper(podIPRemap);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const provider = new LowerProvider({
    client: lower,
    upper,
    nodeIP: cfg.nodeIP,
    namespaceTemplate: cfg.namespaceTemplate,
    podIPRemap,
    allowDaemonSetPods: cfg.allowDaemonSetPods,
    clusterName: cfg.clusterName,
    nodeName: cfg.nodeName,
    healthIntervalMs: cfg.lowerHealthIntervalSeconds * 1000,
    healthFailureThreshold: cfg.lowerHealthFailureThreshold,
    debounceMs: cfg.capacityDebounceMs,
    log,
  });
  await provider.start(abort.signal);
  const nodes = new NodeController({ client: upper, config: cfg, provider, log: log.child({ component: 'node' }) });
  await nodes.register();
  const lease = new LeaseController({
    client: upper,
    nodeName: cfg.nodeName,
    durationSeconds: cfg.leaseDurationSeconds,
    renewIntervalSeconds: cfg.leaseRenewIntervalSeconds,
    nodeUid: () => nodes.uid,
    log: log.child({ component: 'lease' }),
  });
  const events = new EventRecorder({ client: upper, component: 'fedlet', host: cfg.nodeName, log });
  const pods = new PodController({ upper, nodeName: cfg.nodeName, provider, events, workers: cfg.podWorkers, log: log.child({ component: 'pods' }) });
  const podsStarted = pods.start(abort.signal);
  const done = Promise.all([nodes.run(abort.signal), lease.run(abort.signal), podsStarted]).then(() => undefined);
  return {
    done,
    async stop() {
      abort.abort();
      await done.catch(() => undefined);
      await pods.stop();
      await provider.stop();
    },
  };
}
