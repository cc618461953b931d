// The virtual nodes' own upper identities (system:node:<node>, a client certificate obtained by CSR; see
// src/node/node-identity.ts). Tokens for pods are requested as the node the pod is bound to, so the upper
// API server itself limits them to service accounts of that node's pods. One identity per virtual node
// (each pool node is a node of its own to the Node authorizer), made when first needed.
import type { Logger } from 'pino';
import type { FedletConfig } from '../src/config.js';
import type { KubeClient, KubeClientOptions } from '../src/kube/client.js';
import type { WriteFence } from '../src/kube/fence.js';
import type { ClientCounts } from '../src/metrics.js';
import { NodeIdentity } from '../src/node/node-identity.js';

export class NodeIdentities {
  private readonly identities = new Map<string, NodeIdentity>();

  constructor(
    private readonly o: {
      cfg: FedletConfig;
      upper: KubeClient;
      fence: WriteFence;
      /** The bucket and deadline of each node's heartbeat client (its Lease and status). */
      heartbeatOptions: Pick<KubeClientOptions, 'writeQps' | 'writeBurst' | 'requestTimeoutMs'>;
      /** API request metrics by client: `upper-node` is the base node's identity, `upper-node/<node>` a pool node's. */
      metricClients: Record<string, ClientCounts>;
      signal: AbortSignal;
      log: Logger;
    },
  ) {}

  of(node: string): NodeIdentity {
    let id = this.identities.get(node);
    if (id) return id;
    const { cfg } = this.o;
    id = new NodeIdentity({
      upper: this.o.upper,
      nodeName: node,
      certDir: cfg.certDir,
      fileBase: node === cfg.nodeName ? undefined : `kubelet-client-${node}`,
      clientOptions: {
        writeQps: cfg.writeQps,
        writeBurst: cfg.writeBurst,
        userAgent: `fedlet/${cfg.clusterName}`,
        fence: this.o.fence,
      },
      heartbeatOptions: this.o.heartbeatOptions,
      log: this.o.log.child({ component: 'node-identity', node }),
    });
    this.identities.set(node, id);
    this.o.metricClients[node === cfg.nodeName ? 'upper-node' : `upper-node/${node}`] = id.client;
    this.o.metricClients[node === cfg.nodeName ? 'upper-node-heartbeat' : `upper-node-heartbeat/${node}`] = id.heartbeat;
    void id.run(this.o.signal);
    return id;
  }

  /** The token client for a node's pods: the node's client once its certificate is there. */
  tokenClient(node: string): { pending: string } | { client: KubeClient } {
    const identity = this.of(node);
    const pending = identity.pending();
    return pending ? { pending } : { client: identity.client };
  }
}
