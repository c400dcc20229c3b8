// Interleaved rounds (issue #17): with k driver rounds the runs come in time
// order B1 D1 B2 D2 ... Dk B(k+1), and each driver run is compared with the baseline runs just before
// and after it: o_i = q(D_i) − (q(B_i) + q(B_{i+1}))/2. A host that drifts (a shared CI box getting
// busier) moves both neighbours alike, so a linear drift cancels exactly, which an unpaired B..B D..D
// comparison (compare.ts) cannot do. From the o_i:
// - overhead = median(o_i), so one disturbed round moves it little;
// - noise = MAD(o_i);
// - the 95% interval is a paired bootstrap over rounds, each picked round's three runs redrawn with
//   compare.ts's per-run Beta draw, united with a t-interval on the mean of the o_i (widened for the
//   baselines neighbouring rounds share). The bootstrap of a
//   median of 3-6 values has few distinct outcomes and under-covers (rounds.test.ts measures it); the
//   t-interval supplies the width the bootstrap lacks, and the union keeps the side the issue asks
//   for: no false alarms;
// - detectable = the smallest overhead told from zero with 80% power: (t_{k−1,.975} + t_{k−1,.80})·s/√k,
//   s = max(1.4826·MAD, sd), so one outlier can neither shrink nor hide the spread.
// Pure and deterministic given a seed.
import type { Histogram } from 'hdr-histogram-js';
import { InputError } from '../lib/errors.ts';
import { cdfOf, drawPercentile, quantileSorted, rankOf, valueAtRank, type Cdf } from './compare.ts';
import { hashSeed, seededRng } from './random.ts';

/** One percentile's figures from interleaved rounds. */
export interface RoundStat {
  percentile: number;
  /** Driver rounds k. */
  rounds: number;
  /** Per round i: driver run i − mean of the baseline runs before and after it, µs. */
  overheadsUs: number[];
  /** median of overheadsUs */
  overheadUs: number;
  /** The interval of the overhead at `level`: the union of bootstrapCiUs and tCiUs. */
  ciUs: [number, number];
  level: number;
  bootstrapCiUs: [number, number];
  tCiUs: [number, number];
  /** MAD of overheadsUs */
  noiseUs: number;
  detectableUs: number;
  /** q_p of B1..B(k+1), in time order. */
  baselineUs: number[];
  /** q_p of D1..Dk, in time order. */
  driverUs: number[];
}

export interface RoundStatOptions {
  /** @default 1 */
  seed?: number;
  /** Bootstrap resamples. @default 2000 */
  iterations?: number;
  /** The step's name, for the seed and for messages. */
  label?: string;
  /** The evidence the runs came from, for errors. @default 'rounds' */
  file?: string;
}

export type Judgement = 'within' | 'over' | 'undecided';

const LEVEL = 0.95;
const r2 = (x: number): number => Math.round(x * 100) / 100;

// Student's t quantiles for df 1..30 (standard tables, 3 decimals; rounds.test.ts checks them against
// a numeric integration of the density). Beyond 30 the normal quantile is within 0.1 of t's at
// these levels, and a cell never has that many rounds anyway.
const T_TABLE: Record<string, { normal: number; df: number[] }> = {
  '0.8': {
    normal: 0.8416,
    df: [1.376, 1.061, 0.978, 0.941, 0.92, 0.906, 0.896, 0.889, 0.883, 0.879, 0.876, 0.873, 0.87, 0.868, 0.866, 0.865, 0.863, 0.862, 0.861, 0.86, 0.859, 0.858, 0.858, 0.857, 0.856, 0.856, 0.855, 0.855, 0.854, 0.854],
  },
  '0.95': {
    normal: 1.6449,
    df: [6.314, 2.92, 2.353, 2.132, 2.015, 1.943, 1.895, 1.86, 1.833, 1.812, 1.796, 1.782, 1.771, 1.761, 1.753, 1.746, 1.74, 1.734, 1.729, 1.725, 1.721, 1.717, 1.714, 1.711, 1.708, 1.706, 1.703, 1.701, 1.699, 1.697],
  },
  '0.975': {
    normal: 1.96,
    df: [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042],
  },
};

