import { describe, expect, it } from 'vitest';
import { ConfigError, defaultText, formatValue, loadConfig, options } from '../../src/config.js';

const required = ['--lower-kubeconfig', '/l', '--cluster-name', 'eu-1'];

describe('loadConfig', () => {
  it('applies documented defaults', () => {
    const c = loadConfig({ argv: required, env: {} });
    expect(c).toMatchObject({
      clusterName: 'eu-1',
      nodeName: 'fedlet-eu-1',
      kubeletPort: 10250,
      leaseDurationSeconds: 40,
      leaseRenewIntervalSeconds: 10,
      statusUpdateIntervalSeconds: 60,
      nodeIP: '127.0.0.1',
    });
  });

  it('takes flags over env over file', () => {
    const fileText = 'clusterName: from-file\nlowerKubeconfig: /f\nkubeletPort: 1111\nzone: z-file\n';
    const c = loadConfig({ argv: ['--kubelet-port=3333'], env: { FEDLET_KUBELET_PORT: '2222', FEDLET_ZONE: 'z-env' }, fileText });
    expect(c.clusterName).toBe('from-file');
    expect(c.kubeletPort).toBe(3333);
    expect(c.zone).toBe('z-env');
  });

  it('parses labels and taints from flags, env and YAML', () => {
    const c = loadConfig({
      argv: [...required, '--node-label', 'a=1', '--node-label=b=2', '--node-taint', 'gpu=true:NoSchedule'],
      env: {},
    });
    expect(c.nodeLabels).toEqual({ a: '1', b: '2' });
    expect(c.nodeTaints).toEqual([{ key: 'gpu', value: 'true', effect: 'NoSchedule' }]);
    const e = loadConfig({ argv: required, env: { FEDLET_NODE_LABELS: 'x=1,y=2', FEDLET_NODE_TAINTS: 'dedicated:NoExecute' } });
    expect(e.nodeLabels).toEqual({ x: '1', y: '2' });
    expect(e.nodeTaints).toEqual([{ key: 'dedicated', effect: 'NoExecute' }]);
    const f = loadConfig({
      argv: required,
      env: {},
      fileText: 'nodeLabels: {team: a}\nnodeTaints: [{key: k, value: v, effect: PreferNoSchedule}]\n',
    });
    expect(f.nodeLabels).toEqual({ team: 'a' });
    expect(f.nodeTaints).toEqual([{ key: 'k', value: 'v', effect: 'PreferNoSchedule' }]);
  });

  it.each([
    [['--cluster-name', 'eu-1'], /lower cluster kubeconfig is required/],
    [['--lower-kubeconfig', '/l'], /cluster name is required/],
    [['--lower-kubeconfig', '/l', '--cluster-name', 'EU_1'], /cluster name "EU_1" must be a DNS label/],
    [[...required, '--kubelet-port', 'abc'], /--kubelet-port: "abc" is not a whole number/],
    [[...required, '--kubelet-port', '70000'], /above 65535/],
    [[...required, '--node-taint', 'x:Sometimes'], /effect "Sometimes"/],
    [[...required, '--node-label', 'novalue'], /is not key=value/],
    [[...required, '--node-ip', 'not-an-ip'], /node IP "not-an-ip"/],
    [[...required, '--bogus', '1'], /unknown option --bogus/],
    [[...required, '--lease-duration', '5'], /must be shorter than the lease duration/],
    [[...required, '--log-format', 'xml'], /not one of json, pretty/],
  ])('rejects %j', (argv, msg) => {
    expect(() => loadConfig({ argv, env: {} })).toThrow(ConfigError);
    expect(() => loadConfig({ argv, env: {} })).toThrow(msg);
  });

  it('rejects unknown YAML keys and non-mapping files', () => {
    expect(() => loadConfig({ argv: required, env: {}, fileText: 'nodeNmae: x\n' })).toThrow(/unknown key "nodeNmae"/);
    expect(() => loadConfig({ argv: required, env: {}, fileText: '- a\n' })).toThrow(/expected a mapping/);
  });
});

describe('each default is written once, in the option table', () => {
  const argv = ['--lower-kubeconfig', 'l.yaml', '--cluster-name', 'eu-1'];

  it('an option has a default value or words for when it is unset, never both', () => {
    for (const o of options) expect([o.key, o.value !== undefined && o.default !== undefined]).toEqual([o.key, false]);
  });

  it('the applied defaults are the table values, and the docs print them', () => {
    const cfg = loadConfig({ argv, env: {} });
    for (const o of options.filter((x) => x.value !== undefined)) {
      expect([o.key, cfg[o.key]]).toEqual([o.key, o.value]);
      expect(defaultText(o).startsWith(formatValue(o.value))).toBe(true);
    }
  });

  it('a config never shares a map with the table', () => {
    const a = loadConfig({ argv, env: {} });
    a.nodeLabels.x = '1';
    expect(loadConfig({ argv, env: {} }).nodeLabels).toEqual({});
  });
});
