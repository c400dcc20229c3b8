// Issue #17: what a `pass` means (the smallest p50 overhead a cell could have detected) and a
// "Latency regressions" list that only holds steps the cell itself judged a regression.
import t from 'tap';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OperationLatency } from '../runfolder/results.ts';
import { cellDetectableP50, DETECTABLE_PER_HALF_WIDTH, latencyRegressions, stepDetectableP50 } from './base.ts';
import { renderJunit } from './junit.ts';
import { renderMarkdown } from './markdown.ts';
import { readRunFolder } from './run-folder.ts';
import { writeSyntheticRun } from './synthetic.ts';
import { parseXml } from './xml-check.test-helper.ts';

const FIXTURE = fileURLToPath(new URL('./testdata/demo1', import.meta.url));

const step = (over: number, ci?: [number, number], extra: Record<string, unknown> = {}): OperationLatency =>
  ({ p50Us: 100 + over, p99Us: 1000, baselineP50Us: 100, baselineP99Us: 900, change: 'no-change', overheadP50Us: over, overheadP99Us: 100, ...(ci ? { overheadP50CiUs: ci } : {}), ...extra }) as OperationLatency;

t.test('a step: from the rounds when present, else from the 95% interval, else nothing', async (t) => {
  // Half-width 10 µs: (1.96 + 0.84)/1.96 × 10 ≈ 14.3 µs.
  t.ok(Math.abs(DETECTABLE_PER_HALF_WIDTH - 2.8016 / 1.96) < 0.001);
  const fromCi = stepDetectableP50(step(5, [-5, 15]))!;
  t.equal(fromCi.from, 'interval');
  t.ok(Math.abs(fromCi.us - 10 * DETECTABLE_PER_HALF_WIDTH) < 1e-9, `${fromCi.us}`);
  // An asymmetric interval: the half-width is half its length.
  t.ok(Math.abs(stepDetectableP50(step(5, [0, 40]))!.us - 20 * DETECTABLE_PER_HALF_WIDTH) < 1e-9);
  const fromRounds = stepDetectableP50(step(5, [-5, 15], { rounds: { count: 5, p50: { detectableUs: 12 } } }))!;
  t.same(fromRounds, { us: 12, from: 'rounds' });
  // A malformed rounds figure is not trusted: the interval is used.
  t.equal(stepDetectableP50(step(5, [-5, 15], { rounds: { p50: { detectableUs: 'x' } } }))!.from, 'interval');
  t.equal(stepDetectableP50(step(5, [-5, 15], { rounds: { p50: { detectableUs: Infinity } } }))!.from, 'interval');
  t.equal(stepDetectableP50(step(5)), null);
});

t.test('a cell: the worst of its judged steps, else of all recorded steps', async (t) => {
  const all = { latency: { open: step(5, [-5, 15]), read: step(5, [-50, 50]), write: step(5) } };
  const w = cellDetectableP50(all)!;
  t.equal(w.op, 'read');
  t.ok(Math.abs(w.us - 50 * DETECTABLE_PER_HALF_WIDTH) < 1e-9);
  t.same([w.judgedOnly, w.steps, w.missing], [false, 2, ['write']]);
  // Once the budget's judgement is recorded, only the judged steps count.
  const judged = { latency: { open: step(5, [-5, 15], { judged: { percentile: 'p50', limitUs: 500, outcome: 'within' } }), read: step(5, [-50, 50]) } };
  const j = cellDetectableP50(judged)!;
  t.same([j.op, j.judgedOnly, j.steps], ['open', true, 1]);
  t.equal(cellDetectableP50({ latency: { open: step(5) } }), null);
  t.equal(cellDetectableP50({}), null);
});

