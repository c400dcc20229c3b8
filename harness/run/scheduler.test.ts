// The real scheduler and journal driven by the fake CellRunner (fake-runner.ts): retries, product
// failures, quarantine, the inconclusive stop, SIGINT, and resume after a crash at every event
// boundary and mid-line.
import t, { type Test } from 'tap';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, copyFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EXIT } from '../../lib/errors.ts';
import type { Cell } from '../../matrix/index.ts';
import { fakeCells, fakePlan, fakeRunner, type FakeRunnerOptions } from './fake-runner.ts';
import type { HostSpec } from './hosts.ts';
import { readJournal, type EventOf, type JournalEvent } from '../../runfolder/journal.ts';
import type { Reporter } from './progress/reporter.ts';
import { createRunDir } from './run-dir.ts';
import { runPlan, type RunPlanOptions } from './scheduler.ts';
import type { SummaryJson } from '../../runfolder/summary.ts';

const TOOLS = { node: process.version, fleetgate: 'test', qemu: null };

function host(name: string, slots = 1, images = ['*']): HostSpec {
  return { name, provider: 'qemu', reach: 'local', slots, memoryMiB: 8192, images };
}

function tmp(): string {
  return mkdtempSync(path.join(tmpdir(), 'fg-sched-'));
}

function events(dir: string): JournalEvent[] {
  return readJournal(path.join(dir, 'journal.ndjson')).events;
}

function ofType<T extends JournalEvent['type']>(evs: JournalEvent[], type: T): Array<EventOf<T>> {
  return evs.filter((e): e is EventOf<T> => e.type === type);
}

function summary(dir: string): SummaryJson {
  return JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8')) as SummaryJson;
}

async function run(cells: Cell[], hosts: HostSpec[], fake: FakeRunnerOptions, extra: Partial<RunPlanOptions> = {}) {
  const dir = (extra.runDir as string | undefined) ?? path.join(tmp(), 'run');
  const runner = fakeRunner(fake);
  const outcome = await runPlan({ plan: fakePlan(cells), cells, runner, hosts, runDir: dir, tools: TOOLS, summaryIntervalMs: 0, ...extra });
  return { dir, runner, outcome, evs: events(dir) };
}

/** Invariants every journal must keep, whatever happened. */
function checkJournal(t: Test, evs: JournalEvent[], cells: Cell[]): void {
  const begun = new Map<string, Set<number>>();
  const closed = new Map<string, number>();
  const ended = new Map<string, number>();
  for (const e of evs) {
    if (e.type === 'attempt-begin') {
      const s = begun.get(e.cell) ?? new Set();
      t.notOk(s.has(e.attempt), `attempt ${e.attempt} of ${e.cell} begins once`);
      t.notOk(ended.has(e.cell), `no attempt of ${e.cell} after its cell-end`);
      s.add(e.attempt);
      begun.set(e.cell, s);
    }
    if (e.type === 'attempt-end' || e.type === 'attempt-abandoned') {
      const k = `${e.cell}#${e.attempt}`;
      closed.set(k, (closed.get(k) ?? 0) + 1);
    }
    if (e.type === 'cell-end') ended.set(e.cell, (ended.get(e.cell) ?? 0) + 1);
  }
  for (const [cell, s] of begun) for (const n of s) t.equal(closed.get(`${cell}#${n}`), 1, `attempt ${n} of ${cell} ends exactly once`);
  for (const c of cells) t.ok((ended.get(c.id) ?? 0) <= 1, `${c.id} has at most one cell-end`);
}

t.test('an infra error is retried on another host, to a pass', async (t) => {
  const cells = fakeCells(1);
  const { runner, outcome, dir, evs } = await run(cells, [host('a'), host('b')], { script: { 'fake-000': ['infra-error', 'pass'] } });
  t.equal(outcome.exitCode, EXIT.ok);
  t.equal(runner.calls.length, 2);
  t.not(runner.calls[0]!.host, runner.calls[1]!.host, 'the retry ran on the other host');
  t.same(ofType(evs, 'attempt-end').map((e) => e.result.verdict), ['infra-error', 'pass']);
  const s = summary(dir);
  t.equal(s.cells[0]!.verdict, 'pass');
  t.equal(s.cells[0]!.attempts, 2);
  t.ok(existsSync(path.join(dir, 'cells', 'fake-000', 'attempt-1')) && existsSync(path.join(dir, 'cells', 'fake-000', 'attempt-2')));
  checkJournal(t, evs, cells);
});

