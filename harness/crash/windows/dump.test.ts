// The kernel dump reader against the real triage dump (checked field by field against rizin's own
// parse of it, the oracle beside it) and against headers built from reference windows.md §1.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../../../lib/errors.ts';
import { normalizeModule } from '../bucket.ts';
import { driverAt, parseKernelDumpBuffer, readKernelDump } from './dump.ts';
import { TRIAGE_MAX_NAME_BYTES_TOTAL, TRIAGE_MAX_NAME_CHARS, TRIAGE_MAX_STRING_POOL, TRIAGE_MAX_UNLOADED } from './triage-dump.ts';
import { bitmapHeader, header32, header64, samplesMissing, TRIAGE_ORACLE, TRIAGE_SAMPLE, triageDump } from './testdata/build-dump.ts';

/** rizin's expected output: `  Field : 0x…` lines per section, and `N  0xADDR sp: … pdb.module.fn` frames. */
function readOracle(text: string): { header: Map<string, bigint>; triage: Map<string, bigint>; frames: Array<{ address: bigint; module: string }> } {
  const header = new Map<string, bigint>();
  const triage = new Map<string, bigint>();
  const frames: Array<{ address: bigint; module: string }> = [];
  let section: Map<string, bigint> | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('DUMP_HEADER64:')) section = header;
    else if (line.startsWith('TRIAGE_DUMP64:')) section = triage;
    else if (line.trim() === '') section = undefined;
    const f = /^\s+(\w+) : (0x[0-9a-f]+)/.exec(line);
    if (f && section) section.set(f[1]!, BigInt(f[2]!));
    const fr = /^\d+\s+(0x[0-9a-f]+)\s+sp: \S+\s+\d+\s+\[\?\?\]\s+pdb\.([A-Za-z0-9_]+)\./.exec(line);
    if (fr && BigInt(fr[1]!) !== 0n) frames.push({ address: BigInt(fr[1]!), module: fr[2]! });
  }
  return { header, triage, frames };
}

