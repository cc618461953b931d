// The options that decide how far a tenant's pod may reach below the virtual node (docs/security.md),
// gathered in one value the provider's modules share: which lower namespaces are granted, the Pod
// Security floor, the toleration policy, the lower-node floor and the bound on references per pod.
import type { FedletConfig } from '../src/config.js';
import { defaultValues, parseNamespaceList } from '../src/config.js';
import type { Requirement } from '../src/scheduling/lower-affinity.js';
import type { PodSecurityLevel } from './namespaces/namespace-access.js';
import { parseSelector } from './pools/pools.js';

export type TolerationPolicy = 'drop' | 'refuse' | 'keep';

export interface TenancyPolicy {
  /** Lower namespaces fedlet may use although it did not create them (grantedLowerNamespaces). */
  grantedNamespaces: ReadonlySet<string>;
  /** Lowest Pod Security enforce level of lower namespaces fedlet creates. */
  podSecurityFloor: PodSecurityLevel;
  tolerations: TolerationPolicy;
  /** Taint keys not tolerated below; an entry ending in '/' is a prefix. */
  deniedTolerationKeys: readonly string[];
  /** Requirements every offered lower node meets and every lower pod is held to (lowerNodeSelector). */
  lowerNodeFloor: Requirement[];
  /** Most distinct ConfigMaps and Secrets one pod may reference. */
  maxReferencesPerPod: number;
}

type TenancyConfig = Pick<
  FedletConfig,
  | 'grantedLowerNamespaces'
  | 'podSecurityFloor'
  | 'tolerationPolicy'
  | 'deniedTolerationKeys'
  | 'lowerNodeSelector'
  | 'maxReferencesPerPod'
>;

/** The policy the options describe; throws a message naming a bad lowerNodeSelector. */
export function tenancyPolicy(cfg: TenancyConfig): TenancyPolicy {
  let lowerNodeFloor: Requirement[] = [];
  if (cfg.lowerNodeSelector !== undefined) {
    try {
      lowerNodeFloor = parseSelector(cfg.lowerNodeSelector);
    } catch (e) {
      throw new Error(`lowerNodeSelector: ${(e as Error).message}`);
    }
  }
  return {
    grantedNamespaces: new Set(parseNamespaceList(cfg.grantedLowerNamespaces)),
    podSecurityFloor: cfg.podSecurityFloor,
    tolerations: cfg.tolerationPolicy,
    deniedTolerationKeys: cfg.deniedTolerationKeys,
    lowerNodeFloor,
    maxReferencesPerPod: cfg.maxReferencesPerPod,
  };
}

/** The policy of the option table's defaults, for modules built without a configuration (tests, tools). */
export const DEFAULT_TENANCY: TenancyPolicy = tenancyPolicy(defaultValues() as TenancyConfig);