t.test('with one host, the retry takes another slot', async (t) => {
  const cells = fakeCells(1);
  const { runner, outcome } = await run(cells, [host('a', 2)], { script: { 'fake-000': ['infra-error', 'pass'] } });
  t.equal(outcome.outcome, 'passed');
  t.not(runner.calls[0]!.slot, runner.calls[1]!.slot);
});

t.test('an infra error with retries used up ends the cell as infra-error', async (t) => {
  const cells = fakeCells(4);
  const { runner, outcome, evs } = await run(cells, [host('a', 1), host('b', 1)], { script: { 'fake-000': 'infra-error' } }, { policy: { quarantineAfter: 99 } });
  t.equal(runner.calls.filter((c) => c.cell === 'fake-000').length, 3, 'first attempt plus 2 retries');
  t.equal(ofType(evs, 'cell-end').find((e) => e.cell === 'fake-000')!.verdict, 'infra-error');
  t.equal(outcome.exitCode, EXIT.inconclusive, '1 of 4 is not more than a third, but a cell has no verdict');
  t.equal(outcome.stopped, null);
});

t.test('a product crash is never retried; flaky stays a failure', async (t) => {
  const cells = fakeCells(3);
  const { runner, outcome, dir, evs } = await run(cells, [host('a'), host('b')], {
    script: { 'fake-000': 'product-crash', 'fake-001': { verdict: 'product-hang', flaky: true } },
  });
  t.equal(runner.calls.filter((c) => c.cell === 'fake-000').length, 1);
  t.equal(runner.calls.filter((c) => c.cell === 'fake-001').length, 1);
  t.equal(outcome.exitCode, EXIT.productFailure);
  t.equal(outcome.outcome, 'failed');
  const s = summary(dir);
  const crash = s.cells.find((c) => c.id === 'fake-000')!;
  t.equal(crash.verdict, 'product-crash');
  t.equal(crash.crash?.bucket, 'fake-0xD1-fgfilter');
  t.notOk(crash.flaky);
  const hang = s.cells.find((c) => c.id === 'fake-001')!;
  t.equal(hang.verdict, 'product-hang');
  t.equal(hang.flaky, true);
  t.equal(ofType(evs, 'cell-end').find((e) => e.cell === 'fake-001')!.flaky, true);
});

t.test('a runner that throws is an infra error, not a crash of the scheduler', async (t) => {
  const cells = fakeCells(1);
  const { outcome, evs } = await run(cells, [host('a')], { script: { 'fake-000': ['throw', 'pass'] } });
  t.equal(outcome.outcome, 'passed');
  t.match(ofType(evs, 'attempt-end')[0]!.result.reason, /the cell runner threw: fake runner blew up/);
});

t.test('a host with K infra errors in a row is quarantined; its cells move to the others', async (t) => {
  const cells = fakeCells(9);
  const { runner, outcome, evs, dir } = await run(cells, [host('bad'), host('good')], { hosts: { bad: 'infra-error' }, delayMs: 5 });
  t.equal(runner.calls.filter((c) => c.host === 'bad').length, 3, 'bad runs nothing after its third infra error');
  const q = ofType(evs, 'host-quarantined');
  t.equal(q.length, 1);
  t.equal(q[0]!.host, 'bad');
  t.equal(outcome.exitCode, EXIT.ok, 'every cell passed on the good host');
  t.equal(summary(dir).run.hosts.find((h) => h.name === 'bad')?.quarantined, '3 infra errors in a row');
  checkJournal(t, evs, cells);
});

