// fast-check generators of upper pods, shaped like what an upper API server accepts (so that a lower
// API server rejecting a translation points at the translation, not at the generator), with the
// features fedlet refuses mixed in at a low rate. Used by the unit fuzz test and the dry-run e2e.
import fc from 'fast-check';
import type { Container, EnvVar, Pod, Volume } from '../../src/kube/types.js';

const dnsLabel = fc.stringMatching(/^[a-z]([a-z0-9-]{0,14}[a-z0-9])?$/);
const longLabel = fc.stringMatching(/^[a-z][a-z0-9-]{55,61}[a-z0-9]$/);
const cIdentifier = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,12}$/);
const labelValue = fc.oneof(fc.constant(''), fc.stringMatching(/^[A-Za-z0-9]([A-Za-z0-9_.-]{0,20}[A-Za-z0-9])?$/));
const labelKey = fc.oneof(
  dnsLabel,
  dnsLabel.map((k) => `example.com/${k}`),
  fc.constant('app.kubernetes.io/name'),
);
/** A pod name: a DNS subdomain, sometimes longer than a hostname may be. */
const podName = fc.oneof(
  { weight: 4, arbitrary: dnsLabel },
  { weight: 1, arbitrary: fc.tuple(longLabel, dnsLabel).map(([a, b]) => `${a}.${b}`) },
  { weight: 1, arbitrary: fc.tuple(dnsLabel, dnsLabel).map(([a, b]) => `${a}.${b}`) },
);

const fieldPaths = [
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
  "metadata.labels['app']",
  'spec.nodeName',
  'spec.serviceAccountName',
  'status.podIP',
  'status.hostIP',
];

const envVar: fc.Arbitrary<EnvVar> = fc.oneof(
  fc.record({ name: cIdentifier, value: fc.string({ maxLength: 20 }) }),
  fc.record({ name: cIdentifier, valueFrom: fc.record({ fieldRef: fc.record({ fieldPath: fc.constantFrom(...fieldPaths) }) }) }),
  fc.record({
    name: cIdentifier,
    valueFrom: fc.record({
      configMapKeyRef: fc.record({ name: dnsLabel, key: cIdentifier, optional: fc.option(fc.boolean(), { nil: undefined }) }),
    }),
  }),
  fc.record({
    name: cIdentifier,
    valueFrom: fc.record({
      secretKeyRef: fc.record({ name: dnsLabel, key: cIdentifier, optional: fc.option(fc.boolean(), { nil: undefined }) }),
    }),
  }),
);

const quantity = fc.record(
  { cpu: fc.constantFrom('10m', '100m', '1'), memory: fc.constantFrom('16Mi', '64Mi', '1Gi') },
  { requiredKeys: [] },
);

interface Shape {
  /** Probability-ish weight of features fedlet refuses (hostNetwork, hostPath, hostPort, ...). */
  refusals: boolean;
}

function volumeArb(name: string, refusals: boolean): fc.Arbitrary<Volume> {
  const kinds: Array<fc.Arbitrary<Volume>> = [
    fc.constant({ name, emptyDir: {} }),
    fc.record({ name: fc.constant(name), configMap: fc.record({ name: dnsLabel, optional: fc.boolean() }) }),
    fc.record({ name: fc.constant(name), secret: fc.record({ secretName: dnsLabel, optional: fc.boolean() }) }),
    fc.constant({
      name,
      downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] },
    }),
    // What the ServiceAccount admission plugin adds: the upper token, which translation drops.
    fc.constant({
      name,
      projected: {
        sources: [
          { serviceAccountToken: { path: 'token', expirationSeconds: 3607 } },
          { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
        ],
      },
    }),
  ];
  if (refusals)
    kinds.push(
      fc.constant({ name, hostPath: { path: '/var/tmp' } }),
      fc.record({ name: fc.constant(name), persistentVolumeClaim: fc.record({ claimName: dnsLabel }) }),
    );
  return fc.oneof(...kinds);
}

function containerArb(name: string, volumes: string[], refusals: boolean, init: boolean): fc.Arbitrary<Container> {
  return fc
    .record(
      {
        image: fc.constantFrom('busybox', 'registry.example/app:1', `registry.example/app@sha256:${'a'.repeat(64)}`),
        command: fc.array(fc.string({ minLength: 1, maxLength: 10 }), { maxLength: 3 }),
        env: fc.uniqueArray(envVar, { maxLength: 4, selector: (e) => e.name }),
        envFrom: fc.array(
          fc.oneof(
            fc.record({ configMapRef: fc.record({ name: dnsLabel, optional: fc.boolean() }) }),
            fc.record({ secretRef: fc.record({ name: dnsLabel }), prefix: fc.constant('S_') }),
          ),
          { maxLength: 2 },
        ),
        ports: fc.uniqueArray(
          fc.record({
            containerPort: fc.integer({ min: 1, max: 65535 }),
            protocol: fc.constantFrom('TCP', 'UDP'),
            ...(refusals ? { hostPort: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined, freq: 10 }) } : {}),
          }),
          { maxLength: 2, selector: (p) => `${p.containerPort}/${p.protocol}` },
        ),
        mounts: fc.subarray(volumes),
        resources: fc.option(
          quantity.map((q) => ({ requests: q, limits: q })),
          { nil: undefined },
        ),
        sidecar: init ? fc.boolean() : fc.constant(false),
      },
      { requiredKeys: ['image', 'mounts', 'sidecar'] },
    )
    .map(({ mounts, sidecar, ...c }) => {
      const out: Container = { name, ...c, imagePullPolicy: 'IfNotPresent' };
      if (mounts.length) out.volumeMounts = mounts.map((m, i) => ({ name: m, mountPath: `/mnt/${i}-${m}` }));
      if (sidecar) out.restartPolicy = 'Always';
      for (const k of Object.keys(out) as Array<keyof Container>) if (out[k] === undefined) delete out[k];
      return out;
    });
}

