// Issue #16 row 11: a second cell-end for a cell, with another verdict, is kept out of the verdict
// (the first wins) and said: in the run's output on resume, in summary.json and in summary.md.
import t from 'tap';
import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fakeCells, fakePlan, fakeRunner } from './fake-runner.ts';
import type { HostSpec } from './hosts.ts';
import { runPlan } from './scheduler.ts';
import type { SummaryJson } from '../../runfolder/summary.ts';
import { summaryFromJournal } from '../../runfolder/summary.ts';
import { readRunFolder } from '../../reports/run-folder.ts';
import { renderMarkdown } from '../../reports/markdown.ts';
import { runFleetgate } from '../cli/run-cli.test-helper.ts';

const TOOLS = { node: process.version, fleetgate: 'test', qemu: null };
const hosts: HostSpec[] = [{ name: 'a', provider: 'qemu', reach: 'local', slots: 1, memoryMiB: 8192, images: ['*'] }];

async function finishedRun(): Promise<string> {
  const cells = fakeCells(2);
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'fg-conflict-')), 'run');
  await runPlan({ plan: fakePlan(cells), cells, runner: fakeRunner({}), hosts, runDir: dir, tools: TOOLS, summaryIntervalMs: 0 });
  return dir;
}

function addEnd(dir: string, cell: string, verdict: string): void {
  appendFileSync(path.join(dir, 'journal.ndjson'), `${JSON.stringify({ type: 'cell-end', cell, verdict, attempts: 1, decidedBy: 1, at: '2026-12-03T00:00:00.000Z' })}\n`);
}

t.test('row 11 (#16): a conflicting second cell-end is in summary.json, summary.md and the resumed run\'s output', async (t) => {
  const dir = await finishedRun();
  addEnd(dir, 'fake-000', 'product-crash');

  const rebuilt = summaryFromJournal(path.join(dir, 'journal.ndjson'));
  t.equal(rebuilt.cells.find((c) => c.id === 'fake-000')?.verdict, 'pass', 'the first cell-end still decides');
  t.match(rebuilt.run.conflictingCellEnds, [{ cell: 'fake-000', kept: 'pass', ignored: 'product-crash' }]);

  const notices: string[] = [];
  const cells = fakeCells(2);
  const runner = fakeRunner({});
  await runPlan({ plan: fakePlan(cells), cells, runner, hosts, runDir: dir, resume: true, tools: TOOLS, summaryIntervalMs: 0, reporter: { onNotice: (m) => notices.push(m) } });
  t.equal(runner.calls.length, 0, 'nothing runs again');
  const notice = notices.find((m) => m.includes('fake-000'));
  t.ok(notice, `a notice names the cell: ${JSON.stringify(notices)}`);
  t.match(notice, /conflicting cell-end/);
  t.match(notice, /pass/);
  t.match(notice, /product-crash/);

  const s = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8')) as SummaryJson;
  t.match(s.run.conflictingCellEnds, [{ cell: 'fake-000', kept: 'pass', ignored: 'product-crash' }]);
  t.equal(s.run.conflictingCellEnds?.length, 1);

  const md = renderMarkdown(readRunFolder(dir));
  const line = md.split('\n').find((l) => l.includes('fake-000') && l.includes('conflicting'));
  t.ok(line, 'summary.md has a line for the conflict');
  t.match(line, /kept pass/);
  t.match(line, /ignored product-crash/);
});

t.test('row 11 (#16): a repeated cell-end with the same verdict is no conflict', async (t) => {
  const dir = await finishedRun();
  addEnd(dir, 'fake-001', 'pass');
  const s = summaryFromJournal(path.join(dir, 'journal.ndjson'));
  t.equal(s.run.conflictingCellEnds, undefined);
  t.notMatch(renderMarkdown(readRunFolder(dir)), /conflicting/);
});

t.test('row 11 (#16): `fleetgate report` says so too', async (t) => {
  const dir = await finishedRun();
  addEnd(dir, 'fake-001', 'product-hang');
  await runPlan({ plan: fakePlan(fakeCells(2)), cells: fakeCells(2), runner: fakeRunner({}), hosts, runDir: dir, resume: true, tools: TOOLS, summaryIntervalMs: 0 });
  const r = runFleetgate(['report', dir, '--format', 'markdown', '--no-history']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^note: conflicting cell-end records for cell fake-001: kept pass \(the first\), ignored product-hang \(a later one\)$/m);
});
