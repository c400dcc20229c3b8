// Crash evidence read off a Windows disk without booting it (issue #18): the guest that bugchecked and
// never came back has no MEMORY.DMP yet (the next boot would have made it), but its disk still holds
// the dump where the bugcheck wrote it. From the disk (a cell's qcow2 overlay, or a qcow2, raw, VHDX
// or VHD a user brings) this finds the Windows volume and copies out:
// - %SystemRoot%\MEMORY.DMP and %SystemRoot%\Minidump\*.dmp (a crash whose reboot got that far);
// - the dedicated dump file the image set (CrashControl\DedicatedDumpFile), when it holds a dump;
// - C:\pagefile.sys's dump, when the bugcheck wrote one there and no boot extracted it (the dump
//   header at the start of the paging file; UNVERIFIED: read as the reference's §1 header, no real
//   paging file with a dump has been seen here);
// - System.evtx, read for events 1001, Kernel-Power 41, EventLog 6008 and Filter Manager 6;
// - the SYSTEM hive, kept for a second look at what was set (not read here yet).
// A dump whose SystemTime is before `notBefore` is kept but marked stale: an earlier crash's.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../../../../lib/errors.ts';
import { safeFileName } from '../../../../lib/safe-name.ts';
import { looksLikeDump } from '../dump.ts';
import { fileHead } from '../reader.ts';
import { crashEventsOf, type CrashEvents } from '../event-xml.ts';
import { readEvtx } from './evtx.ts';
import { diskInfo, extractPartition, readDiskHead, type DiskFormat, type DiskInfo } from './image-tools.ts';
import { NtfsVolume } from './ntfs-tools.ts';
import { PARTITION_HEAD_BYTES, parsePartitionTable, windowsCandidates, type Partition, type PartitionTable } from './partitions.ts';

export type CollectedKind = 'memory-dump' | 'minidump' | 'dedicated-dump' | 'pagefile-dump' | 'system-log' | 'system-hive';

export interface CollectedFile {
  readonly kind: CollectedKind;
  /** Where it was on the guest. */
  readonly windowsPath: string;
  /** Where it is now, relative to the collection folder. */
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
  /** Dumps: the header's SystemTime (when the bugcheck wrote it), UTC. */
  readonly dumpTime?: string;
  /** Dumps written before `notBefore`: an earlier crash's, not this one's. */
  readonly stale?: boolean;
}

export interface Collection {
  readonly disk: string;
  readonly format: DiskFormat;
  readonly table: PartitionTable['scheme'];
  readonly volume: { readonly partition: number; readonly offsetBytes: number; readonly sizeBytes: number; readonly name: string };
  readonly files: CollectedFile[];
  /** Windows paths looked for and not there (or holding no dump). */
  readonly absent: string[];
  readonly events?: CrashEvents;
  readonly notes: string[];
}

export interface CollectRequest {
  readonly disk: string;
  /** The disk's format; probed by qemu-img when not given. */
  readonly format?: DiskFormat;
  /** The folder the evidence is copied into (created); `collected.json` there lists it. */
  readonly out: string;
  /** CrashControl\DumpFile; default %SystemRoot%\MEMORY.DMP. */
  readonly dumpFile?: string;
  /** CrashControl\DedicatedDumpFile paths the image set (Windows paths). */
  readonly dedicatedDumpFiles?: readonly string[];
  /** Dumps written before this are marked stale. */
  readonly notBefore?: Date;
  /** Where the volume copy is made while reading, in a temporary folder removed after (default: inside `out`). */
  readonly scratch?: string;
}

export const COLLECTION_FILE = 'collected.json';
const SYSTEM_ROOT = 'C:\\Windows';
const PAGEFILE = 'C:\\pagefile.sys';
const SYSTEM_LOG = `${SYSTEM_ROOT}\\System32\\winevt\\Logs\\System.evtx`;
const SYSTEM_HIVE = `${SYSTEM_ROOT}\\System32\\config\\SYSTEM`;
/** A dump header's first 0x1000 bytes hold RequiredDumpSpace and SystemTime (§1). */
const DUMP_HEAD_BYTES = 0x1000;

