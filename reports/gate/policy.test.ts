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

/** The parts appear in `text` in this order (indexOf: no backtracking regex over the whole output). */
function inOrder(text: string, parts: string[]): boolean {
  let at = 0;
  for (const p of parts) {
    const i = text.indexOf(p, at);
    if (i < 0) return false;
    at = i + p.length;
  }
  return true;
}

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
  t.ok(inOrder(formatGate(r), ['FAIL product-failure', 'c-ours']), formatGate(r));
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

/** Latency with the cell's 95% intervals (what cells record since the gate judges intervals). */
const latCi = (p50: number, base50: number, ci50: [number, number], more: { p99?: number; base99?: number; ci99?: [number, number] } = {}) => ({
  ...lat(p50, base50, more.p99, more.base99),
  overheadP50CiUs: ci50,
  ...(more.ci99 ? { overheadP99CiUs: more.ci99 } : {}),
});
const RELEASE_LIMITS = `version: 1
fail: { verdicts: [product-crash] }
latency:
  limits:
    - { op: "*", percentile: p50, maxOverheadUs: 500 }
    - { op: "*", percentile: p99, maxOverheadUs: 5000 }
    - { op: enumerate, percentile: p50, maxChange: 0.5 }
`;
const rulesOf = (r: ReturnType<typeof evaluateGate>, rule: string) => r.rules.find((x) => x.rule === rule);

t.test('latency with intervals: the interval above the limit fails, and the finding names the interval', async (t) => {
  const p = policyFromText('p.yaml', RELEASE_LIMITS);
  const r = evaluateGate(run([{ id: 'x', latency: { open: latCi(1000, 400, [550, 650], { p99: 9000, base99: 1000, ci99: [7000, 9000] }), enumerate: latCi(1700, 1000, [650, 760], { p99: 17000, base99: 14000, ci99: [-3000, 4000] }) } }]), p, { today: TODAY });
  t.equal(r.exitCode, 1, formatGate(r));
  const f = rulesOf(r, 'latency-overhead')!.findings.map((x) => x.why);
  t.same(f, [
    'open p50 overhead +600 µs (95% 550..650 µs) over 500 µs (limit op=*)',
    'open p99 overhead +8000 µs (95% 7000..9000 µs) over 5000 µs (limit op=*)',
    'enumerate p50 overhead +700 µs (95% 650..760 µs) over 500 µs (limit op=*)',
    'enumerate p50 change +70.0 % (95% 65.0..76.0 % of baseline 1000 µs) over 50.0 % (limit op=enumerate)',
  ]);
  t.notOk(rulesOf(r, 'latency-point-figures'), 'every judged figure had its interval: no warning');
  t.notOk(rulesOf(r, 'latency-undecided')?.findings.length, 'nothing undecided');
});

t.test('latency with intervals: an interval straddling the limit is latency-undecided, inconclusive unless the policy says warn', async (t) => {
  const cells: SyntheticCell[] = [{ id: 'x', latency: { enumerate: latCi(10679, 8987, [-400, 3900], { p99: 30000, base99: 29000, ci99: [-3000, 4000] }), create: latCi(700, 600, [-100, 300], { p99: 9000, base99: 3000, ci99: [-2000, 12000] }) } }];
  const r = evaluateGate(run(cells), policyFromText('p.yaml', RELEASE_LIMITS), { today: TODAY });
  t.equal(r.exitCode, 2, formatGate(r));
  t.equal(r.outcome, 'inconclusive');
  t.same(rulesOf(r, 'latency-overhead')!.findings, [], 'no limit broken');
  const u = rulesOf(r, 'latency-undecided')!;
  t.equal(u.effect, 'inconclusive');
  // enumerate's 50 % change limit is decided (-4.5..43.4 % lies within it); its 500 µs one is not.
  t.same(u.findings.map((x) => x.why), [
    'enumerate p50 overhead +1692 µs (95% -400..3900 µs) undecided at 500 µs (limit op=*)',
    'create p99 overhead +6000 µs (95% -2000..12000 µs) undecided at 5000 µs (limit op=*)',
  ]);
  t.match(u.summary, /latency\.undecided: inconclusive/);
  const warn = evaluateGate(run(cells), policyFromText('p.yaml', `${RELEASE_LIMITS}  undecided: warn
`), { today: TODAY });
  t.equal(warn.exitCode, 0, formatGate(warn));
  t.equal(rulesOf(warn, 'latency-undecided')!.effect, 'warn');
  t.equal(rulesOf(warn, 'latency-undecided')!.findings.length, 2);
  // A straddle never hides a broken limit of the same run.
  const both = evaluateGate(run([...cells, { id: 'y', latency: { open: latCi(1000, 400, [550, 650]) } }]), policyFromText('p.yaml', RELEASE_LIMITS), { today: TODAY });
  t.equal(both.exitCode, 1);
});

