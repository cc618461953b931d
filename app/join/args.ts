// The command lines of `fedlet join` and `fedlet leave`, and the names both derive from them exactly as
// the chart does (charts/fedlet/templates/_helpers.tpl): the release, the objects' full name, the virtual
// node, the lower ServiceAccount and the kubeconfig Secret. One place, so leave removes what join made.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../src/config.js';
import { eachFlag } from '../args.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** What join and leave both take: the two clusters and the names of the release. */
export interface ReleaseArgs {
  upperKubeconfig: string;
  lowerKubeconfig: string;
  cluster: string;
  namespace: string;
  release: string;
  nodeName: string;
  dryRun: boolean;
}

export interface JoinArgs extends ReleaseArgs {
  chart: string;
  /** `--set key=value` for the upper half, in order (helm's own syntax, passed through). */
  set: string[];
  /** `--values FILE` for the upper half, in order. */
  values: string[];
  image?: { repository: string; tag: string };
  /** Where the upper cluster's pods reach the lower API server (default: the lower kubeconfig's server). */
  lowerServer?: string;
  tokenSeconds: number;
  timeoutSeconds: number;
}

export interface LeaveArgs extends ReleaseArgs {
  timeoutSeconds: number;
  force: boolean;
}

/** The chart's fullname: the release name, prefixed with "fedlet-" unless it contains "fedlet", at most 52. */
export function chartFullname(release: string): string {
  const n = release.includes('fedlet') ? release : `fedlet-${release}`;
  return n.slice(0, 52).replace(/-+$/, '');
}

/** The names every step uses, derived once. */
export interface JoinNames {
  fullname: string;
  /** The lower ServiceAccount (chart target=lower), in `namespace` of the lower cluster. */
  serviceAccount: string;
  /** The upper Secret holding fedlet's lower kubeconfig, in `namespace` of the upper cluster. */
  secret: string;
}

export function joinNames(a: ReleaseArgs): JoinNames {
  const fullname = chartFullname(a.release);
  return { fullname, serviceAccount: fullname, secret: `${fullname}-lower-kubeconfig` };
}

