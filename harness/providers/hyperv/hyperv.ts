// The Hyper-V provider: one Hyper-V VM per cell on a differencing VHDX over the image's golden VHDX
// (or, in checkpoint mode, a kept VM returned to its clean checkpoint), driven through host scripts
// (./scripts, run by a HyperVHost: local powershell.exe or a remote host over SSH).
//
// What Hyper-V gives the provider, and how it becomes the seam's events (windows.md section 5):
//   - a guest bugcheck: event 18590 in Microsoft-Windows-Hyper-V-Worker-Admin, polled with
//     get_crash_events and read by harness/crash/windows/events.ts parseHyperVEvent18590 → panicked
//     {action:'run', info:{kind:'hyper-v', code, params}}. 'run': Hyper-V lets the guest go on to
//     write MEMORY.DMP and reboot, like QEMU's -action panic=none for Windows.
//   - the VM's state by name (State.ToString()), polled with get_vm_state: Off → shutdown + exited;
//     Paused ↔ Running → stop/resume; uptime going back → reset (a reboot; unverified that Uptime
//     restarts on a guest-initiated reboot, it does on Start-VM).
// There is no host-side memory dump: the guest writes its own (ProviderTraits.hostDumps false).
// Written against the documented formats and checked with a recorded host (testdata/), not against a
// live Hyper-V host: see images/windows/README.md.
import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EXIT, FleetgateError, InfraFailure, UsageError } from '../../../lib/errors.ts';
import { parseHyperVEvent18590 } from '../../crash/windows/events.ts';
import { CleanupStack } from '../cleanup-stack.ts';
import { EventLog } from '../event-stream.ts';
import { waitForSshBanner, type BannerWaitOptions } from '../ssh-banner.ts';
import { resolveTimeouts, TimeoutError } from '../timeouts.ts';
import type {
  DumpFormat,
  PanicInfo,
  Provider,
  ProviderEvent,
  ProviderOptions,
  ProviderTimeouts,
  StopOptions,
  VmInstance,
  VmSpec,
  VmStatus,
} from '../types.ts';
import {
  formatTag,
  isControllerAlive as defaultIsControllerAlive,
  parseTag,
  sameController,
  thisControllerId,
  type ControllerId,
  type VmTag,
} from './controller.ts';
import { hostFromEnv, HyperVHostError, type HyperVHost } from './host.ts';
import { addressResult, crashEventsResult, listResult, newVmResult, removedResult, stopResult, vmStateResult, type ListedVm, type VmStateResult } from './results.ts';

