import t from 'tap';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { selectShard } from '../../matrix/index.ts';
import { fakeCells, fakePlan, fakeRunner } from './fake-runner.ts';
import { readJournal } from '../../runfolder/journal.ts';
import { mergeRuns } from './merge.ts';
import { runPlan } from './scheduler.ts';
import type { SummaryJson } from '../../runfolder/summary.ts';

const TOOLS = { node: process.version, fleetgate: 'test', qemu: null };
const hosts = [{ name: 'h', provider: 'qemu' as const, reach: 'local', slots: 2, memoryMiB: 8192, images: ['*'] }];

async function shardRun(root: string, cells = fakeCells(6), i = 1, n = 2, script = { 'fake-001': 'product-crash' as const }) {
  const plan = fakePlan(cells);
  const mine = selectShard(plan.cells, { index: i, total: n });
  const dir = path.join(root, `shard-${i}-${n}-${Math.random().toString(16).slice(2, 6)}`);
  await runPlan({ plan, cells: mine, runner: fakeRunner({ script }), hosts, runDir: dir, tools: TOOLS, shard: `${i}/${n}` });
  return { dir, mine };
}

t.test('two shards merge into one run folder with one summary', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'fg-merge-'));
  const a = await shardRun(root, undefined, 1, 2);
  const b = await shardRun(root, undefined, 2, 2);
  const out = path.join(root, 'merged');
  const r = mergeRuns({ dirs: [a.dir, b.dir], out });
  t.equal(r.cells, 6);
  t.equal(r.exitCode, 1, 'the crash in one shard fails the merged run');
  const s = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')) as SummaryJson;
  t.same(s.cells.map((c) => c.id).sort(), fakeCells(6).map((c) => c.id));
  t.equal(s.cells.find((c) => c.id === 'fake-001')?.verdict, 'product-crash');
  t.same(s.run.mergedFrom, [a.dir, b.dir]);
  const evs = readJournal(path.join(out, 'journal.ndjson')).events;
  t.equal(evs.filter((e) => e.type === 'merge').length, 2);
  t.equal(evs.filter((e) => e.type === 'cell-end').length, 6);
  t.equal(evs.at(-1)?.type, 'run-end');
  for (const c of [...a.mine, ...b.mine]) t.ok(existsSync(path.join(out, 'cells', c.id, 'attempt-1')), `cells/${c.id} copied`);
});

t.test('refuses overlapping cells and different matrices', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'fg-merge-'));
  const a = await shardRun(root, undefined, 1, 2);
  const again = await shardRun(root, undefined, 1, 2);
  t.throws(() => mergeRuns({ dirs: [a.dir, again.dir], out: path.join(root, 'm1') }), /the runs share 3 cell\(s\), so they are not shards of one run: fake-/);
  const other = await shardRun(root, fakeCells(8), 2, 2);
  t.throws(() => mergeRuns({ dirs: [a.dir, other.dir], out: path.join(root, 'm2') }), /is a run of another matrix than .*: fake \(8 cells, [0-9a-f]{12}\) vs fake \(6 cells/);
  t.throws(() => mergeRuns({ dirs: [a.dir], out: path.join(root, 'm3') }), /at least two run folders/);
});