t.test("latency with intervals: the issue's false alarm (point figure over, interval below the limit) passes", async (t) => {
  // The good build as the issue saw it: enumerate p50 10679 µs vs baseline 8987 µs, +1692 µs by the point
  // figures; its interval lies below the 500 µs limit and the 50 % change, so no limit is broken.
  const r = evaluateGate(run([{ id: 'good', latency: { enumerate: latCi(10679, 8987, [-400, 450], { p99: 30000, base99: 24000, ci99: [-9000, 4900] }) } }]), policyFromText('p.yaml', RELEASE_LIMITS), { today: TODAY });
  t.equal(r.exitCode, 0, formatGate(r));
  t.same(rulesOf(r, 'latency-overhead')!.findings, []);
  t.notOk(rulesOf(r, 'latency-undecided')?.findings.length);
  t.match(rulesOf(r, 'latency-overhead')!.summary, /latency within limits/);
});

t.test('latency without intervals (runs from before them): point figures as before, plus a warning that says so', async (t) => {
  const p = policyFromText('p.yaml', RELEASE_LIMITS);
  // open: no interval at all; read: p50's interval only, so its p99 limit falls back alone.
  const r = evaluateGate(run([{ id: 'old', latency: { open: lat(1000, 400), read: latCi(100, 90, [-5, 30], { p99: 900, base99: 800 }) } }, { id: 'new', latency: { open: latCi(410, 400, [-20, 40], { ci99: [-300, 400] }) } }]), p, { today: TODAY });
  t.equal(r.exitCode, 1);
  t.same(rulesOf(r, 'latency-overhead')!.findings.map((x) => x.why), ['open p50 1000 µs vs baseline 400 µs: overhead 600 µs > 500 µs (limit op=*)', 'open p99 10000 µs vs baseline 4000 µs: overhead 6000 µs > 5000 µs (limit op=*)']);
  const w = rulesOf(r, 'latency-point-figures')!;
  t.equal(w.effect, 'warn');
  t.same(w.findings.map((x) => [x.cell, x.why]), [['old', 'no 95% interval recorded for open p50, open p99, read p99: judged by single figures (recorded before the gate judged intervals, or unreadable); re-run for intervals']]);
  t.match(formatGate(r), /warn latency-point-figures: 1 cell\(s\) judged by single figures/);
});

t.test('a malformed interval in summary.json is dropped by the reader, not trusted', async (t) => {
  const dir = tmp();
  const bad = { ...lat(1000, 400), overheadP50CiUs: ['550', 650], overheadP99CiUs: [7000, 100] } as unknown as ReturnType<typeof lat>;
  const odd = { ...lat(410, 400), overheadP50CiUs: [-20, 40, 90] } as unknown as ReturnType<typeof lat>;
  const ok = latCi(410, 400, [-20, 40], { ci99: [-300, 400] });
  writeSyntheticRun(dir, [{ id: 'x', latency: { open: bad, read: odd, write: ok } }], { consoleLogs: false });
  const folder = readRunFolder(dir, { steps: false });
  const l = folder.cells[0]!.latency!;
  t.notOk('overheadP50CiUs' in l.open!, 'a string bound: dropped');
  t.notOk('overheadP99CiUs' in l.open!, 'low above high: dropped');
  t.notOk('overheadP50CiUs' in l.read!, 'three numbers: dropped');
  t.same(l.write, ok, 'a well-formed entry reads as written');
  t.equal(l.open!.p50Us, 1000, 'the point figures stay');
  const r = evaluateGate(folder, policyFromText('p.yaml', RELEASE_LIMITS), { today: TODAY });
  t.equal(r.exitCode, 1, 'judged by the point figures instead');
  t.match(rulesOf(r, 'latency-point-figures')!.findings[0]!.why, /open p50, open p99, read p50, read p99/);
});