t.test('quarantine with no other host for the image: the cells end as infra errors', async (t) => {
  const cells = fakeCells(4);
  const { runner, outcome, evs } = await run(cells, [host('bad', 1, ['lab']), host('other', 1, ['win11-24h2'])], { hosts: { bad: 'infra-error' } });
  t.equal(runner.calls.length, 3);
  const ends = ofType(evs, 'cell-end');
  t.ok(ends.some((e) => /no host left with an image for lab \(quarantined: bad\)/.test(e.reason ?? '')));
  t.equal(outcome.exitCode, EXIT.inconclusive);
  checkJournal(t, evs, cells);
});

t.test('cells no host has an image for end as infra errors without an attempt', async (t) => {
  const cells = fakeCells(6, (i) => (i === 0 ? 'server-2022' : 'lab'));
  const { runner, evs } = await run(cells, [host('a', 1, ['lab'])], {});
  t.notOk(runner.calls.some((c) => c.cell === 'fake-000'));
  const e = ofType(evs, 'cell-end').find((x) => x.cell === 'fake-000')!;
  t.equal(e.verdict, 'infra-error');
  t.equal(e.attempts, 0);
  t.equal(e.decidedBy, null);
});

t.test('more than a third of cells failing on infrastructure stops the run as inconclusive', async (t) => {
  const cells = fakeCells(6);
  const script = { 'fake-000': 'infra-error', 'fake-001': 'infra-error', 'fake-002': 'infra-error' } as const;
  const { runner, outcome, evs, dir } = await run(cells, [host('a', 2)], { script, delayMs: 5 }, { policy: { maxInfraRetries: 0, quarantineAfter: 99 } });
  t.equal(outcome.outcome, 'inconclusive');
  t.equal(outcome.exitCode, EXIT.inconclusive);
  t.equal(outcome.stopped, 'inconclusive');
  const stopAt = evs.findIndex((e) => e.type === 'run-stopped');
  t.ok(stopAt > 0);
  t.notOk(evs.slice(stopAt).some((e) => e.type === 'attempt-begin'), 'nothing starts after the stop');
  t.ok(runner.calls.length < 6);
  const s = summary(dir);
  t.ok(s.cells.some((c) => c.verdict === null && c.unfinished === 'not-started'));
  checkJournal(t, evs, cells);
});

t.test('SIGINT: scheduling stops, running attempts end, summary written, outcome interrupted; resume finishes', async (t) => {
  const cells = fakeCells(4);
  const ac = new AbortController();
  const dir = path.join(tmp(), 'run');
  const runner = fakeRunner({ fallback: 'hang-until-aborted' });
  const p = runPlan({ plan: fakePlan(cells), cells, runner, hosts: [host('a', 2)], runDir: dir, signal: ac.signal, tools: TOOLS });
  while (runner.running() < 2) await new Promise((r) => setTimeout(r, 5));
  ac.abort();
  const outcome = await p;
  t.equal(outcome.outcome, 'interrupted');
  t.equal(outcome.exitCode, EXIT.interrupted);
  t.equal(runner.calls.length, 2, 'no new attempt after the interrupt');
  const evs = events(dir);
  t.equal(ofType(evs, 'run-stopped')[0]?.reason, 'sigint');
  t.same(ofType(evs, 'attempt-end').map((e) => e.interrupted), [true, true]);
  t.equal(ofType(evs, 'cell-end').length, 0, 'an interrupted attempt is no verdict');
  const s = summary(dir);
  t.equal(s.run.outcome, 'interrupted');
  t.equal(s.cells.filter((c) => c.unfinished === 'interrupted').length, 2);

  const again = fakeRunner({});
  const resumed = await runPlan({ plan: fakePlan(cells), cells, runner: again, hosts: [host('a', 2)], runDir: dir, resume: true, tools: TOOLS });
  t.equal(resumed.exitCode, EXIT.ok);
  t.same(again.calls.map((c) => `${c.cell}#${c.attempt}`).sort(), ['fake-000#2', 'fake-001#2', 'fake-002#1', 'fake-003#1']);
  checkJournal(t, events(dir), cells);
});

