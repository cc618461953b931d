// fedlet's per-namespace rights in the lower cluster: the RoleBinding it makes for itself, the wait for the
// authorizer, and the per-namespace watches that replace cluster-wide reads of Secrets.
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { NamespaceRbac, roleBinding, subjectOf } from '../../provider/namespaces/namespace-rbac.js';
import { OwnedNamespaces } from '../../provider/namespaces/owned-namespaces.js';
import { NamespacedInformers } from '../../src/kube/namespaced-informers.js';
import { Informer } from '../../src/kube/informer.js';
import type { KubeApi } from '../../src/kube/client.js';
import type { KubeObject } from '../../src/kube/types.js';
import { FakeKube } from './support/fake-kube.js';
import { settle } from './support/fake-clock.js';

const log = pino({ level: 'silent' });

/**
 * The fake API server, answering SelfSubjectReviews and SelfSubjectAccessReviews like a real one would:
 * allowed after `allowedAfter` reviews, or as `allowedAfter()` says at the time of each review.
 */
function lowerWithReviews(api: FakeKube, allowedAfter: number | (() => boolean)) {
  let reviews = 0;
  const lower: KubeApi = Object.assign(Object.create(api) as FakeKube, {
    create: async <T>(path: string, body: unknown) => {
      if (path.endsWith('/selfsubjectreviews'))
        return { status: { userInfo: { username: 'system:serviceaccount:fedlet-system:fedlet' } } } as T;
      if (path.endsWith('/selfsubjectaccessreviews')) {
        reviews++;
        return { status: { allowed: typeof allowedAfter === 'function' ? allowedAfter() : reviews > allowedAfter } } as T;
      }
      return api.create<T>(path, body);
    },
  });
  return { lower, reviews: () => reviews };
}

describe('subjects and RoleBindings', () => {
  it('binds a ServiceAccount by name and namespace, anything else as a User', () => {
    expect(subjectOf('system:serviceaccount:fedlet-system:fedlet')).toEqual({
      kind: 'ServiceAccount',
      namespace: 'fedlet-system',
      name: 'fedlet',
    });
    expect(subjectOf('fedlet-lower')).toEqual({ kind: 'User', name: 'fedlet-lower', apiGroup: 'rbac.authorization.k8s.io' });
    expect(roleBinding('team-a', 'fedlet:lower-namespace', subjectOf('system:serviceaccount:fs:f'), 'vn')).toMatchObject({
      metadata: { name: 'fedlet:lower-namespace', namespace: 'team-a', labels: { 'fedlet.io/origin': 'vn' } },
      roleRef: { kind: 'ClusterRole', name: 'fedlet:lower-namespace' },
      subjects: [{ kind: 'ServiceAccount', namespace: 'fs', name: 'f' }],
    });
  });
});

describe('NamespaceRbac', () => {
  it('binds the namespace role to itself once, and returns only when the authorizer allows pods there', async () => {
    const api = new FakeKube();
    const { lower, reviews } = lowerWithReviews(api, 2);
    const rbac = new NamespaceRbac({ lower, nodeName: 'vn', log });
    const bound: string[] = [];
    rbac.onBound((ns) => bound.push(ns));
    await rbac.ensure('team-a');
    expect(reviews()).toBe(3); // two "not yet" answers, then allowed
    const rb = api.peek<{ subjects: unknown[] }>(
      '/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings/fedlet:lower-namespace',
    );
    expect(rb?.subjects).toEqual([{ kind: 'ServiceAccount', namespace: 'fedlet-system', name: 'fedlet' }]);
    await rbac.ensure('team-a');
    expect(reviews()).toBe(3);
    expect(bound).toEqual(['team-a']);
    expect(rbac.namespaces()).toEqual(['team-a']);
    // Rights already in effect (an earlier run bound them): nothing is written, as a standby could not.
    const writes = () => api.calls.filter((c) => c.verb === 'POST').length;
    const before = writes();
    rbac.forget('team-a');
    await rbac.ensure('team-a');
    expect(bound).toEqual(['team-a', 'team-a']);
    expect(writes()).toBe(before);
  });

  it('says which ClusterRole is missing when the binding never takes effect', async () => {
    const { lower } = lowerWithReviews(new FakeKube(), Infinity);
    const rbac = new NamespaceRbac({ lower, nodeName: 'vn', role: 'fedlet-x:lower-namespace', log, effectiveWithinMs: 100 });
    await expect(rbac.ensure('team-a')).rejects.toThrow(
      /fedlet still may not create pods in lower namespace team-a after binding ClusterRole fedlet-x:lower-namespace.*does ClusterRole fedlet-x:lower-namespace exist/,
    );
    expect(rbac.isBound('team-a')).toBe(false);
  });
});

