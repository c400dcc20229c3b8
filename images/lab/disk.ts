// The lab guest's base disk: an MBR with two ext4 partitions, converted to qcow2.
//
//   /dev/vda1  the writable data file system (LAB_DISK_MIB, empty), mounted on /data
//   /dev/vda2  the read-only tools tree (Node.js), mounted on /opt/fleetgate
//
// One disk because the provider attaches exactly one (and each cell gets its own overlay over it);
// two file systems so that the tools tree is mounted read-only and nothing a cell does under /data
// can touch it. The partition table is written here (16 bytes an entry) rather than with sfdisk,
// which is not among the builder's tools.
import { open, readdir, lstat, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { InfraFailure } from '../../lib/errors.ts';
import { sh } from './tools.ts';

const MIB = 1024 * 1024;
const SECTOR = 512;
/** Partitions start on MiB boundaries, as partitioning tools place them. */
const FIRST_OFFSET_MIB = 1;

export interface DiskLayout {
  dataMiB: number;
  optMiB: number;
  /** Byte offsets of the two partitions inside the raw disk. */
  dataOffset: number;
  optOffset: number;
  totalBytes: number;
}

/** Bytes a tree occupies (file sizes, rounded up to 4 KiB blocks, plus a block per entry). */
async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir)) {
    const p = path.join(dir, e);
    const s = await lstat(p);
    total += 4096 + Math.ceil(s.size / 4096) * 4096;
    if (s.isDirectory()) total += await treeBytes(p);
  }
  return total;
}

/** Room for the tree plus ext4's own metadata (inode tables, bitmaps): 10% and 8 MiB spare. */
export function optSizeMiB(bytes: number): number {
  return Math.ceil((bytes * 1.1) / MIB) + 8;
}

export function diskLayout(dataMiB: number, optMiB: number): DiskLayout {
  const dataOffset = FIRST_OFFSET_MIB * MIB;
  const optOffset = dataOffset + dataMiB * MIB;
  return { dataMiB, optMiB, dataOffset, optOffset, totalBytes: optOffset + optMiB * MIB };
}

/** A DOS partition table (MBR) with Linux (0x83) partitions given as [byte offset, byte size]. */
export function mbr(parts: Array<[number, number]>): Buffer {
  if (parts.length > 4) throw new InfraFailure(`an MBR holds 4 partitions, not ${parts.length}`);
  const b = Buffer.alloc(SECTOR);
  b.writeUInt32LE(0x666c6761, 440); // disk signature ("fgla"): fixed, so the table is reproducible
  parts.forEach(([offset, bytes], i) => {
    if (offset % SECTOR !== 0 || bytes % SECTOR !== 0) throw new InfraFailure(`partition ${i + 1} is not sector-aligned`);
    const e = 446 + 16 * i;
    // CHS fields set to "beyond CHS" (fe ff ff): Linux reads only the LBA fields.
    b.set([0x00, 0xfe, 0xff, 0xff, 0x83, 0xfe, 0xff, 0xff], e);
    b.writeUInt32LE(offset / SECTOR, e + 8);
    b.writeUInt32LE(bytes / SECTOR, e + 12);
  });
  b[510] = 0x55;
  b[511] = 0xaa;
  return b;
}

/**
 * Writes the qcow2 base disk: an empty data file system and the tools tree (`optTree`, copied in by
 * `mkfs.ext4 -d`). Returns the layout; the raw scratch file is removed.
 */
export async function makeLabDisk(work: string, out: string, dataMiB: number, optTree: string): Promise<DiskLayout> {
  const layout = diskLayout(dataMiB, optSizeMiB(await treeBytes(optTree)));
  const raw = path.join(work, 'disk.raw');
  await writeFile(raw, '');
  await sh`truncate -s ${layout.totalBytes} ${raw}`;
  const fh = await open(raw, 'r+');
  try {
    await fh.write(mbr([[layout.dataOffset, dataMiB * MIB], [layout.optOffset, layout.optMiB * MIB]]), 0, SECTOR, 0);
  } finally {
    await fh.close();
  }
  // nodiscard: mke2fs would otherwise punch the whole file, partition table included.
  // Data: initialise inode tables and journal now, or ext4lazyinit writes them in the guest, using
  // TCG time and growing every cell's overlay.
  await sh`mkfs.ext4 -F -q -L fgdata -m 0 -E offset=${layout.dataOffset},nodiscard,lazy_itable_init=0,lazy_journal_init=0 ${raw} ${`${dataMiB}M`}`;
  // Tools: mounted read-only, so no journal (nothing to replay, less to read at mount).
  await sh`mkfs.ext4 -F -q -L fgopt -m 0 -b 4096 -O ^has_journal -d ${optTree} -E offset=${layout.optOffset},nodiscard ${raw} ${`${layout.optMiB}M`}`;
  await sh`qemu-img convert -O qcow2 ${raw} ${out}`;
  await rm(raw);
  return layout;
}
