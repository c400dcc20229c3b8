// The driver's Windows scripts (driver/windows/*.ps1) through their real TypeScript callers, composed with
// common.ps1 by WindowsGuest.powerShellRunner(), over real SSH to real PowerShell 7 on the Windows guest
// double, where pnputil, fltmc, verifier, rundll32 and sc are test doubles replaying recorded outputs of
// ../shared/samples and keeping a little state (what is installed, loaded, verified next boot).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { checkLoadedAndAttached, getCrashControl, installDriver, setCrashControl, startDriver, uninstallDriver, unloadDriver, upgradeDriver, DriverStepError } from '../../../driver/windows/lifecycle.ts';
import { FltmcError, isProductLoadRefusal, parseFltmcFilters } from '../../../driver/windows/fltmc.ts';
import { verifierPlan } from '../../../driver/verifier/profiles.ts';
import { applyVerifier, queryVerifier, verifyVerifierRunning } from '../../../driver/verifier/run.ts';
import { pwshSkip } from '../../../lib/pwsh.ts';
import { sshdMissingReason } from '../ssh/sshd-fixture.ts';
import { rebootAndWait } from './reboot.ts';
import { SAMPLES, startWindowsDouble, windows11State, type WindowsDoubleGuest, type WindowsDoubleState } from './test-doubles/guest-double.ts';
import { WindowsGuest } from './windows-guest.ts';

const skip = sshdMissingReason() || pwshSkip() || (existsSync(SAMPLES) ? false : `${SAMPLES} is not beside the repository`);
const PACKAGE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../driver/packages/fgfilter');
const INF = 'C:\\fleetgate\\packages\\fgfilter\\fgfilter.inf';
const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/** The package sent the way the personality sends it: a folder made by new_folder, each file over SFTP. */
async function stagePackage(g: WindowsDoubleGuest): Promise<void> {
  await new WindowsGuest(g.channel).newFolder('C:\\fleetgate\\packages\\fgfilter');
  for (const f of readdirSync(PACKAGE)) await g.channel.upload(path.join(PACKAGE, f), `C:/fleetgate/packages/fgfilter/${f}`);
}

async function guestWith(t: { teardown(fn: () => unknown): void }, state: WindowsDoubleState = windows11State()): Promise<{ g: WindowsDoubleGuest; runner: ReturnType<WindowsGuest['powerShellRunner']> }> {
  const g = await startWindowsDouble(state);
  t.teardown(() => g.stop());
  await stagePackage(g);
  return { g, runner: new WindowsGuest(g.channel).powerShellRunner() };
}

t.test('pnputil install, fltmc load, attached at its altitude beside WdFilter, unload, uninstall', { skip, timeout: 240_000 }, async (t) => {
  const { g, runner } = await guestWith(t);
  t.equal(sha256(g.hostPath(INF)), sha256(path.join(PACKAGE, 'fgfilter.inf')), 'the package arrived where the guest path says');

  const inst = await installDriver(runner, { infPath: INF, service: 'fgfilter', sysName: 'fgfilter.sys', method: 'pnputil', altitude: '371100' });
  t.equal(inst.driverSha256, sha256(path.join(PACKAGE, 'fgfilter.sys')), 'the copied .sys is the package one');
  t.equal(inst.altitude, '371100');
  t.equal(inst.group, 'FSFilter Activity Monitor');
  t.match(inst.output, /Published Name:\s+oem5\.inf/, "pnputil's recorded success layout");

  t.same(await startDriver(runner, { service: 'fgfilter' }), { loaded: true, alreadyLoaded: false, output: '' });
  const again = await startDriver(runner, { service: 'fgfilter' });
  t.equal(again.alreadyLoaded, true, 'a second load is 0x800700b7, read as already loaded');

  const check = await checkLoadedAndAttached(runner, { service: 'fgfilter', altitude: '371100', volumes: ['C:'] });
  t.equal(check.loaded, true);
  t.equal(check.altitudeOk, true);
  t.same(check.attachedVolumes, ['C:']);
  t.same(check.missingVolumes, []);

  const unload = await unloadDriver(runner, { service: 'fgfilter' });
  t.equal(unload.unloaded, true);
  const twice = await unloadDriver(runner, { service: 'fgfilter' });
  t.match(twice, { unloaded: false, reason: 'not-loaded', hresult: '0x801f0013' });

  const un = await uninstallDriver(runner, { method: 'pnputil', service: 'fgfilter', sysName: 'fgfilter.sys', infPath: INF });
  t.equal(un.removed, true, 'service key and file gone');
  t.equal(existsSync(g.hostPath('C:\\Windows\\System32\\drivers\\fgfilter.sys')), false);
  t.same(g.state().driverStore, [], 'the package left the driver store');
});