/** The q-quantile of Student's t with df degrees of freedom; q ∈ {0.8, 0.95, 0.975}. */
export function tQuantile(df: number, q: number): number {
  const row = T_TABLE[String(q)];
  if (!row) throw new RangeError(`tQuantile: q ${q} is not in the table (0.8, 0.95, 0.975)`);
  if (!Number.isInteger(df) || df < 1) throw new RangeError(`tQuantile: df ${df} must be a whole number ≥ 1`);
  return df <= row.df.length ? row.df[df - 1]! : row.normal;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('median of nothing');
  const v = [...xs].sort((a, b) => a - b);
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

/** Median absolute deviation from the median (unscaled). */
export function mad(xs: readonly number[]): number {
  const m = median(xs);
  return median(xs.map((x) => Math.abs(x - m)));
}

function meanSd(xs: readonly number[]): { mean: number; sd: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const ss = xs.reduce((a, x) => a + (x - mean) ** 2, 0);
  return { mean, sd: xs.length > 1 ? Math.sqrt(ss / (xs.length - 1)) : 0 };
}

/** The per-round arithmetic: driver[i] − (before[i] + after[i]) / 2 (what calibrate's rounds and a cell's rounds share). */
export function roundOverheads(before: readonly number[], driver: readonly number[], after: readonly number[]): number[] {
  if (before.length !== driver.length || after.length !== driver.length) {
    throw new RangeError(`roundOverheads: ${before.length} before, ${driver.length} driver and ${after.length} after figures; expected the same number`);
  }
  return driver.map((d, i) => r2(d - (before[i]! + after[i]!) / 2));
}

/** The spread the detectable overhead is computed from: max(1.4826·MAD, sd). */
function spreadOf(overheads: readonly number[]): number {
  return Math.max(1.4826 * mad(overheads), meanSd(overheads).sd);
}

/** The smallest overhead k rounds with these overheads' spread tell from zero with 80% power (two-sided 5%). */
export function detectable(overheads: readonly number[]): number {
  const k = overheads.length;
  if (k < 2) throw new RangeError(`detectable: ${k} round(s); at least 2 are needed to see the spread`);
  return r2(((tQuantile(k - 1, 0.975) + tQuantile(k - 1, 0.8)) * spreadOf(overheads)) / Math.sqrt(k));
}

/**
 * The statistic over rounds given as triples (before[i], driver[i], after[i]) of run histograms. A
 * cell's rounds share their baselines (after[i] is before[i+1]: use roundStat); calibration's rounds
 * each have their own delay-0 runs.
 */
export function pairedRoundStat(before: Histogram[], driver: Histogram[], after: Histogram[], percentile: number, opts: RoundStatOptions = {}): RoundStat {
  const file = opts.file ?? 'rounds';
  const label = opts.label ?? '';
  const where = `${label ? `step ${label} ` : ''}p${percentile}`;
  const k = driver.length;
  if (before.length !== k || after.length !== k) {
    throw new InputError({ file }, `${where}: ${before.length} runs before, ${k} driver runs and ${after.length} after; expected one before and one after each driver run`);
  }
  if (k < 2) throw new InputError({ file }, `${where}: ${k} driver round(s); expected at least 2 (one round has no spread to measure the noise from)`);
  if (!(percentile > 0 && percentile <= 100)) throw new RangeError(`pairedRoundStat: percentile ${percentile} is not in (0, 100]`);
  // One Cdf per distinct histogram, so a shared baseline run is decoded once.
  const cache = new Map<Histogram, Cdf>();
  const cdf = (h: Histogram, what: string): Cdf => {
    let c = cache.get(h);
    if (!c) {
      c = cdfOf(h);
      if (c.n === 0) throw new InputError({ file }, `${where}: ${what} recorded nothing; expected a histogram with at least one sample`);
      cache.set(h, c);
    }
    return c;
  };
  const bc = before.map((h, i) => cdf(h, `the run before driver round ${i + 1}`));
  const dc = driver.map((h, i) => cdf(h, `driver round ${i + 1}`));
  const ac = after.map((h, i) => cdf(h, `the run after driver round ${i + 1}`));
  const q = (c: Cdf) => valueAtRank(c, rankOf(percentile, c.n));
  const overheadsUs = roundOverheads(bc.map(q), dc.map(q), ac.map(q));
  const overheadUs = median(overheadsUs);

  // Paired bootstrap: rounds resampled whole (the pairing is the point), each run's percentile redrawn.
  const iterations = opts.iterations ?? 2000;
  const rng = seededRng(hashSeed(opts.seed ?? 1, label, percentile));
  const meds = new Float64Array(iterations);
  const pick = new Float64Array(k);
  for (let it = 0; it < iterations; it++) {
    for (let j = 0; j < k; j++) {
      const i = rng.int(k);
      const b = drawPercentile(bc[i]!, percentile, rng);
      const d = drawPercentile(dc[i]!, percentile, rng);
      const a = drawPercentile(ac[i]!, percentile, rng);
      pick[j] = d - (b + a) / 2;
    }
    pick.sort();
    meds[it] = k % 2 ? pick[k >> 1]! : (pick[(k >> 1) - 1]! + pick[k >> 1]!) / 2;
  }
  meds.sort();
  const alpha = 1 - LEVEL;
  const bootstrapCiUs: [number, number] = [r2(quantileSorted(meds, alpha / 2)), r2(quantileSorted(meds, 1 - alpha / 2))];
  const { mean, sd } = meanSd(overheadsUs);
  // Neighbouring rounds share a baseline run, so their o_i are positively correlated (1/6 when the
  // run-to-run noise is alike on both sides): s²/k then understates the variance of the mean. With iid
  // run noise σ², Var(mean) = (2k − ½)σ²/k² and E[s²] = (3/2 − 1/(2k))σ², hence the factor below (1.17
  // at k = 3, tending to 1.15); without it the t-interval covered 92-93% at k = 3-5 in a probe like
  // rounds.test.ts's coverage test. Rounds with their own baselines (calibration's) need no factor.
  const sharesBaselines = after.slice(0, -1).every((h, i) => h === before[i + 1]);
  const shared = sharesBaselines ? Math.sqrt((2 * k - 0.5) / (1.5 * k - 0.5)) : 1;
  const half = (shared * tQuantile(k - 1, 1 - alpha / 2) * sd) / Math.sqrt(k);
  const tCiUs: [number, number] = [r2(mean - half), r2(mean + half)];
  return {
    percentile,
    rounds: k,
    overheadsUs,
    overheadUs,
    ciUs: [Math.min(bootstrapCiUs[0], tCiUs[0]), Math.max(bootstrapCiUs[1], tCiUs[1])],
    level: LEVEL,
    bootstrapCiUs,
    tCiUs,
    noiseUs: r2(mad(overheadsUs)),
    detectableUs: detectable(overheadsUs),
    baselineUs: [...bc.map(q), q(ac[k - 1]!)],
    driverUs: dc.map(q),
  };
}

/** The statistic of a cell's rounds: `baseline` is B1..B(k+1) and `driver` D1..Dk, each in time order. */
export function roundStat(baseline: Histogram[], driver: Histogram[], percentile: number, opts: RoundStatOptions = {}): RoundStat {
  const where = `${opts.label ? `step ${opts.label} ` : ''}p${percentile}`;
  if (baseline.length !== driver.length + 1) {
    throw new InputError(
      { file: opts.file ?? 'rounds' },
      `${where}: ${baseline.length} baseline runs for ${driver.length} driver runs; expected driver runs + 1 (time order B1 D1 … Dk B(k+1))`,
    );
  }
  // Checked here too, to name the run by its place in time order (B2 is both round 1's after and round 2's before).
  for (const [side, runs] of [['B', baseline], ['D', driver]] as const) {
    runs.forEach((h, i) => {
      if (h.totalCount === 0) throw new InputError({ file: opts.file ?? 'rounds' }, `${where}: run ${side}${i + 1} recorded nothing; expected a histogram with at least one sample`);
    });
  }
  return pairedRoundStat(baseline.slice(0, -1), driver, baseline.slice(1), percentile, opts);
}

/** A step against a limit L (µs): over when the whole interval is above L, within when it is at or below. */
export function judgeStat(stat: Pick<RoundStat, 'ciUs'>, limitUs: number): Judgement {
  if (!Number.isFinite(limitUs)) throw new RangeError(`judgeStat: limit ${limitUs} µs is not a number`);
  const [low, high] = stat.ciUs;
  if (low > limitUs) return 'over';
  if (high <= limitUs) return 'within';
  return 'undecided';
}
