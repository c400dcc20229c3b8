// The Linux personality: the lab guest's operations by name (identity, driver install and unload,
// the lab module's knobs). Everything OS-specific about the lab guest is here; the cell lifecycle only
// calls these. Every value that goes into a command is quoted; nothing from the guest is trusted.
import { basename } from 'node:path';
import { InfraFailure } from '../../../lib/errors.ts';
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

export class LabGuest {
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
    const file = basename(koPath);
    const name = file.replace(/\.ko$/, '');
    if (!MODULE_NAME.test(name)) throw new InfraFailure(`lab driver file name ${file} is not a module name`);
    const remote = `/tmp/${file}`;
    const sent = await this.channel.upload(koPath, remote);
    const args = Object.entries(params).map(([k, v]) => `${k}=${v}`);
    await this.check(posixCommand(['insmod', remote, ...args]), `insmod ${name}`);
    if (!(await this.isLoaded(name))) throw new InfraFailure(`lab guest: ${name} is not in /sys/module after insmod`);
    return { name, sha256: sent.sha256 };
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
  async trigger(module: string, what: LabTrigger): Promise<void> {
    const cmd = `echo ${quotePosix(what)} > ${quotePosix(`/sys/module/${module}/parameters/trigger`)} && cat /etc/hostname`;
    await Promise.race([this.run(cmd, 5_000).catch(() => undefined), new Promise((r) => setTimeout(r, 3_000))]);
  }

  async kernelLog(): Promise<string> {
    return (await this.run('dmesg')).stdout;
  }
}
