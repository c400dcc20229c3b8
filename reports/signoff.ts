// The sign-off package for a partner vendor: one PDF (Chromium's print of an HTML page, through
// playwright-core and the system's Chromium; no browser is downloaded) with the matrix, every
// verdict, the hashes of the driver packages that ran, tool versions and run metadata.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { InputError } from '../lib/errors.ts';
import { loadDriverPackage } from '../driver/package/load.ts';
import { countVerdicts, failuresFirst } from './base.ts';
import type { ReportCell, RunFolder } from './run-folder.ts';

export const CHROMIUM = process.env.FLEETGATE_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface DriverHashes {
  name: string;
  folder: string;
  /** How the hashes were made: the package reader (INF found), the files alone, or not at all. */
  source: 'package' | 'files' | 'missing';
  files: Array<{ path: string; bytes: number; sha256: string }>;
  note?: string;
}

function listFiles(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(root, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(root, r));
    else if (e.isFile()) out.push(r);
  }
  return out;
}

/** Hashes of a driver folder: via loadDriverPackage when it is a package (has an INF), else file by file. */
export function hashDriverFolder(name: string, folder: string): DriverHashes {
  if (!existsSync(folder) || !statSync(folder).isDirectory()) return { name, folder, source: 'missing', files: [], note: 'folder not found on this machine' };
  try {
    const pkg = loadDriverPackage(folder);
    return { name, folder, source: 'package', files: pkg.files.map((f) => ({ path: f.path, bytes: f.bytes, sha256: f.sha256 })), ...(pkg.placeholder ? { note: 'holds placeholder files, not a signed build' } : {}) };
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    // The lab driver folder is a Linux module's sources, with no INF: hash what is there.
    const files = listFiles(folder).map((rel) => {
      const bytes = readFileSync(path.join(folder, rel));
      return { path: rel, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
    });
    return { name, folder, source: 'files', files, note: `not a Windows driver package (${err.detail}): files hashed directly` };
  }
}

/** Every driver folder the run used: the cells' drivers, then the coexisting filters of run.json. */
export function driversOfRun(folder: RunFolder): DriverHashes[] {
  const seen = new Map<string, string>();
  for (const c of folder.cells) if (c.coords.driverPath && !seen.has(c.coords.driverPath)) seen.set(c.coords.driverPath, c.coords.driver);
  try {
    const run = JSON.parse(readFileSync(path.join(folder.dir, 'run.json'), 'utf8')) as { matrix?: { file?: string; filters?: Record<string, { path?: string }> } };
    const base = run.matrix?.file ? path.dirname(path.resolve(run.matrix.file)) : folder.dir;
    for (const [name, f] of Object.entries(run.matrix?.filters ?? {})) {
      if (!f.path) continue;
      const abs = path.resolve(base, f.path);
      if (!seen.has(abs)) seen.set(abs, `${name} (coexisting filter)`);
    }
  } catch {
    // run.json is optional for reports (summary.json alone is enough); no filters then.
  }
  // Several driver builds of a matrix often share one folder with different parameters: hash it once.
  const byFolder = new Map<string, string[]>();
  for (const [folderPath, name] of seen) byFolder.set(folderPath, [...(byFolder.get(folderPath) ?? []), name]);
  for (const c of folder.cells) {
    if (!c.coords.driverPath) continue;
    const names = byFolder.get(c.coords.driverPath)!;
    if (!names.includes(c.coords.driver)) names.push(c.coords.driver);
  }
  return [...byFolder].map(([f, names]) => hashDriverFolder(names.join(', '), f));
}

const esc = (s: unknown): string => String(s ?? '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

export interface SignoffOptions {
  vendor: string;
  generatedAt?: Date;
}

export function signoffHtml(folder: RunFolder, opts: SignoffOptions): string {
  const date = (opts.generatedAt ?? new Date()).toISOString();
  const drivers = driversOfRun(folder);
  const counts = countVerdicts(folder.cells);
  const cells = failuresFirst(folder.cells);
  const row = (k: string, v: unknown) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`;
  return `<!doctype html><html><head><meta charset="utf-8"><title>fleetgate sign-off ${esc(opts.vendor)}</title>
<style>
body{font:10.5pt/1.35 sans-serif;margin:0;color:#111} h1{font-size:17pt;margin:0 0 4pt} h2{font-size:12.5pt;margin:14pt 0 4pt;border-bottom:1px solid #999}
table{border-collapse:collapse;width:100%;margin:4pt 0} th,td{border:1px solid #bbb;padding:2pt 4pt;text-align:left;vertical-align:top;font-size:9pt} th{background:#eee}
.mono{font-family:monospace;font-size:7.5pt;word-break:break-all} .fail{color:#a00;font-weight:bold} .pass{color:#060}
</style></head><body>
<h1>Compatibility sign-off for ${esc(opts.vendor)}</h1>
<p>Generated ${esc(date)} by fleetgate from run ${esc(folder.runId)}.</p>
<h2>Run</h2><table>
${row('vendor', opts.vendor)}${row('run', folder.runId)}${row('matrix', `${folder.matrixName}${folder.matrixFile ? ` (${folder.matrixFile})` : ''}`)}${row('started', folder.started ?? '–')}${row('ended', folder.ended ?? '–')}${row('outcome', `${folder.outcome}${folder.exitCode !== null ? ` (exit ${folder.exitCode})` : ''}`)}${row('hosts', folder.hosts.join(', ') || '–')}${row('cells', folder.cells.length)}${row('verdicts', counts.map(([v, n]) => `${v} ${n}`).join(', '))}
</table>
<h2>Tool versions</h2><table>${Object.entries(folder.tools).map(([k, v]) => row(k, v ?? 'not installed')).join('')}</table>
<h2>Matrix and verdicts</h2><table><tr><th>cell</th><th>release</th><th>patch level</th><th>KB</th><th>driver</th><th>verifier</th><th>workloads</th><th>coexist</th><th>verdict</th><th>bucket / reason</th></tr>
${cells
  .map((c) => {
    const k = c.coords;
    const cls = c.verdict === 'pass' ? 'pass' : c.verdict === 'skipped' ? '' : 'fail';
    return `<tr><td class="mono">${esc(c.id)}</td><td>${esc(k.release)}</td><td>${esc(k.patchLevel ?? 'image')}</td><td>${esc(k.kb ? `KB${k.kb}` : '–')}</td><td>${esc(k.driver)}</td><td>${esc(k.verifier)}</td><td>${esc(k.workloads.join(', '))}</td><td>${esc(k.coexist.join(', ') || '–')}</td><td class="${cls}">${esc(c.verdict)}${c.flaky ? ' (flaky)' : ''}</td><td>${esc(c.crash ? `${c.crash.bucket}${c.crash.attribution ? ` (${c.crash.attribution})` : ''}` : (c.reason ?? ''))}</td></tr>`;
  })
  .join('\n')}
</table>
<h2>Installed in the run (SHA-256 of what each cell loaded)</h2>
${installedTable(cells)}
<h2>Driver package folders as they are now (SHA-256 at sign-off)</h2>
<p>These are the folders the matrix names, hashed when this page was made; the table above is what the run installed.</p>
${drivers
  .map(
    (d) => `<h3>${esc(d.name)}</h3><p class="mono">${esc(d.folder)}</p>${d.note ? `<p>${esc(d.note)}</p>` : ''}<table><tr><th>file</th><th>bytes</th><th>sha256</th></tr>${d.files.map((f) => `<tr><td class="mono">${esc(f.path)}</td><td>${f.bytes}</td><td class="mono">${esc(f.sha256)}</td></tr>`).join('')}</table>`,
  )
  .join('\n')}
</body></html>`;
}

/** One row per installed (driver build, module, hash), with the cells that installed it. */
export function installedRows(cells: readonly ReportCell[]): Array<{ build: string; role: string; name: string; sha256: string; cells: string[] }> {
  const rows = new Map<string, { build: string; role: string; name: string; sha256: string; cells: string[] }>();
  for (const c of cells) {
    for (const d of c.installed ?? []) {
      const key = `${c.coords.driver}\0${d.role}\0${d.name}\0${d.sha256}`;
      const r = rows.get(key) ?? { build: d.role === 'ours' ? c.coords.driver : d.package, role: d.role, name: d.name, sha256: d.sha256, cells: [] };
      r.cells.push(c.id);
      rows.set(key, r);
    }
  }
  return [...rows.values()];
}

function installedTable(cells: readonly ReportCell[]): string {
  const rows = installedRows(cells);
  if (!rows.length) return '<p>No cell recorded an installed driver (cells that never reached the install step, or a run from before fleetgate recorded them).</p>';
  return `<table><tr><th>driver build</th><th>role</th><th>module</th><th>sha256</th><th>cells</th></tr>${rows
    .map((r) => `<tr><td>${esc(r.build)}</td><td>${esc(r.role)}</td><td>${esc(r.name)}</td><td class="mono">${esc(r.sha256)}</td><td class="mono">${esc(r.cells.join(', '))}</td></tr>`)
    .join('')}</table>`;
}

/** Prints the sign-off page to a PDF with the system Chromium; returns the file written. */
export async function writeSignoffPdf(folder: RunFolder, file: string, opts: SignoffOptions): Promise<string> {
  const html = signoffHtml(folder, opts);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    // Offline page: nothing it references may be fetched.
    await page.route('**/*', (route) => (route.request().url().startsWith('data:') ? route.continue() : route.abort()));
    await page.setContent(html, { waitUntil: 'load' });
    await page.pdf({ path: file, format: 'A4', landscape: true, printBackground: true, margin: { top: '12mm', bottom: '12mm', left: '10mm', right: '10mm' } });
  } finally {
    await browser.close();
  }
  return file;
}
