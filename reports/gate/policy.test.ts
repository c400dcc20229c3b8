import t from 'tap';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../../lib/errors.ts';
import { runFleetgate } from '../../harness/cli/run-cli.test-helper.ts';
import { readRunFolder } from '../run-folder.ts';
import { writeSyntheticRun, type SyntheticCell } from '../synthetic.ts';
import { evaluateGate, formatGate, loadPolicy, policyFromText } from './policy.ts';

const FIXTURE = fileURLToPath(new URL('../testdata/demo1', import.meta.url));
const POLICIES = fileURLToPath(new URL('../policies/', import.meta.url));
const tmp = () => mkdtempSync(path.join(tmpdir(), 'fg-gate-'));
const lat = (p50: number, base50: number, p99 = p50 * 10, base99 = base50 * 10) => ({ p50Us: p50, p99Us: p99, baselineP50Us: base50, baselineP99Us: base99 });
const TODAY = new Date('2026-11-27T12:00:00Z');

function run(cells: SyntheticCell[], runId?: string) {
  const dir = tmp();
  writeSyntheticRun(dir, cells, { consoleLogs: false, ...(runId ? { runId } : {}) });
  return readRunFolder(dir, { steps: false });
}

t.test('every example policy parses', async (t) => {
  for (const f of ['release-gate.yaml', 'nightly.yaml', 'signoff.yaml', 'lab.yaml']) t.equal(loadPolicy(path.join(POLICIES, f)).version, 1, f);
});

t.test('a crash attributed to us or to nobody fails; Windows-attributed is a warning', async (t) => {
  const p = policyFromText('p.yaml', 'version: 1\n');
  const r = evaluateGate(
    run([
      { id: 'c-ours', verdict: 'product-crash', crash: { title: 'A', bucket: 'b:A', attribution: 'ours' } },
      { id: 'c-unknown', verdict: 'product-hang', crash: { title: 'H', bucket: 'b:H' } },
      { id: 'c-windows', verdict: 'product-crash', crash: { title: 'W', bucket: 'b:W', attribution: 'windows' } },
      { id: 'c-boot', verdict: 'boot-failure', reason: 'no boot after install' },
      { id: 'c-pass', verdict: 'pass' },
    ]),
    p,
    { today: TODAY },
  );
  t.equal(r.exitCode, 1);
  const fail = r.rules.find((x) => x.rule === 'product-failure')!;
  t.same(fail.findings.map((f) => f.cell).sort(), ['c-boot', 'c-ours', 'c-unknown']);
  t.match(fail.findings.find((f) => f.cell === 'c-unknown')!.why, /product-hang, attribution unknown: H \[bucket b:H\]/);
  t.same(r.rules.find((x) => x.rule === 'not-ours')!.findings.map((f) => f.cell), ['c-windows']);
  t.match(formatGate(r), /FAIL product-failure[\s\S]*c-ours/);
});

t.test('the same run with those cells excluded by policy exits 0 (by id, driver, tag, bucket)', async (t) => {
  const cells: SyntheticCell[] = [
    { id: 'a', verdict: 'product-crash', crash: { title: 'A', bucket: 'b:A', attribution: 'ours' } },
    { id: 'b', driver: 'oops-build', verdict: 'product-crash', crash: { title: 'B', bucket: 'b:B', attribution: 'ours' } },
    { id: 'c', tags: ['known-issue'], verdict: 'product-hang', crash: { title: 'C', bucket: 'b:C', attribution: 'ours' } },
    { id: 'd', verdict: 'verifier-violation', crash: { title: 'D', bucket: 'b:D', attribution: 'ours' } },
    { id: 'e', verdict: 'pass' },
  ];
  const r0 = evaluateGate(run(cells), policyFromText('p.yaml', 'version: 1\n'), { today: TODAY });
  t.equal(r0.exitCode, 1);
  const p = policyFromText(
    'p.yaml',
    `version: 1
allow:
  - { cell: a, reason: tracked in BUG-1 }
  - { driver: oops-build, reason: built to crash }
  - { tag: known-issue, reason: BUG-2, until: "2026-12-31" }
  - { bucket: "b:D", reason: BUG-3 }
`,
  );
  const r = evaluateGate(run(cells), p, { today: TODAY });
  t.equal(r.exitCode, 0, formatGate(r));
  t.same(r.excluded.map((e) => e.cell), ['a', 'b', 'c', 'd']);
  // An expired entry no longer excludes, and says so.
  const later = evaluateGate(run(cells), p, { today: new Date('2027-01-02T00:00:00Z') });
  t.equal(later.exitCode, 1);
  t.match(later.rules.find((x) => x.rule === 'allow-expired')!.summary, /tag=known-issue/);
});

