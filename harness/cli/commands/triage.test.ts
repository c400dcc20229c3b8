// `fleetgate triage` run as a child process, the way CI runs it: JSON shape per input kind, the human
// summary, and exit 64 with the file and offset for a file it cannot read.
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SAMPLES, samplesMissing, TRIAGE_SAMPLE } from '../../crash/windows/testdata/build-dump.ts';
import { runFleetgate } from '../run-cli.test-helper.ts';

// A lab guest oops in the shape the Linux kernel prints it (read by harness/crash/linux.ts).
const LINUX_LOG = [
  '[   12.345678] BUG: kernel NULL pointer dereference, address: 0000000000000008',
  '[   12.345700] #PF: supervisor read access in kernel mode',
  '[   12.345800] RIP: 0010:fg_pre_create+0x1a/0x60 [fleetgate_lab]',
  '[   12.346000] Call Trace:',
  '[   12.346001]  <TASK>',
  '[   12.346002]  do_sys_openat2+0x7c/0x140',
  '[   12.346003]  </TASK>',
  '[   12.346100] ---[ end trace 0000000000000000 ]---',
  '',
].join('\n');

t.test('a real triage dump: --json', { skip: samplesMissing }, async (t) => {
  const r = runFleetgate(['triage', TRIAGE_SAMPLE, '--json']);
  t.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  t.equal(j.kind, 'kernel-dump');
  t.equal(j.bugcheck.code, 0x1000007e);
  t.equal(j.bugcheck.name, 'SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M');
  t.same(j.bugcheck.params, ['0xffffffffc0000005', '0xfffff8048b58334c', '0xffff850429891ee8', '0xffff850429891720']);
  t.equal(j.build, 19041);
  t.equal(j.dumpType, 'triage');
  t.equal(j.drivers.length, 151);
  t.same(Object.keys(j.drivers[0]).sort(), ['base', 'name', 'size', 'timestamp']);
  t.equal(j.module, 'amdppm');
  t.equal(j.bucket, 'win:0x7E:amdppm');
  t.equal(j.attribution, 'windows');
  t.ok(j.bytesRead > 0 && j.bytesRead < 64 * 1024, `bytesRead ${j.bytesRead}`);
});

t.test('kd output with --ours, and the human summary', { skip: samplesMissing }, async (t) => {
  const file = `${SAMPLES}kd/analyze_c4_62_windows-driver-samples205.txt`;
  const r = runFleetgate(['triage', file, '--json', '--ours', 'echosrv.sys,other']);
  t.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  t.same([j.kind, j.bugcheck.code, j.bugcheck.subcode, j.module, j.attribution, j.bucket, j.build], ['kd-analysis', 0xc4, '0x62', 'echosrv', 'ours', 'win:0xC4/0x62:echosrv', 14393]);
  const human = runFleetgate(['triage', file]);
  t.equal(human.code, 0);
  t.match(human.stdout, /^0xC4 DRIVER_VERIFIER_DETECTED_VIOLATION subcode 0x62 \(driver unloaded/);
  t.match(human.stdout, /bucket win:0xC4\/0x62:echosrv/);
  t.match(human.stdout, /blame {2}other-vendor/);
});

t.test('a Linux console log', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fg-triage-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'console.log');
  await writeFile(file, LINUX_LOG);
  const r = runFleetgate(['triage', file, '--json', '--ours', 'fleetgate_lab']);
  t.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  t.equal(j.kind, 'linux-console');
  t.equal(j.bugcheck, undefined);
  t.equal(j.title, 'BUG: kernel NULL pointer dereference in fg_pre_create');
  t.equal(j.module, 'fleetgate_lab');
  t.equal(j.bucket, `linux:fleetgate_lab:${j.title}`);
  t.equal(j.attribution, 'ours');
});

t.test('bad input: exit 64 naming the file (and the offset for a dump)', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fg-triage-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const mdmp = path.join(dir, 'app.dmp');
  await writeFile(mdmp, Buffer.concat([Buffer.from('MDMP', 'latin1'), Buffer.alloc(60)]));
  const r = runFleetgate(['triage', mdmp]);
  t.equal(r.code, 64);
  t.match(r.stderr, `${mdmp} at offset 0x0: a user-mode minidump, not a kernel dump`);
  const cut = path.join(dir, 'cut.dmp');
  await writeFile(cut, Buffer.from('PAGEDU64PAGEPAGE', 'latin1'));
  const c = runFleetgate(['triage', cut, '--json']);
  t.equal(c.code, 64);
  t.match(c.stderr, /cut\.dmp at offset 0x10: file is 16 bytes: a PAGEDU64 header needs 0x2000 bytes/);
  const none = runFleetgate(['triage', path.join(dir, 'missing.dmp')]);
  t.equal(none.code, 64);
  t.match(none.stderr, /missing\.dmp: file not found/);
});
