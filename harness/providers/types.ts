// The provider seam: what the cell lifecycle asks of a hypervisor. Two levels, like syzkaller's
// vm/vmimpl: a Provider makes VMs, a VmInstance is one running VM. Capabilities only some
// hypervisors have live in their own interfaces behind type guards, so nothing outside providers/
// ever branches on the provider kind. Providers report what the hypervisor saw (events); they never
// decide that something "crashed": the cell monitor does.
import type { ImageManifest } from '../../images/manifest.ts';

/** QEMU's accelerators (what a VmSpec may ask for). */
export type Accel = 'kvm' | 'tcg';
export type AccelRequest = 'auto' | Accel;
/** What a running VM is accelerated by: QEMU's choice, or the hypervisor itself (Hyper-V). */
export type VmAccel = Accel | 'hyper-v';

/** Every limit a provider waits on, in milliseconds, before the slowdown factor is applied. */
export interface ProviderTimeouts {
  /** From process start until the guest's SSH server sends its banner. */
  readonly boot: number;
  /** One command to the hypervisor: a QMP command (and QEMU's greeting) or one Hyper-V host script. */
  readonly command: number;
  /** A stop: graceful power-down, then the forced path after it. */
  readonly stop: number;
  /** A guest memory dump until it is complete on disk. */
  readonly dump: number;
}

export interface VmSpec {
  /** Unique among running VMs of one state folder; letters, digits, `.`, `_`, `-`. */
  readonly name: string;
  /** Where the VM's evidence (console.log, dumps) and its throw-away files (overlay, socket) go. */
  readonly cellDir: string;
  /** The image to boot: the folder manifest.json is in, and the manifest read from it. */
  readonly image: { readonly dir: string; readonly manifest: ImageManifest };
  /** Defaults to the manifest's machine.memoryMiB. */
  readonly memoryMiB?: number;
  /** Defaults to the manifest's machine.cpus. */
  readonly cpus?: number;
  /** `auto` (the default) probes once per host; FLEETGATE_ACCEL=kvm|tcg overrides everything. */
  readonly accel?: AccelRequest;
  /** Overrides single limits; the TCG slowdown factor still applies to them. */
  readonly timeouts?: Partial<ProviderTimeouts>;
  /**
   * What start() waits for before it resolves: the SSH banner on the forwarded port (the default),
   * or only the hypervisor being up (for callers that watch the console themselves).
   */
  readonly waitFor?: 'ssh-banner' | 'hypervisor';
  /** Aborting tears the VM down: during start() (which then rejects) and afterwards. */
  readonly signal?: AbortSignal;
  /**
   * How to get a booted VM: `cold` (the default) boots the image; `warm` restores a state saved once
   * per image and machine options (made on first use) and fails if it cannot; `auto` tries warm and
   * falls back to a cold boot, saying why in VmInstance.start.fallbackReason. A restored guest's
   * clock is the saved one: the caller sets it. Providers without saved states boot cold.
   */
  readonly start?: 'auto' | 'cold' | 'warm';
}

/** How a VM was started and how long it took until ready (start() called to start() resolved). */
export interface VmStartInfo {
  readonly kind: 'cold' | 'warm';
  /** Excludes making a warm state on first use (a one-off per image and machine). */
  readonly ms: number;
  /** A warm start was asked for (`auto`) but this VM booted cold: why. */
  readonly fallbackReason?: string;
}

export type PanicInfo =
  /** Hyper-V crash MSRs (Windows bugcheck): code and the four parameters as `0x` hex. */
  | { readonly kind: 'hyper-v'; readonly code: string; readonly params: readonly string[] }
  | { readonly kind: 'pvpanic' }
  | { readonly kind: 's390' | 'other'; readonly raw: unknown };

interface EventBase {
  /** ISO time the host saw the event (QMP's own timestamp when there is one). */
  readonly at: string;
}

export type ProviderEvent =
  /** The guest reported a panic; `action` is what the hypervisor then did (pause, run, poweroff...). */
  | (EventBase & { readonly type: 'panicked'; readonly action: string; readonly info?: PanicInfo })
  /** The guest's crash kernel loaded after a panic (pvpanic's second signal). */
  | (EventBase & { readonly type: 'crashloaded'; readonly action: string; readonly info?: PanicInfo })
  | (EventBase & { readonly type: 'reset'; readonly guest: boolean; readonly reason: string })
  | (EventBase & { readonly type: 'shutdown'; readonly guest: boolean; readonly reason: string })
  | (EventBase & { readonly type: 'stop' })
  | (EventBase & { readonly type: 'resume' })
  /** The VM's process (or the hypervisor's VM object) is gone. Always the last event. */
  | (EventBase & { readonly type: 'exited'; readonly code: number | null; readonly signal: string | null });

export type ProviderEventType = ProviderEvent['type'];

export interface WaitForEventOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** Only events after this many earlier ones count (history().length taken before acting). */
  readonly after?: number;
}

/**
 * Every event of one VM. Iterating replays the history from the first event, then follows live
 * ones, and ends after `exited`; any number of readers may iterate at once.
 */
export interface ProviderEventStream extends AsyncIterable<ProviderEvent> {
  history(): readonly ProviderEvent[];
  /** The first event (after `options.after`) of that type; rejects with a TimeoutError. */
  waitFor<T extends ProviderEventType>(
    type: T,
    options: WaitForEventOptions,
  ): Promise<Extract<ProviderEvent, { type: T }>>;
}

