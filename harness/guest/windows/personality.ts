// The Windows personality (harness/cell/personality.ts): a Windows guest as the cell lifecycle sees it.
// Its image is a golden image (images/windows, found by the cell's release and patch level), its driver
// package is an INF/SYS/CAT folder (driver/package), its channel is SSH to Windows OpenSSH, its
// operations are the guest's scripts (./scripts) and the driver's (driver/windows/*.ps1), composed with
// common.ps1 and sent as -EncodedCommand. Its crashes reach the host as the hypervisor's bugcheck event;
// the guest writes the dump itself (collect brings the Minidump folder back).
//
// Whose fault, said where it is known: pnputil refusing our package, fltmc refusing to load it (code
// integrity, DriverEntry), ours not attached or at an altitude another loaded filter holds are
// PackageRefused (the cell's install-failure); a guest that does not come back from the verifier's
// reboot is BootFailure (reboot.ts); the rest (the channel, the host's files, a session that is not
// elevated, a verifier setting that did not take) is infrastructure.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadDriverPackage, type DriverPackage } from '../../../driver/package/load.ts';
import { readWindowsDriverManifest, serviceValuesOf } from '../../../driver/package/manifest.ts';
import { verifierPlan, VERIFIER_PROFILE_NAMES, type VerifierProfileName } from '../../../driver/verifier/profiles.ts';
import { applyVerifier, verifyVerifierRunning } from '../../../driver/verifier/run.ts';
import { FltmcError, isProductLoadRefusal } from '../../../driver/windows/fltmc.ts';
import { checkLoadedAndAttached, DriverStepError, importCertificate, installDriver, readDenials, setServiceValues, startDriver, uninstallDriver, unloadDriver, upgradeDriver, type InstallMethod, type ServiceValueWrite } from '../../../driver/windows/lifecycle.ts';
import { readWindowsManifest, imageName, WINDOWS_DEDICATED_DUMP_FILE, type WindowsImageManifest } from '../../../images/windows/manifest.ts';
import { defaultImageStore } from '../../../images/windows/store.ts';
import type { Cell, FilterDelaysCapture } from '../../../matrix/index.ts';
import type { FilterDelays, Step } from '../../../runfolder/results.ts';
import type { AgentResult, WorkloadSpec } from '../../../workloads/agent/protocol.ts';
import { bundleAgent } from '../../../workloads/agent/bundle.ts';
import { parseAgentOutput } from '../../../workloads/result.ts';
import { bucketCrash } from '../../crash/bucket.ts';
import { windowsCrashReport } from '../../crash/windows/report.ts';
import { collectFromDisk, COLLECTION_FILE } from '../../crash/windows/disk/collect.ts';
import type { CrashReport } from '../../crash/types.ts';
import { InfraFailure, PackageRefused, RecordingFailed, TestError } from '../../cell/failures.ts';
import { InputError } from '../../../lib/errors.ts';
import { safeFileName as safeName } from '../../../lib/safe-name.ts';
import type { CrashStrategy, GuestPersonality, GuestSession, HostPackage, PreparedCell, StagedPackage } from '../../cell/personality.ts';
import type { VmInstance, VmStartInfo } from '../../providers/types.ts';
import type { GuestChannel } from '../channel.ts';
import { connectSsh, fromManifest, type SshConnectOptions } from '../ssh/client.ts';
import { WindowsScriptFailed } from './encode.ts';
import { readFilterDelaysFrom } from './filter-delays.ts';
import { rebootAndWait, waitForNewBoot } from './reboot.ts';
import { heartbeatCommand, sftpPath, WindowsGuest, windowsRemoteSha256, type WindowsIdentity } from './windows-guest.ts';

/** Per-step limits on the slowest host (a loaded Hyper-V host; a verifier reboot of a 24H2 guest). */
export const WINDOWS_TIMEOUTS: Readonly<Record<Step, number>> = {
  acquire: 15 * 60_000,
  identity: 5 * 60_000,
  baseline: 30 * 60_000,
  install: 10 * 60_000,
  // Apply, reboot (a verified boot is slow), load ours again, prove it running; plus a low-resources delay.
  verifier: 30 * 60_000,
  // The rounds: 2k+1 workload runs (k = 3), ours loaded and proved k times, and with the matrix's
  // filterDelays one more run recorded by WPR and exported (wpaexporter alone may take 30 minutes).
  workload: 120 * 60_000,
  unload: 5 * 60_000,
  collect: 10 * 60_000,
  triage: 10 * 60_000,
  verdict: 60_000,
  release: 5 * 60_000,
};

