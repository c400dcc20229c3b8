// Single-flight for what .cache/ holds (lab images, lab modules, warm states, the agent bundle): one
// build at a time, however many callers want it.
//
// - In one process, concurrent callers with the same key share one promise (singleFlight).
// - Across processes, the builder holds a lock file beside what it builds (withCacheLock). The file
//   names its holder (pid, the process's start time, the boot id, the host), so a lock left by a killed
//   process is taken over at once, and a pid reused by another process is not mistaken for the holder.
// - A lock file appears complete or not at all: the record is written to a temp file and hard-linked
//   into place (link fails if the name exists). Breaking a stale lock goes through a short-lived second
//   lock, so two waiters cannot both break it and one of them remove the other's fresh lock.
// - Temp names carry the same pid and start time (tempName), so a sweep removes only dead builders'
//   leftovers (isDeadTemp).
// - Leases: a process that uses an image says so (leaseDir); a forced rebuild refuses to move an image
//   that a live process holds a lease on (liveLeases).
import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { link, mkdir, open, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { InfraFailure } from './errors.ts';

/** Who a process is: enough to tell it from a later process that got the same pid. */
export interface ProcessId {
  pid: number;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22); '' where /proc has none. */
  start: string;
  /** /proc/sys/kernel/random/boot_id: a lock from before a reboot is always stale. */
  boot: string;
  host: string;
}

export interface LockRecord extends ProcessId {
  /** What the holder is doing, for the waiter's message. */
  what: string;
  at: string;
  /** Unique per acquisition: a breaker removes only the record it judged stale. */
  nonce: string;
}

function readProcStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields after it follow the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

let bootId: string | undefined;
function currentBoot(): string {
  if (bootId === undefined) {
    try {
      bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      bootId = '';
    }
  }
  return bootId;
}

let self: ProcessId | undefined;
export function thisProcess(): ProcessId {
  self ??= { pid: process.pid, start: readProcStart(process.pid) ?? '', boot: currentBoot(), host: os.hostname() };
  return self;
}

/** The identity of a running process on this machine (undefined when it is not running). */
export function processIdOf(pid: number): ProcessId | undefined {
  const start = readProcStart(pid);
  if (start === undefined) return undefined;
  const me = thisProcess();
  return { pid, start, boot: me.boot, host: me.host };
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Is the process that wrote this record still running? A record from another host cannot be checked
 * from here and counts as alive (a cache shared between machines is waited on, never broken).
 */
export function processAlive(p: Pick<ProcessId, 'pid' | 'start' | 'boot' | 'host'>): boolean {
  const me = thisProcess();
  if (p.host !== me.host) return true;
  if (p.boot && me.boot && p.boot !== me.boot) return false;
  if (p.pid === me.pid) return p.start === me.start;
  if (!pidExists(p.pid)) return false;
  const start = readProcStart(p.pid);
  return start === undefined || p.start === '' || start === p.start;
}

export function sameProcess(a: ProcessId, b: ProcessId): boolean {
  return a.pid === b.pid && a.start === b.start && a.boot === b.boot && a.host === b.host;
}

// ---- temp names -----------------------------------------------------------------------------------

/** `.<prefix>-<pid>-<start>-<random><suffix>`: unique per call, and tells a sweep whose it is. */
export function tempName(prefix: string, suffix = ''): string {
  const me = thisProcess();
  return `.${prefix}-${me.pid}-${me.start || '0'}-${randomBytes(4).toString('hex')}${suffix}`;
}

/** True when `name` is a tempName(prefix) of a process that is gone (and so safe to remove). */
export function isDeadTemp(name: string, prefix: string): boolean {
  const m = new RegExp(`^\\.${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d+)-(\\d+)-[0-9a-f]{8}`).exec(name);
  if (!m) return false;
  const me = thisProcess();
  return !processAlive({ pid: Number(m[1]), start: m[2] === '0' ? '' : m[2]!, boot: me.boot, host: me.host });
}

/** Removes the dead builders' temp entries (files or folders) of `dir` with any of the prefixes. */
export async function sweepDeadTemps(dir: string, prefixes: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const e of await readdir(dir).catch(() => [] as string[])) {
    if (!prefixes.some((p) => isDeadTemp(e, p))) continue;
    await rm(path.join(dir, e), { recursive: true, force: true });
    removed.push(e);
  }
  return removed;
}

// ---- single flight in one process -----------------------------------------------------------------

