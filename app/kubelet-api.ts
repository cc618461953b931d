// Start-up of the kubelet API (one per process: with pools, every pool node publishes the same endpoint,
// and logs/exec/attach/port-forward find the pod by name whichever pool node it is bound to). It starts
// once its serving certificate is there (a CSR may wait for approval; pods run meanwhile); a CSR-issued
// certificate is renewed before it expires, and the upper client CA is followed unless pinned by file.
import type { Logger } from 'pino';
import type { FedletConfig } from '../src/config.js';
import type { KubeClient } from '../src/kube/client.js';
import type { Pod } from '../src/kube/types.js';
import { KubeletAuth, targetNodes } from '../src/kubelet/auth.js';
import { followClientCA, rotateServingCert } from '../src/kubelet/cert-rotation.js';
import { KubeletServer } from '../src/kubelet/server.js';
import { obtainServingCert } from '../src/kubelet/serving-cert.js';
import type { FedletMetrics } from '../src/metrics.js';
import type { StreamProvider } from '../src/provider.js';

export interface KubeletApiOptions {
  cfg: FedletConfig;
  upper: KubeClient;
  /** Creates the TokenReviews and SubjectAccessReviews of kubelet API callers (a client of its own). */
  reviewer: KubeClient;
  /** The upper cluster's client CA, as read at start. */
  clientCA: string;
  provider: StreamProvider;
  pods: () => Pod[];
  /** The virtual nodes this process serves now (one, or the pool nodes): callers are authorized on these. */
  servedNodes: () => string[];
  metrics: FedletMetrics;
  /** Why exec/attach/port-forward are refused now (a replica without the lease), if they are. */
  mutationsRefusedBecause: () => string | undefined;
  signal: AbortSignal;
  log: Logger;
}

/** Starts the kubelet API in the background; `stop` waits for the start to settle, then closes it. */
export function startKubeletApi(o: KubeletApiOptions): { stop(): Promise<void> } {
  const { cfg, upper, log } = o;
  let kubelet: KubeletServer | undefined;
  const servingCertOptions = {
    mode: cfg.servingCert,
    certFile: cfg.tlsCertFile,
    keyFile: cfg.tlsPrivateKeyFile,
    certDir: cfg.certDir,
    nodeName: cfg.nodeName,
    nodeIP: cfg.nodeIP,
    upper,
    log,
  };
  const started = obtainServingCert({ ...servingCertOptions, signal: o.signal })
    .then(async (tls) => {
      log.info({ source: tls.source }, 'kubelet serving certificate ready');
      const server = new KubeletServer({
        port: cfg.kubeletPort,
        host: cfg.kubeletBindAddress,
        tls: { cert: tls.cert, key: tls.key, clientCA: o.clientCA },
        auth: new KubeletAuth({
          reviewer: o.reviewer,
          nodesFor: (path) => targetNodes(path, o.pods(), o.servedNodes()),
          anonymous: cfg.anonymousAuth,
        }),
        provider: o.provider,
        pods: o.pods,
        metrics: o.metrics,
        mutationsRefusedBecause: o.mutationsRefusedBecause,
        log: log.child({ component: 'kubelet-api' }),
      });
      kubelet = server;
      await server.start();
      if (cfg.servingCert === 'csr')
        void rotateServingCert(
          tls,
          {
            renew: (signal) => obtainServingCert({ ...servingCertOptions, signal, renew: true }),
            apply: (c) => server.setCertificate(c.cert, c.key),
            log: log.child({ component: 'serving-cert' }),
          },
          o.signal,
        );
      if (!cfg.clientCAFile)
        void followClientCA(upper, o.clientCA, (ca) => server.setClientCA(ca), log.child({ component: 'client-ca' }), o.signal);
    })
    .catch((e: Error) => {
      if (o.signal.aborted) return;
      log.error({ err: e.message }, 'kubelet API not started: logs, exec, attach and port-forward are unavailable on this node');
    });
  return {
    async stop() {
      await started;
      await kubelet?.stop();
    },
  };
}