/** Where the harness keeps its files on the guest. */
export const GUEST_ROOT = 'C:\\fleetgate';
/** pnputil /add-driver /install handles primitive driver INFs from Windows 10 1903 (build 18362) on (windows.md section 3). */
export const PNPUTIL_MIN_BUILD = 18362;
/** The volume our filter must attach to in every cell (the system volume). */
export const REQUIRED_VOLUMES = ['C:'];

/**
 * Windows writes no crash text to the serial console the monitor reads: the hypervisor's bugcheck event
 * (code and parameters) is the evidence at the time, the dump the guest writes comes back with collect.
 */
export const WINDOWS_CRASH: CrashStrategy = {
  parseConsole: () => null,
  reportFrom: async (panic, files) => windowsCrashReport(panic?.kind === 'hyper-v' ? panic : undefined, files),
  fromDisk: async (disk, o) => {
    const out = path.join(o.dir, 'from-disk');
    const c = await collectFromDisk({ disk: disk.path, format: disk.format, out, dedicatedDumpFiles: [WINDOWS_DEDICATED_DUMP_FILE], notBefore: o.notBefore });
    // Fresh dumps only go to triage: a stale one is an earlier crash's (kept in the folder, listed).
    return [path.join(out, COLLECTION_FILE), ...c.files.filter((f) => !f.stale).map((f) => path.join(out, f.file))];
  },
  bucket: (report: CrashReport, cfg) => {
    const code = /\b0x([0-9a-f]{1,8})\b/i.exec(report.title);
    return bucketCrash({ kind: 'hypervisor', ...(code ? { code: Number.parseInt(code[1]!, 16) } : {}), params: [], ...(report.module ? { module: report.module } : {}) }, cfg);
  },
};

/** The golden image a cell boots: named by release and patch level (images/windows/manifest.ts imageName). */
export function windowsImageFor(cell: Cell, root = defaultImageStore()): { dir: string; manifest: WindowsImageManifest } {
  if (cell.os.build === null || cell.os.ubr === null) throw new InfraFailure(`${cell.id}: a Windows cell needs a patch level (build.UBR); ${cell.os.release} has none`);
  const dir = path.join(root, imageName(cell.os.release, cell.os.build, cell.os.ubr));
  if (!existsSync(dir)) throw new InfraFailure(`no golden image for ${cell.os.release} at ${cell.os.build}.${cell.os.ubr}: ${dir} does not exist (build it with fleetgate images, images/windows/README.md)`);
  return { dir, manifest: readWindowsManifest(dir) };
}

function ourPackage(cell: Cell): DriverPackage & { service: NonNullable<DriverPackage['service']> } {
  const pkg = loadDriverPackage(cell.driverBuild.path);
  if (!pkg.service) throw new PackageRefused('ours', path.basename(pkg.folder), `${pkg.infPath} installs no service: nothing to load`, undefined);
  const failed = pkg.checks.filter((c) => !c.ok);
  if (failed.length) {
    throw new PackageRefused('ours', pkg.service.name, `${pkg.infPath} fails its static checks: ${failed.map((c) => `${c.name}: ${c.explanation}`).join('; ')}`, {
      file: 'package-checks.txt',
      text: failed.map((c) => `${c.name}: ${c.explanation}\n`).join(''),
    });
  }
  return pkg as DriverPackage & { service: NonNullable<DriverPackage['service']> };
}

/**
 * The programs the harness starts on a Windows guest, each started harmlessly once ours is loaded
 * (sshd.exe is the service carrying the session itself). The manifest must allow each
 * (driver/package/manifest.ts HARNESS_EXECUTABLES).
 */
export const HARNESS_PROBES: ReadonlyArray<{ path: string; arguments: string[] }> = [
  { path: '%SystemRoot%\\System32\\cmd.exe', arguments: ['/c', 'exit 0'] },
  { path: '%SystemRoot%\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', arguments: ['-NoProfile', '-NonInteractive', '-EncodedCommand', Buffer.from('exit 0', 'utf16le').toString('base64')] },
  { path: '%ProgramFiles%\\nodejs\\node.exe', arguments: ['--version'] },
];

/** A driver parameter becomes a value of the service's Parameters key: a name the registry and our script take. */
const PARAM_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/**
 * A cell's driver parameters as values of Services\<service>\Parameters, where a Windows driver reads
 * its settings: a number as REG_DWORD, anything else as REG_SZ. Written with the manifest's values,
 * before the load.
 */
export function parameterValues(params: Readonly<Record<string, string | number>>): ServiceValueWrite[] {
  return Object.entries(params).map(([name, value]) =>
    typeof value === 'number' ? { key: 'Parameters', name, type: 'dword' as const, value } : { key: 'Parameters', name, type: 'string' as const, value: String(value) },
  );
}

