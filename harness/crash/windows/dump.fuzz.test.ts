// Fuzz test for the kernel dump reader (issue #16 row 5): sample triage dumps (the real
// triage_x64.dmp when the shared samples are there, and synthetic ones from testdata/build-dump.ts)
// mutated where a hostile writer would aim (testdata/mutate-dump.ts: BrokenDriverOffset anywhere,
// the triage header's offsets and counts, driver entries, DUMP_STRING lengths, bytes and cuts).
// Whatever comes out, the reader either returns a result whose blamed module is a driver of its own
// list (or blames nobody), or throws an InputError naming the file and an offset; never another
// error, never a slow parse.
import t from 'tap';
import fc from 'fast-check';
import { existsSync, readFileSync } from 'node:fs';
import { InputError } from '../../../lib/errors.ts';
import { type KernelDump, parseKernelDumpBuffer } from './dump.ts';
import { TRIAGE_SAMPLE } from './testdata/build-dump.ts';
import { BROKEN_DRIVER_FIELD, dumpMutation, mutateDump, syntheticTriage } from './testdata/mutate-dump.ts';

// A parse of these dumps takes a millisecond or two; a second is a loop gone long (with room for a
// loaded CI machine).
const SLOW_MS = 1000;
const SEED = 1616;

/** The blamed driver, and the broken-driver record when one was believed, are entries of the list. */
function blameInList(d: KernelDump): string | undefined {
  const list = d.triage?.drivers ?? [];
  const inList = (x: { name: string; base: string }): boolean => list.some((l) => l.name === x.name && l.base === x.base);
  if (d.blamed && !inList(d.blamed)) return `blamed ${JSON.stringify(d.blamed.name)} at ${d.blamed.base} is not in the driver list of ${list.length}`;
  if (d.blamed && d.blamed.name === '') return 'blamed a driver with an empty name';
  if (d.triage?.brokenDriver && !inList(d.triage.brokenDriver)) return `broken driver ${JSON.stringify(d.triage.brokenDriver.name)} is not in the driver list`;
  if (d.blamed?.conflict && !inList(d.blamed.conflict)) return `conflict ${JSON.stringify(d.blamed.conflict.name)} is not in the driver list`;
  if (d.triage?.brokenDriverRejected && !d.warnings.some((w) => w.includes(`BrokenDriverOffset 0x${d.triage!.brokenDriverRejected!.offset.toString(16)} ignored`))) return 'a rejected broken-driver record without its warning';
  if (d.triage && d.triage.drivers.length > 0 && !d.blamed && !d.unblamed) return 'nobody blamed and no reason given';
  return undefined;
}

async function check(name: string, buf: Uint8Array): Promise<void> {
  const t0 = performance.now();
  let d: KernelDump | undefined;
  try {
    d = await parseKernelDumpBuffer(name, buf);
  } catch (err) {
    if (!(err instanceof InputError)) throw new Error(`threw ${(err as Error)?.name}: ${(err as Error)?.message}`, { cause: err });
    if (err.place.file !== name || err.place.offset === undefined) throw new Error(`InputError without file and offset: ${err.message}`);
  }
  const ms = performance.now() - t0;
  if (ms > SLOW_MS) throw new Error(`took ${ms.toFixed(0)} ms on ${buf.length} bytes`);
  const wrong = d && blameInList(d);
  if (wrong) throw new Error(wrong);
}

// ---- seeds

const seeds: Array<{ name: string; buf: Buffer }> = [
  { name: 'synthetic-6.dmp', buf: syntheticTriage(6) },
  { name: 'synthetic-6-broken.dmp', buf: syntheticTriage(6, { brokenIndex: 2 }) },
  { name: 'synthetic-1.dmp', buf: syntheticTriage(1, { brokenIndex: 0 }) },
  ...(existsSync(TRIAGE_SAMPLE) ? [{ name: 'triage_x64.dmp', buf: readFileSync(TRIAGE_SAMPLE) }] : []),
];

t.test('row 5 (#16) fuzz: mutated triage dumps give a blame from the driver list, nobody, or an InputError', async (t) => {
  t.ok(seeds.length >= 3, `${seeds.length} seed dumps${seeds.length === 3 ? ' (the real sample is missing: synthetic seeds only)' : ''}`);
  await fc.assert(
    fc.asyncProperty(fc.nat(seeds.length - 1), fc.array(dumpMutation, { minLength: 1, maxLength: 5 }), async (i, ms) => {
      const s = seeds[i]!;
      await check(s.name, mutateDump(s.buf, ms));
    }),
    { seed: SEED, numRuns: 2000 },
  );
});

t.test('row 5 (#16) fuzz: BrokenDriverOffset at every 4th byte of a synthetic dump', async (t) => {
  // Exhaustive over the small dump: each offset either names one of the listed drivers or is ignored.
  const base = syntheticTriage(6);
  let believed = 0;
  for (let at = 0; at < base.length + 0x100; at += 4) {
    const b = Buffer.from(base);
    b.writeUInt32LE(at, BROKEN_DRIVER_FIELD);
    await check(`broken-${at}.dmp`, b);
    const d = await parseKernelDumpBuffer('x.dmp', b).catch(() => undefined);
    if (d?.triage?.brokenDriver) believed++;
  }
  t.equal(believed, 6, 'believed exactly at the six entry starts');
});
