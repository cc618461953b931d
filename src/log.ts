// Structured logging: pino JSON by default, pino-pretty (if installed) for humans. Never log secrets:
// kubeconfigs and tokens are not passed to the logger anywhere.
import { pino, type Logger } from 'pino';

export type { Logger };

function prettyAvailable(): boolean {
  try {
    import.meta.resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

export function createLogger(opts: { level?: string; format?: 'json' | 'pretty'; name?: string } = {}): Logger {
  const base = { level: opts.level ?? 'info', name: opts.name ?? 'fedlet', redact: ['*.token', '*.password', 'authorization'] };
  if (opts.format === 'pretty') {
    if (prettyAvailable())
      return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: process.stdout.isTTY, destination: 2 } } });
    // Production installs (the container image) leave dev dependencies out: say so and stay on JSON.
    const log = pino(base, pino.destination(2));
    log.warn(
      'logFormat "pretty" needs the pino-pretty package, which is not installed; logging JSON (pipe it through `npx pino-pretty` instead)',
    );
    return log;
  }
  return pino(base, pino.destination(2));
}
