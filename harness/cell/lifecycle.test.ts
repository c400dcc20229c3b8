// The one cell lifecycle driven through every verdict by the fake provider and the fake personality
// (test-doubles/): the real step boundary, the real failure table, the real monitor and the real
// latency comparison decide, in milliseconds. The lab runs the same code with the Linux personality.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Cell } from '../../matrix/index.ts';
import type { AttemptResult, Verdict } from '../../runfolder/results.ts';
import { STEPS, VERDICT_TABLE } from '../../runfolder/results.ts';
import { readJournal } from '../../runfolder/journal.ts';
import { fakeCells, fakePlan } from '../run/fake-runner.ts';
import { runPlan } from '../run/scheduler.ts';
import type { AttemptContext, LifecycleEvent } from '../run/types.ts';
import { runCell, type CellPolicy } from './lifecycle.ts';
import { FakeProvider, type FakeProviderScript } from './test-doubles/fake-provider.ts';
import { fakePersonality, type FakeCall, type FakeGuestScript } from './test-doubles/fake-personality.ts';

const HOST = { name: 'fake-host', provider: 'qemu' as const, reach: 'local', slots: 1, memoryMiB: 8192, images: ['*'] };
const POLICY: CellPolicy = {
  runs: 2,
  latencyBudget: { open: { absUs: 500, rel: 0.5 }, read: { absUs: 500, rel: 0.5 } },
  lateCrashMs: 200,
  monitor: { hangGraceMs: 20, nmiPanicMs: 500 },
};

function cell(over: Partial<Cell> = {}): Cell {
  return { ...fakeCells(1)[0]!, driverBuild: { name: 'fakefilter', path: '/pkg/fakefilter', upgradeFrom: null, params: {} }, ...over };
}

interface Ran {
  result: AttemptResult;
  events: LifecycleEvent[];
  calls: FakeCall[];
  provider: FakeProvider;
  dir: string;
}

async function attempt(script: FakeGuestScript = {}, o: { cell?: Partial<Cell>; provider?: FakeProviderScript; policy?: CellPolicy; signal?: AbortSignal } = {}): Promise<Ran> {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-life-'));
  const events: LifecycleEvent[] = [];
  const calls: FakeCall[] = [];
  const provider = new FakeProvider(o.provider);
  const ctx: AttemptContext = {
    cell: cell(o.cell), attempt: 1, host: HOST.name, hostSpec: HOST, slot: 0, attemptDir: dir, runDir: dir,
    signal: o.signal ?? new AbortController().signal, emit: (e) => events.push(e),
  };
  const result = await runCell(ctx, { provider, personality: fakePersonality(script, calls) }, o.policy ?? POLICY);
  return { result, events, calls, provider, dir };
}

const stepNames = (r: AttemptResult): string[] => r.steps.map((s) => `${s.step}${s.ok ? '' : '!'}`);

t.test('pass: every step in DESIGN.md order, ours installed by hash, the VM released', async (t) => {
  const { result, calls, provider, events } = await attempt({}, { cell: { coexist: ['partner'] } });
  t.equal(result.verdict, 'pass', result.reason ?? '');
  t.same(stepNames(result), ['acquire', 'identity', 'baseline', 'install', 'workload', 'unload', 'collect', 'verdict', 'release'], 'no verifier step without a profile, no triage without a crash');
  t.same(result.steps.map((s) => s.step), STEPS.filter((s) => !['verifier', 'triage'].includes(s)), 'in STEPS order');
  t.same(result.installed, [
    { role: 'coexist', name: 'partner', package: 'partner', sha256: 'sha256-of-partner' },
    { role: 'ours', name: 'fakefilter', package: '/pkg/fakefilter', sha256: 'sha256-of-fakefilter' },
  ]);
  t.same(calls.filter((c) => c.op === 'install').map((c) => c.arg), ['partner', 'fakefilter'], 'coexisting filter first');
  t.equal(calls.filter((c) => c.op === 'workload' && c.arg === 'baseline').length, 3, 'one warm-up and two recorded baseline runs');
  t.equal(calls.filter((c) => c.op === 'workload' && c.arg === 'driver').length, 2);
  t.ok(provider.vms[0]!.disposed, 'VM released');
  t.ok(result.latency?.open && result.latency.open.change === 'no-change', 'latency measured');
  t.ok(result.evidence.some((e) => e.endsWith('latency.json')) && result.evidence.some((e) => e.endsWith('console.log')));
  const ends = events.filter((e) => e.type === 'step-end').map((e) => (e as { step: string }).step);
  t.same(ends, result.steps.map((s) => s.step), 'every step journaled');
});