t.test('infra errors: within the count or fraction pass with a warning, beyond it inconclusive; a crash still fails', async (t) => {
  const cells: SyntheticCell[] = [{ verdict: 'infra-error', reason: 'host lost' }, { verdict: null }, ...Array.from({ length: 8 }, () => ({ verdict: 'pass' as const }))];
  const byCount = (n: number) => policyFromText('p.yaml', `version: 1\ninconclusive: { maxInfraErrors: ${n} }\n`);
  t.equal(evaluateGate(run(cells), byCount(2), { today: TODAY }).exitCode, 0);
  const r = evaluateGate(run(cells), byCount(1), { today: TODAY });
  t.equal(r.exitCode, 2);
  t.match(r.rules.find((x) => x.rule === 'infra-errors')!.summary, /2 of 10 cell\(s\) \(20\.0 %\) without a verdict; policy: at most 1/);
  const byFraction = (f: number) => policyFromText('p.yaml', `version: 1\ninconclusive: { maxInfraFraction: ${f} }\n`);
  t.equal(evaluateGate(run(cells), byFraction(0.2), { today: TODAY }).exitCode, 0);
  t.equal(evaluateGate(run(cells), byFraction(0.1), { today: TODAY }).exitCode, 2);
  t.equal(evaluateGate(run(cells), policyFromText('p.yaml', 'version: 1\n'), { today: TODAY }).exitCode, 2, 'no limit given: none allowed');
  const crash = [...cells, { verdict: 'product-crash' as const, crash: { title: 'X', bucket: 'b:X', attribution: 'ours' } }];
  t.equal(evaluateGate(run(crash), byCount(0), { today: TODAY }).exitCode, 1, 'a found crash beats inconclusive');
});

t.test('latency: absolute overhead and relative change against the cell baseline', async (t) => {
  const p = policyFromText(
    'p.yaml',
    `version: 1
fail: { verdicts: [product-crash] }
latency:
  limits:
    - { op: "*", percentile: p50, maxOverheadUs: 500 }
    - { op: enumerate, percentile: p99, maxChange: 0.5 }
`,
  );
  const r = evaluateGate(run([{ id: 'x', verdict: 'perf-regression', latency: { open: lat(1000, 400), enumerate: lat(100, 90, 2000, 1000), read: lat(100, 100) } }]), p, { today: TODAY });
  t.equal(r.exitCode, 1);
  const f = r.rules.find((x) => x.rule === 'latency-overhead')!.findings.map((x) => x.why);
  t.equal(f.length, 2, f.join('\n'));
  t.match(f[0], /open p50 1000 µs vs baseline 400 µs: overhead 600 µs > 500 µs/);
  t.match(f[1], /enumerate p99 2000 µs vs baseline 1000 µs: change \+100\.0 % > 50\.0 %/);
  const ok = evaluateGate(run([{ verdict: 'perf-regression', latency: { open: lat(450, 400) } }]), p, { today: TODAY });
  t.equal(ok.exitCode, 0, 'perf-regression verdict not in fail.verdicts: the limits decide');
});