t.test('triage_x64.dmp (real): header, triage header and driver list agree with rizin', { skip: samplesMissing }, async (t) => {
  const d = await readKernelDump(TRIAGE_SAMPLE);
  const oracle = readOracle(readFileSync(TRIAGE_ORACLE, 'utf8'));
  const H = (k: string): bigint => {
    const v = oracle.header.get(k);
    if (v === undefined) throw new Error(`oracle has no ${k}`);
    return v;
  };
  const T = (k: string): number => Number(oracle.triage.get(k) ?? -1n);

  t.equal(d.format, 'PAGEDU64');
  t.equal(d.build, 19041, 'MinorVersion is the build');
  t.equal(BigInt(d.build), H('MinorVersion'));
  t.equal(d.bugcheck.code, 0x1000007e);
  t.equal(d.bugcheck.name, 'SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M', 'rizin names it the same');
  t.same(d.bugcheck.params, ['0xffffffffc0000005', '0xfffff8048b58334c', '0xffff850429891ee8', '0xffff850429891720']);
  t.same(d.bugcheck.params.map(BigInt), [1, 2, 3, 4].map((i) => H(`BugCheckParameter${i}`)));
  t.equal(d.processors, Number(H('NumberProcessors')));
  t.equal(d.machine.code, Number(H('MachineImageType')));
  t.equal(d.machine.name, 'x64');
  t.equal(d.majorVersion, Number(H('MajorVersion')));
  t.equal(d.productType.code, Number(H('ProductType')));
  t.equal(d.productType.name, 'workstation');
  t.same(d.dumpType, { code: 4, name: 'triage' });
  t.match(d.systemTime, /^2021-02-21T/, 'FILETIME to ISO');
  t.ok(d.miniDumpFields.names.includes('DRIVER_LIST'));
  // The sample is shorter than RequiredDumpSpace; its triage data is complete (TRGD at ValidOffset).
  t.equal(d.requiredDumpSpace, 0x197915);
  t.equal(d.fileSize, 1444532);
  t.equal(d.truncated, true);

  const tr = d.triage!;
  t.ok(tr, 'triage section read');
  t.equal(tr.complete, true, 'TRGD at ValidOffset');
  for (const [field, ours] of [
    ['SizeOfDump', tr.sizeOfDump],
    ['ValidOffset', tr.validOffset],
    ['DriverListOffset', tr.driverListOffset],
    ['DriverCount', tr.driverCount],
    ['StringPoolOffset', tr.stringPool.offset],
    ['StringPoolSize', tr.stringPool.size],
    ['BrokenDriverOffset', tr.brokenDriverOffset],
    ['TriageOptions', tr.triageOptions],
  ] as const) {
    t.equal(ours, T(field), `TRIAGE_DUMP64.${field} as rizin reads it`);
  }
  t.equal(tr.topOfStack, `0x${oracle.triage.get('TopOfStack')!.toString(16)}`);
  t.equal(tr.drivers.length, T('DriverCount'), 'driver count as rizin reads it (151)');
  t.equal(tr.driverEntrySize, 0x90, 'entry size derived from the offsets is Microsoft’s 0x90');
  t.equal(tr.nameLengthUnit, 'chars');

  // Every module in rizin's symbolised stack is a driver in our list, its address inside the image.
  t.ok(oracle.frames.length >= 30, `${oracle.frames.length} stack frames in the oracle`);
  for (const f of oracle.frames) {
    const drv = driverAt(tr.drivers, f.address);
    t.ok(drv, `0x${f.address.toString(16)} (${f.module}) is inside a listed driver`);
    if (drv) t.equal(normalizeModule(drv.name), normalizeModule(f.module), `0x${f.address.toString(16)}: ${drv.name} is ${f.module}`);
  }
  const nt = tr.drivers[0]!;
  t.same([nt.name, nt.path, nt.base], ['ntoskrnl.exe', '\\SystemRoot\\system32\\ntoskrnl.exe', '0xfffff8047ba00000']);
  t.ok(tr.drivers.every((x) => /\.(sys|dll|exe)$/i.test(x.name) && BigInt(x.base) >= 0xffff800000000000n && x.size > 0), 'names and bases look like kernel modules');
  t.equal(new Set(tr.drivers.map((x) => x.base)).size, tr.drivers.length, 'bases are distinct');
  t.same(tr.unloadedDrivers?.map((u) => u.name), ['dam.sys', 'WdBoot.sys', 'hwpolicy.sys', 'mcupdate.dll']);

  // No broken-driver record here: the faulting address (parameter 2 of 0x7E) names amdppm, as rizin's stack does.
  t.same(d.blamed, { name: 'amdppm.sys', base: '0xfffff8048b580000', source: 'faulting-address', address: '0xfffff8048b58334c' });
  t.ok(d.bytesRead < 64 * 1024, `read ${d.bytesRead} bytes of ${d.fileSize}`);
});

t.test('a sparse 64 MiB kernel dump is triaged by reading its header only', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fg-dump-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'MEMORY.DMP');
  const size = 64 * 1024 * 1024;
  await writeFile(file, header64({ dumpType: 2, requiredDumpSpace: BigInt(size) }));
  const fh = await open(file, 'r+');
  await fh.truncate(size);
  await fh.close();
  const d = await readKernelDump(file);
  t.equal(d.dumpType.name, 'kernel');
  t.equal(d.truncated, false);
  t.equal(d.bugcheck.code, 0xc4);
  t.ok(d.bytesRead <= 0x2008, `bytesRead ${d.bytesRead}`);
});

