import t from 'tap';
import fc from 'fast-check';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { planMatrix, selectShard, parseShard } from './index.ts';
import { MATRIX_MAX_CELLS } from './expand.ts';
import { InputError } from '../lib/errors.ts';
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

// ---- issue #16 row 3: the cross product is counted before any cell is made

const RELEASES8 = ['win10-22h2', 'win11-22h2', 'win11-23h2', 'win11-24h2', 'win11-25h2', 'server-2019', 'server-2022', 'server-2025'];
/** A generated matrix of os 8 x driver d x verifier v x workloads w x repeat r cells (duplicates allowed where the schema allows them). */
function bigMatrix(d: number, v: number, w: number, r: number): string {
  return matrix(`axes:
  os: [${RELEASES8.join(', ')}]
  driver: [${Array.from({ length: d }, (_, i) => `{ name: d${i}, path: pkg }`).join(', ')}]
  verifier: [${Array.from({ length: v }, () => 'none').join(', ')}]
  workloads: [${Array.from({ length: w }, () => '[file-storm]').join(', ')}]
  repeat: ${r}
`);
}

t.test('row 3 (#16): a matrix past MATRIX_MAX_CELLS is refused by count, naming the axes that multiply to it', async (t) => {
  const file = bigMatrix(40, 12, 20, 5);
  const err = t.throws(() => planMatrix(file, { today: TODAY })) as Error;
  t.match(err, InputError);
  t.match(err.message, file);
  t.match(err.message, 'os 8 x driver 40 x verifier 12 x workloads 20 x coexist 1 x repeat 5 = 384,000 cells');
  t.match(err.message, `more than MATRIX_MAX_CELLS (${MATRIX_MAX_CELLS.toLocaleString('en-US')}); pass --max-cells N to raise it`);
});

t.test('row 3 (#16): the 76.8M-cell matrix fails fast, before any cell is made', async (t) => {
  const file = bigMatrix(40, 12, 20, 1000);
  const t0 = performance.now();
  const heap0 = process.memoryUsage().heapUsed;
  const err = t.throws(() => planMatrix(file, { today: TODAY })) as Error;
  const ms = performance.now() - t0;
  t.match(err.message, 'os 8 x driver 40 x verifier 12 x workloads 20 x coexist 1 x repeat 1,000 = 76,800,000 cells');
  t.ok(ms < 1000, `refused in ${ms.toFixed(0)} ms`);
  t.ok(process.memoryUsage().heapUsed - heap0 < 64 * 1024 * 1024, 'the heap did not grow by the cells');
});

t.test('row 3 (#16): include entries count too, and maxCells / --max-cells raise or lower the limit', async (t) => {
  const inc = matrix(`axes:
  os: [win11-24h2]
  driver: [{ name: d, path: pkg }]
include:
  - { os: [${RELEASES8.join(', ')}], verifier: [none, standard], repeat: 1 }
`.replace(', repeat: 1', ''));
  const e = t.throws(() => planMatrix(inc, { today: TODAY, maxCells: 10 })) as Error;
  t.match(e.message, 'os 1 x driver 1 x verifier 1 x workloads 1 x coexist 1 x repeat 1 = 1 cell');
  t.match(e.message, 'include[0] os 8 x driver 1 x verifier 2 x workloads 1 x coexist 1 x repeat 1 = 16');
  t.match(e.message, '17 cells at most (before exclude rules and duplicates); more than the --max-cells limit (10)');
  t.equal(planMatrix(inc, { today: TODAY, maxCells: 17 }).cells.length, 16, 'at the limit it plans (the include repeats one cell)');
  const file = bigMatrix(3, 5, 10, 10); // 12,000 cells
  const refused = runFleetgate(['plan', file, '--json']);
  t.equal(refused.code, 64, refused.stderr);
  t.match(refused.stderr, '= 12,000 cells; more than MATRIX_MAX_CELLS (10,000); pass --max-cells N to raise it');
  // (a raised limit shown on a small matrix: 12,000 cells of JSON would be more than the helper reads)
  const lowered = runFleetgate(['plan', inc, '--json', '--max-cells', '16']);
  t.equal(lowered.code, 64, lowered.stderr);
  t.match(lowered.stderr, '17 cells at most (before exclude rules and duplicates); more than the --max-cells limit (16)');
  const raised = runFleetgate(['plan', inc, '--json', '--max-cells', '17']);
  t.equal(raised.code, 0, raised.stderr);
  t.equal(JSON.parse(raised.stdout).total, 16);
  const bad = runFleetgate(['plan', file, '--max-cells', 'lots']);
  t.equal(bad.code, 64);
  t.match(bad.stderr, /--max-cells/);
});