/** boot: a Windows guest to its SSH banner; command: one host script (a PowerShell start costs seconds). */
export const HYPERV_TIMEOUTS: ProviderTimeouts = { boot: 600_000, command: 120_000, stop: 60_000, dump: 600_000 };
export const HYPERV_VM_PREFIX = 'fleetgate-';
/** Where per-cell VM folders go on the host unless FLEETGATE_HYPERV_VM_ROOT says otherwise. */
export const DEFAULT_VM_ROOT = 'C:\\fleetgate\\vms';
/** The switch Windows 10/11 and Server 2019+ create for NAT'd VMs. */
export const DEFAULT_SWITCH = 'Default Switch';
export const DEFAULT_CHECKPOINT = 'fleetgate-clean';
/** Each poll starts powershell.exe twice on the host: every few seconds, not faster. */
export const DEFAULT_POLL_MS = 3_000;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface HyperVProviderOptions extends ProviderOptions {
  /** The host; default from FLEETGATE_HYPERV_HOST (SSH) or this machine (hostFromEnv). */
  readonly host?: HyperVHost;
  /** VM names on the host start with it; cleanupLeftovers looks there. @default 'fleetgate-' */
  readonly vmPrefix?: string;
  /** Host folder for per-cell VM folders. @default FLEETGATE_HYPERV_VM_ROOT or C:\fleetgate\vms */
  readonly vmRoot?: string;
  /**
   * Host folder holding the image folders (`<imageRoot>\<manifest.name>\<disk.path>`), for a remote
   * host. Unset: the host reads the image where the controller has it (a local host).
   * @default FLEETGATE_HYPERV_IMAGE_ROOT
   */
  readonly imageRoot?: string;
  /** Virtual switch for the VM's network adapter; null for none. @default FLEETGATE_HYPERV_SWITCH or 'Default Switch' */
  readonly switchName?: string | null;
  /**
   * differencing: a new VM per cell on a differencing VHDX (the default).
   * checkpoint: one kept VM per image, named after the image, restored to `checkpointName` per cell
   * (one cell at a time per image and host).
   */
  readonly reuse?: 'differencing' | 'checkpoint';
  readonly checkpointName?: string;
  /** Between state/event polls. @default 3000 */
  readonly pollIntervalMs?: number;
  /** This controller (tests pose as others). */
  readonly controller?: ControllerId;
  readonly isControllerAlive?: (id: ControllerId) => boolean | undefined;
  /** How start() waits for sshd at the VM's address (tests give the recorded host's banner). */
  readonly waitForBanner?: (endpoint: { host: string; port: number }, options: BannerWaitOptions) => Promise<string>;
  /** A prefixed VM without a tag older than this is what a start that failed half-way left. @default 10 min */
  readonly untaggedGraceMs?: number;
  /**
   * The port the controller reaches a VM's sshd on at the address the guest reports: 22, unless the
   * host forwards another (a NAT'd switch with one port mapping per VM). @default 22
   */
  readonly guestSshPort?: number;
}

/** start() failed once the VM existed: why, with what the host saw. The VM is removed. */
export class HyperVStartError extends InfraFailure {
  readonly reason: 'exited' | 'panicked' | 'timeout';
  readonly consolePath: string;
  readonly events: readonly ProviderEvent[];
  constructor(reason: HyperVStartError['reason'], message: string, details: { consolePath: string; events: readonly ProviderEvent[] }, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
    this.consolePath = details.consolePath;
    this.events = details.events;
  }
}

/** Hyper-V's state names as VmStatus: the ones the seam knows, the rest as `hyperv:<State>`. */
export function statusFromState(state: string): VmStatus {
  switch (state) {
    case 'Running':
      return 'running';
    case 'Paused':
      return 'paused';
    case 'Off':
      return 'shutdown';
    default:
      return `hyperv:${state}`;
  }
}

/** Get-WinEvent's "No events were found" as an error result (a script that did not catch it). */
export function isNoEventsError(err: unknown): boolean {
  return err instanceof HyperVHostError && (err.errorId.startsWith('NoMatchingEventsFound') || /No events were found/.test(err.error.message));
}

/** Event 18590's text as a panic: the bugcheck and its parameters, or the raw text when unreadable. */
export function panicFrom18590(message: string): PanicInfo {
  const r = parseHyperVEvent18590(message);
  if (!r) return { kind: 'other', raw: message };
  return { kind: 'hyper-v', code: `0x${r.code.toString(16)}`, params: r.params };
}

export class HyperVProvider implements Provider {
  readonly kind = 'hyperv' as const;
  private readonly host: HyperVHost;
  private readonly prefix: string;
  private readonly vmRoot: string;
  private readonly imageRoot: string | undefined;
  private readonly switchName: string | null;
  private readonly reuse: 'differencing' | 'checkpoint';
  private readonly checkpointName: string;
  private readonly pollIntervalMs: number;
  private readonly controller: ControllerId;
  private readonly alive: (id: ControllerId) => boolean | undefined;
  private readonly waitForBanner: NonNullable<HyperVProviderOptions['waitForBanner']>;
  private readonly untaggedGraceMs: number;
  private readonly guestSshPort: number;

