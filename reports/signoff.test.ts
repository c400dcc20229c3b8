import t from 'tap';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runFleetgate } from '../harness/cli/run-cli.test-helper.ts';
import { readRunFolder } from './run-folder.ts';
import { CHROMIUM, driversOfRun, hashDriverFolder, signoffHtml } from './signoff.ts';

const FIXTURE = fileURLToPath(new URL('./testdata/demo1', import.meta.url));
const LAB_DRIVER = fileURLToPath(new URL('../driver/lab', import.meta.url));

/** The fixture with its driver paths pointed at this checkout's driver/lab (run.json records absolute paths). */
function fixture(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-signoff-'));
  cpSync(FIXTURE, dir, { recursive: true });
  const f = path.join(dir, 'summary.json');
  writeFileSync(f, readFileSync(f, 'utf8').replaceAll('/work/main/driver/lab', LAB_DRIVER));
  return dir;
}

t.test('driver hashes: the lab folder has no INF, so its files are hashed directly', async (t) => {
  const d = hashDriverFolder('fgfilter', LAB_DRIVER);
  t.equal(d.source, 'files');
  t.ok(d.files.length > 0);
  t.match(d.files[0]!.sha256, /^[0-9a-f]{64}$/);
  t.equal(hashDriverFolder('x', '/nonexistent/driver').source, 'missing');
  const drivers = driversOfRun(readRunFolder(fixture(), { steps: false }));
  t.equal(drivers.length, 1, 'five driver builds share one folder: hashed once');
  t.match(drivers[0]!.name, /fgfilter, .*fgfilter-oops/);
});

t.test('the page escapes the vendor and guest text', async (t) => {
  const html = signoffHtml(readRunFolder(fixture(), { steps: false }), { vendor: 'Acme <b>Filters</b>', generatedAt: new Date('2026-11-27T00:00:00Z') });
  t.match(html, 'Acme &lt;b&gt;Filters&lt;/b&gt;');
  t.notMatch(html, '<b>Filters');
  t.match(html, '2026-11-27T00:00:00.000Z');
});

t.test('fleetgate signoff writes a PDF with the vendor name', { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}` }, async (t) => {
  const dir = fixture();
  const out = path.join(dir, 'out', 'acme.pdf');
  mkdirSync(path.dirname(out), { recursive: true });
  const r = runFleetgate(['signoff', dir, '--vendor', 'Acme Filters GmbH', '--out', out]);
  t.equal(r.code, 0, r.stderr);
  t.ok(existsSync(out));
  t.equal(readFileSync(out).subarray(0, 4).toString('latin1'), '%PDF');
  const text = spawnSync('pdftotext', [out, '-'], { encoding: 'utf8' });
  if (text.error) {
    t.comment('pdftotext not installed (poppler-utils): the text of the PDF is not checked');
  } else {
    t.match(text.stdout, 'Acme Filters GmbH');
    t.match(text.stdout, 'fgfilter-oops');
    t.match(text.stdout, 'product-crash');
  }
  t.equal(runFleetgate(['signoff', dir]).code, 64, '--vendor is required');
});

t.test('the sign-off names what the run installed, by hash, apart from the folders as they are now', async (t) => {
  const dir = fixture();
  const f = path.join(dir, 'summary.json');
  const s = JSON.parse(readFileSync(f, 'utf8')) as { cells: Array<Record<string, unknown>> };
  const sha = 'ab'.repeat(32);
  s.cells[0]!.installed = [
    { role: 'coexist', name: 'partnerflt', package: 'partnerflt', sha256: 'cd'.repeat(32) },
    { role: 'ours', name: 'fgfilter', package: LAB_DRIVER, sha256: sha },
  ];
  s.cells[1]!.installed = [{ role: 'ours', name: 'fgfilter', package: LAB_DRIVER, sha256: sha }];
  writeFileSync(f, JSON.stringify(s));
  const run = readRunFolder(dir, { steps: false });
  const html = signoffHtml(run, { vendor: 'Acme', generatedAt: new Date('2026-11-27T00:00:00Z') });
  t.match(html, /Installed in the run[\s\S]*<td class="mono">abababab[0-9a-f]{56}<\/td>[\s\S]*Driver package folders as they are now/);
  t.match(html, new RegExp(`<td class="mono">${run.cells[0]!.id}, ${run.cells[1]!.id}</td>`), 'one row for the two cells that installed the same build');
  t.match(html, /<td>partnerflt<\/td><td>coexist<\/td>/);
  const bare = signoffHtml(readRunFolder(fixture(), { steps: false }), { vendor: 'Acme' });
  t.match(bare, /No cell recorded an installed driver/);
});
