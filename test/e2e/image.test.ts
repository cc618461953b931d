// fedlet's container image as operators get it: built from the repository's Dockerfile by buildah
// (sandbox/images/build-fedlet-image.sh), pushed by skopeo into the sandbox's distribution registry
// (sandbox/registry.ts), pulled over HTTP by the upper cluster's real node's containerd and run by runc.
// Nothing here reads the Dockerfile: what is asserted is what the runtime pulled and ran.
import { afterAll, describe, expect, it } from 'vitest';
import { MEMORY_ENV } from '../../src/memory-env.js';
import { REAL_NODE_TAINT } from '../../sandbox/real-node.js';
import { createNamespace } from './framework/namespaces.js';
import { eventually, kubectl, kubectlJson, sandbox } from './framework/kubectl.js';
import { apply, waitPod } from './framework/real-nodes.js';
import { type ApiPod } from './framework/pods.js';
import { IMAGE_REPOSITORY, imageMissing, imageVersions, upperRealNode } from './framework/image.js';

const s = sandbox();
const missing = imageMissing(s);
const upper = s.upperKubeconfig;
const ns = 'image-e2e';
const { current, next } = imageVersions(s);

/** A run-to-completion pod of the image on the upper real node, as restrictive as the chart's. */
function imagePod(name: string, container: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns },
    spec: {
      nodeName: upperRealNode(s),
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 1,
      tolerations: [{ key: REAL_NODE_TAINT, operator: 'Exists', effect: 'NoSchedule' }],
      // The chart's pod security context. Its runAsGroup matters: given the image's numeric USER
      // 65532:65532 without runAsGroup, the kubelet passes the uid alone and containerd runs the
      // container with gid 0 (no passwd entry to take a group from).
      securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'fedlet',
          image: `${IMAGE_REPOSITORY}:${current}`,
          imagePullPolicy: 'Always',
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
          ...container,
        },
      ],
    },
  };
}

const succeeded = (p: ApiPod) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';

