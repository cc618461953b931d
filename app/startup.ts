// Start-up steps of one fedlet process that talk to a cluster: making the clients (a missing or broken
// kubeconfig is a configuration error), proving each API server answers, and retrying through outages
// (an API server restarting while fedlet starts is no reason to exit).
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import { ConfigError, type FedletConfig } from '../src/config.js';
import { KubeApiError, KubeClient, loadKubeConfig, type KubeClientOptions } from '../src/kube/client.js';
import type { ClusterCredentials } from '../src/kube/kubeconfig.js';
import { isNotLeader, type WriteFence } from '../src/kube/fence.js';
import { Backoff } from '../src/util/backoff.js';

export class StartupError extends Error {}

/** The heartbeat client's own bucket: a few writes per node and renew interval, never shared. */
export const HEARTBEAT_LIMITS = { writeQps: 20, writeBurst: 40 };
/**
 * TokenReviews and SubjectAccessReviews of kubelet API callers: their own bucket, so they never take
 * from the write budget; with KubeletAuth's bound on pending reviews, a flood costs at most this rate.
 */
export const REVIEW_LIMITS = { writeQps: 20, writeBurst: 40 };

export function credentialsFor(which: 'upper' | 'lower', file: string | undefined): ClusterCredentials {
  if (file && !existsSync(file)) throw new ConfigError(`${which} kubeconfig ${file} does not exist`);
  try {
    return loadKubeConfig(file);
  } catch (e) {
    throw new ConfigError(`cannot load ${which} kubeconfig ${file ?? '(default)'}: ${(e as Error).message}`);
  }
}

export function clientFor(
  which: 'upper' | 'lower',
  file: string | undefined,
  cfg: FedletConfig,
  fence?: WriteFence,
  limits: Pick<KubeClientOptions, 'writeQps' | 'writeBurst' | 'requestTimeoutMs'> = {},
  credentials?: ClusterCredentials,
): KubeClient {
  const creds = credentials ?? credentialsFor(which, file);
  try {
    return new KubeClient(creds, {
      writeQps: cfg.writeQps,
      writeBurst: cfg.writeBurst,
      ...limits,
      userAgent: `fedlet/${cfg.clusterName}`,
      fence,
    });
  } catch (e) {
    throw new ConfigError(`cannot load ${which} kubeconfig ${file ?? '(default)'}: ${(e as Error).message}`);
  }
}

export async function checkReachable(which: string, client: KubeClient): Promise<string> {
  try {
    const v = await client.get<{ gitVersion?: string }>('/version', { timeoutMs: 10_000 });
    return v.gitVersion ?? 'unknown';
  } catch (e) {
    throw new StartupError(`${which} cluster API server ${client.server.origin} is not reachable: ${(e as Error).message}`);
  }
}

/** Errors a later attempt may not see: transport failures, 429, 5xx, and a closed write fence. */
function transient(e: unknown): boolean {
  if (isNotLeader(e)) return true;
  return e instanceof KubeApiError && (e.code === 0 || e.code === 429 || e.code >= 500);
}

/** Runs a start-up step, retrying transient failures with backoff; other errors, and aborting, end the start. */
export async function retrying<T>(what: string, fn: () => Promise<T>, signal: AbortSignal, log: Logger): Promise<T> {
  const backoff = new Backoff(500, 5000);
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (!transient(e) || signal.aborted) throw e;
      log.warn({ err: (e as Error).message }, `${what} failed; retrying`);
      await backoff.wait(signal);
    }
  }
}