t.test("fltmc's listing with ours in it is the recorded one plus our row, and parses", { skip, timeout: 240_000 }, async (t) => {
  const { runner } = await guestWith(t);
  await installDriver(runner, { infPath: INF, service: 'fgfilter', sysName: 'fgfilter.sys', method: 'pnputil' });
  await startDriver(runner, { service: 'fgfilter' });
  const r = (await runner.run(path.resolve(PACKAGE, '../../windows/check_driver.ps1'), {})) as { filters: { stdout: string } };
  const filters = parseFltmcFilters(r.filters.stdout);
  t.ok(filters.some((f) => f.name === 'WdFilter' && f.altitude === '328010'), "Defender's filter from the recorded listing");
  t.ok(filters.some((f) => f.name === 'fgfilter' && f.altitude === '371100' && f.instances === 1), 'ours, in the same columns');
});

t.test('ours at an altitude another filter holds loads but attaches nowhere', { skip, timeout: 240_000 }, async (t) => {
  const { g, runner } = await guestWith(t);
  await installDriver(runner, { infPath: INF, service: 'fgfilter', sysName: 'fgfilter.sys', method: 'pnputil' });
  // The registry says WdFilter's altitude (as an INF with a wrong altitude would).
  const s = g.state();
  s.registry['HKLM:\\SYSTEM\\CurrentControlSet\\Services\\fgfilter\\Parameters\\Instances\\fgfilter Instance']!.Altitude = { type: 'REG_SZ', value: '328010' };
  g.setState(s);
  await startDriver(runner, { service: 'fgfilter' });
  const check = await checkLoadedAndAttached(runner, { service: 'fgfilter', altitude: '328010', volumes: ['C:'] });
  t.equal(check.loaded, true);
  t.same(check.missingVolumes, ['C:'], 'no instance: the altitude is taken');
});

t.test('a code-integrity refusal and a failing DriverEntry are load refusals of the product; not elevated is not', { skip, timeout: 240_000 }, async (t) => {
  const base = windows11State();
  const { runner } = await guestWith(t, { ...base, fltmc: { loadErrors: { fgfilter: '0x80070241' } } });
  await installDriver(runner, { infPath: INF, service: 'fgfilter', sysName: 'fgfilter.sys', method: 'pnputil' });
  const err = await startDriver(runner, { service: 'fgfilter' }).catch((e: unknown) => e);
  t.ok(err instanceof FltmcError, String(err));
  t.equal((err as FltmcError).kind, 'code-integrity');
  t.equal(isProductLoadRefusal(err as FltmcError), true);
  t.match((err as Error).message, /Load failed with error: 0x80070241/);
  t.equal(isProductLoadRefusal(new FltmcError('0x8007001f', 'Load', 'Load failed with error: 0x8007001f')), true, 'DriverEntry failed');
  t.equal(isProductLoadRefusal(new FltmcError('0x80070005', 'Load', 'Load failed with error: 0x80070005')), false, 'access denied is the session');
  t.equal(isProductLoadRefusal(new FltmcError('0x801f0010', 'Unload', 'Unload failed with error: 0x801f0010')), false);
});

t.test("pnputil's recorded hash-not-in-catalog refusal fails the install with its words", { skip, timeout: 240_000 }, async (t) => {
  const { runner } = await guestWith(t, { ...windows11State(), pnputil: { refuseAdd: 'pnputil/pscam4windows_issue1_add_driver_hash_not_in_catalog.txt' } });
  const err = await installDriver(runner, { infPath: INF, service: 'fgfilter', sysName: 'fgfilter.sys', method: 'pnputil' }).catch((e: unknown) => e);
  t.ok(err instanceof DriverStepError, String(err));
  t.match((err as DriverStepError).output, /Adding driver package:\s+fgfilter\.inf\nFailed to add driver package: The hash for the file is not present in the specified catalog file/);
});

