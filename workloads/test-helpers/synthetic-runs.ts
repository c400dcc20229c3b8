// TEST HELPER. Seeded synthetic runs for the latency statistics' tests: HDR histograms like the agent
// records (workloads/agent/histogram.ts), and agent results wrapping them for compareResults. The
// per-sample generator is the one harness/cell/test-doubles/fake-personality.ts uses (base + level +
// uniform spread of 10% of base); the round helper adds what a shared host does between runs: a
// per-run offset, a drift over time, and an occasional disturbed run.
import { build, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import type { AgentResult, StepResult } from '../agent/protocol.ts';
import { newLatencyHistogram } from '../agent/histogram.ts';
import { seededRng, type Rng } from '../random.ts';

/** One run's samples: max(1, round(base + level + u·spread)), u uniform in [0, 1); spread defaults to 10% of base. */
export function syntheticHistogram(rng: Rng, o: { samples: number; baseUs: number; levelUs?: number; spreadUs?: number }): Histogram {
  const h = build();
  const level = o.levelUs ?? 0;
  const spread = o.spreadUs ?? o.baseUs * 0.1;
  for (let i = 0; i < o.samples; i++) h.recordValue(Math.max(1, Math.round(o.baseUs + level + rng.next() * spread)));
  return h;
}

export interface InterleavedOptions {
  seed: number;
  /** Driver rounds k: the runs are B1 D1 B2 ... Dk B(k+1). */
  rounds: number;
  /** Samples per run. @default 1000 */
  samples?: number;
  /** A sample's cost with no driver, µs. @default 150 */
  baseUs?: number;
  /** What the driver adds to every sample of a D run, µs. @default 0 */
  overheadUs?: number;
  /** Uniform within-run spread, µs. @default 10% of base */
  spreadUs?: number;
  /** Each run's own offset ~ N(0, runSdUs): the run-to-run noise. @default 0 */
  runSdUs?: number;
  /** The host gets slower by this much per run, in time order (a linear drift). @default 0 */
  driftUsPerRun?: number;
  /** Extra µs added to the runs at these positions in time order (0 = B1, 1 = D1, 2 = B2, ...). */
  disturb?: Record<number, number>;
  /** Today's order instead: the k+1 baseline runs first, then the k driver runs (same host, same drift). */
  sequential?: boolean;
}

/** Runs in time order B1 D1 ... Dk B(k+1) (or B1..B(k+1) D1..Dk with `sequential`), split into the
 * baseline and driver lists (each in time order). */
export function interleavedRuns(o: InterleavedOptions): { baseline: Histogram[]; driver: Histogram[]; order: Array<'B' | 'D'> } {
  const rng = seededRng(o.seed);
  const base = o.baseUs ?? 150;
  const baseline: Histogram[] = [];
  const driver: Histogram[] = [];
  const order: Array<'B' | 'D'> = [];
  for (let t = 0; t < 2 * o.rounds + 1; t++) {
    const isDriver = o.sequential ? t > o.rounds : t % 2 === 1;
    const offset = (o.runSdUs ?? 0) * rng.normal() + (o.driftUsPerRun ?? 0) * t + (o.disturb?.[t] ?? 0);
    const levelUs = offset + (isDriver ? (o.overheadUs ?? 0) : 0);
    const h = syntheticHistogram(rng, { samples: o.samples ?? 1000, baseUs: base, levelUs, ...(o.spreadUs !== undefined ? { spreadUs: o.spreadUs } : {}) });
    (isDriver ? driver : baseline).push(h);
    order.push(isDriver ? 'D' : 'B');
  }
  return { baseline, driver, order };
}

/** An agent result of one workload whose steps carry the given histograms (re-encoded as the agent does). */
export function syntheticResult(workload: string, steps: Record<string, Histogram>): AgentResult {
  const step = (name: string, h: Histogram): StepResult => {
    // The agent's own histogram shape, so decoding goes through the same path as a recorded run.
    const rec = newLatencyHistogram();
    rec.add(h);
    return {
      name, op: 'open', status: 'ok', count: h.totalCount, errors: 0, warmupErrors: 0, errorLimit: 100, errorSamples: [], warmup: 0, concurrency: 1,
      elapsedMs: 1, opsPerSec: 1,
      latencyUs: { min: h.minNonZeroValue, p50: h.getValueAtPercentile(50), p90: h.getValueAtPercentile(90), p99: h.getValueAtPercentile(99), p999: h.getValueAtPercentile(99.9), max: h.maxValue, mean: h.mean, stddev: h.stdDeviation },
      histogram: encodeIntoCompressedBase64(rec),
    };
  };
  return {
    schema: 'fleetgate-agent-result/1', workload, workdir: '/synthetic', startedAt: '', finishedAt: '', durationMs: 1, ok: true,
    priority: { requested: 'high', applied: -20, note: null },
    host: { node: process.version, platform: 'linux', arch: 'x64', release: 'synthetic', hostname: 'synthetic', cpus: { count: 1, model: 'synthetic' }, totalMemBytes: 1 },
    steps: Object.entries(steps).map(([name, h]) => step(name, h)),
  };
}
