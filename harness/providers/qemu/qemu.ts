// The QEMU provider: one QEMU process per VM on a qcow2 overlay, driven over QMP. Every resource is
// registered for clean-up the moment it exists, so a start that fails half-way, a dispose, an
// abort and the next controller after a dead one all leave no process, socket or overlay behind.
import { createHash } from 'node:crypto';
import { accessSync, constants, rmSync } from 'node:fs';
import { copyFile, mkdir, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { InfraFailure, UsageError } from '../../../lib/errors.ts';
import { CleanupStack } from '../cleanup-stack.ts';
import { EventLog } from '../event-stream.ts';
import { waitForSshBanner } from '../ssh-banner.ts';
import { resolveTimeouts, SLOWDOWN, TimeoutError } from '../timeouts.ts';
import type {
  Accel,
  DumpFormat,
  MonitorCapable,
  Provider,
  ProviderEvent,
  ProviderOptions,
  ProviderTimeouts,
  StopOptions,
  VmInstance,
  VmSpec,
  VmStatus,
} from '../types.ts';
import { qemuKvmProbe, resolveAccel, type AccelDecision } from './accel.ts';
import { buildQemuArgs, OVMF, QEMU_BINARY } from './cmdline.ts';
import { toProviderEvent } from './events.ts';
import { createOverlay, QEMU_IMG } from './overlay.ts';
import { isSameProcessAlive, killGroup, spawnDetached, tail, waitGone, type ProcessIdentity, type SpawnedChild } from './process.ts';
import { QmpClient, QmpError } from './qmp.ts';
import { defaultStateDir, readRecords, recordPath, removeRecord, thisController, writeRecord, type VmRecord } from './records.ts';
import { startSwtpm } from './swtpm.ts';

export const QEMU_TIMEOUTS: ProviderTimeouts = { boot: 120_000, qmp: 10_000, stop: 20_000, dump: 120_000 };

/** QEMU's message when the forwarded host port is taken (by anyone, between our probe and its bind). */
const HOSTFWD_TAKEN = 'Could not set up host forwarding rule';
const PORT_ATTEMPTS = 5;
/** Unix socket paths are limited to 108 bytes (sun_path); keep a margin. */
const MAX_SOCKET_PATH = 100;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface QemuProviderOptions extends ProviderOptions {
  readonly qemu?: string;
  readonly qemuImg?: string;
  /**
   * Kill QEMU when the controller process dies (setpriv --pdeathsig). On by default;
   * FLEETGATE_QEMU_WATCHDOG=0 turns it off (then only cleanupLeftovers() removes orphans).
   */
  readonly watchdog?: boolean;
  /** How long the KVM probe waits for console output. */
  readonly probeDeadlineMs?: number;
  /** Where the SSH forward port comes from (tests hand out a taken one to exercise the retry). */
  readonly pickPort?: () => Promise<number>;
}

/** start() failed after QEMU ran: why, with the evidence a human needs. Infrastructure by default. */
export class VmStartError extends InfraFailure {
  readonly reason: 'exited' | 'panicked' | 'timeout';
  readonly consolePath: string;
  readonly events: readonly ProviderEvent[];
  constructor(
    reason: VmStartError['reason'],
    message: string,
    details: { consolePath: string; events: readonly ProviderEvent[] },
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.reason = reason;
    this.consolePath = details.consolePath;
    this.events = details.events;
  }
}

export class QemuProvider implements Provider {
  readonly kind = 'qemu' as const;
  private readonly stateDir: string;
  private readonly qemu: string;
  private readonly qemuImg: string;
  private readonly watchdog: boolean;
  private readonly probeDeadlineMs: number | undefined;
  private readonly pickPort: () => Promise<number>;

  constructor(options: QemuProviderOptions = {}) {
    this.stateDir = path.resolve(options.stateDir ?? defaultStateDir());
    this.qemu = options.qemu ?? process.env.FLEETGATE_QEMU ?? QEMU_BINARY;
    this.qemuImg = options.qemuImg ?? QEMU_IMG;
    this.watchdog = options.watchdog ?? process.env.FLEETGATE_QEMU_WATCHDOG !== '0';
    this.probeDeadlineMs = options.probeDeadlineMs;
    this.pickPort = options.pickPort ?? freeLoopbackPort;
  }

  async start(spec: VmSpec): Promise<VmInstance> {
    validateSpec(spec);
    spec.signal?.throwIfAborted();
    const qemu = findExecutable(this.qemu, 'qemu-system-x86');
    const { manifest, dir: imageDir } = spec.image;
    const cellDir = path.resolve(spec.cellDir);
    const memoryMiB = spec.memoryMiB ?? manifest.machine.memoryMiB;
    const cpus = spec.cpus ?? manifest.machine.cpus;
    const baseDisk = { path: path.resolve(imageDir, manifest.disk.path), format: manifest.disk.format };
    const boot = manifest.boot;
    const ovmf = boot.kind === 'disk' && boot.firmware === 'ovmf';
    const ovmfVarsTemplate = boot.kind === 'disk' && boot.secureBoot ? OVMF.secureVars : OVMF.vars;

    const accel = await resolveAccel({
      requested: spec.accel ?? 'auto',
      stateDir: this.stateDir,
      qemu,
      probe: qemuKvmProbe(
        qemu,
        { name: `${spec.name}-kvm-probe`, manifest, imageDir, memoryMiB, cpus, baseDisk, ...(ovmf ? { ovmfVarsTemplate } : {}) },
        this.probeDeadlineMs,
      ),
    });
    const timeouts = resolveTimeouts(QEMU_TIMEOUTS, spec.timeouts, SLOWDOWN[accel.accel]);
    spec.signal?.throwIfAborted();

    await mkdir(cellDir, { recursive: true });
    await this.evictStaleRecord(spec.name);

    const stack = new CleanupStack();
    try {
      const consolePath = path.join(cellDir, 'console.log');
      const logPath = path.join(cellDir, 'qemu.log');
      const overlay = path.join(cellDir, 'overlay.qcow2');
      const qmpSocket = socketPath(cellDir, 'qmp.sock');
      const scratch: string[] = [overlay, qmpSocket];
      const processes: (ProcessIdentity & { role: string })[] = [];
      stack.defer(() => removeRecord(recordPath(this.stateDir, spec.name)));
      stack.defer(() => rm(qmpSocket, { force: true }));

      stack.defer(() => rm(overlay, { force: true }));
      await createOverlay({ base: baseDisk.path, baseFormat: baseDisk.format, overlay }, this.qemuImg);

      let ovmfVars: string | undefined;
      if (ovmf) {
        ovmfVars = path.join(cellDir, 'OVMF_VARS.fd');
        scratch.push(ovmfVars);
        stack.defer(() => rm(ovmfVars as string, { force: true }));
        await copyFile(ovmfVarsTemplate, ovmfVars);
      }

      let tpmSocket: string | undefined;
      if (boot.kind === 'disk' && boot.tpm) {
        const tpmDir = path.join(cellDir, 'tpm');
        tpmSocket = socketPath(cellDir, 'swtpm.sock');
        scratch.push(tpmDir, tpmSocket);
        stack.defer(() => rm(tpmDir, { recursive: true, force: true }));
        stack.defer(() => rm(tpmSocket as string, { force: true }));
        const tpm = await startSwtpm(tpmDir, tpmSocket, this.watchdog, timeouts.qmp);
        processes.push({ ...tpm.identity, role: 'swtpm' });
        stack.defer(() => killGroup(tpm.identity));
      }

      const events = new EventLog();
      for (let attempt = 1; ; attempt++) {
        spec.signal?.throwIfAborted();
        const sshPort = await this.pickPort();
        const args = buildQemuArgs({
          name: spec.name,
          manifest,
          imageDir,
          accel: accel.accel,
          memoryMiB,
          cpus,
          disk: { path: overlay, format: 'qcow2' },
          consolePath,
          qmpSocket,
          sshPort,
          ...(ovmfVars ? { ovmfVars } : {}),
          ...(tpmSocket ? { tpmSocket } : {}),
        });
        const logStart = await stat(logPath).then((s) => s.size, () => 0);
        let vm: SpawnedChild;
        try {
          vm = await spawnDetached(qemu, args, { logPath, watchdog: this.watchdog });
        } catch (err) {
          throw new InfraFailure(`starting ${qemu}: ${(err as Error).message}`, { cause: err });
        }
        const vmDone = new CleanupStack();
        vmDone.defer(() => waitGone(vm.identity, 5_000));
        vmDone.defer(() => killGroup(vm.identity));
        const record: VmRecord = {
          schema: 1,
          name: spec.name,
          controller: thisController(),
          processes: [{ ...vm.identity, role: 'qemu' }, ...processes],
          qmpSocket,
          cellDir,
          scratch,
          startedAt: new Date().toISOString(),
        };
        const recordFile = await writeRecord(this.stateDir, record);

        // Stops every wait of this attempt as soon as QEMU exits or the caller aborts.
        const attemptAbort = new AbortController();
        let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
        void vm.exited.then((e) => {
          exit = e;
          attemptAbort.abort(new Error('QEMU exited'));
        });
        const signal = spec.signal ? AbortSignal.any([spec.signal, attemptAbort.signal]) : attemptAbort.signal;

        let qmp: QmpClient | undefined;
        try {
          qmp = await QmpClient.connect(qmpSocket, { timeoutMs: timeouts.qmp, signal, commandTimeoutMs: timeouts.qmp });
          // The greeting comes from the monitor thread before machine init ends (a taken port fails
          // after it); a command is answered by the main loop, i.e. only once init is done.
          await qmp.execute('query-status');
        } catch (err) {
          qmp?.close();
          await vmDone.disposeAsync();
          spec.signal?.throwIfAborted();
          const stderr = (await tail(logPath, 1500, logStart)).trim();
          if (exit && stderr.includes(HOSTFWD_TAKEN) && attempt < PORT_ATTEMPTS) continue;
          await removeRecord(recordFile);
          if (exit && stderr.includes(HOSTFWD_TAKEN)) {
            throw new InfraFailure(`QEMU could not forward a loopback port after ${PORT_ATTEMPTS} attempts: ${stderr}`);
          }
          const how = exit ? `exited (${exit.code ?? exit.signal}) at start` : 'gave no QMP greeting';
          throw new InfraFailure(`QEMU ${how} for VM ${spec.name}: ${stderr || (err as Error).message}`, { cause: err });
        }

        // From here the VM object owns everything; on failure it tears it all down.
        const instance = new QemuVm({
          name: spec.name,
          accel,
          sshPort,
          consolePath,
          vm,
          qmp,
          events,
          timeouts,
          crashDevice: manifest.machine.crash,
          cleanup: stack.move(),
          recordFile,
          scratch,
        });
        try {
          if (spec.waitFor !== 'hypervisor') await instance.waitBooted(timeouts.boot, spec.signal);
          spec.signal?.throwIfAborted();
          instance.bindLifetime(spec.signal);
          return instance;
        } catch (err) {
          await instance[Symbol.asyncDispose]();
          spec.signal?.throwIfAborted();
          throw err;
        }
      }
    } catch (err) {
      await stack.disposeAsync().catch(() => undefined);
      throw err;
    }
  }

  async cleanupLeftovers(): Promise<string[]> {
    const cleaned: string[] = [];
    for (const { file, record, error } of await readRecords(this.stateDir)) {
      if (!record) {
        await removeRecord(file);
        cleaned.push(`removed unreadable record ${file}: ${error ?? ''}`);
        continue;
      }
      if (isSameProcessAlive(record.controller)) continue;
      cleaned.push(...(await removeLeftover(record)));
      await removeRecord(file);
      cleaned.push(`removed record ${file}`);
    }
    return cleaned;
  }

  /** A record under this VM's name from a dead controller is cleaned; a live owner is a clash. */
  private async evictStaleRecord(name: string): Promise<void> {
    const file = recordPath(this.stateDir, name);
    const found = (await readRecords(this.stateDir)).find((r) => r.file === file);
    if (!found) return;
    if (found.record && isSameProcessAlive(found.record.controller)) {
      const owner = found.record.controller.pid === process.pid ? 'this controller' : `controller pid ${found.record.controller.pid}`;
      throw new UsageError(`a VM named ${name} is already running (owned by ${owner}); VM names must be unique`);
    }
    if (found.record) await removeLeftover(found.record);
    await removeRecord(file);
  }
}

async function removeLeftover(record: VmRecord): Promise<string[]> {
  const out: string[] = [];
  for (const p of record.processes) {
    if (killGroup(p)) {
      const gone = await waitGone(p, 5_000);
      out.push(`killed ${p.role} pid ${p.pid} of VM ${record.name}${gone ? '' : ' (still exiting)'}`);
    }
  }
  for (const f of record.scratch) {
    const existed = await stat(f).then(() => true, () => false);
    await rm(f, { recursive: true, force: true });
    if (existed) out.push(`removed ${f}`);
  }
  return out;
}

interface QemuVmParts {
  name: string;
  accel: AccelDecision;
  sshPort: number;
  consolePath: string;
  vm: SpawnedChild;
  qmp: QmpClient;
  events: EventLog;
  timeouts: ProviderTimeouts;
  crashDevice: 'pvpanic' | 'hv-crash';
  cleanup: CleanupStack;
  recordFile: string;
  scratch: readonly string[];
}

/** VMs of this process, for the last-chance synchronous clean-up when the controller exits. */
const live = new Set<QemuVm>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const vm of live) vm.disposeSync();
  });
}

