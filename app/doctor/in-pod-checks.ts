// The checks of `fedlet doctor` that run inside the probe's container (kubectl exec of a busybox script):
// `dns-service` resolves the probe's own Service by the lower cluster's DNS and reaches it at its
// ClusterIP, as a workload below finds a Service fedlet copied there; `token` checks what an in-cluster
// client needs (docs/tokens.md): the pod's token, the upper API server's address, a route to it, and
// the upper API server accepting that token (presented by doctor: busybox cannot complete TLS with it). A
// simulated lower node (kwok) runs exec on its host, not in a container: the scripts notice (the probe's
// own environment variable is missing) and the checks are skipped, saying so, instead of failing.
import { KubeApiError, KubeClient } from '../../src/kube/client.js';
import type { Pod, Service } from '../../src/kube/types.js';
import { LABEL_DOCTOR, LABEL_DOCTOR_PROBE } from '../../src/labels.js';
import type { Kubectl } from './kubectl.js';
import { PROBE_ENV, PROBE_PORT } from './probe-streams.js';
import { failed, ok, skipped, type Check } from './report.js';

export { PROBE_ENV } from './probe-streams.js';
const SIMULATED = '@@simulated';

export function probeService(pod: Pod, runId: string): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: pod.metadata.name!, namespace: pod.metadata.namespace, labels: { [LABEL_DOCTOR]: runId } },
    spec: {
      selector: { [LABEL_DOCTOR_PROBE]: pod.metadata.name! },
      ports: [{ name: 'http', port: PROBE_PORT, targetPort: PROBE_PORT, protocol: 'TCP' }],
    },
  };
}

const inContainer = (runId: string) => `[ "$${PROBE_ENV}" = "${runId}" ] || { echo ${SIMULATED}; exit 0; }`;

/**
 * Resolves the Service by its full name (busybox's nslookup ignores the search list; the lower namespace
 * and cluster domain come from the pod's resolv.conf, so a remapped namespace is found too), after
 * checking that the nameserver knows kubernetes.default at all; then fetches from the ClusterIP.
 */
export function dnsScript(service: string, runId: string): string {
  return [
    inContainer(runId),
    `s=$(sed -n 's/^search[[:space:]]*//p' /etc/resolv.conf | head -n 1 | cut -d' ' -f1)`,
    `ns=$(sed -n 's/^nameserver[[:space:]]*//p' /etc/resolv.conf | head -n 1)`,
    `echo "@@nameserver $ns search $s"`,
    `[ -n "$s" ] || { echo "@@no-cluster-dns no search domain in /etc/resolv.conf"; exit 0; }`,
    `nslookup "kubernetes.default.\${s#*.}" >/dev/null 2>&1 || { echo "@@no-cluster-dns kubernetes.default.\${s#*.} does not resolve"; exit 0; }`,
    `name="${service}.$s"; addr=''; i=0`,
    `while [ $i -lt 20 ]; do addr=$(nslookup "$name" 2>/dev/null | sed -n '/^Name:/,$ s/^Address:[[:space:]]*//p' | head -n 1); [ -n "$addr" ] && break; i=$((i+1)); sleep 1; done`,
    `[ -n "$addr" ] || { echo "@@unresolved $name"; exit 0; }`,
    `echo "@@resolved $name $addr"`,
    // timeout, not wget -T: Debian's static busybox wget crashes with -T.
    `out=$(timeout 10 wget -q -O- "http://$addr:${PROBE_PORT}/" 2>&1); rc=$?`,
    `echo "@@wget $rc $(echo "$out" | head -n 1)"`,
  ].join('\n');
}

const simulatedSkip = (node: string, check: string) =>
  skipped(
    node,
    check,
    "exec does not run in the probe's container: its lower cluster put it on a simulated node (e.g. kwok), which runs no container",
    'to check it, put the probe on a real lower node: --probe-node-selector KEY=VALUE (a label only those nodes carry) and --probe-toleration KEY for their taints',
  );

const marker = (out: string, name: string) =>
  new RegExp(`^@@${name}(?: (.*))?$`, 'm').exec(out)?.[1] ?? (out.includes(`@@${name}`) ? '' : undefined);