t.test('bitmap dumps (types 5 and 6): the second header', async (t) => {
  const bits = 0x40000n; // 1 GiB of 4 KiB pages
  const bm = bitmapHeader({ signature: 'SDMP', bits, present: 0x1234n });
  const d = await parseKernelDumpBuffer('bm.dmp', Buffer.concat([header64({ dumpType: 6, requiredDumpSpace: 0x100000000n }), bm]));
  t.same(d.dumpType, { code: 6, name: 'bitmap-kernel' });
  t.equal(d.bitmap?.signature, 'SDMP');
  t.equal(d.bitmap?.totalPresentPages, '0x1234');
  t.equal(d.bitmap?.bitmapBits, '0x40000');
  t.equal(d.bitmap?.bitmapBytes, 0x8000);
  t.equal(d.bitmap?.firstPage, '0xb000');
  t.equal(d.truncated, true, 'a 4 GiB RequiredDumpSpace in a small buffer');
  t.ok(d.bytesRead < 0x2100, 'the bitmap itself is not read');

  const full = await parseKernelDumpBuffer('fbm.dmp', Buffer.concat([header64({ dumpType: 5 }), bitmapHeader({ signature: 'FDMP', bits: 64n, present: 3n })]));
  t.equal(full.bitmap?.signature, 'FDMP');
  t.equal(full.dumpType.name, 'bitmap-full');

  const bad = Buffer.concat([header64({ dumpType: 6 }), Buffer.alloc(0x38)]);
  const err = await parseKernelDumpBuffer('nobm.dmp', bad).catch((e: unknown) => e);
  t.type(err, InputError);
  t.equal((err as InputError).place.offset, 0x2000);
  t.match((err as InputError).message, /SDMPDUMP/);
});

t.test('32-bit PAGEDUMP header', async (t) => {
  const d = await parseKernelDumpBuffer('x86.dmp', header32({ build: 9600, code: 0xc4, params: [0x62, 0x9707712c, 0x9c1faf70, 3] }));
  t.equal(d.format, 'PAGEDUMP');
  t.equal(d.build, 9600);
  t.equal(d.machine.name, 'x86');
  t.same(d.bugcheck.params, ['0x62', '0x9707712c', '0x9c1faf70', '0x3']);
  t.equal(d.dumpType.name, 'kernel');
  t.match(d.systemTime, /^\d{4}-/);
});

t.test('triage dump: blamed driver, DUMP_STRING length in bytes, bad strings and counts', async (t) => {
  const drivers = [
    { path: '\\SystemRoot\\system32\\ntoskrnl.exe', base: 0xfffff80000000000n, size: 0x100000, timestamp: 1 },
    { path: '\\SystemRoot\\System32\\drivers\\myfilter.sys', base: 0xfffff80010000000n, size: 0x20000, timestamp: 0x5a75bec4 },
  ];
  const faulting = triageDump({ drivers, params: [0xc0000005n, 0xfffff80010001234n, 0n, 0n] });
  const d = await parseKernelDumpBuffer('t.dmp', faulting);
  t.equal(d.truncated, false);
  t.same(d.blamed, { name: 'myfilter.sys', base: '0xfffff80010000000', source: 'faulting-address', address: '0xfffff80010001234' });
  t.same(d.triage?.drivers[1], { name: 'myfilter.sys', path: drivers[1]!.path, base: '0xfffff80010000000', size: 0x20000, timestamp: 0x5a75bec4 });

  const broken = await parseKernelDumpBuffer('b.dmp', triageDump({ drivers, brokenIndex: 1, code: 0xc4, params: [0x62n, 0n, 0n, 1n] }));
  t.same(broken.blamed, { name: 'myfilter.sys', base: '0xfffff80010000000', source: 'broken-driver' });

  const bytes = await parseKernelDumpBuffer('bytes.dmp', triageDump({ drivers, lengthUnit: 'bytes' }));
  t.same(bytes.triage?.drivers.map((x) => x.name), ['ntoskrnl.exe', 'myfilter.sys'], 'Length read as bytes is accepted');
  t.equal(bytes.triage?.nameLengthUnit, 'bytes');

  const noNul = triageDump({ drivers });
  const nameAt = noNul.readUInt32LE(0x2100);
  noNul.writeUInt32LE(5, nameAt); // neither 5 characters nor 5 bytes end on the NUL
  const e1 = await parseKernelDumpBuffer('nonul.dmp', noNul).catch((e: unknown) => e);
  t.type(e1, InputError);
  t.equal((e1 as InputError).place.offset, nameAt);
  t.match((e1 as InputError).message, /not NUL-terminated/);

  const absurd = triageDump({ drivers });
  absurd.writeUInt32LE(0x7fffffff, 0x2034);
  const e2 = await parseKernelDumpBuffer('count.dmp', absurd).catch((e: unknown) => e);
  t.type(e2, InputError);
  t.equal((e2 as InputError).place.offset, 0x2034);
  t.match((e2 as InputError).message, /DriverCount 2147483647 is absurd/);

  const outside = triageDump({ drivers });
  outside.writeUInt32LE(0x7fff0000, 0x2030); // DriverListOffset past the end
  outside.writeUInt32LE(0x7fff0000 + 2 * 0x90, 0x2038);
  const e3 = await parseKernelDumpBuffer('outside.dmp', outside).catch((e: unknown) => e);
  t.type(e3, InputError);
  t.match((e3 as InputError).message, /the file is \d+ bytes/);
  t.ok((e3 as InputError).place.offset! >= 0x7fff0000, 'names the offset it could not read');
});

