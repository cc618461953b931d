#!/usr/bin/env node
// The `fedlet` binary: runs a command (app/main.ts) and turns its outcome into an exit code — 2 with a
// one-line message for bad input or a failed start, 1 with the stack for anything unexpected.
import { ConfigError } from '../src/config.js';
import { KubeconfigError } from '../src/kube/kubeconfig.js';
import { main } from './main.js';
import { processIO } from './io.js';
import { StartupError } from './run.js';

main(process.argv.slice(2), processIO).then(
  (code) => process.exit(code),
  (e: Error) => {
    const known = e instanceof ConfigError || e instanceof StartupError || e instanceof KubeconfigError;
    process.stderr.write(`fedlet: ${known ? '' : 'unexpected error: '}${e.message}\n`);
    if (!known && e.stack) process.stderr.write(`${e.stack}\n`);
    process.exit(known ? 2 : 1);
  },
);
