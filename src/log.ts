// Structured logging: pino JSON by default, pino-pretty (if installed) for humans. Never log secrets:
// kubeconfigs and tokens are not passed to the logger anywhere.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(opts: { level?: string; format?: 'json' | 'pretty'; name?: string } = {}): Logger {
  const base = { level: opts.level ?? 'info', name: opts.name ?? 'fedlet', redact: ['*.token', '*.password', 'authorization'] };
  if (opts.format === 'pretty') {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: process.stdout.isTTY, destination: 2 } } });
  }
  return pino(base, pino.destination(2));
}
