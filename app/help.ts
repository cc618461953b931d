// The help of every fedlet command and subcommand (`fedlet <command> --help`, `fedlet help <command>`).
// The options of `run` and the keys `sandbox up --set` takes are generated from the option table in
// src/config.ts, so the help cannot drift from what the parser accepts.
import { defaultText, options } from '../src/config.js';
import { SANDBOX_OWNED_KEYS, type Option } from './fedlet-overrides.js';

const width = 100;

/** Wraps text to the help width with a hanging indent. */
function wrap(text: string, indent: string): string {
  const lines: string[] = [];
  let line = indent;
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line.trim() && line.length + 1 + word.length > width) {
      lines.push(line);
      line = indent;
    }
    line += line.trim() ? ` ${word}` : word;
  }
  if (line.trim()) lines.push(line);
  return lines.join('\n');
}

/** The value a flag takes, as a placeholder: `--kubelet-port N`, `--node-label KEY=VALUE`. */
export function valuePlaceholder(o: Option): string {
  switch (o.kind) {
    case 'int':
      return 'N';
    case 'bool':
      return 'true|false';
    case 'enum':
      return o.values!.join('|');
    case 'map':
      return 'KEY=VALUE';
    case 'taints':
      return 'KEY[=VALUE]:EFFECT';
    case 'pools':
      return 'NAME=SELECTOR';
    case 'list':
      return 'VALUE';
    case 'string':
      if (/kubeconfig|file$/i.test(o.key)) return 'FILE';
      if (/dir$/i.test(o.key)) return 'DIR';
      if (/name$/i.test(o.key)) return 'NAME';
      if (/(ip|address)$/i.test(o.key)) return 'ADDRESS';
      return 'VALUE';
  }
}

function optionHelp(o: Option): string {
  return [
    `  --${o.flag} ${valuePlaceholder(o)}`,
    wrap(`${o.help}. Default: ${defaultText(o)}. Env ${o.env}; YAML key ${o.key}.`, '      '),
  ].join('\n');
}

export function runHelp(): string {
  return `Usage: fedlet run --lower-kubeconfig FILE --cluster-name NAME [--upper-kubeconfig FILE] [--config FILE] [options]

Runs one virtual kubelet: registers a virtual node for the lower cluster in the upper cluster and runs
the pods bound to it in the lower cluster. Every option is also an environment variable and a key of
the YAML file given by --config; a flag beats its env var, which beats the file, which beats the default.
The same table, with defaults, is docs/configuration.md (fedlet config-reference prints it).

Options:
${options.map(optionHelp).join('\n')}
  --config FILE
      YAML file with any of the keys above. Env FEDLET_CONFIG.
  -h, --help
      this help
`;
}

const sandboxUpHelp = () => `Usage: fedlet sandbox up [--dir DIR] [--lowers N] [--real-nodes N] [--no-fedlet] [--foreground]
                        [--fedlet-config FILE] [--set KEY=VALUE]...

Starts local real clusters from the binaries npm run setup built: an upper cluster (API server,
scheduler with fedlet's extender, controller-manager, admission webhook) and N lower clusters with
simulated nodes, plus one fedlet per lower cluster, then prints commands to try it.

Options:
  --dir DIR              directory holding the sandbox's state, logs and kubeconfigs (default .sandbox)
  --lowers N             lower clusters, 1 to 8 (default 2)
  --real-nodes N         real kubelet nodes per lower cluster, 0 to 4 (default 0; needs root and the
                         private network namespace of sandbox/netns-run.sh)
  --no-fedlet            start the clusters only; print the fedlet command lines instead
  --foreground           stay in the foreground and tear everything down on Ctrl-C, SIGTERM or a
                         closed terminal (npm start)
  --fedlet-config FILE   YAML file of fedlet options (the keys of fedlet run --config) applied to every
                         fedlet the sandbox starts
  --set KEY=VALUE        one fedlet option for every fedlet, by YAML key or flag name; repeat for
                         several (and for repeatable options); beats --fedlet-config. Examples:
                           --set serviceEndpoints=global
                           --set pool-group-by=example.com/gpu --set bounceAfterSeconds=30
  -h, --help             this help

Keys --set and --fedlet-config accept (see fedlet run --help for their meaning):
${wrap(
  options
    .filter((o) => !SANDBOX_OWNED_KEYS.has(o.key))
    .map((o) => o.key)
    .join(' '),
  '  ',
)}
${wrap(`The sandbox chooses the rest for each fedlet: ${[...SANDBOX_OWNED_KEYS].join(', ')}.`, '')}
`;

