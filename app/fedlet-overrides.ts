// fedlet options for every fedlet of a sandbox (`sandbox up --fedlet-config FILE --set KEY=VALUE`):
// read, checked against the option table one key at a time (so an error names the key and where it came
// from), and turned into the `run` flags the sandbox appends to each fedlet's command line — flags, not a
// --config file, because the sandbox's own flags would beat a file (flag > env > file).
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { ConfigError, loadConfig, options } from '../src/config.js';

/** One row of the option table. */
export type Option = (typeof options)[number];

/** Options the sandbox chooses per fedlet (its cluster, ports, addresses, credentials, certificates). */
export const SANDBOX_OWNED_KEYS: ReadonlySet<string> = new Set([
  'upperKubeconfig',
  'lowerKubeconfig',
  'clusterName',
  'nodeName',
  'nodeIP',
  'kubeletPort',
  'kubeletBindAddress',
  'healthPort',
  'healthBindAddress',
  'certDir',
  'servingCert',
  'tlsCertFile',
  'tlsPrivateKeyFile',
]);

export interface FedletOverrides {
  /** `--flag=value` arguments for `fedlet run`, in the order given. */
  args: string[];
  /** `key=value` per value, for telling the user what was applied. */
  applied: string[];
}

interface Entry {
  option: Option;
  values: string[];
  source: string;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

/** The option a YAML key or flag name names, or a ConfigError naming the key and the closest ones. */
function optionNamed(name: string, source: string, byFlagToo: boolean): Option {
  const bare = name.replace(/^--/, '');
  const o = options.find((x) => x.key === bare || (byFlagToo && x.flag === bare));
  if (!o) {
    const near = options
      .filter((x) => editDistance(x.key.toLowerCase(), bare.toLowerCase()) <= 3 || editDistance(x.flag, bare.toLowerCase()) <= 3)
      .map((x) => x.key);
    throw new ConfigError(
      `${source}: "${bare}" is not a fedlet option${near.length ? `; did you mean ${near.join(' or ')}?` : ''} ('fedlet sandbox up --help' lists the keys)`,
    );
  }
  if (SANDBOX_OWNED_KEYS.has(o.key))
    throw new ConfigError(
      `${source}: the sandbox sets ${o.key} itself, differently for each fedlet (its own cluster, ports, addresses and certificates); to choose it, start the sandbox with --no-fedlet and run fedlet yourself`,
    );
  return o;
}

/** A YAML value of an option as the values of repeated flags (maps, lists, pools, taints) or one flag. */
function flagValues(o: Option, v: unknown, source: string): string[] {
  const text = (x: unknown) => (typeof x === 'object' && x !== null ? JSON.stringify(x) : String(x));
  switch (o.kind) {
    case 'map':
      if (typeof v === 'string') return v.split(',').filter((s) => s.trim());
      if (v && typeof v === 'object' && !Array.isArray(v)) return Object.entries(v).map(([k, x]) => `${k}=${text(x)}`);
      if (Array.isArray(v)) return v.map(text);
      break;
    case 'list':
      if (typeof v === 'string') return v.split(',').filter((s) => s.trim());
      if (Array.isArray(v)) return v.map(text);
      break;
    case 'pools':
      if (typeof v === 'string') return v.split(';').filter((s) => s.trim());
      if (Array.isArray(v))
        return v.map((p, i) => {
          if (typeof p === 'string') return p;
          const o2 = p as { name?: unknown; selector?: unknown };
          if (typeof o2?.name !== 'string' || typeof o2.selector !== 'string')
            throw new ConfigError(`${source}[${i}]: a pool needs name and selector (strings)`);
          return `${o2.name}=${o2.selector}`;
        });
      break;
    case 'taints':
      if (typeof v === 'string') return v.split(',').filter((s) => s.trim());
      if (Array.isArray(v))
        return v.map((t, i) => {
          if (typeof t === 'string') return t;
          const o2 = t as { key?: unknown; value?: unknown; effect?: unknown };
          if (typeof o2?.key !== 'string' || typeof o2.effect !== 'string')
            throw new ConfigError(`${source}[${i}]: a taint needs key and effect`);
          return `${o2.key}${o2.value !== undefined ? `=${text(o2.value)}` : ''}:${o2.effect}`;
        });
      break;
    default:
      if (v !== null && typeof v !== 'object') return [String(v)];
  }
  throw new ConfigError(`${source}: ${text(v)} is not a value of ${o.key} (${o.kind}); see 'fedlet run --help'`);
}

/** Stand-ins for the options the sandbox owns, so that loadConfig can check the rest. */
const placeholders = ['--cluster-name=sandbox-check', '--lower-kubeconfig=unused', '--node-ip=127.0.0.1'];

function check(args: string[], source: string): void {
  try {
    loadConfig({ argv: [...placeholders, ...args], env: {} });
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`${source}: ${e.message}`);
    throw e;
  }
}

function fileEntries(file: string, text: string): Entry[] {
  let parsed: unknown;
  try {
    parsed = yaml.load(text);
  } catch (e) {
    throw new ConfigError(`--fedlet-config ${file} is not valid YAML: ${(e as Error).message}`);
  }
  if (parsed == null) return [];
  if (typeof parsed !== 'object' || Array.isArray(parsed))
    throw new ConfigError(`--fedlet-config ${file}: expected a mapping of fedlet options (YAML keys) at the top level`);
  return Object.entries(parsed as Record<string, unknown>).map(([key, v]) => {
    const source = `--fedlet-config ${file}, key ${key}`;
    const option = optionNamed(key, source, false);
    return { option, values: flagValues(option, v, source), source };
  });
}

function setEntries(sets: string[]): Entry[] {
  return sets.map((s) => {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--set ${s}: expected KEY=VALUE, e.g. --set serviceEndpoints=global`);
    const source = `--set ${s}`;
    return { option: optionNamed(s.slice(0, eq), source, true), values: [s.slice(eq + 1)], source };
  });
}

/**
 * The fedlet flags for `--fedlet-config FILE` and `--set KEY=VALUE`s: a --set beats the file for its key
 * (repeated --set of a repeatable option add up). Throws a ConfigError naming the key and its source.
 */
export function fedletOverrides(input: { configFile?: string; fileText?: string; sets?: string[] }): FedletOverrides {
  let fromFile: Entry[] = [];
  if (input.configFile !== undefined) {
    let text = input.fileText;
    if (text === undefined) {
      try {
        text = readFileSync(input.configFile, 'utf8');
      } catch (e) {
        throw new ConfigError(`--fedlet-config: cannot read ${input.configFile}: ${(e as Error).message}`);
      }
    }
    fromFile = fileEntries(input.configFile, text);
  }
  const fromSet = setEntries(input.sets ?? []);
  const setKeys = new Set(fromSet.map((e) => e.option.key));
  const entries = [...fromFile.filter((e) => !setKeys.has(e.option.key)), ...fromSet];
  const flagsOf = (e: Entry) => e.values.map((v) => `--${e.option.flag}=${v}`);
  const args = entries.flatMap(flagsOf);
  try {
    check(args, 'the fedlet options given to sandbox up');
  } catch (all) {
    // Name the key when one value is wrong on its own; rules between options (the lease renew interval
    // below the lease duration) are reported for the whole set.
    for (const e of entries) check(flagsOf(e), e.source);
    throw all;
  }
  const applied = entries.flatMap((e) => e.values.map((v) => `${e.option.key}=${v}`));
  return { args, applied };
}
