// The clients of one fedlet process, each with the rate limit of its job: the upper and lower clients for
// the controllers' work; the heartbeat (node Leases, node status) and the kubelet API's reviews on clients
// of their own, as the kubelet's heartbeat is, so no burst of pod writes, events or TokenReviews for
// made-up tokens can make a renewal wait until the node goes NotReady. A lower ServiceAccount token with a
// lifetime renews itself (src/kube/token-renewal.ts).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { FedletConfig } from '../src/config.js';
import type { KubeClient } from '../src/kube/client.js';
import { isNotLeader, type WriteFence } from '../src/kube/fence.js';
import { RenewingToken } from '../src/kube/token-renewal.js';
import { writeTokenBack } from '../src/kube/kubeconfig-secret.js';
import { parseSecretRef } from '../src/config.js';
import { checkReachable, clientFor, credentialsFor, HEARTBEAT_LIMITS, REVIEW_LIMITS } from './startup.js';

export interface Clusters {
  upper: KubeClient;
  lower: KubeClient;
  /** Node Leases and status: a bucket of its own, and requests that end within one renew interval. */
  heartbeat: KubeClient;
  heartbeatLimits: typeof HEARTBEAT_LIMITS & { requestTimeoutMs: number };
  /** TokenReviews and SubjectAccessReviews of kubelet API callers. */
  reviewer: KubeClient;
}

/** Makes the clients, proves both API servers answer, and keeps the lower token renewed until `signal`. */
export async function connectClusters(cfg: FedletConfig, fence: WriteFence, signal: AbortSignal, log: Logger): Promise<Clusters> {
  const upper = clientFor('upper', cfg.upperKubeconfig, cfg, fence);
  // A lower ServiceAccount token with a lifetime renews itself; kept in certDir and, when the kubeconfig
  // is mounted from an upper Secret, written back there by the leader (a standby's write is fenced off).
  const secret = cfg.lowerKubeconfigSecret ? parseSecretRef(cfg.lowerKubeconfigSecret) : undefined;
  const tokenLog = log.child({ component: 'lower-token' });
  const lowerToken = new RenewingToken(credentialsFor('lower', cfg.lowerKubeconfig), {
    file: cfg.certDir ? path.join(cfg.certDir, 'lower-token') : undefined,
    what: `lower cluster ${cfg.clusterName}`,
    log: tokenLog,
    onRenewed: secret ? (token) => writeTokenBack(upper, secret, token, tokenLog).catch(ignoreNotLeader) : undefined,
  });
  const renewLowerToken = await lowerToken.init();
  if (cfg.certDir) mkdirSync(cfg.certDir, { recursive: true });
  const lower = clientFor('lower', cfg.lowerKubeconfig, cfg, fence, {}, lowerToken);
  // The heartbeat's requests also end after one renew interval, so a hung one cannot hold the next renewal.
  const heartbeatLimits = { ...HEARTBEAT_LIMITS, requestTimeoutMs: cfg.leaseRenewIntervalSeconds * 1000 };
  const heartbeat = clientFor('upper', cfg.upperKubeconfig, cfg, fence, heartbeatLimits);
  const reviewer = clientFor('upper', cfg.upperKubeconfig, cfg, fence, REVIEW_LIMITS);
  const [uv, lv] = await Promise.all([checkReachable('upper', upper), checkReachable(`lower (${cfg.clusterName})`, lower)]);
  log.info({ node: cfg.nodeName, cluster: cfg.clusterName, upperVersion: uv, lowerVersion: lv }, 'starting fedlet');
  // Every replica renews its own lower token, leading or not: no fence (a TokenRequest stores nothing).
  if (renewLowerToken) void lowerToken.run(clientFor('lower', cfg.lowerKubeconfig, cfg, undefined, {}, lowerToken), signal);
  else
    log.warn(
      `the lower kubeconfig of cluster ${cfg.clusterName} holds no ServiceAccount token with a lifetime: nothing renews or expires it (prefer \`kubectl create token\` with --duration; docs/rbac.md)`,
    );
  return { upper, lower, heartbeat, heartbeatLimits, reviewer };
}

/** A standby's write-back is refused by the fence: the leader writes its own renewals. */
function ignoreNotLeader(e: unknown): false {
  if (isNotLeader(e)) return false;
  throw e;
}
