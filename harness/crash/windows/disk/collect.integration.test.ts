// The offline collector on real disks (issue #18): a Windows-shaped disk made here with Debian's
// tools (GPT, an EFI partition and an NTFS partition made with mkntfs, testdata/windows-disk.ts),
// holding the real triage dump from ../shared/samples and the real System.evtx, read back without
// mounting: found, copied intact, triaged with the same result as the sample itself, and the log's
// Kernel-Power 41 and 6008 records read. `fleetgate collect` and `fleetgate triage DIR` by hand too.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { collectFromDisk, collectedDumps } from './collect.ts';
import { makeWindowsDisk, windowsDiskMissing } from './testdata/windows-disk.ts';
import { SAMPLES, samplesMissing, TRIAGE_SAMPLE } from '../testdata/build-dump.ts';
import { triageFile } from '../../../cli/commands/triage.ts';
import { CLI, REPO } from '../../../cli/run-cli.test-helper.ts';

const skip = samplesMissing || windowsDiskMissing();
if (skip) t.comment(`SKIP: ${skip}`);
const EVTX = `${SAMPLES}evtx/plaso_test_data_evtx_System.evtx`;
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const out = () => mkdtempSync(path.join(tmpdir(), 'fg-collect-'));

t.test('a dump in Windows\\Minidump and the System log, on a qcow2: found, copied intact, triaged as the sample is', { skip, timeout: 300_000 }, async (t) => {
  const disk = makeWindowsDisk({ format: 'qcow2', files: { 'C:\\Windows\\Minidump\\120426-9718-01.dmp': TRIAGE_SAMPLE, 'C:\\Windows\\System32\\winevt\\Logs\\System.evtx': EVTX } });
  const dir = out();
  const c = await collectFromDisk({ disk, out: dir, notBefore: new Date('2021-01-01T00:00:00Z') });
  t.match(c, { format: 'qcow2', table: 'gpt', volume: { partition: 2, name: 'Basic data partition' } });
  const dumps = collectedDumps(c);
  t.equal(dumps.length, 1);
  t.match(dumps[0], { kind: 'minidump', windowsPath: 'C:\\Windows\\Minidump\\120426-9718-01.dmp', bytes: readFileSync(TRIAGE_SAMPLE).length, sha256: sha(TRIAGE_SAMPLE), dumpTime: '2021-02-21T01:38:22.987Z' });
  t.notOk(dumps[0]!.stale, 'written after --not-before');
  t.equal(sha(path.join(dir, dumps[0]!.file)), sha(TRIAGE_SAMPLE), 'the copy is the sample, byte for byte');
  const ours = await triageFile(path.join(dir, dumps[0]!.file), { ours: [] });
  const theirs = await triageFile(TRIAGE_SAMPLE, { ours: [] });
  t.same({ ...ours, file: '' }, { ...theirs, file: '' }, 'triaged with the same result as the sample');
  t.match(ours, { bugcheck: { hex: '0x1000007E' }, build: 19041, bucket: 'win:0x7E:amdppm' });
  t.ok(c.absent.includes('C:\\Windows\\MEMORY.DMP'), 'no MEMORY.DMP: said');
  t.match(c.files.find((f) => f.kind === 'system-log'), { windowsPath: 'C:\\Windows\\System32\\winevt\\Logs\\System.evtx', sha256: sha(EVTX) });
  t.equal(c.events?.kernelPower41.length, 2, 'the log\'s Kernel-Power 41 records');
  t.match(c.events?.unexpectedShutdowns, [{ recordId: 1041, lastAliveUtc: '2015-08-25T13:34:44.796Z' }], 'and its 6008');
  const listed = JSON.parse(readFileSync(path.join(dir, 'collected.json'), 'utf8'));
  t.same(listed, JSON.parse(JSON.stringify(c)), 'collected.json is what was returned');
  t.same(readFileSync(path.join(dir, 'collected.json'), 'utf8').includes('.scratch-'), false, 'no scratch path in the listing');
  t.same(spawnSync('sh', ['-c', `ls -a ${dir} | grep scratch`]).stdout.toString(), '', 'and the scratch copy is gone');
});