t.test('latency regressions come only from cells that judged one', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-det-'));
  const regressed = (over: number, extra: Record<string, unknown> = {}) => ({ ...step(over, [over - 10, over + 10]), change: 'regressed' as const, ...extra });
  writeSyntheticRun(
    dir,
    [
      // The good build: the comparison marked open as regressed, the cell's budget passed it.
      { id: 'goodpass0000', verdict: 'pass', latency: { open: regressed(40), read: step(1, [-3, 5]) } },
      { id: 'slowregr0000', verdict: 'perf-regression', reason: 'open p50 +2600 µs (budget 500 µs)', latency: { open: regressed(2600, { judged: { percentile: 'p50', limitUs: 500, outcome: 'over' } }), read: regressed(300, { judged: { percentile: 'p50', limitUs: 500, outcome: 'within' } }), write: regressed(200) } },
      { id: 'oldregr00000', verdict: 'perf-regression', latency: { open: regressed(900), read: step(2) } },
      { id: 'inconcl00000', verdict: 'latency-inconclusive', latency: { open: regressed(450, { judged: { percentile: 'p50', limitUs: 500, outcome: 'undecided' } }), read: regressed(80) } },
    ],
    { consoleLogs: false },
  );
  const folder = readRunFolder(dir);
  const regs = latencyRegressions(folder);
  // slowregr recorded its budget's judgement: only the step judged `over` is listed (read was
  // within its limit, write is not in the budget). oldregr predates `judged`: today's rule.
  t.same(regs.map((r) => [r.cell.id, r.op, r.kind]), [
    ['slowregr0000', 'open', 'regression'],
    ['oldregr00000', 'open', 'regression'],
    ['inconcl00000', 'open', 'undecided'],
  ]);
  t.notOk(regs.some((r) => r.cell.verdict === 'pass'), 'a pass cell has no latency regression');
  const md = renderMarkdown(folder);
  t.match(md, /### Latency regressions \(2\)/);
  t.match(md, /### Latency undecided \(1\)/);
  t.notMatch(md.slice(md.indexOf('### Latency regressions'), md.indexOf('### Latency undecided')), 'goodpass0000');
});

t.test('demo1: the slow build is listed, every listed step is from a perf-regression cell', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-det-'));
  cpSync(FIXTURE, dir, { recursive: true });
  const folder = readRunFolder(dir);
  const regs = latencyRegressions(folder);
  t.ok(regs.some((r) => r.cell.coords.driver === 'fgfilter-slow' && r.op === 'open-parallel'));
  t.ok(regs.every((r) => r.cell.verdict === 'perf-regression' && r.kind === 'regression'));
  // demo1 keeps no intervals: no detectable figure is claimed for any cell.
  const md = renderMarkdown(folder);
  t.notMatch(md, /would have detected/);
  t.match(md, /no 95% interval recorded/);
  t.notMatch(renderJunit(folder), /latency\.detectable/);
});

t.test('a synthetic run with intervals: summary.md and JUnit say what a pass could detect', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-det-'));
  const [pass, noci] = writeSyntheticRun(
    dir,
    [
      { verdict: 'pass', latency: { open: step(31, [24, 38]), read: step(3, [-2, 8]) } },
      { verdict: 'pass', latency: { open: step(31) } },
      { verdict: 'product-crash', crash: { title: 'x', bucket: 'b', attribution: 'ours' } },
    ],
    { consoleLogs: false },
  );
  const folder = readRunFolder(dir);
  const md = renderMarkdown(folder);
  // Half-width 7 µs on open (the worst): 7 × 2.80/1.96 ≈ 10 µs.
  const row = (id: string) => md.split('\n').find((l) => l.startsWith('| pass |') && l.includes(`\`${id}\``)) ?? '';
  t.ok(row(pass!).endsWith(`\`${pass}\` | would have detected ≥ 10 µs on open p50 |`), row(pass!));
  t.ok(row(noci!).endsWith(`\`${noci}\` | no 95% interval recorded: no detectable figure |`), row(noci!));
  t.notMatch(row(noci!), /detected ≥/);
  t.match(md, /Pass cells would have detected p50 overheads ≥ 10 µs \(the worst of 1 pass cell with an interval; 1 pass cell has none\)/);
  const root = parseXml(renderJunit(folder));
  const tcs = root.children.flatMap((s) => s.children.filter((c) => c.name === 'testcase'));
  const props = (id: string) => Object.fromEntries((tcs.find((c) => c.attrs.name!.includes(id))!.children.find((c) => c.name === 'properties')?.children ?? []).map((p) => [p.attrs.name, p.attrs.value]));
  t.same(props(pass!), { 'latency.detectableP50Us': '10', 'latency.detectableP50Step': 'open', 'latency.detectableP50From': 'interval' });
  t.same(props(noci!), {});
});
