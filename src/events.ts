// Writes core/v1 Events about upper pods. Repeats of the same (object, type, reason, message) bump
// count and lastTimestamp on the existing Event instead of creating new ones; at most
// maxPerObjectReason distinct Events are made per (object, type, reason) — further messages (a tenant
// can vary them at will) bump the latest of them. The remembered sets are bounded, and writes go
// through the client's rate limiter.
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

/** Distinct Events per (object, type, reason) before further ones are folded into the latest (the kubelet's event correlator aggregates similar events from the 11th on, too). */
export const DEFAULT_MAX_PER_OBJECT_REASON = 10;

export class EventRecorder {
  private readonly seen = new Map<string, Seen>();
  /** (object, type, reason) → keys of the distinct Events made for it, oldest first. */
  private readonly groups = new Map<string, string[]>();

  constructor(
    private readonly o: {
      client: KubeApi;
      component: string;
      host: string;
      log: Logger;
      maxRemembered?: number;
      minRepeatIntervalMs?: number;
      maxPerObjectReason?: number;
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
    const group = `${target.uid ?? `${target.namespace}/${target.name}`}|${type}|${reason}`;
    let key = id ? `id|${id}` : `${group}|${message}`;
    const now = new Date();
    let prev = this.seen.get(key);
    if (!prev) {
      // Enough distinct Events of this reason on this object: count this one on the latest instead.
      const made = (this.groups.get(group) ?? []).filter((k) => this.seen.has(k));
      const latest = made[made.length - 1];
      if (latest !== undefined && made.length >= (this.o.maxPerObjectReason ?? DEFAULT_MAX_PER_OBJECT_REASON)) {
        key = latest;
        prev = this.seen.get(latest);
        countOverride = undefined;
      }
    }
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
      this.rememberInGroup(group, key);
    } catch (e) {
      if (prev) this.seen.delete(key); // the event may be gone (TTL); create anew next time
      this.o.log.debug({ err: (e as Error).message, reason }, 'could not record event');
    }
  }

  private rememberInGroup(group: string, key: string): void {
    const keys = (this.groups.get(group) ?? []).filter((k) => this.seen.has(k));
    keys.push(key);
    this.groups.delete(group);
    this.groups.set(group, keys);
    const max = this.o.maxRemembered ?? 4096;
    if (this.groups.size > max) {
      const oldest = this.groups.keys().next().value;
      if (oldest !== undefined) this.groups.delete(oldest);
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
