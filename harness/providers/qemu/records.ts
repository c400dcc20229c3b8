// A small record per running VM in the state folder, so that a controller started after one that
// died (kill -9, OOM, power cut of the terminal) can find and remove what it left behind.
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { identify, type ProcessIdentity } from './process.ts';

export const RECORD_SCHEMA = 1;

export interface VmRecord {
  readonly schema: typeof RECORD_SCHEMA;
  readonly name: string;
  readonly controller: ProcessIdentity;
  /** QEMU first, then helpers (swtpm). Each is its own process group leader. */
  readonly processes: readonly (ProcessIdentity & { readonly role: string })[];
  readonly qmpSocket: string;
  readonly cellDir: string;
  /** Throw-away files and folders to delete with the VM (overlay, socket, vars copy, TPM state). */
  readonly scratch: readonly string[];
  readonly startedAt: string;
}

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export function defaultStateDir(): string {
  return process.env.FLEETGATE_STATE ?? path.join(REPO_ROOT, '.cache', 'state');
}

export function recordsDir(stateDir: string): string {
  return path.join(stateDir, 'qemu');
}

export function recordPath(stateDir: string, name: string): string {
  return path.join(recordsDir(stateDir), `${name}.json`);
}

export function thisController(): ProcessIdentity {
  const id = identify(process.pid);
  if (!id) throw new Error('cannot read /proc/self/stat');
  return id;
}

export async function writeRecord(stateDir: string, record: VmRecord): Promise<string> {
  const file = recordPath(stateDir, record.name);
  await mkdir(path.dirname(file), { recursive: true });
  // Written whole then renamed: a reader never sees half a record.
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`);
  await rename(tmp, file);
  return file;
}

export async function readRecords(stateDir: string): Promise<{ file: string; record?: VmRecord; error?: string }[]> {
  const dir = recordsDir(stateDir);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: { file: string; record?: VmRecord; error?: string }[] = [];
  for (const n of names.filter((x) => x.endsWith('.json')).sort()) {
    const file = path.join(dir, n);
    try {
      const v = JSON.parse(await readFile(file, 'utf8')) as Partial<VmRecord>;
      if (v.schema !== RECORD_SCHEMA || !v.controller || !Array.isArray(v.processes) || !Array.isArray(v.scratch)) {
        out.push({ file, error: `not a schema ${RECORD_SCHEMA} VM record` });
      } else {
        out.push({ file, record: v as VmRecord });
      }
    } catch (err) {
      out.push({ file, error: (err as Error).message });
    }
  }
  return out;
}

export async function removeRecord(file: string): Promise<void> {
  await rm(file, { force: true });
}