/** How long a reboot may take: three times the image's measured boot, at least 30 s; unmeasured, half the verifier step. */
export function rebootLimitMs(manifest: Pick<WindowsImageManifest, 'machine'>): number {
  const measured = manifest.machine.bootSeconds;
  return measured === undefined ? WINDOWS_TIMEOUTS.verifier / 2 : Math.max(30_000, 3 * measured * 1000);
}

export interface WindowsPersonalityOptions {
  /** Golden images folder (default images/windows/store.ts defaultImageStore(): FLEETGATE_IMAGES or .cache/images/windows). */
  imageRoot?: string;
  /** Between attempts to reach a rebooting guest. @default 5000 */
  rebootPollMs?: number;
  /** shutdown /t of a cell's own reboots. @default 5 */
  rebootDelaySeconds?: number;
  /** Connects to a guest again after a reboot (default: SSH to the same endpoint). */
  connectOptions?: Partial<Omit<SshConnectOptions, 'host' | 'port'>>;
}

export function windowsPersonality(o: WindowsPersonalityOptions = {}): GuestPersonality {
  return {
    family: 'windows',
    timeouts: WINDOWS_TIMEOUTS,
    crash: WINDOWS_CRASH,

    async prepare(cell: Cell): Promise<PreparedCell> {
      const image = windowsImageFor(cell, o.imageRoot);
      const pkg = ourPackage(cell);
      // Read now so a bad manifest is the cell's input error before any VM, not mid-install.
      readWindowsDriverManifest(pkg.folder, pkg.service.name);
      if (cell.coexist.length) throw new InfraFailure(`${cell.id}: coexisting filters on Windows cells (${cell.coexist.join(', ')}) are not installed by this personality yet`);
      for (const [name, value] of Object.entries(cell.driverBuild.params)) {
        if (!PARAM_NAME.test(name)) throw new InfraFailure(`${cell.id}: driver parameter "${name}" is not a registry value name (letters, digits, "_", "-", ".")`);
        // Up to 2^31-1: PowerShell writes a REG_DWORD from an Int32 and reads it back as one.
        if (typeof value === 'number' && !(Number.isInteger(value) && value >= 0 && value <= 0x7fffffff)) {
          throw new InfraFailure(`${cell.id}: driver parameter ${name}=${value} is not a REG_DWORD fleetgate writes (a whole number from 0 to 2147483647)`);
        }
      }
      const from = cell.driverBuild.upgradeFrom ? ourPackage({ ...cell, driverBuild: { ...cell.driverBuild, path: cell.driverBuild.upgradeFrom.path } }) : null;
      if (from && from.service.name.toLowerCase() !== pkg.service.name.toLowerCase()) {
        throw new PackageRefused('ours', pkg.service.name, `${cell.id}: upgrade-from ${cell.driverBuild.upgradeFrom!.name} installs service ${from.service.name}, not ${pkg.service.name}: an upgrade replaces the same service`, undefined);
      }
      return {
        image: { dir: image.dir, manifest: image.manifest },
        packages: [{ role: 'ours', name: pkg.service.name, package: pkg.folder, path: pkg.folder }],
        ...(from ? { upgradeFrom: { role: 'ours' as const, name: from.service.name, package: from.folder, path: from.folder } } : {}),
        params: { ...cell.driverBuild.params },
        ours: [pkg.service.name],
      };
    },

    async connect(vm: VmInstance, prepared: PreparedCell, signal: AbortSignal): Promise<GuestSession> {
      const options = fromManifest(prepared.image.dir, prepared.image.manifest, vm.ssh, { remoteSha256: windowsRemoteSha256, heartbeatCommand, ...o.connectOptions });
      const reconnect = (s: AbortSignal): Promise<GuestChannel> => connectSsh({ ...options, signal: s });
      const manifest = prepared.image.manifest;
      return new WindowsSession(await reconnect(signal), reconnect, { rebootLimitMs: rebootLimitMs(manifest), build: Number(manifest.os.build), ubr: manifest.os.ubr ?? null, family: manifest.os.release.startsWith('server') ? 'server' : 'client' }, o);
    },
  };
}

interface Expected {
  rebootLimitMs: number;
  build: number;
  ubr: number | null;
  family: 'client' | 'server';
}

class WindowsSession implements GuestSession {
  private current: GuestChannel;
  private guest: WindowsGuest;
  private seen: WindowsIdentity | null = null;
  private agentUploaded: string | null = null;
  private installed: { pkg: StagedPackage; method: InstallMethod; sys: string; altitude: string } | null = null;
  /** Staging folders on the guest, by the package folder each holds. */
  private readonly stagedAt = new Map<string, string>();
  /** Where ours logs what it denies (its package manifest), read at collect. */
  private denialLog: { eventLog: string; provider: string } | null = null;
  /** Each package folder read (and hashed) once per session, not at every step. */
  private readonly packages = new Map<string, DriverPackage>();

