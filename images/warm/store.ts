// Warm states: a booted, ready VM saved once per image and machine, restored per cell instead of a
// cold boot. Kept beside the image they were made from:
//
//   <image dir>/warm/<key>/warm.json       what was saved, with which machine, file sizes
//                         /state.gz        the VM's RAM and device state (QEMU migration stream, gzip -1)
//                         /overlay.qcow2   the disk as the saved RAM knows it (backing: the image's base disk)
//                         /save-*.log      the saving VM's console and QEMU log (evidence)
//
// The key is a hash of the image (inputsHash), the hypervisor version and the machine options (the
// hypervisor's argv minus per-VM paths and ports): whatever changes what the saved state expects
// changes the key. A state is made in `.tmp-<pid>-<start>-<rand>-<key16>/` and renamed into place
// only once complete, so a killed save never leaves a folder that looks like a state; the folders of
// dead savers are swept on the next save. The saver holds `warm/<key>.lock` (lib/cache-lock.ts): a
// second process finds it held and boots its cell cold instead of waiting (a wait costs as much as
// the boot it would save); a dead saver's lock is taken over.
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { processAlive, readLock, sameProcess, sweepDeadTemps, tempName, thisProcess, tryAcquireLock } from '../../lib/cache-lock.ts';
import { InfraFailure } from '../../lib/errors.ts';

export const WARM_DIR = 'warm';
export const WARM_SCHEMA = 1;
export const WARM_FILES = { record: 'warm.json', state: 'state.gz', disk: 'overlay.qcow2' } as const;

export interface WarmKeyParts {
  /** The image's inputsHash. */
  readonly inputsHash: string;
  /** Hypervisor and its version (a migration stream is only promised to load into the same QEMU). */
  readonly hypervisor: string;
  /** The machine options: the hypervisor's argv with per-VM paths and ports replaced by placeholders. */
  readonly machine: readonly string[];
}

export interface WarmRecord {
  readonly schema: typeof WARM_SCHEMA;
  readonly key: string;
  readonly image: { readonly name: string; readonly inputsHash: string };
  readonly hypervisor: string;
  readonly machine: readonly string[];
  readonly accel: string;
  readonly memoryMiB: number;
  readonly cpus: number;
  /** Byte sizes as saved: a truncated or swapped file is caught before the hypervisor reads it. */
  readonly files: { readonly state: number; readonly disk: number };
  readonly savedAt: string;
  /** Cold boot to ready, then the save itself (stop, migrate, quit). */
  readonly bootMs: number;
  readonly saveMs: number;
}

export interface WarmState {
  readonly dir: string;
  readonly record: WarmRecord;
  readonly statePath: string;
  readonly diskPath: string;
}

export function warmKey(parts: WarmKeyParts): string {
  return createHash('sha256')
    .update(JSON.stringify({ schema: WARM_SCHEMA, inputsHash: parts.inputsHash, hypervisor: parts.hypervisor, machine: parts.machine }))
    .digest('hex');
}

export function warmRoot(imageDir: string): string {
  return path.join(path.resolve(imageDir), WARM_DIR);
}

export function warmStateDir(imageDir: string, key: string): string {
  return path.join(warmRoot(imageDir), key);
}

/** The state for `key`, or why there is no usable one. Never throws for a missing or damaged state. */
export async function readWarmState(imageDir: string, key: string): Promise<WarmState | { missing: string; damaged?: boolean }> {
  const dir = warmStateDir(imageDir, key);
  let raw: string;
  try {
    raw = await readFile(path.join(dir, WARM_FILES.record), 'utf8');
  } catch {
    return { missing: `no warm state for key ${key.slice(0, 12)}` };
  }
  let record: WarmRecord;
  try {
    record = JSON.parse(raw) as WarmRecord;
  } catch {
    return { missing: `warm state ${key.slice(0, 12)}: ${WARM_FILES.record} is not JSON`, damaged: true };
  }
  if (record.schema !== WARM_SCHEMA || record.key !== key) {
    return { missing: `warm state ${key.slice(0, 12)}: record is schema ${String(record.schema)} for key ${String(record.key).slice(0, 12)}`, damaged: true };
  }
  const statePath = path.join(dir, WARM_FILES.state);
  const diskPath = path.join(dir, WARM_FILES.disk);
  for (const [what, file, bytes] of [
    ['state', statePath, record.files.state],
    ['disk', diskPath, record.files.disk],
  ] as const) {
    const size = await stat(file).then((s) => s.size, () => -1);
    if (size < 0) return { missing: `warm state ${key.slice(0, 12)}: ${path.basename(file)} is missing`, damaged: true };
    if (size !== bytes) {
      return { missing: `warm state ${key.slice(0, 12)}: ${what} file ${path.basename(file)} is ${size} bytes, ${WARM_FILES.record} says ${bytes} (truncated or replaced)`, damaged: true };
    }
  }
  return { dir, record, statePath, diskPath };
}

