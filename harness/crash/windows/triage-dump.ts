// TRIAGE_DUMP64: the kernel minidump (DumpType 4) that follows the 0x2000-byte DUMP_HEADER64
// (reference windows.md §1). Every *Offset is an absolute file offset. This reads the driver list,
// its string pool, the broken-driver record and the unloaded-driver list: a few tens of kilobytes.
// Counts and sizes the dump states are held to the TRIAGE_MAX_* bounds below; the broken-driver
// record, an offset that could point anywhere, is believed only when it checks out against the list.
import { InputError } from '../../../lib/errors.ts';
import { type Block, type DumpReader, hex } from './reader.ts';

export const TRIAGE_AT = 0x2000;
// Fields up to DataBlocksCount @0x7C (§1 table), so 0x80 bytes.
const TRIAGE_HEADER_SIZE = 0x80;
// §1: the u32 at ValidOffset reads the bytes `TRGD` when the dump was written to the end.
const TRIAGE_VALID = 'TRGD';
// §1: DUMP_DRIVER_ENTRY64 = {u32 DriverNameOffset; u32 pad; KLDR_DATA_TABLE_ENTRY64}; DllBase +0x38,
// SizeOfImage +0x48, TimeDateStamp +0x88; 0x90 by Microsoft's layout, derived per dump (below).
const DE_NAME = 0x00;
const DE_DLLBASE = 0x38;
const DE_SIZEOFIMAGE = 0x48;
const DE_TIMEDATESTAMP = 0x88;
const DE_MIN_SIZE = 0x90;
/** The driver entry size derived from the offsets: Microsoft's is 0x90; above this the offsets are corrupt. */
export const TRIAGE_MAX_DRIVER_ENTRY_SIZE = 0x400;
// Named bounds on what a dump's own counts and sizes may ask for (issue #16 row 5): a hostile dump
// must not make the reader allocate or loop in proportion to a number it wrote. Each one, when
// exceeded, is an InputError naming the file, the field, its offset and this limit.
/** DriverCount: a real system loads a few hundred drivers; more is a corrupt count, not a big machine. */
export const TRIAGE_MAX_DRIVERS = 4096;
/** DUMP_STRING Length: §1 names are {u32 Length; WCHAR Buffer[]}; a Windows path is at most 32767 characters. */
export const TRIAGE_MAX_NAME_CHARS = 0x7fff;
/**
 * All driver-name bytes decoded for one dump (list and broken-driver record). The sample's 151 names
 * take 14 KiB; 4096 drivers of 512-character paths take 4 MiB. Without it 4096 entries could all point
 * at one 64 KiB string and make the reader decode 256 MiB.
 */
export const TRIAGE_MAX_NAME_BYTES_TOTAL = 4 * 1024 * 1024;
/** StringPoolSize: the pool holds the driver names, a few tens of KiB; above this the size field is corrupt. */
export const TRIAGE_MAX_STRING_POOL = 16 * 1024 * 1024;
// §1 table: TriageOptions 0x100 = the driver list was cut short when the dump was written.
const TRIAGE_OPTION_DRIVER_LIST_TRUNCATED = 0x100;
// Unloaded drivers: NOT in the reference. Layout read off the sample (triage_x64.dmp @0x20d0) and
// matching Microsoft's DUMP_UNLOADED_DRIVERS64: u32 count, u32 pad, then entries of 0x38 bytes
// {UNICODE_STRING64 Name (u16 Length in bytes @0, Buffer @8); WCHAR DriverName[12] @0x10;
// u64 StartAddress @0x28; u64 EndAddress @0x30}. Windows keeps the last 50 (MI_UNLOADED_DRIVERS).
const UD_ENTRY = 0x38;
const UD_NAME_CHARS = 12;
/** Unloaded driver count: Windows keeps the last 50 (MI_UNLOADED_DRIVERS). */
export const TRIAGE_MAX_UNLOADED = 64;

