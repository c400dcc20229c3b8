// Baseline (no driver) against with-driver runs of one workload, k runs a side: per step and percentile,
// the driver's overhead with a bootstrap confidence interval, and a verdict that allows for run-to-run
// noise the way LKP-tests does (a change counts only when the two sides' ranges do not overlap and it is
// bigger than a threshold). Pure and deterministic given a seed.
//
// Why the bootstrap resamples RUNS, each with a within-run draw, rather than pooling every sample:
// the noise that matters here is between runs (another boot, another host load, another JIT and cache
// state; under TCG p99 moves by 700-900 µs run to run while p50 barely moves). Samples of one run share
// those conditions, so pooling 6,000 samples from 5 runs as if independent gives intervals far narrower
// than the real run-to-run spread, and calls noise a regression. So each resample picks k runs with
// replacement (the between-run variance); for each picked run it then draws the percentile of a
// resample of that run's own samples (the within-run variance, which keeps the interval honest when k is
// 1 to 3 and run resampling alone has few distinct outcomes). That draw is exact and cheap: the j-th
// smallest of n samples drawn from a run's empirical distribution F is F⁻¹(U), U ~ Beta(j, n - j + 1),
// so one Beta variate and a binary search over the run's histogram replace drawing n samples.
import { decodeFromCompressedBase64, JsHistogram, type Histogram } from 'hdr-histogram-js';
import type { AgentResult, OperationKind } from './agent/protocol.ts';
import { hashSeed, seededRng, type Rng } from './random.ts';

export type ChangeClass = 'regressed' | 'improved' | 'no-change';

export interface CompareOptions {
  /** @default 1 */
  seed?: number;
  /** Bootstrap resamples. @default 2000 */
  iterations?: number;
  /** Two-sided confidence level of the interval. @default 0.95 */
  confidence?: number;
  /** A change smaller than this fraction of the baseline is no-change. @default 0.05 */
  relThreshold?: number;
  /** ...and one smaller than this many µs, whatever the fraction (a 0.3 µs shift on a 2 µs host open is
   * 15% and means nothing). @default 2 */
  absFloorUs?: number;
  /** @default [50, 90, 99] */
  percentiles?: number[];
}

export interface SideFigures {
  /** The percentile of each run, µs. */
  runs: number[];
  mean: number;
  min: number;
  max: number;
}

export interface PercentileComparison {
  percentile: number;
  baseline: SideFigures;
  driver: SideFigures;
  /** mean(driver runs) − mean(baseline runs), µs. */
  overheadUs: number;
  /** overheadUs / baseline mean; null when the baseline is 0. */
  relative: number | null;
  ci: { low: number; high: number; level: number };
  /** min..max of the runs overlap (null: fewer than 2 runs on a side, no range to speak of). */
  rangesOverlap: boolean | null;
  thresholdUs: number;
  classification: ChangeClass;
  /** Why, in words (which test held the verdict back, or what was found). */
  reason: string;
}

export interface StepComparison {
  name: string;
  op: OperationKind;
  percentiles: PercentileComparison[];
  /** The worst of its percentiles: regressed over improved over no-change. */
  classification: ChangeClass;
}

export interface WorkloadComparison {
  workload: string;
  baselineRuns: number;
  driverRuns: number;
  steps: StepComparison[];
  /** Steps that could not be compared: missing on a side, or a run with nothing recorded. */
  skipped: Array<{ name: string; reason: string }>;
  classification: ChangeClass;
}

const DEFAULTS = { seed: 1, iterations: 2000, confidence: 0.95, relThreshold: 0.05, absFloorUs: 2, percentiles: [50, 90, 99] };

/** A run's histogram as a sorted value/cumulative-count table, for quantile look-ups by binary search. */
export interface Cdf {
  values: Float64Array;
  cum: Float64Array;
  n: number;
}

export function cdfOf(h: Histogram): Cdf {
  if (!(h instanceof JsHistogram)) throw new TypeError('compare needs hdr-histogram-js JS histograms (not WASM)');
  const values: number[] = [];
  const cum: number[] = [];
  let total = 0;
  const it = h.recordedValuesIterator;
  it.reset();
  while (it.hasNext()) {
    const v = it.next();
    total += v.countAtValueIteratedTo;
    values.push(v.valueIteratedTo);
    cum.push(total);
  }
  return { values: Float64Array.from(values), cum: Float64Array.from(cum), n: total };
}

/** The value at rank `rank` (1-based) of the run's samples. */
export function valueAtRank(c: Cdf, rank: number): number {
  let lo = 0;
  let hi = c.cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (c.cum[mid]! >= rank) hi = mid;
    else lo = mid + 1;
  }
  return c.values[lo]!;
}

/** The same rank rule as HdrHistogram's getValueAtPercentile: the ceil(p·n)-th smallest. */
export const rankOf = (p: number, n: number): number => Math.min(n, Math.max(1, Math.ceil((p / 100) * n - 1e-9)));

function side(values: number[]): SideFigures {
  return { runs: values, mean: values.reduce((a, b) => a + b, 0) / values.length, min: Math.min(...values), max: Math.max(...values) };
}

/** The p-th percentile of a resample of one run's own samples, drawn exactly (the Beta trick above);
 * shared with workloads/rounds.ts, whose paired bootstrap redraws each run of a round the same way. */
export function drawPercentile(c: Cdf, p: number, rng: Rng): number {
  const j = rankOf(p, c.n);
  const u = rng.beta(j, c.n - j + 1);
  return valueAtRank(c, Math.max(1, Math.ceil(u * c.n)));
}