t.test('bad files: InputError with file, offset and what was expected', async (t) => {
  const cases: Array<[string, Buffer, RegExp, number]> = [
    ['empty', Buffer.alloc(0), /too short/, 0],
    ['short signature', Buffer.from('PAGE'), /too short/, 0],
    ['user-mode minidump', Buffer.concat([Buffer.from('MDMP\x93\xa7\0\0', 'latin1'), Buffer.alloc(64)]), /a user-mode minidump, not a kernel dump/, 0],
    ['ELF', Buffer.concat([Buffer.from('\x7fELF\x02\x01\x01\0', 'latin1'), Buffer.alloc(64)]), /expected "PAGEDU64"/, 0],
    ['header cut', header64().subarray(0, 0x1800), /needs 0x2000 bytes/, 0x1800],
    ['32-bit header cut', header32().subarray(0, 0x800), /needs 0x1000 bytes/, 0x800],
  ];
  for (const [name, buf, re, offset] of cases) {
    const err = await parseKernelDumpBuffer(`${name}.dmp`, buf).catch((e: unknown) => e);
    t.type(err, InputError, name);
    t.match((err as Error).message, re, name);
    t.equal((err as InputError).place.file, `${name}.dmp`, `${name}: names the file`);
    t.equal((err as InputError).place.offset, offset, `${name}: names the offset`);
  }
  const missing = await readKernelDump('/nonexistent/MEMORY.DMP').catch((e: unknown) => e);
  t.type(missing, InputError);
  t.match((missing as Error).message, /file not found/);
});

// ---- issue #16 row 5: a BrokenDriverOffset pointing anywhere in the file

const ROW5_DRIVERS = [
  { path: '\\SystemRoot\\system32\\ntoskrnl.exe', base: 0xfffff80000000000n, size: 0x100000, timestamp: 1 },
  { path: '\\SystemRoot\\System32\\drivers\\myfilter.sys', base: 0xfffff80010000000n, size: 0x20000, timestamp: 0x5a75bec4 },
  { path: '\\SystemRoot\\System32\\drivers\\other.sys', base: 0xfffff80020000000n, size: 0x8000, timestamp: 7 },
];
// 0x7E with the exception address (parameter 2) inside myfilter.sys: the right blame.
const ROW5_PARAMS: [bigint, bigint, bigint, bigint] = [0xc0000005n, 0xfffff80010001234n, 0n, 0n];
const LIST_AT = 0x2100;

/** The synthetic triage dump with BrokenDriverOffset set to `offset`; `prepare` then writes what it points at (or the offset, from the built dump). */
function row5Dump(offset: number, prepare?: (b: Buffer) => void): Buffer {
  const b = triageDump({ drivers: ROW5_DRIVERS, params: ROW5_PARAMS });
  b.writeUInt32LE(offset >>> 0, 0x2040);
  prepare?.(b);
  return b;
}

