// The verdict step's latency half: every workload step's p50 and p99 with our driver against the
// baseline, and the policy's budget applied to the steps it names. A step fails the cell when its p50
// regressed by more than the budget (both the absolute and the relative part); the cell is
// latency-inconclusive when a judged step did not regress past the budget but its noise is too large
// to say it stayed within: the 95% interval of its p50 overhead reaches past the budget.
import type { AgentResult, WorkloadSpec } from '../../workloads/agent/protocol.ts';
import { compareResults } from '../../workloads/compare.ts';
import type { OperationLatency } from '../../runfolder/results.ts';

/** What a driver may add to a step's p50, keyed by step name, `*` for the rest; unnamed steps are reported, never judged. */
export type LatencyBudget = Record<string, { absUs: number; rel: number }>;

export interface LatencyJudgement {
  latency: Record<string, OperationLatency>;
  /** Judged steps over the budget, in words. */
  regressed: string[];
  /** Judged steps whose interval spans the budget, in words. */
  inconclusive: string[];
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