/** Decides dns-service from the script's output. Pure. */
export function evaluateDns(node: string, service: string, code: number, out: string, err: string): Check {
  if (out.includes(SIMULATED)) return simulatedSkip(node, 'dns-service');
  const noDns = marker(out, 'no-cluster-dns');
  if (noDns !== undefined)
    return skipped(
      node,
      'dns-service',
      `the lower cluster has no cluster DNS for the probe (${noDns}; ${marker(out, 'nameserver') ?? ''})`,
      'Services below are found by DNS only where the lower cluster runs CoreDNS or kube-dns',
    );
  const unresolved = marker(out, 'unresolved');
  if (unresolved !== undefined)
    return failed(
      node,
      'dns-service',
      `the probe's Service ${service} did not resolve in the lower cluster within 20 s (${unresolved})`,
      `fedlet copies a Service into clusters that run a pod of its namespace: look for LowerObjectConflict or LowerObjectRejected events (kubectl get events --field-selector involvedObject.kind=Service) and in fedlet's logs`,
    );
  const resolved = marker(out, 'resolved');
  const got = marker(out, 'wget');
  if (resolved === undefined || got === undefined)
    return failed(
      node,
      'dns-service',
      `kubectl exec of the DNS script: exit ${code}: ${(err || out).trim().slice(0, 300)}`,
      'see exec',
    );
  const [rc, ...rest] = got.split(' ');
  const answer = rest.join(' ');
  const [name, addr] = resolved.split(' ');
  if (rc === '0' || /server returned error: HTTP\/1\.\d \d{3}/.test(answer))
    return ok(node, 'dns-service', `resolved ${name} to ${addr} and got an HTTP answer from the probe through the Service`);
  return failed(
    node,
    'dns-service',
    `resolved ${name} to ${addr}, but no HTTP answer there: ${answer || (rc === '143' || rc === '124' ? 'none in 10 s' : `wget exit ${rc}`)}`,
    "the lower Service has no ready endpoint for the probe, or the lower cluster's Service routing (kube-proxy, the CNI; here a pod reaching itself, hairpin) does not forward it: check the lower Service's EndpointSlices",
  );
}

const TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * Inside the probe: is there a token, does the pod know the upper API server's address, and does that
 * address answer (plain HTTP to its HTTPS port: an API server answers 400, which proves the route; the
 * probe's busybox cannot complete TLS with Go's server)? Then hands the token over, for doctor to
 * present it to the upper API server.
 */
export function tokenScript(runId: string): string {
  return [
    inContainer(runId),
    `[ -s ${TOKEN_FILE} ] || { echo "@@no-token"; exit 0; }`,
    `[ -n "$KUBERNETES_SERVICE_HOST" ] || { echo "@@no-address"; exit 0; }`,
    `h=$KUBERNETES_SERVICE_HOST; case $h in *:*) h="[$h]";; esac`,
    `p=\${KUBERNETES_SERVICE_PORT:-443}`,
    `echo "@@server https://$h:$p"`,
    // timeout, not wget -T: Debian's static busybox wget crashes with -T.
    `out=$(timeout 10 wget -q -O- "http://$h:$p/" 2>&1); rc=$?`,
    `echo "@@reach $rc $out" | tr '\\n' ' '; echo`,
    `echo "@@token $(cat ${TOKEN_FILE})"`,
  ].join('\n');
}

export interface TokenProbe {
  verdict: 'simulated' | 'no-token' | 'no-address' | 'unreachable' | 'broken' | 'reached';
  server?: string;
  detail?: string;
  /** The pod's token: never printed. */
  token?: string;
}

/** Reads the script's output; the token never appears in what it returns as text. Pure. */
export function parseTokenProbe(code: number, out: string, err: string): TokenProbe {
  const token = /^@@token (\S+)$/m.exec(out)?.[1];
  const shown = out.replace(/^@@token .*$/m, '@@token (hidden)');
  if (out.includes(SIMULATED)) return { verdict: 'simulated' };
  if (out.includes('@@no-token')) return { verdict: 'no-token' };
  if (out.includes('@@no-address')) return { verdict: 'no-address' };
  const server = marker(out, 'server');
  const reach = /^@@reach (\d+) ?(.*)$/m.exec(out);
  if (!server || !reach || !token) return { verdict: 'broken', detail: `exit ${code}: ${(err || shown).trim().slice(0, 300)}` };
  const [, rc, text = ''] = reach;
  const answered = rc === '0' || /server returned error: HTTP\/1\.\d \d{3}/.test(text);
  return answered
    ? { verdict: 'reached', server, token }
    : {
        verdict: 'unreachable',
        server,
        detail: text.trim().slice(0, 200) || (rc === '143' ? 'no answer in 10 s' : `wget exit ${rc}`),
      };
}

/** What the upper API server said to the pod's token (SelfSubjectReview). */
export interface TokenReview {
  user?: string;
  code?: number;
  error?: string;
}

