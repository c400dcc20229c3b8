// The Linux personality: the lab guest's operations by name (identity, driver install and unload,
// the lab module's knobs). Everything OS-specific about the lab guest is here; the cell lifecycle only
// calls these. Every value that goes into a command is quoted; nothing from the guest is trusted.
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { InfraFailure } from '../../../lib/errors.ts';
import { safeFileName } from '../../../lib/safe-name.ts';
import { TestError } from '../../cell/failures.ts';
import type { AgentResult, WorkloadSpec } from '../../../workloads/agent/protocol.ts';
import { AGENT_OUTPUT_MAX_BYTES, parseAgentOutput } from '../../../workloads/result.ts';
import type { ExecResult, GuestChannel } from '../channel.ts';
import { posixCommand, quotePosix } from '../ssh/quote.ts';

export interface LabIdentity {
  /** `uname -r`: the lab's "build". */
  kernel: string;
  /** Changes on every boot: tells a reboot (or a fresh VM) from the same boot. */
  bootId: string;
  uptimeSeconds: number;
}

/** Knobs of the lab module (driver/lab/fgfilter.c) that fire something. */
export type LabTrigger = 'oops' | 'panic' | 'hang_irqoff' | 'deadlock' | 'leak';

const MODULE_NAME = /^[A-Za-z0-9_]+$/;
/** Commands of ours that need longer than this are a guest problem, not a slow command. */
const DEFAULT_TIMEOUT_MS = 30_000;

/** The agent failed to run the workload at all (bad spec, no work directory): the test is broken. */
export class WorkloadError extends TestError {}

/** A module sent to the guest, not loaded yet. */
export interface StagedDriver {
  name: string;
  remote: string;
  sha256: string;
}

/** The guest's kernel refused to load the module: the driver's install failure, with its words. */
export class DriverLoadRefused extends Error {
  constructor(
    readonly module: string,
    readonly insmod: string,
    readonly dmesg: string,
  ) {
    super(`insmod ${module} refused: ${insmod}`);
    this.name = 'DriverLoadRefused';
  }
}

const AGENT_DIR = '/tmp/fleetgate';
/** The agent's work root: the cell's writable disk, so workloads hit a real file system. */
const WORK_ROOT = '/data';

/** A kernel cpulist as the kernel prints it ("1", "2-3,5"). */
const CPU_LIST = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

export class LabGuest {
  private agentUploaded: string | undefined;
  private measureCpus: Promise<string | null> | undefined;
  constructor(private readonly channel: GuestChannel) {}

