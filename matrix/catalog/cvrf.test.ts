import t from 'tap';
import { copyFileSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CATALOG, loadCatalog } from './catalog.ts';
import { cvrfMonth, mergeImport, readCvrf } from './cvrf.ts';
import { parseSource, readSource } from '../../lib/source-doc.ts';
import { runFleetgate } from '../../harness/cli/run-cli.test-helper.ts';

const doc = fileURLToPath(new URL('./testdata/cvrf-2026-Sep.json', import.meta.url));

t.test('month ids', async (t) => {
  t.equal(cvrfMonth('2026-Sep'), '2026-09');
  t.equal(cvrfMonth('2026-jan'), '2026-01');
  t.equal(cvrfMonth('2026-09'), undefined);
});

t.test('a CVRF document maps remediations to catalog releases', async (t) => {
  const imp = readCvrf(readSource(doc), loadCatalog());
  t.equal(imp.month, '2026-09');
  const by = Object.fromEntries(imp.updates.map((u) => [u.release, [u.kb, u.ubr]]));
  t.same(by, {
    'server-2019': [5130004, 9230],
    'server-2022': [5130003, 5612],
    'server-2025': [5130002, 33410],
    'win10-22h2': [5130005, 7780],
    'win11-24h2': [5130001, 9010],
    'win11-25h2': [5130001, 9010],
  }, 'client 26100 and Server 2025 26100 are told apart by product name; ARM64 and 1809 are not catalog releases');
  t.ok(imp.unmatched.includes('Windows 10 Version 1809 for x64-based Systems'));
  t.ok(imp.unmatched.some((n) => n.includes('23H2 Edition')));
});

t.test('merge adds new months, keeps identical ones and never overwrites a conflicting one', async (t) => {
  const cat = loadCatalog();
  const imp = readCvrf(readSource(doc), cat);
  const first = mergeImport(cat, imp);
  t.equal(first.added.length, 6);
  t.equal(cat.byName.get('server-2025')!.updates.at(-1)!.month, '2026-09');
  const again = mergeImport(cat, imp);
  t.equal(again.added.length, 0);
  t.equal(again.unchanged.length, 6);
  cat.byName.get('server-2022')!.updates.at(-1)!.kb = 1;
  const conflict = mergeImport(cat, imp);
  t.equal(conflict.conflicts.length, 1);
  t.equal(conflict.conflicts[0]!.update.release, 'server-2022');
});

t.test('a document that is not a Patch Tuesday document names the place', async (t) => {
  const bad = readFileSync(doc, 'utf8').replace('"ID": { "Value": "2026-Sep" }', '"ID": { "Value": "September" }');
  t.throws(() => readCvrf(parseSource('bad.json', bad), loadCatalog()), /bad\.json:6:\d+: document id "September" is not a Patch Tuesday id/);
  const noTracking = parseSource('empty.json', '{ "ProductTree": {} }');
  t.throws(() => readCvrf(noTracking, loadCatalog()), /empty\.json:1:1: .*missing "DocumentTracking"/);
});

t.test('fleetgate catalog import writes the catalog, and a plan can then select the new month', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-cat-'));
  const catFile = join(dir, 'windows.json');
  copyFileSync(DEFAULT_CATALOG, catFile);
  const env = { FLEETGATE_CATALOG: catFile };
  const dry = runFleetgate(['catalog', 'import', doc, '--dry-run'], { env });
  t.equal(dry.code, 0, dry.stderr);
  t.match(dry.stdout, /would add\s+server-2025\s+KB5130002\s+33410/);
  t.equal(readFileSync(catFile, 'utf8'), readFileSync(DEFAULT_CATALOG, 'utf8'), 'dry run writes nothing');
  const real = runFleetgate(['catalog', 'import', doc, '--json'], { env });
  t.equal(real.code, 0, real.stderr);
  t.equal(JSON.parse(real.stdout).added.length, 6);
  t.equal(loadCatalog(catFile).byName.get('win11-24h2')!.updates.at(-1)!.kb, 5130001);
  const matrix = join(dir, 'm.yaml');
  writeFileSync(matrix, 'axes:\n  os: [{ release: server-2025, patch: { kb: 5130002 } }]\n  driver: [{ name: d, path: . }]\n');
  const plan = runFleetgate(['plan', matrix, '--json'], { env });
  t.equal(plan.code, 0, plan.stderr);
  t.match(JSON.parse(plan.stdout).cells[0].os, { release: 'server-2025', build: 26100, ubr: 33410, kb: 5130002, month: '2026-09' });
  const twice = runFleetgate(['catalog', 'import', doc], { env });
  t.equal(twice.code, 0);
  t.match(twice.stdout, /already\s+server-2025/);
});
