// Publishes the provider's scheduling summary (format: src/scheduling/summary.ts) as a ConfigMap in the
// upper cluster, for the scheduler extender. Written when its content changes (not its generation time;
// also not after a restart that finds it as published), at most once per minInterval.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { isAlreadyExists, isNotFound, type KubeApi } from '../kube/client.js';
import { sleep } from '../util/backoff.js';
import { isNotLeader, type WriteFence } from '../kube/fence.js';

import { ANNOTATION_SUMMARY_VERSION, LABEL_NODE, LABEL_SUMMARY } from '../labels.js';
import {
  encodeSummary,
  parseSummary,
  summaryConfigMapName,
  SUMMARY_DATA_KEY,
  SUMMARY_MAX_BYTES,
  type ClusterSummary,
} from '../scheduling/summary.js';

/** A published summary without its generation time: the same content needs no write. */
function contentOf(body: string): string {
  try {
    return JSON.stringify({ ...(JSON.parse(body) as object), generated: undefined });
  } catch {
    return body;
  }
}

export class SummaryPublisher {
  private dirty = true;
  private wake?: () => void;
  private last = '';

  constructor(
    private readonly o: {
      client: KubeApi;
      namespace: string;
      nodeName: string;
      summary: () => ClusterSummary;
      /** Called with each summary once the upper cluster holds it (written, or already there). */
      onPublished?: (s: ClusterSummary) => void;
      minIntervalMs: number;
      maxBytes?: number;
      log: Logger;
      /** Publishing waits while the fence is closed (this replica is not the leader). */
      fence?: WriteFence;
    },
  ) {}

  /** The summary this node published last (e.g. by the process before a restart), if any. */
  async readPublished(): Promise<ClusterSummary | undefined> {
    try {
      const cm = await this.o.client.get<{ metadata?: { labels?: Record<string, string> }; data?: Record<string, string> }>(
        `/api/v1/namespaces/${this.o.namespace}/configmaps/${this.name}`,
      );
      const body = cm.data?.[SUMMARY_DATA_KEY];
      // After a restart with nothing changed, the first publish finds this body and writes nothing.
      const labels = this.labels();
      if (body && Object.entries(labels).every(([k, v]) => cm.metadata?.labels?.[k] === v)) this.last = contentOf(body);
      return body ? parseSummary(body) : undefined;
    } catch (e) {
      if (!isNotFound(e))
        this.o.log.warn(
          { err: (e as Error).message },
          'could not read the previously published scheduling summary; starting without its bounce-back record',
        );
      return undefined;
    }
  }

  markDirty(): void {
    this.dirty = true;
    this.wake?.();
  }

  private labels(): Record<string, string> {
    return { [LABEL_SUMMARY]: 'true', [LABEL_NODE]: this.o.nodeName };
  }

  private get name(): string {
    return summaryConfigMapName(this.o.nodeName);
  }

  async publish(): Promise<void> {
    const summary = this.o.summary();
    const body = encodeSummary(summary);
    const content = contentOf(body);
    if (content === this.last) return this.o.onPublished?.(summary);
    if (body.length > (this.o.maxBytes ?? SUMMARY_MAX_BYTES)) {
      this.o.log.error({ bytes: body.length }, 'scheduling summary too large to publish; the extender will not filter this node');
      return;
    }
    const cm = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: this.name,
        namespace: this.o.namespace,
        labels: this.labels(),
      },
      data: { [SUMMARY_DATA_KEY]: body },
    };
    try {
      await this.o.client.replace(`/api/v1/namespaces/${this.o.namespace}/configmaps/${this.name}`, cm);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      try {
        await this.o.client.create(`/api/v1/namespaces/${this.o.namespace}/configmaps`, cm);
      } catch (e2) {
        if (!isAlreadyExists(e2)) throw e2;
      }
    }
    this.last = content;
    this.o.onPublished?.(summary);
    // kube-scheduler does not watch the summary. A pod the extender rejected is retried on cluster
    // events; touching the virtual Node (an annotation naming the summary version) is that event.
    const version = createHash('sha256').update(body).digest('hex').slice(0, 16);
    await this.o.client
      .patch(
        `/api/v1/nodes/${this.o.nodeName}`,
        { metadata: { annotations: { [ANNOTATION_SUMMARY_VERSION]: version } } },
        'merge',
      )
      .catch((e: Error) => this.o.log.debug({ err: e.message }, 'could not annotate the node with the summary version'));
  }

  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.o.fence?.whenOpen(signal);
      if (signal.aborted) break;
      if (this.dirty) {
        this.dirty = false;
        try {
          await this.publish();
        } catch (e) {
          this.dirty = true;
          if (isNotLeader(e)) continue; // waits for the fence above
          this.o.log.warn({ err: (e as Error).message }, 'publishing the scheduling summary failed; retrying');
        }
        await sleep(this.o.minIntervalMs, signal);
        continue;
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener('abort', done);
          this.wake = undefined;
          resolve();
        };
        this.wake = done;
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }
}
