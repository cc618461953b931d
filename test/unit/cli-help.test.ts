import { describe, expect, it } from 'vitest';
import { defaultText, options } from '../../src/config.js';
import { commandPaths, helpFor } from '../../app/help.js';
import { main } from '../../app/main.js';

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

describe('fedlet --help', () => {
  it.each(commandPaths.map((p) => [p.join(' '), p]))(
    'fedlet %s --help and -h print its usage and do nothing else',
    async (_, p) => {
      for (const flag of ['--help', '-h']) {
        const r = await cli([...p, flag]);
        expect(r.code).toBe(0);
        expect(r.err).toBe('');
        expect(r.out).toMatch(new RegExp(`^Usage: fedlet ${p.join(' ')}\\b`));
        expect(r.out).toBe(helpFor(p));
      }
      const viaHelp = await cli(['help', ...p]);
      expect(viaHelp.out).toBe(helpFor(p));
    },
  );

  it('answers --help wherever it stands, also after other flags (fedlet run --lower-kubeconfig x --help)', async () => {
    const r = await cli(['run', '--lower-kubeconfig', 'x', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toBe(helpFor(['run']));
    expect((await cli(['sandbox', 'up', '--dir', '/tmp/x', '-h'])).out).toBe(helpFor(['sandbox', 'up']));
  });

  it('run --help is generated from the option table: every flag, env var, YAML key and default', async () => {
    const { out } = await cli(['run', '--help']);
    const flat = out.replace(/\s+/g, ' ');
    for (const o of options) {
      expect(out, o.key).toMatch(new RegExp(`^  --${o.flag} `, 'm'));
      expect(flat, o.key).toContain(`Default: ${defaultText(o).replace(/\s+/g, ' ')}. Env ${o.env}; YAML key ${o.key}.`);
    }
    expect(out).toContain('--config FILE');
    // Enumerations show their values as the placeholder.
    expect(out).toMatch(/--service-endpoints local\|global/);
    expect(out.split('\n').every((l) => l.length <= 120)).toBe(true);
  });

  it('top-level help names every command and how to get its options', async () => {
    for (const argv of [[], ['--help'], ['-h'], ['help']]) {
      const r = await cli(argv);
      expect(r.code).toBe(0);
      for (const p of commandPaths) expect(r.out).toContain(`fedlet ${p.join(' ')}`);
      expect(r.out).toContain("Run 'fedlet COMMAND --help'");
    }
  });

  it('an unknown command or subcommand is an error with the usage, exit code 2', async () => {
    const unknown = await cli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/unknown command "frobnicate"/);
    const sub = await cli(['sandbox', 'sideways', '--help']);
    expect(sub.code).toBe(2);
    expect(sub.err).toMatch(/unknown command "sandbox sideways"/);
    expect(sub.out).toBe(helpFor(['sandbox']));
    const help = await cli(['help', 'nothing']);
    expect(help.code).toBe(2);
    expect(help.err).toMatch(/no help for "nothing"/);
  });

  it('sandbox up --help lists the keys --set takes and which the sandbox keeps', async () => {
    const { out } = await cli(['sandbox', 'up', '--help']);
    expect(out).toMatch(/--set KEY=VALUE/);
    expect(out).toMatch(/--fedlet-config FILE/);
    expect(out).toMatch(/\bserviceEndpoints\b/);
    expect(out.replace(/\s+/g, ' ')).toMatch(/The sandbox chooses the rest for each fedlet: .*kubeletPort/);
  });

  it('config-reference prints the option table in Markdown', async () => {
    const r = await cli(['config-reference']);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toBe('| YAML key | flag | env var | default | meaning |');
    expect(r.out.trim().split('\n')).toHaveLength(options.length + 2);
  });
});