  constructor(
    channel: GuestChannel,
    private readonly reconnect: (signal: AbortSignal) => Promise<GuestChannel>,
    private readonly expected: Expected,
    private readonly o: WindowsPersonalityOptions,
  ) {
    this.current = channel;
    this.guest = new WindowsGuest(channel);
  }

  /** After a reboot the channel is a new one: the monitor watches whichever is current. */
  get channel(): GuestChannel {
    return this.current;
  }

  private packageAt(dir: string): DriverPackage {
    let p = this.packages.get(dir);
    if (!p) this.packages.set(dir, (p = loadDriverPackage(dir)));
    return p;
  }

  private get runner() {
    return this.guest.powerShellRunner();
  }

  async settle(_start: VmStartInfo): Promise<string[]> {
    return [];
  }

  /** The build the guest runs, checked against the image the cell asked for (its patch level). */
  async identity(): Promise<{ build: string }> {
    const id = await this.guest.identity();
    this.seen = id;
    if (id.build !== this.expected.build || (this.expected.ubr !== null && id.ubr !== this.expected.ubr)) {
      throw new InfraFailure(`the guest runs ${id.patchLevel}, but its image is ${this.expected.build}.${this.expected.ubr ?? '?'}: the image is not the patch level the cell asked for`);
    }
    return { build: id.patchLevel };
  }

  async runWorkload(spec: WorkloadSpec, o: { timeoutMs: number; signal: AbortSignal }): Promise<AgentResult> {
    const input = await this.sendWorkload(spec);
    const seconds = Math.ceil(o.timeoutMs / 1000);
    const r = await this.guest.runScript<{ exitCode: number; stdout: string | null; stderr: string | null }>(
      'run_workload',
      { ...input, timeoutSeconds: seconds },
      { timeoutMs: o.timeoutMs + 60_000, maxBufferBytes: 16 * 1024 * 1024 },
    );
    return this.agentResult(spec, r.stdout);
  }

  /** The agent (once a session) and the spec on the guest: run_workload's paths. */
  private async sendWorkload(spec: WorkloadSpec): Promise<{ agent: string; spec: string; workdir: string }> {
    const agent = await bundleAgent();
    const dir = `${GUEST_ROOT}\\agent`;
    if (this.agentUploaded !== agent.path) {
      await this.guest.newFolder(dir);
      await this.current.upload(agent.path, sftpPath(`${dir}\\agent.js`));
      this.agentUploaded = agent.path;
    }
    const specName = `spec-${safeName(spec.name)}.json`;
    const local = await mkdtemp(path.join(tmpdir(), 'fg-spec-'));
    try {
      await writeFile(path.join(local, specName), JSON.stringify(spec));
      await this.current.upload(path.join(local, specName), sftpPath(`${dir}\\${specName}`));
    } finally {
      await rm(local, { recursive: true, force: true });
    }
    return { agent: `${dir}\\agent.js`, spec: `${dir}\\${specName}`, workdir: `${GUEST_ROOT}\\work` };
  }

  private agentResult(spec: WorkloadSpec, stdout: string | null): AgentResult {
    const out = parseAgentOutput(stdout ?? '', `agent output for ${spec.name}`);
    if (out.kind === 'fatal') throw new TestError(`the agent could not run ${spec.name}: ${out.fatal.fatal}`);
    return out.result;
  }

