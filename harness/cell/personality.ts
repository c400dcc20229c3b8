// The guest OS personality seam (DESIGN.md "Guest OS personality"): everything the cell lifecycle asks
// of a guest's operating system, by name. harness/guest/linux/ is the lab's; harness/guest/windows/
// is Windows's. The lifecycle (lifecycle.ts) only calls these and the provider; it never knows which
// OS it is driving. A personality throws the failure types of failures.ts so that whose fault it was
// is said where it is known and decided in one place.
import type { Cell, FilterDelaysCapture } from '../../matrix/index.ts';
import type { AgentResult, WorkloadSpec } from '../../workloads/agent/protocol.ts';
import type { AttributionConfig, CrashBucket } from '../crash/bucket.ts';
import type { CrashReport } from '../crash/types.ts';
import type { GuestChannel } from '../guest/channel.ts';
import type { PanicInfo, VmInstance, VmSpec, VmStartInfo } from '../providers/types.ts';
import type { FilterDelays, Step } from '../../runfolder/results.ts';

export type OsFamily = 'linux' | 'windows';

/** A driver package ready on the host side: ours (the matrix's driver build) or a coexisting filter. */
export interface HostPackage {
  role: 'ours' | 'coexist';
  /** The module or service name the guest knows it by. */
  name: string;
  /** Ours: the package folder it came from; a coexisting filter: the matrix's name for it. */
  package: string;
  /** What is sent to the guest: the lab's .ko; on Windows the package folder (INF, SYS, CAT). */
  path: string;
}

/** A package on the guest, not installed yet; `sha256` is of what arrived (the sign-off names it). */
export interface StagedPackage extends HostPackage {
  /** Where it is on the guest. */
  remote: string;
  sha256: string;
}

/** What the host-side preparation of one attempt gives: the image to boot and the packages, in load order. */
export interface PreparedCell {
  image: VmSpec['image'];
  /** Coexisting filters first, ours last: they are on the machine before ours arrives. */
  packages: HostPackage[];
  /** Install-time parameters of ours (module parameters; a Windows service's registry values). */
  params: Record<string, string | number>;
  /**
   * An upgrade-from cell's previous build of ours: installed first, then upgraded in place to ours
   * (matrix driver `upgrade-from`).
   */
  upgradeFrom?: HostPackage;
  /** A knob of ours fired as the watched workload starts (the lab module's `trigger`), if any. */
  trigger?: string;
  /** Module names crash attribution treats as ours. */
  ours: string[];
}