export interface DumpDriver {
  /** File name without the directory, e.g. `fltmgr.sys`. */
  name: string;
  /** As the dump stores it, e.g. `\SystemRoot\System32\drivers\fltmgr.sys`. */
  path: string;
  /** DllBase, `0x…`. */
  base: string;
  size: number;
  /** TimeDateStamp from the image header (a hash on reproducible builds, not always a time). */
  timestamp: number;
}

export interface UnloadedDriver {
  name: string;
  start: string;
  end: string;
}

export interface TriageDump {
  servicePackBuild: number;
  sizeOfDump: number;
  validOffset: number;
  /** The u32 at ValidOffset reads `TRGD`: the writer finished. */
  complete: boolean;
  driverListOffset: number;
  driverCount: number;
  /** Derived as the reference says: (StringPoolOffset - DriverListOffset) / DriverCount, rounded down to 8. */
  driverEntrySize: number;
  /** TriageOptions has 0x100: Windows cut the driver list short. */
  driverListTruncated: boolean;
  triageOptions: number;
  stringPool: { offset: number; size: number };
  brokenDriverOffset: number;
  drivers: DumpDriver[];
  /** The driver the dump itself blames (BrokenDriverOffset), when the record checks out as a listed driver. */
  brokenDriver?: DumpDriver;
  /** BrokenDriverOffset was set but not believed: where it pointed and why (also in the warnings). */
  brokenDriverRejected?: { offset: number; reason: string };
  unloadedDrivers?: UnloadedDriver[];
  topOfStack: string;
  /** How each driver name's DUMP_STRING Length was read (§1: characters, though headers say bytes). */
  nameLengthUnit: 'chars' | 'bytes' | 'mixed' | 'none';
}

export function basename(path: string): string {
  const i = Math.max(path.lastIndexOf('\\'), path.lastIndexOf('/'));
  return path.slice(i + 1);
}

/** Counts the name bytes decoded for one dump against TRIAGE_MAX_NAME_BYTES_TOTAL. */
interface NameBudget {
  bytes: number;
}

/** Reads a DUMP_STRING at `offset`, from `pool` when it lies inside, else with its own reads. */
async function dumpString(r: DumpReader, pool: Block | undefined, offset: number, what: string, budget: NameBudget): Promise<{ text: string; unit: 'chars' | 'bytes' }> {
  const head = pool?.contains(offset, 4) ? pool : await r.block(offset, 4, `${what} length`);
  const length = head.u32(offset, `${what} length`);
  if (length > TRIAGE_MAX_NAME_CHARS * 2) {
    throw r.error(offset, `${what}: DUMP_STRING length ${length} is absurd (expected at most ${TRIAGE_MAX_NAME_CHARS} characters)`);
  }
  // §1: Length is a character count although the header comment says bytes; accept whichever reading
  // ends on the NUL. Characters first: that is what Windows writes.
  const want = (length + 1) * 2;
  const avail = Math.min(want, r.size - (offset + 4));
  if (avail < 2) throw r.error(offset + 4, `${what}: DUMP_STRING of length ${length} runs past the end of the file`);
  budget.bytes += avail;
  if (budget.bytes > TRIAGE_MAX_NAME_BYTES_TOTAL) {
    throw r.error(offset, `${what}: the driver names read so far take ${budget.bytes} bytes (expected at most ${TRIAGE_MAX_NAME_BYTES_TOTAL} for all names, TRIAGE_MAX_NAME_BYTES_TOTAL): entries point at oversized or shared strings`);
  }
  const body = pool?.contains(offset + 4, avail) ? pool.bytes(offset + 4, avail, what) : (await r.block(offset + 4, avail, what)).buf;
  // One pass for the first NUL character; both readings need it at their end and nowhere before.
  let nul = 0;
  while (nul * 2 + 2 <= body.length && body.readUInt16LE(nul * 2) !== 0) nul++;
  const candidates: Array<{ unit: 'chars' | 'bytes'; n: number }> = [{ unit: 'chars', n: length }];
  if (length % 2 === 0) candidates.push({ unit: 'bytes', n: length / 2 });
  const hit = candidates.find((c) => c.n === nul && (c.n + 1) * 2 <= body.length);
  if (hit) return { text: body.toString('utf16le', 0, hit.n * 2), unit: hit.unit };
  throw r.error(
    offset,
    `${what}: DUMP_STRING of length ${length} is not NUL-terminated after ${length} characters (at 0x${(offset + 4 + length * 2).toString(16)})` +
      (length % 2 === 0 ? ` nor after ${length} bytes (at 0x${(offset + 4 + length).toString(16)})` : ''),
  );
}