  /**
   * One run of `spec` recorded by WPR (GeneralProfile, FileIO, Minifilter; windows.md section 8) and
   * exported on the guest by wpaexporter with the matrix's .wpaProfile (capture_filter_delays.ps1);
   * the export files brought into `dir` and the Mini-Filter Delays table among them read
   * (filter-delays.ts). UNVERIFIED on Windows: run only against the guest double.
   */
  async captureFilterDelays(spec: WorkloadSpec, o: FilterDelaysCapture & { dir: string; timeoutMs: number; signal: AbortSignal }): Promise<{ result: AgentResult; delays: FilterDelays; files: string[]; tool: string }> {
    // The profile is the matrix's, checked when it was planned; a run resumed elsewhere may lack it.
    if (!existsSync(o.wpaProfile)) throw new RecordingFailed(`no WPA profile at ${o.wpaProfile} on this machine (the matrix's filterDelays.wpaProfile)`);
    const input = await this.sendWorkload(spec);
    const folder = `${GUEST_ROOT}\\capture\\${safeName(spec.name)}`;
    await this.guest.newFolder(folder);
    const profile = `${folder}\\${safeName(path.basename(o.wpaProfile))}`;
    await this.current.upload(o.wpaProfile, sftpPath(profile));
    type Answer = { agentError: string } | { exitCode: number; stdout: string | null; stderr: string | null; etlBytes: number; files: Array<{ path: string; sizeBytes: number }> };
    const r = await this.guest
      .runScript<Answer>(
        'capture_filter_delays',
        { ...input, outDir: folder, profile, timeoutSeconds: Math.ceil(o.timeoutMs / 1000), ...(o.exporter ? { exporter: o.exporter } : {}) },
        { timeoutMs: o.timeoutMs + 40 * 60_000, maxBufferBytes: 16 * 1024 * 1024 },
      )
      .catch((e: unknown) => {
        // The script ran and said wpr or wpaexporter failed (or the image has no Toolkit): not recorded.
        throw e instanceof WindowsScriptFailed ? new RecordingFailed(`the filter-delay recording failed: ${e.message}`, { cause: e }) : e;
      });
    // The agent failing in the recorded run is that run's failure, as in run_workload.
    if ('agentError' in r) throw new InfraFailure(`the recorded run of ${spec.name} failed: ${r.agentError}`);
    const result = this.agentResult(spec, r.stdout);
    const files: string[] = [];
    for (const f of r.files) {
      const local = path.join(o.dir, `filter-delays-${safeName(spec.name)}-${safeName(f.path.split('\\').pop() ?? 'export')}`);
      await this.current.download(sftpPath(f.path), local);
      files.push(local);
    }
    const delays = await readFilterDelaysFrom(files).catch((e: unknown) => {
      throw e instanceof InputError ? new RecordingFailed(`the export does not read: ${e.message}`, { cause: e }) : e;
    });
    return { result, delays, files, tool: `wpr + wpaexporter (${path.basename(o.wpaProfile)}; recording ${r.etlBytes} bytes, deleted once exported)` };
  }

  /** The package folder to C:\fleetgate\packages\<name>, file by file, each checked by its SHA-256. */
  async stage(pkg: HostPackage): Promise<StagedPackage> {
    // One folder per package folder: an upgrade's two builds share a service name, not a folder.
    let folder = `${GUEST_ROOT}\\packages\\${pkg.name}`;
    for (let n = 2; this.stagedAt.has(folder) && this.stagedAt.get(folder) !== pkg.path; n++) folder = `${GUEST_ROOT}\\packages\\${pkg.name}-${n}`;
    this.stagedAt.set(folder, pkg.path);
    await this.guest.newFolder(folder);
    const files = readdirSync(pkg.path).filter((f) => statSync(path.join(pkg.path, f)).isFile());
    const loaded = this.packageAt(pkg.path);
    const sys = path.basename(loaded.service?.binary ?? `${pkg.name}.sys`);
    let sha256 = '';
    for (const f of files) {
      const r = await this.current.upload(path.join(pkg.path, f), sftpPath(`${folder}\\${f}`));
      if (f.toLowerCase() === sys.toLowerCase()) sha256 = r.sha256;
    }
    if (!sha256) throw new InfraFailure(`${pkg.path} has no ${sys} to send`);
    return { ...pkg, remote: `${folder}\\${path.basename(loaded.infPath)}`, sha256 };
  }

  /** pnputil (Windows 10 1903 and later) or InstallHinfSection, fltmc load, then proved loaded and attached. */
  async install(pkg: StagedPackage, params: Record<string, string | number> = {}): Promise<void> {
    const loaded = this.packageAt(pkg.path);
    const service = loaded.service!;
    const sys = path.basename(service.binary ?? `${pkg.name}.sys`);
    const altitude = service.altitude ?? undefined;
    const method: InstallMethod = this.expected.build >= PNPUTIL_MIN_BUILD ? 'pnputil' : 'infsection';
    const refused = (message: string, text: string, cause?: unknown): PackageRefused =>
      new PackageRefused(pkg.role, pkg.name, message, { file: 'install.txt', text: `${text.trimEnd()}\n` }, cause === undefined ? undefined : { cause });
    // A test-signed build ships the certificate it was signed with: trusted before the install.
    const folder = pkg.remote.slice(0, pkg.remote.lastIndexOf('\\'));
    for (const cer of loaded.files.filter((f) => /^[^/]+\.cer$/i.test(f.path))) {
      try {
        await importCertificate(this.runner, { path: `${folder}\\${cer.path}` });
      } catch (err) {
        if (err instanceof WindowsScriptFailed) throw refused(`${cer.path}, the certificate ${pkg.name} ships, could not be imported: ${err.message}`, err.message, err);
        throw err;
      }
    }
    try {
      await installDriver(this.runner, { infPath: pkg.remote, service: service.name, sysName: sys, method, ...(altitude ? { altitude } : {}) });
    } catch (err) {
      if (err instanceof DriverStepError) throw refused(`${method} did not install ${pkg.name}: ${err.message}`, err.output, err);
      throw err;
    }
    // Recorded before the load: an uninstall is owed from here on, whatever the load does.
    this.installed = { pkg, method, sys, altitude: altitude ?? '' };
    await this.configureAndLoad(pkg, service.name, altitude ?? null, params, refused);
  }