  constructor(options: HyperVProviderOptions = {}) {
    this.host = options.host ?? hostFromEnv();
    this.prefix = options.vmPrefix ?? HYPERV_VM_PREFIX;
    this.vmRoot = options.vmRoot ?? process.env.FLEETGATE_HYPERV_VM_ROOT ?? DEFAULT_VM_ROOT;
    this.imageRoot = options.imageRoot ?? process.env.FLEETGATE_HYPERV_IMAGE_ROOT;
    this.switchName = options.switchName !== undefined ? options.switchName : (process.env.FLEETGATE_HYPERV_SWITCH ?? DEFAULT_SWITCH);
    this.reuse = options.reuse ?? 'differencing';
    this.checkpointName = options.checkpointName ?? DEFAULT_CHECKPOINT;
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_MS;
    this.controller = options.controller ?? thisControllerId();
    this.alive = options.isControllerAlive ?? defaultIsControllerAlive;
    this.waitForBanner = options.waitForBanner ?? waitForSshBanner;
    this.untaggedGraceMs = options.untaggedGraceMs ?? 10 * 60_000;
    this.guestSshPort = options.guestSshPort ?? 22;
  }

  /** The golden VHDX as the host sees it. */
  private parentVhdx(spec: VmSpec): string {
    const { manifest, dir } = spec.image;
    if (this.imageRoot) return path.win32.join(this.imageRoot, manifest.name, ...manifest.disk.path.split(/[\\/]/));
    return path.resolve(dir, manifest.disk.path);
  }

  async start(spec: VmSpec): Promise<VmInstance> {
    validateSpec(spec);
    spec.signal?.throwIfAborted();
    const { manifest } = spec.image;
    const timeouts = resolveTimeouts(HYPERV_TIMEOUTS, spec.timeouts, 1);
    const checkpoint = this.reuse === 'checkpoint';
    const hostName = checkpoint ? manifest.name : `${this.prefix}${spec.name}`;
    const vmDir = checkpoint ? undefined : path.win32.join(this.vmRoot, hostName);
    const cellDir = path.resolve(spec.cellDir);
    await mkdir(cellDir, { recursive: true });
    const consolePath = path.join(cellDir, 'console.log');
    const log = (line: string) => appendFile(consolePath, `${new Date().toISOString()} [hyperv ${this.host.where}] ${line}\n`);
    await log(`VM ${hostName}: ${checkpoint ? `checkpoint ${this.checkpointName} of the kept VM` : `differencing disk over ${this.parentVhdx(spec)}`}`);

    await this.evictStale(hostName);

    const tag: VmTag = {
      controller: this.controller,
      startedAt: new Date().toISOString(),
      mode: this.reuse,
      cell: spec.name,
      ...(vmDir ? { vmDir } : {}),
      ...(checkpoint ? { checkpointName: this.checkpointName } : {}),
    };
    const removeInput = { name: hostName, mode: this.reuse, vmDir: vmDir ?? null, checkpointName: checkpoint ? this.checkpointName : null };
    const stack = new CleanupStack();
    try {
      // Registered before the VM exists: new_cell_vm failing half-way (disk made, VM not) is undone too.
      stack.defer(async () => {
        const removed = removedResult(await this.host.run('remove_cell_vm', removeInput, { timeoutMs: timeouts.command }));
        await log(removed.length ? removed.join('; ') : `nothing of VM ${hostName} left to remove`).catch(() => undefined);
      });
      const bootSpec = manifest.boot.kind === 'disk' ? manifest.boot : undefined;
      const made = newVmResult(
        await this.host.run(
          'new_cell_vm',
          {
            name: hostName,
            mode: this.reuse,
            notes: formatTag(tag),
            parentVhdx: checkpoint ? null : this.parentVhdx(spec),
            vmDir: vmDir ?? null,
            memoryMiB: spec.memoryMiB ?? manifest.machine.memoryMiB,
            cpus: spec.cpus ?? manifest.machine.cpus,
            switchName: this.switchName,
            secureBoot: bootSpec?.secureBoot ?? false,
            tpm: bootSpec?.tpm ?? false,
            checkpointName: checkpoint ? this.checkpointName : null,
          },
          { timeoutMs: timeouts.command },
        ),
      );
      spec.signal?.throwIfAborted();
      await this.host.run('start_vm', { name: hostName }, { timeoutMs: timeouts.command });
      await log(`started VM ${hostName} (id ${made.id}); host time ${made.hostTime}`);
      const vm = new HyperVVm({
        name: spec.name,
        hostName,
        vmId: made.id,
        since: made.hostTime,
        host: this.host,
        consolePath,
        log,
        timeouts,
        pollIntervalMs: this.pollIntervalMs,
        guestSshPort: this.guestSshPort,
        cleanup: stack.move(),
      });
      try {
        if (spec.waitFor !== 'hypervisor') await vm.waitBooted(timeouts.boot, spec.signal, this.waitForBanner);
        spec.signal?.throwIfAborted();
        vm.bindLifetime(spec.signal);
        return vm;
      } catch (err) {
        await vm[Symbol.asyncDispose]().catch(() => undefined);
        throw err;
      }
    } catch (err) {
      await stack.disposeAsync().catch(() => undefined);
      throw err;
    }
  }

