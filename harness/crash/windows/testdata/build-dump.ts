// Builds dump headers for tests and the benchmark, laid out as reference windows.md §1 says (the same
// offsets the reader uses are written here independently, so a wrong offset in one shows up). Also
// locates the shared real samples, which tests read when present and skip, saying so, when not.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** /work/shared/samples: `../shared/samples` relative to the repository root. */
export const SAMPLES = fileURLToPath(new URL('../../../../../shared/samples/', import.meta.url));
export const TRIAGE_SAMPLE = `${SAMPLES}dumps/triage_x64.dmp`;
export const TRIAGE_ORACLE = `${SAMPLES}dumps/triage_x64.rizin-expected.txt`;

/** A tap `skip` value: false when the samples are there, else the reason. */
export const samplesMissing: string | false = existsSync(TRIAGE_SAMPLE) ? false : `real Windows samples not found at ${SAMPLES} (../shared/samples from the repo root): sample tests skipped`;

function fillPage(buf: Buffer, from: number, to: number): void {
  // §1: unused header space holds the repeated bytes `PAGE`.
  for (let i = from; i + 4 <= to; i += 4) buf.write('PAGE', i, 'latin1');
}

export interface Header64Options {
  build?: number;
  code?: number;
  params?: [bigint, bigint, bigint, bigint];
  dumpType?: number;
  requiredDumpSpace?: bigint;
  systemTime?: bigint;
  processors?: number;
  machine?: number;
  miniDumpFields?: number;
  productType?: number;
}

/** A DUMP_HEADER64 (0x2000 bytes). */
export function header64(o: Header64Options = {}): Buffer {
  const b = Buffer.alloc(0x2000);
  fillPage(b, 0, 0x2000);
  b.write('PAGEDU64', 0, 'latin1');
  b.writeUInt32LE(0xf, 0x08);
  b.writeUInt32LE(o.build ?? 22631, 0x0c);
  b.writeUInt32LE(o.machine ?? 0x8664, 0x30);
  b.writeUInt32LE(o.processors ?? 2, 0x34);
  b.writeUInt32LE(o.code ?? 0xc4, 0x38);
  const p = o.params ?? [0x62n, 0xffffd407b3ac53a0n, 0xffffd407b3ccbee0n, 3n];
  p.forEach((v, i) => b.writeBigUInt64LE(v, 0x40 + 8 * i));
  b.writeUInt32LE(o.dumpType ?? 2, 0xf98);
  b.writeBigUInt64LE(o.requiredDumpSpace ?? 0x2000n, 0xfa0);
  b.writeBigUInt64LE(o.systemTime ?? 133_000_000_000_000_000n, 0xfa8);
  b.writeUInt32LE(o.miniDumpFields ?? 0, 0x1038);
  b.writeUInt32LE(o.productType ?? 1, 0x1040);
  return b;
}

/** The bitmap header at 0x2000 for DumpType 5/6: signature, FirstPage, TotalPresentPages, bits. */
export function bitmapHeader(o: { signature?: 'SDMP' | 'FDMP'; bits: bigint; present: bigint; firstPage?: bigint }): Buffer {
  const bitmapBytes = Number((o.bits + 7n) / 8n);
  const b = Buffer.alloc(0x38 + bitmapBytes);
  fillPage(b, 0, 0x38);
  b.write(o.signature ?? 'SDMP', 0, 'latin1');
  b.write('DUMP', 4, 'latin1');
  const first = o.firstPage ?? BigInt(Math.ceil((0x2000 + 0x38 + bitmapBytes) / 0x1000) * 0x1000);
  b.writeBigUInt64LE(first, 0x20);
  b.writeBigUInt64LE(o.present, 0x28);
  b.writeBigUInt64LE(o.bits, 0x30);
  return b;
}

/** A DUMP_HEADER32 (0x1000 bytes), §1's 32-bit offsets. */
export function header32(o: { build?: number; code?: number; params?: [number, number, number, number]; dumpType?: number; requiredDumpSpace?: bigint } = {}): Buffer {
  const b = Buffer.alloc(0x1000);
  fillPage(b, 0, 0x1000);
  b.write('PAGEDUMP', 0, 'latin1');
  b.writeUInt32LE(0xf, 0x08);
  b.writeUInt32LE(o.build ?? 9600, 0x0c);
  b.writeUInt32LE(0x14c, 0x20);
  b.writeUInt32LE(1, 0x24);
  b.writeUInt32LE(o.code ?? 0xc4, 0x28);
  (o.params ?? [0x62, 0x9707712c, 0x9c1faf70, 3]).forEach((v, i) => b.writeUInt32LE(v, 0x2c + 4 * i));
  b.writeUInt32LE(o.dumpType ?? 2, 0xf88);
  b.writeBigUInt64LE(o.requiredDumpSpace ?? 0x1000n, 0xfa0);
  b.writeBigUInt64LE(133_000_000_000_000_000n, 0xfc0);
  return b;
}

export interface SyntheticDriver {
  path: string;
  base: bigint;
  size: number;
  timestamp: number;
}

/**
 * A small 64-bit triage dump: header, TRIAGE_DUMP64, driver list, string pool, TRGD marker.
 * `lengthUnit` chooses how DUMP_STRING Length is written (§1: either reading must be accepted).
 */
export function triageDump(o: { code?: number; params?: [bigint, bigint, bigint, bigint]; drivers: SyntheticDriver[]; brokenIndex?: number; lengthUnit?: 'chars' | 'bytes' }): Buffer {
  const entry = 0x90;
  const listAt = 0x2100;
  const poolAt = listAt + o.drivers.length * entry;
  const strings = o.drivers.map((d) => {
    const s = Buffer.alloc(4 + (d.path.length + 1) * 2 + 8);
    s.writeUInt32LE(o.lengthUnit === 'bytes' ? d.path.length * 2 : d.path.length, 0);
    s.write(d.path, 4, 'utf16le');
    return s.subarray(0, (4 + (d.path.length + 1) * 2 + 7) & ~7);
  });
  const poolSize = strings.reduce((n, s) => n + s.length, 0);
  const validAt = poolAt + poolSize;
  const total = validAt + 4;
  const b = Buffer.alloc(total);
  header64({ dumpType: 4, code: o.code ?? 0x7e, params: o.params ?? [0xc0000005n, o.drivers[0]!.base + 0x10n, 0n, 0n], requiredDumpSpace: BigInt(total), miniDumpFields: 0xcff }).copy(b, 0);
  const t = 0x2000;
  b.writeUInt32LE(total, t + 0x04);
  b.writeUInt32LE(validAt, t + 0x08);
  b.writeUInt32LE(listAt, t + 0x30);
  b.writeUInt32LE(o.drivers.length, t + 0x34);
  b.writeUInt32LE(poolAt, t + 0x38);
  b.writeUInt32LE(poolSize, t + 0x3c);
  b.writeUInt32LE(o.brokenIndex === undefined ? 0 : listAt + o.brokenIndex * entry, t + 0x40);
  b.writeUInt32LE(0, t + 0x44);
  let at = poolAt;
  o.drivers.forEach((d, i) => {
    const e = listAt + i * entry;
    b.writeUInt32LE(at, e);
    b.writeBigUInt64LE(d.base, e + 0x38);
    b.writeUInt32LE(d.size, e + 0x48);
    b.writeUInt32LE(d.timestamp, e + 0x88);
    strings[i]!.copy(b, at);
    at += strings[i]!.length;
  });
  b.write('TRGD', validAt, 'latin1');
  return b;
}
