// Expected verdicts (matrix/lab.expected.json's format): read with places in errors, compared both
// ways (another verdict, a cell missing, a cell the file does not know), and `fleetgate expect`'s
// exit codes on a real run folder made by the scheduler.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { fakeCells, fakePlan, fakeRunner } from '../harness/run/fake-runner.ts';
import { runPlan } from '../harness/run/scheduler.ts';
import { runFleetgate } from '../harness/cli/run-cli.test-helper.ts';
import { compareVerdicts, formatDifferences, loadExpected } from './expected.ts';
import { readRunFolder } from './run-folder.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'fg-expected-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const ids = ['0123456789ab', 'aaaaaaaaaaaa', 'bbbbbbbbbbbb'];
const cells = fakeCells(3).map((c, i) => ({ ...c, id: ids[i]! }));
const runDir = path.join(dir, 'run');
await runPlan({
  plan: fakePlan(cells),
  cells,
  runner: fakeRunner({ script: { [ids[1]!]: { verdict: 'perf-regression' }, [ids[2]!]: 'product-crash' } }),
  hosts: [{ name: 'h', provider: 'qemu', reach: 'local', slots: 1, memoryMiB: 8192, images: ['*'] }],
  runDir,
  tools: { node: process.version, fleetgate: 'test', qemu: null },
  summaryIntervalMs: 0,
});

function file(name: string, text: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
}

t.test('the same verdicts: no difference, exit 0', async (t) => {
  const f = file('same.json', JSON.stringify({ [ids[0]!]: 'pass', [ids[1]!]: 'perf-regression', [ids[2]!]: 'product-crash' }));
  t.same(compareVerdicts(readRunFolder(runDir, { steps: false }), loadExpected(f)), []);
  const r = runFleetgate(['expect', runDir, f]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /every one of 3 cells has its expected verdict/);
});

t.test('every kind of difference is listed, exit 1', async (t) => {
  const f = file('differ.json', JSON.stringify({ [ids[0]!]: 'pass', [ids[1]!]: 'pass', cccccccccccc: 'product-hang' }));
  const diffs = compareVerdicts(readRunFolder(runDir, { steps: false }), loadExpected(f));
  t.match(diffs, [
    { id: ids[1], expected: 'pass', got: 'perf-regression' },
    { id: 'cccccccccccc', expected: 'product-hang', got: null },
    { id: ids[2], expected: null, got: 'product-crash' },
  ]);
  t.match(formatDifferences(diffs, 3), /3 cell\(s\) differ/);
  const r = runFleetgate(['expect', runDir, f]);
  t.equal(r.code, 1);
  t.match(r.stdout, /aaaaaaaaaaaa .*: perf-regression, expected pass/);
  t.match(r.stdout, /cccccccccccc: not in the run \(expected product-hang\)/);
  t.match(r.stdout, /bbbbbbbbbbbb .*: product-crash, but the file expects nothing of this cell/);
});

t.test('a bad file names the place and what was expected, exit 64', async (t) => {
  const badId = file('bad-id.json', '{\n  "0123456789ab": "pass",\n  "lab fgfilter": "pass"\n}\n');
  t.throws(() => loadExpected(badId), { message: /bad-id\.json:3:3: "lab fgfilter" is not a cell id; expected 12 hex digits/ });
  const badVerdict = file('bad-verdict.json', '{\n  "0123456789ab": "passed"\n}\n');
  t.throws(() => loadExpected(badVerdict), { message: /bad-verdict\.json:2:\d+: .*(one of|must be equal)/ });
  t.throws(() => loadExpected(file('list.json', '[]')), { message: /list\.json:1: expected an object of cell id/ });
  t.equal(runFleetgate(['expect', runDir, badId]).code, 64);
  t.equal(runFleetgate(['expect', runDir, path.join(dir, 'none.json')]).code, 64);
});