const sandboxHelp = `Usage: fedlet sandbox up|down|status [--dir DIR] [options]

Local real clusters with fedlet between them, for trying fedlet and for its tests.

Commands:
  up       start the sandbox (fedlet sandbox up --help for its options)
  down     stop every process the sandbox in DIR started, including ones left by a killed foreground
           sandbox
  status   one line per process of the sandbox: cluster, component, pid, running or stopped (exit
           code 1 when any is stopped)

Options:
  --dir DIR    the sandbox's directory (default .sandbox)
  -h, --help   this help
`;

const sandboxDownHelp = `Usage: fedlet sandbox down [--dir DIR]

Stops every process the sandbox in DIR started (fedlets, extender, API servers, etcds, kwok, real
nodes) and the ones a killed foreground sandbox left behind; keeps the directory's logs.

Options:
  --dir DIR    the sandbox's directory (default .sandbox)
  -h, --help   this help
`;

const sandboxStatusHelp = `Usage: fedlet sandbox status [--dir DIR]

One line per process of the sandbox in DIR: cluster, component, pid, running or stopped. Exit code 1
when any process is stopped.

Options:
  --dir DIR    the sandbox's directory (default .sandbox)
  -h, --help   this help
`;

const extenderHelp = `Usage: fedlet extender --upper-kubeconfig FILE --tls-cert-file FILE --tls-private-key-file FILE
                       --client-ca-file FILE [--allowed-client-names system:kube-scheduler,...]
                       [--port 8888] [--bind-address 0.0.0.0] [--health-port 8889] [--health-bind-address 127.0.0.1]
                       [--summary-namespace fedlet-system] [--log-level info]
                       [--webhook-port 8443 --webhook-tls-cert-file FILE --webhook-tls-private-key-file FILE]

The scheduler extender the upper kube-scheduler calls (filter and prioritize by what fits inside each
lower cluster, from the summaries fedlets publish) over HTTPS with client certificates only (kube-scheduler's
extenders[].tlsConfig; see docs/extender.md) and, with --webhook-port, the admission webhook that adds the
virtual-node toleration to pods not owned by a DaemonSet.

Options:
  --upper-kubeconfig FILE            kubeconfig of the upper cluster (default $FEDLET_UPPER_KUBECONFIG,
                                     else in-cluster config, else $KUBECONFIG / ~/.kube/config)
  --tls-cert-file FILE               the extender's serving certificate (PEM)
  --tls-private-key-file FILE        its key (PEM)
  --client-ca-file FILE              CA of the client certificates accepted (kube-scheduler's)
  --allowed-client-names NAMES       comma-separated subjects (CN) accepted (default: any the CA signed)
  --port N                           HTTPS port of the extender and its /metrics (default 8888)
  --bind-address IP                  address of the extender and webhook (default 0.0.0.0)
  --health-port N                    plain-HTTP /healthz port (default 8889; 0 turns it off)
  --health-bind-address IP           address of /healthz (default 127.0.0.1)
  --summary-namespace NAMESPACE      where fedlets publish their summaries (default fedlet-system)
  --log-level LEVEL                  trace, debug, info, warn or error (default info)
  --webhook-port N                   HTTPS port of the admission webhook (default: no webhook)
  --webhook-tls-cert-file FILE       the webhook's serving certificate (PEM)
  --webhook-tls-private-key-file FILE  its key (PEM)
  -h, --help                         this help
`;

const statusHelp = `Usage: fedlet status [--upper-kubeconfig FILE]

One line per virtual node in the upper cluster: its lower cluster, node pool, Ready condition and
reason, the capacity it offers (as kubectl prints quantities) and its pods (running/total).

Options:
  --upper-kubeconfig FILE   kubeconfig of the upper cluster (default $FEDLET_UPPER_KUBECONFIG, else
                            $KUBECONFIG / ~/.kube/config); --kubeconfig is the same
  -h, --help                this help
`;

const configReferenceHelp = `Usage: fedlet config-reference [--update FILE]

Prints every option of fedlet run (YAML key, flag, env var, default, meaning) as a Markdown table: the
table of docs/configuration.md.

Options:
  --update FILE   rewrite the table between <!-- options:start --> and <!-- options:end --> in FILE
                  instead (node dist/app/cli.js config-reference --update docs/configuration.md)
  -h, --help      this help
`;

