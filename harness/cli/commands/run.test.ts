// `fleetgate run` and `fleetgate merge` as a user runs them: exit codes, plain progress in CI, the
// run folder. Windows cells have no runner on this machine (no Windows image, no Windows lifecycle
// yet): a run of them exits 64 before anything starts (harness/run/prepare.test.ts), and with
// --skip-unavailable every one ends skipped with the reason, never as a verdict about the product.
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runFleetgate } from '../run-cli.test-helper.ts';

const root = mkdtempSync(path.join(tmpdir(), 'fg-run-cli-'));
const env = { FLEETGATE_STATE: path.join(root, 'state'), FLEETGATE_IMAGES: path.join(root, 'no-images') };

t.test('run --skip-unavailable: cells that cannot run here end skipped, plain lines in CI; resume carries on', async (t) => {
  const out = path.join(root, 'run');
  const matrix = path.join(root, 'windows.yaml');
  writeFileSync(matrix, 'axes:\n  os: [win11-24h2, server-2022]\n  driver: [{ name: d, path: . }]\n');
  t.equal(runFleetgate(['run', matrix, '--out', out, '--slots', '1'], { env }).code, 64, 'without the flag: exit 64, nothing started');
  const r = runFleetgate(['run', matrix, '--out', out, '--slots', '1', '--json', '--skip-unavailable'], { env });
  t.equal(r.code, 0, r.stderr);
  t.notMatch(r.stderr, /\u001B\[/);
  t.match(r.stderr, /skipped [0-9a-f]{12} win11-24h2.*image win11-24h2-\S+ is not in /);
  const summary = JSON.parse(r.stdout) as { run: { outcome: string }; cells: Array<{ verdict: string }> };
  t.equal(summary.run.outcome, 'passed');
  t.same([...new Set(summary.cells.map((c) => c.verdict))], ['skipped']);
  const again = runFleetgate(['run', '--resume', out], { env });
  t.equal(again.code, 0, again.stderr);
  t.match(again.stderr, /resumed/);
  t.equal(JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')).resumes.length, 1);
});

t.test('run and merge: usage errors exit 64', async (t) => {
  t.equal(runFleetgate(['run'], { env }).code, 64);
  const r = runFleetgate(['run', 'matrix/lab.yaml', '--slots', 'x'], { env });
  t.equal(r.code, 64);
  t.match(r.stderr, /--slots x: expected a whole number/);
  const m = runFleetgate(['merge', path.join(root, 'nope-1'), path.join(root, 'nope-2'), '--out', path.join(root, 'm')], { env });
  t.equal(m.code, 64);
  t.match(m.stderr, /is not a run folder/);
});
