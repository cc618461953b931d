// Where the admission webhook that adds the virtual-node toleration is served (scheduler-plugin/
// admission-webhook.ts); the sandbox and the manifests register it at this path.
export const WEBHOOK_PATH = '/mutate-pods';
