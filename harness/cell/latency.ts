// The verdict step's latency half: every workload step's p50 and p99 with our driver against the
// baseline, and the policy's budget applied to the steps it names. A step fails the cell when its p50
// regressed by more than the budget (both the absolute and the relative part); the cell is
// latency-inconclusive when a judged step did not regress past the budget but its noise is too large
// to say it stayed within: the 95% interval of its p50 overhead reaches past the budget.
//
// judgeRounds is the same verdict from interleaved rounds (issue #17): each step
// judged by the paired interval of its p50 overhead (workloads/rounds.ts) against one limit.
import { decodeFromCompressedBase64, type Histogram } from 'hdr-histogram-js';
import { InputError } from '../../lib/errors.ts';
import type { AgentResult, WorkloadSpec } from '../../workloads/agent/protocol.ts';
import { compareResults, type ChangeClass } from '../../workloads/compare.ts';
import { judgeStat, median, pairedRoundStat, roundStat, type RoundStat as FullRoundStat } from '../../workloads/rounds.ts';
import type { OperationLatency, RoundStat } from '../../runfolder/results.ts';

/** What a driver may add to a step's p50, keyed by step name, `*` for the rest; unnamed steps are reported, never judged. */
export type LatencyBudget = Record<string, { absUs: number; rel: number }>;

export interface LatencyJudgement {
  latency: Record<string, OperationLatency>;
  /** Judged steps over the budget, in words. */
  regressed: string[];
  /** Judged steps whose interval spans the budget, in words. */
  inconclusive: string[];
  /** Rounds only: the smallest overhead the cell could detect, µs: the worst of its judged steps that have a figure. */
  detectableUs?: number;
}

export function judgeLatency(
  specs: readonly WorkloadSpec[],
  baseline: ReadonlyMap<string, AgentResult[]>,
  withDriver: ReadonlyMap<string, AgentResult[]>,
  budget: LatencyBudget | undefined,
): LatencyJudgement {
  const latency: Record<string, OperationLatency> = {};
  const regressed: string[] = [];
  const inconclusive: string[] = [];
  for (const spec of specs) {
    const cmp = compareResults(baseline.get(spec.name) ?? [], withDriver.get(spec.name) ?? [], { percentiles: [50, 99] });
    for (const s of cmp.steps) {
      const p50 = s.percentiles.find((p) => p.percentile === 50)!;
      const p99 = s.percentiles.find((p) => p.percentile === 99)!;
      const key = specs.length > 1 ? `${spec.name}/${s.name}` : s.name;
      latency[key] = {
        p50Us: p50.driver.mean,
        p99Us: p99.driver.mean,
        baselineP50Us: p50.baseline.mean,
        baselineP99Us: p99.baseline.mean,
        change: p50.classification,
        overheadP50Us: p50.overheadUs,
        overheadP99Us: p99.overheadUs,
        overheadP50CiUs: [p50.ci.low, p50.ci.high],
        // p99's own interval, so the gate can judge a p99 limit on any step by its interval too.
        overheadP99CiUs: [p99.ci.low, p99.ci.high],
      };
      const b = budget?.[s.name] ?? budget?.['*'];
      if (b === undefined) continue;
      const base = p50.baseline.mean;
      const rel = p50.relative ?? Infinity;
      const over = p50.overheadUs > b.absUs && rel > b.rel;
      const limit = `the budget of ${b.absUs} µs and ${(b.rel * 100).toFixed(0)}%`;
      if (p50.classification === 'regressed' && over) {
        regressed.push(`${key} p50 +${p50.overheadUs.toFixed(0)} µs (+${(rel * 100).toFixed(0)}%) over ${limit}`);
      } else if (p50.ci.high > b.absUs && (base <= 0 || p50.ci.high / base > b.rel)) {
        inconclusive.push(`${key} p50 overhead ${p50.overheadUs.toFixed(0)} µs, 95% interval ${p50.ci.low.toFixed(0)}..${p50.ci.high.toFixed(0)} µs reaches past ${limit}`);
      }
    }
  }
  return { latency, regressed, inconclusive };
}

/** One recorded run of a cell's rounds, in time order (rounds.json's `order`). */
export interface RoundRun {
  /** baseline: ours not loaded (B); driver: ours loaded (D). */
  side: 'baseline' | 'driver';
  /** 1-based: B1..B(k+1), D1..Dk. */
  round: number;
  workload: string;
  result: AgentResult;
}

export interface RoundsJudgeOptions {
  /** A judged step with fewer usable rounds (its step recorded in B_i, D_i and B_{i+1}) is undecided. @default 3 */
  minRounds?: number;
  /** Bootstrap seed (the lifecycle derives it from the cell id, so a re-judging gives the same figures). @default 1 */
  seed?: number;
  /** Bootstrap resamples. @default 2000 */
  iterations?: number;
  /** The evidence the runs came from, for errors. @default 'rounds.json' */
  file?: string;
}

