// Nodes in the e2e clusters: their Ready condition, and the CSRs fedlet files for a virtual node.
import type { Node } from '../../../src/kube/types.js';
import { eventually, kubectl } from './kubectl.js';

/** A Node as kubectl prints it: the product's own type. */
export type NodeJson = Node;

export function readyCondition(n: NodeJson) {
  return n.status?.conditions?.find((c) => c.type === 'Ready');
}

/** The first CSR fedlet filed for `nodeName` (labelled fedlet.io/node), once there is one. */
export function nodeCsr(upperKubeconfig: string, nodeName: string, timeoutMs = 60_000): Promise<string> {
  return eventually(
    async () => {
      const name = (
        await kubectl(upperKubeconfig, [
          'get',
          'csr',
          '-l',
          `fedlet.io/node=${nodeName}`,
          '-o',
          'jsonpath={.items[0].metadata.name}',
        ])
      ).trim();
      if (!name) throw new Error('no CSR yet');
      return name;
    },
    { timeoutMs, what: `a CSR from fedlet for node ${nodeName}` },
  );
}

/**
 * A request to the sandbox's scheduler extender over HTTPS, with kube-scheduler's client certificate
 * unless `as` says otherwise ('none': no certificate; or another certificate's files). Resolves with the
 * status, or rejects when the TLS handshake is refused.
 */
