// Fuzz test of the journal reader and its replay (issue #16: run folders are input too: a copied,
// concatenated or hand-edited journal). Seeded from a real run's journal, mutated by line; fixed seed.
// Reading gives events (a torn last line reported, never thrown) or an InputError naming the file and a
// line in it; replaying what was read, and summarising it, never throws anything else.
import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InputError } from '../lib/errors.ts';
import { mutatedText } from '../lib/testdata/mutate.ts';
import { parseJournal, replay } from './journal.ts';

const seed = readFileSync(fileURLToPath(new URL('../reports/testdata/demo1/journal.ndjson', import.meta.url)), 'utf8');

t.test('parseJournal and replay: a mutated real journal reads, or is refused naming its file and line', async (t) => {
  let read = 0;
  let refused = 0;
  let torn = 0;
  fc.assert(
    fc.property(mutatedText([seed]), (text) => {
      let events;
      try {
        const r = parseJournal('journal.ndjson', Buffer.from(text));
        events = r.events;
        if (r.torn) torn++;
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        const lines = text.split('\n').length;
        if (e.place.file !== 'journal.ndjson' || e.place.line === undefined || e.place.line < 1 || e.place.line > lines) throw new Error(`place ${JSON.stringify(e.place)}`);
        refused++;
        return;
      }
      try {
        replay(events);
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
      }
      read++;
    }),
    { seed: 1616, numRuns: 1000 },
  );
  t.ok(read > 0 && refused > 0, `${read} read (${torn} with a torn last line), ${refused} refused`);
});

t.test('parseJournal and replay: events whose fields hold values of any shape are refused or replayed, never crash', async (t) => {
  const events = seed.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  let replayed = 0;
  fc.assert(
    fc.property(fc.nat({ max: events.length - 1 }), fc.jsonValue(), fc.nat(), (i, value, k) => {
      const e = { ...events[i]! };
      const keys = Object.keys(e);
      e[keys[k % keys.length]!] = value;
      const text = `${[...events.slice(0, i), e, ...events.slice(i + 1)].map((x) => JSON.stringify(x)).join('\n')}\n`;
      try {
        replay(parseJournal('journal.ndjson', Buffer.from(text)).events);
        replayed++;
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
      }
    }),
    { seed: 1616, numRuns: 1500 },
  );
  t.ok(replayed > 0, `${replayed} replayed`);
});
