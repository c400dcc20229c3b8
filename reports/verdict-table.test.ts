// One table gives every verdict its meaning (runfolder/results.ts VERDICT_TABLE): each row is checked
// against what really happens with a cell of that verdict: the scheduler's retries, the run's exit
// code, the gate, the JUnit and Allure writers, the progress glyph and the dashboard's order and colour.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { fakeCells, fakePlan, fakeRunner } from '../harness/run/fake-runner.ts';
import { VERDICT_GLYPH } from '../harness/run/progress/reporter.ts';
import { runPlan } from '../harness/run/scheduler.ts';
import { PRODUCT_FAILURES, VERDICT_TABLE, VERDICTS, type Verdict } from '../runfolder/results.ts';
import { parseSource } from '../lib/source-doc.ts';
import { VERDICT_ORDER, verdictClass } from './base.ts';
import { evaluateGate, parsePolicy } from './gate/policy.ts';
import { renderJunit } from './junit.ts';
import { writeAllureResults } from './allure.ts';
import { readRunFolder } from './run-folder.ts';

const root = mkdtempSync(path.join(tmpdir(), 'fg-verdicts-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));

/** A real run folder of one cell that ends with `v` (the fake runner returns it; the scheduler decides). */
async function runOf(v: Verdict) {
  const cells = fakeCells(1);
  const dir = path.join(root, v);
  const skip = v === 'skipped' ? new Map([[cells[0]!.id, 'cannot run here']]) : undefined;
  const runner = fakeRunner({ script: { [cells[0]!.id]: { verdict: v } } });
  const outcome = await runPlan({
    plan: fakePlan(cells), cells, runner, runDir: dir, summaryIntervalMs: 0,
    hosts: [{ name: 'h', provider: 'qemu', reach: 'local', slots: 1, memoryMiB: 8192, images: ['*'] }],
    tools: { node: process.version, fleetgate: 'test', qemu: null },
    ...(skip ? { skip } : {}),
  });
  return { dir, outcome, attempts: runner.calls.length };
}

const policy = (extra = '') => parsePolicy(parseSource('policy.yaml', `version: 1\nname: t\ninconclusive: { maxInfraFraction: 1 }\n${extra}`));

t.test('the derived lists follow the table', async (t) => {
  t.same(PRODUCT_FAILURES, VERDICTS.filter((v) => VERDICT_TABLE[v].class === 'failed'));
  t.same(VERDICTS.filter((v) => VERDICT_TABLE[v].retried), ['infra-error'], 'only infrastructure is ever retried');
  t.ok(VERDICTS.includes('install-failure') && VERDICTS.includes('latency-inconclusive'));
  t.same(VERDICT_ORDER.filter((v) => v !== 'unfinished'), VERDICTS, 'reports sort worst first, in the table order');
  const glyphs = VERDICTS.map((v) => VERDICT_GLYPH[v]);
  t.equal(new Set(glyphs).size, glyphs.length, 'every glyph tells its verdict apart');
  const app = readFileSync(new URL('./html/app.js', import.meta.url), 'utf8');
  t.same(JSON.parse(/var ORDER = (\[[^\]]*\])/.exec(app)![1]!.replace(/'/g, '"')), VERDICT_ORDER, "the dashboard's order is the table's");
  const css = readFileSync(new URL('./html/style.css', import.meta.url), 'utf8');
  for (const v of VERDICTS) t.match(css, new RegExp(`\\.v-${v} \\{`), `the dashboard has a colour for ${v}`);
});

for (const v of VERDICTS) {
  const row = VERDICT_TABLE[v];
  t.test(`${v}: ${row.means}`, async (t) => {
    const { dir, outcome, attempts } = await runOf(v);
    const run = readRunFolder(dir, { steps: false });
    t.equal(run.cells[0]!.verdict, v, 'the cell ends with it');
    t.equal(attempts, v === 'skipped' ? 0 : row.retried ? 3 : 1, row.retried ? 'retried (2 retries)' : 'never retried');
    t.equal(outcome.exitCode, { 'product-failure': 1, inconclusive: 2, ok: 0 }[row.run], `the run exits ${row.run}`);
    t.equal(verdictClass(v), row.class);

    const gate = evaluateGate(run, policy());
    t.equal(gate.outcome, row.gate === 'fail' || row.gate === 'fail-unless-waived' ? 'failed' : 'passed', `the gate: ${row.gate}`);
    const strict = evaluateGate(run, parsePolicy(parseSource('strict.yaml', 'version: 1\nname: strict\n')));
    t.equal(strict.outcome, row.gate === 'inconclusive-past-limit' ? 'inconclusive' : gate.outcome, 'under a policy that allows no cell without a verdict');
    if (row.gate === 'fail-unless-waived') {
      t.equal(evaluateGate(run, policy(`waive: [${v}]\n`)).outcome, 'passed', 'a policy that waives it passes');
    }

    const xml = renderJunit(run);
    const tag = { passed: null, failure: '<failure', error: '<error', skipped: '<skipped' }[row.junit];
    for (const other of ['<failure', '<error', '<skipped']) t.equal(xml.includes(other), other === tag, `JUnit ${row.junit}: ${other} ${other === tag ? 'present' : 'absent'}`);

    const allure = path.join(dir, 'allure');
    writeAllureResults(run, allure);
    const result = JSON.parse(readFileSync(path.join(allure, readdirSync(allure).find((f) => f.endsWith('-result.json'))!), 'utf8')) as { status: string };
    t.equal(result.status, row.allure, `Allure ${row.allure}`);
  });
}

t.test('a policy may waive only what the table makes waivable', async (t) => {
  t.throws(() => policy('waive: [product-crash]\n'), /waive\[0\]/);
});