t.test('InstallHinfSection installs; its DefaultUninstall with LegacyUninstall=1 removes nothing', { skip, timeout: 240_000 }, async (t) => {
  const { runner } = await guestWith(t);
  const inst = await installDriver(runner, { infPath: INF, service: 'fgfilter', sysName: 'fgfilter.sys', method: 'infsection', altitude: '371100' });
  t.equal(inst.altitude, '371100');
  const un = await uninstallDriver(runner, { method: 'infsection', service: 'fgfilter', sysName: 'fgfilter.sys', infPath: INF });
  t.equal(un.removed, false, 'ignored on Windows 10 1903 and later (windows.md section 3)');
  const sc = await uninstallDriver(runner, { method: 'service', service: 'fgfilter', sysName: 'fgfilter.sys' });
  t.equal(sc.removed, true, 'sc.exe delete and the file removed');
});

t.test('upgrade in place: the new build is the one installed and loaded', { skip, timeout: 240_000 }, async (t) => {
  const { g, runner } = await guestWith(t);
  await installDriver(runner, { infPath: INF, service: 'fgfilter', sysName: 'fgfilter.sys', method: 'pnputil' });
  await startDriver(runner, { service: 'fgfilter' });
  const newSys = g.hostPath('C:\\fleetgate\\packages\\fgfilter\\fgfilter.sys');
  const { appendFileSync } = await import('node:fs');
  appendFileSync(newSys, 'build 1.4.0.18\n');
  const up = await upgradeDriver(runner, { infPath: INF, service: 'fgfilter', sysName: 'fgfilter.sys', method: 'pnputil', newSha256: sha256(newSys) });
  t.equal(up.unload.unloaded, true);
  t.not(up.sha256Before, up.sha256After);
  t.equal(up.sha256After, sha256(newSys));
  t.equal(up.loaded, true);
});

t.test('CrashControl read and written through the registry doubles', { skip, timeout: 240_000 }, async (t) => {
  const { runner } = await guestWith(t);
  const before = await getCrashControl(runner);
  t.equal(before.CrashDumpEnabled, 1);
  t.equal(before.DumpFile, '%SystemRoot%\\MEMORY.DMP', 'as stored, unexpanded');
  const set = await setCrashControl(runner, { dumpType: 'kernel', autoReboot: true });
  t.same(set.changed, ['CrashDumpEnabled'], 'AutoReboot was already 1');
  t.equal(set.rebootRequired, true);
  t.equal((await getCrashControl(runner)).CrashDumpEnabled, 2);
});

t.test('Driver Verifier: settings wait for the reboot; /query proves them running with ours loaded', { skip, timeout: 300_000 }, async (t) => {
  const { g, runner } = await guestWith(t);
  await installDriver(runner, { infPath: INF, service: 'fgfilter', sysName: 'fgfilter.sys', method: 'pnputil' });
  const plan = verifierPlan('standard', { build: 26100, family: 'client' }, { driver: 'fgfilter.sys' });
  const applied = await applyVerifier(runner, plan);
  t.equal(applied.rebootRequired, true, 'verifier answered 2');
  const next = await queryVerifier(runner);
  t.equal(next.settings.enabledFlags, 0x209bb, '/querysettings shows the next boot');
  t.same(next.settings.drivers, ['fgfilter.sys']);
  const before = await verifyVerifierRunning(runner, plan);
  t.equal(before.ok, false, 'not running before the reboot');
  t.match(before.problems.join('\n'), /lacks/);

  const { channel } = await rebootAndWait(g.channel, { reconnect: (s) => g.connect(s), timeoutMs: 60_000, pollMs: 200, delaySeconds: 1 });
  const after = new WindowsGuest(channel).powerShellRunner();
  const notLoaded = await verifyVerifierRunning(after, plan);
  t.equal(notLoaded.ok, false);
  t.match(notLoaded.problems.join('\n'), /fgfilter\.sys is verified but not loaded \(load: 0/);
  await startDriver(after, { service: 'fgfilter' });
  const running = await verifyVerifierRunning(after, plan);
  t.same(running.problems, []);
  t.equal(running.query.verifierFlags, 0x209bb);
  t.match(running.query.modules, [{ name: 'fgfilter.sys', loaded: true }]);
});
