// Draws docs/bench.svg from docs/bench-results.json (the bench does it after every run; this redraws it
// by hand). Usage: node dist/test/bench/plot.js [results.json] [out.svg]
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { benchSvg } from './figure.js';
import { readResults } from './results.js';

const input = process.argv[2] ?? path.join(process.cwd(), 'docs', 'bench-results.json');
const output = process.argv[3] ?? path.join(path.dirname(input), 'bench.svg');
writeFileSync(output, benchSvg(readResults(input)));
console.log(`wrote ${output}`);
