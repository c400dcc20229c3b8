// Benchmark: expanding a generated 10,000-cell matrix (target: under a second). Prints the median of
// several runs in one process, so machine noise shows as spread rather than as a wrong figure.
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { loadCatalog } from '../matrix/catalog/catalog.ts';
import { planMatrix } from '../matrix/index.ts';
import { generatedMatrix } from './generated-matrix.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const file = generatedMatrix(mkdtempSync(join(tmpdir(), 'fg-bench-')));
const catalog = loadCatalog();
const times: number[] = [];
let cells = 0;
for (let i = 0; i < RUNS; i++) {
  const t0 = performance.now();
  const plan = planMatrix(file, { catalog, today: '2026-11-27' });
  times.push(performance.now() - t0);
  cells = plan.cells.length;
}
const coldStart = performance.now();
loadCatalog();
const catalogMs = performance.now() - coldStart;
console.log(`matrix-expand: ${cells} cells; read+validate+expand median ${median(times).toFixed(1)} ms over ${RUNS} runs (min ${Math.min(...times).toFixed(1)}, max ${Math.max(...times).toFixed(1)}); catalog load ${catalogMs.toFixed(1)} ms; target < 1000 ms`);
