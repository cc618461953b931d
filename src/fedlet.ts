// Wires one fedlet process: clients for both clusters, the lower provider, and the node + lease
// controllers. Fails fast with a clear message when a cluster cannot be reached at start.
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { LeaderElector } from './leader.js';
import { startHealthServer, type HealthState } from './health.js';
import { SummaryPublisher } from './node/summary-publisher.js';
import type { Logger } from 'pino';
import type { FedletConfig } from './config.js';
import { ConfigError } from './config.js';
import { KubeClient, loadKubeConfig } from './kube/client.js';
import { LeaseController } from './node/lease-controller.js';
import { NodeController } from './node/node-controller.js';
import { desiredLabels } from './node/node-object.js';
import { LowerProvider } from '../provider/lower-provider.js';
import { validateNamespaceTemplate } from '../provider/namespace-map.js';
import { IpRemapper, parseRemapPairs, type CidrPair } from '../provider/remap.js';
import { EventRecorder } from './events.js';
import { PodController } from './pods/pod-controller.js';
import { FedletMetrics } from './metrics.js';
import { KubeletAuth } from './kubelet/auth.js';
import { KubeletServer } from './kubelet/server.js';
import { obtainServingCert, upperClientCA } from './kubelet/serving-cert.js';

export class StartupError extends Error {}

