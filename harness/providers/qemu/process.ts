// Host processes by identity, not just by number: a pid plus its start time (field 22 of
// /proc/<pid>/stat) plus the host's boot id, so a pid the kernel has reused since is never killed.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ProcessIdentity {
  readonly pid: number;
  /** Clock ticks after boot, from /proc/<pid>/stat. */
  readonly startTime: string;
  readonly bootId: string;
}

let cachedBootId: string | undefined;
export function bootId(): string {
  cachedBootId ??= readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  return cachedBootId;
}

/** Start time of a live pid, or undefined when there is no such process (or it is a zombie). */
export function procStartTime(pid: number): string | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm (field 2) may hold spaces and parentheses: fields after it start past the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return fields[19];
}

export function identify(pid: number): ProcessIdentity | undefined {
  const startTime = procStartTime(pid);
  return startTime === undefined ? undefined : { pid, startTime, bootId: bootId() };
}

/** The same process is still there (same boot, same pid, same start time). */
export function isSameProcessAlive(id: ProcessIdentity): boolean {
  return id.bootId === bootId() && procStartTime(id.pid) === id.startTime;
}

/** SIGKILLs the process group led by `id.pid` (and the pid itself), only if it is still that process. */
export function killGroup(id: ProcessIdentity, signal: NodeJS.Signals = 'SIGKILL'): boolean {
  if (!isSameProcessAlive(id)) return false;
  try {
    process.kill(-id.pid, signal);
  } catch {
    try {
      process.kill(id.pid, signal);
    } catch {
      return false;
    }
  }
  return true;
}

export async function waitGone(id: ProcessIdentity, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isSameProcessAlive(id)) {
    if (Date.now() > deadline) return false;
    await sleep(25);
  }
  return true;
}

/** Resident memory of a process in KiB (VmRSS), or undefined when it is gone. */
export async function rssKiB(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

let setprivAvailable: boolean | undefined;
function hasSetpriv(): boolean {
  if (setprivAvailable === undefined) {
    setprivAvailable = ['/usr/bin/setpriv', '/bin/setpriv'].some((p) => {
      try {
        accessSync(p, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  }
  return setprivAvailable;
}

export interface SpawnedChild {
  readonly child: ChildProcess;
  readonly identity: ProcessIdentity;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly watchdog: boolean;
}

/**
 * Starts a long-lived helper (QEMU, swtpm) in its own process group, stdout/stderr appended to
 * `logPath`. With `watchdog`, the kernel SIGKILLs it when the controller dies (setpriv
 * --pdeathsig; QEMU 7.2 has no -run-with): the parent-death signal follows the thread that
 * spawned it, which for child_process is the main thread, so it fires when the controller exits.
 */
export async function spawnDetached(
  command: string,
  args: readonly string[],
  options: { logPath: string; watchdog: boolean },
): Promise<SpawnedChild> {
  const log = await open(options.logPath, 'a');
  const watchdog = options.watchdog && hasSetpriv();
  const [cmd, argv] = watchdog
    ? ['setpriv', ['--pdeathsig', 'KILL', '--', command, ...args]]
    : [command, [...args]];
  let child: ChildProcess;
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  let spawned: Promise<Error | undefined>;
  try {
    child = spawn(cmd, argv, { detached: true, stdio: ['ignore', log.fd, log.fd] });
    // Listen before anything is awaited: 'spawn' and 'error' fire on the next tick.
    exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: null, signal: null }));
    });
    spawned = new Promise((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.once('error', (err) => resolve(err));
    });
  } finally {
    await log.close();
  }
  const spawnError = await spawned;
  if (spawnError || child.pid === undefined) {
    throw Object.assign(spawnError ?? new Error(`${cmd}: no pid`), { command });
  }
  // A forgotten VM must not keep the controller alive (the exit hook and the watchdog end it);
  // every wait on it holds its own timer instead.
  child.unref();
  const identity = identify(child.pid) ?? { pid: child.pid, startTime: 'unknown', bootId: bootId() };
  return { child, identity, exited, watchdog };
}

/** The last `maxBytes` of a log file (only what was written after byte `from`), for error messages. */
export async function tail(file: string, maxBytes = 2000, from = 0): Promise<string> {
  try {
    const { size } = await stat(file);
    const fh = await open(file, 'r');
    try {
      const length = Math.max(0, Math.min(size - from, maxBytes));
      const buf = Buffer.alloc(length);
      await fh.read(buf, 0, length, size - length);
      return buf.toString('utf8').trim();
    } finally {
      await fh.close();
    }
  } catch {
    return '';
  }
}
