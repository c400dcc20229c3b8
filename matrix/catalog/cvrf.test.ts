import t from 'tap';
import { copyFileSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CATALOG, loadCatalog } from './catalog.ts';
import { performance } from 'node:perf_hooks';
import { CVRF_MAX_CHARS, cvrfMonth, mergeImport, parseCvrf, readCvrf, readCvrfFile } from './cvrf.ts';
import { InputError } from '../../lib/errors.ts';
import { selectPatchLevels } from '../patch.ts';
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

// ---- issue #16 row 7: the catalog refuses entries that contradict it; large documents are plain JSON

const sepText = readFileSync(doc, 'utf8');
/** The September document with `from` replaced by `to` everywhere, read as plain JSON. */
const edited = (from: string, to: string, file = 'edited.json') => parseCvrf(file, sepText.split(from).join(to));

t.test('row 7 (#16): a KB the catalog has for another month is refused, and nothing is added', async (t) => {
  const cat = loadCatalog();
  const before = JSON.stringify(cat.releases);
  // 5101650 is 24H2's (and 25H2's) 2026-07 update.
  const imp = readCvrf(edited('"5130001"', '"5101650"', 'reused-kb.json'), cat);
  const err = t.throws(() => mergeImport(cat, imp)) as Error;
  t.ok(err instanceof InputError);
  t.match(err.message, /^reused-kb\.json:\d+:\d+: win11-24h2 KB5101650 for 2026-09 is in the catalog for 2026-07 already/);
  t.equal(JSON.stringify(cat.releases), before, 'the catalog is left as it was: no release got the document\'s months');
  t.equal(selectPatchLevels(cat.byName.get('win11-24h2')!, { kind: 'kb', kbs: [5101650] }).levels.length, 1, '{ kb } still picks one entry');
});

t.test('row 7 (#16): a build.UBR the catalog has for another month is refused', async (t) => {
  const cat = loadCatalog();
  // 20348.5499 is Server 2022's 2026-08 level.
  const imp = readCvrf(edited('10.0.20348.5612', '10.0.20348.5499', 'reused-ubr.json'), cat);
  t.throws(() => mergeImport(cat, imp), /^reused-ubr\.json:\d+:\d+: server-2022 20348\.5499 \(KB5130003\) for 2026-09 is in the catalog for 2026-08 already/);
});

t.test('row 7 (#16): a month before general availability or after the last servicing date (ESU included) is refused', async (t) => {
  const cat = loadCatalog();
  const old = readCvrf(edited('2026-Sep', '1999-Sep', 'y1999.json'), cat);
  t.equal(old.month, '1999-09');
  t.throws(() => mergeImport(cat, old), /^y1999\.json:\d+:\d+: server-2019 KB5130004 for 1999-09 is before the release's general availability \(2018-11-13\)/);
  const ended = loadCatalog();
  ended.byName.get('server-2019')!.endOfServicing = [{ edition: 'all', date: '2026-08-11' }];
  t.throws(() => mergeImport(ended, readCvrf(parseCvrf(doc, sepText), ended)), /server-2019 KB5130004 for 2026-09 is after the release's last servicing date \(all: 2026-08-11\)/);
  // Windows 10 22H2's mainstream servicing ended 2025-10-14; ESU runs to 2028-10-10, so 2026-09 is legal.
  const res = mergeImport(cat, readCvrf(parseCvrf(doc, sepText), cat));
  t.ok(res.added.some((u) => u.release === 'win10-22h2'), 'win10-22h2 2026-09 is added (under ESU)');
  t.ok(res.added.some((u) => u.release === 'win11-24h2') && res.added.some((u) => u.release === 'win11-25h2'), 'one KB for the siblings 24H2 and 25H2 stays legal');
  const future = readCvrf(edited('2026-Sep', '2035-Sep', 'y2035.json'), loadCatalog());
  t.throws(() => mergeImport(loadCatalog(), future), /after the release's last servicing date/);
});

t.test('row 7 (#16): large documents are read as plain JSON, bounded by CVRF_MAX_CHARS', async (t) => {
  // 18 MB: the September document with its vulnerabilities repeated (the same remediations again,
  // as a real document has one KB fixing many CVEs).
  const json = JSON.parse(sepText) as { Vulnerability: unknown[] };
  const unit = JSON.stringify(json.Vulnerability);
  const copies = Math.ceil((18 * 1024 * 1024) / unit.length);
  json.Vulnerability = Array.from({ length: copies }, () => json.Vulnerability).flat();
  const big = JSON.stringify(json, null, 1);
  t.ok(big.length > 18 * 1024 * 1024, `${(big.length / 1024 / 1024).toFixed(1)} MB`);
  const t0 = performance.now();
  const imp = readCvrf(parseCvrf('big.json', big), loadCatalog());
  const ms = performance.now() - t0;
  t.equal(imp.updates.length, 6, 'the same six cumulative updates');
  t.ok(ms < 10_000, `read in ${ms.toFixed(0)} ms (read with source positions, 18 MB took 1.56 GB)`);
  // A mistake deep in a large document still names its place: by JSON path, and by line for a syntax error.
  const badId = big.replace('"Value": "2026-Sep"', '"Value": "September"');
  t.throws(() => readCvrf(parseCvrf('big.json', badId), loadCatalog()), /^big\.json: DocumentTracking\.Identification\.ID\.Value: document id "September" is not a Patch Tuesday id/);
  const cut = `${big.slice(0, big.length - 1000)}`;
  t.throws(() => parseCvrf('cut.json', cut), /^cut\.json:\d+:\d+: JSON syntax error/);
  const lines = big.slice(0, 5000).split('\n').length;
  t.throws(() => parseCvrf('x.json', `${big.slice(0, 5000)}\n  ]] nonsense`), new RegExp(`^x\\.json:${lines + 1}:3: JSON syntax error`));
  // Past the bound: refused, saying so (a CVRF document cannot be read in part).
  const huge = ' '.repeat(CVRF_MAX_CHARS + 1);
  t.throws(() => parseCvrf('huge.json', huge), new RegExp(`^huge\\.json: the document is ${(CVRF_MAX_CHARS + 1).toLocaleString('en-US')} characters, more than CVRF_MAX_CHARS \\(${CVRF_MAX_CHARS.toLocaleString('en-US')}\\)`));
  const dir = mkdtempSync(join(tmpdir(), 'fg-cvrf-'));
  writeFileSync(join(dir, 'huge.json'), huge);
  t.throws(() => readCvrfFile(join(dir, 'huge.json')), /more than CVRF_MAX_CHARS/);
});

t.test('row 7 (#16): fleetgate catalog import refuses such a document with exit 64 and writes nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-cat-'));
  const catFile = join(dir, 'windows.json');
  copyFileSync(DEFAULT_CATALOG, catFile);
  const bad = join(dir, 'cvrf-1999-Sep.json');
  writeFileSync(bad, sepText.split('2026-Sep').join('1999-Sep'));
  const r = runFleetgate(['catalog', 'import', bad], { env: { FLEETGATE_CATALOG: catFile } });
  t.equal(r.code, 64, r.stderr);
  t.match(r.stderr, `${bad}:`);
  t.match(r.stderr, /for 1999-09 is before the release's general availability .*; the document is not imported/);
  t.equal(readFileSync(catFile, 'utf8'), readFileSync(DEFAULT_CATALOG, 'utf8'), 'the catalog file is unchanged');
});