function clientFor(which: 'upper' | 'lower', file: string | undefined, cfg: FedletConfig): KubeClient {
  if (file && !existsSync(file)) throw new ConfigError(`${which} kubeconfig ${file} does not exist`);
  try {
    return new KubeClient(loadKubeConfig(file), {
      writeQps: cfg.writeQps,
      writeBurst: cfg.writeBurst,
      userAgent: `fedlet/${cfg.clusterName}`,
    });
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
  let health: HealthState = { role: 'starting' };
  const healthServer = cfg.healthPort > 0 ? startHealthServer(cfg.healthPort, cfg.healthBindAddress, () => health) : undefined;
  let elector: LeaderElector | undefined;
  if (cfg.leaderElect) {
    elector = new LeaderElector({
      client: upper,
      namespace: cfg.leaderElectionNamespace,
      name: `${cfg.nodeName}-leader`,
      identity: cfg.leaderElectionIdentity ?? process.env.POD_NAME ?? `${hostname()}_${process.pid}`,
      leaseDurationSeconds: cfg.leaderElectionLeaseSeconds,
      renewDeadlineSeconds: Math.max(2, Math.floor((cfg.leaderElectionLeaseSeconds * 2) / 3)),
      retryPeriodSeconds: 2,
      log: log.child({ component: 'leader' }),
    });
    health = { role: 'standby' };
    await elector.acquire(abort.signal);
  }
  health = { role: 'leader' };
  let podIPRemap: CidrPair[] = [];
  try {
    validateNamespaceTemplate(cfg.namespaceTemplate);
    podIPRemap = cfg.podIPRemap ? parseRemapPairs(cfg.podIPRemap) : [];
    new IpRemapper(podIPRemap);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const provider: LowerProvider = new LowerProvider({
    client: lower,
    upper,
    nodeIP: cfg.nodeIP,
    namespaceTemplate: cfg.namespaceTemplate,
    podIPRemap,
    allowDaemonSetPods: cfg.allowDaemonSetPods,
    bounceAfterSeconds: cfg.bounceAfterSeconds,
    avoidAfterBounceSeconds: cfg.avoidAfterBounceSeconds,
    clusterName: cfg.clusterName,
    nodeName: cfg.nodeName,
    healthIntervalMs: cfg.lowerHealthIntervalSeconds * 1000,
    healthFailureThreshold: cfg.lowerHealthFailureThreshold,
    debounceMs: cfg.capacityDebounceMs,
    virtualNodeLabels: (): Record<string, string> => desiredLabels(cfg, provider.nodeState()),
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
  const metrics = new FedletMetrics();
  metrics.trackClients({ upper, lower });
  const auth = new KubeletAuth({ upper, nodeName: cfg.nodeName, anonymous: cfg.anonymousAuth });
  const clientCA = await upperClientCA(upper, cfg.clientCAFile).catch((e: Error) => {
    throw new StartupError(`cannot read the upper cluster's client CA: ${e.message}`);
  });
  const events = new EventRecorder({ client: upper, component: 'fedlet', host: cfg.nodeName, log });
  const pods = new PodController({
    upper,
    nodeName: cfg.nodeName,
    provider,
    events,
    workers: cfg.podWorkers,
    unreachableDeleteAfterSeconds: cfg.unreachableDeleteAfterSeconds,
    log: log.child({ component: 'pods' }),
    observe: (ms, ok) => metrics.syncDuration.observe({ outcome: ok ? 'ok' : 'error' }, ms / 1000),
  });
  const podsStarted = pods.start(abort.signal);
  provider.health.onChange(() => metrics.lowerHealthy.set(provider.health.state.healthy ? 1 : 0));
  metrics.lowerHealthy.set(provider.health.state.healthy ? 1 : 0);
  const phaseTimer = setInterval(() => {
    metrics.queueDepth.set(pods.queue.length);
    const byPhase = new Map<string, number>();
    for (const p of pods.pods.list())
      byPhase.set(p.status?.phase ?? 'Unknown', (byPhase.get(p.status?.phase ?? 'Unknown') ?? 0) + 1);
    metrics.podsByPhase.reset();
    for (const [phase, n] of byPhase) metrics.podsByPhase.set({ phase }, n);
  }, 5000);
  phaseTimer.unref();
  let kubelet: KubeletServer | undefined;
  // The kubelet API starts once its certificate is there (a CSR may wait for approval); pods run meanwhile.
  const kubeletStarted = obtainServingCert({
    mode: cfg.servingCert,
    certFile: cfg.tlsCertFile,
    keyFile: cfg.tlsPrivateKeyFile,
    certDir: cfg.certDir,
    nodeName: cfg.nodeName,
    nodeIP: cfg.nodeIP,
    upper,
    log,
    signal: abort.signal,
  })
    .then(async (tls) => {
      log.info({ source: tls.source }, 'kubelet serving certificate ready');
      kubelet = new KubeletServer({
        port: cfg.kubeletPort,
        host: cfg.kubeletBindAddress,
        tls: { cert: tls.cert, key: tls.key, clientCA },
        auth,
        provider,
        pods: () => pods.pods.list(),
        metrics,
        stats: () => provider.statsSummary(),
        resourceMetrics: () => provider.resourceMetrics(),
        log: log.child({ component: 'kubelet-api' }),
      });
      await kubelet.start();
    })
    .catch((e: Error) => {
      if (abort.signal.aborted) return;
      log.error({ err: e.message }, 'kubelet API not started: logs, exec, attach and port-forward are unavailable on this node');
    });
  const loops = [nodes.run(abort.signal), lease.run(abort.signal), podsStarted];
  if (cfg.publishSummary) {
    const summary = new SummaryPublisher({
      client: upper,
      namespace: cfg.summaryNamespace,
      nodeName: cfg.nodeName,
      summary: () => provider.schedulingSummary(),
      minIntervalMs: 2000,
      maxBytes: 900 * 1024,
      log: log.child({ component: 'summary' }),
    });
    provider.restoreSchedulingSummary?.(await summary.readPublished());
    provider.onSummaryChange(() => summary.markDirty());
    loops.push(summary.run(abort.signal));
  }
  // Losing leadership ends this process's work (the Deployment restarts it as a standby).
  const leadership = elector?.holdUntilLost(abort.signal).then(() => {
    if (!abort.signal.aborted) throw new StartupError('lost the leader lease; stopping so that only one replica writes');
  });
  const done = Promise.race([Promise.all(loops), ...(leadership ? [leadership] : [])]).then(() => undefined);
  return {
    done,
    async stop() {
      health = { role: 'stopping' };
      healthServer?.close();
      abort.abort();
      clearInterval(phaseTimer);
      await done.catch(() => undefined);
      await kubeletStarted;
      await kubelet?.stop();
      await elector?.release();
      await pods.stop();
      await provider.stop();
    },
  };
}
