// Issue #16 row 6: `run --resume` checks that the journal, run.json and the folder's summary.json
// belong to one run (run id, matrix hash) before it adopts the journal.
import t from 'tap';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EXIT } from '../../lib/errors.ts';
import { fakeCells, fakePlan, fakeRunner } from './fake-runner.ts';
import type { HostSpec } from './hosts.ts';
import { createRunDir } from './run-dir.ts';
import { runPlan } from './scheduler.ts';
import type { RunJson } from '../../runfolder/run-json.ts';

const TOOLS = { node: process.version, fleetgate: 'test', qemu: null };
const hosts: HostSpec[] = [{ name: 'a', provider: 'qemu', reach: 'local', slots: 1, memoryMiB: 8192, images: ['*'] }];
const cells = fakeCells(3);
const plan = fakePlan(cells);

/** The error a promise rejects with (t.rejects takes a function for a class). */
async function refusal(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the resume to be refused');
}

const tmp = (): string => mkdtempSync(path.join(tmpdir(), 'fg-resume-id-'));

/** A finished run A of the matrix; returns its folder and run id. */
async function runA(): Promise<{ dir: string; runId: string }> {
  const dir = path.join(tmp(), 'a');
  const out = await runPlan({ plan, cells, runner: fakeRunner({}), hosts, runDir: dir, tools: TOOLS, summaryIntervalMs: 0 });
  return { dir, runId: out.runId };
}

/** The first `n` journal lines of `from` (run-begin and some events: a run killed early). */
function journalHead(from: string, n: number): string {
  return readFileSync(path.join(from, 'journal.ndjson'), 'utf8').split('\n').slice(0, n).join('\n') + '\n';
}

t.test('row 6 (#16): a journal of run A in a folder whose run.json is run B (same matrix) is refused, naming both', async (t) => {
  const a = await runA();
  const bDir = path.join(tmp(), 'b');
  const b = createRunDir({ plan, cells, hosts, shard: null, out: bDir, tools: TOOLS });
  t.not(b.runId, a.runId);
  writeFileSync(path.join(bDir, 'journal.ndjson'), journalHead(a.dir, 3));
  const runner = fakeRunner({});
  const err = await refusal(runPlan({ plan, cells, runner, hosts, runDir: bDir, resume: true, tools: TOOLS }));
  t.equal(err.name, 'InputError');
  t.match(err.message, /do not belong to one run/);
  t.match(err.message, new RegExp(`journal\\.ndjson: run ${a.runId}, matrix hash [0-9a-f]{12}`));
  t.match(err.message, new RegExp(`run\\.json: run ${b.runId}, matrix hash [0-9a-f]{12}`));
  t.equal(runner.calls.length, 0, 'nothing ran');
  t.equal(readFileSync(path.join(bDir, 'journal.ndjson'), 'utf8'), journalHead(a.dir, 3), 'the journal is left as it was');
});

t.test('row 6 (#16): same run id but another matrix hash in run.json is refused, naming both hashes', async (t) => {
  const a = await runA();
  const dir = path.join(tmp(), 'c');
  mkdirSync(dir);
  const rj = JSON.parse(readFileSync(path.join(a.dir, 'run.json'), 'utf8')) as RunJson;
  const journalHash = rj.matrix.cellsHash;
  rj.matrix.cellsHash = 'f'.repeat(64);
  writeFileSync(path.join(dir, 'run.json'), JSON.stringify(rj));
  writeFileSync(path.join(dir, 'journal.ndjson'), journalHead(a.dir, 3));
  const err = await refusal(runPlan({ plan, cells, runner: fakeRunner({}), hosts, runDir: dir, resume: true, tools: TOOLS }));
  t.match(err.message, `journal.ndjson: run ${a.runId}, matrix hash ${journalHash.slice(0, 12)}`);
  t.match(err.message, `run.json: run ${a.runId}, matrix hash ffffffffffff`);
});

t.test('row 6 (#16): a summary.json of another run in the folder is refused, naming it', async (t) => {
  const a = await runA();
  const other = await runA();
  const dir = path.join(tmp(), 'd');
  mkdirSync(dir);
  copyFileSync(path.join(a.dir, 'run.json'), path.join(dir, 'run.json'));
  writeFileSync(path.join(dir, 'journal.ndjson'), journalHead(a.dir, 3));
  copyFileSync(path.join(other.dir, 'summary.json'), path.join(dir, 'summary.json'));
  const err = await refusal(runPlan({ plan, cells, runner: fakeRunner({}), hosts, runDir: dir, resume: true, tools: TOOLS }));
  t.match(err.message, `summary.json: run ${other.runId}`);
  t.match(err.message, `run.json: run ${a.runId}`);
});

t.test('row 6 (#16): a folder whose journal, run.json and summary.json agree still resumes', async (t) => {
  const a = await runA();
  const dir = path.join(tmp(), 'e');
  mkdirSync(dir);
  copyFileSync(path.join(a.dir, 'run.json'), path.join(dir, 'run.json'));
  copyFileSync(path.join(a.dir, 'summary.json'), path.join(dir, 'summary.json'));
  writeFileSync(path.join(dir, 'journal.ndjson'), journalHead(a.dir, 3));
  const runner = fakeRunner({});
  const out = await runPlan({ plan, cells, runner, hosts, runDir: dir, resume: true, tools: TOOLS, summaryIntervalMs: 0 });
  t.equal(out.exitCode, EXIT.ok);
  t.equal(out.runId, a.runId);
  t.ok(runner.calls.length > 0, 'the cells the journal had not ended ran');
  const s = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8')) as { run: { id: string }; cells: Array<{ verdict: string }> };
  t.equal(s.run.id, a.runId);
  t.ok(s.cells.every((c) => c.verdict === 'pass'));
});