  private async list(): Promise<{ vms: ListedVm[]; hostTime: string | null }> {
    return listResult(await this.host.run('list_cell_vms', { prefix: this.prefix }));
  }

  /** A VM under this name from a dead controller is removed; a live (or unknown) owner is a clash. */
  private async evictStale(hostName: string): Promise<void> {
    const found = (await this.list()).vms.find((v) => v.name === hostName);
    if (!found) return;
    const tag = parseTag(found.notes);
    if (this.reuse === 'checkpoint' && !tag) return; // a kept VM at rest: ours to use
    if (tag && (sameController(tag.controller, this.controller) || this.alive(tag.controller) !== false)) {
      const owner = sameController(tag.controller, this.controller) ? 'this controller' : `controller ${tag.controller.hostname} pid ${tag.controller.pid}`;
      throw new UsageError(`a VM named ${hostName} is already in use on Hyper-V host ${this.host.where} (owned by ${owner}); VM names must be unique`);
    }
    await this.removeListed(found, tag);
  }

  private async removeListed(v: ListedVm, tag: VmTag | null): Promise<string[]> {
    const mode = tag?.mode ?? 'differencing';
    const input = {
      name: v.name,
      mode,
      vmDir: mode === 'differencing' ? (tag?.vmDir ?? path.win32.join(this.vmRoot, v.name)) : null,
      checkpointName: tag?.checkpointName ?? null,
    };
    return removedResult(await this.host.run('remove_cell_vm', input));
  }

  async cleanupLeftovers(): Promise<string[]> {
    const { vms, hostTime } = await this.list();
    const now = hostTime ? Date.parse(hostTime) : Date.now();
    const cleaned: string[] = [];
    for (const v of vms) {
      const tag = parseTag(v.notes);
      if (!tag) {
        // Untagged with our prefix: new_cell_vm died between New-VM and Set-VM -Notes. Left alone while
        // young, in case a live controller is in that window right now.
        const created = v.creationTime ? Date.parse(v.creationTime) : NaN;
        if (!v.name.startsWith(this.prefix) || !(now - created > this.untaggedGraceMs)) continue;
        for (const line of await this.removeListed(v, null)) cleaned.push(`${line} (untagged, made ${v.creationTime})`);
        continue;
      }
      if (sameController(tag.controller, this.controller) || this.alive(tag.controller) !== false) continue;
      const why = `cell ${tag.cell}; controller ${tag.controller.hostname} pid ${tag.controller.pid} is gone`;
      for (const line of await this.removeListed(v, tag)) cleaned.push(`${line} (${why})`);
    }
    return cleaned;
  }
}