async function driverAt(r: DumpReader, list: Block, pool: Block | undefined, at: number, what: string, budget: NameBudget): Promise<{ driver: DumpDriver; unit: 'chars' | 'bytes' }> {
  const nameOffset = list.u32(at + DE_NAME, `${what} DriverNameOffset`);
  const { text, unit } = await dumpString(r, pool, nameOffset, `${what} name`, budget);
  return {
    unit,
    driver: {
      name: basename(text),
      path: text,
      base: hex(list.u64(at + DE_DLLBASE, `${what} DllBase`)),
      size: list.u32(at + DE_SIZEOFIMAGE, `${what} SizeOfImage`),
      timestamp: list.u32(at + DE_TIMEDATESTAMP, `${what} TimeDateStamp`),
    },
  };
}

/** Where the driver list lies, for checking the broken-driver record against it. */
interface ListPlace {
  offset: number;
  entrySize: number;
}

/**
 * BrokenDriverOffset is an offset the dump writer chose; it is believed only when it can be checked
 * (issue #16 row 5): it must lie in the triage data after the TRIAGE_DUMP64 header, and either be the
 * start of one of the listed entries, or hold an entry whose path, DllBase and SizeOfImage are those
 * of a listed driver. Anything else returns why it is not believed; the caller warns and ignores it.
 */
async function checkBrokenDriver(
  r: DumpReader,
  at: number,
  triageEnd: number,
  drivers: readonly DumpDriver[],
  place: ListPlace | undefined,
  pool: Block | undefined,
  budget: NameBudget,
): Promise<{ driver: DumpDriver } | { reason: string }> {
  const dataStart = TRIAGE_AT + TRIAGE_HEADER_SIZE;
  if (at + DE_MIN_SIZE > triageEnd || at < dataStart) {
    const where = at < TRIAGE_AT ? 'it points into the DUMP_HEADER64' : at < dataStart ? 'it points into the TRIAGE_DUMP64 header' : at >= r.size ? `it points past the end of the ${r.size}-byte file` : `a 0x${DE_MIN_SIZE.toString(16)}-byte entry there ends past the triage data`;
    return { reason: `${where} (expected an entry inside the triage data 0x${dataStart.toString(16)}..0x${triageEnd.toString(16)})` };
  }
  if (!place || drivers.length === 0) return { reason: 'the dump has no driver list to check it against' };
  const listEnd = place.offset + drivers.length * place.entrySize;
  if (at >= place.offset && at < listEnd) {
    const index = Math.floor((at - place.offset) / place.entrySize);
    if ((at - place.offset) % place.entrySize !== 0) {
      return { reason: `it points 0x${((at - place.offset) % place.entrySize).toString(16)} bytes into driver entry ${index}, not at the start of an entry (entries are 0x${place.entrySize.toString(16)} bytes from 0x${place.offset.toString(16)})` };
    }
    const d = drivers[index]!;
    return d.name === '' ? { reason: `driver entry ${index} there has an empty name` } : { driver: d };
  }
  // Outside the list: read it as an entry of its own, and believe it only if it is a listed driver.
  let entry: DumpDriver;
  try {
    const block = await r.block(at, DE_MIN_SIZE, 'broken driver entry (BrokenDriverOffset)');
    entry = (await driverAt(r, block, pool, at, 'broken driver', budget)).driver;
  } catch (err) {
    if (err instanceof InputError) return { reason: `the entry there cannot be read (at 0x${(err.place.offset ?? at).toString(16)}: ${err.detail})` };
    throw err;
  }
  const listed = drivers.find((d) => d.path === entry.path && d.base === entry.base && d.size === entry.size);
  if (!listed || listed.name === '') {
    return { reason: `the entry there names ${JSON.stringify(entry.path.slice(0, 80))} at ${entry.base}, which is not a driver in the list of ${drivers.length}` };
  }
  return { driver: listed };
}