/** An upper pod bound to virtual node `nodeName`, in namespace `namespace`. */
export function podArbitrary(opts: { nodeName: string; namespace: string } & Partial<Shape>): fc.Arbitrary<Pod> {
  const refusals = opts.refusals ?? true;
  return fc
    .record({
      name: podName,
      uid: fc.uuid(),
      labels: fc.dictionary(labelKey, labelValue, { maxKeys: 3 }),
      annotations: fc.dictionary(labelKey, fc.string({ maxLength: 40 }), { maxKeys: 2 }),
      owner: fc.constantFrom(undefined, 'ReplicaSet', 'Job', ...(refusals ? ['DaemonSet'] : [])),
      volumeNames: fc.uniqueArray(dnsLabel, { maxLength: 4 }),
      containerNames: fc.uniqueArray(dnsLabel, { minLength: 2, maxLength: 4 }),
      initCount: fc.integer({ min: 0, max: 1 }),
      // Rare: most pods share nothing with a node.
      host: fc.constantFrom<Record<string, boolean>>(
        ...[{}, {}, {}, {}, {}, {}],
        ...(refusals ? [{ hostNetwork: true }, { hostPID: true }, { hostIPC: true }] : []),
      ),
      extra: fc.record(
        {
          nodeSelector: fc.dictionary(labelKey, labelValue, { maxKeys: 2 }),
          tolerations: fc.array(
            fc.record({ key: labelKey, operator: fc.constant('Exists'), effect: fc.constantFrom('NoSchedule', 'NoExecute') }),
            { maxLength: 2 },
          ),
          restartPolicy: fc.constantFrom('Always', 'OnFailure', 'Never'),
          terminationGracePeriodSeconds: fc.integer({ min: 0, max: 60 }),
          activeDeadlineSeconds: fc.integer({ min: 1, max: 3600 }),
          hostname: dnsLabel,
          subdomain: dnsLabel,
          dnsPolicy: fc.constantFrom('ClusterFirst', 'Default'),
          serviceAccountName: fc.constant('default'),
          automountServiceAccountToken: fc.boolean(),
          schedulerName: fc.constant('default-scheduler'),
          securityContext: fc.record({ runAsUser: fc.integer({ min: 0, max: 65535 }) }),
          imagePullSecrets: fc.uniqueArray(
            dnsLabel.map((name) => ({ name })),
            { maxLength: 2, selector: (s) => s.name },
          ),
          affinity: fc.constant({
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{ matchExpressions: [{ key: 'type', operator: 'In', values: ['virtual-kubelet'] }] }],
              },
            },
          }),
          topologySpreadConstraints: fc.constant<unknown[]>([
            { maxSkew: 1, topologyKey: 'fedlet.io/cluster', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: {} },
          ]),
        },
        { requiredKeys: [] },
      ),
    })
    .chain((p) =>
      fc
        .tuple(
          fc.tuple(...p.volumeNames.map((v) => volumeArb(v, refusals))),
          fc.tuple(...p.containerNames.map((c, i) => containerArb(c, p.volumeNames, refusals, i < p.initCount))),
        )
        .map(([volumes, containers]): Pod => {
          const init = containers.slice(0, p.initCount);
          const main = containers.slice(p.initCount);
          const pod: Pod = {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: {
              name: p.name,
              namespace: opts.namespace,
              uid: p.uid,
              labels: p.labels,
              annotations: p.annotations,
              ...(p.owner
                ? {
                    ownerReferences: [
                      {
                        apiVersion: p.owner === 'Job' ? 'batch/v1' : 'apps/v1',
                        kind: p.owner,
                        name: 'owner',
                        uid: '00000000-0000-4000-8000-000000000001',
                        controller: true,
                      },
                    ],
                  }
                : {}),
            },
            spec: {
              nodeName: opts.nodeName,
              ...p.extra,
              ...p.host,
              containers: main,
              ...(init.length ? { initContainers: init } : {}),
              ...(volumes.length ? { volumes } : {}),
            },
          };
          return pod;
        }),
    );
}

/** Whether the pod uses a feature fedlet refuses (the independent oracle for the fuzz test). */
export function shouldBeRefused(pod: Pod, allowDaemonSetPods: boolean): boolean {
  const s = pod.spec;
  if (s.hostNetwork || s.hostPID || s.hostIPC) return true;
  if ((s.volumes ?? []).some((v) => v.hostPath || v.persistentVolumeClaim)) return true;
  if ([...s.containers, ...(s.initContainers ?? [])].some((c) => (c.ports ?? []).some((p) => p.hostPort))) return true;
  return !allowDaemonSetPods && !!pod.metadata.ownerReferences?.some((o) => o.kind === 'DaemonSet' && o.controller);
}
