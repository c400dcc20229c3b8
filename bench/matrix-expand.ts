// Benchmark: expanding a generated 10,000-cell matrix (target: under a second). Prints the median of
// several runs in one process, so machine noise shows as spread rather than as a wrong figure.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { loadCatalog } from '../matrix/catalog/catalog.ts';
import { planMatrix } from '../matrix/index.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);

export function generatedMatrix(dir: string): string {
  // 8 releases x 10 patch levels x 5 drivers x 5 verifier profiles x 5 workload sets = 10,000 cells,
  // plus an exclude and an include so the rule paths are measured too.
  const releases = ['win10-22h2', 'win11-23h2', 'win11-24h2', 'server-2019', 'server-2022', 'server-2025', 'win11-25h2', 'win11-22h2'];
  const text = `name: bench-10k
axes:
  os:
${releases.map((r) => `    - { release: ${r}, patch: latest-9 }`).join('\n')}
  driver:
${[1, 2, 3, 4, 5].map((i) => `    - { name: build-${i}, path: . }`).join('\n')}
  verifier: [none, standard, filter, lowres, ddi]
  workloads: [file-storm, process-churn, build-like, archive, [file-storm, build-like]]
exclude:
  - { os: win11-22h2, verifier: ddi, driver: build-5, workloads: archive, month: 2024-01 }
include:
  - { os: { release: win11-24h2, patch: latest }, verifier: full, driver: build-1, workloads: file-storm }
`;
  const file = join(dir, 'bench-10k.yaml');
  writeFileSync(file, text);
  return file;
}

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