/** "5m", "90s", "24h", "1h30m" or plain seconds, as seconds. */
export function parseDuration(flag: string, text: string): number {
  if (/^\d+$/.test(text)) return Number(text);
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (!m || text === '') throw new ConfigError(`${flag} ${text}: use a duration such as 90s, 5m, 24h or 1h30m`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

/** The chart shipped beside this program (the repository's or the image's charts/fedlet). */
export function defaultChart(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const c = path.join(dir, 'charts', 'fedlet');
    if (existsSync(path.join(c, 'Chart.yaml'))) return c;
    dir = path.dirname(dir);
  }
  return 'charts/fedlet';
}

/** Flags both commands share; returns false for a flag it does not know. */
function releaseFlag(a: Partial<ReleaseArgs>, name: string, value: () => string): boolean {
  if (name === '--upper-kubeconfig') a.upperKubeconfig = value();
  else if (name === '--lower-kubeconfig') a.lowerKubeconfig = value();
  else if (name === '--cluster') a.cluster = value();
  else if (name === '--namespace' || name === '-n') a.namespace = value();
  else if (name === '--release') a.release = value();
  else if (name === '--node-name') a.nodeName = value();
  else if (name === '--dry-run') a.dryRun = true;
  else return false;
  return true;
}

/** Checks the shared flags and fills in the defaults: release fedlet-<cluster> (or the node's name), node = release. */
function completeRelease(cmd: string, a: Partial<ReleaseArgs>): ReleaseArgs {
  const missing = [
    !a.upperKubeconfig && '--upper-kubeconfig FILE',
    !a.lowerKubeconfig && '--lower-kubeconfig FILE',
    !a.cluster && '--cluster NAME',
  ].filter(Boolean);
  if (missing.length) throw new ConfigError(`${cmd} needs ${missing.join(', ')} (fedlet ${cmd} --help)`);
  if (!DNS_LABEL.test(a.cluster!))
    throw new ConfigError(`--cluster ${a.cluster}: not a DNS label (lower-case letters, digits and '-', at most 63)`);
  for (const f of [a.upperKubeconfig!, a.lowerKubeconfig!])
    if (!existsSync(f)) throw new ConfigError(`kubeconfig ${f} does not exist`);
  const namespace = a.namespace ?? 'fedlet-system';
  if (!DNS_LABEL.test(namespace)) throw new ConfigError(`--namespace ${namespace}: not a namespace name`);
  // The node's account may write only the Node named after it: a node name given alone names the release.
  const release = a.release ?? a.nodeName ?? `fedlet-${a.cluster}`;
  if (!DNS_LABEL.test(release) || release.length > 53)
    throw new ConfigError(`--release ${release}: not a valid release name (a DNS label of at most 53 characters)`);
  const full = chartFullname(release);
  const nodeName = a.nodeName ?? full;
  if (!DNS_SUBDOMAIN.test(nodeName)) throw new ConfigError(`--node-name ${nodeName}: not a valid Node name`);
  if (nodeName !== full && !nodeName.startsWith(`${full}-`))
    throw new ConfigError(
      `--node-name ${nodeName} must be the release's name ${full} or start with ${full}-: fedlet's account, named by the chart after the release, may write only the Node named after it. ${a.release ? 'Change --node-name or --release' : 'Name the node fedlet-..., or give --release R with --node-name fedlet-R or fedlet-R-...'}`,
    );
  return {
    upperKubeconfig: a.upperKubeconfig!,
    lowerKubeconfig: a.lowerKubeconfig!,
    cluster: a.cluster!,
    namespace,
    release,
    nodeName,
    dryRun: a.dryRun ?? false,
  };
}

export function joinArgs(argv: string[]): JoinArgs {
  const a: Partial<JoinArgs> & { set: string[]; values: string[] } = { set: [], values: [] };
  let image: string | undefined;
  let token = '24h';
  let timeout = '5m';
  eachFlag(argv, (name, value, raw) => {
    if (releaseFlag(a, name, value)) return;
    if (name === '--set') a.set.push(value());
    else if (name === '--values' || name === '-f') a.values.push(value());
    else if (name === '--chart') a.chart = value();
    else if (name === '--image') image = value();
    else if (name === '--lower-server') a.lowerServer = value();
    else if (name === '--token-duration') token = value();
    else if (name === '--timeout') timeout = value();
    else throw new ConfigError(`unknown join option ${raw}; see 'fedlet join --help'`);
  });
  const base = completeRelease('join', a);
  for (const s of a.set) if (!/^[^=]+=/.test(s)) throw new ConfigError(`--set ${s}: use KEY=VALUE (helm's --set syntax)`);
  for (const f of a.values) if (!existsSync(f)) throw new ConfigError(`--values ${f} does not exist`);
  const chart = a.chart ?? defaultChart();
  if (!existsSync(path.join(chart, 'Chart.yaml')))
    throw new ConfigError(`--chart ${chart}: no Chart.yaml there; give the path of fedlet's chart (charts/fedlet)`);
  let img: JoinArgs['image'];
  if (image !== undefined) {
    const m = /^(.+?)(?::([\w][\w.-]{0,127}))?$/.exec(image);
    if (!m || !m[2] || m[1]!.endsWith('/'))
      throw new ConfigError(`--image ${image}: use REPOSITORY:TAG (e.g. registry.example/fedlet:0.1.0)`);
    img = { repository: m[1]!, tag: m[2] };
  }
  if (a.lowerServer !== undefined && !/^https:\/\/[^/\s]+\/?$/.test(a.lowerServer))
    throw new ConfigError(`--lower-server ${a.lowerServer}: use https://HOST:PORT`);
  const tokenSeconds = parseDuration('--token-duration', token);
  if (tokenSeconds < 600) throw new ConfigError('--token-duration must be at least 10m (the API server refuses shorter tokens)');
  const timeoutSeconds = parseDuration('--timeout', timeout);
  if (timeoutSeconds < 1) throw new ConfigError('--timeout must be positive');
  return {
    ...base,
    chart,
    set: a.set,
    values: a.values,
    ...(img ? { image: img } : {}),
    ...(a.lowerServer ? { lowerServer: a.lowerServer.replace(/\/$/, '') } : {}),
    tokenSeconds,
    timeoutSeconds,
  };
}

export function leaveArgs(argv: string[]): LeaveArgs {
  const a: Partial<LeaveArgs> = {};
  let timeout = '5m';
  eachFlag(argv, (name, value, raw) => {
    if (releaseFlag(a, name, value)) return;
    if (name === '--timeout') timeout = value();
    else if (name === '--force') a.force = true;
    else throw new ConfigError(`unknown leave option ${raw}; see 'fedlet leave --help'`);
  });
  const base = completeRelease('leave', a);
  const timeoutSeconds = parseDuration('--timeout', timeout);
  if (timeoutSeconds < 1) throw new ConfigError('--timeout must be positive');
  return { ...base, timeoutSeconds, force: a.force ?? false };
}