class QemuVm implements VmInstance, MonitorCapable {
  readonly name: string;
  readonly accel: Accel;
  readonly accelReason: string;
  readonly ssh: { readonly host: '127.0.0.1'; readonly port: number };
  readonly consolePath: string;
  readonly pid: number;
  readonly events: EventLog;
  private readonly p: QemuVmParts;
  private exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private disposing: Promise<void> | undefined;
  private unbindLifetime: (() => void) | undefined;

  constructor(parts: QemuVmParts) {
    this.p = parts;
    this.name = parts.name;
    this.accel = parts.accel.accel;
    this.accelReason = parts.accel.reason;
    this.ssh = { host: '127.0.0.1', port: parts.sshPort };
    this.consolePath = parts.consolePath;
    this.pid = parts.vm.identity.pid;
    this.events = parts.events;
    parts.qmp.onEvent((e) => {
      const pe = toProviderEvent(e, parts.crashDevice);
      if (pe) this.events.push(pe);
    });
    void parts.vm.exited.then((e) => {
      this.exit = e;
      parts.qmp.close();
      this.events.push({ type: 'exited', at: new Date().toISOString(), code: e.code, signal: e.signal });
    });
    live.add(this);
    installExitHook();
  }

  /** Resolves once sshd answers; rejects with VmStartError if QEMU exits, the guest panics, or time runs out. */
  async waitBooted(timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    const stopWaiting = new AbortController();
    const both = signal ? AbortSignal.any([signal, stopWaiting.signal]) : stopWaiting.signal;
    const startError = async (e: ProviderEvent): Promise<VmStartError> => {
      const consoleTail = (await tail(this.consolePath, 1500)) || '<empty console>';
      const details = { consolePath: this.consolePath, events: [...this.events.history()] };
      return e.type === 'exited'
        ? new VmStartError('exited', `QEMU exited (${e.code ?? e.signal}) while VM ${this.name} was booting; console: ${consoleTail}`, details)
        : new VmStartError('panicked', `VM ${this.name} panicked while booting; console: ${consoleTail}`, details);
    };
    // Fails start() the moment the guest panics or QEMU dies; otherwise never settles.
    const fatal = (type: 'panicked' | 'exited'): Promise<never> =>
      this.events.waitFor(type, { timeoutMs: timeoutMs + 60_000, signal: both }).then(
        async (e) => {
          throw await startError(e);
        },
        () => new Promise<never>(() => undefined),
      );
    try {
      await Promise.race([
        waitForSshBanner(this.ssh, { timeoutMs, signal: both }).catch(async (err: unknown) => {
          const seen = this.events.history().find((e) => e.type === 'panicked' || e.type === 'exited');
          if (seen) throw await startError(seen);
          if (err instanceof TimeoutError) {
            const consoleTail = (await tail(this.consolePath, 1500)) || '<empty console>';
            throw new VmStartError(
              'timeout',
              `VM ${this.name}: no SSH banner within ${timeoutMs} ms (${this.accel}); console: ${consoleTail}`,
              { consolePath: this.consolePath, events: [...this.events.history()] },
              { cause: err },
            );
          }
          throw err;
        }),
        fatal('panicked'),
        fatal('exited'),
      ]);
    } finally {
      stopWaiting.abort();
    }
  }