t.test('row 12 (#16): 20k include entries that tag one cell take linear work', async (t) => {
  // The tags an include adds to a cell already there were merged by copying the cell's whole list
  // each time: 20k includes, 200M copies (23 s). Counted here as elements put into Sets, which the
  // merge goes through, so the count is exact and does not depend on the machine's load.
  const includes = (n: number) => matrix(`axes:\n  os: [server-2022]\n  driver: [{ name: d, path: pkg }]\ninclude:\n${Array.from({ length: n }, (_, i) => `  - { os: server-2022, tags: [t${i}] }\n`).join('')}`);
  const Original = globalThis.Set;
  let added = 0;
  class CountingSet<T> extends Original<T> {
    constructor(items?: Iterable<T> | null) {
      super();
      if (items) for (const x of items) this.add(x);
    }
    override add(x: T): this {
      added++;
      return super.add(x);
    }
  }
  const work = (file: string): { n: number; tags: number } => {
    added = 0;
    globalThis.Set = CountingSet as SetConstructor;
    try {
      const plan = planMatrix(file, { today: TODAY, maxCells: 1_000_000 });
      return { n: added, tags: plan.cells[0]!.tags.length };
    } finally {
      globalThis.Set = Original;
    }
  };
  const small = work(includes(2_000));
  const big = work(includes(20_000));
  t.equal(big.tags, 20_000, 'the one cell has every include\'s tag');
  t.ok(big.n <= 15 * small.n, `10x the includes, ${(big.n / small.n).toFixed(1)}x the work (${small.n} -> ${big.n})`);
});

t.test('filterDelays: the WPA profile resolved beside the matrix and given to Windows cells, never to the id; a missing profile is an error at its place; a lab-only matrix is warned', async (t) => {
  writeFileSync(join(dir, 'minifilter.wpaProfile'), '<WpaProfileContainer/>\n');
  const axes = 'axes:\n  os: [{ release: win11-24h2, patch: { kb: 5089549 } }]\n  driver: [{ name: cand, path: pkg }]\n  verifier: [standard]\n';
  const plain = planMatrix(matrix(axes), { today: TODAY });
  const p = planMatrix(matrix(`filterDelays: { wpaProfile: minifilter.wpaProfile, exporter: 'C:\\WPT\\wpaexporter.exe' }\n${axes}`), { today: TODAY });
  t.same(p.cells[0]!.filterDelays, { wpaProfile: join(dir, 'minifilter.wpaProfile'), exporter: 'C:\\WPT\\wpaexporter.exe' });
  t.equal(p.cells[0]!.id, plain.cells[0]!.id, 'the id does not change: the recording adds a run, it changes no measured one');
  t.equal(plain.cells[0]!.filterDelays, undefined);
  const missing = matrix(`filterDelays:\n  wpaProfile: nope.wpaProfile\n${axes}`);
  const err = t.throws(() => planMatrix(missing, { today: TODAY })) as Error;
  t.type(err, InputError);
  t.match(err.message, /m\d+\.yaml:2:15: no WPA profile at nope\.wpaProfile .*expected the \.wpaProfile that exports WPA's Mini-Filter Delays table/);
  const badExporter = t.throws(() => planMatrix(matrix(`filterDelays: { wpaProfile: minifilter.wpaProfile, exporter: /usr/bin/wpaexporter }\n${axes}`), { today: TODAY })) as Error;
  t.match(badExporter.message, /filterDelays\.exporter/);
  const lab = planMatrix(matrix('filterDelays: { wpaProfile: minifilter.wpaProfile }\naxes:\n  os: [lab]\n  driver: [{ name: cand, path: pkg }]\n'), { today: TODAY });
  t.equal(lab.cells[0]!.filterDelays, undefined);
  t.match(lab.warnings.map((w) => w.message), [/filterDelays applies to Windows cells and the matrix has none/]);
});
