import t from 'tap';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runFleetgate } from '../../harness/cli/run-cli.test-helper.ts';
import { readRunFolder } from '../run-folder.ts';
import { writeSyntheticRun, type SyntheticCell } from '../synthetic.ts';
import { comparePatch, HistoryStore } from './store.ts';

const FIXTURE = fileURLToPath(new URL('../testdata/demo1', import.meta.url));
const tmp = () => mkdtempSync(path.join(tmpdir(), 'fg-hist-'));

function run(runId: string, started: string, cells: SyntheticCell[]) {
  const dir = tmp();
  writeSyntheticRun(dir, cells, { runId, started, consoleLogs: false });
  return readRunFolder(dir, { steps: false });
}
const crash = (b: string): SyntheticCell => ({ id: `c-${b}`, verdict: 'product-crash', crash: { title: b, bucket: b, attribution: 'ours' } });

t.test('importing is idempotent; buckets are new, then known', async (t) => {
  const db = new HistoryStore(path.join(tmp(), 'h.sqlite'));
  t.teardown(() => db.close());
  const r1 = run('r1', '2026-11-01T00:00:00Z', [crash('A'), { verdict: 'pass', latency: { open: { p50Us: 10, p99Us: 20 } } }]);
  const first = db.importRun(r1);
  t.equal(first.added, true);
  t.same(first.buckets.map((b) => [b.bucket, b.status]), [['A', 'new']]);
  const again = db.importRun(r1);
  t.equal(again.added, false);
  t.equal((db.db.prepare('SELECT COUNT(*) n FROM cells').get() as { n: number }).n, 2, 'no duplicate cells');
  t.equal((db.db.prepare('SELECT COUNT(*) n FROM runs').get() as { n: number }).n, 1);
  t.equal((db.db.prepare('SELECT COUNT(*) n FROM latency').get() as { n: number }).n, 1);
  t.same(again.buckets.map((b) => b.status), ['new'], 'still new: no earlier run had it');
  const r2 = db.importRun(run('r2', '2026-11-02T00:00:00Z', [crash('A'), crash('B')]));
  t.same(r2.buckets.map((b) => [b.bucket, b.status]).sort(), [['A', 'known'], ['B', 'new']]);
  t.equal(r2.buckets.find((b) => b.bucket === 'A')!.firstRunId, 'r1');
  // An older run imported late makes B known for r2, and becomes B's first sighting.
  db.importRun(run('r0', '2026-10-01T00:00:00Z', [crash('B')]));
  t.same(db.bucketsOfRun('r2').map((b) => [b.bucket, b.status]).sort(), [['A', 'known'], ['B', 'known']]);
  t.equal(db.bucketsOfRun('r2').find((b) => b.bucket === 'B')!.firstRunId, 'r0');
  t.same(db.runs().map((r) => r.runId), ['r2', 'r1', 'r0']);
});

t.test('nightly view: the first patch level where a result changed, per release and coordinates', async (t) => {
  const db = new HistoryStore(':memory:');
  t.teardown(() => db.close());
  const cell = (release: string, ubr: number, verdict: SyntheticCell['verdict'], verifier = 'standard'): SyntheticCell => ({ release, build: 26100, ubr, verifier, verdict });
  db.importRun(run('n1', '2026-10-15T00:00:00Z', [cell('win11-24h2', 9, 'pass'), cell('win11-24h2', 9, 'pass', 'lowres'), cell('server-2022', 100, 'pass')]));
  db.importRun(run('n2', '2026-11-12T00:00:00Z', [cell('win11-24h2', 10, 'product-crash'), cell('win11-24h2', 10, 'pass', 'lowres'), cell('server-2022', 200, 'pass')]));
  db.importRun(run('n3', '2026-12-10T00:00:00Z', [cell('win11-24h2', 11, 'pass'), cell('win11-24h2', 11, 'product-hang', 'lowres'), cell('server-2022', 300, 'pass')]));
  const changes = db.nightly();
  t.same(
    changes.map((c) => [c.release, c.key.verifier, c.previousPatch, c.patch, c.previousVerdict, c.verdict]),
    [
      ['win11-24h2', 'standard', '26100.9', '26100.10', 'pass', 'product-crash'],
      ['win11-24h2', 'lowres', '26100.10', '26100.11', 'pass', 'product-hang'],
    ],
    '26100.10 sorts after 26100.9; only the first change per cell; server-2022 never changed',
  );
  t.ok(comparePatch('26100.10', '26100.9') > 0);
});

t.test('the CLI: history add twice, history --json, report adds to history', async (t) => {
  const dbFile = path.join(tmp(), 'cli.sqlite');
  const dir = tmp();
  cpSync(FIXTURE, dir, { recursive: true });
  const env = { FLEETGATE_HISTORY: dbFile };
  const a = runFleetgate(['history', 'add', dir], { env });
  t.equal(a.code, 0, a.stderr);
  t.match(a.stdout, /^added 20261127T104310Z-ca425d: 5 cell\(s\); new crash buckets: linux:BUG/);
  const b = runFleetgate(['report', dir, '--format', 'markdown'], { env });
  t.equal(b.code, 0, b.stderr);
  t.match(b.stdout, /history: updated run 20261127T104310Z-ca425d/);
  const h = runFleetgate(['history', '--json'], { env });
  const j = JSON.parse(h.stdout) as { runs: unknown[]; latestBuckets: Array<{ status: string }> };
  t.equal(j.runs.length, 1);
  t.same(j.latestBuckets.map((x) => x.status), ['new', 'new']);
});