t.test('a reporter that throws does not stop the run; the cleanup hook is journaled', async (t) => {
  const cells = fakeCells(2);
  const seen: string[] = [];
  const bad: Reporter = {
    onCellEnd: () => {
      throw new Error('reporter bug');
    },
    onReporterError: () => {},
  };
  const spy: Reporter = { onReporterError: (_e, hook) => seen.push(hook), onCellEnd: (i) => seen.push(i.cell.id) };
  const { ReporterMultiplexer } = await import('./progress/multiplexer.ts');
  const { outcome, evs } = await run(cells, [host('a')], {}, { reporter: new ReporterMultiplexer([bad, spy]), beforeRun: async () => ['qemu pid 123 of dead controller'] });
  t.equal(outcome.exitCode, EXIT.ok);
  t.same(seen, ['onCellEnd', 'fake-000', 'onCellEnd', 'fake-001']);
  t.same(ofType(evs, 'cleanup')[0]?.removed, ['qemu pid 123 of dead controller']);
});

t.test('resume after a crash at every event boundary and mid-line: one verdict per cell, nothing lost or repeated', async (t) => {
  const cells = fakeCells(6);
  const script: FakeRunnerOptions['script'] = {
    'fake-000': ['infra-error', 'pass'],
    'fake-001': 'product-crash',
    'fake-003': 'infra-error',
    'fake-004': { verdict: 'product-crash', flaky: true },
  };
  const expected: Record<string, string> = {
    'fake-000': 'pass', 'fake-001': 'product-crash', 'fake-002': 'pass', 'fake-003': 'infra-error', 'fake-004': 'product-crash', 'fake-005': 'pass',
  };
  const policy = { maxInfraRetries: 1, quarantineAfter: 99 };
  const hosts = [host('a', 2)];
  const ref = path.join(tmp(), 'ref');
  const rd = createRunDir({ plan: fakePlan(cells), cells, hosts, shard: null, out: ref, tools: TOOLS });
  await runPlan({ plan: fakePlan(cells), cells, runner: fakeRunner({ script, steps: false }), hosts, runDir: rd, policy, summaryIntervalMs: 60_000 });
  const full = readFileSync(path.join(ref, 'journal.ndjson'));
  const boundaries: number[] = [0];
  for (let i = 0; i < full.length; i++) if (full[i] === 0x0a) boundaries.push(i + 1);
  const cuts = new Set<number>(boundaries);
  for (let i = 0; i + 1 < boundaries.length; i++) {
    cuts.add(boundaries[i]! + 1);
    cuts.add(Math.floor((boundaries[i]! + boundaries[i + 1]!) / 2));
    cuts.add(boundaries[i + 1]! - 1); // the whole event but its newline
  }
  t.ok(cuts.size > 40, `${cuts.size} cuts`);
  let abandoned = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    const dir = path.join(tmp(), `cut-${cut}`);
    mkdirSync(dir);
    copyFileSync(path.join(ref, 'run.json'), path.join(dir, 'run.json'));
    if (cut > 0) writeFileSync(path.join(dir, 'journal.ndjson'), full.subarray(0, cut));
    const outcome = await runPlan({
      plan: fakePlan(cells), cells, runner: fakeRunner({ script, steps: false }), hosts, runDir: dir, resume: true, policy, summaryIntervalMs: 60_000,
    });
    const evs = events(dir);
    const ends = ofType(evs, 'cell-end');
    const got = Object.fromEntries(ends.map((e) => [e.cell, e.verdict]));
    t.same(got, expected, `cut at byte ${cut}: verdicts`);
    t.equal(ends.length, 6, `cut at byte ${cut}: one cell-end per cell`);
    t.equal(outcome.exitCode, EXIT.productFailure);
    // Retries are counted on results only: an abandoned attempt does not use up fake-003's retry.
    t.equal(ofType(evs, 'attempt-end').filter((e) => e.cell === 'fake-003').length, 2, `cut at byte ${cut}: fake-003 had its 2 infra attempts`);
    t.equal(ends.find((e) => e.cell === 'fake-004')?.flaky, true);
    // A product failure once journaled is never run again (only an abandoned attempt is).
    t.equal(ofType(evs, 'attempt-end').filter((e) => e.cell === 'fake-001').length, 1, `cut at byte ${cut}: fake-001 crashed once`);
    abandoned += ofType(evs, 'attempt-abandoned').length;
    const s = summary(dir);
    t.equal(s.cells.length, 6);
    t.ok(s.cells.every((c) => c.verdict !== null));
    checkJournal(t, evs, cells);
  }
  t.ok(abandoned > 0, 'some cuts fell inside attempts');
});