/** Every complete state of the image (for `fleetgate warm --list` and mismatch explanations). */
export async function listWarmStates(imageDir: string): Promise<WarmState[]> {
  const out: WarmState[] = [];
  for (const e of (await readdir(warmRoot(imageDir)).catch(() => [] as string[])).sort()) {
    if (!/^[0-9a-f]{64}$/.test(e)) continue;
    const s = await readWarmState(imageDir, e);
    if ('record' in s) out.push(s);
  }
  return out;
}

/** A state being made: write into `tmpDir`, then commit() (or abort()). */
export interface WarmStaging {
  readonly tmpDir: string;
  /** Renames the folder into place; `exists` when another saver got there first (ours is dropped). */
  commit(record: WarmRecord): Promise<'committed' | 'exists'>;
  abort(): Promise<void>;
}

export function warmLockFile(imageDir: string, key: string): string {
  return path.join(warmRoot(imageDir), `${key}.lock`);
}

/** Starts making the state for `key`; throws when another live process is making it right now. */
export async function stageWarmState(imageDir: string, key: string): Promise<WarmStaging> {
  const root = warmRoot(imageDir);
  await mkdir(root, { recursive: true });
  const lock = await tryAcquireLock(warmLockFile(imageDir, key), `saving warm state ${key.slice(0, 12)}`);
  if ('holder' in lock) throw new InfraFailure(`controller pid ${lock.holder.pid} is making warm state ${key.slice(0, 12)} right now`);
  try {
    await sweepDeadTemps(root, SWEPT);
    const tmpDir = path.join(root, tempName('tmp', `-${key.slice(0, 16)}`));
    await mkdir(tmpDir);
    return {
      tmpDir,
      async commit(record) {
        try {
          // The record goes in last: a folder with warm.json and matching sizes is a complete state.
          await writeFile(path.join(tmpDir, WARM_FILES.record), `${JSON.stringify(record, null, 2)}\n`);
          try {
            await rename(tmpDir, warmStateDir(imageDir, key));
            return 'committed';
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
            await rm(tmpDir, { recursive: true, force: true });
            return 'exists';
          }
        } finally {
          await lock.release();
        }
      },
      async abort() {
        await rm(tmpDir, { recursive: true, force: true });
        await lock.release();
      },
    };
  } catch (err) {
    await lock.release();
    throw err;
  }
}

/** Another live process is saving this key right now (its pid, else undefined). */
export async function otherSaver(imageDir: string, key: string): Promise<number | undefined> {
  const holder = await readLock(warmLockFile(imageDir, key));
  if (typeof holder !== 'object' || sameProcess(holder, thisProcess()) || !processAlive(holder)) return undefined;
  return holder.pid;
}

/**
 * Takes a state out of use (damaged, or its hypervisor refused it). It is renamed away first, so no
 * new restore picks it up; VMs already restored from it keep their open files.
 */
export async function removeWarmState(imageDir: string, key: string): Promise<void> {
  const dir = warmStateDir(imageDir, key);
  const old = path.join(warmRoot(imageDir), tempName('old', `-${key.slice(0, 16)}`));
  try {
    await rename(dir, old);
  } catch {
    return;
  }
  await rm(old, { recursive: true, force: true });
}

/** Temp folders of saves in progress (`.tmp-…`) and of removals (`.old-…`). */
const SWEPT = ['tmp', 'old'] as const;
