// Lifecycle callers through a fake runner (what the real runner would return from each script), and
// static checks of the .ps1 files themselves (no PowerShell here).
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError, UsageError } from '../../lib/errors.ts';
import { checkLoadedAndAttached, DriverStepError, FltmcError, getCrashControl, installDriver, setCrashControl, startDriver, uninstallDriver, unloadDriver, upgradeDriver } from './lifecycle.ts';
import { SCRIPT_NAMES, scriptPath, type PowerShellRunner, type ScriptName } from './runner.ts';
import { commonParts, composeScript, decodePowerShell, MAX_COMMAND_CHARS, preparePowerShell, scriptFromFile } from '../../harness/guest/windows/encode.ts';
import { readSample, samplesSkip } from './samples.ts';
import { applyVerifier, queryVerifier, VerifierCommandError } from '../verifier/run.ts';
import { verifierPlan } from '../verifier/profiles.ts';

const dir = path.dirname(fileURLToPath(import.meta.url));

function fake(results: Record<string, unknown>): PowerShellRunner & { calls: Array<{ script: string; input: unknown }> } {
  const calls: Array<{ script: string; input: unknown }> = [];
  return {
    calls,
    async run(scriptFile, input) {
      const name = path.basename(scriptFile, '.ps1');
      calls.push({ script: name, input });
      if (!(name in results)) throw new Error(`unexpected script ${name}`);
      return results[name];
    },
  };
}
const ok = (stdout = '') => ({ exitCode: 0, stdout, stderr: null });

const FILTERS = `
Filter Name                     Num Instances    Altitude    Frame
------------------------------  -------------  ------------  -----
fgfilter                                2       371100         0
WdFilter                                4       328010         0
`;
const INSTANCES = `
Filter                Volume Name                              Altitude        Instance Name       Frame   SprtFtrs  VlStatus
--------------------  -------------------------------------  ------------  ----------------------  -----   --------  --------
fgfilter              C:                                        371100     fgfilter Instance         0     00000003
fgfilter              \\Device\\HarddiskVolume4                   371100     fgfilter Instance         0     00000003  Detached
WdFilter              C:                                        328010     WdFilter Instance         0     0000000f
`;

t.test('scripts: one per caller, Stop on errors, input from $FleetgateInput, one result, no $PSScriptRoot', async (t) => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.ps1')).sort();
  t.same(files, [...SCRIPT_NAMES].map((n) => `${n}.ps1`).sort());
  for (const f of files) {
    const text = readFileSync(path.join(dir, f), 'utf8');
    const code = text.split('\n').filter((l) => !l.trimStart().startsWith('#')).join('\n');
    t.match(code, /^\$ErrorActionPreference = 'Stop'$/m, `${f}: Stop`);
    t.equal((code.match(/Write-FleetgateResult/g) ?? []).length, 1, `${f}: exactly one Write-FleetgateResult`);
    t.notMatch(code, /\$PSScriptRoot/, `${f}: no $PSScriptRoot`);
    t.notMatch(code, /Write-(Host|Output)\b|\bconvertto-json\b/i, `${f}: output only through the helper`);
    t.notMatch(code, /^\s*function Write-FleetgateResult/m, `${f}: the helper comes from the runner`);
    t.notMatch(code, /&\s*\S+\.exe|Invoke-Expression|\biex\b/i, `${f}: programs only through Invoke-FleetgateNative`);
    if (!/\$FleetgateInput\b/.test(code)) t.match(text, /Input: \{\} \(nothing\)/, `${f}: takes no input, says so`);
    t.match(f, /^[a-z]+_[a-z_]+\.ps1$/, `${f}: verb_object`);
  }
  t.ok(scriptPath('install_driver').endsWith(path.join('driver', 'windows', 'install_driver.ps1')) && path.isAbsolute(scriptPath('install_driver')));
});