// The gap between the TRIAGE_DUMP64 header (0x80 bytes at 0x2000) and the driver list at 0x2100 is
// zeros: a hostile record placed there points its DriverNameOffset at a string of the writer's choice.
const garbageCases: Array<[string, Buffer]> = [
  // DriverNameOffset -> a DUMP_STRING "P": what the real sample gave with the offset at 0x2014.
  ['a record naming "P"', row5Dump(0x20a0, (b) => {
    b.writeUInt32LE(0x20c0, 0x20a0);
    b.writeUInt32LE(1, 0x20c0);
    b.write('P\0', 0x20c4, 'utf16le');
  })],
  // DriverNameOffset -> a zero dword: an empty name (the sample's 561 offsets that gave "module ''").
  ['a record naming ""', row5Dump(0x20a0, (b) => b.writeUInt32LE(0x2090, 0x20a0))],
  ['into the DUMP_HEADER64', row5Dump(0x10)],
  ['into the TRIAGE_DUMP64 header', row5Dump(0x2014)],
  ['past the end of the file', row5Dump(0x7fff0000)],
  ['at the last bytes of the file', row5Dump(-1, (b) => b.writeUInt32LE(b.length - 8, 0x2040))],
  ['inside a driver entry, not at its start', row5Dump(LIST_AT + 0x90 + 0x38)],
  ['at a string in the pool (not a driver entry)', row5Dump(-1, (b) => b.writeUInt32LE(b.readUInt32LE(0x2038), 0x2040))],
  ['at 0xffffffff', row5Dump(0xffffffff)],
];

t.test('row 5 (#16): a BrokenDriverOffset pointing anywhere is ignored with a warning; the faulting address blames', async (t) => {
  for (const [name, buf] of garbageCases) {
    const offset = buf.readUInt32LE(0x2040);
    const d = await parseKernelDumpBuffer(`${name}.dmp`, buf).catch((e: unknown) => e as Error);
    if (d instanceof Error) {
      t.fail(`${name}: threw ${d.message}`);
      continue;
    }
    t.same(d.blamed, { name: 'myfilter.sys', base: '0xfffff80010000000', source: 'faulting-address', address: '0xfffff80010001234' }, `${name}: blames the driver holding the faulting address`);
    t.equal(d.triage?.brokenDriver, undefined, `${name}: no broken driver taken from the record`);
    t.equal(d.triage?.brokenDriverRejected?.offset, offset, `${name}: the rejection names the offset`);
    const w = d.warnings.find((x) => x.includes(`BrokenDriverOffset 0x${offset.toString(16)}`));
    t.ok(w, `${name}: a warning names BrokenDriverOffset 0x${offset.toString(16)}`);
    t.match(w, /ignored/, `${name}: and says it is ignored`);
  }
});