  /**
   * Runs a shell command under busybox `timeout -s KILL`: sshd refuses signal requests for root
   * sessions, so a channel timeout alone would leave the command running in the guest.
   */
  async run(command: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ExecResult> {
    const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
    return this.channel.exec(posixCommand(['timeout', '-s', 'KILL', String(seconds), 'sh', '-c', command]), { timeoutMs: timeoutMs + 5_000 });
  }

  /** Runs a command that must succeed; its output (trimmed) is returned. */
  async check(command: string, what: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
    const r = await this.run(command, timeoutMs);
    if (r.exitCode !== 0) {
      throw new InfraFailure(`lab guest: ${what} failed (exit ${r.exitCode ?? r.signal ?? (r.timedOut ? 'timeout' : '?')}): ${r.stderr.trim().slice(-400) || r.stdout.trim().slice(-400)}`);
    }
    return r.stdout.trim();
  }

  async identity(): Promise<LabIdentity> {
    const out = await this.check('uname -r; cat /proc/sys/kernel/random/boot_id; cut -d" " -f1 /proc/uptime', 'identity');
    const [kernel, bootId, uptime] = out.split('\n').map((s) => s.trim());
    if (!kernel || !bootId || !uptime || Number.isNaN(Number(uptime))) {
      throw new InfraFailure(`lab guest: identity output not understood: ${JSON.stringify(out.slice(0, 200))}`);
    }
    return { kernel, bootId, uptimeSeconds: Number(uptime) };
  }

  /** The lab's "driver install": upload the module and load it; checks it is loaded. */
  async installDriver(koPath: string, params: Record<string, string | number> = {}): Promise<{ name: string; sha256: string }> {
    const staged = await this.uploadDriver(koPath);
    await this.loadDriver(staged, params);
    return { name: staged.name, sha256: staged.sha256 };
  }

  /** Host-side half of an install: the .ko sent to the guest (checksummed). Fails only as infrastructure. */
  async uploadDriver(koPath: string): Promise<StagedDriver> {
    const file = basename(koPath);
    const name = file.replace(/\.ko$/, '');
    if (!MODULE_NAME.test(name)) throw new InfraFailure(`lab driver file name ${file} is not a module name`);
    const remote = `/tmp/${file}`;
    const sent = await this.channel.upload(koPath, remote);
    return { name, remote, sha256: sent.sha256 };
  }

  /**
   * The guest-side half: insmod, then the module must be in /sys/module. insmod refusing it (bad
   * symbol, failed init, kprobe registration refused) is DriverLoadRefused with the kernel's words;
   * a channel that fails meanwhile is whatever the channel threw.
   */
  async loadDriver(staged: StagedDriver, params: Record<string, string | number> = {}): Promise<void> {
    const args = Object.entries(params).map(([k, v]) => `${k}=${v}`);
    const r = await this.run(posixCommand(['insmod', staged.remote, ...args]));
    if (typeof r.exitCode === 'number' && r.exitCode !== 0 && !r.timedOut) {
      const dmesg = await this.run('dmesg | tail -n 20').then((d) => d.stdout.trim(), () => '');
      throw new DriverLoadRefused(staged.name, `${r.stderr.trim() || r.stdout.trim()}`.slice(-400), dmesg);
    }
    if (r.exitCode !== 0) throw new InfraFailure(`lab guest: insmod ${staged.name} did not finish (${r.timedOut ? 'timeout' : (r.signal ?? 'no exit code')})`);
    if (!(await this.isLoaded(staged.name))) throw new DriverLoadRefused(staged.name, `insmod exited 0 but ${staged.name} is not in /sys/module`, '');
  }

  async isLoaded(name: string): Promise<boolean> {
    const r = await this.run(`test -d ${quotePosix(`/sys/module/${name}`)}`);
    return r.exitCode === 0;
  }

  /** Unload: for the lab module this is also where a leak is reported (dmesg). */
  async unloadDriver(name: string): Promise<void> {
    await this.check(posixCommand(['rmmod', name]), `rmmod ${name}`);
  }

  async readParam(module: string, param: string): Promise<string> {
    return this.check(`cat ${quotePosix(`/sys/module/${module}/parameters/${param}`)}`, `read ${module}.${param}`);
  }

  async setParam(module: string, param: string, value: string | number): Promise<void> {
    await this.check(`echo ${quotePosix(String(value))} > ${quotePosix(`/sys/module/${module}/parameters/${param}`)}`, `set ${module}.${param}`);
  }

  /**
   * Arms a knob; it fires on the next intercepted open, which this call then causes. The guest may
   * crash or hang before answering, so the result is not awaited beyond a short time.
   */
  async trigger(module: string, what: LabTrigger, o: { cpu?: number } = {}): Promise<void> {
    // The open that fires it runs where the workload's opens run (the measurement CPU when the guest
    // has one), so a hang knob spins the agent's CPU, not the one sshd and the heartbeat answer on;
    // `cpu` picks another (CPU 0: a hang that also stops the heartbeat).
    const cpus = o.cpu !== undefined ? String(o.cpu) : await this.measurementCpus();
    const open = posixCommand([...(cpus ? ['taskset', '-c', cpus] : []), 'cat', '/etc/hostname']);
    const cmd = `echo ${quotePosix(what)} > ${quotePosix(`/sys/module/${module}/parameters/trigger`)} && ${open}`;
    await Promise.race([this.run(cmd, 5_000).catch(() => undefined), new Promise((r) => setTimeout(r, 3_000))]);
  }

  /**
   * Runs a workload through the in-guest agent (uploaded once per guest boot) and returns its
   * result. `agentPath` is the bundled agent (workloads/agent/bundle.ts).
   */
  async runWorkload(agentPath: string, spec: WorkloadSpec, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<AgentResult> {
    const remoteAgent = `${AGENT_DIR}/agent.js`;
    if (this.agentUploaded !== agentPath) {
      await this.check(posixCommand(['mkdir', '-p', AGENT_DIR]), 'make the agent folder');
      await this.channel.upload(agentPath, remoteAgent);
      this.agentUploaded = agentPath;
    }
    const local = await mkdtemp(join(tmpdir(), 'fg-spec-'));
    const remoteSpec = `${AGENT_DIR}/spec-${safeFileName(spec.name)}.json`;
    try {
      await writeFile(join(local, 'spec.json'), JSON.stringify(spec));
      await this.channel.upload(join(local, 'spec.json'), remoteSpec);
    } finally {
      await rm(local, { recursive: true, force: true });
    }
    const seconds = Math.ceil(opts.timeoutMs / 1000);
    // On the measurement CPU the agent runs as one thread (V8's --single-threaded: no GC or compiler
    // helper threads), so the CPU has one task and the kernel stops its tick (nohz_full). Measured:
    // with V8's helper threads beside it, CPU 1 took ~250 timer interrupts a second and 30-40
    // involuntary switches per 3,000 opens; alone, a few a second and none.
    const cpus = await this.measurementCpus();
    const pin = cpus ? ['taskset', '-c', cpus] : [];
    const nodeFlags = cpus ? ['--single-threaded'] : [];
    const r = await this.channel.exec(
      posixCommand(['timeout', '-s', 'KILL', String(seconds), ...pin, 'node', ...nodeFlags, remoteAgent, '--spec', remoteSpec, '--workdir', WORK_ROOT, '--quiet']),
      { timeoutMs: opts.timeoutMs + 5_000, ...(opts.signal ? { signal: opts.signal } : {}), maxBufferBytes: AGENT_OUTPUT_MAX_BYTES },
    );
    if (r.timedOut || r.aborted) throw new InfraFailure(`workload ${spec.name} ${r.aborted ? 'was aborted' : `timed out after ${seconds} s`}`);
    const out = parseAgentOutput(r.stdout, `agent output for ${spec.name}`, r.stdoutDroppedBytes);
    if (out.kind === 'fatal') throw new WorkloadError(`the agent could not run ${spec.name}: ${out.fatal.fatal}`);
    return out.result;
  }

  /**
   * The CPUs the agent is pinned to: the guest's isolated CPUs (isolcpus=, see images/lab/boot-args.ts)
   * when it has any, else null (the agent runs where the scheduler puts it). Read once per guest.
   * The agent's result says where it ran (host.cpus.allowed).
   */
  measurementCpus(): Promise<string | null> {
    this.measureCpus ??= this.check('cat /sys/devices/system/cpu/isolated', 'read the isolated CPUs').then((out) => {
      if (out === '') return null;
      if (!CPU_LIST.test(out)) throw new InfraFailure(`lab guest: /sys/devices/system/cpu/isolated is ${JSON.stringify(out.slice(0, 80))}; expected a CPU list such as 1 or 2-3`);
      return out;
    });
    return this.measureCpus;
  }

  async kernelLog(): Promise<string> {
    return (await this.run('dmesg')).stdout;
  }
}