/** An input of the shape each script's caller sends (lifecycle.ts, ../verifier/run.ts). */
const SAMPLE_INPUTS: Record<ScriptName, unknown> = {
  import_certificate: { path: 'C:\\fleetgate\\pkg\\fgfilter.cer' },
  read_denials: { logName: 'Application', provider: 'fgfilter', maxEvents: 200 },
  install_driver: { infPath: 'C:\\fleetgate\\pkg\\fgfilter.inf', method: 'infsection', section: 'DefaultInstall.NTamd64', service: 'fgfilter', sysName: 'fgfilter.sys', timeoutSeconds: 300 },
  start_driver: { service: 'fgfilter' },
  check_driver: {},
  unload_driver: { service: 'fgfilter' },
  uninstall_driver: { method: 'pnputil', service: 'fgfilter', sysName: 'fgfilter.sys', infPath: 'C:\\fleetgate\\pkg\\fgfilter.inf', section: 'DefaultUninstall.NTamd64', timeoutSeconds: 300 },
  upgrade_driver: { infPath: 'C:\\fleetgate\\pkg\\fgfilter.inf', service: 'fgfilter', sysName: 'fgfilter.sys', method: 'pnputil', section: 'DefaultInstall.NTamd64', timeoutSeconds: 300 },
  get_crash_control: {},
  set_crash_control: { values: { CrashDumpEnabled: 1, AutoReboot: 1, DumpFile: '%SystemRoot%\\MEMORY.DMP' } },
  apply_verifier: { commands: [['/standard', '/driver', 'fgfilter.sys'], ['/bootmode', 'persistent']] },
  query_verifier: { mode: 'query' },
  set_service_values: { service: 'fgfilter', values: [{ key: 'Parameters', name: 'AllowedImages', type: 'multi-string', value: ['%ProgramFiles%\\nodejs\\node.exe'] }] },
};