t.test('row 5 (#16): an in-list BrokenDriverOffset stands; one that disagrees with the faulting address says so', async (t) => {
  // Record at driver 1 (myfilter.sys), address in myfilter.sys: they agree, no note.
  const agree = await parseKernelDumpBuffer('agree.dmp', row5Dump(LIST_AT + 1 * 0x90));
  t.same(agree.triage?.brokenDriver?.name, 'myfilter.sys');
  t.same(agree.blamed, { name: 'myfilter.sys', base: '0xfffff80010000000', source: 'faulting-address', address: '0xfffff80010001234' });
  t.notOk(agree.warnings.some((w) => /disagree/.test(w)), 'no disagreement noted');

  // Record at driver 2 (other.sys), address in myfilter.sys: the address wins and the result says so.
  const disagree = await parseKernelDumpBuffer('disagree.dmp', row5Dump(LIST_AT + 2 * 0x90));
  t.same(disagree.triage?.brokenDriver?.name, 'other.sys', 'the record itself is valid and kept');
  t.same(disagree.blamed, {
    name: 'myfilter.sys',
    base: '0xfffff80010000000',
    source: 'faulting-address',
    address: '0xfffff80010001234',
    conflict: { source: 'broken-driver', name: 'other.sys', base: '0xfffff80020000000' },
  });
  const w = disagree.warnings.find((x) => /disagree/.test(x));
  t.match(w, /other\.sys/);
  t.match(w, /myfilter\.sys/);
  t.match(w, /0xfffff80010001234/);

  // A record outside the list is believed only as a copy of a listed entry (path, DllBase, SizeOfImage).
  const copy = (mutate?: (e: Buffer) => void): Buffer => {
    const b = triageDump({ drivers: ROW5_DRIVERS, code: 0xc4, params: [0x62n, 0n, 0n, 1n] });
    const entry = Buffer.from(b.subarray(LIST_AT + 0x90, LIST_AT + 2 * 0x90));
    mutate?.(entry);
    const out = Buffer.concat([b, Buffer.alloc(4), entry]);
    out.writeUInt32LE(out.length, 0x2004); // SizeOfDump: the triage data now ends after the copy
    out.writeUInt32LE(b.length + 4, 0x2040);
    return out;
  };
  const same = await parseKernelDumpBuffer('copy.dmp', copy());
  t.same(same.blamed, { name: 'myfilter.sys', base: '0xfffff80010000000', source: 'broken-driver' }, 'a copy of a listed entry is believed');
  const moved = await parseKernelDumpBuffer('moved.dmp', copy((e) => e.writeBigUInt64LE(0xfffff80077770000n, 0x38)));
  t.equal(moved.blamed, undefined, 'the same name at another DllBase is not a listed driver');
  t.match(moved.warnings.join('\n'), /BrokenDriverOffset 0x[0-9a-f]+ ignored: the entry there names "\\\\SystemRoot.*myfilter\.sys" at 0xfffff80077770000, which is not a driver in the list of 3/);
  t.match(moved.unblamed, /3 drivers read .* no faulting-address parameter, and the broken-driver record \(BrokenDriverOffset 0x[0-9a-f]+\) was ignored/);

  // A bugcheck without a faulting-address parameter (0xC4): the valid record is the blame.
  const c4 = triageDump({ drivers: ROW5_DRIVERS, brokenIndex: 2, code: 0xc4, params: [0x62n, 0n, 0n, 1n] });
  const v = await parseKernelDumpBuffer('c4.dmp', c4);
  t.same(v.blamed, { name: 'other.sys', base: '0xfffff80020000000', source: 'broken-driver' });
});

t.test('row 5 (#16): triage of such a dump names the right module and bucket, and no false "no driver list"', async (t) => {
  const { triageFile, formatTriage } = await import('../../cli/commands/triage.ts');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fg-row5-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const [name, buf] of garbageCases.slice(0, 2)) {
    const file = path.join(dir, 'row5.dmp');
    await writeFile(file, buf);
    const r = await triageFile(file, { ours: ['myfilter'] });
    t.equal(r.module, 'myfilter', `${name}: module`);
    t.equal(r.bucket, 'win:0x7E:myfilter', `${name}: bucket`);
    t.equal(r.attribution, 'ours', `${name}: attribution`);
    t.match(formatTriage(r), /note {3}triage dump: BrokenDriverOffset 0x20a0 .*ignored/, `${name}: triage prints the warning`);
  }
  // A dump with its driver list read and nothing blamed: the reason says what was read, not "no driver list".
  const file = path.join(dir, 'nowhere.dmp');
  await writeFile(file, triageDump({ drivers: ROW5_DRIVERS, params: [0xc0000005n, 0xfffff80099990000n, 0n, 0n] }));
  const r = await triageFile(file, { ours: ['myfilter'] });
  t.equal(r.module, undefined);
  t.equal(r.drivers?.length, 3);
  t.notMatch(r.attributionReason, /no driver list/);
  t.match(r.attributionReason, /3 drivers/);
  t.match(r.attributionReason, /0xfffff80099990000/);
});

