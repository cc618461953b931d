import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { fedletOverrides } from '../../app/fedlet-overrides.js';
import { sandboxArgs } from '../../app/sandbox-command.js';

/** The config one sandbox fedlet ends up with: the sandbox's own flags, then the overrides. */
function fedletConfig(args: string[]) {
  return loadConfig({
    argv: ['--cluster-name=lower-1', '--lower-kubeconfig=l.kubeconfig', '--node-ip=10.0.0.1', '--kubelet-port=20001', ...args],
    env: {},
  });
}

describe('sandbox up: fedlet options for every fedlet', () => {
  it('parses --set and --fedlet-config from the sandbox command line', () => {
    expect(
      sandboxArgs(['--dir', 'd', '--set', 'serviceEndpoints=global', '--set=bounce-after=30', '--fedlet-config', 'f.yaml']),
    ).toMatchObject({
      dir: 'd',
      sets: ['serviceEndpoints=global', 'bounce-after=30'],
      fedletConfig: 'f.yaml',
    });
    expect(() => sandboxArgs(['--sett', 'x=y'])).toThrow(/unknown sandbox option --sett; see 'fedlet sandbox up --help'/);
  });

  it('takes YAML keys and flag names, and the fedlet gets exactly those values', () => {
    const o = fedletOverrides({
      sets: [
        'serviceEndpoints=global',
        'bounce-after=30',
        'nodeLabels=demo=yes',
        '--node-label=team=a',
        'poolGroupBy=example.com/gpu',
      ],
    });
    expect(o.args).toEqual([
      '--service-endpoints=global',
      '--bounce-after=30',
      '--node-label=demo=yes',
      '--node-label=team=a',
      '--pool-group-by=example.com/gpu',
    ]);
    expect(o.applied).toEqual([
      'serviceEndpoints=global',
      'bounceAfterSeconds=30',
      'nodeLabels=demo=yes',
      'nodeLabels=team=a',
      'poolGroupBy=example.com/gpu',
    ]);
    const cfg = fedletConfig(o.args);
    expect(cfg.serviceEndpoints).toBe('global');
    expect(cfg.bounceAfterSeconds).toBe(30);
    expect(cfg.nodeLabels).toEqual({ demo: 'yes', team: 'a' });
    expect(cfg.poolGroupBy).toEqual(['example.com/gpu']);
  });

  it('turns a --fedlet-config file into flags (maps, lists, pools, taints), and --set beats the file per key', () => {
    const fileText = [
      'serviceTypes: preserve',
      'bounceAfterSeconds: 90',
      'storageClassMap: {fast: local-path}',
      'nodeTaints: [{key: dedicated, value: gpu, effect: NoSchedule}, "spot:PreferNoSchedule"]',
      'pools: [{name: big, selector: "size=big"}]',
      'poolGroupBy: [example.com/gpu]',
      'allowDaemonSetPods: true',
      '',
    ].join('\n');
    const o = fedletOverrides({ configFile: 'f.yaml', fileText, sets: ['bounceAfterSeconds=20'] });
    const cfg = fedletConfig(o.args);
    expect(cfg.serviceTypes).toBe('preserve');
    expect(cfg.bounceAfterSeconds).toBe(20);
    expect(cfg.storageClassMap).toEqual({ fast: 'local-path' });
    expect(cfg.nodeTaints).toEqual([
      { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' },
      { key: 'spot', effect: 'PreferNoSchedule' },
    ]);
    expect(cfg.pools).toEqual([{ name: 'big', selector: 'size=big' }]);
    expect(cfg.poolGroupBy).toEqual(['example.com/gpu']);
    expect(cfg.allowDaemonSetPods).toBe(true);
    expect(o.args.filter((a) => a.startsWith('--bounce-after'))).toEqual(['--bounce-after=20']);
  });

  it('the overrides beat what the sandbox sets itself (they come last)', () => {
    const o = fedletOverrides({ sets: ['namespaceTemplate={{namespace}}-x'] });
    expect(fedletConfig(['--namespace-template={{namespace}}-{{cluster}}', ...o.args]).namespaceTemplate).toBe('{{namespace}}-x');
  });

  it.each([
    [
      ['serviceEndpoint=global'],
      /--set serviceEndpoint=global: "serviceEndpoint" is not a fedlet option; did you mean serviceEndpoints\?/,
    ],
    [['frobnicate=1'], /--set frobnicate=1: "frobnicate" is not a fedlet option \('fedlet sandbox up --help' lists the keys\)/],
    [['serviceEndpoints'], /--set serviceEndpoints: expected KEY=VALUE/],
    [
      ['serviceEndpoints=everywhere'],
      /--set serviceEndpoints=everywhere: --service-endpoints: "everywhere" is not one of local, global/,
    ],
    [['bounceAfterSeconds=soon'], /--set bounceAfterSeconds=soon: --bounce-after: "soon" is not a whole number/],
    [['nodeTaints=gpu:Sometimes'], /--set nodeTaints=gpu:Sometimes: .*effect "Sometimes"/],
    [['kubeletPort=10250'], /--set kubeletPort=10250: the sandbox sets kubeletPort itself/],
    [['node-name=x'], /--set node-name=x: the sandbox sets nodeName itself/],
    [['leaseRenewIntervalSeconds=50'], /--set leaseRenewIntervalSeconds=50: lease renew interval \(50s\) must be shorter/],
  ])('%j is refused, naming the key: %s', (sets, message) => {
    expect(() => fedletOverrides({ sets })).toThrow(ConfigError);
    expect(() => fedletOverrides({ sets })).toThrow(message);
  });

  it('checks rules between options on the whole set', () => {
    expect(fedletOverrides({ sets: ['leaseDurationSeconds=100', 'leaseRenewIntervalSeconds=50'] }).args).toHaveLength(2);
    expect(() => fedletOverrides({ sets: ['leaseDurationSeconds=30', 'leaseRenewIntervalSeconds=35'] })).toThrow(
      /the fedlet options given to sandbox up: lease renew interval \(35s\) must be shorter than the lease duration \(30s\)/,
    );
  });

  it.each([
    ['nodeName: x', /--fedlet-config f.yaml, key nodeName: the sandbox sets nodeName itself/],
    ['bogus: 1', /--fedlet-config f.yaml, key bogus: "bogus" is not a fedlet option/],
    ['logLevel: loud', /--fedlet-config f.yaml, key logLevel: --log-level: "loud" is not one of/],
    ['storageClassMap: 3', /--fedlet-config f.yaml, key storageClassMap: 3 is not a value of storageClassMap/],
    ['- a\n- b', /--fedlet-config f.yaml: expected a mapping/],
    ['a: [', /--fedlet-config f.yaml is not valid YAML/],
  ])('a bad --fedlet-config (%j) is refused, naming the key', (fileText, message) => {
    expect(() => fedletOverrides({ configFile: 'f.yaml', fileText })).toThrow(message);
  });

  it('names a file it cannot read', () => {
    expect(() => fedletOverrides({ configFile: '/nonexistent/fedlet.yaml' })).toThrow(
      /--fedlet-config: cannot read \/nonexistent\/fedlet.yaml/,
    );
  });
});