t.test('--baseline: p50/p99 of the same cells against a previous run', async (t) => {
  const p = policyFromText('p.yaml', 'version: 1\nlatency:\n  againstBaseline: { maxChange: 0.2, minDeltaUs: 50 }\n');
  const before = run([{ id: 'x', latency: { open: lat(1000, 900) } }, { id: 'y', latency: { open: lat(100, 90) } }], 'run-before');
  const after = run([{ id: 'x', latency: { open: lat(1300, 900) } }, { id: 'y', latency: { open: lat(140, 90, 1000, 900) } }, { id: 'z', latency: { open: lat(9000, 1) } }]);
  const r = evaluateGate(after, p, { baseline: before, today: TODAY });
  t.equal(r.exitCode, 1);
  const f = r.rules.find((x) => x.rule === 'latency-baseline')!.findings;
  // x: p50 +30 % (+300 µs) and p99 +30 %; y: p50 +40 % but only +40 µs (noise floor); z: not in the baseline.
  t.same(f.map((x) => x.cell), ['x', 'x']);
  t.match(f[0]!.why, /open p50 1300 µs vs 1000 µs in run-before: \+30\.0 %/);
  t.equal(evaluateGate(before, p, { baseline: before, today: TODAY }).exitCode, 0, 'a run against itself passes');
});

t.test('bad policy files: InputError with file:line:col', async (t) => {
  const bad = (text: string, re: RegExp) => {
    try {
      policyFromText('bad.yaml', text);
      t.fail(`accepted: ${text}`);
    } catch (e) {
      t.ok(e instanceof InputError);
      t.match((e as Error).message, re);
    }
  };
  bad('version: 1\nfail:\n  verdicts: [product-crash, crashy]\n', /^bad\.yaml:3:29: fail\.verdicts\[1\] is "crashy"; expected one of/);
  bad('version: 1\nallow:\n  - { reason: why }\n', /^bad\.yaml:3:5: an allow entry needs at least one of/);
  bad('version: 1\nlatency:\n  limits:\n    - { op: open, percentile: p75, maxOverheadUs: 10 }\n', /^bad\.yaml:4:31: .*percentile is "p75"/);
  bad('version: 1\ninconclusive: { maxInfra: 3 }\n', /^bad\.yaml:2:17: unknown key "maxInfra"/);
  bad('version: 1\nallow: [ { cell: a, reason: x, until: "2026-13-45" } ]\n', /^bad\.yaml:2:\d+: allow\[0\]\.until/);
  bad('version: [1\n', /^bad\.yaml:\d+:\d+: YAML syntax error/);
});

t.test('the CLI: exit codes 0/1/2/64 and the lab policy on the real lab run', async (t) => {
  const dir = tmp();
  cpSync(FIXTURE, dir, { recursive: true });
  const fail = runFleetgate(['gate', dir, '--policy', path.join(POLICIES, 'release-gate.yaml')]);
  t.equal(fail.code, 1, fail.stderr);
  t.match(fail.stdout, /FAIL product-failure[\s\S]*597f01bc4528[\s\S]*045bcac6c179/);
  const lab = runFleetgate(['gate', dir, '--policy', path.join(POLICIES, 'lab.yaml')]);
  t.equal(lab.code, 0, lab.stdout);
  t.match(lab.stdout, /3 excluded by policy/);
  const json = runFleetgate(['gate', dir, '--policy', path.join(POLICIES, 'lab.yaml'), '--json']);
  t.equal(JSON.parse(json.stdout).outcome, 'passed');
  const inc = tmp();
  writeSyntheticRun(inc, [{ verdict: 'infra-error' }, { verdict: 'pass' }], { consoleLogs: false });
  t.equal(runFleetgate(['gate', inc, '--policy', path.join(POLICIES, 'release-gate.yaml')]).code, 2);
  const badFile = path.join(tmp(), 'gate.yaml');
  writeFileSync(badFile, 'version: 1\nfail:\n  attribution: [ours, maybe]\n');
  const bad = runFleetgate(['gate', dir, '--policy', badFile]);
  t.equal(bad.code, 64);
  t.match(bad.stderr, `${badFile}:3:23:`);
  t.equal(runFleetgate(['gate', tmp(), '--policy', badFile]).code, 64, 'not a run folder');
  t.equal(runFleetgate(['gate', dir]).code, 64, 'no policy and none in run.json');
});
