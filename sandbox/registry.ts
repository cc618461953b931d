// The sandbox's container registry: Debian's distribution registry (`docker-registry`), plain HTTP on the
// sandbox's node address, from which the real nodes' containerd pulls fedlet's image under the name
// registry.fedlet.local (sandbox/real-node.ts maps that name to this endpoint in containerd's hosts.toml).
// The images built by sandbox/images/build-fedlet-image.sh are pushed into it with skopeo, so operators'
// path — build, push, pull, run — is the one the e2e suite takes; nothing is imported behind the
// runtime's back.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { imagesDir } from './binaries.js';
import { hostPort } from './node-address.js';
import { startProcess, type ProcessRecord } from './processes.js';

/** The registry name pods use (`registry.fedlet.local/fedlet:0.1.0`); containerd resolves it to `endpoint`. */
export const REGISTRY_NAME = 'registry.fedlet.local';
export const REGISTRY_BINARY = '/usr/bin/docker-registry';

export interface RegistryRecord {
  process: ProcessRecord;
  /** host:port the registry listens on (plain HTTP), reachable from the real nodes. */
  endpoint: string;
  /** Images pushed at start: repository:tag as pods name them under REGISTRY_NAME. */
  images: string[];
}

/** What build-fedlet-image.sh wrote next to its archives (fedlet-image.json). */
export interface FedletImageInfo {
  version: string;
  next: string;
  archive: string;
  nextArchive: string;
  unpackedSize?: string;
  archiveBytes?: number;
}

export function fedletImageInfo(): FedletImageInfo | undefined {
  const f = path.join(imagesDir(), 'fedlet-image.json');
  if (!existsSync(f)) return undefined;
  const info = JSON.parse(readFileSync(f, 'utf8')) as FedletImageInfo;
  return existsSync(path.join(imagesDir(), info.archive)) && existsSync(path.join(imagesDir(), info.nextArchive))
    ? info
    : undefined;
}

/** Why the sandbox cannot run its registry with fedlet's image in it, or undefined when it can. */
export function registryUnavailableReason(): string | undefined {
  if (!existsSync(REGISTRY_BINARY))
    return `${REGISTRY_BINARY} is missing (Debian: docker-registry; npm run setup installs it as root)`;
  for (const tool of ['/usr/bin/skopeo']) if (!existsSync(tool)) return `${tool} is missing (Debian: skopeo)`;
  if (!fedletImageInfo())
    return `fedlet's image is not built in ${imagesDir()}: run 'npm run setup' (sandbox/images/build-fedlet-image.sh)`;
  return undefined;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`)) : resolve(stdout),
    ),
  );
}

/** The registry's v2 API answers (it listens before it serves). */
async function waitForRegistry(endpoint: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`http://${endpoint}/v2/`);
      if (r.status === 200) return;
      last = `HTTP ${r.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the registry at ${endpoint} did not answer /v2/ within ${timeoutMs} ms: ${last}`);
}

/** Copies an OCI archive into the registry as repository:tag (skopeo, plain HTTP). */
export async function pushArchive(endpoint: string, archive: string, ref: string): Promise<void> {
  await run(
    '/usr/bin/skopeo',
    ['copy', '--quiet', '--dest-tls-verify=false', `oci-archive:${archive}`, `docker://${endpoint}/${ref}`],
    300_000,
  );
}

/**
 * Starts the registry in `dir` on address:port and pushes fedlet's two image versions into it.
 * Storage lives in the sandbox directory and goes with it.
 */
export async function startRegistry(dir: string, address: string, port: number): Promise<RegistryRecord> {
  const why = registryUnavailableReason();
  if (why) throw new Error(`registry: ${why}`);
  mkdirSync(path.join(dir, 'storage'), { recursive: true });
  const endpoint = hostPort(address, port);
  const config = path.join(dir, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log: {level: warn, formatter: text}',
      'storage:',
      `  filesystem: {rootdirectory: ${path.join(dir, 'storage')}}`,
      '  delete: {enabled: true}',
      'http:',
      `  addr: ${endpoint}`,
      '',
    ].join('\n'),
  );
  const proc = startProcess('registry', REGISTRY_BINARY, ['serve', config], path.join(dir, 'registry.log'));
  await waitForRegistry(endpoint, 30_000);
  const info = fedletImageInfo()!;
  const images = [`fedlet:${info.version}`, `fedlet:${info.next}`];
  await pushArchive(endpoint, path.join(imagesDir(), info.archive), images[0]!);
  await pushArchive(endpoint, path.join(imagesDir(), info.nextArchive), images[1]!);
  return { process: proc, endpoint, images };
}