const runName = (side: RoundRun['side'], n: number): string => (side === 'driver' ? `driver round ${n}` : `baseline run ${n}`);
const signed = (x: number): string => `${x >= 0 ? '+' : ''}${x.toFixed(0)}`;
const interval = (c: readonly [number, number]): string => `95% ${c[0].toFixed(0)}..${c[1].toFixed(0)} µs`;

/** Only the figures the run folder keeps (the bootstrap and t halves stay in rounds.ts's own record). */
function kept(s: FullRoundStat): RoundStat {
  return { overheadsUs: s.overheadsUs, overheadUs: s.overheadUs, ciUs: s.ciUs, level: s.level, noiseUs: s.noiseUs, detectableUs: s.detectableUs, baselineUs: s.baselineUs, driverUs: s.driverUs };
}

// compare.ts's default thresholds, so `change` means for old readers what it meant before the rounds.
const REL_THRESHOLD = 0.05;
const ABS_FLOOR_US = 2;
function changeOf(s: RoundStat, baseUs: number): ChangeClass {
  const [low, high] = s.ciUs;
  if (!(low > 0 || high < 0) || Math.abs(s.overheadUs) < Math.max(REL_THRESHOLD * baseUs, ABS_FLOOR_US)) return 'no-change';
  return s.overheadUs > 0 ? 'regressed' : 'improved';
}

/**
 * Each workload's runs, checked to come as B1 D1 B2 … Dk B(k+1) (other workloads' runs may come
 * between), with the same k for every workload: the lifecycle runs every workload once per run slot.
 */
function splitRounds(specs: readonly WorkloadSpec[], order: readonly RoundRun[], file: string): Map<string, { baseline: AgentResult[]; driver: AgentResult[] }> {
  const names = specs.map((s) => s.name);
  const seen = new Map<string, RoundRun['side'][]>(names.map((n) => [n, []]));
  const split = new Map(names.map((n) => [n, { baseline: [] as AgentResult[], driver: [] as AgentResult[] }]));
  order.forEach((r, i) => {
    const at = `order[${i}]`;
    const mine = split.get(r.workload);
    if (!mine) throw new InputError({ file }, `${at} (workload ${r.workload}): not one of the cell's (${names.join(', ')})`);
    if (r.side !== 'baseline' && r.side !== 'driver') throw new InputError({ file }, `${at} (${r.workload}): side ${JSON.stringify(r.side)}; expected baseline or driver`);
    // Position j in this workload's own sequence: even j is B(j/2 + 1), odd j is D((j+1)/2).
    const j = seen.get(r.workload)!.length;
    const side = j % 2 === 0 ? 'baseline' : 'driver';
    const n = Math.floor(j / 2) + 1;
    if (r.side !== side || r.round !== n) {
      throw new InputError({ file }, `${at} (${r.workload} ${runName(r.side, r.round)}): expected ${runName(side, n)} here (time order B1 D1 … Dk B(k+1))`);
    }
    seen.get(r.workload)!.push(r.side);
    mine[r.side].push(r.result);
  });
  let first: { name: string; k: number } | undefined;
  for (const name of names) {
    const { baseline, driver } = split.get(name)!;
    const k = driver.length;
    if (baseline.length === 0) throw new InputError({ file }, `${name}: no recorded runs; expected B1 D1 … Dk B(k+1)`);
    if (baseline.length === k) throw new InputError({ file }, `${name}: the runs end with ${runName('driver', k)}; expected baseline run ${k + 1} after it`);
    if (k < 2) throw new InputError({ file }, `${name}: ${k} driver round${k === 1 ? '' : 's'}; expected at least 2 (one round has no spread to measure the noise from)`);
    if (!first) first = { name, k };
    else if (first.k !== k) throw new InputError({ file }, `${first.name} has ${first.k} driver rounds and ${name} ${k}; expected the same number for every workload`);
  }
  return split;
}

/**
 * The cell's latency verdict from interleaved rounds. Every step of every workload is reported with its
 * rounds; the steps the budget names are judged at p50 against L = max(absUs, rel × median baseline
 * p50): over when the interval is above L, within when at or below it, undecided when it straddles
 * L, and undecided when fewer than minRounds rounds are usable, or when the interval is wider than 2·L
 * (too noisy to say anything at that limit) without lying wholly above it: an interval above L is a
 * regression however wide it is (the demo's 2 ms-per-open build: create +2,522 µs, 95% 1,874..3,422
 * µs, at a 500 µs limit).
 */
