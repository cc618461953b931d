// Starts one sandbox (upper + 2 lower clusters from real binaries, one fedlet per lower) for the whole
// e2e run, or attaches to existing clusters given by FEDLET_E2E_UPPER_KUBECONFIG and
// FEDLET_E2E_LOWER_KUBECONFIGS (comma-separated). Tears down exactly what it started.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { realNodeUnavailableReason } from '../../sandbox/real-node.js';
import { loadState, repoRoot, sandboxAttach, sandboxDown, sandboxUp, type SandboxState } from '../../sandbox/sandbox.js';

declare module 'vitest' {
  export interface ProvidedContext {
    sandboxDir: string;
  }
}

let state: SandboxState | undefined;

export async function setup(project: TestProject): Promise<void> {
  const dir = process.env.FEDLET_E2E_DIR ?? mkdtempSync(path.join(os.tmpdir(), 'fedlet-e2e-'));
  const progress = (m: string) => process.stderr.write(`[e2e] ${m}\n`);
  const started = Date.now();
  if (process.env.FEDLET_E2E_UPPER_KUBECONFIG) {
    const lowers = (process.env.FEDLET_E2E_LOWER_KUBECONFIGS ?? '').split(',').filter(Boolean);
    if (lowers.length < 2)
      throw new Error('FEDLET_E2E_LOWER_KUBECONFIGS must name at least two lower kubeconfigs, comma-separated');
    state = await sandboxAttach({
      dir,
      upperKubeconfig: process.env.FEDLET_E2E_UPPER_KUBECONFIG,
      lowerKubeconfigs: lowers,
      progress,
    });
  } else {
    // One real node per lower cluster when this machine can run them (root, inside netns-run.sh); the
    // real-node tests skip by name otherwise. FEDLET_E2E_REAL_NODES=0 turns them off.
    const why = process.env.FEDLET_E2E_REAL_NODES === '0' ? 'FEDLET_E2E_REAL_NODES=0' : realNodeUnavailableReason();
    if (why) progress(`no real nodes: ${why}`);
    else await ensureFedletImage(progress);
    // Short-lived CSR certificates, so the serving-certificate renewal test sees a real renewal.
    state = await sandboxUp({ dir, lowers: 2, progress, realNodes: why ? 0 : 1, upperCertificateDuration: '2m' });
  }
  progress(`environment ready in ${((Date.now() - started) / 1000).toFixed(1)}s (${dir})`);
  project.provide('sandboxDir', dir);
}

/**
 * The image tests run the image built from the current sources: build-fedlet-image.sh is cached by the
 * hash of its inputs, so this is a no-op after `npm run setup` and a rebuild (layers of the unchanged
 * steps reused) after a source change. Machines without buildah (not set up as root) skip it; the
 * image tests then skip, naming the reason.
 */
async function ensureFedletImage(progress: (m: string) => void): Promise<void> {
  if (!existsSync('/usr/bin/buildah')) return progress("no buildah: fedlet's image is not built, the image tests skip");
  const started = Date.now();
  const script = path.join(repoRoot(), 'sandbox', 'images', 'build-fedlet-image.sh');
  await new Promise<void>((resolve, reject) =>
    execFile('bash', [script], { timeout: 900_000, encoding: 'utf8' }, (err, _out, stderr) =>
      err ? reject(new Error(`building fedlet's image failed: ${stderr.trim() || err.message}`)) : resolve(),
    ),
  );
  progress(`fedlet's image current after ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

/**
 * fedlet ran with exactly the manifests' RBAC: a Forbidden answer in its logs means the manifests lack
 * a permission it uses, and fails the run. Excepted: the first 60 s after a test restarted an API
 * server, whose RBAC authorizer answers Forbidden until it has loaded roles and bindings.
 */
export function forbiddenInLogs(dir: string): string[] {
  const restarts = (() => {
    try {
      const st = loadState(dir);
      return [st.upper, ...st.lowers].flatMap((c) => c.restarts ?? []);
    } catch {
      return [];
    }
  })();
  const hits: string[] = [];
  for (const f of readdirSync(dir).filter((x) => /^fedlet-.*\.log$/.test(x)))
    for (const line of readFileSync(path.join(dir, f), 'utf8').split('\n')) {
      // RBAC denials read "... cannot <verb> resource ..."; admission refusals of pods (PodSecurity,
      // quota), which fedlet reports as LowerRejected, are not about the manifests.
      if (!/forbidden/i.test(line) || !/cannot \w+ resource/i.test(line)) continue;
      const t = Number(/"time":(\d+)/.exec(line)?.[1] ?? 0);
      if (restarts.some((r) => t >= r && t - r < 60_000)) continue;
      hits.push(`${f}: ${line.slice(0, 400)}`);
    }
  return hits;
}

export async function teardown(): Promise<void> {
  if (!state) return;
  const hits = forbiddenInLogs(state.dir);
  if (!process.env.FEDLET_E2E_KEEP) await sandboxDown(state.dir);
  if (hits.length)
    throw new Error(`fedlet logged Forbidden errors: the RBAC in manifests/ is missing a permission:\n${hits.join('\n')}`);
}
