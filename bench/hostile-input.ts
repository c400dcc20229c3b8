// Benchmark: every reader of untrusted input, on hostile and fuzzed inputs from 1 KB to 1 MB (issue
// #16). For each reader it prints the worst time per KB at each size over its cases, and the growth
// from the smallest to the largest size: a reader linear in its input keeps ms/KB flat (growth near
// 1x; machine noise moves it by a factor of two or so, a quadratic reader by a factor of ~1000).
//
// The readers are listed by their rooms in bench/hostile/*.ts (each exports `readers`).
// BENCH_HOSTILE_SIZES=1,16,256,1024 picks the sizes in KB; BENCH_HOSTILE_ONLY=<substring> picks readers.
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { BenchReader, IssueRow } from './hostile/types.ts';

const dir = fileURLToPath(new URL('./hostile/', import.meta.url));
const SIZES = (process.env.BENCH_HOSTILE_SIZES ?? '1,16,256,1024').split(',').map(Number);
const ONLY = process.env.BENCH_HOSTILE_ONLY;
const REPEAT = Number(process.env.BENCH_RUNS ?? 3);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const readers: BenchReader[] = [];
const rows: IssueRow[] = [];
for (const f of readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'types.ts').sort()) {
  const mod = (await import(pathToFileURL(`${dir}${f}`).href)) as { readers?: BenchReader[]; rows?: IssueRow[] };
  readers.push(...(mod.readers ?? [])); // inputs.ts and the like hold helpers, no readers
  rows.push(...(mod.rows ?? []));
}

async function timeOne(r: BenchReader, input: string | Uint8Array): Promise<number> {
  const runs: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const t0 = performance.now();
    try {
      await r.read(input);
    } catch {
      // A reader refusing bad input with its own error has handled it; the time is what counts.
    }
    runs.push(performance.now() - t0);
  }
  return median(runs);
}

// The issue's regex rows at 100 times their size first: each was seconds to a minute before the fix.
console.log(`hostile-input: issue #16's rows at 100x, median of ${REPEAT}`);
for (const row of rows) {
  if (ONLY && !row.label.includes(ONLY)) continue;
  const runs: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const t0 = performance.now();
    try {
      row.read(row.input);
    } catch {
      // a refusal is an answer
    }
    runs.push(performance.now() - t0);
  }
  console.log(`  ${row.label}: ${(row.input.length / 1024).toFixed(0)} KB in ${median(runs).toFixed(2)} ms`);
}

let superlinear = 0;
console.log(`hostile-input: sizes ${SIZES.join(', ')} KB, median of ${REPEAT} per input`);
for (const r of readers) {
  if (ONLY && !r.name.includes(ONLY)) continue;
  const perKb: number[] = [];
  const worstCase: string[] = [];
  for (const kb of SIZES) {
    let worst = 0;
    let label = '';
    for (const c of r.cases) {
      const input = c.make(kb);
      const actualKb = Math.max(1, (typeof input === 'string' ? Buffer.byteLength(input) : input.length) / 1024);
      const ms = (await timeOne(r, input)) / actualKb;
      if (ms >= worst) {
        worst = ms;
        label = c.label;
      }
    }
    perKb.push(worst);
    worstCase.push(label);
  }
  const growth = perKb[perKb.length - 1]! / Math.max(perKb[0]!, 1e-4);
  // ms/KB at 1 MB more than 8x that at 1 KB is more than noise on a shared machine.
  const flag = growth > 8 ? '  SUPERLINEAR' : '';
  if (flag) superlinear++;
  console.log(`  ${r.name}`);
  SIZES.forEach((kb, i) => console.log(`    ${String(kb).padStart(5)} KB: worst ${perKb[i]!.toFixed(4)} ms/KB (${worstCase[i]})`));
  console.log(`    growth 1 KB -> ${SIZES[SIZES.length - 1]} KB: ${growth.toFixed(2)}x per KB${flag}`);
}
console.log(`hostile-input: ${readers.length} readers, ${superlinear} superlinear`);
process.exit(superlinear ? 1 : 0);
