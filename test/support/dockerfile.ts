// A rehearsal of the project's Dockerfile without a container engine (none on the test machines): each
// stage becomes a directory, COPY copies from the build context or an earlier stage, RUN runs in the
// stage's WORKDIR with the host's Node.js (the test checks its major version equals the base image's),
// and the final stage's ENTRYPOINT/CMD/USER/ENV describe how to start the packaged artifact. It proves
// what the image would contain is complete and runs with production dependencies only, as the image's
// user; it does not prove the base image or Docker's own semantics. Unknown instructions are errors,
// so the rehearsal cannot silently drift from the Dockerfile.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface RehearsedStage {
  name: string;
  from: string;
  /** Directory standing for the stage's root filesystem. */
  root: string;
  workdir: string;
  env: Record<string, string>;
  user?: { uid: number; gid: number };
  entrypoint: string[];
  cmd: string[];
}

/** Splits "a b c" or the JSON exec form ["a","b"]. */
function words(rest: string): string[] {
  return rest.trim().startsWith('[') ? (JSON.parse(rest) as string[]) : rest.trim().split(/\s+/);
}

export function rehearseDockerfile(o: {
  context: string;
  dockerfile: string;
  out: string;
  runEnv?: Record<string, string>;
  log?: (m: string) => void;
}): RehearsedStage[] {
  const stages: RehearsedStage[] = [];
  const lines = readFileSync(o.dockerfile, 'utf8').split('\n');
  const inStage = (st: RehearsedStage, p: string) => path.join(st.root, path.isAbsolute(p) ? p : path.join(st.workdir, p));
  let cur: RehearsedStage | undefined;
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const where = `${path.basename(o.dockerfile)}:${i + 1}`;
    if (line.endsWith('\\')) throw new Error(`${where}: line continuations are not supported by the rehearsal`);
    const [instr, ...restParts] = line.split(/\s+/);
    const rest = line.slice(instr!.length).trim();
    const op = instr!.toUpperCase();
    if (op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (!m) throw new Error(`${where}: cannot read FROM ${rest}`);
      const name = m[2] ?? `stage-${stages.length}`;
      cur = { name, from: m[1]!, root: path.join(o.out, name), workdir: '/', env: {}, entrypoint: [], cmd: [] };
      mkdirSync(cur.root, { recursive: true });
      stages.push(cur);
      continue;
    }
    if (!cur) throw new Error(`${where}: ${op} before FROM`);
    const st = cur;
    switch (op) {
      case 'WORKDIR':
        st.workdir = path.posix.resolve(st.workdir, rest);
        mkdirSync(inStage(st, '.'), { recursive: true });
        break;
      case 'ENV': {
        for (const kv of restParts) {
          const eq = kv.indexOf('=');
          if (eq < 1) throw new Error(`${where}: ENV wants KEY=VALUE`);
          st.env[kv.slice(0, eq)] = kv.slice(eq + 1);
        }
        break;
      }
      case 'COPY': {
        let parts = restParts;
        let fromRoot = o.context;
        let fromStage: RehearsedStage | undefined;
        if (parts[0]?.startsWith('--from=')) {
          const ref = parts[0].slice('--from='.length);
          fromStage = stages.find((s) => s.name === ref);
          if (!fromStage) throw new Error(`${where}: no earlier stage ${ref}`);
          fromRoot = fromStage.root;
          parts = parts.slice(1);
        }
        if (parts.some((p) => p.startsWith('--'))) throw new Error(`${where}: COPY options other than --from are not supported`);
        const dest = parts[parts.length - 1]!;
        const sources = parts.slice(0, -1);
        const destPath = inStage(st, dest);
        for (const src of sources) {
          const srcPath = fromStage ? path.join(fromRoot, src) : path.join(o.context, src);
          const target = dest.endsWith('/') ? path.join(destPath, path.basename(src)) : destPath;
          mkdirSync(path.dirname(target), { recursive: true });
          cpSync(srcPath, target, { recursive: true, verbatimSymlinks: true });
        }
        break;
      }
      case 'RUN':
        o.log?.(`RUN ${rest}`);
        execFileSync('bash', ['-ec', rest], {
          cwd: inStage(st, '.'),
          env: { ...process.env, ...st.env, ...o.runEnv },
          stdio: ['ignore', 'pipe', 'pipe'],
          maxBuffer: 64 * 1024 * 1024,
        });
        break;
      case 'USER': {
        const m = /^(\d+)(?::(\d+))?$/.exec(rest);
        if (!m) throw new Error(`${where}: USER must be numeric uid[:gid] (so the image needs no passwd entry)`);
        st.user = { uid: Number(m[1]), gid: Number(m[2] ?? m[1]) };
        break;
      }
      case 'ENTRYPOINT':
        st.entrypoint = words(rest);
        break;
      case 'CMD':
        st.cmd = words(rest);
        break;
      case 'EXPOSE':
        break;
      default:
        throw new Error(`${where}: the rehearsal does not know ${op}`);
    }
  }
  if (!stages.length) throw new Error(`${o.dockerfile}: no FROM`);
  return stages;
}
