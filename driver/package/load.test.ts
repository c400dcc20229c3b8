// The example packages load with every check passing and their placeholders reported; broken packages
// fail the check that names what is wrong.
import t from 'tap';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError, UsageError } from '../../lib/errors.ts';
import { assertInstallable, loadDriverPackage } from './load.ts';

const packages = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../packages');

t.test('fgfilter example package', async (t) => {
  const pkg = loadDriverPackage(path.join(packages, 'fgfilter'));
  t.equal(pkg.infPath, 'fgfilter.inf');
  t.same(pkg.service, { name: 'fgfilter', binary: 'fgfilter.sys', altitude: '371100', loadOrderGroup: 'FSFilter Activity Monitor' });
  t.same(pkg.checks.filter((c) => !c.ok), [], 'every check passes');
  t.same(pkg.files.map((f) => [f.path, f.placeholder]), [['fgfilter.cat', true], ['fgfilter.inf', false], ['fgfilter.sys', true], ['fleetgate.driver.yaml', false]], 'the package manifest travels with the package');
  for (const f of pkg.files) {
    const bytes = readFileSync(path.join(packages, 'fgfilter', f.path));
    t.equal(f.sha256, createHash('sha256').update(bytes).digest('hex'), `${f.path} hash`);
    t.equal(f.bytes, bytes.length);
  }
  t.ok(pkg.placeholder);
  t.match(pkg.checks.find((c) => c.name === 'service-binary-present')?.explanation, /PLACEHOLDER/);
  t.throws(() => assertInstallable(pkg), UsageError, 'placeholders are never installed');
});

t.test('partner-av example package (UTF-16LE INF)', async (t) => {
  const pkg = loadDriverPackage(path.join(packages, 'partner-av'));
  t.equal(pkg.inf.encoding, 'utf-16le');
  t.same(pkg.service, { name: 'partnerav', binary: 'partnerav.sys', altitude: '325130', loadOrderGroup: 'FSFilter Anti-Virus' });
  t.not(pkg.service?.altitude, '328010', 'does not collide with WdFilter from the fltmc samples');
  t.same(pkg.checks.filter((c) => !c.ok), []);
  t.equal(pkg.inf.version.provider, 'Contoso Antivirus', 'from [Strings.0409]');
});

function tempPackage(t: { teardown(fn: () => void): void }, inf: string, files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-pkg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'x.inf'), inf);
  for (const [n, c] of Object.entries(files)) writeFileSync(path.join(dir, n), c);
  return dir;
}

const GOOD = readFileSync(path.join(packages, 'fgfilter', 'fgfilter.inf'), 'utf8');
const GROUP = 'LoadOrderGroup   = "FSFilter Activity Monitor"';
const failed = (dir: string): string[] => loadDriverPackage(dir).checks.filter((c) => !c.ok).map((c) => c.name);

t.test('checks fail for what is wrong', async (t) => {
  const real = { 'fgfilter.sys': 'MZ not a placeholder', 'fgfilter.cat': '0\x82 catalog bytes' };
  t.same(failed(tempPackage(t, GOOD, real)), [], 'real-looking files: all pass');
  t.doesNotThrow(() => assertInstallable(loadDriverPackage(tempPackage(t, GOOD, real))));
  t.same(failed(tempPackage(t, GOOD.replace('"371100"', '"328010"'), real)), ['altitude-in-group-range']);
  t.same(failed(tempPackage(t, GOOD.replace(GROUP, 'LoadOrderGroup = "FSFilter Anti-Virus"'), real)), ['altitude-in-group-range', 'class-matches-group'], 'group changed: altitude and class no longer fit');
  t.same(failed(tempPackage(t, GOOD.replace(GROUP, 'LoadOrderGroup = "FSFilter Undelete"'), real)), ['altitude-in-group-range'], 'a group without a sourced range fails, saying so');
  t.same(failed(tempPackage(t, GOOD, { 'fgfilter.sys': 'x' })), ['catalog-present']);
  t.same(failed(tempPackage(t, GOOD, { 'fgfilter.cat': 'x' })), ['service-binary-present']);
  t.same(failed(tempPackage(t, GOOD.replace('Dependencies     = "FltMgr"', 'Dependencies = "Other"'), real)), ['depends-on-fltmgr']);
  t.same(failed(tempPackage(t, GOOD.replace('LegacyUninstall = 1', ''), real)), ['primitive-default-uninstall']);
  t.same(failed(tempPackage(t, GOOD + '\n[Manufacturer]\n%ManufacturerName% = Models\n', real)), ['primitive-no-manufacturer']);
  t.same(failed(tempPackage(t, GOOD + '\n[DefaultInstall]\nCopyFiles = FgFilter.DriverFiles\n', real)), ['primitive-no-undecorated-install']);
  const undecorated = GOOD.replaceAll('[DefaultInstall.NTamd64', '[DefaultInstall.NTx86');
  t.same(failed(tempPackage(t, undecorated, real)), ['primitive-decorated-install', 'service-binary-copied']);
});

t.test('the first check says why the Anti-Virus group change fails', async (t) => {
  const pkg = loadDriverPackage(tempPackage(t, GOOD.replace(GROUP, 'LoadOrderGroup = "FSFilter Anti-Virus"'), { 'fgfilter.sys': 'a', 'fgfilter.cat': 'b' }));
  t.match(pkg.checks.find((c) => c.name === 'altitude-in-group-range')?.explanation, /outside "FSFilter Anti-Virus" 320000-329999/);
});

t.test('folder errors', async (t) => {
  t.throws(() => loadDriverPackage('/nonexistent/fg'), InputError);
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-pkg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.throws(() => loadDriverPackage(dir), { message: /no \.inf/ });
  writeFileSync(path.join(dir, 'bad.inf'), '[Version]\nClass = X\n[Oops\n');
  const e = (() => { try { loadDriverPackage(dir); } catch (err) { return err; } return null; })();
  t.ok(e instanceof InputError && e.place.line === 3 && e.place.file.endsWith('bad.inf'), 'INF errors name the file and line');
});