  /** Ties the VM's life to the caller's signal: aborting (SIGINT) tears it down. */
  bindLifetime(signal: AbortSignal | undefined): void {
    if (!signal) return;
    const onAbort = (): void => void this[Symbol.asyncDispose]().catch(() => undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    this.unbindLifetime = () => signal.removeEventListener('abort', onAbort);
  }

  async status(): Promise<VmStatus> {
    if (this.exit || this.p.qmp.closed) return 'exited';
    const r = await this.p.qmp.execute('query-status');
    return typeof r === 'object' && r !== null && !Array.isArray(r) && typeof r.status === 'string' ? r.status : 'unknown';
  }

  async injectNmi(): Promise<void> {
    await this.p.qmp.execute('inject-nmi');
  }

  async resume(): Promise<void> {
    await this.p.qmp.execute('cont');
  }

  async monitorCommand(command: string, args?: Record<string, unknown>): Promise<unknown> {
    return this.p.qmp.execute(command, args);
  }

  async dumpMemory(file: string, format: DumpFormat = 'kdump-zlib'): Promise<{ path: string; bytes: number; format: DumpFormat }> {
    const target = path.resolve(file);
    await mkdir(path.dirname(target), { recursive: true });
    const done = this.p.qmp.nextEvent('DUMP_COMPLETED', { timeoutMs: this.p.timeouts.dump });
    done.catch(() => undefined);
    // detach: QEMU keeps answering QMP (and we keep seeing events) while it writes.
    await this.p.qmp.execute('dump-guest-memory', { paging: false, protocol: `file:${target}`, detach: true, format });
    const ev = await done;
    const result = ev.data.result;
    const failed = typeof ev.data.error === 'string' ? ev.data.error : undefined;
    if (failed) throw new QmpError('dump-guest-memory', failed);
    const bytes = (await stat(target)).size;
    if (typeof result === 'object' && result !== null && !Array.isArray(result) && result.status === 'failed') {
      throw new QmpError('dump-guest-memory', `dump failed after ${bytes} bytes`);
    }
    return { path: target, bytes, format };
  }

  async stop(options: StopOptions): Promise<void> {
    const timeoutMs = options.timeoutMs ?? this.p.timeouts.stop;
    const id = this.p.vm.identity;
    if (this.exit || !isSameProcessAlive(id)) return;
    if (options.graceful) {
      // ACPI power button: a guest without ACPI handling (the lab's busybox) ignores it, so the
      // forced path below still ends it.
      await this.p.qmp.execute('system_powerdown').catch(() => undefined);
      if (await this.exitWithin(timeoutMs)) return;
    }
    await this.p.qmp.execute('quit', undefined, { timeoutMs: Math.min(timeoutMs, 5_000) }).catch(() => undefined);
    if (await this.exitWithin(Math.min(timeoutMs, 5_000))) return;
    killGroup(id);
    if (!(await waitGone(id, 5_000))) throw new InfraFailure(`QEMU pid ${id.pid} of VM ${this.name} survived SIGKILL`);
  }

  private async exitWithin(ms: number): Promise<boolean> {
    if (this.exit) return true;
    return Promise.race([
      this.p.vm.exited.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(resolve, ms, false)),
    ]);
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.disposing ??= this.dispose();
    return this.disposing;
  }