/** Decides token from what the pod saw and what the upper API server said to its token. Pure. */
export function evaluateToken(node: string, namespace: string, probe: TokenProbe, review?: TokenReview): Check {
  const docs = 'docs/tokens.md';
  switch (probe.verdict) {
    case 'simulated':
      return simulatedSkip(node, 'token');
    case 'no-token':
      return failed(
        node,
        'token',
        'the probe has no service-account token file, though it asks for one',
        `fedlet mounts the upper token as a lower Secret: check the probe's events and fedlet's logs (${docs})`,
      );
    case 'no-address':
      return failed(
        node,
        'token',
        'KUBERNETES_SERVICE_HOST is empty in the probe: fedlet runs without upperAPIServerAddress, so in-cluster clients cannot find the upper API server',
        `set upperAPIServerAddress to an address of the upper API server that lower pods reach and its certificate names (${docs})`,
      );
    case 'broken':
      return failed(node, 'token', `kubectl exec of the token script: ${probe.detail ?? ''}`, 'see exec');
    case 'unreachable':
      return failed(
        node,
        'token',
        `the probe cannot reach the upper API server at ${probe.server}: ${probe.detail ?? ''}`,
        'upperAPIServerAddress must be reachable from lower pods: check routes, firewalls and NetworkPolicies between the lower nodes and the upper API server',
      );
  }
  const reached = `the probe reaches the upper API server at ${probe.server}`;
  if (review?.user) {
    if (!review.user.startsWith('(') && !review.user.startsWith(`system:serviceaccount:${namespace}:`))
      return failed(
        node,
        'token',
        `${reached}, but its token is taken as ${review.user}, not as a service account of ${namespace}`,
        `the pod holds a token of another identity: check what fedlet mounts (${docs})`,
      );
    return ok(node, 'token', `${reached}, which accepts the pod's projected token as ${review.user} (SelfSubjectReview with it)`);
  }
  if (review?.code === 401)
    return failed(
      node,
      'token',
      `${reached}, but the upper API server refuses the pod's token (401 Unauthorized)`,
      `the token is not one this upper cluster issued or is no longer valid: check fedlet's token events on the probe (${docs})`,
    );
  return failed(node, 'token', `${reached}; presenting its token failed: ${review?.error ?? 'no answer'}`, docs);
}

export async function dnsServiceCheck(
  kubectl: Kubectl,
  node: string,
  pod: Pod,
  runId: string,
  service: string | undefined,
): Promise<Check> {
  if (!service) return skipped(node, 'dns-service', `may not create Services in ${pod.metadata.namespace} (see rbac)`);
  const r = await kubectl.run(
    ['exec', '-n', pod.metadata.namespace!, pod.metadata.name!, '-c', 'probe', '--', 'sh', '-c', dnsScript(service, runId)],
    60_000,
  );
  return evaluateDns(node, service, r.code, r.stdout, r.stderr);
}

/** SelfSubjectReview with the given token (only the API server's address and CA from doctor's kubeconfig). */
export async function reviewToken(upper: KubeClient, token: string): Promise<TokenReview> {
  const asPod = new KubeClient(
    {
      server: upper.credentials.server,
      async apply(opts) {
        await upper.credentials.apply(opts);
        // The pod's token alone: a client certificate would authenticate first.
        delete opts.cert;
        delete opts.key;
        opts.headers = { ...opts.headers, Authorization: `Bearer ${token}` };
      },
    },
    { userAgent: 'fedlet-doctor-token' },
  );
  try {
    const r = await asPod.create<{ status?: { userInfo?: { username?: string } } }>(
      '/apis/authentication.k8s.io/v1/selfsubjectreviews',
      { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
      { timeoutMs: 10_000 },
    );
    return { user: r.status?.userInfo?.username ?? '(no username)' };
  } catch (e) {
    if (!(e instanceof KubeApiError)) return { error: (e as Error).message };
    // Authenticated, only not allowed to review itself: the token was accepted.
    if (e.code === 403) return { user: '(authenticated; SelfSubjectReview not allowed)' };
    // An API server before SelfSubjectReview (1.28): a refused token would get 401 here too.
    if (e.code === 404)
      return asPod.get('/api', { timeoutMs: 10_000 }).then(
        () => ({ user: '(authenticated: GET /api)' }),
        (e2: unknown) => (e2 instanceof KubeApiError ? { code: e2.code, error: e2.message } : { error: (e2 as Error).message }),
      );
    return { code: e.code, error: e.message };
  }
}

export async function tokenCheck(upper: KubeClient, kubectl: Kubectl, node: string, pod: Pod, runId: string): Promise<Check> {
  const r = await kubectl.run(
    ['exec', '-n', pod.metadata.namespace!, pod.metadata.name!, '-c', 'probe', '--', 'sh', '-c', tokenScript(runId)],
    40_000,
  );
  const probe = parseTokenProbe(r.code, r.stdout, r.stderr);
  const review = probe.verdict === 'reached' ? await reviewToken(upper, probe.token!) : undefined;
  return evaluateToken(node, pod.metadata.namespace!, probe, review);
}