const doctorHelp = `Usage: fedlet doctor [--upper-kubeconfig FILE] [--node NAME]... [-o table|json] [--namespace NS]
                     [--image IMAGE] [--timeout SECONDS] [--summary-namespace NS] [--no-probe]
                     [--probe-node-selector KEY=VALUE]... [--probe-toleration KEY]...

Checks a live install end to end, from the upper cluster, and prints one line per check with what to
do about each failure: your RBAC (SelfSubjectAccessReview), the admission webhook (a dry-run pod), the
extender (does the scheduler consult it: a pod only it refuses), and for each virtual node: Ready, the
node Lease, the scheduling summary the extender trusts, the upper API server's dial to the kubelet
port, the serving certificate there (valid, SANs cover the node address), then a probe pod bound to the
node: Running and Ready, its logs, kubectl exec, attach and port-forward through the upper API server,
its usage (top), a Service of its own resolved and reached below (dns-service), its token accepted by
the upper API server (token), and its deletion in both clusters. Independent checks run at once.
Exit code 1 when any check failed.

Options:
  --upper-kubeconfig FILE   kubeconfig of the upper cluster (default $FEDLET_UPPER_KUBECONFIG, else
                            in-cluster config, else $KUBECONFIG / ~/.kube/config); --kubeconfig is the same
  --node NAME               check this virtual node only (repeatable; default every node labelled
                            type=virtual-kubelet)
  -o, --output FORMAT       table (default) or json
  -n, --namespace NS        where the probe pods run (default default); they are deleted afterwards
  --image IMAGE             image of the probe pod, with sh and httpd (default busybox:1.36)
  --timeout SECONDS         how long a probe pod may take to run, and to go away (default 90)
  --summary-namespace NS    where fedlets publish their summaries (default fedlet-system)
  --no-probe                skip the probe pod and the extender's pod (no object is created)
  --probe-node-selector K=V lower-node label for the probe (repeatable), e.g. to put it on real nodes
                            where lower clusters also have simulated ones (dns-service and token need
                            a real container; on a simulated node they are skipped, saying so)
  --probe-toleration KEY    a taint of those nodes the probe tolerates (repeatable)
  -h, --help                this help

exec, attach, port-forward, dns-service and token use the real kubectl ($KUBECTL, else kubectl on PATH);
without it they are skipped. See docs/operations.md for every check.
`;

const joinHelp = `Usage: fedlet join --upper-kubeconfig FILE --lower-kubeconfig FILE --cluster NAME [--node-name NAME]
                   [--namespace fedlet-system] [--release NAME] [--set KEY=VALUE]... [--values FILE]...
                   [--chart DIR] [--image REPOSITORY:TAG] [--lower-server URL] [--token-duration 24h]
                   [--timeout 5m] [--dry-run]

Joins a lower cluster to the upper cluster in one command, with the chart (charts/fedlet) and the real
helm: the chart's lower half in the lower cluster (fedlet's ServiceAccount, least-privilege RBAC and
admission policy), a kubeconfig with a token of that ServiceAccount that expires (TokenRequest; the
running fedlet renews it at 80% of its lifetime) in Secret <release>-lower-kubeconfig of the upper
cluster, and the chart's upper half (fedlet's Deployment) using that Secret. Each step looks first and
changes only what differs: running join again changes nothing (the token is renewed when less than half
its lifetime is left, so a periodic join keeps the Secret's token fresh for new pods). Both kubeconfigs
must be a cluster admin's. Exit code 1 when a step fails, naming the step and what to do.

Options:
  --upper-kubeconfig FILE   kubeconfig of the upper cluster (where fedlet runs and the virtual node appears)
  --lower-kubeconfig FILE   kubeconfig of the lower cluster (where fedlet's pods will run)
  --cluster NAME            name of the lower cluster (a DNS label): label fedlet.io/cluster of the node
  --node-name NAME          the virtual node (default: the release's name; given alone, it names the release)
  -n, --namespace NS        namespace of the release in both clusters (default fedlet-system; created if missing)
  --release NAME            helm release of both halves (default fedlet-<cluster>)
  --set KEY=VALUE           a value of the upper half, helm's --set syntax (repeatable; see
                            charts/fedlet/values.yaml), e.g. --set servingCert.mode=self-signed
  -f, --values FILE         a values file of the upper half (repeatable)
  --chart DIR               the chart (default: charts/fedlet beside this program)
  --image REPOSITORY:TAG    fedlet's image, as the upper cluster's nodes pull it
  --lower-server URL        the lower API server as fedlet's pods in the upper cluster reach it (default:
                            the server of --lower-kubeconfig)
  --token-duration D        lifetime of the lower token (default 24h, at least 10m); pods that start after
                            it expired need a fresh one: run join again
  --timeout D               how long helm waits for each half to be ready (default 5m)
  --dry-run                 print the steps and the helm command lines; change nothing
  -h, --help                this help

helm is $HELM, else helm on PATH. Remove a joined cluster with fedlet leave and the same names.
`;

