// A disk's partition table, read from its first bytes: GPT (UEFI images, what Hyper-V Generation 2 and
// the QEMU provider's OVMF boot) or MBR (BIOS images). Only what the offline collector needs: where
// each partition lies and what type it says it is. The bytes are a disk someone else wrote: every
// count and offset is held to a named bound, and a table that does not check out is an InputError
// naming the disk, the field and its offset.
import { InputError } from '../../../../lib/errors.ts';

/** Bytes read from the start of a disk to find its table: the GPT header and up to 256 entries of 128 bytes at 4 KiB sectors. */
export const PARTITION_HEAD_BYTES = 1024 * 1024 + 4096;
/** GPT NumberOfPartitionEntries: 128 is the UEFI minimum and what every tool writes; above this the header is corrupt. */
export const GPT_MAX_ENTRIES = 1024;
/** GPT SizeOfPartitionEntry: 128 × 2^n, in practice 128. */
export const GPT_MAX_ENTRY_SIZE = 1024;

/** GPT partition type GUIDs, as they read (mixed-endian, lower case). */
export const GPT_TYPE = {
  basicData: 'ebd0a0a2-b9e5-4433-87c0-68b6b72699c7',
  efiSystem: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b',
  msReserved: 'e3c9e316-0b5c-4db8-817d-f92df00215ae',
  winRecovery: 'de94bba4-06d1-4d40-a16a-bfd50179d6ac',
} as const;

export interface Partition {
  /** 1-based, as Windows and sfdisk number them. */
  readonly index: number;
  /** GPT type GUID, or `mbr:0x07` for an MBR type byte. */
  readonly type: string;
  readonly name: string;
  readonly offsetBytes: number;
  readonly sizeBytes: number;
}

export interface PartitionTable {
  readonly scheme: 'gpt' | 'mbr';
  readonly sectorBytes: 512 | 4096;
  readonly partitions: Partition[];
}

function guidAt(b: Uint8Array, at: number): string {
  const h = (i: number) => b[at + i]!.toString(16).padStart(2, '0');
  const le = (idx: number[]) => idx.map(h).join('');
  return `${le([3, 2, 1, 0])}-${le([5, 4])}-${le([7, 6])}-${le([8, 9])}-${le([10, 11, 12, 13, 14, 15])}`;
}

function utf16z(b: Uint8Array, at: number, bytes: number): string {
  let s = '';
  for (let i = 0; i + 1 < bytes; i += 2) {
    const c = b[at + i]! | (b[at + i + 1]! << 8);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

/**
 * Reads the partition table from `head` (the disk's first PARTITION_HEAD_BYTES, or all of it when
 * smaller). `disk` names the disk in errors; `diskBytes` (its virtual size) bounds every partition.
 */
export function parsePartitionTable(disk: string, head: Uint8Array, diskBytes: number): PartitionTable {
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  for (const sector of [512, 4096] as const) {
    if (head.length >= sector + 92 && String.fromCharCode(...head.subarray(sector, sector + 8)) === 'EFI PART') return readGpt(disk, head, view, sector, diskBytes);
  }
  if (head.length < 512 || head[510] !== 0x55 || head[511] !== 0xaa) {
    throw new InputError({ file: disk, offset: 0 }, 'no partition table: neither a GPT header ("EFI PART" at byte 512 or 4096) nor an MBR boot signature (0x55 0xAA at byte 510)');
  }
  const partitions: Partition[] = [];
  for (let i = 0; i < 4; i++) {
    const at = 446 + 16 * i;
    const type = head[at + 4]!;
    if (type === 0) continue;
    if (type === 0xee) return fail(disk, at + 4, 'a protective MBR (type 0xEE) but no GPT header at byte 512 or 4096');
    const first = view.getUint32(at + 8, true);
    const count = view.getUint32(at + 12, true);
    partitions.push(checked(disk, at + 8, { index: i + 1, type: `mbr:0x${type.toString(16).padStart(2, '0')}`, name: '', offsetBytes: first * 512, sizeBytes: count * 512 }, diskBytes));
  }
  return { scheme: 'mbr', sectorBytes: 512, partitions };
}

function fail(disk: string, offset: number, detail: string): never {
  throw new InputError({ file: disk, offset }, detail);
}

function checked(disk: string, offset: number, p: Partition, diskBytes: number): Partition {
  if (p.sizeBytes <= 0 || p.offsetBytes <= 0 || p.offsetBytes + p.sizeBytes > diskBytes) {
    fail(disk, offset, `partition ${p.index} lies at bytes ${p.offsetBytes}..${p.offsetBytes + p.sizeBytes}; expected a non-empty range inside the disk's ${diskBytes} bytes`);
  }
  return p;
}

function readGpt(disk: string, head: Uint8Array, view: DataView, sector: 512 | 4096, diskBytes: number): PartitionTable {
  const entriesLba = view.getBigUint64(sector + 72, true);
  const count = view.getUint32(sector + 80, true);
  const size = view.getUint32(sector + 84, true);
  if (count === 0 || count > GPT_MAX_ENTRIES) fail(disk, sector + 80, `GPT NumberOfPartitionEntries is ${count}; expected 1 to ${GPT_MAX_ENTRIES} (GPT_MAX_ENTRIES)`);
  if (size < 128 || size > GPT_MAX_ENTRY_SIZE || size % 8 !== 0) fail(disk, sector + 84, `GPT SizeOfPartitionEntry is ${size}; expected a multiple of 8 from 128 to ${GPT_MAX_ENTRY_SIZE} (GPT_MAX_ENTRY_SIZE)`);
  const start = entriesLba * BigInt(sector);
  const end = start + BigInt(count * size);
  if (entriesLba < 2n || end > BigInt(head.length)) {
    fail(disk, sector + 72, `GPT PartitionEntryLBA ${entriesLba} puts the entries at bytes ${start}..${end}; expected them after the header and within the first ${head.length} bytes read (PARTITION_HEAD_BYTES)`);
  }
  const partitions: Partition[] = [];
  for (let i = 0; i < count; i++) {
    const at = Number(start) + i * size;
    const type = guidAt(head, at);
    if (type === '00000000-0000-0000-0000-000000000000') continue;
    const first = view.getBigUint64(at + 32, true);
    const last = view.getBigUint64(at + 40, true);
    if (last < first) fail(disk, at + 40, `GPT entry ${i + 1} ends (LBA ${last}) before it starts (LBA ${first})`);
    const offset = first * BigInt(sector);
    const bytes = (last - first + 1n) * BigInt(sector);
    if (offset + bytes > BigInt(Number.MAX_SAFE_INTEGER)) fail(disk, at + 32, `GPT entry ${i + 1} lies beyond 2^53 bytes`);
    partitions.push(checked(disk, at + 32, { index: i + 1, type, name: utf16z(head, at + 56, Math.min(72, size - 56)), offsetBytes: Number(offset), sizeBytes: Number(bytes) }, diskBytes));
  }
  return { scheme: 'gpt', sectorBytes: sector, partitions };
}

/** Partitions that can hold a Windows volume (GPT basic data, MBR 0x07), largest first: the system volume is the big one. */
export function windowsCandidates(t: PartitionTable): Partition[] {
  return t.partitions.filter((p) => p.type === GPT_TYPE.basicData || p.type === 'mbr:0x07').sort((a, b) => b.sizeBytes - a.sizeBytes || a.index - b.index);
}
