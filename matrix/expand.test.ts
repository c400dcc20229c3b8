import t from 'tap';
import fc from 'fast-check';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { planMatrix, selectShard, parseShard } from './index.ts';
import { runFleetgate } from '../harness/cli/run-cli.test-helper.ts';

const TODAY = '2026-11-27';
const dir = mkdtempSync(join(tmpdir(), 'fg-matrix-'));
mkdirSync(join(dir, 'pkg'));
let n = 0;
function matrix(text: string): string {
  const file = join(dir, `m${++n}.yaml`);
  writeFileSync(file, text);
  return file;
}

t.test('release-gate.yaml: at least 24 cells over 6 releases at 2 patch levels, KB and UBR from the catalog', async (t) => {
  const r = runFleetgate(['plan', 'matrix/release-gate.yaml', '--json']);
  t.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  t.ok(doc.count >= 24, `${doc.count} cells`);
  t.equal(doc.count, doc.cells.length);
  const levels = new Map<string, Set<string>>();
  for (const c of doc.cells) {
    t.match(c, { id: /^[0-9a-f]{12}$/, os: { release: String, build: Number, ubr: Number, kb: Number, month: /^\d{4}-\d{2}$/ }, driver: String, verifier: String, workloads: Array, coexist: Array, repeat: Number });
    if (!levels.has(c.os.release)) levels.set(c.os.release, new Set());
    levels.get(c.os.release)!.add(`${c.os.build}.${c.os.ubr}`);
  }
  t.ok(levels.size >= 6, `${levels.size} releases`);
  for (const [rel, l] of levels) t.ok(l.size >= 2, `${rel} at ${[...l].join(', ')}`);
  const s25 = doc.cells.find((c: { os: { release: string; month: string } }) => c.os.release === 'server-2025' && c.os.month === '2026-08');
  t.match(s25.os, { build: 26100, ubr: 33296, kb: 5120233 });
  t.ok(new Set(doc.cells.map((c: { id: string }) => c.id)).size === doc.count, 'ids are unique');
});

t.test('every example matrix plans', async (t) => {
  for (const f of ['release-gate', 'nightly', 'vendor-signoff', 'lab']) {
    const plan = planMatrix(`matrix/${f}.yaml`, { today: TODAY });
    t.ok(plan.cells.length > 0, `${f}: ${plan.cells.length} cells`);
  }
  const vendor = planMatrix('matrix/vendor-signoff.yaml', { today: TODAY });
  t.ok(vendor.cells.some((c) => c.coexist.includes('partner-av')), 'vendor sign-off has cells beside the partner filter');
  t.ok(vendor.cells.some((c) => c.coexist.length === 0), 'and cells alone');
  const lab = planMatrix('matrix/lab.yaml', { today: TODAY });
  t.match(lab.cells[0]!.os, { release: 'lab', family: 'lab', build: null, ubr: null });
  const faulty = lab.cells.filter((c) => c.faults.length > 0);
  t.equal(faulty.length, 1, 'one lab cell gets the injected infrastructure fault');
  t.same(faulty[0]!.faults, [{ kind: 'kill-vm', at: 'workload', attempts: [1] }]);
  t.same(faulty[0]!.coexist, []);
  t.same(lab.cells.find((c) => c.driver === 'fgfilter-slow')!.driverBuild.params, { delay_us: 2000 });
  t.ok(lab.cells.some((c) => c.coexist.includes('partnerflt')), 'a coexistence cell');
  t.match(lab.gate, /reports\/policies\/lab\.yaml$/, '`fleetgate gate RUN` judges the lab demo by the lab policy');
  t.same(lab.warnings, [], 'and that policy exists');
});

t.test('cell ids are stable: same coordinates, same id, whatever the file, order or path', async (t) => {
  const a = planMatrix(matrix(`name: a\naxes:\n  os: [{ release: win11-24h2, patch: { kb: 5089549 } }, server-2022]\n  driver: [{ name: cand, path: pkg }]\n  verifier: [standard, lowres]\n`), { today: TODAY });
  const b = planMatrix(matrix(`name: b\ndescription: other words\naxes:\n  verifier: [lowres, standard]\n  driver: [{ name: cand, path: ./pkg/ }]\n  os: [server-2022, { release: win11-24h2, patch: { ubr: "26100.8457" } }]\n`), { today: TODAY });
  t.same(new Set(a.cells.map((c) => c.id)), new Set(b.cells.map((c) => c.id)));
  const c = planMatrix(matrix(`axes:\n  os: [{ release: win11-24h2, patch: { kb: 5089549 } }]\n  driver: [{ name: cand, path: pkg }]\n  verifier: [standard]\n  repeat: 2\n`), { today: TODAY });
  t.equal(c.cells.length, 2);
  t.ok(a.cells.some((x) => x.id === c.cells[0]!.id), 'repeat 1 of a repeated cell keeps the id of the unrepeated cell');
  t.not(c.cells[0]!.id, c.cells[1]!.id, 'repeats are distinct cells');
  // Pinned: the id of one well-known cell must never change without a deliberate migration.
  t.equal(a.cells.find((x) => x.os.kb === 5089549 && x.verifier === 'standard')!.id, c.cells[0]!.id);
});