t.test('cells that cannot run here end skipped with their reason, never attempted; the rest run', async (t) => {
  const cells = fakeCells(3);
  const skip = new Map([['fake-001', 'no runner for win11-24h2 cells yet']]);
  const { runner, outcome, dir, evs } = await run(cells, [host('a')], {}, { skip });
  t.equal(outcome.exitCode, EXIT.ok, 'skipped cells are not failures');
  t.same(runner.calls.map((c) => c.cell).sort(), ['fake-000', 'fake-002']);
  t.notOk(ofType(evs, 'attempt-begin').some((e) => e.cell === 'fake-001'));
  const s = summary(dir);
  t.match(s.cells.find((c) => c.id === 'fake-001'), { verdict: 'skipped', attempts: 0, reason: 'no runner for win11-24h2 cells yet' });
  checkJournal(t, evs, cells);
  // Resumed, the skipped cell stays as it was and nothing runs again.
  const again = await run(cells, [host('a')], {}, { runDir: dir, resume: true, skip });
  t.equal(again.runner.calls.length, 0);
  t.equal(ofType(again.evs, 'cell-end').filter((e) => e.cell === 'fake-001').length, 1, 'one cell-end for the skipped cell');
});

t.test('a cell that measures latency holds the cores its VM has: on a 2-core host it runs alone; others share', async (t) => {
  // fake-000 and fake-002 measure (2 cores each); fake-001 and fake-003 hold one.
  const cells = fakeCells(4);
  const measures = new Set(['fake-000', 'fake-002']);
  const seen: Array<{ cell: string; beside: number }> = [];
  let running = 0;
  const peaks: Record<string, number> = {};
  const fake = fakeRunner({ delayMs: 30 });
  const runner = async (ctx: Parameters<typeof fake>[0]) => {
    running++;
    seen.push({ cell: ctx.cell.id, beside: running - 1 });
    peaks[ctx.cell.id] = Math.max(peaks[ctx.cell.id] ?? 0, running);
    try {
      return await fake(ctx);
    } finally {
      running--;
    }
  };
  const dir = path.join(tmp(), 'run');
  const outcome = await runPlan({ plan: fakePlan(cells), cells, runner, hosts: [{ ...host('a', 2), cores: 2 }], runDir: dir, tools: TOOLS, summaryIntervalMs: 0, coresFor: (c) => (measures.has(c.id) ? 2 : 1) });
  t.equal(outcome.outcome, 'passed');
  for (const s of seen.filter((x) => measures.has(x.cell))) t.equal(s.beside, 0, `${s.cell} started with nothing beside it`);
  t.equal(Math.max(...Object.values(peaks)), 1, 'measuring cells first and third: nothing ever ran beside them, and the plan order was kept');

  // Two plain cells share the two slots as before.
  let most = 0;
  running = 0;
  const plain = fakeRunner({ delayMs: 30 });
  const counting = async (ctx: Parameters<typeof plain>[0]) => {
    most = Math.max(most, ++running);
    try {
      return await plain(ctx);
    } finally {
      running--;
    }
  };
  await runPlan({ plan: fakePlan(fakeCells(4)), cells: fakeCells(4), runner: counting, hosts: [{ ...host('a', 2), cores: 2 }], runDir: path.join(tmp(), 'run'), tools: TOOLS, summaryIntervalMs: 0 });
  t.equal(most, 2, 'without coresFor two at a time');

  // A host with more cores runs a measuring cell beside others while they fit.
  running = 0;
  most = 0;
  await runPlan({ plan: fakePlan(fakeCells(4)), cells: fakeCells(4), runner: counting, hosts: [{ ...host('b', 4), cores: 4 }], runDir: path.join(tmp(), 'run'), tools: TOOLS, summaryIntervalMs: 0, coresFor: () => 2 });
  t.equal(most, 2, 'two measuring cells of 2 cores on a 4-core host, not four');
});
