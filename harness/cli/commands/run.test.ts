// `fleetgate run` and `fleetgate merge` as a user runs them: exit codes, plain progress in CI, the
// run folder. Windows cells have no runner on this machine (no Windows image, no Windows
// lifecycle yet): every such cell is an infra error, never a verdict, and the run is inconclusive.
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runFleetgate } from '../run-cli.test-helper.ts';

const root = mkdtempSync(path.join(tmpdir(), 'fg-run-cli-'));
const env = { FLEETGATE_STATE: path.join(root, 'state') };

t.test('run: infrastructure keeps every cell from a verdict, exit 2, plain lines in CI', async (t) => {
  const out = path.join(root, 'run');
  const matrix = path.join(root, 'windows.yaml');
  writeFileSync(matrix, 'axes:\n  os: [win11-24h2, server-2022]\n  driver: [{ name: d, path: . }]\n');
  const r = runFleetgate(['run', matrix, '--out', out, '--slots', '1', '--json'], { env });
  t.equal(r.code, 2, r.stderr);
  t.notMatch(r.stderr, /\u001B\[/);
  t.match(r.stderr, /no runner for win11-24h2 yet/);
  const summary = JSON.parse(r.stdout) as { run: { outcome: string }; cells: Array<{ verdict: string }> };
  t.equal(summary.run.outcome, 'inconclusive');
  const again = runFleetgate(['run', '--resume', out], { env });
  t.equal(again.code, 2);
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