describe('OwnedNamespaces and NamespacedInformers', () => {
  it('watches Secrets only in namespaces fedlet created and holds rights in; a deleted namespace goes', async () => {
    const api = new FakeKube();
    const { lower } = lowerWithReviews(api, 0);
    api.seed('/api/v1/namespaces', { metadata: { name: 'ours', labels: { 'fedlet.io/origin': 'vn' } } });
    api.seed('/api/v1/namespaces', { metadata: { name: 'kube-system' } });
    api.seed('/api/v1/namespaces/ours/secrets', { metadata: { name: 'tok', namespace: 'ours', labels: { t: '1' } } });
    api.seed('/api/v1/namespaces/kube-system/secrets', {
      metadata: { name: 'admin', namespace: 'kube-system', labels: { t: '1' } },
    });
    const rbac = new NamespaceRbac({ lower, nodeName: 'vn', log });
    const owned = new OwnedNamespaces({ lower, nodeName: 'vn', rbac, log });
    const secrets = new NamespacedInformers<KubeObject>(
      (ns) => new Informer<KubeObject>({ client: lower, path: `/api/v1/namespaces/${ns}/secrets`, labelSelector: 't', log }),
    );
    owned.onChange((ns, readable) => (readable ? secrets.add(ns) : void secrets.remove(ns)));
    const deleted: string[] = [];
    secrets.addHandlers({ onDelete: (s) => deleted.push(s.metadata?.name ?? '') });
    owned.start();
    secrets.start();
    await owned.ready();
    await secrets.waitForSync();
    expect(owned.current()).toEqual(['ours']);
    expect(secrets.list().map((s) => s.metadata?.name)).toEqual(['tok']);
    expect(secrets.get('ours/tok')).toBeDefined();
    // No request ever listed Secrets cluster-wide or outside fedlet's namespaces.
    const secretPaths = api.calls.filter((c) => c.path.includes('secrets')).map((c) => c.path.split('?')[0]);
    expect(new Set(secretPaths)).toEqual(new Set(['/api/v1/namespaces/ours/secrets']));
    // A namespace fedlet creates later is bound and watched too.
    api.seed('/api/v1/namespaces', { metadata: { name: 'later', labels: { 'fedlet.io/origin': 'vn' } } });
    await settle();
    await new Promise((r) => setTimeout(r, 50));
    expect(owned.current().sort()).toEqual(['later', 'ours']);
    await api.delete('/api/v1/namespaces/ours');
    await settle();
    expect(owned.current()).toEqual(['later']);
    expect(deleted).toEqual(['tok']);
    expect(rbac.isBound('ours')).toBe(false);
    await Promise.all([owned.stop(), secrets.stop()]);
  });

  it('a namespace being deleted leaves the set while it still exists: its RoleBinding goes with its contents', async () => {
    const api = new FakeKube();
    const { lower } = lowerWithReviews(api, 0);
    // The namespace controller's finalizer keeps it (Terminating) until its contents are gone.
    api.seed('/api/v1/namespaces', {
      metadata: { name: 'going', labels: { 'fedlet.io/origin': 'vn' }, finalizers: ['kubernetes'] },
    });
    const rbac = new NamespaceRbac({ lower, nodeName: 'vn', log });
    const owned = new OwnedNamespaces({ lower, nodeName: 'vn', rbac, log });
    const changes: string[] = [];
    owned.onChange((ns, readable) => changes.push(`${ns}:${readable}`));
    owned.start();
    await owned.ready();
    expect(owned.current()).toEqual(['going']);
    await api.delete('/api/v1/namespaces/going');
    await settle();
    expect((await api.get<KubeObject>('/api/v1/namespaces/going')).metadata?.deletionTimestamp).toBeDefined();
    expect(owned.current()).toEqual([]);
    expect(changes).toEqual(['going:true', 'going:false']);
    expect(rbac.isBound('going')).toBe(false);
    await owned.stop();
  });
  it('a granted namespace whose rights are gone leaves the set at the first refused read, and a later write brings it back', async () => {
    const api = new FakeKube();
    let allowed = true;
    // The authorizer answers from the cluster: allowed while the lower admin's grant and the RoleBinding stand.
    const { lower } = lowerWithReviews(api, () => allowed);
    const rbac = new NamespaceRbac({ lower, nodeName: 'vn', log });
    const owned = new OwnedNamespaces({ lower, nodeName: 'vn', rbac, log });
    const changes: string[] = [];
    owned.onChange((ns, readable) => changes.push(`${ns}:${readable}`));
    owned.start();
    await owned.ready();
    // Granted, not created by fedlet: no fedlet.io/origin label, so no watch event ever names it.
    await rbac.ensure('theirs');
    expect(owned.current()).toEqual(['theirs']);
    // A refusal while the rights still hold is real: the namespace stays.
    expect(await owned.refused('theirs')).toBe(true);
    expect(owned.current()).toEqual(['theirs']);
    // The lower admin deletes their namespace: the next refused read finds the rights gone.
    allowed = false;
    expect(await owned.refused('theirs')).toBe(false);
    expect(owned.current()).toEqual([]);
    expect(rbac.isBound('theirs')).toBe(false);
    expect(await owned.refused('theirs')).toBe(false);
    allowed = true;
    await rbac.ensure('theirs');
    expect(owned.current()).toEqual(['theirs']);
    expect(changes).toEqual(['theirs:true', 'theirs:false', 'theirs:true']);
    await owned.stop();
  });
  it('granted namespaces are readable from the start like owned ones (by label naming node or cluster, or by option), and leave when the grant goes', async () => {
    const api = new FakeKube();
    const { lower } = lowerWithReviews(api, 0);
    api.seed('/api/v1/namespaces', { metadata: { name: 'by-node', labels: { 'fedlet.io/grant': 'vn' } } });
    api.seed('/api/v1/namespaces', { metadata: { name: 'by-cluster', labels: { 'fedlet.io/grant': 'eu' } } });
    api.seed('/api/v1/namespaces', { metadata: { name: 'by-option' } });
    api.seed('/api/v1/namespaces', { metadata: { name: 'someone-else', labels: { 'fedlet.io/grant': 'other-node' } } });
    api.seed('/api/v1/namespaces', { metadata: { name: 'plain' } });
    const rbac = new NamespaceRbac({ lower, nodeName: 'vn', log });
    const owned = new OwnedNamespaces({ lower, nodeName: 'vn', clusterName: 'eu', granted: new Set(['by-option']), rbac, log });
    owned.start();
    await owned.ready();
    expect(owned.current().sort()).toEqual(['by-cluster', 'by-node', 'by-option']);
    // The lower admin takes a grant back: fedlet stops reading there.
    const ns = await api.get<KubeObject>('/api/v1/namespaces/by-node');
    await api.replace('/api/v1/namespaces/by-node', { ...ns, metadata: { ...ns.metadata, labels: {} } });
    await settle();
    expect(owned.current().sort()).toEqual(['by-cluster', 'by-option']);
    expect(rbac.isBound('by-node')).toBe(false);
    // And grants one later: it comes in.
    const plain = await api.get<KubeObject>('/api/v1/namespaces/plain');
    await api.replace('/api/v1/namespaces/plain', {
      ...plain,
      metadata: { ...plain.metadata, labels: { 'fedlet.io/grant': 'vn' } },
    });
    await settle();
    await new Promise((r) => setTimeout(r, 50));
    expect(owned.current().sort()).toEqual(['by-cluster', 'by-option', 'plain']);
    await owned.stop();
  });
});
