// The cell's latency record: every step keeps the 95% intervals of both its p50 and its p99 overhead,
// taken from the same comparison that gives the point figures, so the gate can judge any step's p99
// limit by its interval (reports/gate/policy.ts).
import t from 'tap';
import { build, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import type { AgentResult, StepResult, WorkloadSpec } from '../../workloads/agent/protocol.ts';
import { compareResults } from '../../workloads/compare.ts';
import { seededRng } from '../../workloads/random.ts';
import { judgeLatency } from './latency.ts';

/** One run's histogram: n samples of `mean` ± sd, with a tail of `tailUs` on 3% of them (the p99 lives there). */
function hist(seed: number, n: number, mean: number, sd: number, tailUs: number): Histogram {
  const rng = seededRng(seed);
  const h = build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, autoResize: false });
  for (let i = 0; i < n; i++) h.recordValue(Math.max(1, Math.round((i % 33 === 0 ? tailUs : mean) + rng.normal() * sd)));
  return h;
}

function result(steps: Array<[string, Histogram]>): AgentResult {
  const step = (name: string, h: Histogram): StepResult => ({
    name, op: 'open', status: 'ok', count: h.totalCount, errors: 0, warmupErrors: 0, errorLimit: 100, errorSamples: [], warmup: 0, concurrency: 1,
    elapsedMs: 1, opsPerSec: 1, latencyUs: { min: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0, stddev: 0 },
    histogram: encodeIntoCompressedBase64(h),
  });
  return {
    schema: 'fleetgate-agent-result/1', workload: 'file-storm', workdir: '/tmp/x', startedAt: '', finishedAt: '', durationMs: 1, ok: true,
    priority: { requested: 'high', applied: -20, note: null },
    host: { node: 'v20', platform: 'linux', arch: 'x64', release: '6.1', hostname: 'g', cpus: { count: 1, model: 'x' }, totalMemBytes: 1 },
    steps: steps.map(([n, h]) => step(n, h)),
  };
}

const SPEC = { name: 'file-storm', description: 'test', priority: 'high', source: 'test', operations: [] } as unknown as WorkloadSpec;

t.test('every step records the p99 overhead interval beside the p50 one, from the same comparison', async (t) => {
  // The driver adds 20 µs to the body and 3000 µs to the tail: p99's interval must sit near +3000,
  // apart from p50's.
  const base = [1, 2].map((s) => result([['open', hist(s, 3000, 50, 3, 1000)], ['write', hist(s + 10, 3000, 80, 3, 2000)]]));
  const drv = [3, 4].map((s) => result([['open', hist(s, 3000, 70, 3, 4000)], ['write', hist(s + 10, 3000, 80, 3, 2000)]]));
  const j = judgeLatency([SPEC], new Map([['file-storm', base]]), new Map([['file-storm', drv]]), undefined);
  const cmp = compareResults(base, drv, { percentiles: [50, 99] });
  for (const s of cmp.steps) {
    const p99 = s.percentiles.find((p) => p.percentile === 99)!;
    const l = j.latency[s.name]!;
    t.same(l.overheadP99CiUs, [p99.ci.low, p99.ci.high], `${s.name}: the p99 interval is compareResults' own`);
    t.ok(l.overheadP99CiUs![0] <= l.overheadP99Us! && l.overheadP99Us! <= l.overheadP99CiUs![1], `${s.name}: the point figure lies in its interval`);
  }
  const open = j.latency.open!;
  t.ok(open.overheadP99CiUs![0] > 2500 && open.overheadP99CiUs![1] < 3500, `open p99 interval ${open.overheadP99CiUs} around +3000`);
  t.ok(open.overheadP50CiUs![1] < 100, `open p50 interval ${open.overheadP50CiUs} stays near +20`);
  t.ok(j.latency.write!.overheadP99CiUs![0] <= 0 && j.latency.write!.overheadP99CiUs![1] >= 0, 'an unchanged step: the p99 interval holds 0');
});