  /**
   * The product's mode, the harness's executables allowed and the cell's parameters, written before it
   * loads and starts denying; then loaded, proved attached, and the harness's programs proved to start.
   */
  private async configureAndLoad(pkg: StagedPackage, service: string, altitude: string | null, params: Record<string, string | number>, refused: (m: string, t: string, c?: unknown) => PackageRefused): Promise<void> {
    const manifest = readWindowsDriverManifest(pkg.path, service);
    this.denialLog = manifest?.denials ?? null;
    const values = [...(manifest ? serviceValuesOf(manifest) : []), ...parameterValues(params)];
    if (values.length) await setServiceValues(this.runner, { service, values });
    await this.load(service, altitude, refused);
    if (manifest) await this.checkHarnessStarts(service, refused);
  }

  /**
   * With ours loaded, each program the harness runs must still start (the manifest allows them): one
   * that is denied would make every later step fail, and a heartbeat that cannot start cmd.exe would
   * look like a hung guest. Denied while the package's allow list names it is ours to answer for.
   */
  private async checkHarnessStarts(service: string, refused: (m: string, t: string) => PackageRefused): Promise<void> {
    const r = await this.guest.runScript<{ programs: Array<{ path: string; started: boolean; exitCode: number | null; stderr: string; error: string | null }> }>('test_harness_starts', { programs: HARNESS_PROBES }, { timeoutMs: 300_000 });
    const denied = r.programs.filter((p) => !p.started || p.exitCode !== 0);
    if (denied.length) {
      const lines = denied.map((p) => `${p.path}: ${p.started ? `exit ${String(p.exitCode)}: ${p.stderr}` : `not started: ${p.error ?? 'no reason given'}`}`);
      const logged = await this.denialLines().catch((err: unknown) => [`(its denial log could not be read: ${String(err)})`]);
      throw refused(`${service} denies programs the harness runs, which its package manifest allows: ${lines.join('; ')}`, [...lines, '', ...logged].join('\n'));
    }
  }

  private async load(service: string, altitude: string | null, refused: (m: string, t: string, c?: unknown) => PackageRefused): Promise<void> {
    try {
      await startDriver(this.runner, { service });
    } catch (err) {
      if (err instanceof FltmcError && isProductLoadRefusal(err)) throw refused(`fltmc load ${service} was refused: ${err.message}`, err.rawLine, err);
      throw err;
    }
    // The first thing after the load: the heartbeat's cmd.exe still starts and opens a file. An
    // allowlisting filter that denies it would lock the harness out of every later step.
    const beat = await this.current.exec(heartbeatCommand, { timeoutMs: 60_000 });
    if (beat.exitCode !== 0) {
      throw refused(`${service} stops the harness's heartbeat, a cmd.exe opening a file, once loaded: ${beat.stderr.trim() || `exit ${String(beat.exitCode)}`}`, `${heartbeatCommand}\n${beat.stderr}`);
    }
    if (altitude === null) return;
    const check = await checkLoadedAndAttached(this.runner, { service, altitude, volumes: REQUIRED_VOLUMES });
    const listing = check.instances.map((i) => `${i.filter} ${i.volume} ${i.altitude}`).join('\n');
    if (!check.loaded) throw refused(`${service} is not in fltmc filters after a load that reported success`, listing);
    const others = check.filters.filter((f) => f.altitude === altitude && f.name.toLowerCase() !== service.toLowerCase()).map((f) => f.name);
    if (others.length) throw refused(`${service}'s altitude ${altitude} collides with ${others.join(', ')}, already loaded`, listing);
    if (!check.altitudeOk) throw refused(`${service} runs at altitude ${check.filterAltitude}, not the INF's ${altitude}`, listing);
    if (check.missingVolumes.length) throw refused(`${service} did not attach to ${check.missingVolumes.join(', ')}`, listing || '(no instance of ours)');
  }

