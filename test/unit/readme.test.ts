import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { options } from '../../src/config.js';

describe('README', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  it('documents every option with its flag, env var and YAML key', () => {
    for (const o of options) {
      expect(readme, o.key).toContain(`\`--${o.flag}\``);
      expect(readme, o.key).toContain(`\`${o.env}\``);
      expect(readme, o.key).toContain(`\`${o.key}\``);
    }
  });
  it('gives the set-up and test commands that .ci/run runs', () => {
    const ci = readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8');
    for (const cmd of ['npm run setup', 'npm test']) {
      expect(readme).toContain(cmd);
      expect(ci).toContain(cmd);
    }
  });
});