interface HyperVVmParts {
  name: string;
  hostName: string;
  vmId: string;
  since: string;
  host: HyperVHost;
  consolePath: string;
  log: (line: string) => Promise<void>;
  timeouts: ProviderTimeouts;
  pollIntervalMs: number;
  guestSshPort: number;
  cleanup: CleanupStack;
}

class HyperVVm implements VmInstance {
  readonly name: string;
  // The seam's Accel has no Hyper-V value: Hyper-V is hardware virtualization, which 'kvm' stands
  // for in the scheduler's slowdown table (factor 1).
  readonly accel = 'hyper-v' as const;
  readonly accelReason = 'Hyper-V (hardware virtualization)';
  readonly consolePath: string;
  readonly events = new EventLog();
  private readonly p: HyperVVmParts;
  private address: string | undefined;
  private ended = false;
  private stopping = false;
  private lastState: string | undefined;
  private lastUptime: number | undefined;
  private readonly seenRecords = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private failures = 0;
  private disposing: Promise<void> | undefined;
  private unbindLifetime: (() => void) | undefined;

  constructor(parts: HyperVVmParts) {
    this.p = parts;
    this.name = parts.name;
    this.consolePath = parts.consolePath;
    this.schedule(0);
  }

  /** The VM's own address on the host's switch (port 22 unless forwarded); host '' until the guest reported one. */
  get ssh(): { readonly host: string; readonly port: number } {
    return { host: this.address ?? '', port: this.p.guestSshPort };
  }

  /** The VM's name on the Hyper-V host (prefix + cell VM name, or the kept VM's name). */
  get hostName(): string {
    return this.p.hostName;
  }

  // polling -------------------------------------------------------------------------------------

