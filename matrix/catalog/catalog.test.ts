import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { DEFAULT_CATALOG, loadCatalog, servicingWarning } from './catalog.ts';
import { selectPatchLevels, parseLatest } from '../patch.ts';
import { runFleetgate } from '../../harness/cli/run-cli.test-helper.ts';

const cat = loadCatalog();

t.test('the catalog holds the releases of the reference table with their builds', async (t) => {
  const builds = Object.fromEntries(cat.releases.map((r) => [r.name, r.build]));
  t.match(builds, {
    'win10-22h2': 19045,
    'win11-23h2': 22631,
    'win11-24h2': 26100,
    'win11-25h2': 26200,
    'server-2019': 17763,
    'server-2022': 20348,
    'server-2025': 26100,
  });
  for (const r of cat.releases) {
    t.ok(r.updates.length > 0, `${r.name} has updates`);
    t.ok(r.endOfServicing.length > 0, `${r.name} has end-of-servicing dates`);
  }
});

t.test('known rows of the reference table are reproduced exactly', async (t) => {
  const at = (rel: string, month: string) => cat.byName.get(rel)!.updates.find((u) => u.month === month);
  t.same(at('win11-24h2', '2026-05'), { month: '2026-05', kb: 5089549, ubr: 8457 });
  t.same(at('win10-22h2', '2024-10'), { month: '2024-10', kb: 5044273, ubr: 5011 });
  t.same(at('server-2019', '2026-08'), { month: '2026-08', kb: 5120238, ubr: 9121 });
  t.equal(at('win11-24h2', '2026-08'), undefined, 'the unverified 24H2 2026-08 entry is left out');
});

t.test('Server 2025 follows 24H2 through 2025-12 and splits from 2026-01', async (t) => {
  const s = cat.byName.get('server-2025')!;
  const c = cat.byName.get('win11-24h2')!;
  const dec = (r: typeof s) => r.updates.find((u) => u.month === '2025-12')!;
  t.same(dec(s), dec(c), 'same KB and UBR in 2025-12');
  const jan = s.updates.find((u) => u.month === '2026-01')!;
  t.same(jan, { month: '2026-01', kb: 5073379, ubr: 32230 });
  t.not(jan.kb, c.updates.find((u) => u.month === '2026-01')!.kb);
  for (const u of s.updates.filter((u) => u.month >= '2026-01')) t.ok(u.ubr >= 32000, `${u.month} is on the 26100.32xxx line`);
});

t.test('end of servicing warnings', async (t) => {
  t.match(servicingWarning(cat.byName.get('win10-22h2')!, '2026-11-27'), /past its end of servicing.*ESU until 2028-10-10/);
  t.match(servicingWarning(cat.byName.get('win11-23h2')!, '2026-11-27'), /past its end of servicing \(Enterprise\/Education: 2026-11-10\)/);
  t.equal(servicingWarning(cat.byName.get('win11-23h2')!, '2026-11-01'), undefined, 'Enterprise still serviced before 2026-11-10');
  t.equal(servicingWarning(cat.byName.get('win11-24h2')!, '2026-11-27'), undefined, '24H2 Enterprise serviced until 2027');
  t.equal(servicingWarning(cat.byName.get('server-2022')!, '2026-11-27'), undefined);
});

t.test('patch selectors', async (t) => {
  const r = cat.byName.get('win11-24h2')!;
  t.same(selectPatchLevels(r, parseLatest('latest')).levels.map((l) => l.ubr), [8875]);
  t.same(selectPatchLevels(r, parseLatest('latest-2')).levels.map((l) => l.month), ['2026-05', '2026-06', '2026-07']);
  t.same(selectPatchLevels(r, { kind: 'since', month: '2026-06' }).levels.map((l) => l.kb), [5094126, 5101650]);
  t.same(selectPatchLevels(r, { kind: 'kb', kbs: [5089549] }).levels[0], { release: 'win11-24h2', build: 26100, ubr: 8457, kb: 5089549, month: '2026-05' });
  t.same(selectPatchLevels(r, { kind: 'ubr', levels: ['26100.8457'] }).levels[0]!.kb, 5089549);
  t.throws(() => selectPatchLevels(r, { kind: 'kb', kbs: [5120249] }), /KB5120249 is not in the catalog for win11-24h2/);
  t.throws(() => selectPatchLevels(r, { kind: 'ubr', levels: ['22631.8457'] }), /not a patch level of win11-24h2, whose build is 26100/);
  t.throws(() => selectPatchLevels(r, { kind: 'since', month: '2030-01' }), /no update of win11-24h2 since 2030-01/);
  const many = selectPatchLevels(r, parseLatest('latest-99'));
  t.equal(many.levels.length, r.updates.length);
  t.match(many.warnings[0], /asks for 100 patch levels/);
});

