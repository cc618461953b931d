// Effective resource requests of a pod, as kube-scheduler computes them:
//   max( sum(regular containers) + sum(restartable init "sidecars"),
//        for each classic init container i: its request + sidecars started before it )
//   + pod overhead, plus one "pods" slot.
import { addInto, maxInto, toMilli, type MilliList, type ResourceList } from './quantity.js';

export interface ContainerLike {
  resources?: { requests?: ResourceList; limits?: ResourceList };
  restartPolicy?: string;
}
export interface PodSpecLike {
  containers?: ContainerLike[];
  initContainers?: ContainerLike[];
  overhead?: ResourceList;
}

/** Requests default to limits when only limits are set (API defaulting does the same). */
function containerRequests(c: ContainerLike): MilliList {
  const req = toMilli(c.resources?.requests);
  for (const [k, v] of toMilli(c.resources?.limits)) if (!req.has(k)) req.set(k, v);
  return req;
}

export function podRequests(spec: PodSpecLike | undefined): MilliList {
  const total: MilliList = new Map();
  for (const c of spec?.containers ?? []) addInto(total, containerRequests(c));
  const sidecars: MilliList = new Map();
  const initPeak: MilliList = new Map();
  for (const c of spec?.initContainers ?? []) {
    const r = containerRequests(c);
    if (c.restartPolicy === 'Always') {
      addInto(sidecars, r);
      // a sidecar runs alongside everything that starts after it
      const withSidecars = new Map(sidecars);
      maxInto(initPeak, withSidecars);
    } else {
      const during = new Map(sidecars);
      addInto(during, r);
      maxInto(initPeak, during);
    }
  }
  addInto(total, sidecars);
  maxInto(total, initPeak);
  addInto(total, toMilli(spec?.overhead));
  total.set('pods', (total.get('pods') ?? 0n) + 1000n);
  return total;
}
