import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InputError } from '../lib/errors.ts';
import { JournalWriter, openAttempts, readJournal, replay } from './journal.ts';

const file = (): string => path.join(mkdtempSync(path.join(tmpdir(), 'fg-journal-')), 'journal.ndjson');

t.test('events are whole lines on disk as soon as append returns', async (t) => {
  const f = file();
  const w = JournalWriter.create(f);
  w.append({ type: 'attempt-begin', cell: 'c1', attempt: 1, host: 'h', slot: 1 });
  const text = readFileSync(f, 'utf8');
  t.match(text, /^\{"type":"attempt-begin".*"at":"[^"]+"\}\n$/);
  t.throws(() => JournalWriter.create(f), 'never overwrites a journal');
  w.close();
});

t.test('a torn last line is tolerated and reported; reopening cuts it off', async (t) => {
  const f = file();
  const w = JournalWriter.create(f);
  w.append({ type: 'attempt-begin', cell: 'c1', attempt: 1, host: 'h', slot: 1 });
  w.close();
  writeFileSync(f, `${readFileSync(f, 'utf8')}{"type":"attempt-end","cell":"c1","att`);
  const r = readJournal(f);
  t.equal(r.events.length, 1);
  t.equal(r.torn?.line, 2);
  t.same(openAttempts(replay(r.events)).map((a) => a.attempt), [1]);
  const w2 = JournalWriter.reopen(f, r);
  w2.append({ type: 'attempt-abandoned', cell: 'c1', attempt: 1, host: 'h', slot: 1 });
  w2.close();
  const again = readJournal(f);
  t.equal(again.torn, null);
  t.same(again.events.map((e) => e.type), ['attempt-begin', 'attempt-abandoned']);
  t.same(openAttempts(replay(again.events)), []);
});

t.test('a whole last event without its newline is kept, and the next one starts a new line', async (t) => {
  const f = file();
  writeFileSync(f, '{"type":"note","cell":"c","attempt":1,"message":"m","at":"2026-01-01T00:00:00Z"}');
  const r = readJournal(f);
  t.equal(r.events.length, 1);
  t.equal(r.torn, null);
  const w = JournalWriter.reopen(f, r);
  w.append({ type: 'note', cell: 'c', attempt: 1, message: 'n' });
  w.close();
  t.equal(readJournal(f).events.length, 2);
});

t.test('any other bad line is an InputError naming the line', async (t) => {
  const f = file();
  writeFileSync(f, '{"type":"note","cell":"c","attempt":1,"message":"m","at":"x"}\nnot json\n{"type":"note","cell":"c","attempt":1,"message":"m","at":"x"}\n');
  try {
    readJournal(f);
    t.fail('no error');
  } catch (e) {
    t.ok(e instanceof InputError && e.place.line === 2, 'InputError at line 2');
    t.match((e as Error).message, /journal\.ndjson:2: bad journal line: not JSON/);
  }
  writeFileSync(f, '{"type":"bogus","at":"x"}\n');
  t.throws(() => readJournal(f), /journal.ndjson:1: bad journal line: unknown event type "bogus"/);
  writeFileSync(f, '{"type":"attempt-end","cell":"c","attempt":"1","host":"h","slot":1,"result":{},"at":"x"}\n{"type":"note","cell":"c","attempt":1,"message":"m","at":"x"}\n');
  t.throws(() => readJournal(f), /:1: bad journal line: attempt-end event: "attempt" should be a number/);
});

t.test('replay: attempt numbers, final cells, abandoned attempts', async (t) => {
  const at = '2026-01-01T00:00:00Z';
  const s = replay([
    { type: 'attempt-begin', cell: 'a', attempt: 1, host: 'h', slot: 1, at },
    { type: 'attempt-abandoned', cell: 'a', attempt: 1, host: 'h', slot: 1, at },
    { type: 'attempt-begin', cell: 'a', attempt: 2, host: 'h', slot: 1, at },
    { type: 'attempt-end', cell: 'a', attempt: 2, host: 'h', slot: 1, ms: 5, result: { verdict: 'pass', steps: [], evidence: [] }, at },
    { type: 'cell-end', cell: 'a', verdict: 'pass', attempts: 2, decidedBy: 2, at },
  ]);
  const a = s.cells.get('a')!;
  t.equal(a.maxAttempt, 2);
  t.equal(a.end?.verdict, 'pass');
  t.same(a.attempts.map((x) => x.abandoned), [true, false]);
});
