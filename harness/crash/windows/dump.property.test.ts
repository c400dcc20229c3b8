// Property tests: whatever the bytes, the dump reader either returns a result or throws an InputError
// (never a RangeError, TypeError or a hang). Inputs are random bytes behind a real signature, and the
// real triage dump with its header fields flipped, overwritten or cut short.
import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { InputError } from '../../../lib/errors.ts';
import { parseKernelDumpBuffer } from './dump.ts';
import { header64, samplesMissing, TRIAGE_SAMPLE, triageDump } from './testdata/build-dump.ts';

// A parse of a megabyte-sized dump takes milliseconds; anything near this is a hang in the making.
const SLOW_MS = 2000;

async function onlyInputErrors(name: string, buf: Uint8Array): Promise<void> {
  const t0 = performance.now();
  try {
    const d = await parseKernelDumpBuffer(name, buf);
    // Issue #16 row 5: whatever the offsets say, a blamed driver is one of the dump's own list.
    if (d.blamed && !d.triage?.drivers.some((x) => x.name === d.blamed!.name && x.base === d.blamed!.base)) {
      throw new Error(`blamed ${JSON.stringify(d.blamed.name)} at ${d.blamed.base}, not a listed driver`);
    }
  } catch (err) {
    if (!(err instanceof InputError)) throw new Error(`threw ${(err as Error)?.name}: ${(err as Error)?.message}`, { cause: err });
    if (err.place.offset === undefined) throw new Error(`InputError without an offset: ${err.message}`);
  }
  const ms = performance.now() - t0;
  if (ms > SLOW_MS) throw new Error(`took ${ms.toFixed(0)} ms`);
}

// Header and TRIAGE_DUMP64 fields (reference windows.md §1) worth corrupting.
const U32_FIELDS = [
  0x08, 0x0c, 0x30, 0x34, 0x38, 0xf98, 0xfa0, 0xfa4, 0x1038, 0x1040,
  0x2000, 0x2004, 0x2008, 0x200c, 0x2018, 0x2030, 0x2034, 0x2038, 0x203c, 0x2040, 0x2044,
];
const EXTREMES = [0, 1, 4, 0x90, 0x1000, 0x2000, 0x7fffffff, 0x80000000, 0xfffffffc, 0xffffffff];

const mutation = fc.oneof(
  fc.record({ op: fc.constant('u32' as const), at: fc.constantFrom(...U32_FIELDS), value: fc.oneof(fc.constantFrom(...EXTREMES), fc.integer({ min: 0, max: 0xffffffff })) }),
  fc.record({ op: fc.constant('flip' as const), at: fc.integer({ min: 0, max: 0x2080 }), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.integer({ min: 0, max: 0x30000 }) }),
  fc.record({ op: fc.constant('string' as const), index: fc.integer({ min: 0, max: 200 }), value: fc.constantFrom(0, 1, 0x7fff, 0xffff, 0xffffffff) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(base: Buffer, ms: Mutation[]): Buffer {
  let b = Buffer.from(base);
  for (const m of ms) {
    if (m.op === 'u32' && m.at + 4 <= b.length) b.writeUInt32LE(m.value >>> 0, m.at);
    else if (m.op === 'flip' && m.at < b.length) b[m.at] = b[m.at]! ^ (1 << m.bit);
    else if (m.op === 'truncate') b = b.subarray(0, Math.min(b.length, m.at));
    else if (m.op === 'string' && b.length >= 0x2040) {
      // Overwrite the Length of one driver name (the DUMP_STRING its entry points at).
      const list = b.readUInt32LE(0x2030);
      const entry = list + m.index * 0x90;
      if (entry + 4 <= b.length) {
        const name = b.readUInt32LE(entry);
        if (name + 4 <= b.length) b.writeUInt32LE(m.value >>> 0, name);
      }
    }
  }
  return b;
}

t.test('random bytes behind each signature: InputError or a result', async () => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom('PAGEDU64', 'PAGEDUMP', 'MDMP', 'PAGE', ''), fc.uint8Array({ maxLength: 0x2100 }), async (sig, rest) => {
      await onlyInputErrors('random.dmp', Buffer.concat([Buffer.from(sig, 'latin1'), rest]));
    }),
    { numRuns: 200 },
  );
});

t.test('a valid header with random DumpType and random bytes after it', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 8 }), fc.uint8Array({ minLength: 0, maxLength: 0x400 }), async (type, tail) => {
      await onlyInputErrors('typed.dmp', Buffer.concat([header64({ dumpType: type }), tail]));
    }),
    { numRuns: 200 },
  );
});

t.test('mutations of a synthetic triage dump', async () => {
  const base = triageDump({
    drivers: Array.from({ length: 6 }, (_, i) => ({ path: `\\SystemRoot\\System32\\drivers\\d${i}.sys`, base: 0xfffff80000000000n + BigInt(i) * 0x100000n, size: 0x10000, timestamp: i })),
  });
  await fc.assert(
    fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (ms) => {
      await onlyInputErrors('synthetic.dmp', mutate(base, ms));
    }),
    { numRuns: 300 },
  );
});

t.test('mutations of the real triage_x64.dmp', { skip: samplesMissing }, async () => {
  const base = readFileSync(TRIAGE_SAMPLE);
  await fc.assert(
    fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (ms) => {
      await onlyInputErrors('triage_x64.dmp', mutate(base, ms));
    }),
    { numRuns: 200 },
  );
});