/** One bootstrap replicate of a side's statistic: the mean over k resampled runs of a resampled percentile. */
function replicate(cdfs: Cdf[], p: number, rng: Rng): number {
  let sum = 0;
  for (let r = 0; r < cdfs.length; r++) sum += drawPercentile(cdfs[rng.int(cdfs.length)]!, p, rng);
  return sum / cdfs.length;
}

export function quantileSorted(xs: Float64Array, q: number): number {
  const pos = q * (xs.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return xs[lo]! + (xs[hi]! - xs[lo]!) * (pos - lo);
}

const r2 = (x: number): number => Math.round(x * 100) / 100;

/** Compares one step's histograms (one per run a side) at each percentile. */
export function compareHistograms(baseline: Histogram[], driver: Histogram[], options: CompareOptions = {}, label = ''): PercentileComparison[] {
  const o = { ...DEFAULTS, ...options };
  if (baseline.length === 0 || driver.length === 0) throw new RangeError('compareHistograms needs at least one run on each side');
  const bc = baseline.map(cdfOf);
  const dc = driver.map(cdfOf);
  if ([...bc, ...dc].some((c) => c.n === 0)) throw new RangeError('compareHistograms: a run recorded nothing');
  return o.percentiles.map((p) => {
    const b = side(bc.map((c) => valueAtRank(c, rankOf(p, c.n))));
    const d = side(dc.map((c) => valueAtRank(c, rankOf(p, c.n))));
    const rng = seededRng(hashSeed(o.seed, label, p));
    const diffs = new Float64Array(o.iterations);
    for (let i = 0; i < o.iterations; i++) diffs[i] = replicate(dc, p, rng) - replicate(bc, p, rng);
    diffs.sort();
    const alpha = 1 - o.confidence;
    const ci = { low: r2(quantileSorted(diffs, alpha / 2)), high: r2(quantileSorted(diffs, 1 - alpha / 2)), level: o.confidence };
    const overheadUs = r2(d.mean - b.mean);
    const relative = b.mean > 0 ? Math.round((overheadUs / b.mean) * 10_000) / 10_000 : null;
    const rangesOverlap = bc.length >= 2 && dc.length >= 2 ? !(d.min > b.max || d.max < b.min) : null;
    const thresholdUs = r2(Math.max(o.relThreshold * b.mean, o.absFloorUs));
    const ciExcludesZero = ci.low > 0 || ci.high < 0;
    let classification: ChangeClass = 'no-change';
    let reason: string;
    const pct = relative === null ? '' : ` (${(relative * 100).toFixed(1)}%)`;
    if (rangesOverlap === true) reason = `p${p} ranges overlap: baseline ${b.min}..${b.max} µs, driver ${d.min}..${d.max} µs`;
    else if (!ciExcludesZero) reason = `p${p} ${(o.confidence * 100).toFixed(0)}% interval ${ci.low}..${ci.high} µs contains 0`;
    else if (Math.abs(overheadUs) < thresholdUs) reason = `p${p} change ${overheadUs} µs${pct} is below the ${thresholdUs} µs threshold`;
    else {
      classification = overheadUs > 0 ? 'regressed' : 'improved';
      reason = `p${p} ${overheadUs > 0 ? '+' : ''}${overheadUs} µs${pct}, interval ${ci.low}..${ci.high} µs${rangesOverlap === null ? ' (one run on a side: interval only)' : ', ranges apart'}`;
    }
    return { percentile: p, baseline: b, driver: d, overheadUs, relative, ci, rangesOverlap, thresholdUs, classification, reason };
  });
}

export function worstOf(classes: ChangeClass[]): ChangeClass {
  if (classes.includes('regressed')) return 'regressed';
  if (classes.includes('improved')) return 'improved';
  return 'no-change';
}

/** Compares agent results of one workload: steps matched by name. */
export function compareResults(baseline: AgentResult[], driver: AgentResult[], options: CompareOptions = {}): WorkloadComparison {
  if (baseline.length === 0 || driver.length === 0) throw new RangeError('compareResults needs at least one run on each side');
  const workload = baseline[0]!.workload;
  const mismatch = [...baseline, ...driver].find((r) => r.workload !== workload);
  if (mismatch) throw new RangeError(`compareResults: runs of different workloads (${workload}, ${mismatch.workload})`);
  const names: string[] = [];
  for (const r of [...baseline, ...driver]) for (const s of r.steps) if (!names.includes(s.name)) names.push(s.name);
  const steps: StepComparison[] = [];
  const skipped: WorkloadComparison['skipped'] = [];
  for (const name of names) {
    const pick = (runs: AgentResult[]) => runs.map((r) => r.steps.find((s) => s.name === name));
    const b = pick(baseline);
    const d = pick(driver);
    const all = [...b, ...d];
    if (all.some((s) => s === undefined)) {
      skipped.push({ name, reason: 'missing from some runs' });
      continue;
    }
    if (all.some((s) => s!.count === 0)) {
      skipped.push({ name, reason: 'a run recorded no successful iteration' });
      continue;
    }
    const decode = (s: (typeof all)[number]) => decodeFromCompressedBase64(s!.histogram);
    const percentiles = compareHistograms(b.map(decode), d.map(decode), options, name);
    steps.push({ name, op: b[0]!.op, percentiles, classification: worstOf(percentiles.map((p) => p.classification)) });
  }
  return { workload, baselineRuns: baseline.length, driverRuns: driver.length, steps, skipped, classification: worstOf(steps.map((s) => s.classification)) };
}
