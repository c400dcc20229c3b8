// A real SIGKILL: a child process runs the scheduler (fake runner, 20 cells) and is killed at a
// random moment; another child resumes the run. Every cell must end with exactly one verdict and no
// attempt number may repeat.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readJournal } from '../../runfolder/journal.ts';
import type { SummaryJson } from '../../runfolder/summary.ts';

const CHILD = fileURLToPath(new URL('./testdata/kill-child.ts', import.meta.url));

function child(dir: string, mode: 'fresh' | 'resume'): { proc: ReturnType<typeof spawn>; journal: Promise<void>; exit: Promise<number | null> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const journal = new Promise<void>((resolve) => {
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('journal')) resolve();
    });
    proc.on('exit', () => resolve());
  });
  const exit = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, journal, exit };
}

const delays = [0, 30 + Math.floor(Math.random() * 100), 130 + Math.floor(Math.random() * 150)];
for (const delay of delays) {
  t.test(`killed ${delay} ms after its journal appeared, then resumed`, async (t) => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'fg-kill-')), 'run');
    const first = child(dir, 'fresh');
    await first.journal;
    await new Promise((r) => setTimeout(r, delay));
    first.proc.kill('SIGKILL');
    await first.exit;
    const before = readJournal(path.join(dir, 'journal.ndjson'));
    const finished = before.events.some((e) => e.type === 'run-end');
    t.comment(`killed after ${before.events.length} events${before.torn ? ' (last line torn)' : ''}${finished ? ', after the run had ended' : ', mid-run'}`);
    if (delay === 0) t.notOk(finished, 'the first kill lands mid-run');

    const second = child(dir, 'resume');
    const code = await second.exit;
    t.equal(code, 1, 'the resumed run ends with the crash of fake-005');

    const evs = readJournal(path.join(dir, 'journal.ndjson')).events;
    const ends = new Map<string, number>();
    const begun = new Set<string>();
    const closed = new Map<string, number>();
    for (const e of evs) {
      if (e.type === 'cell-end') ends.set(e.cell, (ends.get(e.cell) ?? 0) + 1);
      if (e.type === 'attempt-begin') {
        const k = `${e.cell}#${e.attempt}`;
        t.notOk(begun.has(k), `${k} begins once`);
        begun.add(k);
      }
      if (e.type === 'attempt-end' || e.type === 'attempt-abandoned') closed.set(`${e.cell}#${e.attempt}`, (closed.get(`${e.cell}#${e.attempt}`) ?? 0) + 1);
    }
    t.equal(ends.size, 20, 'every cell has a cell-end');
    t.ok([...ends.values()].every((n) => n === 1), 'exactly one each');
    t.ok([...begun].every((k) => closed.get(k) === 1), 'every attempt ended or was marked abandoned, once');
    const s = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8')) as SummaryJson;
    t.equal(s.cells.length, 20);
    t.ok(s.cells.every((c) => c.verdict !== null), 'one final result per cell in the summary');
    t.equal(s.cells.find((c) => c.id === 'fake-005')?.verdict, 'product-crash');
    t.equal(s.cells.find((c) => c.id === 'fake-017')?.verdict, 'infra-error');
    t.equal(s.cells.find((c) => c.id === 'fake-013')?.flaky, true);
    t.equal(s.run.outcome, 'failed');
  });
}