t.test('patch selectors in a matrix: latest-N, since, kb, ubr, month', async (t) => {
  const p = planMatrix(matrix(`axes:
  os:
    - { release: win11-24h2, patch: latest-2 }
    - { release: server-2025, patch: { since: 2026-07 } }
    - { release: server-2022, patch: { kb: [5087545, 5094128] } }
    - { release: server-2019, patch: { ubr: 17763.8880 } }
    - { release: win10-22h2, patch: { month: 2025-01 } }
  driver: [{ name: d, path: pkg }]
`), { today: TODAY });
  const got = p.cells.map((c) => `${c.os.release} ${c.os.patchLevel}`);
  t.same(got, [
    'win11-24h2 26100.8457', 'win11-24h2 26100.8655', 'win11-24h2 26100.8875',
    'server-2025 26100.33158', 'server-2025 26100.33296',
    'server-2022 20348.5139', 'server-2022 20348.5256',
    'server-2019 17763.8880',
    'win10-22h2 19045.5371',
  ]);
  t.match(p.warnings.map((w) => w.message).join('\n'), /win10-22h2 .* past its end of servicing/);
});

t.test('include and exclude', async (t) => {
  const p = planMatrix(matrix(`tags: [base]
filters:
  partner: { path: pkg }
axes:
  os: [win11-24h2, server-2022]
  driver: [{ name: new, path: pkg, upgrade-from: old }, { name: old, path: pkg }]
  verifier: [standard, lowres]
  coexist: [[], [partner]]
exclude:
  - { os: server-2022, verifier: lowres }
  - { driver: old, coexist: [partner] }
include:
  - { os: { release: win11-24h2, patch: latest-1 }, driver: new, verifier: full, coexist: [], tags: [deep] }
`), { today: TODAY });
  t.notOk(p.cells.some((c) => c.os.release === 'server-2022' && c.verifier === 'lowres'));
  t.notOk(p.cells.some((c) => c.driver === 'old' && c.coexist.length === 1));
  t.ok(p.cells.some((c) => c.driver === 'old' && c.coexist.length === 0));
  const full = p.cells.filter((c) => c.verifier === 'full');
  t.equal(full.length, 2, 'include adds the two 24H2 patch levels with the full profile');
  t.same(full[0]!.tags, ['base', 'deep']);
  t.same(full[0]!.driverBuild.upgradeFrom?.name, 'old');
  // 2 os x 2 drivers x 2 verifiers x 2 coexist = 16; minus server-2022 lowres (4) minus old+partner (3 left after the first rule) = 9; plus 2
  t.equal(p.cells.length, 16 - 4 - 3 + 2);
});

t.test('warnings: an exclude that matches nothing, a duplicated level, a missing driver folder', async (t) => {
  const p = planMatrix(matrix(`axes:
  os: [win11-24h2, { release: win11-24h2, patch: latest }]
  driver: [{ name: d, path: nowhere }]
exclude:
  - { verifier: lowres }
`), { today: TODAY });
  const text = p.warnings.map((w) => `${w.place.line}: ${w.message}`).join('\n');
  t.match(text, /2: win11-24h2 26100.8875 is selected twice/);
  t.match(text, /3: driver package folder nowhere does not exist/);
  t.match(text, /5: exclude\[0\] matches no cell/);
});

t.test('shards split every cell into exactly one shard', async (t) => {
  const p = planMatrix('matrix/release-gate.yaml', { today: TODAY });
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 12 }), (total) => {
      const seen = new Map<string, number>();
      const sizes: number[] = [];
      for (let i = 1; i <= total; i++) {
        const s = selectShard(p.cells, { index: i, total });
        sizes.push(s.length);
        for (const c of s) seen.set(c.id, (seen.get(c.id) ?? 0) + 1);
      }
      return seen.size === p.cells.length && [...seen.values()].every((v) => v === 1) && Math.max(...sizes) - Math.min(...sizes) <= 1;
    }),
  );
  t.same(selectShard(p.cells, parseShard('2/3')).map((c) => c.id), selectShard([...p.cells].reverse(), parseShard('2/3')).map((c) => c.id).reverse(), 'membership does not depend on plan order');
  const one = runFleetgate(['plan', 'matrix/release-gate.yaml', '--shard', '1/2', '--json']);
  const two = runFleetgate(['plan', 'matrix/release-gate.yaml', '--shard', '2/2', '--json']);
  const ids = [...JSON.parse(one.stdout).cells, ...JSON.parse(two.stdout).cells].map((c: { id: string }) => c.id);
  t.equal(ids.length, p.cells.length);
  t.equal(new Set(ids).size, p.cells.length);
});