export function judgeRounds(specs: readonly WorkloadSpec[], order: readonly RoundRun[], budget: LatencyBudget | undefined, opts: RoundsJudgeOptions = {}): LatencyJudgement {
  const file = opts.file ?? 'rounds.json';
  const minRounds = opts.minRounds ?? 3;
  const split = splitRounds(specs, order, file);
  const latency: Record<string, OperationLatency> = {};
  const regressed: string[] = [];
  const inconclusive: string[] = [];
  let detectableUs: number | undefined;
  for (const spec of specs) {
    const { baseline, driver } = split.get(spec.name)!;
    const k = driver.length;
    const stepNames: string[] = [];
    for (const r of [...baseline, ...driver]) for (const s of r.steps) if (!stepNames.includes(s.name)) stepNames.push(s.name);
    for (const name of stepNames) {
      const key = specs.length > 1 ? `${spec.name}/${name}` : name;
      // One decoded histogram per run (null: the step recorded nothing there), so a shared baseline run
      // is the same object in both of its rounds, which rounds.ts uses to see the sharing.
      const decode = (r: AgentResult, what: string): Histogram | null => {
        const st = r.steps.find((s) => s.name === name);
        if (!st || st.count === 0) return null;
        try {
          return decodeFromCompressedBase64(st.histogram);
        } catch (e) {
          throw new InputError({ file }, `${spec.name} ${what}: step ${name}'s histogram does not decode; expected HdrHistogram compressed base64`, { cause: e });
        }
      };
      const b = baseline.map((r, i) => decode(r, runName('baseline', i + 1)));
      const d = driver.map((r, i) => decode(r, runName('driver', i + 1)));
      const usable = d.map((_, i) => i).filter((i) => b[i] && d[i] && b[i + 1]);
      const statOpts = { seed: opts.seed ?? 1, label: key, file, ...(opts.iterations !== undefined ? { iterations: opts.iterations } : {}) };
      let p50: RoundStat | undefined;
      let p99: RoundStat | undefined;
      if (usable.length === k) {
        p50 = kept(roundStat(b as Histogram[], d as Histogram[], 50, statOpts));
        p99 = kept(roundStat(b as Histogram[], d as Histogram[], 99, statOpts));
      } else if (usable.length >= 2) {
        const pick = (off: number, side: Array<Histogram | null>) => usable.map((i) => side[i + off]!);
        p50 = kept(pairedRoundStat(pick(0, b), pick(0, d), pick(1, b), 50, statOpts));
        p99 = kept(pairedRoundStat(pick(0, b), pick(0, d), pick(1, b), 99, statOpts));
      }
      const bud = budget?.[name] ?? budget?.['*'];
      if (p50 && p99) {
        const baseP50 = median(p50.baselineUs);
        latency[key] = {
          p50Us: median(p50.driverUs),
          p99Us: median(p99.driverUs),
          baselineP50Us: baseP50,
          baselineP99Us: median(p99.baselineUs),
          change: changeOf(p50, baseP50),
          overheadP50Us: p50.overheadUs,
          overheadP99Us: p99.overheadUs,
          overheadP50CiUs: p50.ciUs,
          overheadP99CiUs: p99.ciUs,
          rounds: { count: usable.length, p50, p99 },
        };
      }
      if (bud === undefined) continue;
      // Without two usable rounds there is no figure to report, only the judgement that nothing can be said.
      const limitUs = Math.max(bud.absUs, bud.rel * (p50 ? median(p50.baselineUs) : 0));
      const budgetText = `the ${limitUs.toFixed(0)} µs budget`;
      let outcome: 'within' | 'over' | 'undecided';
      if (!p50 || usable.length < minRounds) {
        outcome = 'undecided';
        inconclusive.push(`${key} p50: ${usable.length} usable rounds of ${k}, fewer than the ${minRounds} needed (a round needs the step in its driver run and both baseline runs beside it); ${budgetText}`);
      } else if (p50.ciUs[0] <= limitUs && p50.ciUs[1] - p50.ciUs[0] > 2 * limitUs) {
        outcome = 'undecided';
        inconclusive.push(`${key} p50 noise ${p50.noiseUs.toFixed(0)} µs over ${usable.length} rounds: can detect ≥ ${p50.detectableUs.toFixed(0)} µs, the budget is ${limitUs.toFixed(0)} µs (${interval(p50.ciUs)})`);
      } else {
        outcome = judgeStat(p50, limitUs);
        const figures = `${key} p50 ${signed(p50.overheadUs)} µs (${interval(p50.ciUs)})`;
        const tail = `; ${usable.length} rounds, noise ${p50.noiseUs.toFixed(0)} µs`;
        if (outcome === 'over') regressed.push(`${figures} over ${budgetText}${tail}`);
        else if (outcome === 'undecided') inconclusive.push(`${figures} straddles ${budgetText}${tail}`);
      }
      if (p50) detectableUs = Math.max(detectableUs ?? 0, p50.detectableUs);
      const judged = { percentile: 'p50' as const, limitUs, outcome };
      if (latency[key]) latency[key].judged = judged;
      else {
        // Too few rounds for a statistic: the point figures of the runs that have the step, so the
        // step still shows as undecided; with no run on a side there is no figure at all to show.
        const q = (hs: Array<Histogram | null>, p: number) => hs.flatMap((h) => (h ? [h.getValueAtPercentile(p)] : []));
        const [d50, d99, b50, b99] = [q(d, 50), q(d, 99), q(b, 50), q(b, 99)];
        if (d50.length && b50.length) latency[key] = { p50Us: median(d50), p99Us: median(d99), baselineP50Us: median(b50), baselineP99Us: median(b99), judged };
      }
    }
  }
  return { latency, regressed, inconclusive, ...(detectableUs !== undefined ? { detectableUs } : {}) };
}