  /**
   * Applies the profile, reboots, loads ours again (a demand-start filter does not come back by
   * itself) and proves the profile running with `verifier /query`. The low-resources profile's fault
   * delay is waited out from the new boot, so the workload sees faults from its start.
   */
  async applyVerifier(profile: string, signal: AbortSignal): Promise<{ applied: boolean; note?: string }> {
    if (!(VERIFIER_PROFILE_NAMES as readonly string[]).includes(profile)) throw new InfraFailure(`verifier profile ${profile} is not one of ${VERIFIER_PROFILE_NAMES.join(', ')}`);
    if (!this.installed) throw new InfraFailure('the verifier step needs ours installed first');
    const plan = verifierPlan(profile as VerifierProfileName, { build: this.expected.build, family: this.expected.family }, { driver: this.installed.sys });
    const applied = await applyVerifier(this.runner, plan);
    const notes = [...plan.commandLines];
    if (applied.rebootRequired) {
      const rebooted = await rebootAndWait(this.current, {
        reconnect: this.reconnect,
        timeoutMs: this.expected.rebootLimitMs,
        ...(this.o.rebootPollMs !== undefined ? { pollMs: this.o.rebootPollMs } : {}),
        ...(this.o.rebootDelaySeconds !== undefined ? { delaySeconds: this.o.rebootDelaySeconds } : {}),
        signal,
      });
      await this.current.close().catch(() => undefined);
      this.current = rebooted.channel;
      this.guest = new WindowsGuest(rebooted.channel);
      this.seen = rebooted.identity;
      notes.push(`rebooted in ${Math.round(rebooted.ms / 1000)} s (last boot ${rebooted.identity.lastBootUpTime})`);
      const { pkg, altitude } = this.installed;
      await this.load(pkg.name, altitude || null, (m, t, c) => new PackageRefused(pkg.role, pkg.name, `after the verifier reboot: ${m}`, { file: 'install.txt', text: `${t}\n` }, c === undefined ? undefined : { cause: c }));
    }
    const running = await verifyVerifierRunning(this.runner, plan);
    if (!running.ok) throw new InfraFailure(`verifier ${profile} is not running as asked: ${running.problems.join('; ')}`);
    if (plan.lowResources && plan.lowResources.delayMinutes > 0) {
      const boot = Date.parse(this.seen?.lastBootUpTime ?? '');
      const wait = Number.isFinite(boot) ? boot + plan.lowResources.delayMinutes * 60_000 - Date.now() : plan.lowResources.delayMinutes * 60_000;
      if (wait > 0) await sleep(wait, undefined, { signal });
      notes.push(`waited out the ${plan.lowResources.delayMinutes}-minute fault delay from boot: the workload sees faults from its start`);
    }
    notes.push(`verifier /query: flags 0x${(running.query.enabledFlags ?? 0).toString(16)}, ${running.query.modules.map((m) => `${m.name} (load: ${m.loads})`).join(', ')}`);
    return { applied: true, note: notes.join('; ') };
  }

  /**
   * The previous build installed (install() above), upgraded in place to ours: upgrade_driver unloads
   * it, installs the new package the way install does and loads it, and checks the installed file is
   * the new build's; then ours is proved loaded and attached, and the harness's programs still start.
   */
  async upgrade(from: StagedPackage, to: StagedPackage, params: Record<string, string | number> = {}): Promise<void> {
    if (!this.installed || this.installed.pkg !== from) throw new InfraFailure(`the upgrade needs ${from.name} installed first`);
    const loaded = this.packageAt(to.path);
    const service = loaded.service!;
    const sys = path.basename(service.binary ?? `${to.name}.sys`);
    const altitude = service.altitude ?? null;
    const refused = (message: string, text: string, cause?: unknown): PackageRefused =>
      new PackageRefused(to.role, to.name, message, { file: 'install.txt', text: `${text.trimEnd()}\n` }, cause === undefined ? undefined : { cause });
    try {
      await upgradeDriver(this.runner, { infPath: to.remote, service: service.name, sysName: sys, method: this.installed.method, newSha256: to.sha256 });
    } catch (err) {
      if (err instanceof DriverStepError) throw refused(`upgrading ${from.name} to this build failed: ${err.message}`, err.output, err);
      if (err instanceof FltmcError && isProductLoadRefusal(err)) throw refused(`fltmc load after the upgrade was refused: ${err.message}`, err.rawLine, err);
      throw err;
    }
    this.installed = { pkg: to, method: this.installed.method, sys, altitude: altitude ?? '' };
    await this.configureAndLoad(to, service.name, altitude, params, refused);
  }

  async fire(pkg: StagedPackage, knob: string): Promise<void> {
    throw new InfraFailure(`${pkg.name} on Windows has no knob "${knob}": knobs are the lab module's`);
  }