/** FILETIME (100 ns since 1601) as ISO 8601 UTC; undefined when not a plausible time. */
function filetime(v: bigint): string | undefined {
  if (v === 0n) return undefined;
  const ms = Number(v / 10_000n) - 11_644_473_600_000;
  if (!Number.isFinite(ms) || ms < 0 || ms > 4_102_444_800_000) return undefined; // 1970..2100
  return new Date(ms).toISOString();
}

/** RequiredDumpSpace and SystemTime from a dump's first bytes (PAGEDU64 and PAGEDUMP both keep RequiredDumpSpace at 0xFA0). */
export function dumpHeadFacts(head: Uint8Array): { requiredBytes?: number; time?: string } {
  if (head.length < DUMP_HEAD_BYTES) return {};
  const v = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const sig = Buffer.from(head.subarray(0, 8)).toString('latin1');
  const required = v.getBigUint64(0xfa0, true);
  const time = filetime(v.getBigUint64(sig === 'PAGEDU64' ? 0xfa8 : 0xfc0, true));
  return { ...(required > 0n && required <= BigInt(Number.MAX_SAFE_INTEGER) ? { requiredBytes: Number(required) } : {}), ...(time ? { time } : {}) };
}

/** Finds the Windows volume: the largest NTFS-capable partition with a Windows\System32 folder. */
async function findWindowsVolume(disk: DiskInfo, table: PartitionTable, scratch: string, notes: string[]): Promise<{ part: Partition; vol: NtfsVolume }> {
  const candidates = windowsCandidates(table);
  if (!candidates.length) throw new InputError({ file: disk.file }, `no basic-data (GPT) or NTFS (MBR 0x07) partition among the ${table.partitions.length} in its ${table.scheme} table`);
  for (const part of candidates) {
    const file = path.join(scratch, `partition-${part.index}.raw`);
    await extractPartition(disk, part, file);
    const head = await fileHead(file, 16); // the boot sector's jump and OEM id
    if (head.subarray(3, 11).toString('latin1') !== 'NTFS    ') {
      notes.push(`partition ${part.index} is not NTFS (no "NTFS    " OEM id in its boot sector)`);
      await rm(file, { force: true });
      continue;
    }
    const vol = new NtfsVolume(file, `${disk.file} partition ${part.index}`);
    if ((await vol.resolve(`${SYSTEM_ROOT}\\System32`))?.entry.dir) return { part, vol };
    notes.push(`partition ${part.index} is NTFS but has no Windows\\System32`);
    await rm(file, { force: true });
  }
  throw new InputError({ file: disk.file }, `no Windows volume: ${notes.join('; ')}`);
}

