// Mutations of triage dumps, where a hostile writer would aim (issue #16 row 5): BrokenDriverOffset
// anywhere in (or past) the file, the TRIAGE_DUMP64 offsets and counts, driver entries' name offsets,
// DllBase and size, DUMP_STRING lengths, random u32s, bit flips and cuts. Shared by the fuzz test
// (dump.fuzz.test.ts) and the hostile-input benchmark (bench/hostile/dump.ts).
import fc from 'fast-check';
import { triageDump } from './build-dump.ts';

/** A synthetic triage dump of `n` drivers whose 0x7E exception address lies in the last one. */
export function syntheticTriage(n: number, o: { brokenIndex?: number; pathChars?: number } = {}): Buffer {
  const pad = (i: number): string => (o.pathChars ? `v${i}-`.padEnd(Math.max(1, o.pathChars - 40), 'x') : `d${i}`);
  return triageDump({
    drivers: Array.from({ length: n }, (_, i) => ({ path: `\\SystemRoot\\System32\\drivers\\${pad(i)}.sys`, base: 0xfffff80000000000n + BigInt(i) * 0x100000n, size: 0x10000, timestamp: i })),
    params: [0xc0000005n, 0xfffff80000000000n + BigInt(n - 1) * 0x100000n + 0x42n, 0n, 0n],
    ...(o.brokenIndex === undefined ? {} : { brokenIndex: o.brokenIndex }),
  });
}

const T = 0x2000; // TRIAGE_DUMP64
export const BROKEN_DRIVER_FIELD = T + 0x40;
// TRIAGE_DUMP64 fields (reference windows.md §1) that are offsets, counts or sizes.
const TRIAGE_FIELDS = [0x04, 0x08, 0x18, 0x30, 0x34, 0x38, 0x3c, 0x40, 0x44].map((o) => T + o);
const EXTREMES = [0, 1, 4, 0x90, 0x1000, 0x2000, 0x2014, 0x2080, 0x7fffffff, 0x80000000, 0xfffffffc, 0xffffffff];

/** A u32 value relative to the file: anywhere inside it, near its end, or past it. */
const where = fc.oneof(
  fc.record({ kind: fc.constant('frac' as const), f: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('end' as const), back: fc.integer({ min: -0x100, max: 0x100 }) }),
  fc.record({ kind: fc.constant('abs' as const), v: fc.oneof(fc.constantFrom(...EXTREMES), fc.integer({ min: 0, max: 0xffffffff })) }),
  fc.record({ kind: fc.constant('entry' as const), index: fc.integer({ min: -2, max: 200 }), skew: fc.constantFrom(0, 0, 0, 4, 8, 0x38, 0x48, 0x8f) }),
);
type Where = typeof where extends fc.Arbitrary<infer W> ? W : never;

function resolve(b: Buffer, w: Where): number {
  if (w.kind === 'frac') return Math.floor(w.f * b.length);
  if (w.kind === 'end') return Math.max(0, b.length + w.back);
  if (w.kind === 'abs') return w.v;
  const list = b.length >= T + 0x38 ? b.readUInt32LE(T + 0x30) : 0;
  return list + w.index * 0x90 + w.skew;
}

export const dumpMutation = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('broken' as const), to: where }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('field' as const), at: fc.constantFrom(...TRIAGE_FIELDS), to: where }) },
  // One driver entry's DriverNameOffset / DllBase / SizeOfImage.
  { weight: 2, arbitrary: fc.record({ op: fc.constant('entry' as const), index: fc.integer({ min: 0, max: 160 }), rel: fc.constantFrom(0x00, 0x38, 0x3c, 0x48), to: where }) },
  // One driver name's DUMP_STRING Length.
  { weight: 2, arbitrary: fc.record({ op: fc.constant('length' as const), index: fc.integer({ min: 0, max: 160 }), value: fc.oneof(fc.constantFrom(0, 1, 2, 0x7fff, 0x8000, 0xfffe, 0xffff, 0xffffffff), fc.nat(0x200)) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('poke' as const), at: where, value: fc.integer({ min: 0, max: 0xffffffff }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('flip' as const), at: where, bit: fc.nat(7) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('cut' as const), at: where }) },
);
export type DumpMutation = typeof dumpMutation extends fc.Arbitrary<infer M> ? M : never;

function u32At(b: Buffer, at: number, v: number): void {
  if (at >= 0 && at + 4 <= b.length) b.writeUInt32LE(v >>> 0, at);
}

/** `base` with the mutations applied in order (offsets resolved against the buffer as it is then). */
export function mutateDump(base: Buffer, ms: readonly DumpMutation[]): Buffer {
  let b = Buffer.from(base);
  for (const m of ms) {
    const list = b.length >= T + 0x38 ? b.readUInt32LE(T + 0x30) : 0;
    if (m.op === 'broken') u32At(b, T + 0x40, resolve(b, m.to));
    else if (m.op === 'field') u32At(b, m.at, resolve(b, m.to));
    else if (m.op === 'entry') u32At(b, list + m.index * 0x90 + m.rel, resolve(b, m.to));
    else if (m.op === 'length') {
      const e = list + m.index * 0x90;
      if (e + 4 <= b.length) u32At(b, b.readUInt32LE(e), m.value);
    } else if (m.op === 'poke') u32At(b, resolve(b, m.at), m.value);
    else if (m.op === 'flip') {
      const at = resolve(b, m.at);
      if (at < b.length) b[at] = b[at]! ^ (1 << m.bit);
    } else b = b.subarray(0, Math.min(b.length, resolve(b, m.at)));
  }
  return b;
}