t.test('fleetgate catalog lists releases and patch levels', async (t) => {
  const human = runFleetgate(['catalog']);
  t.equal(human.code, 0, human.stderr);
  t.match(human.stdout, /server-2025\s+Windows Server 2025\s+build 26100/);
  const json = runFleetgate(['catalog', '--json']);
  t.equal(json.code, 0, json.stderr);
  const doc = JSON.parse(json.stdout);
  const s25 = doc.releases.find((r: { name: string }) => r.name === 'server-2025');
  t.equal(s25.latest.kb, 5120233);
  t.ok(s25.patchLevels.some((p: { patchLevel: string }) => p.patchLevel === '26100.32230'));
  const bad = runFleetgate(['catalog', '--release', 'win12']);
  t.equal(bad.code, 64);
  t.match(bad.stderr, /--release win12: not in the catalog/);
});

// ---- issue #16 row 7: the catalog data cannot hold one KB or one build.UBR for two months, nor
// months outside a release's life

function catalogWith(edit: (data: { releases: Array<Record<string, unknown> & { updates: Array<Record<string, unknown>> }> }) => void): string {
  const data = JSON.parse(readFileSync(DEFAULT_CATALOG, 'utf8'));
  edit(data);
  const file = join(mkdtempSync(join(tmpdir(), 'fg-catalog-')), 'windows.json');
  writeFileSync(file, JSON.stringify(data, null, 2));
  return file;
}

t.test('row 7 (#16): every release has a general availability date, and its updates lie within its life', async (t) => {
  for (const r of cat.releases) {
    t.match(r.generalAvailability, /^\d{4}-\d{2}-\d{2}$/, `${r.name} GA ${r.generalAvailability}`);
    t.ok(r.updates[0]!.month >= r.generalAvailability.slice(0, 7) || r.name === 'server-2025', `${r.name}: first update ${r.updates[0]!.month}`);
  }
});

t.test('row 7 (#16): loadCatalog refuses a KB or a build.UBR recorded for two months of a release', async (t) => {
  const kb = catalogWith((d) => {
    const r = d.releases.find((x) => x.name === 'server-2022')!;
    r.updates[3]!.kb = r.updates[2]!.kb;
  });
  t.throws(() => loadCatalog(kb), /windows\.json:\d+:\d+: server-2022 KB5048654 for 2025-01 is in the catalog for 2024-12 already/);
  const ubr = catalogWith((d) => {
    const r = d.releases.find((x) => x.name === 'server-2022')!;
    r.updates[3]!.ubr = r.updates[2]!.ubr;
  });
  t.throws(() => loadCatalog(ubr), /server-2022 20348\.2966 \(KB\d+\) for 2025-01 is in the catalog for 2024-12 already/);
  const early = catalogWith((d) => {
    d.releases.find((x) => x.name === 'win11-25h2')!.updates.unshift({ month: '2024-01', kb: 5999999, ubr: 1 });
  });
  t.throws(() => loadCatalog(early), /win11-25h2 KB5999999 for 2024-01 is before the release's general availability \(2025-09-30\)/);
  const sibling = catalogWith(() => {});
  t.ok(loadCatalog(sibling).byName.get('win11-25h2'), 'the shipped catalog, with KBs shared by 22H2/23H2 and 24H2/25H2 in one month, loads');
});
