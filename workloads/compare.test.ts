// The comparison on synthetic histograms built with hdr-histogram-js: a known shift must be found and
// its interval must hold the true shift; two draws of one distribution must not be called a change.
import t from 'tap';
import { build, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import type { AgentResult, StepResult } from './agent/protocol.ts';
import { compareHistograms, compareResults } from './compare.ts';
import { seededRng } from './random.ts';

/** `k` histograms of `n` samples ~ N(mean + run offset, sd) in µs; offsets ~ N(0, runSd), or given. */
function runs(seed: number, k: number, n: number, mean: number, sd: number, runSd: number | number[] = 0): Histogram[] {
  const rng = seededRng(seed);
  return Array.from({ length: k }, (_, r) => {
    const h = build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, autoResize: false });
    const offset = Array.isArray(runSd) ? runSd[r]! : rng.normal() * runSd;
    for (let i = 0; i < n; i++) h.recordValue(Math.max(1, Math.round(mean + offset + rng.normal() * sd)));
    return h;
  });
}

const FAST = { iterations: 800 };

t.test('a +200 µs shift is a regression and its interval holds 200', async (t) => {
  // No run-level offsets here, so the true shift of every percentile is exactly 200 µs.
  const base = runs(1, 3, 3000, 30, 3);
  const drv = runs(2, 3, 3000, 230, 3);
  const res = compareHistograms(base, drv, FAST, 'open');
  t.same(res.map((r) => r.percentile), [50, 90, 99]);
  for (const r of res) {
    t.equal(r.classification, 'regressed', r.reason);
    t.ok(r.ci.low <= 200 && 200 <= r.ci.high, `p${r.percentile}: 200 in ${r.ci.low}..${r.ci.high}`);
    t.ok(Math.abs(r.overheadUs - 200) < 3, `p${r.percentile} overhead ${r.overheadUs}`);
    t.equal(r.rangesOverlap, false);
    t.ok(r.relative! > 5);
  }
});

t.test('with a wide spread the interval has width and still holds the true shift', async (t) => {
  const res = compareHistograms(runs(21, 3, 3000, 100, 25), runs(22, 3, 3000, 300, 25), FAST, 'read');
  for (const r of res) {
    t.equal(r.classification, 'regressed');
    t.ok(r.ci.high - r.ci.low >= 1, `p${r.percentile} interval ${r.ci.low}..${r.ci.high} has width`);
    t.ok(r.ci.low <= 200 && 200 <= r.ci.high, `p${r.percentile}: 200 in ${r.ci.low}..${r.ci.high}`);
  }
});

t.test('two draws from one distribution are no-change', async (t) => {
  const res = compareHistograms(runs(3, 5, 2000, 30, 3, 0.5), runs(4, 5, 2000, 30, 3, 0.5), FAST, 'open');
  for (const r of res) {
    t.equal(r.classification, 'no-change', r.reason);
    t.ok(r.ci.low <= 0 && 0 <= r.ci.high, `0 in ${r.ci.low}..${r.ci.high}`);
  }
});

t.test('the driver side faster is an improvement', async (t) => {
  const res = compareHistograms(runs(5, 3, 2000, 230, 3), runs(6, 3, 2000, 30, 3), FAST);
  t.same(res.map((r) => r.classification), ['improved', 'improved', 'improved']);
});

t.test('a real but small shift under the threshold is no-change', async (t) => {
  // +1 µs on 30 µs: found by the interval, but 3% and under the 2 µs floor.
  const res = compareHistograms(runs(7, 3, 5000, 30, 1), runs(8, 3, 5000, 31, 1), FAST);
  const p50 = res[0]!;
  t.equal(p50.classification, 'no-change');
  t.match(p50.reason, /below the 2 µs threshold/);
  t.ok(p50.ci.low > 0, 'the interval alone would have called it');
});

t.test('run-to-run noise larger than the shift: overlapping ranges are no-change (LKP rule)', async (t) => {
  // Each run's level wanders by tens of µs (as p99 does under TCG); a 40 µs shift hides in it.
  const res = compareHistograms(runs(9, 5, 1000, 300, 20, [0, 60, -60, 30, -30]), runs(10, 5, 1000, 340, 20, [-60, -20, 60, 0, 20]), FAST);
  for (const r of res) t.equal(r.classification, 'no-change', r.reason);
  t.ok(res.some((r) => r.rangesOverlap === true));
});

t.test('one run a side: the interval decides (within-run bootstrap)', async (t) => {
  const res = compareHistograms(runs(11, 1, 3000, 100, 25), runs(12, 1, 3000, 300, 25), FAST);
  t.equal(res[0]!.rangesOverlap, null);
  t.equal(res[0]!.classification, 'regressed');
  t.ok(res[0]!.ci.high > res[0]!.ci.low, 'a within-run draw gives the interval a width');
  const same = compareHistograms(runs(13, 1, 3000, 30, 3), runs(14, 1, 3000, 30, 3), FAST);
  t.equal(same[0]!.classification, 'no-change', same[0]!.reason);
});

t.test('deterministic given a seed', async (t) => {
  const b = runs(15, 3, 1000, 50, 10, 2);
  const d = runs(16, 3, 1000, 60, 10, 2);
  t.same(compareHistograms(b, d, { ...FAST, seed: 7 }), compareHistograms(b, d, { ...FAST, seed: 7 }));
  t.not(JSON.stringify(compareHistograms(b, d, { ...FAST, seed: 7 })), JSON.stringify(compareHistograms(b, d, { ...FAST, seed: 8 })));
});

function fakeResult(steps: Array<[string, Histogram | null]>): AgentResult {
  const step = (name: string, h: Histogram | null): StepResult => ({
    name, op: 'open', status: 'ok', count: h ? h.totalCount : 0, errors: 0, warmupErrors: 0, errorLimit: 100, errorSamples: [], warmup: 0, concurrency: 1,
    elapsedMs: 1, opsPerSec: 1, latencyUs: { min: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0, stddev: 0 },
    histogram: encodeIntoCompressedBase64(h ?? build()),
  });
  return {
    schema: 'fleetgate-agent-result/1', workload: 'file-storm', workdir: '/tmp/x', startedAt: '', finishedAt: '', durationMs: 1, ok: true,
    priority: { requested: 'high', applied: -20, note: null },
    host: { node: 'v20', platform: 'linux', arch: 'x64', release: '6.1', hostname: 'g', cpus: { count: 1, model: 'x' }, totalMemBytes: 1 },
    steps: steps.map(([n, h]) => step(n, h)),
  };
}

t.test('compareResults matches steps by name through the encoded histograms', async (t) => {
  const b = runs(17, 2, 2000, 30, 3);
  const d = runs(18, 2, 2000, 230, 3);
  const same = runs(19, 4, 2000, 50, 3);
  const baseline = [0, 1].map((i) => fakeResult([['open', b[i]!], ['read', same[i]!], ['gone', null]]));
  const driver = [0, 1].map((i) => fakeResult([['open', d[i]!], ['read', same[i + 2]!], ['gone', null], ...(i === 0 ? [['extra', same[0]!] as [string, Histogram]] : [])]));
  const cmp = compareResults(baseline, driver, FAST);
  t.equal(cmp.classification, 'regressed');
  t.same(cmp.steps.map((s) => [s.name, s.classification]), [['open', 'regressed'], ['read', 'no-change']]);
  t.same(cmp.skipped.map((s) => s.name).sort(), ['extra', 'gone']);
  t.throws(() => compareResults(baseline, [{ ...driver[0]!, workload: 'archive' }]), /different workloads/);
});
