import t from 'tap';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateAllureSite, writeAllureResults } from './allure.ts';
import { readRunFolder } from './run-folder.ts';
import { writeSyntheticRun } from './synthetic.ts';

const FIXTURE = fileURLToPath(new URL('./testdata/demo1', import.meta.url));

interface Result {
  name: string;
  historyId: string;
  testCaseId: string;
  status: string;
  start: number;
  stop: number;
  labels: Array<{ name: string; value: string }>;
  steps: Array<{ name: string; status: string; start: number; stop: number; steps: Array<{ name: string; status: string; start: number; stop: number }> }>;
  attachments: Array<{ name: string; source: string; type: string }>;
  statusDetails?: { message?: string };
}

function results(dir: string): Result[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('-result.json'))
    .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as Result);
}

t.test('the lab run: one test per cell, history id = cell id, steps, labels, attachments', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-allure-'));
  cpSync(FIXTURE, dir, { recursive: true });
  const out = path.join(dir, 'reports', 'allure-results');
  writeAllureResults(readRunFolder(dir), out);
  const rs = results(out);
  t.equal(rs.length, 5);
  const byId = new Map(rs.map((r) => [r.historyId, r]));
  t.same([...byId.keys()].sort(), ['045bcac6c179', '597f01bc4528', '69e90d321fda', '996a06751d17', 'da2b0a513a49']);
  const crash = byId.get('597f01bc4528')!;
  t.equal(crash.status, 'failed');
  t.equal(crash.testCaseId, '597f01bc4528');
  t.match(crash.statusDetails?.message, /product-crash: bucket linux:BUG/);
  const label = (r: Result, n: string) => r.labels.filter((l) => l.name === n).map((l) => l.value);
  t.same(label(crash, 'suite'), ['lab']);
  t.same(label(crash, 'driver'), ['fgfilter-oops']);
  t.same(label(crash, 'verifier'), ['none']);
  t.same(label(crash, 'tag'), ['lab']);
  t.same(label(crash, 'os.patchLevel'), ['image']);
  t.same(label(crash, 'attribution'), ['ours']);
  const retried = byId.get('69e90d321fda')!;
  t.same(retried.steps.map((s) => s.name), ['attempt 1 on vm: infra-error', 'attempt 2 on vm: perf-regression']);
  t.equal(retried.steps[0]!.status, 'broken', 'the infra-error attempt is broken, not failed');
  t.same(retried.steps[1]!.steps.map((s) => s.name).slice(0, 3), ['acquire', 'identity', 'baseline']);
  for (const s of retried.steps[1]!.steps) t.ok(s.stop >= s.start && s.start > 1.7e12, `${s.name} has real start/stop times`);
  t.same(retried.attachments.map((a) => a.name).sort(), ['console.log', 'latency.json']);
  for (const a of [...crash.attachments, ...retried.attachments]) t.ok(existsSync(path.join(out, a.source)), `attachment ${a.name} written`);
  t.same(crash.attachments.map((a) => a.name).sort(), ['console.log', 'crash.json']);
  t.match(readFileSync(path.join(out, crash.attachments.find((a) => a.name === 'console.log')!.source), 'utf8'), /Kernel panic/);
  t.ok(existsSync(path.join(out, 'environment.properties')));
  t.ok(existsSync(path.join(out, 'categories.json')));
});

t.test('statuses: infra-error broken, skipped skipped, unfinished broken; triage and histogram attached', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-allure-'));
  writeSyntheticRun(dir, [
    { id: 'p', verdict: 'pass' },
    { id: 'i', verdict: 'infra-error', reason: 'host lost' },
    { id: 's', verdict: 'skipped' },
    { id: 'u', verdict: null },
    { id: 'c', verdict: 'product-crash', crash: { title: 't', bucket: 'b', attribution: 'ours' }, files: { 'triage.json': '{"bucket":"b"}', 'latency-hist.json': '{"open":[1,2,3]}' } },
  ]);
  const out = path.join(dir, 'ar');
  writeAllureResults(readRunFolder(dir), out);
  const st = Object.fromEntries(results(out).map((r) => [r.historyId, r.status]));
  t.same(st, { p: 'passed', i: 'broken', s: 'skipped', u: 'broken', c: 'failed' });
  const c = results(out).find((r) => r.historyId === 'c')!;
  t.same(c.attachments.map((a) => a.name).sort(), ['console.log', 'crash.json', 'latency-hist.json', 'triage.json']);
});

t.test('latency.json: a pass cell attaches it only for a step its budget did not clear (or, before judgement was kept, a regressed comparison)', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-allure-'));
  const l = (change: 'regressed' | 'no-change', outcome?: 'within' | 'over' | 'undecided') =>
    ({ p50Us: 140, p99Us: 900, baselineP50Us: 100, baselineP99Us: 800, change, overheadP50Us: 40, overheadP99Us: 100, ...(outcome ? { judged: { percentile: 'p50', limitUs: 500, outcome } } : {}) }) as never;
  writeSyntheticRun(dir, [
    // Judged within the budget: the comparison's `regressed` is noise, nothing to look at.
    { id: 'within', verdict: 'pass', latency: { open: l('regressed', 'within'), read: l('no-change', 'within') } },
    { id: 'undecided', verdict: 'pass', latency: { open: l('no-change', 'undecided') } },
    { id: 'old-regressed', verdict: 'pass', latency: { open: l('regressed') } },
    { id: 'old-clean', verdict: 'pass', latency: { open: l('no-change') } },
    { id: 'failed', verdict: 'perf-regression', latency: { open: l('no-change', 'within') } },
  ], { consoleLogs: false });
  const out = path.join(dir, 'ar');
  writeAllureResults(readRunFolder(dir), out);
  const has = Object.fromEntries(results(out).map((r) => [r.historyId, r.attachments.some((a) => a.name === 'latency.json')]));
  t.same(has, { within: false, undecided: true, 'old-regressed': true, 'old-clean': false, failed: true });
});

t.test('allure-commandline makes a site (skipped without Java)', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-allure-'));
  cpSync(FIXTURE, dir, { recursive: true });
  const out = path.join(dir, 'reports', 'allure-results');
  writeAllureResults(readRunFolder(dir), out);
  const site = await generateAllureSite(out, path.join(dir, 'reports', 'allure'));
  if (!site.made && /skipped/.test(site.message)) {
    t.comment(site.message);
    t.pass('allure site skipped');
    return;
  }
  t.ok(site.made, site.message);
  t.ok(existsSync(path.join(dir, 'reports', 'allure', 'index.html')));
  const suites = JSON.parse(readFileSync(path.join(dir, 'reports', 'allure', 'widgets', 'summary.json'), 'utf8')) as { statistic: Record<string, number> };
  t.equal(suites.statistic.failed, 5);
  t.equal(suites.statistic.total, 5);
});
