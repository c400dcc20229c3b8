// Typed callers of the driver/windows scripts: install, load, check, unload, uninstall, upgrade, crash
// settings. Each sends one .ps1 through the injected PowerShellRunner and turns its JSON into a typed
// value, parsing fltmc text with fltmc.ts. No hypervisor, no SSH here (DESIGN.md, room driver/).
import { EXIT, FleetgateError, UsageError } from '../../lib/errors.ts';
import { FltmcError, findFltmcError, readFltmcFilters, readFltmcInstances, type FltmcFilter, type FltmcInstance } from './fltmc.ts';
import { nativeRun, ResultReader, scriptPath, type NativeRun, type PowerShellRunner } from './runner.ts';

/** A driver step that ran but did not do what it should (install left no service, load failed...). */
export class DriverStepError extends FleetgateError {
  readonly step: string;
  readonly output: string;
  constructor(step: string, message: string, output: string, options?: { cause?: unknown }) {
    super(`${step}: ${message}`, EXIT.productFailure, options);
    this.step = step;
    this.output = output;
  }
}

export type InstallMethod = 'infsection' | 'pnputil';

// Guest paths and names are checked before they go anywhere near a command line. InstallHinfSection
// takes the INF path as the rest of its command line, so spaces are refused (windows.md §3).
const GUEST_INF = /^[A-Za-z]:\\[^"\s<>|*?]+\.inf$/i;
const SERVICE = /^[A-Za-z0-9_.-]{1,64}$/;
const SYS = /^[A-Za-z0-9_.-]+\.sys$/i;
const SECTION = /^[A-Za-z0-9_.-]+$/;

function check(re: RegExp, value: string, what: string): string {
  if (!re.test(value)) throw new UsageError(`${what} "${value}" is not acceptable (expected ${re.source})`);
  return value;
}

const outputOf = (r: NativeRun): string => [r.stdout, r.stderr].filter((s) => s.trim().length).join('\n');

export interface InstallOptions {
  /** Absolute path of the INF on the guest, without spaces. */
  infPath: string;
  service: string;
  sysName: string;
  method: InstallMethod;
  /** Decorated install section; default DefaultInstall.NTamd64 (windows.md §3). */
  section?: string;
  /** Altitude the INF sets, checked against what the registry holds afterwards. */
  altitude?: string;
  timeoutMs?: number;
}

export interface InstallResult {
  method: InstallMethod;
  exitCode: number;
  rebootRequired: boolean;
  imagePath: string | null;
  group: string | null;
  altitude: string | null;
  instancesKey: string | null;
  driverSha256: string | null;
  output: string;
  /** What this result rests on that nobody verified on real Windows. */
  unverified: string[];
}

export async function installDriver(runner: PowerShellRunner, o: InstallOptions): Promise<InstallResult> {
  const input = {
    infPath: check(GUEST_INF, o.infPath, 'INF path'),
    method: o.method,
    section: check(SECTION, o.section ?? 'DefaultInstall.NTamd64', 'install section'),
    service: check(SERVICE, o.service, 'service name'),
    sysName: check(SYS, o.sysName, 'driver file name'),
    timeoutSeconds: Math.ceil((o.timeoutMs ?? 300_000) / 1000),
  };
  if (o.method !== 'infsection' && o.method !== 'pnputil') throw new UsageError(`install method "${String(o.method)}" must be infsection or pnputil`);
  const r = new ResultReader('install_driver', await runner.run(scriptPath('install_driver'), input, { timeoutMs: (o.timeoutMs ?? 300_000) + 60_000 }));
  const run = nativeRun(r);
  const unverified: string[] = [];
  let rebootRequired = false;
  if (o.method === 'pnputil') {
    unverified.push('pnputil /add-driver /install for a primitive (non-PnP) minifilter INF is unverified (windows.md §3)');
    // 3010 = ERROR_SUCCESS_REBOOT_REQUIRED; that pnputil uses it is our understanding (unverified).
    if (run.exitCode === 3010) rebootRequired = true;
    else if (run.exitCode !== 0) throw new DriverStepError('install', `pnputil exited with ${run.exitCode}`, outputOf(run));
  } else {
    unverified.push('rundll32 InstallHinfSection reports no result: success is judged from the service key and the copied file');
  }
  const result: InstallResult = {
    method: o.method,
    exitCode: run.exitCode,
    rebootRequired,
    imagePath: r.optText('imagePath'),
    group: r.optText('group'),
    altitude: r.optText('altitude'),
    instancesKey: r.optText('instancesKey'),
    driverSha256: r.optText('driverSha256'),
    output: outputOf(run),
    unverified,
  };
  if (!r.bool('serviceKey')) throw new DriverStepError('install', `no service key HKLM\\SYSTEM\\CurrentControlSet\\Services\\${o.service} after install`, result.output);
  if (!result.driverSha256) throw new DriverStepError('install', `${o.sysName} was not copied to %SystemRoot%\\System32\\drivers`, result.output);
  if (o.altitude !== undefined && result.altitude !== o.altitude) {
    throw new DriverStepError('install', `registry altitude ${result.altitude ?? '(none)'} differs from the INF's ${o.altitude}`, result.output);
  }
  return result;
}

export interface LoadResult {
  loaded: true;
  /** fltmc said it already exists; that this means "already loaded" is unverified. */
  alreadyLoaded: boolean;
  output: string;
}

/** `fltmc load`; a fltmc error line becomes a FltmcError (e.g. access denied: not elevated). */
export async function startDriver(runner: PowerShellRunner, o: { service: string; timeoutMs?: number }): Promise<LoadResult> {
  const r = new ResultReader('start_driver', await runner.run(scriptPath('start_driver'), { service: check(SERVICE, o.service, 'service name') }, { timeoutMs: o.timeoutMs ?? 180_000 }));
  const run = nativeRun(r);
  const err = findFltmcError(outputOf(run));
  if (err?.kind === 'already-exists') return { loaded: true, alreadyLoaded: true, output: outputOf(run) };
  if (err) throw err;
  if (run.exitCode !== 0) throw new DriverStepError('load', `fltmc load ${o.service} exited with ${run.exitCode}`, outputOf(run));
  return { loaded: true, alreadyLoaded: false, output: outputOf(run) };
}

export interface AttachCheck {
  loaded: boolean;
  /** The altitude fltmc shows for the filter, or null when not loaded. */
  filterAltitude: string | null;
  /** Filter and every instance at the expected altitude. */
  altitudeOk: boolean;
  attachedVolumes: string[];
  missingVolumes: string[];
  /** Volumes with an instance whose VlStatus says it is not attached (e.g. "Detached"). */
  detachedVolumes: string[];
  instances: FltmcInstance[];
  /** Every filter `fltmc filters` listed (Defender's WdFilter among them), for altitude collisions. */
  filters: FltmcFilter[];
  /** What was cut from fltmc's output before it was read (fltmc.ts bounds); empty when read whole. */
  truncated: string[];
}

const sameVolume = (a: string, b: string): boolean => a.replace(/\\$/, '').toLowerCase() === b.replace(/\\$/, '').toLowerCase();

/** Is the filter loaded at its altitude and attached to every volume asked for? */
export async function checkLoadedAndAttached(
  runner: PowerShellRunner,
  o: { service: string; altitude: string; volumes: string[]; timeoutMs?: number },
): Promise<AttachCheck> {
  const r = new ResultReader('check_driver', await runner.run(scriptPath('check_driver'), {}, { timeoutMs: o.timeoutMs ?? 180_000 }));
  const filtersRun = nativeRun(r.child('check_driver', 'filters'));
  const instancesRun = nativeRun(r.child('check_driver', 'instances'));
  const filtersRead = readFltmcFilters(outputOf(filtersRun));
  const instancesRead = readFltmcInstances(outputOf(instancesRun));
  const filters = filtersRead.rows;
  const all = instancesRead.rows;
  const truncated = [filtersRead.truncated, instancesRead.truncated].flatMap((c, i) => (c ? [`${i ? 'fltmc instances' : 'fltmc filters'}: ${c.note}`] : []));
  if (filtersRun.exitCode !== 0 && !filters.length) throw new DriverStepError('check', `fltmc filters exited with ${filtersRun.exitCode}`, outputOf(filtersRun));
  const name = o.service.toLowerCase();
  const filter = filters.find((f) => f.name.toLowerCase() === name) ?? null;
  const instances = all.filter((i) => i.filter.toLowerCase() === name);
  const attached = (i: FltmcInstance): boolean => !i.volumeStatus || !/detached/i.test(i.volumeStatus);
  const attachedVolumes = o.volumes.filter((v) => instances.some((i) => sameVolume(i.volume, v) && attached(i)));
  const detachedVolumes = o.volumes.filter((v) => instances.some((i) => sameVolume(i.volume, v) && !attached(i)));
  return {
    loaded: filter !== null,
    filterAltitude: filter?.altitude ?? null,
    altitudeOk: filter !== null && filter.altitude === o.altitude && instances.every((i) => i.altitude === o.altitude),
    attachedVolumes,
    missingVolumes: o.volumes.filter((v) => !attachedVolumes.includes(v)),
    detachedVolumes,
    instances,
    filters,
    truncated,
  };
}

export type UnloadResult =
  | { unloaded: true; output: string }
  /** The filter refused (ERROR_FLT_DO_NOT_DETACH): a product behaviour to judge, not a harness error. */
  | { unloaded: false; reason: 'refused'; hresult: string; output: string }
  | { unloaded: false; reason: 'not-loaded'; hresult: string; output: string };

export async function unloadDriver(runner: PowerShellRunner, o: { service: string; timeoutMs?: number }): Promise<UnloadResult> {
  const r = new ResultReader('unload_driver', await runner.run(scriptPath('unload_driver'), { service: check(SERVICE, o.service, 'service name') }, { timeoutMs: o.timeoutMs ?? 180_000 }));
  const run = nativeRun(r);
  const output = outputOf(run);
  const err = findFltmcError(output);
  if (err?.kind === 'do-not-detach') return { unloaded: false, reason: 'refused', hresult: err.hresult, output };
  if (err?.kind === 'filter-not-found') return { unloaded: false, reason: 'not-loaded', hresult: err.hresult, output };
  if (err) throw err;
  if (run.exitCode !== 0) throw new DriverStepError('unload', `fltmc unload ${o.service} exited with ${run.exitCode}`, output);
  return { unloaded: true, output };
}

export interface UninstallOptions {
  method: InstallMethod | 'service';
  service: string;
  sysName: string;
  infPath?: string;
  /** For infsection: the uninstall section, default DefaultUninstall.NTamd64 (needs LegacyUninstall=1). */
  section?: string;
  timeoutMs?: number;
}

export async function uninstallDriver(runner: PowerShellRunner, o: UninstallOptions): Promise<{ removed: boolean; pendingReboot: boolean; output: string; unverified: string[] }> {
  if (o.method !== 'service' && o.infPath === undefined) throw new UsageError(`uninstall method ${o.method} needs the INF path`);
  const input = {
    method: o.method,
    service: check(SERVICE, o.service, 'service name'),
    sysName: check(SYS, o.sysName, 'driver file name'),
    infPath: o.infPath === undefined ? null : check(GUEST_INF, o.infPath, 'INF path'),
    section: check(SECTION, o.section ?? 'DefaultUninstall.NTamd64', 'uninstall section'),
    timeoutSeconds: Math.ceil((o.timeoutMs ?? 300_000) / 1000),
  };
  const r = new ResultReader('uninstall_driver', await runner.run(scriptPath('uninstall_driver'), input, { timeoutMs: (o.timeoutMs ?? 300_000) + 60_000 }));
  const run = nativeRun(r);
  const output = outputOf(run);
  const unverified = o.method === 'pnputil' ? ['pnputil /delete-driver /uninstall for a primitive minifilter is unverified (windows.md §3)'] : [];
  if (o.method !== 'infsection' && run.exitCode !== 0 && run.exitCode !== 3010) throw new DriverStepError('uninstall', `${o.method === 'service' ? 'sc.exe delete' : 'pnputil'} exited with ${run.exitCode}`, output);
  const keyLeft = r.bool('serviceKeyExists');
  const fileLeft = r.bool('driverFileExists');
  if (fileLeft && !keyLeft) throw new DriverStepError('uninstall', `${o.sysName} is still in System32\\drivers after the service was removed`, output);
  // A service key left behind is normally "marked for deletion" until the next reboot.
  return { removed: !keyLeft && !fileLeft, pendingReboot: keyLeft || run.exitCode === 3010, output, unverified };
}

export interface UpgradeResult {
  sha256Before: string | null;
  sha256After: string | null;
  unload: UnloadResult;
  loaded: boolean;
  output: string;
}

/** In-place upgrade from the previous build: unload, install the new package, load; checks the new hash. */
export async function upgradeDriver(
  runner: PowerShellRunner,
  o: { infPath: string; service: string; sysName: string; method: InstallMethod; section?: string; newSha256: string; timeoutMs?: number },
): Promise<UpgradeResult> {
  const input = {
    infPath: check(GUEST_INF, o.infPath, 'INF path'),
    service: check(SERVICE, o.service, 'service name'),
    sysName: check(SYS, o.sysName, 'driver file name'),
    method: o.method,
    section: check(SECTION, o.section ?? 'DefaultInstall.NTamd64', 'install section'),
    timeoutSeconds: Math.ceil((o.timeoutMs ?? 300_000) / 1000),
  };
  const r = new ResultReader('upgrade_driver', await runner.run(scriptPath('upgrade_driver'), input, { timeoutMs: (o.timeoutMs ?? 300_000) + 300_000 }));
  const unloadRun = nativeRun(r.child('upgrade_driver', 'unload'));
  const installRun = nativeRun(r.child('upgrade_driver', 'install'));
  const loadRun = nativeRun(r.child('upgrade_driver', 'load'));
  const output = [unloadRun, installRun, loadRun].map(outputOf).join('\n');
  const unloadErr = findFltmcError(outputOf(unloadRun));
  let unload: UnloadResult;
  if (!unloadErr && unloadRun.exitCode === 0) unload = { unloaded: true, output: outputOf(unloadRun) };
  else if (unloadErr?.kind === 'do-not-detach') unload = { unloaded: false, reason: 'refused', hresult: unloadErr.hresult, output: outputOf(unloadRun) };
  else if (unloadErr?.kind === 'filter-not-found') unload = { unloaded: false, reason: 'not-loaded', hresult: unloadErr.hresult, output: outputOf(unloadRun) };
  else throw unloadErr ?? new DriverStepError('upgrade', `fltmc unload exited with ${unloadRun.exitCode}`, output);
  const sha256Before = r.optText('sha256Before');
  const sha256After = r.optText('sha256After');
  if (sha256After?.toLowerCase() !== o.newSha256.toLowerCase()) {
    const why = unload.unloaded ? '' : ' (the old build did not unload, so its file may have stayed in use)';
    throw new DriverStepError('upgrade', `installed ${o.sysName} has SHA-256 ${sha256After ?? '(missing)'}, expected the new build's ${o.newSha256}${why}`, output);
  }
  const loadErr = findFltmcError(outputOf(loadRun));
  if (loadErr && loadErr.kind !== 'already-exists') throw loadErr;
  if (!loadErr && loadRun.exitCode !== 0) throw new DriverStepError('upgrade', `fltmc load exited with ${loadRun.exitCode}`, output);
  return { sha256Before, sha256After, unload, loaded: true, output };
}

// ---------------------------------------------------------------- a test-signed package's certificate

export interface ImportedCertificate {
  thumbprint: string;
  subject: string;
  stores: string[];
}

/** Imports the .cer at `path` (on the guest) into LocalMachine\Root and TrustedPublisher. */
export async function importCertificate(runner: PowerShellRunner, o: { path: string; timeoutMs?: number }): Promise<ImportedCertificate> {
  const r = new ResultReader('import_certificate', await runner.run(scriptPath('import_certificate'), { path: o.path }, { timeoutMs: o.timeoutMs ?? 120_000 }));
  return { thumbprint: r.text('thumbprint'), subject: r.text('subject'), stores: r.array('stores').map(String) };
}

// ---------------------------------------------------------------- what the product denied

export interface DenialEvent {
  time: string | null;
  id: number;
  level: string;
  message: string;
}

/** The product's denial records, newest first, from the log and provider its manifest names. */
export async function readDenials(runner: PowerShellRunner, o: { logName: string; provider: string; maxEvents?: number; timeoutMs?: number }): Promise<DenialEvent[]> {
  const r = new ResultReader('read_denials', await runner.run(scriptPath('read_denials'), { logName: o.logName, provider: o.provider, maxEvents: o.maxEvents ?? 200 }, { timeoutMs: o.timeoutMs ?? 120_000 }));
  return r.array('events').map((e, i) => {
    const x = new ResultReader('read_denials', e, `events[${i}]`);
    return { time: x.optText('time'), id: x.num('id'), level: x.text('level'), message: x.text('message') };
  });
}

// ---------------------------------------------------------------- service values (the package manifest)

export interface ServiceValueWrite {
  key: string;
  name: string;
  type: 'dword' | 'string' | 'multi-string';
  value: number | string | string[];
}

/** Writes values under the service's key (mode, allowed executables) and checks what reads back. */
export async function setServiceValues(runner: PowerShellRunner, o: { service: string; values: ServiceValueWrite[]; timeoutMs?: number }): Promise<void> {
  const r = new ResultReader('set_service_values', await runner.run(scriptPath('set_service_values'), { service: check(SERVICE, o.service, 'service name'), values: o.values }, { timeoutMs: o.timeoutMs ?? 120_000 }));
  const written = r.array('written');
  for (const [i, v] of o.values.entries()) {
    const back = new ResultReader('set_service_values', written[i], `written[${i}]`).array('value').map(String);
    const want = (Array.isArray(v.value) ? v.value : [v.value]).map(String);
    if (back.join('\u0000') !== want.join('\u0000')) throw new DriverStepError('configure', `${v.key}\\${v.name} reads back ${JSON.stringify(back)}, not ${JSON.stringify(want)}`, '');
  }
}

// ---------------------------------------------------------------- CrashControl (windows.md §4)

export const CRASH_DUMP_TYPES = { none: 0, complete: 1, kernel: 2, small: 3, automatic: 7 } as const;
export type CrashDumpType = keyof typeof CRASH_DUMP_TYPES;

export interface CrashControl {
  CrashDumpEnabled: number | null;
  AutoReboot: number | null;
  /** As stored, unexpanded: `%SystemRoot%\MEMORY.DMP`. */
  DumpFile: string | null;
  MinidumpDir: string | null;
  Overwrite: number | null;
}

function readCrashControl(r: ResultReader): CrashControl {
  const n = (k: string): number | null => (r.raw(k) === null || r.raw(k) === undefined ? null : r.num(k));
  return { CrashDumpEnabled: n('CrashDumpEnabled'), AutoReboot: n('AutoReboot'), DumpFile: r.optText('DumpFile'), MinidumpDir: r.optText('MinidumpDir'), Overwrite: n('Overwrite') };
}

export function dumpTypeName(v: number | null): CrashDumpType | null {
  return (Object.keys(CRASH_DUMP_TYPES) as CrashDumpType[]).find((k) => CRASH_DUMP_TYPES[k] === v) ?? null;
}

export async function getCrashControl(runner: PowerShellRunner): Promise<CrashControl> {
  return readCrashControl(new ResultReader('get_crash_control', await runner.run(scriptPath('get_crash_control'), {}, { timeoutMs: 60_000 })));
}

export interface CrashControlChange {
  dumpType?: CrashDumpType;
  autoReboot?: boolean;
  dumpFile?: string;
  minidumpDir?: string;
  overwrite?: boolean;
}

/** Writes the values given; changes take effect after a reboot (windows.md §4). */
export async function setCrashControl(runner: PowerShellRunner, change: CrashControlChange): Promise<{ before: CrashControl; after: CrashControl; changed: string[]; rebootRequired: boolean }> {
  const values: Record<string, string | number> = {};
  if (change.dumpType !== undefined) {
    if (!(change.dumpType in CRASH_DUMP_TYPES)) throw new UsageError(`dump type "${change.dumpType}" must be one of ${Object.keys(CRASH_DUMP_TYPES).join(', ')}`);
    values.CrashDumpEnabled = CRASH_DUMP_TYPES[change.dumpType];
  }
  if (change.autoReboot !== undefined) values.AutoReboot = change.autoReboot ? 1 : 0;
  if (change.overwrite !== undefined) values.Overwrite = change.overwrite ? 1 : 0;
  for (const [k, v] of [['DumpFile', change.dumpFile], ['MinidumpDir', change.minidumpDir]] as const) {
    if (v === undefined) continue;
    if (!/^(?:%SystemRoot%|[A-Za-z]:)\\[^"<>|*?\r\n]*$/i.test(v)) throw new UsageError(`${k} "${v}" must be an absolute path (or start with %SystemRoot%)`);
    values[k] = v;
  }
  const r = new ResultReader('set_crash_control', await runner.run(scriptPath('set_crash_control'), { values }, { timeoutMs: 60_000 }));
  const changed = r.array('changed').map(String);
  return {
    before: readCrashControl(r.child('set_crash_control', 'before')),
    after: readCrashControl(r.child('set_crash_control', 'after')),
    changed,
    rebootRequired: r.bool('rebootRequired'),
  };
}

export { FltmcError };