t.test('the dedicated dump file, no MEMORY.DMP and no Minidump, on a raw disk with names in other cases: the dump inside it found and cut to its size', { skip, timeout: 300_000 }, async (t) => {
  const dump = readFileSync(TRIAGE_SAMPLE);
  // DumpFileSize makes the file bigger than any one dump: the dump at its start, the rest not written.
  const dedicated = new Uint8Array(4 * 1024 * 1024);
  dedicated.set(dump);
  const disk = makeWindowsDisk({ format: 'raw', dirs: [], files: { 'C:\\DEDICATEDDUMP.SYS': dedicated, 'C:\\WINDOWS\\system32\\WINEVT\\logs\\system.evtx': EVTX } });
  const dir = out();
  const c = await collectFromDisk({ disk, out: dir, dedicatedDumpFiles: ['C:\\DedicatedDump.sys'], notBefore: new Date('2022-01-01T00:00:00Z') });
  const [d] = collectedDumps(c);
  t.match(d, { kind: 'dedicated-dump', windowsPath: 'C:\\DedicatedDump.sys', file: 'dumps/DedicatedDump.sys.dmp', stale: true });
  // RequiredDumpSpace (1669397) is more than the sample's 1444532 bytes: what Windows would have written.
  t.equal(d!.bytes, 1669397, 'cut at the header\'s RequiredDumpSpace, not the file\'s 4 MiB');
  const copy = readFileSync(path.join(dir, d!.file));
  t.ok(copy.subarray(0, dump.length).equals(dump), 'the dump\'s bytes intact');
  const r = await triageFile(path.join(dir, d!.file), { ours: [] });
  t.match(r, { bugcheck: { hex: '0x1000007E' }, build: 19041, bucket: 'win:0x7E:amdppm', drivers: { length: 151 } });
  t.ok(c.absent.includes('C:\\Windows\\MEMORY.DMP') && c.absent.includes('C:\\Windows\\Minidump\\*.dmp'));
  t.equal(c.events?.kernelPower41.length, 2, 'System.evtx found whatever the case of its path');
});

t.test('a dedicated dump file holding no dump, and a disk with no Windows volume: said, not guessed', { skip, timeout: 300_000 }, async (t) => {
  const disk = makeWindowsDisk({ format: 'qcow2', files: { 'C:\\DedicatedDump.sys': new Uint8Array(65536) } });
  const c = await collectFromDisk({ disk, out: out(), dedicatedDumpFiles: ['C:\\DedicatedDump.sys'] });
  t.same(collectedDumps(c), []);
  t.ok(c.notes.some((n) => /DedicatedDump\.sys is there but holds no dump/.test(n)));
  t.ok(c.absent.includes('C:\\Windows\\System32\\winevt\\Logs\\System.evtx'));
  const bare = path.join(out(), 'bare.qcow2');
  spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', bare, '64M']);
  await t.rejects(collectFromDisk({ disk: bare, out: out() }), { name: 'InputError', message: /bare\.qcow2 at offset 0x0: no partition table/ });
});

t.test('fleetgate collect DISK --out DIR, then fleetgate triage DIR', { skip, timeout: 300_000 }, async (t) => {
  const disk = makeWindowsDisk({ format: 'vhdx', files: { 'C:\\Windows\\MEMORY.DMP': TRIAGE_SAMPLE, 'C:\\Windows\\System32\\winevt\\Logs\\System.evtx': EVTX } });
  const dir = path.join(out(), 'evidence');
  const c = spawnSync(process.execPath, [CLI, 'collect', disk, '--out', dir], { cwd: REPO, encoding: 'utf8', timeout: 240_000 });
  t.equal(c.status, 0, c.stderr);
  t.match(c.stdout, /\(vhdx, gpt\): Windows volume on partition 2/);
  t.match(c.stdout, /found {2}memory-dump {4}C:\\Windows\\MEMORY\.DMP → dumps\/MEMORY\.DMP \(1\.4 MiB, written 2021-02-21T01:38:22\.987Z\)/);
  t.match(c.stdout, /events bugcheck 1001: 0, Kernel-Power 41: 2, unexpected shutdown 6008: 1, filter loaded 6: 18/);
  const tr = spawnSync(process.execPath, [CLI, 'triage', dir, '--json'], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
  t.equal(tr.status, 0, tr.stderr);
  const results = JSON.parse(tr.stdout) as Array<{ file: string; bucket: string }>;
  t.same(results.map((r) => [path.relative(dir, r.file), r.bucket]), [['dumps/MEMORY.DMP', 'win:0x7E:amdppm']]);
  const bad = spawnSync(process.execPath, [CLI, 'collect', disk, '--out', dir, '--format', 'vmdk'], { cwd: REPO, encoding: 'utf8' });
  t.equal(bad.status, 64);
  t.match(bad.stderr, /--format vmdk: expected one of qcow2, raw, vhdx, vpc/);
});
