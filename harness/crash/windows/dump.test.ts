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