  private async dispose(): Promise<void> {
    this.unbindLifetime?.();
    const errors: unknown[] = [];
    try {
      await this.stop({ graceful: false, timeoutMs: this.p.timeouts.stop });
    } catch (err) {
      errors.push(err);
    }
    this.p.qmp.close();
    await this.p.cleanup.disposeAsync().catch((err: unknown) => errors.push(err));
    await removeRecord(this.p.recordFile).catch((err: unknown) => errors.push(err));
    if (!isSameProcessAlive(this.p.vm.identity)) {
      live.delete(this);
      this.events.end();
    }
    if (errors.length) throw errors.length === 1 ? errors[0] : new AggregateError(errors, `disposing VM ${this.name}`);
  }

  /** The controller is exiting right now: no awaiting, just kill and delete. */
  disposeSync(): void {
    killGroup(this.p.vm.identity);
    for (const f of [...this.p.scratch, this.p.recordFile]) {
      try {
        rmSync(f, { recursive: true, force: true });
      } catch {
        // Best effort: cleanupLeftovers() in the next controller catches what is left.
      }
    }
  }
}

function validateSpec(spec: VmSpec): void {
  if (!NAME.test(spec.name)) {
    throw new UsageError(`VM name must match ${NAME.source}, got '${spec.name}'`);
  }
  const mem = spec.memoryMiB ?? spec.image.manifest.machine.memoryMiB;
  if (!Number.isInteger(mem) || mem < 64 || mem > 1_048_576) {
    throw new UsageError(`VM ${spec.name}: memoryMiB must be an integer in [64, 1048576], got ${mem}`);
  }
  const cpus = spec.cpus ?? spec.image.manifest.machine.cpus;
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > 256) {
    throw new UsageError(`VM ${spec.name}: cpus must be an integer in [1, 256], got ${cpus}`);
  }
}

/** Loopback port free right now. Someone may take it before QEMU binds: start() retries then. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      server.close(() => (port ? resolve(port) : reject(new InfraFailure('could not get a free loopback port'))));
    });
  });
}

/** A socket in the cell folder when its path fits sun_path, else a short one in the temp folder. */
export function socketPath(cellDir: string, file: string): string {
  const inCell = path.join(cellDir, file);
  if (Buffer.byteLength(inCell) <= MAX_SOCKET_PATH) return inCell;
  const hash = createHash('sha256').update(inCell).digest('hex').slice(0, 16);
  return path.join(os.tmpdir(), `fleetgate-${hash}-${file}`);
}

function findExecutable(command: string, debianPackage: string): string {
  const candidates = command.includes('/') ? [command] : (process.env.PATH ?? '').split(':').filter(Boolean).map((d) => path.join(d, command));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  throw new InfraFailure(`${command} not found${command.includes('/') ? '' : ' in PATH'} (Debian: apt-get install ${debianPackage})`);
}
