// JUnit XML checked against the structure of the Jenkins JUnit schema (jenkins-junit.xsd, the
// Ant/Surefire format CI servers read). No XML schema validator is installed, so the test parses
// the XML with a strict well-formedness parser and checks the schema's element and attribute
// structure: allowed and required attributes, child order and counts, numeric formats.
import t from 'tap';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { renderJunit } from './junit.ts';
import { readRunFolder } from './run-folder.ts';
import { gridCells, writeSyntheticRun } from './synthetic.ts';
import { checkAgainst, parseXml, type ElementRule, type XmlElement } from './xml-check.test-helper.ts';

const FIXTURE = fileURLToPath(new URL('./testdata/demo1', import.meta.url));
const num = /^\d+$/;
const time = /^\d+(\.\d+)?$/;
const any = { min: 0, max: Infinity };
const JUNIT: Record<string, ElementRule> = {
  testsuites: { attrs: { name: 'optional', time, tests: num, failures: num, disabled: num, errors: num }, children: [{ name: 'testsuite', ...any }] },
  testsuite: {
    attrs: { name: 'required', tests: 'required', failures: num, errors: num, time, disabled: num, skipped: num, timestamp: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/, hostname: 'optional', id: num, package: 'optional', file: 'optional', log: 'optional', url: 'optional', version: 'optional' },
    children: [
      { name: 'properties', min: 0, max: 1 },
      { name: 'testcase', ...any },
      { name: 'system-out', min: 0, max: 1 },
      { name: 'system-err', min: 0, max: 1 },
    ],
  },
  properties: { attrs: {}, children: [{ name: 'property', ...any }] },
  property: { attrs: { name: 'required', value: 'required' }, children: [] },
  testcase: {
    attrs: { name: 'required', assertions: 'optional', time, classname: 'optional', status: 'optional', class: 'optional', file: 'optional', line: 'optional' },
    children: [
      // Testcase properties (where pytest's record_property writes them): the detectable overhead, issue #17.
      { name: 'properties', min: 0, max: 1 },
      { name: 'skipped', min: 0, max: 1 },
      { name: 'error', ...any },
      { name: 'failure', ...any },
      { name: 'system-out', ...any },
      { name: 'system-err', ...any },
    ],
  },
  skipped: { attrs: { message: 'optional' }, children: [] },
  error: { attrs: { message: 'optional', type: 'optional' }, children: [] },
  failure: { attrs: { message: 'optional', type: 'optional' }, children: [] },
  'system-out': { attrs: {}, children: [] },
  'system-err': { attrs: {}, children: [] },
};

const cases = (root: XmlElement) => root.children.flatMap((s) => s.children.filter((c) => c.name === 'testcase'));

t.test('the lab run as JUnit fits the schema, failures name verdict, bucket and attribution', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-junit-'));
  cpSync(FIXTURE, dir, { recursive: true });
  const root = parseXml(renderJunit(readRunFolder(dir)));
  t.same(checkAgainst(root, JUNIT), []);
  t.equal(root.attrs.tests, '5');
  t.equal(root.attrs.failures, '5');
  const tc = cases(root);
  t.equal(tc.length, 5);
  const crash = tc.find((c) => c.attrs.name!.includes('597f01bc4528'))!;
  const failure = crash.children.find((c) => c.name === 'failure')!;
  t.equal(failure.attrs.type, 'product-crash');
  t.match(failure.attrs.message, /^product-crash: bucket linux:BUG: kernel NULL pointer dereference in fgfilter_fail_oops: attribution ours$/);
  t.equal(crash.attrs.classname, 'fleetgate.lab.image');
  const out = crash.children.find((c) => c.name === 'system-out')!;
  t.match(out.text, /workload: FAILED .*the guest crashed during the workload/);
  // The retried cell shows both attempts, the infra error first.
  const retried = tc.find((c) => c.attrs.name!.includes('69e90d321fda'))!;
  t.match(retried.children.find((c) => c.name === 'system-out')!.text, /attempt 1 on vm: infra-error[\s\S]*attempt 2 on vm: perf-regression/);
});

