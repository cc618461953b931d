// Probes the lower API server's /readyz. Reachability of the lower cluster is what the virtual node's
// Ready condition reports; a probe is the only way to learn it promptly when watches just go quiet.
import type { Logger } from 'pino';
import type { KubeClient } from '../../src/kube/client.js';
import { sleep } from '../../src/util/backoff.js';

export interface LowerHealthState {
  healthy: boolean;
  message: string;
  since: Date;
}

export class LowerHealth {
  private failures = 0;
  state: LowerHealthState = { healthy: true, message: 'not probed yet', since: new Date() };
  private listeners: Array<() => void> = [];

  constructor(
    private readonly o: { client: KubeClient; clusterName: string; intervalMs: number; failureThreshold: number; log: Logger },
  ) {}

  onChange(l: () => void): void {
    this.listeners.push(l);
  }

  async probe(): Promise<void> {
    try {
      await this.o.client.get('/readyz', { timeoutMs: Math.min(3000, this.o.intervalMs) });
      this.failures = 0;
      this.set(true, `lower cluster ${this.o.clusterName} API server is ready`);
    } catch (e) {
      this.failures++;
      if (this.failures >= this.o.failureThreshold)
        this.set(
          false,
          `lower cluster ${this.o.clusterName} API server ${this.o.client.server.origin} is unreachable or not ready: ${(e as Error).message}`,
        );
    }
  }

  private set(healthy: boolean, message: string): void {
    if (healthy === this.state.healthy && message === this.state.message) return;
    const flipped = healthy !== this.state.healthy;
    this.state = { healthy, message, since: flipped ? new Date() : this.state.since };
    if (flipped) this.o.log.warn({ healthy, message }, 'lower cluster health changed');
    for (const l of this.listeners) l();
  }

  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.probe();
      await sleep(this.o.intervalMs, signal);
    }
  }
}