/** What the hypervisor says about the VM. QEMU's run states plus `exited` when the process is gone. */
export type VmStatus =
  | 'running'
  | 'paused'
  | 'guest-panicked'
  | 'shutdown'
  | 'exited'
  | (string & Record<never, never>);

export type DumpFormat = 'kdump-zlib' | 'kdump-lzo' | 'kdump-snappy' | 'elf' | 'win-dmp';

export interface StopOptions {
  /** Ask the guest to power down first (ACPI); otherwise stop the hypervisor side at once. */
  readonly graceful: boolean;
  /** Defaults to the stop timeout. On expiry a graceful stop becomes a forced one. */
  readonly timeoutMs?: number;
}

export interface VmInstance extends AsyncDisposable {
  readonly name: string;
  readonly accel: VmAccel;
  /** Why that acceleration was chosen (probe result, override, missing /dev/kvm). */
  readonly accelReason: string;
  /** How the VM was started (cold boot or warm restore) and its time to ready; absent: cold. */
  readonly start?: VmStartInfo;
  /**
   * Where the guest's SSH server is reachable from the controller: QEMU forwards a loopback port
   * (127.0.0.1); a Hyper-V VM is reached at its own address on the host's virtual switch.
   */
  readonly ssh: { readonly host: string; readonly port: number };
  /** The serial console, appended to as the guest writes; kept after dispose (evidence). */
  readonly consolePath: string;
  readonly pid?: number;
  readonly events: ProviderEventStream;
  status(): Promise<VmStatus>;
  /** Non-maskable interrupt: Windows bugchecks 0x80; the lab guest panics (unknown_nmi_panic). */
  injectNmi(): Promise<void>;
  /**
   * Lets a paused VM run again. After a panic the lab guest is paused (panic=pause) so its memory
   * can be dumped; a panic in NMI context prints its text only once the guest runs again, so the
   * monitor resumes it to let the console catch up before the VM is stopped.
   */
  resume(): Promise<void>;
  /** Stops the VM; resolves once the hypervisor side is gone. Files stay until dispose. */
  stop(options: StopOptions): Promise<void>;
  /** Always leaves nothing running and no throw-away files; keeps console.log and dumps. */
  [Symbol.asyncDispose](): Promise<void>;
}

export interface Provider {
  readonly kind: ProviderKind;
  /** Boots a VM on a fresh writable layer over the image. A failed start leaves nothing behind. */
  start(spec: VmSpec): Promise<VmInstance>;
  /**
   * Removes what controllers that died left behind (processes, sockets, overlays, records) and
   * returns a line per thing removed. VMs of live controllers are left alone.
   */
  cleanupLeftovers(): Promise<string[]>;
}

/** The providers the registry knows; adding one here makes the registry demand its entry. */
export const PROVIDER_KINDS = ['qemu', 'hyperv'] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];

/** What the scheduler may rely on per provider, as data (syzkaller's Overcommit, Preemptible). */
export interface ProviderTraits {
  /** VMs may share host cores (more vCPUs than cores is fine). */
  readonly overcommit: boolean;
  /** Runs on the controller's own machine (unix sockets, /proc) rather than a remote host. */
  readonly local: boolean;
  /** Guest memory dumps from the host side. */
  readonly hostDumps: boolean;
  /** Default timeouts, before any slowdown. */
  readonly timeouts: ProviderTimeouts;
}

export interface ProviderOptions {
  /** Where VM records live (default `$FLEETGATE_STATE` or `<repo>/.cache/state`). */
  readonly stateDir?: string;
}

export interface ProviderFactory {
  readonly traits: ProviderTraits;
  create(options?: ProviderOptions): Provider;
}

// Optional capabilities ---------------------------------------------------------------------------

/** Raw access to the hypervisor's monitor, for diagnostics only (never for lifecycle decisions). */
export interface MonitorCapable {
  monitorCommand(command: string, args?: Record<string, unknown>): Promise<unknown>;
}

export function hasMonitor(vm: VmInstance): vm is VmInstance & MonitorCapable {
  return typeof (vm as Partial<MonitorCapable>).monitorCommand === 'function';
}

/**
 * Guest memory written from the host side (QEMU's dump-guest-memory). Hyper-V has none: its guest
 * writes its own dump (MEMORY.DMP), which the cell collects over the guest channel.
 */
export interface HostDumpCapable {
  /** Writes guest memory to `path` (kept after dispose). Defaults to kdump-zlib. */
  dumpMemory(path: string, format?: DumpFormat): Promise<{ path: string; bytes: number; format: DumpFormat }>;
}

export function hasHostDump(vm: VmInstance): vm is VmInstance & HostDumpCapable {
  return typeof (vm as Partial<HostDumpCapable>).dumpMemory === 'function';
}

/**
 * The VM's writable disk, readable on the controller without the VM (QEMU: the cell's qcow2 overlay),
 * for evidence a guest that never boots again leaves on it. Only once the VM is stopped (undefined
 * before); the file stays until dispose. Hyper-V has none yet: its disk is on the Hyper-V host
 * (Mount-VHD -ReadOnly there and a copy over the host channel is the way, not built).
 */
export interface OfflineDiskCapable {
  offlineDisk(): { path: string; format: 'qcow2' | 'vhdx' | 'raw' } | undefined;
}

export function hasOfflineDisk(vm: VmInstance): vm is VmInstance & OfflineDiskCapable {
  return typeof (vm as Partial<OfflineDiskCapable>).offlineDisk === 'function';
}