const flights = new Map<string, Promise<unknown>>();

/** Concurrent calls with the same key share the first caller's promise until it settles. */
export function singleFlight<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const running = flights.get(key) as Promise<T> | undefined;
  if (running) return running;
  const p = (async () => fn())().finally(() => flights.delete(key));
  flights.set(key, p);
  return p;
}

// ---- the lock file --------------------------------------------------------------------------------

export interface LockOptions {
  /** Progress lines: waiting for a holder, taking over a dead one's lock. */
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** Give up waiting for a live holder after this long (default: wait as long as it lives). */
  waitMs?: number;
  /** How often a waiter looks again (default 200 ms, growing to 1 s). */
  pollMs?: number;
}

/** A break lock older than this was left by a breaker that died in its few milliseconds. */
const BREAK_STALE_MS = 10_000;

const held = new Set<string>();
let exitHook = false;
function releaseAllAtExit(): void {
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const f of held) {
      try {
        const r = JSON.parse(readFileSync(f, 'utf8')) as LockRecord;
        if (sameProcess(r, thisProcess())) unlinkSync(f);
      } catch {
        // gone already, or not ours
      }
    }
  });
}

export async function readLock(lockFile: string): Promise<LockRecord | 'corrupt' | undefined> {
  let raw: string;
  try {
    raw = await readFile(lockFile, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const r = JSON.parse(raw) as LockRecord;
    if (typeof r.pid === 'number' && typeof r.nonce === 'string' && typeof r.host === 'string') return r;
  } catch {
    // fall through
  }
  return 'corrupt';
}

async function tryLink(lockFile: string, record: LockRecord): Promise<boolean> {
  const tmp = path.join(path.dirname(lockFile), tempName('lock', '.tmp'));
  await writeFile(tmp, `${JSON.stringify(record)}\n`);
  try {
    await link(tmp, lockFile);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** Removes `lockFile` only if it still holds the record judged stale (nonce), under the break lock. */
async function breakStale(lockFile: string, staleNonce: string | null): Promise<boolean> {
  const breakFile = `${lockFile}.break`;
  let fh;
  try {
    fh = await open(breakFile, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const s = await stat(breakFile).catch(() => undefined);
    if (s && Date.now() - s.mtimeMs > BREAK_STALE_MS) await unlink(breakFile).catch(() => undefined);
    return false;
  }
  try {
    const now = await readLock(lockFile);
    const still = staleNonce === null ? now === 'corrupt' : typeof now === 'object' && now.nonce === staleNonce;
    if (still) await unlink(lockFile).catch(() => undefined);
    return still;
  } finally {
    await fh.close();
    await unlink(breakFile).catch(() => undefined);
  }
}

function describe(r: LockRecord): string {
  return `pid ${r.pid}${r.host !== thisProcess().host ? ` on ${r.host}` : ''} (${r.what}, since ${r.at})`;
}

/** Takes the lock (waiting for a live holder, taking over a dead one's) and returns its release. */
export async function acquireLock(lockFile: string, what: string, opts: LockOptions = {}): Promise<() => Promise<void>> {
  const log = opts.log ?? (() => {});
  await mkdir(path.dirname(lockFile), { recursive: true });
  const record: LockRecord = { ...thisProcess(), what, at: new Date().toISOString(), nonce: randomBytes(8).toString('hex') };
  const t0 = Date.now();
  let poll = opts.pollMs ?? 200;
  let waitingFor: string | null = null;
  let corruptSince: number | null = null;
  for (;;) {
    opts.signal?.throwIfAborted();
    if (await tryLink(lockFile, record)) break;
    const holder = await readLock(lockFile);
    if (holder === undefined) continue; // released between our link and our read: try again at once
    if (holder === 'corrupt') {
      // Lock records are linked in whole, so a corrupt one was written by something else: give it a
      // moment (it may be replaced), then break it.
      corruptSince ??= Date.now();
      if (Date.now() - corruptSince > 2_000 && (await breakStale(lockFile, null))) log(`${lockFile}: removed an unreadable lock file`);
    } else if (!processAlive(holder)) {
      if (await breakStale(lockFile, holder.nonce)) log(`taking over ${path.basename(lockFile)} from ${describe(holder)}: that process is gone`);
      continue;
    } else {
      corruptSince = null;
      if (waitingFor !== holder.nonce) {
        waitingFor = holder.nonce;
        log(`waiting for ${describe(holder)} to finish`);
      }
      if (opts.waitMs !== undefined && Date.now() - t0 > opts.waitMs) {
        throw new InfraFailure(`${lockFile}: still held by ${describe(holder)} after ${Math.round(opts.waitMs / 1000)} s`);
      }
    }
    // An abort ends the wait with the signal's own reason (timers/promises would say AbortError).
    await sleep(poll, undefined, opts.signal ? { signal: opts.signal } : {}).catch((err: unknown) => {
      throw opts.signal?.aborted ? opts.signal.reason : err;
    });
    poll = Math.min(poll * 2, 1_000);
  }
  return holding(lockFile, record);
}

/** Notes the lock as ours (released at exit) and returns its release, which removes only our record. */
function holding(lockFile: string, record: LockRecord): () => Promise<void> {
  held.add(lockFile);
  releaseAllAtExit();
  return async () => {
    held.delete(lockFile);
    const now = await readLock(lockFile);
    if (typeof now === 'object' && now.nonce === record.nonce) await unlink(lockFile).catch(() => undefined);
  };
}

/** Runs `fn` holding the lock file. */
export async function withCacheLock<T>(lockFile: string, what: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const release = await acquireLock(lockFile, what, opts);
  try {
    return await fn();
  } finally {
    await release();
  }
}

/**
 * The lock if nobody live holds it (a dead holder's is taken over), else the holder: for work that
 * has a better thing to do than wait (a warm save: the cell boots cold instead).
 */
export async function tryAcquireLock(lockFile: string, what: string, opts: Pick<LockOptions, 'log'> = {}): Promise<{ release: () => Promise<void> } | { holder: LockRecord }> {
  await mkdir(path.dirname(lockFile), { recursive: true });
  const record: LockRecord = { ...thisProcess(), what, at: new Date().toISOString(), nonce: randomBytes(8).toString('hex') };
  for (let i = 0; i < 5; i++) {
    if (await tryLink(lockFile, record)) return { release: holding(lockFile, record) };
    const holder = await readLock(lockFile);
    if (typeof holder === 'object' && processAlive(holder)) return { holder };
    if (typeof holder === 'object') {
      if (await breakStale(lockFile, holder.nonce)) opts.log?.(`taking over ${path.basename(lockFile)} from ${describe(holder)}: that process is gone`);
    } else if (holder === 'corrupt') {
      await breakStale(lockFile, null);
    }
  }
  const holder = await readLock(lockFile);
  if (typeof holder === 'object') return { holder };
  throw new InfraFailure(`${lockFile}: could not be taken`);
}

// ---- leases: "a live process uses this folder" ----------------------------------------------------

export const LEASES_DIR = '.leases';
const leased = new Set<string>();
let leaseExitHook = false;

function leaseFile(dir: string, p: ProcessId): string {
  return path.join(dir, LEASES_DIR, `${p.pid}-${p.start || '0'}.json`);
}

/** Marks `dir` as used by this process until it exits (once per folder; cheap after the first). */
export async function leaseDir(dir: string): Promise<void> {
  const abs = path.resolve(dir);
  if (leased.has(abs)) return;
  const me = thisProcess();
  await mkdir(path.join(abs, LEASES_DIR), { recursive: true });
  await writeFile(leaseFile(abs, me), `${JSON.stringify({ ...me, at: new Date().toISOString() })}\n`);
  leased.add(abs);
  if (!leaseExitHook) {
    leaseExitHook = true;
    process.once('exit', () => {
      for (const d of leased) {
        try {
          unlinkSync(leaseFile(d, thisProcess()));
        } catch {
          // the folder went away
        }
      }
    });
  }
}

/** The live processes other than this one that hold a lease on `dir`. */
export async function liveLeases(dir: string): Promise<ProcessId[]> {
  const out: ProcessId[] = [];
  const me = thisProcess();
  const root = path.join(dir, LEASES_DIR);
  for (const e of await readdir(root).catch(() => [] as string[])) {
    let r: ProcessId;
    try {
      r = JSON.parse(await readFile(path.join(root, e), 'utf8')) as ProcessId;
    } catch {
      continue;
    }
    if (sameProcess(r, me)) continue;
    if (processAlive(r)) out.push(r);
    else await unlink(path.join(root, e)).catch(() => undefined);
  }
  return out;
}

/** Forgets this process's own lease on `dir` (the folder is being replaced by this process). */
export function dropLease(dir: string): void {
  leased.delete(path.resolve(dir));
}
