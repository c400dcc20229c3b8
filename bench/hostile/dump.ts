// Hostile-input group: the Windows kernel dump reader (issue #16 row 5), parseKernelDumpBuffer over
// triage dumps from 1 KB to 1 MB. Cases: the real triage_x64.dmp cut or zero-padded to the size
// asked; synthetic triage dumps whose driver list grows with the size (up to 2,900 drivers at 1 MB);
// the same with BrokenDriverOffset at hostile places (the TRIAGE_DUMP64 header, mid-entry, past the
// end); every entry pointing at one 64 KiB name (stopped by TRIAGE_MAX_NAME_BYTES_TOTAL); and a fuzz
// corpus (testdata/mutate-dump.ts, seed 1616) applied to the grown dumps. Below 9 KB a dump has no
// room for its triage data and the reader refuses it (an InputError counts as handled).
import fc from 'fast-check';
import { existsSync, readFileSync } from 'node:fs';
import type { BenchReader, HostileCase } from './types.ts';
import { parseKernelDumpBuffer } from '../../harness/crash/windows/dump.ts';
import { TRIAGE_MAX_NAME_CHARS } from '../../harness/crash/windows/triage-dump.ts';
import { TRIAGE_SAMPLE } from '../../harness/crash/windows/testdata/build-dump.ts';
import { BROKEN_DRIVER_FIELD, dumpMutation, mutateDump, syntheticTriage } from '../../harness/crash/windows/testdata/mutate-dump.ts';

const KB = 1024;
// Paths of ~100 characters: an entry (0x90) and its name take ~360 bytes.
const PATH_CHARS = 100;
const BYTES_PER_DRIVER = 0x90 + 4 + (PATH_CHARS + 1) * 2 + 8;
const LIST_AT = 0x2100;

/** `buf` cut to `kb` KB, or zero-padded to it (what follows the triage data is not read). */
function fit(buf: Buffer, kb: number): Buffer {
  const n = kb * KB;
  return n <= buf.length ? Buffer.from(buf.subarray(0, n)) : Buffer.concat([buf, Buffer.alloc(n - buf.length)]);
}

const grownCache = new Map<number, Buffer>();
/** A synthetic triage dump of about `kb` KB: as many drivers as fit after the 8 KiB header. */
function grown(kb: number): Buffer {
  let b = grownCache.get(kb);
  if (!b) {
    const n = Math.max(1, Math.floor((kb * KB - LIST_AT) / BYTES_PER_DRIVER));
    b = syntheticTriage(n, { pathChars: PATH_CHARS });
    grownCache.set(kb, b);
  }
  return Buffer.from(b);
}

function withBroken(kb: number, at: (b: Buffer) => number): Buffer {
  const b = grown(kb);
  b.writeUInt32LE(at(b) >>> 0, BROKEN_DRIVER_FIELD);
  return b;
}

/** About `kb` KB: every entry's DriverNameOffset at one DUMP_STRING of TRIAGE_MAX_NAME_CHARS characters at the end. */
function sharedName(kb: number): Buffer {
  const b = grown(Math.max(9, kb - 64));
  const big = Buffer.alloc(4 + (TRIAGE_MAX_NAME_CHARS + 1) * 2);
  big.writeUInt32LE(TRIAGE_MAX_NAME_CHARS, 0);
  big.fill('A\0', 4, 4 + TRIAGE_MAX_NAME_CHARS * 2, 'latin1');
  const out = Buffer.concat([b, big]);
  const count = b.readUInt32LE(0x2034);
  for (let i = 0; i < count; i++) out.writeUInt32LE(b.length, LIST_AT + i * 0x90);
  return out;
}

const sample = existsSync(TRIAGE_SAMPLE) ? readFileSync(TRIAGE_SAMPLE) : undefined;
const corpus = fc.sample(fc.array(dumpMutation, { minLength: 1, maxLength: 5 }), { seed: 1616, numRuns: 8 });

const cases: HostileCase[] = [
  ...(sample ? [{ label: 'sample triage_x64.dmp cut/padded', make: (kb: number) => fit(sample, kb) }] : []),
  ...(sample ? [{ label: 'sample, BrokenDriverOffset 0x2014 ("module P")', make: (kb: number) => { const b = fit(sample, kb); if (b.length >= 0x2044) b.writeUInt32LE(0x2014, BROKEN_DRIVER_FIELD); return b; } }] : []),
  { label: 'synthetic, driver list grown', make: grown },
  { label: 'synthetic, BrokenDriverOffset in the TRIAGE_DUMP64 header', make: (kb) => withBroken(kb, () => 0x2014) },
  { label: 'synthetic, BrokenDriverOffset mid-entry', make: (kb) => withBroken(kb, () => LIST_AT + 0x38) },
  { label: 'synthetic, BrokenDriverOffset past the end', make: (kb) => withBroken(kb, (b) => b.length + 0x10) },
  { label: 'synthetic, BrokenDriverOffset at the last entry', make: (kb) => withBroken(kb, (b) => LIST_AT + (b.readUInt32LE(0x2034) - 1) * 0x90) },
  { label: 'synthetic, every name at one 64 KiB string', make: sharedName },
  ...corpus.map((ms, i) => ({ label: `fuzz corpus #${i}`, make: (kb: number) => mutateDump(grown(kb), ms) })),
];

export const readers: BenchReader[] = [
  {
    name: 'kernel dump (harness/crash/windows/dump.ts parseKernelDumpBuffer, triage-dump.ts)',
    cases,
    read: (input) => parseKernelDumpBuffer('bench.dmp', typeof input === 'string' ? Buffer.from(input, 'latin1') : input),
  },
];