t.test("the lab policy on the lab demo's figures with intervals (the CI run's shape) still passes", async (t) => {
  // The two good-build cells of a CI demo run (runs/demo, 2026-12-03), as recorded: the lab policy judges
  // open and read p50 against 10 ms, far above their intervals, so the default undecided: inconclusive
  // cannot make the demo's gate exit 2.
  const cells: SyntheticCell[] = [
    { id: 'pass-1', driver: 'fgfilter', verdict: 'pass', latency: { open: latCi(71, 48.5, [4, 42]), read: latCi(136.5, 150.5, [-52, 25]), enumerate: latCi(11407, 9967, [-2180, 4992.2]) } },
    { id: 'pass-2', driver: 'fgfilter', verdict: 'pass', latency: { open: latCi(65, 51.5, [-2.5, 29.5]), read: latCi(122, 98, [-21.5, 70]), 'open-parallel': latCi(2323.5, 1839, [61.49, 908.01]) } },
    { id: 'slow', driver: 'fgfilter-slow', verdict: 'perf-regression', latency: { open: latCi(2633, 55.5, [2508, 2645]) } },
  ];
  const r = evaluateGate(run(cells), loadPolicy(path.join(POLICIES, 'lab.yaml')), { today: TODAY });
  t.equal(r.exitCode, 0, formatGate(r));
  t.notOk(rulesOf(r, 'latency-point-figures'), 'every judged step had its interval');
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

t.test('--baseline with intervals on both sides: the overheads are compared (host speed cancels), a straddle is undecided', async (t) => {
  const p = policyFromText('p.yaml', 'version: 1\nlatency:\n  againstBaseline: { percentiles: [p50], maxChange: 0.2, minDeltaUs: 50 }\n');
  const before = run(
    [
      { id: 'x', latency: { open: latCi(1000, 900, [80, 120]) } },
      { id: 'y', latency: { open: latCi(1000, 900, [0, 200]) } },
      { id: 'z', latency: { open: latCi(1000, 900, [80, 120]) } },
      { id: 'old', latency: { open: lat(1000, 900) } },
    ],
    'run-before',
  );
  const after = run([
    // x: overhead +100 → +400 µs; the change's low end 300 − √(20² + 20²) ≈ 272 µs is over max(50, 20 % of 1000).
    { id: 'x', latency: { open: latCi(1400, 1000, [380, 420]) } },
    // y: +100 → +350 µs, but 250 ∓ √(200² + 100²) spans 26..474 µs, across the 200 µs limit.
    { id: 'y', latency: { open: latCi(1350, 1000, [150, 550]) } },
    // z: the raw p50 is 30 % up, its own baseline with it: the overhead did not change.
    { id: 'z', latency: { open: latCi(1300, 1200, [80, 120]) } },
    // old: the previous run has no interval: the raw figures as before, with the warning.
    { id: 'old', latency: { open: latCi(1300, 1200, [80, 120]) } },
  ]);
  const r = evaluateGate(after, p, { baseline: before, today: TODAY });
  t.equal(r.exitCode, 1, formatGate(r));
  t.same(rulesOf(r, 'latency-baseline')!.findings.map((x) => [x.cell, x.why]), [
    ['x', 'open p50 overhead +400 µs vs +100 µs in run-before: change +300 µs (95% 272..328 µs) over 200 µs (20.0 % of 1000 µs, at least 50 µs)'],
    ['old', 'open p50 1300 µs vs 1000 µs in run-before: +30.0 % (+300 µs) > 20.0 %'],
  ]);
  t.same(rulesOf(r, 'latency-undecided')!.findings.map((x) => [x.cell, x.why]), [['y', 'open p50 overhead +350 µs vs +100 µs in run-before: change +250 µs (95% 26..474 µs) undecided at 200 µs (20.0 % of 1000 µs, at least 50 µs)']]);
  t.same(rulesOf(r, 'latency-point-figures')!.findings.map((x) => [x.cell, x.why]), [['old', 'no 95% interval recorded for open p50 against run-before: judged by single figures (recorded before the gate judged intervals, or unreadable); re-run for intervals']]);
  // Against itself nothing regresses; y's noise alone (±283 µs) is too wide to rule out 200 µs, and says so.
  const self = evaluateGate(after, p, { baseline: after, today: TODAY });
  t.same(rulesOf(self, 'latency-baseline')!.findings, [], formatGate(self));
  t.same(rulesOf(self, 'latency-undecided')!.findings.map((x) => x.cell), ['y']);
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
  bad('version: 1\nlatency:\n  undecided: fail\n', /^bad\.yaml:3:14: latency\.undecided is "fail"; expected one of: inconclusive, warn/);
  bad('version: 1\nlatency: { undecided: [warn] }\n', /^bad\.yaml:2:23: latency\.undecided is a list; expected string/);
});

t.test('the CLI: exit codes 0/1/2/64 and the lab policy on the real lab run', async (t) => {
  const dir = tmp();
  cpSync(FIXTURE, dir, { recursive: true });
  const fail = runFleetgate(['gate', dir, '--policy', path.join(POLICIES, 'release-gate.yaml')]);
  t.equal(fail.code, 1, fail.stderr);
  t.ok(inOrder(fail.stdout, ['FAIL product-failure', '597f01bc4528', '045bcac6c179']), fail.stdout);
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
