import { describe, expect, it } from 'vitest';
import { encodeSummary, parseSummary, SummaryFormatError } from '../../src/scheduling/summary.js';
import { buildSummary } from '../../provider/node/summary.js';
import { freePerNode, type LowerNode } from '../../provider/node/capacity.js';
import { toMilli } from '../../src/util/quantity.js';

const nodes: LowerNode[] = ['a', 'b'].map((name) => ({
  name,
  ready: true,
  unschedulable: false,
  allocatable: toMilli({ cpu: '4', memory: '8Gi', pods: '110' }),
  labels: { zone: 'z1' },
  taints: [{ key: 'gpu', effect: 'NoSchedule' }],
}));

describe('scheduling summary format (written by fedlet, read by the extender)', () => {
  it('what the provider builds and the publisher encodes, the extender parses back unchanged', () => {
    const s = buildSummary('fedlet-a', 'a', nodes, freePerNode(nodes, []), { 'rs-1': '2026-01-01T00:00:00Z' });
    expect(parseSummary(encodeSummary(s))).toEqual(s);
    expect(s.nodes).toEqual([[0, 0, { cpu: '4000', memory: String(8 * 1024 ** 3 * 1000), pods: '110000' }, 2]]);
  });

  it.each([
    ['{', /not JSON/],
    ['[]', /not a JSON object/],
    ['{"v":2}', /format version 2 is not 1/],
    [
      '{"v":1,"node":"n","cluster":"c","generated":"g","labelSets":[],"taintSets":[],"nodes":[[0,0,{},1]],"avoid":{}}',
      /nodes\[0\]/,
    ],
    ['{"v":1,"node":"n","cluster":"c","generated":"g","labelSets":[],"taintSets":[],"nodes":[]}', /"avoid"/],
  ])('refuses %s with a specific reason', (text, why) => {
    expect(() => parseSummary(text)).toThrow(SummaryFormatError);
    expect(() => parseSummary(text)).toThrow(why);
  });
});
