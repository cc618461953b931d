// Command-line flag walking shared by fedlet's commands (`run` has its own parser in src/config.ts,
// driven by the option table): `--name value`, `--name=value`, and the help flags every command answers.
import { ConfigError } from '../src/config.js';

/** Walks `--name value` and `--name=value` flags; value() takes the flag's value or says it is missing. */
export function eachFlag(argv: string[], visit: (name: string, value: () => string, raw: string) => void): void {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const name = eq >= 0 ? a.slice(0, eq) : a;
    visit(
      name,
      () => {
        if (eq >= 0) return a.slice(eq + 1);
        const v = argv[++i];
        if (v === undefined) throw new ConfigError(`${name} needs a value`);
        return v;
      },
      a,
    );
  }
}

/** True when the user asked for help anywhere on the command line (as kubectl and cobra do). */
export function wantsHelp(argv: string[]): boolean {
  return argv.some((a) => a === '--help' || a === '-h');
}