  /**
   * `fltmc unload` between latency rounds; the service stays installed. A filter that refuses
   * (ERROR_FLT_DO_NOT_DETACH: it registered no unload callback, or it vetoes the unload) is said, and
   * the lifecycle measures sequentially instead. Detaching its instances would leave its process and
   * registry callbacks in, so it is no baseline either.
   */
  async takeOut(pkg: StagedPackage): Promise<{ out: true } | { out: false; why: string }> {
    const r = await unloadDriver(this.runner, { service: pkg.name });
    if (r.unloaded) return { out: true };
    if (r.reason === 'refused') return { out: false, why: `fltmc unload ${pkg.name} was refused (${r.hresult}): ${r.output.trim()}` };
    throw new InfraFailure(`${pkg.name} was not loaded when it was to be taken out for a baseline run (${r.hresult}): ${r.output.trim()}`);
  }

  /** `fltmc load` again, proved attached at its altitude and the harness's programs proved to start, as install does. */
  async putBack(pkg: StagedPackage): Promise<void> {
    const service = this.packageAt(pkg.path).service!;
    const refused = (message: string, text: string, cause?: unknown): PackageRefused =>
      new PackageRefused(pkg.role, pkg.name, `loading it again for a driver round: ${message}`, { file: 'install.txt', text: `${text.trimEnd()}\n` }, cause === undefined ? undefined : { cause });
    const manifest = readWindowsDriverManifest(pkg.path, service.name);
    await this.load(service.name, service.altitude ?? null, refused);
    if (manifest) await this.checkHarnessStarts(service.name, refused);
  }

  async unload(pkg: StagedPackage): Promise<void> {
    const r = await unloadDriver(this.runner, { service: pkg.name });
    if (!r.unloaded && r.reason === 'refused') throw new TestError(`${pkg.name} refused to unload (${r.hresult}): ${r.output.trim()}`);
    const method = this.installed?.method ?? 'pnputil';
    const sys = this.installed?.sys ?? `${pkg.name}.sys`;
    await uninstallDriver(this.runner, { method: method === 'pnputil' ? 'pnputil' : 'service', service: pkg.name, sysName: sys, infPath: pkg.remote });
    this.installed = null;
  }

  /** What ours logged as denied, one line each (newest first), from where its manifest says it logs. */
  private async denialLines(): Promise<string[]> {
    if (!this.denialLog) return [];
    const events = await readDenials(this.runner, { logName: this.denialLog.eventLog, provider: this.denialLog.provider });
    return events.map((e) => `${e.time ?? '(no time)'} ${this.denialLog!.eventLog}/${this.denialLog!.provider} ${e.id} ${e.level}: ${e.message}`);
  }

  /**
   * The dumps Windows wrote (MEMORY.DMP, Minidump\*.dmp), each brought back whole and checked, and
   * what ours logged as denied (denials.txt, when it denied anything).
   */
  async collect(dir: string): Promise<string[]> {
    const out: string[] = [];
    const denials = await this.denialLines();
    if (denials.length) {
      const file = path.join(dir, 'denials.txt');
      await writeFile(file, `${denials.join('\n')}\n`);
      out.push(file);
    }
    for (const d of await this.guest.listDumps()) {
      const name = safeName(`${d.kind === 'memory' ? 'MEMORY' : d.kind}-${d.path.split('\\').pop()}`);
      const local = path.join(dir, name);
      await this.current.download(sftpPath(d.path), local);
      out.push(local);
    }
    return out;
  }

  /**
   * After a bugcheck Windows writes its dump and restarts by itself (AutoReboot): reconnect until the
   * guest answers with a new boot time, then bring the dumps back. A guest that does not come back
   * within the image's reboot limit leaves only the hypervisor's record: no files, said in the error.
   */
  async afterCrash(dir: string, signal: AbortSignal): Promise<string[]> {
    const previous = this.seen?.lastBootUpTime;
    if (!previous) throw new InfraFailure('cannot wait for the guest to restart after its crash: its boot time was never read');
    await this.current.close().catch(() => undefined);
    const back = await waitForNewBoot(previous, {
      reconnect: this.reconnect,
      timeoutMs: this.expected.rebootLimitMs,
      ...(this.o.rebootPollMs !== undefined ? { pollMs: this.o.rebootPollMs } : {}),
      signal,
    });
    if (!('channel' in back)) throw new InfraFailure(`the guest did not restart after its crash within ${Math.round(this.expected.rebootLimitMs / 1000)} s (${back.last}): its dump stays on the disk`);
    this.current = back.channel;
    this.guest = new WindowsGuest(back.channel);
    this.seen = back.identity;
    return this.collect(dir);
  }

  async close(): Promise<void> {
    await this.current.close();
  }
}
