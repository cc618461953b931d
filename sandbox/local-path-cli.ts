// Entry point of the sandbox's local-path provisioner process (one per lower cluster, started and
// stopped with the cluster): node dist/sandbox/local-path-cli.js --kubeconfig FILE --volumes-dir DIR
import { KubeClient, loadKubeConfig } from '../src/kube/client.js';
import { createLogger } from '../src/log.js';
import { LocalPathProvisioner } from './local-path.js';

function arg(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (!v) throw new Error(`local-path provisioner: --${name} is required`);
  return v;
}

const log = createLogger({ name: 'sandbox-local-path' });
const p = new LocalPathProvisioner({
  client: new KubeClient(loadKubeConfig(arg('kubeconfig'))),
  volumesDir: arg('volumes-dir'),
  log,
});
await p.start();
log.info('local-path provisioner running');
for (const sig of ['SIGTERM', 'SIGINT'] as const)
  process.once(sig, () => {
    void p.stop().finally(() => process.exit(0));
  });