t.test('the matrix driver build is what is prepared and installed', async (t) => {
  const { result, calls } = await attempt({}, { cell: { driverBuild: { name: 'other', path: '/pkg/other-build', upgradeFrom: null, params: { trigger: 'oops' } } } });
  t.equal(calls.find((c) => c.op === 'prepare')?.arg, '/pkg/other-build');
  t.equal(result.installed?.at(-1)?.package, '/pkg/other-build');
  t.equal(result.verdict, 'pass');
});

t.test('upgrade-from: the previous build is installed first, then upgraded in place to ours; a guest with no upgrade path is infrastructure, not a fresh install', async (t) => {
  const cell = { driverBuild: { name: 'next', path: '/pkg/next', upgradeFrom: { name: 'prev', path: '/pkg/prev' }, params: {} } };
  const { result, calls } = await attempt({}, { cell });
  t.same(calls.filter((c) => c.op === 'stage').map((c) => c.arg), ['/pkg/next/fakefilter.ko', '/pkg/prev/fakefilter.ko'], 'both builds sent');
  t.same(calls.filter((c) => c.op === 'install' || c.op === 'upgrade').map((c) => `${c.op} ${c.arg}`), ['install fakefilter', 'upgrade /pkg/prev -> /pkg/next']);
  t.equal(result.verdict, 'pass');
  t.equal(result.installed?.at(-1)?.package, '/pkg/next', 'ours is the build upgraded to');
  const none = await attempt({ noUpgrade: true }, { cell });
  t.equal(none.result.verdict, 'infra-error');
  t.match(none.result.reason, /cells have no in-place upgrade: .* cannot run upgrade-from \/pkg\/prev/);
  t.notOk(none.calls.some((c) => c.op === 'install'), 'nothing installed as if it were a fresh install');
});

t.test('product-crash: the VM panics under the workload; the monitor decides, triage reads the console', async (t) => {
  const { result } = await attempt({ workload: 'crash' });
  t.equal(result.verdict, 'product-crash');
  t.equal(result.crash?.title, 'BUG: unable to handle page fault in fakefilter_open');
  t.equal(result.crash?.attribution, 'ours');
  t.ok(result.crash?.dump?.endsWith('memory.kdump'), 'host-side dump named by the personality');
  t.same(stepNames(result), ['acquire', 'identity', 'baseline', 'install', 'workload!', 'collect', 'triage', 'release']);
});

t.test('verifier-violation: a Driver Verifier stop code from the hypervisor; another stop code stays product-crash', async (t) => {
  const c4 = await attempt({ workload: 'bugcheck-c4' });
  t.equal(c4.result.verdict, 'verifier-violation');
  t.same(stepNames(c4.result), ['acquire', 'identity', 'baseline', 'install', 'workload!', 'collect', 'triage', 'release'], 'its evidence is collected and triaged like a crash');
  t.equal(c4.result.crash?.title, 'stop 0xc4 in fakefilter');
  const d1 = await attempt({ workload: 'bugcheck-d1' });
  t.equal(d1.result.verdict, 'product-crash');
});

t.test('product-crash while ours loads: the install step is watched too', async (t) => {
  const { result } = await attempt({ install: 'crash' });
  t.equal(result.verdict, 'product-crash');
  t.match(result.crash?.title, /fakefilter_init/);
  t.same(stepNames(result), ['acquire', 'identity', 'baseline', 'install!', 'collect', 'triage', 'release']);
});