/** One guest, reachable: what the steps do on it. Every method may throw failures.ts types. */
export interface GuestSession {
  /** The channel the monitor watches (heartbeat) while the workload runs. */
  readonly channel: GuestChannel;
  /** Right after the VM is ready: what a warm restore needs (the guest clock); lines for the journal. */
  settle(start: VmStartInfo, signal: AbortSignal): Promise<string[]>;
  /** The build the guest really runs (Windows `build.UBR`, the lab's kernel release). */
  identity(signal: AbortSignal): Promise<{ build: string }>;
  /** Runs one workload through the in-guest agent. A broken workload is TestError. */
  runWorkload(spec: WorkloadSpec, o: { timeoutMs: number; signal: AbortSignal }): Promise<AgentResult>;
  /** Sends a package to the guest. Fails only as infrastructure (the channel, the host's files). */
  stage(pkg: HostPackage, signal: AbortSignal): Promise<StagedPackage>;
  /** Installs, loads and proves attached. The OS refusing it is PackageRefused with its words. */
  install(pkg: StagedPackage, params: Record<string, string | number>, signal: AbortSignal): Promise<void>;
  /**
   * Upgrades the installed previous build `from` to `to` in place (unload, install the new package,
   * load), proved loaded and attached as install proves it. Absent: the OS has no upgrade path here.
   */
  upgrade?(from: StagedPackage, to: StagedPackage, params: Record<string, string | number>, signal: AbortSignal): Promise<void>;
  /** Applies and proves a verifier profile; a profile the OS has no equivalent of is not applied, and said. */
  applyVerifier(profile: string, signal: AbortSignal): Promise<{ applied: boolean; note?: string }>;
  /** Fires one of our driver's knobs; the guest may crash before it answers. */
  fire(pkg: StagedPackage, knob: string): Promise<void>;
  /**
   * Takes ours out between latency rounds, so the next baseline run is this machine without it
   * (coexisting filters stay): the lab's rmmod, Windows's `fltmc unload`. `{ out: false, why }` when
   * ours refuses to go (a filter that cannot unload): the lifecycle then measures sequentially and
   * says so. Absent: this OS cannot take a driver out; the same fallback.
   */
  takeOut?(pkg: StagedPackage, signal: AbortSignal): Promise<{ out: true } | { out: false; why: string }>;
  /** Puts ours back after takeOut, loaded and proved attached as install proves it (refused: PackageRefused). */
  putBack?(pkg: StagedPackage, params: Record<string, string | number>, signal: AbortSignal): Promise<void>;
  /**
   * One more run of `spec` with ours in, recorded by the OS's own tracing of the filter stack
   * (Windows: WPR's Minifilter profile, exported by wpaexporter with the matrix's `wpaProfile`): the
   * export brought into `dir` and read. Absent: this OS has no such recording. A recording the guest
   * says failed, or an export that does not read, is RecordingFailed, which the lifecycle records as
   * not captured, never as a verdict; the recorded run itself failing is that run's failure.
   */
  captureFilterDelays?(spec: WorkloadSpec, o: FilterDelaysCapture & { dir: string; timeoutMs: number; signal: AbortSignal }): Promise<{ result: AgentResult; delays: FilterDelays; files: string[]; tool: string }>;
  /** Unloads and uninstalls ours (taken out already: uninstalls). */
  unload(pkg: StagedPackage, signal: AbortSignal): Promise<void>;
  /** Evidence the guest holds (kernel log, event records, counters), written into `dir`; the paths. */
  collect(dir: string, signal: AbortSignal): Promise<string[]>;
  /**
   * After a crash, where the guest writes its own dump and restarts (Windows; not where the host
   * dumps the VM's memory): waits for it to come back and brings that evidence into `dir`.
   */
  afterCrash?(dir: string, signal: AbortSignal): Promise<string[]>;
  close(): Promise<void>;
}

/** How this OS's crashes are read: the monitor and triage take these instead of knowing an OS. */
export interface CrashStrategy {
  /** The serial console's crash report, or null. */
  parseConsole(text: string): CrashReport | null;
  /** File name (in the attempt folder) of a host-side memory dump; absent: the guest writes its own. */
  hostDumpFile?: string;
  bucket(report: CrashReport, cfg: AttributionConfig): CrashBucket;
  /**
   * Where the console says nothing (Windows): the report from what the hypervisor recorded (the
   * bugcheck code and parameters) and the evidence files the guest gave back (its dumps).
   */
  reportFrom?(panic: PanicInfo | undefined, files: readonly string[]): Promise<CrashReport | null>;
  /**
   * A guest that crashed and never came back (Windows: the dump is still in the dedicated dump file,
   * never copied to MEMORY.DMP): its evidence read off the stopped VM's disk into `dir`; the paths.
   * Dumps written before `notBefore` are an earlier crash's. A disk that does not read is InputError.
   */
  fromDisk?(disk: { path: string; format: 'qcow2' | 'vhdx' | 'raw' }, o: { dir: string; notBefore: Date; signal: AbortSignal }): Promise<string[]>;
}

export interface GuestPersonality {
  readonly family: OsFamily;
  /** Per-step limits for this OS (the slowest provider's), in ms; the lifecycle applies them. */
  readonly timeouts: Readonly<Record<Step, number>>;
  readonly crash: CrashStrategy;
  /**
   * Host-side work before a VM exists: the image to boot and the packages built or checked. The
   * compiler or packager refusing ours is PackageRefused (the cell's install failure, found without
   * booting); a host that cannot build is InfraFailure.
   */
  prepare(cell: Cell, o: { attemptDir: string; signal: AbortSignal }): Promise<PreparedCell>;
  /** Connects to the booted VM (SSH to the lab guest; SSH or PowerShell Direct to Windows). */
  connect(vm: VmInstance, prepared: PreparedCell, signal: AbortSignal): Promise<GuestSession>;
}
