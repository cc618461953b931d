// A tiny in-memory provider: the core/provider seam is small enough that the core's controllers can be
// tested against this instead of a lower cluster. Each answer is a field a test sets; each call is
// recorded.
import type { Pod, PodStatus } from '../../../src/kube/types.js';
import type {
  GarbageOutcome,
  LogStream,
  PodEnsureResult,
  PodEvent,
  Provider,
  ProviderNodeState,
  UpgradeOutcome,
} from '../../../src/provider.js';
import type { ClusterSummary } from '../../../src/scheduling/summary.js';

export class FakeProvider implements Provider {
  state: ProviderNodeState = {
    condition: { ready: true, reason: 'LowerClusterReady', message: 'ready' },
    resources: { cpu: '4', memory: '8Gi', pods: '110' },
    labels: {},
  };
  ensureResult: PodEnsureResult = { kind: 'ok' };
  /** Backing pod status by upper key (undefined: no backing pod). */
  statuses = new Map<string, PodStatus>();
  /** What deletePod answers (true: the backing pod is gone). */
  deleteGone = true;
  known: string[] = [];
  calls: Array<{ op: string; key?: string; grace?: number }> = [];
  private readonly podListeners: Array<(k: string) => void> = [];
  private readonly eventListeners: Array<(e: PodEvent) => void> = [];
  private readonly stateListeners: Array<() => void> = [];
  private readonly summaryListeners: Array<() => void> = [];

  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  nodeState(): ProviderNodeState {
    return this.state;
  }
  /** Changes the node state and tells the listeners, as a provider does. */
  setState(s: Partial<ProviderNodeState>): void {
    this.state = { ...this.state, ...s };
    for (const l of this.stateListeners) l();
  }
  schedulingSummary(): ClusterSummary {
    return { v: 1, node: 'vn', cluster: 'c', generated: '', labelSets: [], taintSets: [], nodes: [], avoid: {} };
  }
  restoreSchedulingSummary(): void {}
  schedulingSummaryPublished(): void {}
  onNodeStateChange(l: () => void): void {
    this.stateListeners.push(l);
  }
  onSummaryChange(l: () => void): void {
    this.summaryListeners.push(l);
  }
  backendReachable(): boolean {
    return this.state.condition.ready;
  }

  async ensurePod(pod: Pod): Promise<PodEnsureResult> {
    this.calls.push({ op: 'ensure', key: `${pod.metadata.namespace}/${pod.metadata.name}` });
    return this.ensureResult;
  }
  async deletePod(key: string, grace: number | undefined): Promise<boolean> {
    this.calls.push({ op: 'delete', key, grace });
    return this.deleteGone;
  }
  podStatus(pod: Pod): PodStatus | undefined {
    return this.statuses.get(`${pod.metadata.namespace}/${pod.metadata.name}`);
  }
  knownPodKeys(): string[] {
    return this.known;
  }
  /** What collectGarbage answers (e.g. a request to run it again later). */
  gcOutcome: GarbageOutcome = {};
  async collectGarbage(): Promise<GarbageOutcome> {
    this.calls.push({ op: 'gc' });
    return this.gcOutcome;
  }
  onPodChange(l: (k: string) => void): void {
    this.podListeners.push(l);
  }
  onPodEvent(l: (e: PodEvent) => void): void {
    this.eventListeners.push(l);
  }
  async podCachesSynced(): Promise<void> {}

  async podLogs(): Promise<LogStream> {
    throw new Error('not in this fake');
  }
  async statsSummary(): Promise<unknown> {
    return {};
  }
  async resourceMetrics(): Promise<string> {
    return '';
  }
  async openPodStream(): Promise<UpgradeOutcome> {
    throw new Error('not in this fake');
  }
}