t.test('product-hang: heartbeat lost, NMI, the forced panic is the evidence', async (t) => {
  const { result, provider } = await attempt({ workload: 'hang' });
  t.equal(result.verdict, 'product-hang');
  t.equal(provider.vms[0]!.nmis, 1);
  t.equal(result.crash?.kind, 'HANG');
});

t.test('product-hang: a lockup detector panic is a hang however it was seen', async (t) => {
  const { result } = await attempt({ workload: 'lockup' });
  t.equal(result.verdict, 'product-hang');
});

t.test('product-hang without a dump: an NMI the guest ignores', async (t) => {
  const { result } = await attempt({ workload: 'hang' }, { provider: { nmiPanics: false } });
  t.equal(result.verdict, 'product-hang');
  t.match(result.reason, /NMI/);
  t.notOk(result.crash);
});

t.test('verifier-violation', async (t) => {
  const { result } = await attempt({ verifier: 'violation' }, { cell: { verifier: 'standard' } });
  t.equal(result.verdict, 'verifier-violation');
  t.same(stepNames(result).slice(-2), ['verifier!', 'release']);
});

t.test('boot-failure: the guest does not come back after the verifier reboot', async (t) => {
  const { result } = await attempt({ verifier: 'no-reboot' }, { cell: { verifier: 'standard' } });
  t.equal(result.verdict, 'boot-failure');
});

t.test('boot-failure: the guest lost while ours loads, the VM still running', async (t) => {
  const { result } = await attempt({ install: 'lose-guest' });
  t.equal(result.verdict, 'boot-failure');
  t.match(result.reason, /lost while fakefilter loaded/);
});

t.test('boot-failure: the guest resets itself as ours loads (no panic)', async (t) => {
  const { result } = await attempt({ install: 'reset' });
  t.equal(result.verdict, 'boot-failure');
  t.match(result.reason, /reset itself \(guest-reset\) during the load of fakefilter/);
});

t.test("a partner's filter that never finishes loading is not ours: infra-error", async (t) => {
  const { result } = await attempt({ install: 'hang-coexist' }, { cell: { coexist: ['partner'] }, policy: { ...POLICY, timeouts: { install: 200 } } });
  t.equal(result.verdict, 'infra-error');
  t.match(result.reason, /^install: timed out/);
});

t.test('infra-error: the VM killed on purpose before the workload is not watched into a hang', async (t) => {
  const { result } = await attempt({}, { cell: { faults: [{ kind: 'kill-vm', at: 'workload', attempts: [1] }] } });
  t.equal(result.verdict, 'infra-error');
  t.match(result.reason, /VM was gone before the workload/);
});

t.test('install-failure: the OS refuses ours; its words are kept', async (t) => {
  const { result, dir } = await attempt({ install: 'refuse' });
  t.equal(result.verdict, 'install-failure');
  t.ok(existsSync(path.join(dir, 'install.txt')));
  t.match(readFileSync(path.join(dir, 'install.txt'), 'utf8'), /Unknown symbol/);
  t.notOk(result.installed, 'nothing recorded as installed');
});

t.test('install-failure found before any VM: ours does not build', async (t) => {
  const { result, provider, dir } = await attempt({ prepare: 'refuse-ours' });
  t.equal(result.verdict, 'install-failure');
  t.equal(provider.starts, 0, 'no VM started');
  t.ok(existsSync(path.join(dir, 'build.log')));
  t.same(stepNames(result), ['install!']);
});

t.test("a partner's filter that does not build is not ours: infra-error", async (t) => {
  const { result } = await attempt({ prepare: 'refuse-coexist' }, { cell: { coexist: ['partner'] } });
  t.equal(result.verdict, 'infra-error');
});

t.test('perf-regression: ours adds 2 ms to every open', async (t) => {
  const { result } = await attempt({ latency: { overheadUs: 2_000 } });
  t.equal(result.verdict, 'perf-regression');
  t.match(result.reason, /open p50 \+2\d{3} µs/);
  t.equal(result.latency?.open?.change, 'regressed');
});

