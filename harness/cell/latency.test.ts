// The cell's latency record: every step keeps the 95% intervals of both its p50 and its p99 overhead,
// taken from the same comparison that gives the point figures, so the gate can judge any step's p99
// limit by its interval (reports/gate/policy.ts).
import t from 'tap';
import { build, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import type { AgentResult, StepResult, WorkloadSpec } from '../../workloads/agent/protocol.ts';
import { compareResults } from '../../workloads/compare.ts';
import { seededRng } from '../../workloads/random.ts';
import { judgeLatency, judgeRounds, type RoundRun } from './latency.ts';
import { InputError } from '../../lib/errors.ts';
import { interleavedRuns, syntheticResult, type InterleavedOptions } from '../../workloads/test-helpers/synthetic-runs.ts';

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

// judgeRounds (issue #17): the cell's verdict from interleaved rounds
// B1 D1 … Dk B(k+1), each step judged by its paired interval against L = max(absUs, rel × baseline).

const FS = { name: 'file-storm', description: 'test', priority: 'high', source: 'test', operations: [] } as unknown as WorkloadSpec;
const ENUM = { ...FS, name: 'enumerate' } as unknown as WorkloadSpec;

/** Recorded runs in time order for one workload: each step its own synthetic rounds (same k). */
function roundRuns(workload: string, steps: Record<string, Omit<InterleavedOptions, 'rounds'>>, rounds: number): RoundRun[] {
  const per = Object.entries(steps).map(([name, o]) => [name, interleavedRuns({ ...o, rounds })] as const);
  const out: RoundRun[] = [];
  for (let t = 0; t < 2 * rounds + 1; t++) {
    const side = t % 2 === 1 ? 'driver' : 'baseline';
    const i = Math.floor(t / 2); // index into that side's list
    const hs: Record<string, ReturnType<typeof interleavedRuns>['baseline'][number]> = {};
    for (const [name, r] of per) hs[name] = side === 'driver' ? r.driver[i]! : r.baseline[i]!;
    out.push({ side, round: i + 1, workload, result: syntheticResult(workload, hs) });
  }
  return out;
}

const BUDGET = { open: { absUs: 500, rel: 0.5 }, read: { absUs: 500, rel: 0.5 } };
const OPTS = { minRounds: 3, seed: 7, iterations: 1000 };

t.test('judgeRounds: no overhead with moderate run-to-run noise: nothing regressed or inconclusive, every judged step within', async (t) => {
  const runs = roundRuns('file-storm', { open: { seed: 1, runSdUs: 15 }, read: { seed: 2, baseUs: 80, runSdUs: 10 } }, 5);
  const j = judgeRounds([FS], runs, BUDGET, OPTS);
  t.same(j.regressed, []);
  t.same(j.inconclusive, []);
  for (const name of ['open', 'read']) {
    const l = j.latency[name]!;
    t.equal(l.rounds?.count, 5, `${name}: 5 rounds`);
    t.same(l.judged, { percentile: 'p50', limitUs: 500, outcome: 'within' }, `${name}: within 500 µs`);
    // The old point fields are filled from the rounds, so readers before #17 see sensible figures.
    t.equal(l.overheadP50Us, l.rounds!.p50.overheadUs);
    t.same(l.overheadP50CiUs, l.rounds!.p50.ciUs);
    t.same(l.overheadP99CiUs, l.rounds!.p99.ciUs);
    t.equal(l.rounds!.p50.baselineUs.length, 6);
    t.equal(l.rounds!.p50.driverUs.length, 5);
    // Not "the interval holds 0": a 95% interval misses in 1 of 20 seeds; within the budget is the claim.
    t.ok(Math.abs(l.rounds!.p50.overheadUs) < 3 * 15 && l.rounds!.p50.ciUs[1] < 100, `${name}: overhead ${l.rounds!.p50.overheadUs}, interval ${l.rounds!.p50.ciUs} near 0`);
  }
});

t.test('judgeRounds: 2 ms on every open is over the budget, and the reason names interval, rounds and noise', async (t) => {
  const runs = roundRuns('file-storm', { open: { seed: 3, runSdUs: 15, overheadUs: 2000 }, read: { seed: 4, baseUs: 80, runSdUs: 10 } }, 5);
  const j = judgeRounds([FS], runs, BUDGET, OPTS);
  t.equal(j.regressed.length, 1, j.regressed.join('; '));
  t.match(j.regressed[0]!, /^open p50 \+\d+ µs \(95% \d+\.\.\d+ µs\) over the 500 µs budget; 5 rounds, noise \d+ µs$/);
  t.same(j.inconclusive, []);
  t.equal(j.latency.open!.judged!.outcome, 'over');
  t.equal(j.latency.open!.change, 'regressed');
  t.ok(Math.abs(j.latency.open!.overheadP50Us! - 2000) < 60, `overhead ${j.latency.open!.overheadP50Us} ≈ 2000`);
  t.equal(j.latency.read!.judged!.outcome, 'within');
});

t.test('judgeRounds: an interval straddling the limit is undecided: inconclusive, not regressed', async (t) => {
  const runs = roundRuns('file-storm', { open: { seed: 5, runSdUs: 25, overheadUs: 500 } }, 5);
  const j = judgeRounds([FS], runs, BUDGET, OPTS);
  const ci = j.latency.open!.rounds!.p50.ciUs;
  t.ok(ci[0] < 500 && ci[1] > 500, `interval ${ci} straddles 500`);
  t.same(j.regressed, []);
  t.equal(j.inconclusive.length, 1);
  t.match(j.inconclusive[0]!, /^open p50 \+\d+ µs \(95% \d+\.\.\d+ µs\) straddles the 500 µs budget; 5 rounds, noise \d+ µs$/);
  t.equal(j.latency.open!.judged!.outcome, 'undecided');
});

t.test('judgeRounds: the limit is max(absUs, rel × median baseline)', async (t) => {
  // Baseline ~2000 µs, rel 0.5: L = 1000 µs, so +700 µs is within, where absUs alone (300) would call it over.
  const runs = roundRuns('file-storm', { open: { seed: 6, baseUs: 2000, spreadUs: 50, runSdUs: 10, overheadUs: 700 } }, 5);
  const j = judgeRounds([FS], runs, { open: { absUs: 300, rel: 0.5 } }, OPTS);
  const l = j.latency.open!;
  t.ok(Math.abs(l.judged!.limitUs - 0.5 * l.baselineP50Us!) < 1e-9 && l.judged!.limitUs > 1000, `limit ${l.judged!.limitUs} is half the baseline ${l.baselineP50Us}`);
  t.equal(l.judged!.outcome, 'within');
  t.same(j.regressed, []);
});

t.test('judgeRounds: a step the budget does not name is reported with no judged field, whatever its overhead', async (t) => {
  const runs = roundRuns('file-storm', { open: { seed: 8, runSdUs: 10 }, write: { seed: 9, runSdUs: 10, overheadUs: 3000 } }, 4);
  const j = judgeRounds([FS], runs, { open: { absUs: 500, rel: 0.5 } }, OPTS);
  t.ok(j.latency.write, 'write is reported');
  t.notOk('judged' in j.latency.write!, 'write is not judged');
  t.equal(j.latency.write!.change, 'regressed', 'its change is still said');
  t.ok(j.latency.write!.rounds!.p50.ciUs[0] > 2000);
  t.same(j.regressed, []);
  t.same(j.inconclusive, []);
  t.equal(j.latency.open!.judged!.outcome, 'within');
});

t.test('judgeRounds: detectableUs is the worst of the judged steps, an unjudged noisier step aside', async (t) => {
  const runs = roundRuns('file-storm', {
    open: { seed: 10, runSdUs: 5 },
    read: { seed: 11, runSdUs: 40 },
    write: { seed: 12, runSdUs: 150 },
  }, 5);
  const j = judgeRounds([FS], runs, BUDGET, OPTS);
  const d = (s: string) => j.latency[s]!.rounds!.p50.detectableUs;
  t.ok(d('read') > d('open'), `read ${d('read')} noisier than open ${d('open')}`);
  t.ok(d('write') > d('read'), `write ${d('write')} noisier still, but not judged`);
  t.equal(j.detectableUs, d('read'));
});

t.test('judgeRounds: a host drifting across the rounds with no overhead passes; the same drift in sequential order does not', async (t) => {
  const drift = { runSdUs: 3, driftUsPerRun: 20 };
  const runs = roundRuns('file-storm', { open: { seed: 13, ...drift }, read: { seed: 14, ...drift } }, 5);
  const j = judgeRounds([FS], runs, { open: { absUs: 50, rel: 0.1 }, read: { absUs: 50, rel: 0.1 } }, OPTS);
  t.same(j.regressed, []);
  t.same(j.inconclusive, []);
  t.ok(Math.abs(j.latency.open!.overheadP50Us!) < 15, `open overhead ${j.latency.open!.overheadP50Us} ≈ 0`);
  // Today's order (every baseline run first) on the same host: the drift reads as the driver's cost.
  const seq = (seed: number) => interleavedRuns({ seed, rounds: 5, ...drift, sequential: true });
  const o = seq(13);
  const r = seq(14);
  const base = o.baseline.map((h, i) => syntheticResult('file-storm', { open: h, read: r.baseline[i]! }));
  const drv = o.driver.map((h, i) => syntheticResult('file-storm', { open: h, read: r.driver[i]! }));
  const old = judgeLatency([FS], new Map([['file-storm', base]]), new Map([['file-storm', drv]]), { open: { absUs: 50, rel: 0.1 }, read: { absUs: 50, rel: 0.1 } });
  t.ok(old.regressed.length + old.inconclusive.length > 0, `sequential: ${[...old.regressed, ...old.inconclusive].join('; ')}`);
});

t.test('judgeRounds: more than one workload keys steps by workload, and each is judged on its own rounds', async (t) => {
  const runs = [...roundRuns('file-storm', { open: { seed: 15, runSdUs: 10 } }, 3), ...roundRuns('enumerate', { open: { seed: 16, runSdUs: 10, overheadUs: 2000 } }, 3)];
  // Interleave as the lifecycle does: per round, every workload in turn.
  runs.sort((a, b) => a.round - b.round || (a.side === b.side ? 0 : a.side === 'baseline' ? -1 : 1));
  const j = judgeRounds([FS, ENUM], runs, { open: { absUs: 500, rel: 0.5 } }, OPTS);
  t.same(Object.keys(j.latency).sort(), ['enumerate/open', 'file-storm/open']);
  t.equal(j.latency['file-storm/open']!.judged!.outcome, 'within');
  t.equal(j.latency['enumerate/open']!.judged!.outcome, 'over');
  t.match(j.regressed, [/^enumerate\/open p50 /]);
});

t.test('judgeRounds: a step with fewer than minRounds usable rounds is undecided whatever its interval', async (t) => {
  const runs = roundRuns('file-storm', { open: { seed: 17, runSdUs: 5 }, read: { seed: 18, runSdUs: 5 } }, 3);
  // D2 recorded nothing for read (the step missing from that run): 2 usable rounds of 3.
  const d2 = runs[3]!;
  runs[3] = { ...d2, result: { ...d2.result, steps: d2.result.steps.filter((s) => s.name !== 'read') } };
  const j = judgeRounds([FS], runs, BUDGET, OPTS);
  t.equal(j.latency.read!.judged!.outcome, 'undecided');
  t.equal(j.latency.read!.rounds!.count, 2);
  t.match(j.inconclusive, [/^read p50: 2 usable rounds of 3, fewer than the 3 needed/]);
  t.equal(j.latency.open!.judged!.outcome, 'within');
  t.same(j.regressed, []);
});

t.test('judgeRounds: noise making the interval wider than 2·L is undecided, unless the whole interval is above L', async (t) => {
  const over = judgeRounds([FS], roundRuns('file-storm', { open: { seed: 19, runSdUs: 700, overheadUs: 6000 } }, 5), BUDGET, OPTS);
  const ci = over.latency.open!.rounds!.p50.ciUs;
  t.ok(ci[1] - ci[0] > 1000 && ci[0] > 500, `interval ${ci} wider than 2·500, and wholly above 500`);
  t.equal(over.latency.open!.judged!.outcome, 'over', 'a wide interval above the limit is still a regression');
  t.match(over.regressed, [/^open p50 \+\d+ µs \(95% \d+\.\.\d+ µs\) over the 500 µs budget/]);
  const wide = judgeRounds([FS], roundRuns('file-storm', { open: { seed: 19, runSdUs: 2000, overheadUs: 0 } }, 5), BUDGET, OPTS);
  const wci = wide.latency.open!.rounds!.p50.ciUs;
  t.ok(wci[1] - wci[0] > 1000 && wci[1] < 500 * 4, `interval ${wci} wider than 2·500`);
  t.equal(wide.latency.open!.judged!.outcome, 'undecided');
  t.same(wide.regressed, []);
  t.match(wide.inconclusive, [/^open p50 noise \d+ µs over 5 rounds: can detect ≥ \d+ µs, the budget is 500 µs \(95% -?\d+\.\.-?\d+ µs\)$/]);
});

t.test('judgeRounds: bad input is refused naming the evidence, the run and what was expected', async (t) => {
  const runs = roundRuns('file-storm', { open: { seed: 20 } }, 3);
  // Each expected message given as the parts it must hold, in order (indexOf, no backtracking regex).
  const refuses = (what: string, rs: RoundRun[], specs: WorkloadSpec[], parts: string[]) => {
    try {
      judgeRounds(specs, rs, BUDGET, { ...OPTS, file: 'rounds.json' });
      t.fail(`${what}: accepted`);
    } catch (e) {
      let at = 0;
      const inOrder = e instanceof InputError && parts.every((p) => (at = e.detail.indexOf(p, at)) >= 0);
      t.ok(inOrder && (e as InputError).place.file === 'rounds.json', `${what}: ${(e as Error).message}`);
    }
  };
  refuses('the last baseline run missing', runs.slice(0, -1), [FS], ['file-storm: the runs end with driver round 3', 'expected baseline run 4 after it']);
  refuses('a baseline run missing between two driver runs', [...runs.slice(0, 2), ...runs.slice(3)], [FS], ['order[2]', 'driver round 2', 'expected baseline run 2']);
  const other = roundRuns('enumerate', { open: { seed: 21 } }, 2);
  refuses('unequal rounds between workloads', [...runs, ...other], [FS, ENUM], ['file-storm has 3 driver rounds and enumerate 2; expected the same number']);
  refuses('a workload with no runs', runs, [FS, ENUM], ['enumerate: no recorded runs']);
  refuses('a run of a workload the cell does not have', [...runs, ...other], [FS], ['order[7]', 'workload enumerate', "not one of the cell's (file-storm)"]);
  refuses('a round number out of place', runs.map((r, i) => (i === 3 ? { ...r, round: 5 } : r)), [FS], ['order[3]', 'driver round 5', 'expected driver round 2']);
  refuses('one round only', runs.slice(0, 3), [FS], ['file-storm: 1 driver round; expected at least 2']);
});
