// Helpers for the e2e tests that run fedlet's real image (sandbox/images/build-fedlet-image.sh), pulled
// from the sandbox's registry (sandbox/registry.ts) by the upper cluster's real node.
import { REGISTRY_NAME } from '../../../sandbox/registry.js';
import type { SandboxState } from '../../../sandbox/sandbox.js';
import { realNodesMissing } from './real-nodes.js';

/** The upper cluster's real node (system workloads: fedlet's own pods), if the sandbox has one. */
export function upperRealNode(s: SandboxState): string | undefined {
  return s.realNodes?.find((r) => r.cluster === s.upper.name)?.name;
}

/** Why the image tests cannot run here (they skip, saying so in their name), or ''. */
export function imageMissing(s: SandboxState): string {
  const noReal = realNodesMissing(s);
  if (noReal) return noReal;
  if (!s.registry) return 'the sandbox runs no registry (see its "no registry" progress line)';
  if (!upperRealNode(s)) return 'the upper cluster has no real node';
  return '';
}

/** The two versions in the registry: what `npm run setup` built, and the upgrade's next version. */
export function imageVersions(s: SandboxState): { current: string; next: string } {
  const [current, next] = (s.registry?.images ?? []).map((i) => i.slice(i.indexOf(':') + 1));
  return { current: current ?? '', next: next ?? '' };
}

/** The repository pods name fedlet's image by (containerd maps the name to the sandbox's registry). */
export const IMAGE_REPOSITORY = `${REGISTRY_NAME}/fedlet`;