const leaveHelp = `Usage: fedlet leave --upper-kubeconfig FILE --lower-kubeconfig FILE --cluster NAME [--node-name NAME]
                    [--namespace fedlet-system] [--release NAME] [--timeout 5m] [--force] [--dry-run]

Removes a lower cluster that fedlet join added: cordons its virtual node, evicts its pods (DaemonSet pods
aside; disruption budgets are respected, refused evictions retried) until none is left or the timeout
passes — then stops, the node cordoned and nothing removed, unless --force deletes the rest — uninstalls
both halves of the release, deletes the kubeconfig Secret, the node, its Leases, scheduling summary and
CSRs, fedlet's leftover lower pods and the lower namespaces fedlet created that hold no other pods, and
the namespace join created in each cluster once no other release uses it. Prints what it left behind.
Running it again after an interruption finishes the job.

Options:
  --upper-kubeconfig FILE   kubeconfig of the upper cluster
  --lower-kubeconfig FILE   kubeconfig of the lower cluster
  --cluster NAME            name of the lower cluster, as given to join
  --node-name NAME          the virtual node, as given to join (default: the release's name)
  -n, --namespace NS        namespace of the release, as given to join (default fedlet-system)
  --release NAME            helm release, as given to join (default fedlet-<cluster>)
  --timeout D               how long the pods may take to go, and helm to uninstall (default 5m)
  --force                   delete the pods still on the node after the timeout
  --dry-run                 print the steps; change nothing
  -h, --help                this help
`;

export function topHelp(): string {
  return `fedlet — a virtual kubelet that makes whole Kubernetes clusters look like nodes

Usage:
  fedlet run --lower-kubeconfig FILE --cluster-name NAME [--upper-kubeconfig FILE] [--config FILE] [options]
  fedlet sandbox up [--dir DIR] [--lowers N] [--real-nodes N] [--no-fedlet] [--foreground]
                    [--fedlet-config FILE] [--set KEY=VALUE]...
  fedlet sandbox down [--dir DIR]
  fedlet sandbox status [--dir DIR]
  fedlet extender --upper-kubeconfig FILE --tls-cert-file FILE --tls-private-key-file FILE --client-ca-file FILE [...]
  fedlet status [--upper-kubeconfig FILE]   table of virtual nodes: cluster, health, capacity, pods
  fedlet doctor [--upper-kubeconfig FILE] [--node NAME] [-o json]   check a live install end to end
  fedlet join --upper-kubeconfig FILE --lower-kubeconfig FILE --cluster NAME [--dry-run]   add a lower cluster
  fedlet leave --upper-kubeconfig FILE --lower-kubeconfig FILE --cluster NAME [--force]   remove it again
  fedlet config-reference [--update FILE]   print every option of run as a Markdown table
  fedlet help [COMMAND]

Run 'fedlet COMMAND --help' (or 'fedlet help COMMAND') for a command's options.
`;
}

/** Help of a command path (["run"], ["sandbox", "up"]), or undefined for an unknown command. */
export function helpFor(path: string[]): string | undefined {
  const key = path.join(' ');
  const table: Record<string, () => string> = {
    '': topHelp,
    run: runHelp,
    sandbox: () => sandboxHelp,
    'sandbox up': sandboxUpHelp,
    'sandbox down': () => sandboxDownHelp,
    'sandbox status': () => sandboxStatusHelp,
    extender: () => extenderHelp,
    status: () => statusHelp,
    doctor: () => doctorHelp,
    join: () => joinHelp,
    leave: () => leaveHelp,
    'config-reference': () => configReferenceHelp,
    help: topHelp,
  };
  return table[key]?.();
}

/** Every command path with a help text (for tests and for `fedlet help`). */
export const commandPaths: string[][] = [
  ['run'],
  ['sandbox'],
  ['sandbox', 'up'],
  ['sandbox', 'down'],
  ['sandbox', 'status'],
  ['extender'],
  ['status'],
  ['doctor'],
  ['join'],
  ['leave'],
  ['config-reference'],
];
