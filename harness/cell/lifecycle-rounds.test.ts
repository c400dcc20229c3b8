// The lifecycle's interleaved rounds (issue #17) through the fake provider and personality: the order
// of runs and of taking ours out and putting it back, the verdicts the rounds give, what is recorded,
// and the fallback when ours cannot be taken out. The statistics themselves are workloads/rounds.ts's
// (rounds.test.ts); the verdict rule is harness/cell/latency.ts's (latency.test.ts).
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Cell } from '../../matrix/index.ts';
import type { AttemptResult } from '../../runfolder/results.ts';
import { fakeCells } from '../run/fake-runner.ts';
import type { AttemptContext, LifecycleEvent } from '../run/types.ts';
import { runCell, type CellPolicy } from './lifecycle.ts';
import { FakeProvider } from './test-doubles/fake-provider.ts';
import { fakePersonality, type FakeCall, type FakeGuestScript } from './test-doubles/fake-personality.ts';

const HOST = { name: 'fake-host', provider: 'qemu' as const, reach: 'local', slots: 1, memoryMiB: 8192, images: ['*'] };
const ROUNDS: CellPolicy = {
  runs: 2,
  rounds: 3,
  cpus: 2,
  latencyBudget: { '*': { absUs: 500, rel: 0.5 } },
  lateCrashMs: 200,
  monitor: { hangGraceMs: 20, nmiPanicMs: 500 },
};

async function attempt(script: FakeGuestScript = {}, o: { cell?: Partial<Cell>; policy?: CellPolicy } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-rounds-'));
  const events: LifecycleEvent[] = [];
  const calls: FakeCall[] = [];
  const base = fakeCells(1)[0]!;
  const ctx: AttemptContext = {
    cell: { ...base, driverBuild: { name: 'fakefilter', path: '/pkg/fakefilter', upgradeFrom: null, params: {} }, ...o.cell },
    attempt: 1, host: HOST.name, hostSpec: HOST, slot: 0, attemptDir: dir, runDir: dir, signal: new AbortController().signal, emit: (e) => events.push(e),
  };
  const result: AttemptResult = await runCell(ctx, { provider: new FakeProvider(), personality: fakePersonality(script, calls) }, o.policy ?? ROUNDS);
  return { result, calls, events, dir };
}

/** The calls from the first take-out on, workload runs shown by their side. */
const roundCalls = (calls: FakeCall[]): string[] => {
  const from = calls.findIndex((c) => c.op === 'take-out');
  return calls.slice(from).filter((c) => ['take-out', 'put-back', 'workload', 'fire', 'unload', 'capture'].includes(c.op)).map((c) => (c.op === 'workload' ? c.arg! : c.op));
};

t.test('rounds: B1 D1 B2 D2 B3 D3 B4, ours out for each baseline run and back for each driver run; a trigger fires as D1 starts', async (t) => {
  const { result, calls, dir } = await attempt({}, { cell: { driverBuild: { name: 'fakefilter', path: '/pkg/fakefilter', upgradeFrom: null, params: { trigger: 'oops' } } } });
  t.equal(result.verdict, 'pass', result.reason ?? '');
  t.equal(calls.filter((c) => c.op === 'workload' && c.arg === 'baseline').length, 5, 'one run before the install (warm-up, kept), four in the rounds');
  t.same(roundCalls(calls), [
    'take-out', 'baseline', 'put-back', 'fire', 'driver',
    'take-out', 'baseline', 'put-back', 'driver',
    'take-out', 'baseline', 'put-back', 'driver',
    'take-out', 'baseline', 'unload',
  ]);
  t.same(result.steps.map((s) => s.step), ['acquire', 'identity', 'baseline', 'install', 'workload', 'unload', 'collect', 'verdict', 'release'], 'the same steps as ever');
  const m = result.measurement!;
  t.equal(m.method, 'rounds');
  t.equal(m.rounds, 3);
  t.equal(m.vcpus, 2);
  t.equal(m.between, 'unload');
  t.ok(m.detectableUs !== undefined && m.detectableUs >= 0, 'the smallest detectable overhead recorded');
  const rounds = JSON.parse(readFileSync(path.join(dir, 'rounds.json'), 'utf8')) as { order: Array<{ side: string; round: number }> };
  t.same(rounds.order.map((r) => `${r.side[0]}${r.round}`), ['b1', 'd1', 'b2', 'd2', 'b3', 'd3', 'b4'], 'rounds.json keeps every run in time order');
  const open = result.latency!.open!;
  t.equal(open.rounds?.count, 3);
  t.equal(open.judged?.outcome, 'within');
  t.ok(result.latency!.read?.judged, "every step is judged under the lab's '*' budget");
});

