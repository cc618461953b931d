// The sandbox side of fedlet's admission webhook (scheduler-plugin/admission-webhook.ts): a serving
// certificate from the upper cluster's CA for the extender's HTTPS port, the
// MutatingWebhookConfiguration pointing the upper API server at it, and a check that it is in effect.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isAlreadyExists, KubeClient, loadKubeConfig } from '../src/kube/client.js';
import { TAINT_VIRTUAL_NODE } from '../src/labels.js';
import { WEBHOOK_PATH } from '../src/scheduling/webhook.js';
import { serverExt, signCert, type ClientCert } from './pki.js';

// Not the name manifests/extender/webhook.yaml uses (a Service-backed configuration): the sandbox's
// points at a URL, and the two must not be taken for one object (kubectl apply would merge them).
export const WEBHOOK_CONFIG_NAME = 'fedlet-sandbox-virtual-node-toleration';

/** A serving certificate for 127.0.0.1 signed by the upper cluster's CA (which the API server trusts). */
export function webhookServingCert(upperDir: string): ClientCert & { ca: string } {
  const pkiDir = path.join(upperDir, 'pki');
  const ca = { cert: path.join(pkiDir, 'ca.crt'), key: path.join(pkiDir, 'ca.key') };
  const c = signCert(pkiDir, ca, 'fedlet-webhook-serving', '/CN=fedlet-extender-webhook', serverExt(['IP:127.0.0.1']));
  return { ...c, ca: ca.cert };
}

/** The same webhook as manifests/extender/webhook.yaml, addressed by URL instead of a Service. */
export function webhookConfiguration(url: string, caBundle: string): Record<string, unknown> {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: WEBHOOK_CONFIG_NAME },
    webhooks: [
      {
        name: 'virtual-node-toleration.fedlet.io',
        clientConfig: { url, caBundle },
        rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }],
        failurePolicy: 'Ignore',
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
        timeoutSeconds: 10,
        reinvocationPolicy: 'IfNeeded',
      },
    ],
  };
}

export async function registerWebhook(adminKubeconfig: string, port: number, caFile: string): Promise<void> {
  const client = new KubeClient(loadKubeConfig(adminKubeconfig));
  const body = webhookConfiguration(`https://127.0.0.1:${port}${WEBHOOK_PATH}`, readFileSync(caFile).toString('base64'));
  const base = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations';
  try {
    await client.create(base, body);
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
    const cur = await client.get<{ metadata: { resourceVersion?: string } }>(`${base}/${WEBHOOK_CONFIG_NAME}`);
    await client.replace(`${base}/${WEBHOOK_CONFIG_NAME}`, {
      ...body,
      metadata: { name: WEBHOOK_CONFIG_NAME, resourceVersion: cur.metadata.resourceVersion },
    });
  }
}

/**
 * Waits until the upper API server applies the webhook: a server-side dry run of a plain pod comes
 * back with the virtual-node toleration (pods created before would miss it for good).
 */
export async function waitForWebhook(adminKubeconfig: string, timeoutMs: number): Promise<void> {
  const client = new KubeClient(loadKubeConfig(adminKubeconfig));
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const pod = await client.create<{ spec?: { tolerations?: Array<{ key?: string }> } }>(
        '/api/v1/namespaces/default/pods',
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'fedlet-webhook-probe' },
          spec: { containers: [{ name: 'c', image: 'probe' }] },
        },
        { query: { dryRun: 'All' } },
      );
      if (pod.spec?.tolerations?.some((t) => t.key === TAINT_VIRTUAL_NODE)) return;
      last = 'the dry-run pod came back without the toleration';
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`fedlet's admission webhook is not in effect after ${timeoutMs} ms: ${last}`);
}
