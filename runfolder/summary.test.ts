// summary.json from a journal whose attempt results carry issue #17's measurement fields (interleaved
// rounds): the decided attempt's `measurement` is copied beside its `latency`, the rounds and judged
// fields of each step come through whole, and a journal from before #17 (demo1) gains no field.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseJournal, replay } from './journal.ts';
import { buildSummary } from './summary.ts';
import type { AttemptResult, MeasurementRecord, RoundStat } from './results.ts';

const demo1 = readFileSync(fileURLToPath(new URL('../reports/testdata/demo1/journal.ndjson', import.meta.url)), 'utf8');
const events = (): Array<Record<string, unknown>> => demo1.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
const summaryOf = (evs: Array<Record<string, unknown>>) => buildSummary(replay(parseJournal('journal.ndjson', Buffer.from(`${evs.map((e) => JSON.stringify(e)).join('\n')}\n`)).events));

const stat = (o: number): RoundStat => ({
  overheadsUs: [o - 3, o, o + 4], overheadUs: o, ciUs: [o - 20, o + 25], level: 0.95, noiseUs: 3, detectableUs: 18,
  baselineUs: [150, 152, 149, 151], driverUs: [150 + o, 151 + o, 152 + o],
});
const MEASUREMENT: MeasurementRecord = {
  method: 'rounds', rounds: 3, vcpus: 2, agentCpus: '1', singleThreaded: true, between: 'unload', detectableUs: 18, ms: { warmup: 3000, rounds: 91000 },
};

t.test('a pre-#17 journal (demo1) summarises with no measurement field', async (t) => {
  const s = summaryOf(events());
  t.ok(s.cells.length > 0);
  for (const c of s.cells) {
    t.notOk('measurement' in c, `${c.id}: no measurement`);
    for (const l of Object.values(c.latency ?? {})) t.notOk('rounds' in l || 'judged' in l, `${c.id}: old latency shape`);
  }
});

t.test("the decided attempt's measurement is copied beside its latency, and rounds/judged come through", async (t) => {
  const evs = events();
  const pass = evs.find((e) => e.type === 'attempt-end' && (e.result as AttemptResult).latency?.open !== undefined)!;
  const result = pass.result as AttemptResult;
  const open = result.latency!.open!;
  result.latency!.open = { ...open, rounds: { count: 3, p50: stat(30), p99: stat(90) }, judged: { percentile: 'p50', limitUs: 500, outcome: 'within' } };
  result.measurement = MEASUREMENT;
  const s = summaryOf(evs);
  const cell = s.cells.find((c) => c.id === pass.cell)!;
  t.same(cell.measurement, MEASUREMENT);
  t.same(cell.latency!.open!.rounds!.p50, stat(30));
  t.same(cell.latency!.open!.judged, { percentile: 'p50', limitUs: 500, outcome: 'within' });
  // And it survives the trip through JSON, as summary.json is written and read.
  t.same(JSON.parse(JSON.stringify(s)).cells.find((c: { id: string }) => c.id === pass.cell).measurement, MEASUREMENT);
  for (const c of s.cells) if (c.id !== pass.cell) t.notOk('measurement' in c, `${c.id}: none of its own`);
});

t.test('a fallback to sequential is kept as recorded', async (t) => {
  const evs = events();
  const pass = evs.find((e) => e.type === 'attempt-end' && (e.result as AttemptResult).latency?.open !== undefined)!;
  const m: MeasurementRecord = { ...MEASUREMENT, method: 'sequential', between: 'none', rounds: 1, fallback: 'unload refused: fgfilter is busy' };
  (pass.result as AttemptResult).measurement = m;
  t.same(summaryOf(evs).cells.find((c) => c.id === pass.cell)!.measurement, m);
});
