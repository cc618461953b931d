// Reads a V8 heap snapshot (.heapsnapshot, e.g. from the bench's BENCH_HEAP_SNAPSHOTS) and prints what
// holds fedlet's memory: the largest objects by retained size (dominator tree, weak edges ignored) with
// the path that holds each, and self size by constructor. Run: node dist/test/bench/heap-retainers.js FILE [N]
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; edge_fields: string[]; node_types: [string[]]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

export interface HeapGraph {
  count: number;
  type: string[];
  name: string[];
  selfSize: Float64Array;
  /** Edges of node i: firstEdge[i] .. firstEdge[i + 1] in edgeTo/edgeName/edgeWeak. */
  firstEdge: Uint32Array;
  edgeTo: Uint32Array;
  edgeName: string[];
  edgeWeak: Uint8Array;
}

export function parseSnapshot(text: string): HeapGraph {
  const s = JSON.parse(text) as Snapshot;
  const nf = s.snapshot.meta.node_fields;
  const ef = s.snapshot.meta.edge_fields;
  const nodeTypes = s.snapshot.meta.node_types[0];
  const edgeTypes = s.snapshot.meta.edge_types[0];
  const N = nf.length;
  const E = ef.length;
  const count = s.nodes.length / N;
  const [iType, iName, iSize, iEdges] = ['type', 'name', 'self_size', 'edge_count'].map((f) => nf.indexOf(f)) as [
    number,
    number,
    number,
    number,
  ];
  const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => ef.indexOf(f)) as [number, number, number];
  const g: HeapGraph = {
    count,
    type: new Array<string>(count),
    name: new Array<string>(count),
    selfSize: new Float64Array(count),
    firstEdge: new Uint32Array(count + 1),
    edgeTo: new Uint32Array(s.edges.length / E),
    edgeName: new Array<string>(s.edges.length / E),
    edgeWeak: new Uint8Array(s.edges.length / E),
  };
  let e = 0;
  for (let i = 0; i < count; i++) {
    g.type[i] = nodeTypes[s.nodes[i * N + iType]!]!;
    g.name[i] = s.strings[s.nodes[i * N + iName]!]!;
    g.selfSize[i] = s.nodes[i * N + iSize]!;
    g.firstEdge[i] = e;
    const n = s.nodes[i * N + iEdges]!;
    for (let k = 0; k < n; k++, e++) {
      const t = edgeTypes[s.edges[e * E + eType]!]!;
      const ni = s.edges[e * E + eName]!;
      g.edgeTo[e] = s.edges[e * E + eTo]! / N;
      g.edgeName[e] = t === 'element' || t === 'hidden' ? `[${ni}]` : (s.strings[ni] ?? String(ni));
      g.edgeWeak[e] = t === 'weak' || t === 'shortcut' ? 1 : 0;
    }
  }
  g.firstEdge[count] = e;
  return g;
}

/** Immediate dominators from node 0 (Cooper, Harvey and Kennedy's iterative algorithm over reverse postorder). */
export function dominators(g: HeapGraph): { idom: Int32Array; order: Uint32Array } {
  const post = new Int32Array(g.count).fill(-1);
  const order = new Uint32Array(g.count);
  let n = 0;
  const stack: number[] = [0];
  const next = new Uint32Array(g.count);
  const seen = new Uint8Array(g.count);
  seen[0] = 1;
  next[0] = g.firstEdge[0]!;
  while (stack.length) {
    const v = stack[stack.length - 1]!;
    if (next[v]! < g.firstEdge[v + 1]!) {
      const e = next[v]!++;
      const w = g.edgeTo[e]!;
      if (g.edgeWeak[e] || seen[w]) continue;
      seen[w] = 1;
      next[w] = g.firstEdge[w]!;
      stack.push(w);
    } else {
      stack.pop();
      post[v] = n;
      order[n++] = v;
    }
  }
  const preds: number[][] = Array.from({ length: g.count }, () => []);
  for (let v = 0; v < g.count; v++)
    if (post[v]! >= 0)
      for (let e = g.firstEdge[v]!; e < g.firstEdge[v + 1]!; e++) if (!g.edgeWeak[e]) preds[g.edgeTo[e]!]!.push(v);
  const idom = new Int32Array(g.count).fill(-1);
  idom[0] = 0;
  const intersect = (a: number, b: number) => {
    while (a !== b) {
      while (post[a]! < post[b]!) a = idom[a]!;
      while (post[b]! < post[a]!) b = idom[b]!;
    }
    return a;
  };
  for (let changed = true; changed;) {
    changed = false;
    for (let i = n - 2; i >= 0; i--) {
      const v = order[i]!;
      let d = -1;
      for (const p of preds[v]!) if (idom[p]! >= 0) d = d < 0 ? p : intersect(p, d);
      if (d >= 0 && idom[v] !== d) {
        idom[v] = d;
        changed = true;
      }
    }
  }
  return { idom, order: order.slice(0, n) };
}

