// Namespaces in the e2e clusters: creating one ready for pods, and the lower namespace a fedlet maps an
// upper one to (tests never assume the two names are the same).
import { DEFAULT_NAMESPACE_TEMPLATE } from '../../../src/config.js';
import { lowerNamespace } from '../../../provider/namespaces/namespace-map.js';
import { eventually, kubectl } from './kubectl.js';

/**
 * The lower namespace that a fedlet started with `args` (its --namespace-template, else the default)
 * uses for upper namespace `ns`: tests never assume the two names are the same.
 */
export function lowerNamespaceFor(f: { args: string[]; cluster: string }, ns: string): string {
  const flag = f.args.find((a) => a.startsWith('--namespace-template='));
  return lowerNamespace(flag ? flag.slice('--namespace-template='.length) : DEFAULT_NAMESPACE_TEMPLATE, ns, f.cluster);
}

/** Creates a namespace and waits for its default ServiceAccount (pods cannot be created before it). */
export async function createNamespace(kubeconfig: string, ns: string): Promise<void> {
  await kubectl(kubeconfig, ['create', 'namespace', ns]);
  await eventually(() => kubectl(kubeconfig, ['get', 'serviceaccount', 'default', '-n', ns]), {
    what: `default service account in ${ns}`,
  });
}

/** The name of the first CSR fedlet filed for `nodeName` (labelled fedlet.io/node), once there is one. */