/** Reads the disk and copies what a crash left into `req.out`; writes and returns the collection. */
export async function collectFromDisk(req: CollectRequest): Promise<Collection> {
  const disk = await diskInfo(req.disk, req.format);
  await mkdir(req.out, { recursive: true });
  if (req.scratch) await mkdir(req.scratch, { recursive: true });
  const scratch = await mkdtemp(path.join(req.scratch ?? req.out, '.scratch-'));
  const notes: string[] = [];
  try {
    const table = parsePartitionTable(disk.file, await readDiskHead(disk, PARTITION_HEAD_BYTES, scratch), disk.virtualBytes);
    const { part, vol } = await findWindowsVolume(disk, table, scratch, notes);
    const files: CollectedFile[] = [];
    const absent: string[] = [];
    const taken = new Set<string>();
    const destFor = (sub: string, name: string) => {
      let n = safeFileName(name);
      for (let i = 2; taken.has(`${sub}/${n}`); i++) n = `${i}-${safeFileName(name)}`;
      taken.add(`${sub}/${n}`);
      return `${sub}/${n}`;
    };
    await mkdir(path.join(req.out, 'dumps'), { recursive: true });
    await mkdir(path.join(req.out, 'logs'), { recursive: true });

    const stale = (time: string | undefined) => (req.notBefore && time && Date.parse(time) < req.notBefore.getTime() ? { stale: true } : {});
    // A dump file: copied whole (MEMORY.DMP, minidumps) or up to RequiredDumpSpace (a dump inside a
    // bigger file: the dedicated dump file, the paging file). Null when the file holds no dump.
    const takeDump = async (kind: CollectedKind, winPath: string, ntfsPath: string, size: number, inside: boolean): Promise<CollectedFile | null> => {
      const headFile = path.join(scratch, 'dump-head');
      await vol.copyOut(ntfsPath, headFile, DUMP_HEAD_BYTES);
      const head = new Uint8Array(await readFile(headFile));
      await rm(headFile, { force: true });
      if (!looksLikeDump(head)) return null;
      const facts = dumpHeadFacts(head);
      let limit = size;
      if (inside) {
        if (facts.requiredBytes === undefined) notes.push(`${winPath}: the dump header's RequiredDumpSpace is not a plausible size; copied the whole ${size} bytes`);
        else limit = Math.min(size, facts.requiredBytes);
      }
      const rel = destFor('dumps', inside ? `${path.win32.basename(winPath)}.dmp` : path.win32.basename(winPath));
      const c = await vol.copyOut(ntfsPath, path.join(req.out, rel), limit);
      return { kind, windowsPath: winPath, file: rel, bytes: c.bytes, sha256: c.sha256, ...(facts.time ? { dumpTime: facts.time } : {}), ...stale(facts.time) };
    };

    const memoryDump = req.dumpFile ?? `${SYSTEM_ROOT}\\MEMORY.DMP`;
    const md = await vol.resolve(memoryDump);
    const got = md && !md.entry.dir ? await takeDump('memory-dump', memoryDump, md.path, md.entry.sizeBytes, false) : null;
    if (got) files.push(got);
    else absent.push(memoryDump);

    const miniDir = `${SYSTEM_ROOT}\\Minidump`;
    const mini = await vol.resolve(miniDir);
    const minis = mini?.entry.dir ? ((await vol.list(mini.path)) ?? []).filter((e) => !e.dir && /\.dmp$/i.test(e.name)).sort((a, b) => a.name.localeCompare(b.name)) : [];
    for (const e of minis) {
      const d = await takeDump('minidump', `${miniDir}\\${e.name}`, `${mini!.path}/${e.name}`, e.sizeBytes, false);
      if (d) files.push(d);
      else notes.push(`${miniDir}\\${e.name} is not a kernel dump (no PAGEDU64/PAGEDUMP signature)`);
    }
    if (!minis.length) absent.push(`${miniDir}\\*.dmp`);

    for (const dedicated of req.dedicatedDumpFiles ?? []) {
      const f = await vol.resolve(dedicated);
      const d = f && !f.entry.dir ? await takeDump('dedicated-dump', dedicated, f.path, f.entry.sizeBytes, true) : null;
      if (d) files.push(d);
      else {
        absent.push(dedicated);
        if (f) notes.push(`${dedicated} is there but holds no dump (no crash wrote to it since it was made)`);
      }
    }

    const pf = await vol.resolve(PAGEFILE);
    const pd = pf && !pf.entry.dir ? await takeDump('pagefile-dump', PAGEFILE, pf.path, pf.entry.sizeBytes, true) : null;
    if (pd) files.push(pd);
    else absent.push(`${PAGEFILE} (a dump in it)`);

    let events: CrashEvents | undefined;
    for (const [kind, winPath] of [['system-log', SYSTEM_LOG], ['system-hive', SYSTEM_HIVE]] as const) {
      const f = await vol.resolve(winPath);
      if (!f || f.entry.dir) {
        absent.push(winPath);
        continue;
      }
      const rel = destFor('logs', path.win32.basename(winPath));
      const c = await vol.copyOut(f.path, path.join(req.out, rel));
      files.push({ kind, windowsPath: winPath, file: rel, bytes: c.bytes, sha256: c.sha256 });
      if (kind === 'system-log') events = crashEventsOf(await readEvtx(path.join(req.out, rel)));
    }

    const collection: Collection = {
      disk: disk.file,
      format: disk.format,
      table: table.scheme,
      volume: { partition: part.index, offsetBytes: part.offsetBytes, sizeBytes: part.sizeBytes, name: part.name },
      files,
      absent,
      ...(events ? { events } : {}),
      notes,
    };
    await writeFile(path.join(req.out, COLLECTION_FILE), `${JSON.stringify(collection, null, 2)}\n`);
    return collection;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The dumps of a collection, newest first, fresh ones before stale ones: what triage reads. */
export function collectedDumps(c: Collection): CollectedFile[] {
  return c.files.filter((f) => f.kind.endsWith('dump')).sort((a, b) => Number(a.stale ?? false) - Number(b.stale ?? false) || (b.dumpTime ?? '').localeCompare(a.dumpTime ?? ''));
}