/** The node that edge `name` of v points to, if any. */
function child(g: HeapGraph, v: number, name: string): number | undefined {
  for (let e = g.firstEdge[v]!; e < g.firstEdge[v + 1]!; e++) if (g.edgeName[e] === name) return g.edgeTo[e];
  return undefined;
}

/** The text of a string node (concatenated strings joined). */
function text(g: HeapGraph, v: number, depth = 0): string {
  if (g.type[v] !== 'concatenated string' || depth > 20) return g.name[v]!;
  const [a, b] = ['first', 'second'].map((k) => child(g, v, k));
  return (a === undefined ? '' : text(g, a, depth + 1)) + (b === undefined ? '' : text(g, b, depth + 1));
}

function label(g: HeapGraph, v: number): string {
  const base = `${g.type[v]}:${g.name[v]!.slice(0, 60)}`;
  // Informers are told apart by the collection they cache.
  const opts = g.name[v] === 'Informer' ? child(g, v, 'opts') : undefined;
  if (opts === undefined) return base;
  const what = ['path', 'labelSelector', 'fieldSelector'].map((k) => child(g, opts, k)).filter((x) => x !== undefined);
  return `${base}(${what.map((x) => text(g, x)).join(' ')})`;
}

/** The edge from u to v, by name. */
function edgeFrom(g: HeapGraph, u: number, v: number): string {
  for (let e = g.firstEdge[u]!; e < g.firstEdge[u + 1]!; e++) if (g.edgeTo[e] === v) return g.edgeName[e]!;
  return '?';
}

export function report(g: HeapGraph, top: number): string[] {
  const { idom, order } = dominators(g);
  const retained = Float64Array.from(g.selfSize);
  for (const v of order) if (v !== 0 && idom[v]! >= 0) retained[idom[v]!]! += retained[v]!;
  const out: string[] = [`total reachable ${(retained[0]! / 1048576).toFixed(1)} MiB in ${order.length} objects`];
  // Largest retainers that are not just the chain of holders of a larger one: skip v when one child holds ≥ 90% of it.
  const childMax = new Float64Array(g.count);
  for (const v of order) if (v !== 0) childMax[idom[v]!] = Math.max(childMax[idom[v]!]!, retained[v]!);
  const cands = [...order].filter((v) => v !== 0 && g.type[v] !== 'synthetic' && childMax[v]! < 0.9 * retained[v]!);
  cands.sort((a, b) => retained[b]! - retained[a]!);
  for (const v of cands.slice(0, top)) {
    const path: string[] = [];
    for (let u = v, k = 0; u !== 0 && k < 8; u = idom[u]!, k++) path.push(`${edgeFrom(g, idom[u]!, u)} ← ${label(g, idom[u]!)}`);
    out.push(`${(retained[v]! / 1024).toFixed(0).padStart(8)} KiB  ${label(g, v)}\n            held by ${path.join(' / ')}`);
  }
  // Objects of fedlet's own classes (and informers by collection), by what each retains.
  const generic = new Set(['Object', 'Array', 'Map', 'Set', 'Promise', 'Error', 'system / Context']);
  const own = [...order].filter((v) => g.type[v] === 'object' && !generic.has(g.name[v]!) && retained[v]! >= 64 * 1024);
  out.push('objects retaining ≥ 64 KiB, by constructor:');
  for (const v of own.sort((a, b) => retained[b]! - retained[a]!).slice(0, top))
    out.push(`${(retained[v]! / 1024).toFixed(0).padStart(8)} KiB  ${label(g, v)}`);
  const byCtor = new Map<string, { size: number; n: number }>();
  for (const v of order) {
    const k = g.type[v] === 'object' ? g.name[v]! : `(${g.type[v]})`;
    const c = byCtor.get(k) ?? { size: 0, n: 0 };
    c.size += g.selfSize[v]!;
    c.n++;
    byCtor.set(k, c);
  }
  out.push('self size by constructor:');
  for (const [k, c] of [...byCtor].sort((a, b) => b[1].size - a[1].size).slice(0, top))
    out.push(`${(c.size / 1024).toFixed(0).padStart(8)} KiB  ${String(c.n).padStart(8)}  ${k.slice(0, 80)}`);
  return out;
}

if (process.argv[1]?.endsWith('heap-retainers.js')) {
  const [file, top] = process.argv.slice(2);
  if (!file) throw new Error('usage: heap-retainers.js FILE [N]');
  console.log(report(parseSnapshot(readFileSync(file, 'utf8')), Number(top ?? 30)).join('\n'));
}
