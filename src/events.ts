// Writes core/v1 Events about upper pods. Repeats of the same (object, type, reason, message) bump
// count and lastTimestamp on the existing Event instead of creating new ones; the remembered set is
// bounded, and writes go through the client's rate limiter.
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { isAlreadyExists, type KubeApi } from './kube/client.js';
import { apiPath } from './kube/api-path.js';

export interface EventTarget {
  kind: string;
  namespace: string;
  name: string;
  uid?: string;
  apiVersion?: string;
}

interface Seen {
  name: string;
  namespace: string;
  count: number;
  last: number;
}

export class EventRecorder {
  private readonly seen = new Map<string, Seen>();

  constructor(
    private readonly o: {
      client: KubeApi;
      component: string;
      host: string;
      log: Logger;
      maxRemembered?: number;
      minRepeatIntervalMs?: number;
    },
  ) {}

  /** Records an event; never throws (events are best effort, failures are logged). */
  async record(
    target: EventTarget,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    countOverride?: number,
    id?: string,
  ): Promise<void> {
    const key = id ? `id|${id}` : `${target.uid ?? `${target.namespace}/${target.name}`}|${type}|${reason}|${message}`;
    const now = new Date();
    const prev = this.seen.get(key);
    try {
      if (prev) {
        // Repeats within the interval are folded into the next write.
        if (countOverride === undefined && now.getTime() - prev.last < (this.o.minRepeatIntervalMs ?? 10_000)) {
          prev.count++;
          return;
        }
        prev.count = countOverride ?? prev.count + 1;
        prev.last = now.getTime();
        await this.o.client.patch(
          apiPath`/api/v1/namespaces/${prev.namespace}/events/${prev.name}`,
          { count: prev.count, lastTimestamp: now.toISOString() },
          'merge',
        );
        return;
      }
      const name = id
        ? `${target.name}.fedlet-${createHash('sha256').update(id).digest('hex').slice(0, 16)}`
        : `${target.name}.${Date.now().toString(16)}${randomBytes(3).toString('hex')}`;
      const body = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace: target.namespace },
        involvedObject: {
          apiVersion: target.apiVersion ?? 'v1',
          kind: target.kind,
          namespace: target.namespace,
          name: target.name,
          uid: target.uid,
        },
        type,
        reason,
        message: message.slice(0, 1024),
        source: { component: this.o.component, host: this.o.host },
        reportingComponent: this.o.component,
        reportingInstance: this.o.host,
        firstTimestamp: now.toISOString(),
        lastTimestamp: now.toISOString(),
        count: countOverride ?? 1,
      };
      try {
        await this.o.client.create(apiPath`/api/v1/namespaces/${target.namespace}/events`, body);
      } catch (e) {
        // A stable name exists already (we mirrored it before a restart): update it instead.
        if (!id || !isAlreadyExists(e)) throw e;
        await this.o.client.patch(
          apiPath`/api/v1/namespaces/${target.namespace}/events/${name}`,
          { count: body.count, lastTimestamp: body.lastTimestamp, message: body.message },
          'merge',
        );
      }
      this.remember(key, { name, namespace: target.namespace, count: countOverride ?? 1, last: now.getTime() });
    } catch (e) {
      if (prev) this.seen.delete(key); // the event may be gone (TTL); create anew next time
      this.o.log.debug({ err: (e as Error).message, reason }, 'could not record event');
    }
  }

  private remember(key: string, s: Seen): void {
    this.seen.set(key, s);
    const max = this.o.maxRemembered ?? 4096;
    if (this.seen.size > max) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
  }
}
