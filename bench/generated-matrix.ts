// The generated 10,000-cell matrix the benchmarks share (bench/matrix-expand.ts, bench/run-overhead.ts).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

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