/** The digest the registry serves for a tag (what containerd must report having pulled). */
async function registryDigest(tag: string): Promise<string> {
  const r = await fetch(`http://${s.registry!.endpoint}/v2/fedlet/manifests/${encodeURIComponent(tag)}`, {
    method: 'HEAD',
    headers: { Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
  });
  expect(r.status).toBe(200);
  return r.headers.get('docker-content-digest') ?? '';
}

describe.skipIf(!!missing)(`fedlet's image from the sandbox registry${missing ? ` (skipped: ${missing})` : ''}`, () => {
  afterAll(async () => {
    await kubectl(upper, ['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']).catch(() => undefined);
  });

  it('the registry serves both built versions; the image runs node dist/app/cli.js as uid 65532', async () => {
    const tags = (await (await fetch(`http://${s.registry!.endpoint}/v2/fedlet/tags/list`)).json()) as { tags: string[] };
    expect(tags.tags.sort()).toEqual([current, next].sort());
    expect(next).toBe(`${current}-next`);
    // The configuration of the image as pushed (not as the Dockerfile says).
    const manifest = (await (
      await fetch(`http://${s.registry!.endpoint}/v2/fedlet/manifests/${current}`, {
        headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
      })
    ).json()) as { config: { digest: string }; layers: Array<{ size: number }> };
    const config = (await (await fetch(`http://${s.registry!.endpoint}/v2/fedlet/blobs/${manifest.config.digest}`)).json()) as {
      architecture: string;
      config: { User: string; Entrypoint: string[]; Cmd: string[]; WorkingDir: string; Env: string[] };
    };
    expect(config.architecture).toBe('amd64');
    expect(config.config).toMatchObject({
      User: '65532:65532',
      Entrypoint: ['node', 'dist/app/cli.js'],
      Cmd: ['run'],
      WorkingDir: '/app',
    });
    expect(config.config.Env).toContain('NODE_ENV=production');
    // The memory settings fedlet is measured with (src/memory-env.ts) ship in the image.
    expect(config.config.Env).toEqual(expect.arrayContaining(Object.entries(MEMORY_ENV).map(([k, v]) => `${k}=${v}`)));
    process.stderr.write(
      `[image] fedlet:${current}: ${manifest.layers.length} layers, ${(manifest.layers.reduce((a, l) => a + l.size, 0) / 2 ** 20).toFixed(1)} MiB compressed\n`,
    );
  });

  it("the upper real node's containerd pulls it from the registry and runs `fedlet --help`", async () => {
    await createNamespace(upper, ns);
    await apply(upper, imagePod('fedlet-help', { args: ['--help'] }));
    const p = await waitPod(upper, ns, 'fedlet-help', succeeded, 'ran to completion', 180_000);
    expect(p.status?.phase).toBe('Succeeded');
    expect(await kubectl(upper, ['logs', 'fedlet-help', '-n', ns])).toMatch(/Usage:\n\s+fedlet run/);
    // Pulled, by digest, from the registry: the digest containerd reports is the one the registry serves.
    const status = p.status!.containerStatuses![0]!;
    expect(status.imageID).toBe(`${IMAGE_REPOSITORY}@${await registryDigest(current)}`);
    const events = await kubectlJson<{ items: Array<{ reason: string; message: string }> }>(upper, [
      'get',
      'events',
      '-n',
      ns,
      '--field-selector',
      'involvedObject.name=fedlet-help',
    ]);
    expect(events.items.map((e) => `${e.reason}: ${e.message}`)).toContainEqual(
      expect.stringMatching(new RegExp(`^Pulled: Successfully pulled image "${IMAGE_REPOSITORY}:${current}"`)),
    );
  });

  it('ships production dependencies only, runs as 65532, and cannot write its root filesystem', async () => {
    // Run by the image's own node, from the image's working directory, with the chart's security context.
    const script = [
      "const fs = require('fs');",
      "const has = (m) => fs.existsSync('/app/node_modules/' + m);",
      "let write = 'written'; try { fs.writeFileSync('/app/probe', 'x'); } catch (e) { write = e.code; }",
      'console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), cwd: process.cwd(), node: process.version,',
      "  typescript: has('typescript'), vitest: has('vitest'), eslint: has('eslint'), pinoPretty: has('pino-pretty'),",
      "  pino: has('pino'), client: has('@kubernetes/client-node'), cli: fs.existsSync('/app/dist/app/cli.js'),",
      "  version: JSON.parse(fs.readFileSync('/app/package.json', 'utf8')).version, write }));",
    ].join('\n');
    await apply(upper, imagePod('fedlet-inspect', { command: ['node', '-e', script] }));
    const p = await waitPod(upper, ns, 'fedlet-inspect', succeeded, 'ran to completion', 180_000);
    const logs = await kubectl(upper, ['logs', 'fedlet-inspect', '-n', ns]);
    expect(p.status?.phase, logs).toBe('Succeeded');
    const seen = JSON.parse(logs.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(seen).toEqual({
      uid: 65532,
      gid: 65532,
      cwd: '/app',
      node: expect.stringMatching(/^v20\./),
      typescript: false,
      vitest: false,
      eslint: false,
      pinoPretty: false,
      pino: true,
      client: true,
      cli: true,
      version: current,
      write: 'EROFS',
    });
  });

  it('the second tag is the same build stamped with the next version', async () => {
    await apply(
      upper,
      imagePod('fedlet-next-version', {
        image: `${IMAGE_REPOSITORY}:${next}`,
        command: ['node', '-p', "require('/app/package.json').version"],
      }),
    );
    await waitPod(upper, ns, 'fedlet-next-version', succeeded, 'ran to completion', 180_000);
    await eventually(async () => expect((await kubectl(upper, ['logs', 'fedlet-next-version', '-n', ns])).trim()).toBe(next), {
      what: 'the next version printed',
    });
  });
});