t.test('row 5 (#16): the real triage_x64.dmp with BrokenDriverOffset at 0x2014 ("module P") and 0x518 (empty)', { skip: samplesMissing }, async (t) => {
  const { triageFile } = await import('../../cli/commands/triage.ts');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fg-row5-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const offset of [0x2014, 0x518, 0x10, 0x2038, 0x108b8 + 4, 0x7fff0000]) {
    const buf = readFileSync(TRIAGE_SAMPLE);
    buf.writeUInt32LE(offset, 0x2040);
    const file = path.join(dir, 'triage.dmp');
    await writeFile(file, buf);
    const r = await triageFile(file, { ours: [] });
    const at = `0x${offset.toString(16)}`;
    t.equal(r.module, 'amdppm', `${at}: the faulting address's module`);
    t.equal(r.bucket, 'win:0x7E:amdppm', `${at}: bucket`);
    t.equal(r.drivers?.length, 151);
    t.ok(r.warnings?.some((w) => w.includes(`BrokenDriverOffset ${at}`)), `${at}: warned`);
  }
});

t.test('row 5 (#16): counts and sizes a dump wrote are held to named bounds (InputError with field, offset, limit)', async (t) => {
  const drivers = Array.from({ length: 200 }, (_, i) => ({ path: `\\SystemRoot\\System32\\drivers\\d${i}.sys`, base: 0xfffff80000000000n + BigInt(i) * 0x100000n, size: 0x10000, timestamp: i }));
  // Every entry's DriverNameOffset at one DUMP_STRING of TRIAGE_MAX_NAME_CHARS characters appended
  // after the triage data: 200 x 64 KiB of names to decode, past TRIAGE_MAX_NAME_BYTES_TOTAL.
  const small = triageDump({ drivers });
  const big = Buffer.alloc(4 + (TRIAGE_MAX_NAME_CHARS + 1) * 2);
  big.writeUInt32LE(TRIAGE_MAX_NAME_CHARS, 0);
  big.fill('A\0', 4, 4 + TRIAGE_MAX_NAME_CHARS * 2, 'latin1');
  const shared = Buffer.concat([small, big]);
  for (let i = 0; i < drivers.length; i++) shared.writeUInt32LE(small.length, 0x2100 + i * 0x90);
  const e1 = await parseKernelDumpBuffer('shared.dmp', shared).catch((e: unknown) => e);
  t.type(e1, InputError, 'names past the total budget');
  t.equal((e1 as InputError).place.file, 'shared.dmp');
  t.equal((e1 as InputError).place.offset, small.length, 'at the string that crossed the budget');
  t.match((e1 as InputError).message, new RegExp(`driver \\d+ name: .*at most ${TRIAGE_MAX_NAME_BYTES_TOTAL}.*TRIAGE_MAX_NAME_BYTES_TOTAL`));
  // Under the budget, one long name is read whole.
  const one = Buffer.concat([small, big]);
  one.writeUInt32LE(small.length, 0x2100);
  const ok = await parseKernelDumpBuffer('one.dmp', one);
  t.equal(ok.triage?.drivers[0]?.path.length, TRIAGE_MAX_NAME_CHARS);

  const pool = triageDump({ drivers });
  pool.writeUInt32LE(TRIAGE_MAX_STRING_POOL + 1, 0x203c);
  const e2 = await parseKernelDumpBuffer('pool.dmp', pool).catch((e: unknown) => e);
  t.type(e2, InputError);
  t.equal((e2 as InputError).place.offset, 0x203c);
  t.match((e2 as InputError).message, new RegExp(`StringPoolSize ${TRIAGE_MAX_STRING_POOL + 1} is absurd \\(expected at most ${TRIAGE_MAX_STRING_POOL}\\)`));

  // UnloadedDriversOffset at a count past TRIAGE_MAX_UNLOADED (written in the gap before the list).
  const unl = triageDump({ drivers });
  unl.writeUInt32LE(0x20a0, 0x2018);
  unl.writeUInt32LE(TRIAGE_MAX_UNLOADED + 1, 0x20a0);
  const e3 = await parseKernelDumpBuffer('unloaded.dmp', unl).catch((e: unknown) => e);
  t.type(e3, InputError);
  t.equal((e3 as InputError).place.offset, 0x20a0);
  t.match((e3 as InputError).message, new RegExp(`unloaded driver count ${TRIAGE_MAX_UNLOADED + 1} is absurd \\(expected at most ${TRIAGE_MAX_UNLOADED}`));
});