export async function readTriage64(r: DumpReader, warnings: string[]): Promise<TriageDump> {
  const h = await r.block(TRIAGE_AT, TRIAGE_HEADER_SIZE, 'TRIAGE_DUMP64 header');
  const f = (rel: number, name: string): number => h.u32(TRIAGE_AT + rel, `TRIAGE_DUMP64.${name}`);
  const validOffset = f(0x08, 'ValidOffset');
  const driverListOffset = f(0x30, 'DriverListOffset');
  const driverCount = f(0x34, 'DriverCount');
  const stringPoolOffset = f(0x38, 'StringPoolOffset');
  const stringPoolSize = f(0x3c, 'StringPoolSize');
  const brokenDriverOffset = f(0x40, 'BrokenDriverOffset');
  const sizeOfDump = f(0x04, 'SizeOfDump');
  const budget: NameBudget = { bytes: 0 };
  const triageOptions = f(0x44, 'TriageOptions');
  const unloadedOffset = f(0x18, 'UnloadedDriversOffset');

  let complete = false;
  if (validOffset + 4 <= r.size && validOffset >= TRIAGE_AT) {
    complete = (await r.block(validOffset, 4, 'TRIAGE_DUMP64 ValidOffset marker')).ascii(validOffset, 4, 'ValidOffset marker') === TRIAGE_VALID;
  }
  if (!complete) warnings.push(`triage dump: no "${TRIAGE_VALID}" at ValidOffset 0x${validOffset.toString(16)}: the writer may not have finished`);

  // The string pool, read once: every name is normally inside it.
  let pool: Block | undefined;
  if (stringPoolOffset !== 0 && stringPoolSize !== 0) {
    if (stringPoolSize > TRIAGE_MAX_STRING_POOL) {
      throw r.error(TRIAGE_AT + 0x3c, `TRIAGE_DUMP64.StringPoolSize ${stringPoolSize} is absurd (expected at most ${TRIAGE_MAX_STRING_POOL})`);
    }
    pool = await r.block(stringPoolOffset, stringPoolSize, 'triage string pool (StringPoolOffset, StringPoolSize)');
  }

  const drivers: DumpDriver[] = [];
  const units = new Set<'chars' | 'bytes'>();
  let entrySize = 0;
  let list: Block | undefined;
  if (driverCount > 0 && driverListOffset !== 0) {
    if (driverCount > TRIAGE_MAX_DRIVERS) {
      throw r.error(TRIAGE_AT + 0x34, `TRIAGE_DUMP64.DriverCount ${driverCount} is absurd (expected at most ${TRIAGE_MAX_DRIVERS})`);
    }
    if (stringPoolOffset <= driverListOffset) {
      throw r.error(TRIAGE_AT + 0x38, `TRIAGE_DUMP64.StringPoolOffset 0x${stringPoolOffset.toString(16)} should follow DriverListOffset 0x${driverListOffset.toString(16)} (the entry size is derived from the gap)`);
    }
    entrySize = Math.floor((stringPoolOffset - driverListOffset) / driverCount / 8) * 8;
    if (entrySize < DE_MIN_SIZE || entrySize > TRIAGE_MAX_DRIVER_ENTRY_SIZE) {
      throw r.error(
        TRIAGE_AT + 0x30,
        `driver entry size derived as 0x${entrySize.toString(16)} from (StringPoolOffset - DriverListOffset) / DriverCount; expected 0x${DE_MIN_SIZE.toString(16)}..0x${TRIAGE_MAX_DRIVER_ENTRY_SIZE.toString(16)} (0x90 on x64)`,
      );
    }
    list = await r.block(driverListOffset, driverCount * entrySize, 'triage driver list (DriverListOffset, DriverCount)');
    for (let i = 0; i < driverCount; i++) {
      const { driver, unit } = await driverAt(r, list, pool, driverListOffset + i * entrySize, `driver ${i}`, budget);
      units.add(unit);
      drivers.push(driver);
    }
  } else {
    warnings.push('triage dump has no driver list (DriverListOffset or DriverCount is 0)');
  }

  let brokenDriver: DumpDriver | undefined;
  let brokenDriverRejected: { offset: number; reason: string } | undefined;
  if (brokenDriverOffset !== 0) {
    // Not in the reference: "offset of the driver that crashed" in Microsoft's header comment, read as
    // a DUMP_DRIVER_ENTRY64. The triage data ends at SizeOfDump (file offset, header included: the
    // sample's is ValidOffset + 4), or at the end of the file when that is shorter or SizeOfDump is wrong.
    const triageEnd = sizeOfDump > TRIAGE_AT + TRIAGE_HEADER_SIZE ? Math.min(sizeOfDump, r.size) : r.size;
    const place = list ? { offset: driverListOffset, entrySize } : undefined;
    const checked = await checkBrokenDriver(r, brokenDriverOffset, triageEnd, drivers, place, pool, budget);
    if ('driver' in checked) brokenDriver = checked.driver;
    else {
      brokenDriverRejected = { offset: brokenDriverOffset, reason: checked.reason };
      warnings.push(`triage dump: BrokenDriverOffset 0x${brokenDriverOffset.toString(16)} ignored: ${checked.reason}`);
    }
  }

  let unloadedDrivers: UnloadedDriver[] | undefined;
  if (unloadedOffset !== 0) {
    const countBlock = await r.block(unloadedOffset, 8, 'unloaded driver count (UnloadedDriversOffset)');
    const count = countBlock.u32(unloadedOffset, 'unloaded driver count');
    if (count > TRIAGE_MAX_UNLOADED) {
      throw r.error(unloadedOffset, `unloaded driver count ${count} is absurd (expected at most ${TRIAGE_MAX_UNLOADED}; Windows keeps the last 50)`);
    }
    const at = unloadedOffset + 8;
    const b = await r.block(at, count * UD_ENTRY, 'unloaded driver list');
    unloadedDrivers = [];
    for (let i = 0; i < count; i++) {
      const e = at + i * UD_ENTRY;
      const lengthBytes = b.u16(e, `unloaded driver ${i} name length`);
      const n = Math.min(Math.floor(lengthBytes / 2), UD_NAME_CHARS);
      let name = '';
      for (let c = 0; c < n; c++) {
        const ch = b.u16(e + 0x10 + c * 2, `unloaded driver ${i} name`);
        if (ch === 0) break;
        name += String.fromCharCode(ch);
      }
      unloadedDrivers.push({ name, start: hex(b.u64(e + 0x28, `unloaded driver ${i} start`)), end: hex(b.u64(e + 0x30, `unloaded driver ${i} end`)) });
    }
  }

  const driverListTruncated = triageOptions !== 0xffffffff && (triageOptions & TRIAGE_OPTION_DRIVER_LIST_TRUNCATED) !== 0;
  if (driverListTruncated) warnings.push('triage dump: TriageOptions says the driver list was truncated by Windows');

  return {
    servicePackBuild: f(0x00, 'ServicePackBuild'),
    sizeOfDump,
    validOffset,
    complete,
    driverListOffset,
    driverCount,
    driverEntrySize: entrySize,
    driverListTruncated,
    triageOptions,
    stringPool: { offset: stringPoolOffset, size: stringPoolSize },
    brokenDriverOffset,
    drivers,
    ...(brokenDriver ? { brokenDriver } : {}),
    ...(brokenDriverRejected ? { brokenDriverRejected } : {}),
    ...(unloadedDrivers ? { unloadedDrivers } : {}),
    topOfStack: hex(h.u64(TRIAGE_AT + 0x48, 'TRIAGE_DUMP64.TopOfStack')),
    nameLengthUnit: units.size === 0 ? 'none' : units.size === 2 ? 'mixed' : [...units][0]!,
  };
}