t.test('a small overhead within the budget passes', async (t) => {
  const { result } = await attempt({ latency: { overheadUs: 40 } });
  t.equal(result.verdict, 'pass', result.reason ?? '');
});

t.test('latency-inconclusive: one run with the driver at the baseline, one 3 ms slower: too noisy to judge the budget', async (t) => {
  const { result } = await attempt({ latency: { driverRunsUs: [0, 3_000] } });
  t.equal(result.verdict, 'latency-inconclusive', result.reason ?? '');
  t.match(result.reason, /interval .* reaches past the budget/);
  t.equal(VERDICT_TABLE['latency-inconclusive'].gate, 'fail-unless-waived');
});

t.test('infra-error: the VM goes away without a panic', async (t) => {
  const { result } = await attempt({ workload: 'vm-gone' });
  t.equal(result.verdict, 'infra-error');
  t.match(result.reason, /VM went away/);
});

t.test('infra-error: identity does not match the image', async (t) => {
  const { result } = await attempt({ wrongBuild: true });
  t.equal(result.verdict, 'infra-error');
  t.match(result.reason, /identity: the guest runs fake-2, the image says fake-1/);
});

t.test('infra-error: a host that cannot start VMs; no VM, nothing to release', async (t) => {
  const { result } = await attempt({}, { provider: { failStarts: 1 } });
  t.equal(result.verdict, 'infra-error');
  t.same(stepNames(result), ['acquire!']);
});

t.test('infra-error is retried by the scheduler and the cell then passes', async (t) => {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'fg-life-run-')), 'run');
  const provider = new FakeProvider({ failStarts: 1 });
  const cells = [cell()];
  const outcome = await runPlan({
    plan: fakePlan(cells), cells, hosts: [{ ...HOST, slots: 1 }], runDir: dir, tools: { node: process.version, fleetgate: 'test', qemu: null }, summaryIntervalMs: 0,
    runner: (ctx) => runCell(ctx, { provider, personality: fakePersonality() }, POLICY),
  });
  const ends = readJournal(path.join(dir, 'journal.ndjson')).events.filter((e) => e.type === 'attempt-end') as Array<{ result: AttemptResult }>;
  t.same(ends.map((e) => e.result.verdict), ['infra-error', 'pass']);
  t.equal(outcome.exitCode, 0);
});

t.test('test-error: the workload itself is broken; not retried, not the product', async (t) => {
  const { result } = await attempt({ workload: 'broken' });
  t.equal(result.verdict, 'test-error');
  t.equal(VERDICT_TABLE['test-error'].retried, false);
});

t.test('interrupted: an infra-error, and the VM is still released', async (t) => {
  const ac = new AbortController();
  const run = attempt({ workload: 'hang' }, { signal: ac.signal, provider: { nmiPanics: false }, policy: { ...POLICY, monitor: { hangGraceMs: 60_000 } } });
  setTimeout(() => ac.abort(), 100);
  const { result, provider } = await run;
  t.equal(result.verdict, 'infra-error');
  t.match(result.reason, /interrupted/);
  t.ok(provider.vms[0]!.disposed);
});

t.test('a step over its limit is judged by its step: unload timing out is infrastructure', async (t) => {
  const { result } = await attempt({ unload: 'busy' });
  t.equal(result.verdict, 'infra-error');
  t.match(result.reason, /^unload: rmmod fakefilter/);
});

t.test('every verdict but skipped is reachable through the lifecycle (the list above)', async (t) => {
  const reached: Verdict[] = ['pass', 'product-crash', 'product-hang', 'verifier-violation', 'boot-failure', 'install-failure', 'perf-regression', 'latency-inconclusive', 'infra-error', 'test-error'];
  t.same([...reached].sort(), Object.keys(VERDICT_TABLE).filter((v) => v !== 'skipped').sort());
});