  private schedule(ms: number): void {
    if (this.ended || this.stopping) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.ticking = this.tick().finally(() => {
        this.ticking = undefined;
        this.schedule(this.p.pollIntervalMs);
      });
    }, ms);
    // A forgotten VM must not keep the controller alive; cleanupLeftovers catches it later.
    this.timer.unref();
  }

  private async pausePolling(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.ticking;
  }

  private async tick(): Promise<void> {
    const { host, hostName, vmId, since, timeouts } = this.p;
    try {
      let records: ReturnType<typeof crashEventsResult> = [];
      try {
        records = crashEventsResult(await host.run('get_crash_events', { name: hostName, id: vmId, since }, { timeoutMs: timeouts.command }));
      } catch (err) {
        if (!isNoEventsError(err)) throw err;
      }
      for (const r of records) {
        if (this.seenRecords.has(r.recordId)) continue;
        this.seenRecords.add(r.recordId);
        const info = panicFrom18590(r.message);
        await this.p.log(`event 18590 (record ${r.recordId}): ${r.message}`);
        this.events.push({ type: 'panicked', at: r.timeCreated ?? new Date().toISOString(), action: 'run', info });
      }
      if (this.stopping || this.ended) return;
      this.onState(vmStateResult(await host.run('get_vm_state', { name: hostName }, { timeoutMs: timeouts.command })));
      this.failures = 0;
    } catch (err) {
      this.failures++;
      // Kept going: a host that hiccups once must not end the VM; the cell's own timeouts decide.
      await this.p.log(`poll failed (${this.failures} in a row): ${(err as Error).message}`).catch(() => undefined);
    }
  }

  private onState(s: VmStateResult): void {
    if (this.stopping || this.ended) return;
    const at = new Date().toISOString();
    if (!s.exists || s.state === 'Off') {
      void this.p.log(s.exists ? `VM ${this.p.hostName} is Off` : `VM ${this.p.hostName} is gone from the host`).catch(() => undefined);
      this.events.push({ type: 'shutdown', at, guest: s.exists, reason: s.exists ? 'guest-poweroff' : 'vm-removed' });
      this.finish();
      return;
    }
    const prev = this.lastState;
    if (prev !== s.state) void this.p.log(`state ${prev ?? '(none)'} -> ${s.state}`).catch(() => undefined);
    if (s.state === 'Paused' && prev !== undefined && prev !== 'Paused') this.events.push({ type: 'stop', at });
    if (prev === 'Paused' && s.state === 'Running') this.events.push({ type: 'resume', at });
    if (s.state === 'Running' && this.lastUptime !== undefined && s.uptimeSeconds + 1 < this.lastUptime) {
      this.events.push({ type: 'reset', at, guest: true, reason: 'uptime-restarted' });
    }
    this.lastState = s.state ?? undefined;
    this.lastUptime = s.uptimeSeconds;
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.timer) clearTimeout(this.timer);
    this.events.push({ type: 'exited', at: new Date().toISOString(), code: null, signal: null });
  }

  // boot ----------------------------------------------------------------------------------------

  async waitBooted(timeoutMs: number, signal: AbortSignal | undefined, waitForBanner: NonNullable<HyperVProviderOptions['waitForBanner']>): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const stopWaiting = new AbortController();
    const both = signal ? AbortSignal.any([signal, stopWaiting.signal]) : stopWaiting.signal;
    const details = () => ({ consolePath: this.consolePath, events: [...this.events.history()] });
    const fatal = (): HyperVStartError | undefined => {
      const e = this.events.history().find((x) => x.type === 'panicked' || x.type === 'exited');
      if (!e) return undefined;
      return e.type === 'panicked'
        ? new HyperVStartError('panicked', `VM ${this.name} bugchecked while booting (${JSON.stringify(e.info)})`, details())
        : new HyperVStartError('exited', `VM ${this.name} turned off while booting`, details());
    };
    const fatalEvent = (): Promise<never> =>
      Promise.race([
        this.events.waitFor('panicked', { timeoutMs: timeoutMs + 60_000, signal: both }),
        this.events.waitFor('exited', { timeoutMs: timeoutMs + 60_000, signal: both }),
      ]).then(
        () => {
          throw fatal();
        },
        () => new Promise<never>(() => undefined),
      );
    try {
      // The address comes from the guest's integration services once Windows is up enough.
      while (this.address === undefined) {
        both.throwIfAborted();
        const f = fatal();
        if (f) throw f;
        if (Date.now() >= deadline) {
          throw new HyperVStartError('timeout', `VM ${this.name}: no IPv4 address reported within ${timeoutMs} ms`, details(), { cause: new TimeoutError('VM address', timeoutMs) });
        }
        const a = await this.p.host.run('get_vm_address', { name: this.p.hostName }, { timeoutMs: this.p.timeouts.command }).then(addressResult, () => undefined);
        if (a?.ipv4) {
          this.address = a.ipv4;
          await this.p.log(`address ${a.ipv4} (all: ${a.addresses.join(', ')})`);
          break;
        }
        await sleep(Math.min(this.p.pollIntervalMs, Math.max(0, deadline - Date.now())), undefined, { signal: both }).catch(() => undefined);
      }
      const left = Math.max(1, deadline - Date.now());
      await Promise.race([
        waitForBanner({ host: this.address, port: this.p.guestSshPort }, { timeoutMs: left, signal: both }).catch((err: unknown) => {
          const f = fatal();
          if (f) throw f;
          if (err instanceof TimeoutError) throw new HyperVStartError('timeout', `VM ${this.name}: no SSH banner at ${this.address}:${this.p.guestSshPort} within ${timeoutMs} ms`, details(), { cause: err });
          throw err;
        }),
        fatalEvent(),
      ]);
    } finally {
      stopWaiting.abort();
    }
  }

  bindLifetime(signal: AbortSignal | undefined): void {
    if (!signal) return;
    const onAbort = (): void => void this[Symbol.asyncDispose]().catch(() => undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    this.unbindLifetime = () => signal.removeEventListener('abort', onAbort);
  }

  // the seam ------------------------------------------------------------------------------------

  async status(): Promise<VmStatus> {
    if (this.ended) return 'exited';
    const s = vmStateResult(await this.p.host.run('get_vm_state', { name: this.p.hostName }, { timeoutMs: this.p.timeouts.command }));
    return s.exists && s.state ? statusFromState(s.state) : 'exited';
  }

  async injectNmi(): Promise<void> {
    if (this.ended) throw new InfraFailure(`VM ${this.name}: cannot inject an NMI, the VM is off`);
    await this.p.host.run('inject_nmi', { name: this.p.hostName }, { timeoutMs: this.p.timeouts.command });
    await this.p.log('injected an NMI (Debug-VM -InjectNonMaskableInterrupt)');
  }

  /** Resume-VM when paused; nothing when it runs (after a bugcheck the guest goes on by itself). */
  async resume(): Promise<void> {
    if (this.ended) return;
    await this.p.host.run('start_vm', { name: this.p.hostName }, { timeoutMs: this.p.timeouts.command });
  }

  async stop(options: StopOptions): Promise<void> {
    if (this.ended) return;
    const timeoutMs = options.timeoutMs ?? this.p.timeouts.stop;
    await this.pausePolling();
    if (this.ended) return;
    let how: string;
    try {
      how = stopResult(
        await this.p.host.run('stop_vm', { name: this.p.hostName, graceful: options.graceful, timeoutSeconds: Math.max(1, Math.ceil(timeoutMs / 1000)) }, { timeoutMs: timeoutMs + this.p.timeouts.command }),
      ).how;
    } catch (err) {
      // Still running as far as we know: keep watching it.
      this.stopping = false;
      this.schedule(this.p.pollIntervalMs);
      throw err;
    }
    await this.p.log(`stopped (${how})`).catch(() => undefined);
    this.events.push({ type: 'shutdown', at: new Date().toISOString(), guest: false, reason: how === 'shutdown' ? 'host-shutdown' : how === 'turnoff' ? 'host-turnoff' : how });
    this.finish();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.disposing ??= this.dispose();
    return this.disposing;
  }

  private async dispose(): Promise<void> {
    this.unbindLifetime?.();
    const errors: unknown[] = [];
    await this.stop({ graceful: false }).catch((err: unknown) => errors.push(err));
    await this.pausePolling();
    await this.p.cleanup.disposeAsync().catch((err: unknown) => errors.push(err));
    this.finish();
    this.events.end();
    if (errors.length) throw errors.length === 1 ? errors[0] : new AggregateError(errors, `disposing Hyper-V VM ${this.name}`);
  }
}

function validateSpec(spec: VmSpec): void {
  if (!NAME.test(spec.name)) throw new UsageError(`VM name must match ${NAME.source}, got '${spec.name}'`);
  const m = spec.image.manifest;
  if (m.disk.format !== 'vhdx') {
    throw new UsageError(`VM ${spec.name}: Hyper-V boots VHDX images; image ${m.name} has a ${m.disk.format} disk (use the qemu provider for it)`);
  }
  if (m.boot.kind !== 'disk') throw new UsageError(`VM ${spec.name}: image ${m.name} boots a kernel directly; Hyper-V Generation 2 VMs boot from disk`);
  const mem = spec.memoryMiB ?? m.machine.memoryMiB;
  if (!Number.isInteger(mem) || mem < 512 || mem > 1_048_576 || mem % 2 !== 0) {
    throw new UsageError(`VM ${spec.name}: memoryMiB must be an even integer in [512, 1048576] (Hyper-V wants multiples of 2 MiB), got ${mem}`);
  }
  const cpus = spec.cpus ?? m.machine.cpus;
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > 240) throw new UsageError(`VM ${spec.name}: cpus must be an integer in [1, 240], got ${cpus}`);
}