t.test("scripts take their helpers from common.ps1, composed in by the runner: no copies of their own", async (t) => {
  const common = commonParts().flatMap((p) => (p.name ? [p.name] : []));
  t.ok(common.includes('Invoke-FleetgateNative') && common.includes('Write-FleetgateResult'), 'common.ps1 has the helpers');
  const commonLower = new Set(common.map((n) => n.toLowerCase()));
  const modes: string[] = [];
  for (const name of SCRIPT_NAMES) {
    const text = readFileSync(scriptPath(name), 'utf8');
    const code = text.split('\n').filter((l) => !l.trimStart().startsWith('#')).join('\n');
    const own = [...code.matchAll(/^\s*function\s+([\w-]+)/gim)].map((m) => m[1]!);
    t.same(own.filter((f) => commonLower.has(f.toLowerCase())), [], `${name}: defines no function that common.ps1 defines`);

    const script = scriptFromFile(scriptPath(name));
    t.equal(script.name, name, `${name}: named after its file`);
    const input = SAMPLE_INPUTS[name];
    const composed = composeScript(script, input);
    t.match(composed, /^\$ErrorActionPreference = 'Stop'$/m, `${name}: Stop, from the prelude too`);
    const uses = /\bInvoke-FleetgateNative\b/.test(code);
    t.equal((composed.match(/^function Invoke-FleetgateNative \{$/gm) ?? []).length, uses ? 1 : 0, `${name}: Invoke-FleetgateNative defined ${uses ? 'exactly once' : 'not at all (unused)'}`);
    // Every helper the script calls is defined in what is sent, before the script body.
    const bodyAt = composed.indexOf('$FleetgateInput = Read-FleetgateInput');
    for (const m of new Set([...code.matchAll(/\b([A-Z][a-z]+-Fleetgate[A-Za-z]*)\b/g)].map((x) => x[1]!))) {
      const at = composed.indexOf(`\nfunction ${m} {\n`);
      t.ok(at >= 0 && at < bodyAt, `${name}: ${m} is defined by the composed script before the body`);
    }

    const prepared = preparePowerShell(script, input);
    t.ok(prepared.mode === 'encoded' || prepared.mode === 'stdin', `${name}: ${prepared.mode}`);
    t.ok(prepared.command.length <= MAX_COMMAND_CHARS, `${name}: the command fits cmd.exe's line`);
    modes.push(`${name}:${prepared.mode}`);
    const decoded = decodePowerShell(prepared.command, prepared.mode === 'stdin' ? prepared.stdin : undefined);
    t.equal(decoded.scriptName, name, `${name}: $FleetgateScript`);
    t.strictSame(decoded.input, input, `${name}: the input round-trips`);
    t.equal(decoded.script, composed, `${name}: the script sent is the composed one`);
  }
  // Those that run a program are too long for cmd.exe's line even minified (common.ps1's
  // Invoke-FleetgateNative alone is some 1300 characters): they go through the stdin bootstrap.
  t.ok(modes.includes('get_crash_control:encoded'), `the smallest stay on -EncodedCommand (${modes.join(', ')})`);
});

t.test('checkLoadedAndAttached', async (t) => {
  const runner = fake({ check_driver: { filters: ok(FILTERS), instances: ok(INSTANCES) } });
  const r = await checkLoadedAndAttached(runner, { service: 'fgfilter', altitude: '371100', volumes: ['C:', 'D:', '\\Device\\HarddiskVolume4'] });
  t.same([r.loaded, r.filterAltitude, r.altitudeOk], [true, '371100', true]);
  t.same(r.attachedVolumes, ['C:']);
  t.same(r.missingVolumes, ['D:', '\\Device\\HarddiskVolume4']);
  t.same(r.detachedVolumes, ['\\Device\\HarddiskVolume4']);
  t.equal(r.instances.length, 2);
  const wrongAlt = await checkLoadedAndAttached(runner, { service: 'fgfilter', altitude: '371101', volumes: ['C:'] });
  t.equal(wrongAlt.altitudeOk, false);
  const absent = await checkLoadedAndAttached(runner, { service: 'partnerav', altitude: '325130', volumes: ['C:'] });
  t.same([absent.loaded, absent.altitudeOk, absent.missingVolumes], [false, false, ['C:']]);
  const denied = fake({ check_driver: { filters: { exitCode: -2147024891, stdout: 'Filter listing failed with error: 0x80070005\r\nAccess is denied.\r\n', stderr: null }, instances: ok('') } });
  await t.rejects(checkLoadedAndAttached(denied, { service: 'fgfilter', altitude: '371100', volumes: ['C:'] }), FltmcError);
  await t.rejects(checkLoadedAndAttached(fake({ check_driver: { filters: 'text' } }), { service: 'fgfilter', altitude: '1', volumes: [] }), InputError, 'malformed result');
});

t.test('checkLoadedAndAttached on a real sample listing', { skip: samplesSkip('fltmc') }, async (t) => {
  const text = readSample('fltmc', 'fltmc_filters_and_instances_winfsp-issue334.txt');
  const runner = fake({ check_driver: { filters: ok(text), instances: ok(text) } });
  const r = await checkLoadedAndAttached(runner, { service: 'FileInfo', altitude: '45000', volumes: ['D:', 'R:', 'C:'] });
  t.same([r.loaded, r.altitudeOk, r.attachedVolumes, r.missingVolumes], [true, true, ['D:', 'R:'], ['C:']]);
  const wd = await checkLoadedAndAttached(runner, { service: 'WdFilter', altitude: '328010', volumes: ['D:'] });
  t.same([wd.loaded, wd.altitudeOk, wd.missingVolumes], [true, true, ['D:']], 'WdFilter loaded; its instances are not in the cut excerpt');
});

t.test('install', async (t) => {
  const good = { method: 'infsection', exitCode: 0, stdout: null, stderr: null, serviceKey: true, imagePath: '\\SystemRoot\\system32\\drivers\\fgfilter.sys', group: 'FSFilter Activity Monitor', altitude: '371100', instancesKey: 'HKLM:\\...\\Parameters\\Instances', driverSha256: 'ab'.repeat(32) };
  const runner = fake({ install_driver: good });
  const r = await installDriver(runner, { infPath: 'C:\\fleetgate\\pkg\\fgfilter.inf', service: 'fgfilter', sysName: 'fgfilter.sys', method: 'infsection', altitude: '371100' });
  t.same(runner.calls[0]?.input, { infPath: 'C:\\fleetgate\\pkg\\fgfilter.inf', method: 'infsection', section: 'DefaultInstall.NTamd64', service: 'fgfilter', sysName: 'fgfilter.sys', timeoutSeconds: 300 });
  t.same([r.altitude, r.rebootRequired], ['371100', false]);
  await t.rejects(installDriver(fake({ install_driver: { ...good, serviceKey: false } }), { infPath: 'C:\\p\\x.inf', service: 'fgfilter', sysName: 'fgfilter.sys', method: 'infsection' }), DriverStepError);
  await t.rejects(installDriver(fake({ install_driver: { ...good, driverSha256: null } }), { infPath: 'C:\\p\\x.inf', service: 'fgfilter', sysName: 'fgfilter.sys', method: 'infsection' }), /not copied/);
  await t.rejects(installDriver(fake({ install_driver: { ...good, altitude: '999' } }), { infPath: 'C:\\p\\x.inf', service: 'fgfilter', sysName: 'fgfilter.sys', method: 'infsection', altitude: '371100' }), /altitude/);
  const pnp = await installDriver(fake({ install_driver: { ...good, method: 'pnputil', exitCode: 3010 } }), { infPath: 'C:\\p\\x.inf', service: 'fgfilter', sysName: 'fgfilter.sys', method: 'pnputil' });
  t.equal(pnp.rebootRequired, true);
  t.match(pnp.unverified.join(''), /unverified/);
  await t.rejects(installDriver(runner, { infPath: 'C:\\with space\\x.inf', service: 'fgfilter', sysName: 'fgfilter.sys', method: 'infsection' }), UsageError);
  await t.rejects(installDriver(runner, { infPath: 'C:\\p\\x.inf', service: 'fg;calc', sysName: 'fgfilter.sys', method: 'infsection' }), UsageError);
});

t.test('load and unload', async (t) => {
  t.same(await startDriver(fake({ start_driver: ok('') }), { service: 'fgfilter' }), { loaded: true, alreadyLoaded: false, output: '' });
  await t.rejects(startDriver(fake({ start_driver: { exitCode: 1, stdout: 'Load failed with error: 0x80070002\r\nThe system cannot find the file specified.', stderr: '' } }), { service: 'fgfilter' }), { kind: 'file-not-found' } as never);
  t.same(await unloadDriver(fake({ unload_driver: ok('') }), { service: 'fgfilter' }), { unloaded: true, output: '' });
  const refused = await unloadDriver(fake({ unload_driver: { exitCode: -2145452016, stdout: 'Unload failed with error: 0x801f0010\r\nDo not detach the filter from the volume at this time.\r\n', stderr: null } }), { service: 'fgfilter' });
  t.same([refused.unloaded, 'reason' in refused && refused.reason, 'hresult' in refused && refused.hresult], [false, 'refused', '0x801f0010'], '0x801f0010 is a typed result, not an error');
  await t.rejects(unloadDriver(fake({ unload_driver: { exitCode: 1, stdout: 'Unload failed with error: 0x80070005', stderr: null } }), { service: 'fgfilter' }), FltmcError);
});

t.test('uninstall and upgrade', async (t) => {
  const u = await uninstallDriver(fake({ uninstall_driver: { method: 'infsection', publishedName: null, exitCode: 0, stdout: null, stderr: null, serviceKeyExists: true, driverFileExists: false } }), { method: 'infsection', service: 'fgfilter', sysName: 'fgfilter.sys', infPath: 'C:\\p\\fgfilter.inf' });
  t.same([u.removed, u.pendingReboot], [false, true], 'service key left: marked for deletion until reboot');
  await t.rejects(uninstallDriver(fake({}), { method: 'pnputil', service: 'fgfilter', sysName: 'fgfilter.sys' }), UsageError);
  const NEW = 'cd'.repeat(32);
  const up = { sha256Before: 'ab'.repeat(32), sha256After: NEW, unload: ok(''), install: ok(''), load: ok('') };
  const r = await upgradeDriver(fake({ upgrade_driver: up }), { infPath: 'C:\\p\\fgfilter.inf', service: 'fgfilter', sysName: 'fgfilter.sys', method: 'infsection', newSha256: NEW });
  t.same([r.unload.unloaded, r.loaded, r.sha256After], [true, true, NEW]);
  const stuck = { ...up, sha256After: up.sha256Before, unload: { exitCode: 1, stdout: 'Unload failed with error: 0x801f0010', stderr: null } };
  await t.rejects(upgradeDriver(fake({ upgrade_driver: stuck }), { infPath: 'C:\\p\\fgfilter.inf', service: 'fgfilter', sysName: 'fgfilter.sys', method: 'infsection', newSha256: NEW }), /did not unload/);
});

t.test('crash control', async (t) => {
  const cc = { CrashDumpEnabled: 7, AutoReboot: 1, DumpFile: '%SystemRoot%\\MEMORY.DMP', MinidumpDir: '%SystemRoot%\\Minidump', Overwrite: 1 };
  t.same(await getCrashControl(fake({ get_crash_control: cc })), cc);
  const runner = fake({ set_crash_control: { before: cc, after: { ...cc, CrashDumpEnabled: 1 }, changed: 'CrashDumpEnabled', rebootRequired: true } });
  const r = await setCrashControl(runner, { dumpType: 'complete', autoReboot: true });
  t.same(runner.calls[0]?.input, { values: { CrashDumpEnabled: 1, AutoReboot: 1 } });
  t.same([r.changed, r.rebootRequired, r.after.CrashDumpEnabled], [['CrashDumpEnabled'], true, 1], 'a one-element array arrives unwrapped from ConvertTo-Json');
  await t.rejects(setCrashControl(runner, { dumpFile: 'relative.dmp' }), UsageError);
});

t.test('verifier apply and query', async (t) => {
  const plan = verifierPlan('standard', { build: 26100, family: 'client' }, { driver: 'fgfilter.sys', bootMode: 'persistent' });
  const runner = fake({ apply_verifier: { results: [{ args: [], exitCode: 2, stdout: 'reboot', stderr: null }, { args: [], exitCode: 2, stdout: '', stderr: null }] } });
  const r = await applyVerifier(runner, plan);
  t.equal(r.rebootRequired, true, 'exit code 2: reboot required, not a failure');
  t.same(runner.calls[0]?.input, { commands: [['/standard', '/driver', 'fgfilter.sys'], ['/bootmode', 'persistent']] });
  await t.rejects(applyVerifier(fake({ apply_verifier: { results: { args: [], exitCode: 1, stdout: 'error', stderr: null } } }), plan), VerifierCommandError);
  t.same(await applyVerifier(fake({}), verifierPlan('none', { build: 26100, family: 'client' }, { driver: 'fgfilter.sys' })), { rebootRequired: false, results: [] });
  const q = await queryVerifier(fake({ query_verifier: ok('Verifier Flags: 0x000209bb\r\nBoot Mode:\r\nPersistent\r\nVerified Drivers:\r\nfgfilter.sys\r\n') }));
  t.same([q.settings.enabledFlags, q.settings.drivers, q.settings.bootMode], [0x209bb, ['fgfilter.sys'], 'persistent']);
});
