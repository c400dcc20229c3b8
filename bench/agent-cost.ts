// Benchmark: what the agent itself adds to each recorded operation (two hrtime reads, a try/catch, the
// histogram record and running sums), measured as N no-op operations through the agent's own step loop
// against a bare loop calling the same no-op; plus this host's open+close latency through the bundled
// agent, as a scale for that overhead. Medians of several runs, so noise shows as spread.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleAgent } from '../workloads/agent/bundle.ts';
import type { AgentResult, StepSpec } from '../workloads/agent/protocol.ts';
import { runStep } from '../workloads/agent/runner.ts';
import { parseWorkload } from '../workloads/spec.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const N = Number(process.env.BENCH_OPS ?? 200_000);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const spread = (xs: number[]): string => `${Math.min(...xs).toFixed(3)}..${Math.max(...xs).toFixed(3)}`;

let sink = 0;
const noop = (i: number): void => {
  sink += i & 1;
};

function step(concurrency: number): StepSpec {
  return { name: 'noop', op: 'open', count: N, durationMs: null, warmup: 1000, concurrency, dir: '.', files: 1, subdirs: 0, fileSize: 0, fsync: false, command: null, timeoutMs: 1000, errorLimit: 1 };
}

function bare(): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) noop(i);
  return Number(process.hrtime.bigint() - t0) / N;
}

/** Mean recorded latency of a no-op (ns): the timer floor every recorded value carries. */
const floorNs: number[] = [];

async function throughLoop(concurrency: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  const res = await runStep(step(concurrency), { root: tmpdir(), platform: process.platform }, { operation: { sync: noop, run: async (i) => noop(i) } });
  // runStep's own fixed work (histogram allocation, encoding) is included: amortised over N it is small.
  const perOp = Number(process.hrtime.bigint() - t0) / N;
  if (concurrency === 1) floorNs.push(res.latencyUs.mean * 1000);
  return perOp;
}

const bareNs: number[] = [];
const syncNs: number[] = [];
const asyncNs: number[] = [];
for (let r = 0; r < RUNS; r++) {
  bareNs.push(bare());
  syncNs.push(await throughLoop(1));
  asyncNs.push(await throughLoop(4));
}
const over = (xs: number[]) => xs.map((x, i) => x - bareNs[i]!);
console.log(`agent-cost: ${N} no-op operations, median of ${RUNS} runs (ns per operation)`);
console.log(`  bare loop                          ${median(bareNs).toFixed(1)} ns   (${spread(bareNs)})`);
console.log(`  recording loop, concurrency 1 (sync)  ${median(syncNs).toFixed(1)} ns   overhead ${median(over(syncNs)).toFixed(1)} ns = ${(median(over(syncNs)) / 1000).toFixed(3)} µs`);
console.log(`  recorded latency of a no-op, concurrency 1 (timer floor inside every value)  mean ${median(floorNs).toFixed(1)} ns`);
console.log(`  recording loop, concurrency 4 (async) ${median(asyncNs).toFixed(1)} ns   overhead ${median(over(asyncNs)).toFixed(1)} ns = ${(median(over(asyncNs)) / 1000).toFixed(3)} µs`);

// The host's open+close through the bundled agent (as the guest runs it).
const { path: agent } = await bundleAgent();
const dir = mkdtempSync(join(tmpdir(), 'fg-bench-agent-'));
const spec = parseWorkload('bench-open.yaml', 'name: bench-open\ndefaults: { files: 1000, fileSize: 4096 }\noperations:\n  - op: create\n  - op: open\n    count: 20000\n    warmup: 1000\n');
const specFile = join(dir, 'spec.json');
writeFileSync(specFile, JSON.stringify(spec));
const p50: number[] = [];
const p99: number[] = [];
for (let r = 0; r < 5; r++) {
  const out = spawnSync(process.execPath, [agent, '--spec', specFile, '--workdir', dir, '--quiet'], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`agent failed: ${out.stdout}${out.stderr}`);
  const open = (JSON.parse(out.stdout) as AgentResult).steps.find((s) => s.name === 'open')!;
  p50.push(open.latencyUs.p50);
  p99.push(open.latencyUs.p99);
}
console.log(`  host open+close via the agent (20,000 ops, 5 runs): p50 median ${median(p50)} µs (${spread(p50)}), p99 median ${median(p99)} µs (${spread(p99)})`);
rmSync(dir, { recursive: true, force: true });
if (sink < 0) console.log(sink);