t.test('rounds: 2 ms per open is a perf-regression judged by its interval', async (t) => {
  const { result } = await attempt({ latency: { overheadUs: 2_000 } });
  t.equal(result.verdict, 'perf-regression');
  t.match(result.reason, /open p50 \+2\d{3} µs \(95% \d+\.\.\d+ µs\) over the 500 µs budget; 3 rounds/);
});

t.test('rounds: a host that slows down run after run is not a regression (each driver run is paired with its neighbours)', async (t) => {
  // 300 µs slower per run: unpaired (all baselines first) it reads as ~900 µs of overhead.
  const drift = { latency: { driftUsPerRun: 300 } };
  const seq = await attempt(drift, { policy: { ...ROUNDS, rounds: undefined } });
  t.equal(seq.result.verdict, 'perf-regression', 'the sequential method blames the driver for the drift');
  const r = await attempt(drift);
  t.equal(r.result.verdict, 'pass', r.result.reason ?? '');
  t.ok(Math.abs(r.result.latency!.open!.overheadP50Us!) < 100, `overhead ${r.result.latency!.open!.overheadP50Us} µs`);
});

t.test('rounds: a driver run 3 ms slower in one round of three is latency-inconclusive, never a pass or a regression by luck', async (t) => {
  const { result } = await attempt({ latency: { driverRunsUs: [0, 3_000, 0] } });
  t.equal(result.verdict, 'latency-inconclusive', result.reason ?? '');
});

t.test('rounds: a crash in the first driver round is a product-crash with its evidence', async (t) => {
  const { result, calls } = await attempt({ workload: 'crash' });
  t.equal(result.verdict, 'product-crash');
  t.same(roundCalls(calls).slice(0, 4), ['take-out', 'baseline', 'put-back', 'driver']);
  t.ok(result.crash?.title);
});

t.test('rounds: ours refusing to unload falls back to sequential runs and says so', async (t) => {
  const { result, calls, events } = await attempt({ takeOut: 'refuse' });
  t.equal(result.verdict, 'pass', result.reason ?? '');
  t.equal(result.measurement?.method, 'sequential');
  t.equal(result.measurement?.between, 'none');
  t.match(result.measurement?.fallback, /could not be taken out before baseline run 1 \(fakefilter does not support unload\)/);
  t.equal(calls.filter((c) => c.op === 'workload' && c.arg === 'driver').length, 2, "the policy's two driver runs");
  t.ok(events.some((e) => e.type === 'note' && /measured sequentially/.test(e.message)));
  t.ok(result.latency?.open, 'still measured, against the run before the install');
});

t.test('rounds: a guest with no way to take a driver out is measured sequentially', async (t) => {
  const { result } = await attempt({ takeOut: 'absent', latency: { overheadUs: 2_000 } });
  t.equal(result.verdict, 'perf-regression', 'the unpaired comparison still catches 2 ms');
  t.match(result.measurement?.fallback, /cannot take a driver out/);
});

t.test("rounds without a latency budget (Windows cells): measured and reported with intervals, judged by no one in the cell", async (t) => {
  const slow = await attempt({ latency: { overheadUs: 2_000 } }, { policy: { ...ROUNDS, maxRounds: 6, latencyBudget: undefined } });
  t.equal(slow.result.verdict, 'pass', 'no budget, no latency verdict: the gate judges');
  t.equal(slow.result.measurement?.method, 'rounds');
  t.equal(slow.result.measurement?.rounds, 3, 'no budget asks for more rounds than the fewest');
  const open = slow.result.latency!.open!;
  t.ok(open.overheadP50CiUs && open.overheadP50CiUs[0] > 1_500, `open's interval is reported: ${open.overheadP50CiUs}`);
  t.equal(open.judged, undefined);
  t.equal(roundCalls(slow.calls).filter((c) => c === 'take-out').length, 4);
  const none = await attempt({}, { policy: { ...ROUNDS, rounds: undefined, latencyBudget: undefined } });
  t.notOk(none.calls.some((c) => c.op === 'take-out'), 'no rounds asked: sequential, nothing taken out');
  t.equal(none.result.measurement, undefined);
});