t.test('infra errors are errors, skipped are skipped, bugchecks are named, classnames by release/patch', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-junit-'));
  writeSyntheticRun(dir, [
    { release: 'win11-24h2', build: 26100, ubr: 2454, verdict: 'product-crash', crash: { title: 'x', bucket: 'win:0x7E:fgfilter', attribution: 'ours', bugcheck: { code: 0x7e, name: 'SYSTEM_THREAD_EXCEPTION_NOT_HANDLED', params: [] } } },
    { release: 'win11-24h2', build: 26100, ubr: 2454, verdict: 'infra-error', reason: 'host lost' },
    { release: 'server-2022', build: 20348, ubr: 3000, verdict: 'skipped', reason: 'not applicable' },
    { release: 'server-2022', build: 20348, ubr: 3000, verdict: null },
  ]);
  const root = parseXml(renderJunit(readRunFolder(dir)));
  t.same(checkAgainst(root, JUNIT), []);
  t.same(root.children.map((s) => s.attrs.name), ['fleetgate.win11-24h2.26100_2454', 'fleetgate.server-2022.20348_3000']);
  const [a, b] = root.children;
  t.same([a!.attrs.failures, a!.attrs.errors, b!.attrs.skipped, b!.attrs.errors], ['1', '1', '1', '1']);
  const f = cases(root)[0]!.children.find((c) => c.name === 'failure')!;
  t.match(f.attrs.message, 'bugcheck 0x7E (SYSTEM_THREAD_EXCEPTION_NOT_HANDLED)');
  t.equal(cases(root)[1]!.children[0]!.name, 'error');
  t.equal(cases(root)[3]!.children[0]!.attrs.type, 'unfinished');
});

t.test('any guest text round-trips through the XML (property)', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-junit-p-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await fc.assert(
    fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), async (title, reason) => {
      writeSyntheticRun(dir, [{ verdict: 'product-crash', reason, crash: { title, bucket: `b:${title}`, attribution: 'ours' } }], { consoleLogs: false });
      const root = parseXml(renderJunit(readRunFolder(dir)));
      const problems = checkAgainst(root, JUNIT);
      if (problems.length) throw new Error(problems.join('\n'));
      const failure = cases(root)[0]!.children.find((c) => c.name === 'failure')!;
      // Illegal XML characters (and lone surrogates) become U+FFFD; everything else is kept.
      const clean = (s: string) => s.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
      if (!failure.attrs.message!.includes(clean(`bucket b:${title}`))) throw new Error(`message lost text: ${JSON.stringify(failure.attrs.message)}`);
      if (failure.text !== clean(reason || `product-crash: bucket b:${title}: attribution ours`)) throw new Error(`text changed: ${JSON.stringify(failure.text)}`);
    }),
    { numRuns: 60 },
  );
});

t.test('a cell with a 95% interval carries its detectable overhead as testcase properties, in the schema', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-junit-'));
  const [withCi, without] = writeSyntheticRun(
    dir,
    [
      { verdict: 'pass', latency: { open: { p50Us: 131, p99Us: 900, baselineP50Us: 100, baselineP99Us: 800, change: 'no-change', overheadP50Us: 31, overheadP99Us: 100, overheadP50CiUs: [24, 38] } } },
      { verdict: 'pass', latency: { open: { p50Us: 131, p99Us: 900, baselineP50Us: 100, baselineP99Us: 800, change: 'no-change', overheadP50Us: 31, overheadP99Us: 100 } } },
    ],
    { consoleLogs: false },
  );
  const root = parseXml(renderJunit(readRunFolder(dir)));
  t.same(checkAgainst(root, JUNIT), []);
  const tc = (id: string) => cases(root).find((c) => c.attrs.name!.includes(id))!;
  const props = tc(withCi!).children.find((c) => c.name === 'properties')!;
  t.same(props.children.map((p) => [p.attrs.name, p.attrs.value]), [['latency.detectableP50Us', '10'], ['latency.detectableP50Step', 'open'], ['latency.detectableP50From', 'interval']]);
  t.match(tc(withCi!).children.find((c) => c.name === 'system-out')!.text, /latency: would have detected ≥ 10 µs on open p50 \(1\.43 × the 95% interval's half-width, normal approximation\)/);
  t.notOk(tc(without!).children.some((c) => c.name === 'properties'), 'no interval, no property');
  t.match(tc(without!).children.find((c) => c.name === 'system-out')!.text, /latency: no 95% interval recorded, no detectable figure/);
});

t.test('a large run stays well-formed', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-junit-'));
  writeSyntheticRun(dir, gridCells(300), { consoleLogs: false });
  const root = parseXml(renderJunit(readRunFolder(dir)));
  t.same(checkAgainst(root, JUNIT), []);
  t.equal(cases(root).length, 300);
});
