// The QEMU provider: one QEMU process per VM on a qcow2 overlay, driven over QMP. Every resource is
// registered for clean-up the moment it exists, so a start that fails half-way, a dispose, an
// abort and the next controller after a dead one all leave no process, socket or overlay behind.
import { createHash } from 'node:crypto';
import { accessSync, constants, rmSync } from 'node:fs';
import { chmod, copyFile, mkdir, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InfraFailure, UsageError } from '../../../lib/errors.ts';
import {
  listWarmStates,
  readWarmState,
  removeWarmState,
  stageWarmState,
  otherSaver,
  warmKey,
  WARM_FILES,
  WARM_SCHEMA,
  type WarmRecord,
  type WarmState,
} from '../../../images/warm/store.ts';
import { CleanupStack } from '../cleanup-stack.ts';
import { EventLog } from '../event-stream.ts';
import { waitForSshBanner } from '../ssh-banner.ts';
import { resolveTimeouts, SLOWDOWN, TimeoutError } from '../timeouts.ts';
import type {
  Accel,
  DumpFormat,
  MonitorCapable,
  OfflineDiskCapable,
  Provider,
  ProviderEvent,
  ProviderOptions,
  ProviderTimeouts,
  StopOptions,
  VmInstance,
  VmSpec,
  VmStartInfo,
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
import { incomingUri, machineOptions, prepareGuestForSave, qemuVersion, saveState, waitIncoming, warmUnsupported } from './warm.ts';

export const QEMU_TIMEOUTS: ProviderTimeouts = { boot: 120_000, command: 10_000, stop: 20_000, dump: 120_000 };

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

/** A warm restore failed; `refused`: QEMU would not load the state (it exited), as opposed to a timeout. */
export class WarmRestoreFailed extends InfraFailure {
  readonly refused: boolean;
  constructor(message: string, refused: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.refused = refused;
  }
}

interface StartContext {
  qemu: string;
  memoryMiB: number;
  cpus: number;
  baseDisk: { path: string; format: 'qcow2' | 'vhdx' };
  ovmf: boolean;
  ovmfVarsTemplate: string;
  accel: AccelDecision;
  timeouts: ProviderTimeouts;
}

interface LaunchHow {
  /** When start() was called: VmStartInfo.ms counts from here. */
  t0: number;
  /** Restore this state instead of booting. */
  warm?: WarmState;
  /** Why a warm start was asked for but this is a cold one. */
  fallbackReason?: string;
  /** Keep the overlay (under this file name in the cell folder) when the VM is disposed: a warm save. */
  keepOverlayAs?: string;
}

/** The files one cell's QEMU uses, and the helper processes (swtpm) started for it. */
interface CellFiles {
  cellDir: string;
  consolePath: string;
  logPath: string;
  overlay: string;
  qmpSocket: string;
  ovmfVars?: string;
  tpmSocket?: string;
  /** Removed when the VM is disposed (recorded, so a dead controller's are removed too). */
  scratch: string[];
  processes: (ProcessIdentity & { role: string })[];
}

/** A QEMU process whose monitor answered. */
interface SpawnedQemu {
  vm: SpawnedChild;
  qmp: QmpClient;
  sshPort: number;
  recordFile: string;
  /** Where this process's lines start in qemu.log. */
  logStart: number;
  /** Set once QEMU exited. */
  exit: { value?: { code: number | null; signal: NodeJS.Signals | null } };
  /** The caller's signal, and aborted when QEMU exits. */
  signal: AbortSignal;
}

/** Saves in progress in this process, by image folder and key. */
const making = new Map<string, Promise<{ state: WarmState; made: boolean; madeMs: number }>>();

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
    const t0 = performance.now();
    validateSpec(spec);
    spec.signal?.throwIfAborted();
    const ctx = await this.prepare(spec);
    const mode = spec.start ?? 'cold';
    if (mode === 'cold') return this.launch(spec, ctx, { t0 });

    const plan = await this.planWarm(spec, ctx, mode);
    let reason: string;
    if ('state' in plan) {
      try {
        return await this.launch(spec, ctx, { t0: t0 + plan.madeMs, warm: plan.state });
      } catch (err) {
        spec.signal?.throwIfAborted();
        reason = `restoring warm state ${plan.state.record.key.slice(0, 12)} failed: ${(err as Error).message}`;
        if (err instanceof WarmRestoreFailed && err.refused) {
          // QEMU would not load it (damaged, or from an incompatible build): the next start makes a new one.
          await removeWarmState(spec.image.dir, plan.state.record.key).catch(() => undefined);
          reason += ' (the state was removed)';
        }
        if (mode === 'warm') throw new InfraFailure(`VM ${spec.name}: ${reason}`, { cause: err });
      }
    } else {
      reason = plan.reason;
      if (mode === 'warm') throw new InfraFailure(`VM ${spec.name}: no warm start possible: ${reason}`);
    }
    return this.launch(spec, ctx, { t0, fallbackReason: reason });
  }

  /**
   * The warm state for an image and machine, made now (a cold boot, then a save) when there is none.
   * `force` replaces an existing one. Used by `fleetgate warm` and by start() on first use.
   */
  async ensureWarmState(
    spec: Pick<VmSpec, 'image' | 'memoryMiB' | 'cpus' | 'accel' | 'timeouts' | 'signal'> & { cellName?: string },
    options: { force?: boolean } = {},
  ): Promise<{ state: WarmState; made: boolean; madeMs: number }> {
    const full: VmSpec = { ...spec, name: spec.cellName ?? `warm-${process.pid}`, cellDir: os.tmpdir() };
    validateSpec(full);
    const ctx = await this.prepare(full);
    const unsupported = warmUnsupported(spec.image.manifest);
    if (unsupported) throw new UsageError(unsupported);
    const key = await this.warmKeyFor(spec.image.manifest, ctx);
    if (options.force) await removeWarmState(spec.image.dir, key);
    return this.ensureWarm(full, ctx, key);
  }

  /** The key a VM of this spec would restore from (for tests and `fleetgate warm --list`). */
  async warmKey(spec: Pick<VmSpec, 'image' | 'memoryMiB' | 'cpus' | 'accel'>): Promise<string> {
    const ctx = await this.prepare({ ...spec, name: 'key', cellDir: os.tmpdir() });
    return this.warmKeyFor(spec.image.manifest, ctx);
  }

  private async prepare(spec: VmSpec): Promise<StartContext> {
    const qemu = findExecutable(this.qemu, 'qemu-system-x86');
    const { manifest, dir: imageDir } = spec.image;
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
    return { qemu, memoryMiB, cpus, baseDisk, ovmf, ovmfVarsTemplate, accel, timeouts };
  }

  private async warmKeyFor(manifest: VmSpec['image']['manifest'], ctx: StartContext): Promise<string> {
    const machine = machineOptions({ manifest, accel: ctx.accel.accel, memoryMiB: ctx.memoryMiB, cpus: ctx.cpus });
    return warmKey({ inputsHash: manifest.inputsHash, hypervisor: await qemuVersion(ctx.qemu), machine });
  }

  /** A usable warm state for this start, or why not (start() then boots cold). */
  private async planWarm(spec: VmSpec, ctx: StartContext, mode: 'auto' | 'warm'): Promise<{ state: WarmState; madeMs: number } | { reason: string }> {
    const { manifest, dir: imageDir } = spec.image;
    const unsupported = warmUnsupported(manifest);
    if (unsupported) return { reason: unsupported };
    if (spec.waitFor === 'hypervisor') return { reason: 'the caller watches the console from boot (waitFor: hypervisor)' };
    let key: string;
    try {
      key = await this.warmKeyFor(manifest, ctx);
    } catch (err) {
      return { reason: (err as Error).message };
    }
    const found = await readWarmState(imageDir, key);
    if ('record' in found) return { state: found, madeMs: 0 };
    const why = found.missing;
    if (found.damaged) {
      // This cell boots cold (saving anew would cost it more than a boot); the next start makes a new state.
      await removeWarmState(imageDir, key).catch(() => undefined);
      return { reason: `${why} (the state was removed)` };
    }
    // Made on first use only for the image's own machine: a state per odd memory size would cost a
    // save each and rarely be reused. Others are made on purpose with `fleetgate warm`.
    const isDefault = ctx.memoryMiB === manifest.machine.memoryMiB && ctx.cpus === manifest.machine.cpus;
    if (!isDefault && mode === 'auto') {
      const others = (await listWarmStates(imageDir)).map((s) => `${s.record.memoryMiB} MiB/${s.record.cpus} cpu/${s.record.accel}`);
      return {
        reason:
          `${why}: no warm state for these machine options (${ctx.memoryMiB} MiB, ${ctx.cpus} cpu, ${ctx.accel.accel}; ` +
          `the image's are ${manifest.machine.memoryMiB} MiB, ${manifest.machine.cpus} cpu)` +
          `${others.length ? `; states exist for ${others.join(', ')}` : ''}; make one with \`fleetgate warm --memory ${ctx.memoryMiB} --cpus ${ctx.cpus}\``,
      };
    }
    const saver = await otherSaver(imageDir, key);
    if (saver !== undefined) return { reason: `${why}: controller pid ${saver} is making it right now` };
    try {
      return await this.ensureWarm(spec, ctx, key);
    } catch (err) {
      spec.signal?.throwIfAborted();
      return { reason: `${why}; making it failed: ${(err as Error).message}` };
    }
  }

  /** One save per key at a time in this process; the others wait for it. */
  private ensureWarm(spec: VmSpec, ctx: StartContext, key: string): Promise<{ state: WarmState; made: boolean; madeMs: number }> {
    const id = `${path.resolve(spec.image.dir)}:${key}`;
    let p = making.get(id);
    if (!p) {
      p = (async () => {
        const found = await readWarmState(spec.image.dir, key);
        if ('record' in found) return { state: found, made: false, madeMs: 0 };
        const t = performance.now();
        const state = await this.makeWarmState(spec, ctx, key);
        return { state, made: true, madeMs: performance.now() - t };
      })().finally(() => making.delete(id));
      making.set(id, p);
    }
    return p;
  }

  /**
   * Boots the image cold on an overlay that is kept, waits until the guest is ready (SSH with the
   * pinned key, Node.js runs, disks synced), stops it and migrates its state to a gzip file, then
   * moves the lot into place (images/warm/store.ts).
   */
  private async makeWarmState(spec: VmSpec, ctx: StartContext, key: string): Promise<WarmState> {
    const { manifest, dir: imageDir } = spec.image;
    const staging = await stageWarmState(imageDir, key);
    try {
      const statePath = path.join(staging.tmpDir, WARM_FILES.state);
      const diskPath = path.join(staging.tmpDir, WARM_FILES.disk);
      const t0 = performance.now();
      const saveSpec: VmSpec = {
        name: `warm-save-${key.slice(0, 12)}-${process.pid}`,
        cellDir: staging.tmpDir,
        image: spec.image,
        memoryMiB: ctx.memoryMiB,
        cpus: ctx.cpus,
        ...(spec.signal ? { signal: spec.signal } : {}),
      };
      const vm = (await this.launch(saveSpec, ctx, { t0, keepOverlayAs: WARM_FILES.disk })) as QemuVm;
      let bootMs: number;
      let saveMs: number;
      try {
        await prepareGuestForSave(spec.image, vm.ssh, { timeoutMs: ctx.timeouts.boot, ...(spec.signal ? { signal: spec.signal } : {}) });
        bootMs = performance.now() - t0;
        const t1 = performance.now();
        await saveState((c, a) => vm.monitorCommand(c, a), statePath, { timeoutMs: ctx.timeouts.dump });
        // quit (dispose) closes the overlay cleanly: every cluster the saved RAM expects is on disk.
        await vm.stop({ graceful: false });
        saveMs = performance.now() - t1;
      } finally {
        await vm[Symbol.asyncDispose]();
      }
      // From now on only ever a backing file.
      await chmod(diskPath, 0o444);
      const record: WarmRecord = {
        schema: WARM_SCHEMA,
        key,
        image: { name: manifest.name, inputsHash: manifest.inputsHash },
        hypervisor: await qemuVersion(ctx.qemu),
        machine: machineOptions({ manifest, accel: ctx.accel.accel, memoryMiB: ctx.memoryMiB, cpus: ctx.cpus }),
        accel: ctx.accel.accel,
        memoryMiB: ctx.memoryMiB,
        cpus: ctx.cpus,
        files: { state: (await stat(statePath)).size, disk: (await stat(diskPath)).size },
        savedAt: new Date().toISOString(),
        bootMs: Math.round(bootMs),
        saveMs: Math.round(saveMs),
      };
      await staging.commit(record);
    } catch (err) {
      await staging.abort().catch(() => undefined);
      throw err;
    }
    const state = await readWarmState(imageDir, key);
    if (!('record' in state)) throw new InfraFailure(`the warm state just made is not usable: ${state.missing}`);
    return state;
  }

  /**
   * Starts one QEMU: cold (booting the image) or warm (loading a saved state), until ready. Three
   * parts: the cell's files (overlay, firmware variables, TPM), one QEMU process until its monitor
   * answers (again on another port when the forwarded one was taken), then the guest until ready.
   */
  private async launch(spec: VmSpec, ctx: StartContext, how: LaunchHow): Promise<VmInstance> {
    const cellDir = path.resolve(spec.cellDir);
    await mkdir(cellDir, { recursive: true });
    await this.evictStaleRecord(spec.name);
    const stack = new CleanupStack();
    try {
      const files = await this.cellFiles(spec, ctx, how, cellDir, stack);
      const events = new EventLog();
      for (let attempt = 1; ; attempt++) {
        spec.signal?.throwIfAborted();
        const proc = await this.spawnQemu(spec, ctx, how, files, attempt);
        if (proc === 'port-taken') continue;
        // From here the VM object owns everything; on failure it tears it all down.
        const instance = new QemuVm({
          name: spec.name,
          accel: ctx.accel,
          sshPort: proc.sshPort,
          consolePath: files.consolePath,
          vm: proc.vm,
          qmp: proc.qmp,
          events,
          timeouts: ctx.timeouts,
          crashDevice: spec.image.manifest.machine.crash,
          cleanup: stack.move(),
          recordFile: proc.recordFile,
          scratch: files.scratch,
          disk: files.overlay,
        });
        return await this.untilReady(instance, spec, ctx, how, files, proc);
      }
    } catch (err) {
      await stack.disposeAsync().catch(() => undefined);
      throw err;
    }
  }

  /** The cell's own files: its overlay over the image (or the warm state's disk), firmware variables, a TPM. */
  private async cellFiles(spec: VmSpec, ctx: StartContext, how: LaunchHow, cellDir: string, stack: CleanupStack): Promise<CellFiles> {
    const boot = spec.image.manifest.boot;
    const files: CellFiles = {
      cellDir,
      consolePath: path.join(cellDir, 'console.log'),
      logPath: path.join(cellDir, 'qemu.log'),
      overlay: path.join(cellDir, how.keepOverlayAs ?? 'overlay.qcow2'),
      qmpSocket: socketPath(cellDir, 'qmp.sock'),
      scratch: [],
      processes: [],
    };
    files.scratch.push(...(how.keepOverlayAs ? [files.qmpSocket] : [files.overlay, files.qmpSocket]));
    stack.defer(() => removeRecord(recordPath(this.stateDir, spec.name)));
    stack.defer(() => rm(files.qmpSocket, { force: true }));

    if (!how.keepOverlayAs) stack.defer(() => rm(files.overlay, { force: true }));
    // Warm: the cell writes over the disk the state was saved with (base <- saved overlay <- cell).
    const backing = how.warm ? { base: how.warm.diskPath, baseFormat: 'qcow2' as const } : { base: ctx.baseDisk.path, baseFormat: ctx.baseDisk.format };
    await createOverlay({ ...backing, overlay: files.overlay }, this.qemuImg);

    if (ctx.ovmf) {
      const vars = path.join(cellDir, 'OVMF_VARS.fd');
      files.ovmfVars = vars;
      files.scratch.push(vars);
      stack.defer(() => rm(vars, { force: true }));
      await copyFile(ctx.ovmfVarsTemplate, vars);
    }

    if (boot.kind === 'disk' && boot.tpm) {
      const tpmDir = path.join(cellDir, 'tpm');
      const tpmSocket = socketPath(cellDir, 'swtpm.sock');
      files.tpmSocket = tpmSocket;
      files.scratch.push(tpmDir, tpmSocket);
      stack.defer(() => rm(tpmDir, { recursive: true, force: true }));
      stack.defer(() => rm(tpmSocket, { force: true }));
      const tpm = await startSwtpm(tpmDir, tpmSocket, this.watchdog, ctx.timeouts.command);
      files.processes.push({ ...tpm.identity, role: 'swtpm' });
      stack.defer(() => killGroup(tpm.identity));
    }
    return files;
  }

  /**
   * One QEMU process, recorded, until its monitor answers a command. `port-taken`: the forwarded
   * loopback port was taken by someone else meanwhile (try another); anything else that keeps it
   * from starting is an InfraFailure (WarmRestoreFailed for a state that does not load).
   */
  private async spawnQemu(spec: VmSpec, ctx: StartContext, how: LaunchHow, files: CellFiles, attempt: number): Promise<SpawnedQemu | 'port-taken'> {
    const { qemu, memoryMiB, cpus, accel, timeouts } = ctx;
    const sshPort = await this.pickPort();
    const args = buildQemuArgs({
      name: spec.name,
      manifest: spec.image.manifest,
      imageDir: spec.image.dir,
      accel: accel.accel,
      memoryMiB,
      cpus,
      disk: { path: files.overlay, format: 'qcow2' },
      consolePath: files.consolePath,
      qmpSocket: files.qmpSocket,
      sshPort,
      ...(files.ovmfVars ? { ovmfVars: files.ovmfVars } : {}),
      ...(files.tpmSocket ? { tpmSocket: files.tpmSocket } : {}),
    });
    if (how.warm) args.push('-incoming', incomingUri(how.warm.statePath));
    const logStart = await stat(files.logPath).then((st) => st.size, () => 0);
    let vm: SpawnedChild;
    try {
      vm = await spawnDetached(qemu, args, { logPath: files.logPath, watchdog: this.watchdog });
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
      processes: [{ ...vm.identity, role: 'qemu' }, ...files.processes],
      qmpSocket: files.qmpSocket,
      cellDir: files.cellDir,
      scratch: files.scratch,
      startedAt: new Date().toISOString(),
    };
    const recordFile = await writeRecord(this.stateDir, record);

    // Stops every wait of this process as soon as QEMU exits or the caller aborts.
    const processAbort = new AbortController();
    const exit: SpawnedQemu['exit'] = {};
    void vm.exited.then((e) => {
      exit.value = e;
      processAbort.abort(new Error('QEMU exited'));
    });
    const signal = spec.signal ? AbortSignal.any([spec.signal, processAbort.signal]) : processAbort.signal;

    let qmp: QmpClient | undefined;
    try {
      qmp = await QmpClient.connect(files.qmpSocket, { timeoutMs: timeouts.command, signal, commandTimeoutMs: timeouts.command });
      // The greeting comes from the monitor thread before machine init ends (a taken port fails
      // after it); a command is answered by the main loop, i.e. only once init is done.
      await qmp.execute('query-status');
    } catch (err) {
      qmp?.close();
      await vmDone.disposeAsync();
      spec.signal?.throwIfAborted();
      const stderr = (await tail(files.logPath, 1500, logStart)).trim();
      const ended = exit.value;
      // QEMU says it and exits; its exit may not have been seen yet when the QMP wait gives up first
      // (seen on CI as "gave no QMP greeting"), and the process is gone by now either way.
      const portTaken = stderr.includes(HOSTFWD_TAKEN);
      if (portTaken && attempt < PORT_ATTEMPTS) return 'port-taken';
      await removeRecord(recordFile);
      if (portTaken) {
        throw new InfraFailure(`QEMU could not forward a loopback port after ${PORT_ATTEMPTS} attempts: ${stderr}`);
      }
      const what = ended ? `exited (${ended.code ?? ended.signal}) at start` : 'gave no QMP greeting';
      const message = `QEMU ${what} for VM ${spec.name}: ${stderr || (err as Error).message}`;
      if (how.warm) throw new WarmRestoreFailed(message, ended !== undefined, { cause: err });
      throw new InfraFailure(message, { cause: err });
    }
    return { vm, qmp, sshPort, recordFile, logStart, exit, signal };
  }

  /** A warm state loaded and the guest let run; the guest booted (its SSH banner) unless only the hypervisor was asked for. */
  private async untilReady(instance: QemuVm, spec: VmSpec, ctx: StartContext, how: LaunchHow, files: CellFiles, proc: SpawnedQemu): Promise<QemuVm> {
    const { timeouts } = ctx;
    try {
      if (how.warm) {
        try {
          await waitIncoming((c, a) => proc.qmp.execute(c, a), { timeoutMs: timeouts.boot, signal: proc.signal });
          await proc.qmp.execute('cont');
        } catch (err) {
          spec.signal?.throwIfAborted();
          await sleep(200);
          const stderr = (await tail(files.logPath, 1500, proc.logStart)).trim();
          const exited = proc.exit.value !== undefined || !isSameProcessAlive(proc.vm.identity);
          throw new WarmRestoreFailed(
            `${exited ? `QEMU exited while loading the state` : (err as Error).message}${stderr ? `: ${stderr}` : ''}`,
            exited,
            { cause: err },
          );
        }
      }
      if (spec.waitFor !== 'hypervisor') await instance.waitBooted(timeouts.boot, spec.signal);
      spec.signal?.throwIfAborted();
      instance.start = {
        kind: how.warm ? 'warm' : 'cold',
        ms: Math.round(performance.now() - how.t0),
        ...(how.fallbackReason ? { fallbackReason: how.fallbackReason } : {}),
      };
      if (how.warm) instance.warmState = { dir: how.warm.dir, key: how.warm.record.key, stateBytes: how.warm.record.files.state };
      instance.bindLifetime(spec.signal);
      return instance;
    } catch (err) {
      await instance[Symbol.asyncDispose]();
      spec.signal?.throwIfAborted();
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
  /** The VM's writable disk (its qcow2 overlay), read offline once QEMU is gone. */
  disk: string;
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

class QemuVm implements VmInstance, MonitorCapable, OfflineDiskCapable {
  readonly name: string;
  readonly accel: Accel;
  readonly accelReason: string;
  readonly ssh: { readonly host: '127.0.0.1'; readonly port: number };
  readonly consolePath: string;
  readonly pid: number;
  readonly events: EventLog;
  /** How this VM was started and how long it took until ready; set once start() resolves. */
  start: VmStartInfo | undefined;
  /** The warm state it was restored from (warm starts only). */
  warmState: { dir: string; key: string; stateBytes: number } | undefined;
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

  /**
   * The overlay, once QEMU has exited (it flushed every cluster on quit); while it runs, undefined:
   * a qcow2 written under the reader can read inconsistent. Kept until dispose.
   */
  offlineDisk(): { path: string; format: 'qcow2' } | undefined {
    return this.exit || !isSameProcessAlive(this.p.vm.identity) ? { path: this.p.disk, format: 'qcow2' } : undefined;
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