t.test("filterDelays: one more run with ours in after the rounds, recorded; the cell's summary names ours", async (t) => {
  const cell = { filterDelays: { wpaProfile: '/profiles/minifilter.wpaProfile' } };
  const { result, calls, dir, events } = await attempt({ filterDelays: 'table' }, { cell });
  t.equal(result.verdict, 'pass', result.reason ?? '');
  t.same(roundCalls(calls).slice(-6), ['take-out', 'baseline', 'put-back', 'capture', 'driver', 'unload'], 'after the last baseline run ours goes back in for the recorded run');
  const rec = result.measurement!.filterDelays!;
  t.equal(rec.length, 1);
  const r = rec[0]!;
  t.ok(r.captured);
  if (!r.captured) return;
  t.same(r.ours, { filter: 'fakefilter.sys', count: 20, totalUs: 240, meanUs: 12, worstP99Us: 12 }, 'ours found by its module name, .sys and all');
  t.equal(r.top.length, 2);
  const kept = JSON.parse(readFileSync(path.join(dir, r.file), 'utf8')) as { schema: string; delays: unknown[] };
  t.equal(kept.schema, 'fleetgate-filter-delays/1', 'the whole table is kept in the attempt folder');
  t.equal(result.measurement!.rounds, 3, 'the recorded run is no round');
  t.ok(events.some((e) => e.type === 'note' && /filter delays of .* recorded \(fake recorder\): fakefilter.sys 20 callbacks/.test(e.message)));
});

t.test('filterDelays not recorded: a guest without a recorder, a recorder that fails: said, the verdict unchanged', async (t) => {
  const cell = { filterDelays: { wpaProfile: '/profiles/minifilter.wpaProfile' } };
  const lab = await attempt({}, { cell });
  t.equal(lab.result.verdict, 'pass');
  t.match(lab.result.measurement?.filterDelays?.[0], { captured: false, why: /linux guests have no recording/ });
  t.notOk(lab.calls.some((c) => c.op === 'put-back' && lab.calls.indexOf(c) > lab.calls.findLastIndex((x) => x.op === 'workload')), 'no guest recorder: ours is not put back for nothing');
  const fails = await attempt({ filterDelays: 'fails', latency: { overheadUs: 2_000 } }, { cell });
  t.equal(fails.result.verdict, 'perf-regression', "the rounds' verdict stands");
  t.match(fails.result.measurement?.filterDelays?.[0], { captured: false, why: /no recorder on this guest/ });
  t.ok(fails.events.some((e) => e.type === 'note' && /filter delays of .* not recorded: fake recorder/.test(e.message)));
});

t.test('filterDelays: a crash during the recorded run is the product crash it is', async (t) => {
  const { result } = await attempt({ filterDelays: 'crash' }, { cell: { filterDelays: { wpaProfile: '/profiles/minifilter.wpaProfile' } } });
  t.equal(result.verdict, 'product-crash', result.reason ?? '');
});

t.test('filterDelays with ours that refuses to go out: recorded after the sequential driver runs', async (t) => {
  const { result, calls } = await attempt({ takeOut: 'refuse', filterDelays: 'table' }, { cell: { filterDelays: { wpaProfile: '/profiles/minifilter.wpaProfile' } } });
  t.match(result.measurement?.fallback, /could not be taken out/);
  t.ok(result.measurement?.filterDelays?.[0]?.captured);
  t.equal(calls.filter((c) => c.op === 'capture')[0]?.arg, 'driver', 'recorded with ours in');
});

t.test('rounds: more rounds only while a step is undecided and none is over, up to maxRounds', async (t) => {
  const policy = { ...ROUNDS, maxRounds: 6 };
  const clear = await attempt({}, { policy });
  t.equal(clear.result.measurement?.rounds, 3, 'a quiet good build stops at 3');
  const over = await attempt({ latency: { overheadUs: 2_000 } }, { policy });
  t.equal(over.result.measurement?.rounds, 3, 'a clear regression stops at 3');
  t.equal(over.result.verdict, 'perf-regression');
  // One driver run in six 600 µs slow: undecided after 3, decided once the other rounds come in.
  const noisy = await attempt({ latency: { driverRunsUs: [0, 600, 0, 0, 0, 0] } }, { policy });
  t.ok(noisy.result.measurement!.rounds > 3, `ran ${noisy.result.measurement?.rounds} rounds`);
  t.ok(noisy.events.some((e) => e.type === 'note' && /latency undecided after 3 rounds .*: one more round/.test(e.message)), 'the extension is said');
  t.equal(noisy.result.verdict, 'pass', noisy.result.reason ?? '');
  const rounds = JSON.parse(readFileSync(path.join(noisy.dir, 'rounds.json'), 'utf8')) as { order: Array<{ side: string }> };
  t.equal(rounds.order.at(-1)?.side, 'baseline', 'every round closed by its baseline run');
  // Always disturbed: it stops at the limit, undecided.
  const hopeless = await attempt({ latency: { driverRunsUs: [0, 3_000] } }, { policy });
  t.equal(hopeless.result.measurement?.rounds, 6);
  t.equal(hopeless.result.verdict, 'latency-inconclusive');
});
