// Issue #18: a Windows cell whose guest bugchecks and never comes back still ends product-crash with
// its dump. The lifecycle (real) drives the fake provider and personality, with the Windows crash
// strategy (real) and a real NTFS disk as the VM's disk: the bugcheck's dump sits in the image's
// dedicated dump file, never copied to MEMORY.DMP, and is read off the stopped VM's disk, triaged and
// blamed. The same with the guest coming back (nothing read off the disk), and with a disk whose
// dedicated dump file is from before this attempt (stale: kept, not triaged).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fakeCells } from '../run/fake-runner.ts';
import type { AttemptContext } from '../run/types.ts';
import { runCell, type CellPolicy } from './lifecycle.ts';
import { FakeProvider } from './test-doubles/fake-provider.ts';
import { fakePersonality, type FakeCall, type FakeGuestScript } from './test-doubles/fake-personality.ts';
import { WINDOWS_CRASH } from '../guest/windows/personality.ts';
import { WINDOWS_DEDICATED_DUMP_FILE } from '../../images/windows/manifest.ts';
import { makeWindowsDisk, windowsDiskMissing } from '../crash/windows/disk/testdata/windows-disk.ts';
import { samplesMissing, TRIAGE_SAMPLE } from '../crash/windows/testdata/build-dump.ts';

const skip = samplesMissing || windowsDiskMissing();
if (skip) t.comment(`SKIP: ${skip}`);
const HOST = { name: 'fake-host', provider: 'qemu' as const, reach: 'local', slots: 1, memoryMiB: 8192, images: ['*'] };
const POLICY: CellPolicy = { runs: 2, lateCrashMs: 200, monitor: { hangGraceMs: 20, nmiPanicMs: 500 } };

/** The dedicated dump file as a bugcheck leaves it: the dump at its start, in a bigger file; SystemTime set to `when`. */
function dedicatedFile(when: Date): Uint8Array {
  const dump = new Uint8Array(readFileSync(TRIAGE_SAMPLE));
  const ft = BigInt(when.getTime() + 11_644_473_600_000) * 10_000n;
  new DataView(dump.buffer).setBigUint64(0xfa8, ft, true);
  const file = new Uint8Array(4 * 1024 * 1024);
  file.set(dump);
  return file;
}

async function attempt(script: FakeGuestScript, disk: string | undefined) {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-crashdisk-'));
  const calls: FakeCall[] = [];
  const provider = new FakeProvider(disk ? { disk: { path: disk, format: 'qcow2' } } : {});
  const ctx: AttemptContext = {
    cell: { ...fakeCells(1)[0]!, driverBuild: { name: 'fakefilter', path: '/pkg/fakefilter', upgradeFrom: null, params: {} } },
    attempt: 1, host: HOST.name, hostSpec: HOST, slot: 0, attemptDir: dir, runDir: dir,
    signal: new AbortController().signal, emit: () => undefined,
  };
  const personality = { ...fakePersonality(script, calls), crash: WINDOWS_CRASH };
  const result = await runCell(ctx, { provider, personality }, POLICY);
  return { result, calls, dir, provider };
}

t.test('the guest never comes back: the dedicated dump file read off its disk, product-crash blamed on the dump\'s driver', { skip, timeout: 300_000 }, async (t) => {
  const disk = makeWindowsDisk({ format: 'qcow2', files: { [WINDOWS_DEDICATED_DUMP_FILE]: dedicatedFile(new Date(Date.now() + 60_000)) } });
  const { result, calls, provider } = await attempt({ workload: 'bugcheck-7e', afterCrash: 'never-back' }, disk);
  t.equal(result.verdict, 'product-crash');
  t.same(calls.filter((c) => c.op === 'after-crash').map((c) => c.arg), ['never-back']);
  t.ok(provider.vms[0]!.disposed, 'the VM released after its disk was read');
  t.ok(result.evidence.includes('from-disk/dumps/fleetgate-dump.sys.dmp'), `the dump in the evidence: ${result.evidence.join(', ')}`);
  t.ok(result.evidence.includes('from-disk/collected.json'));
  t.match(result.crash, { title: '0x1000007E SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M in amdppm', module: 'amdppm', attribution: 'windows' });
  t.ok(result.steps.find((s) => s.step === 'collect')?.ok, 'the collect step succeeded');
});

t.test('the guest comes back: its own evidence, nothing read off the disk', { skip, timeout: 300_000 }, async (t) => {
  const disk = makeWindowsDisk({ format: 'qcow2', files: { [WINDOWS_DEDICATED_DUMP_FILE]: dedicatedFile(new Date(Date.now() + 60_000)) } });
  const { result } = await attempt({ workload: 'bugcheck-7e', afterCrash: 'back' }, disk);
  t.equal(result.verdict, 'product-crash');
  t.notOk(result.evidence.some((e) => e.startsWith('from-disk/')));
  t.equal(result.crash?.module, undefined, 'no dump came back, so nobody is blamed');
  t.match(result.crash?.title, /^0x1000007E SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M$/);
});

t.test('a dump on the disk from before the attempt is an earlier crash\'s: listed, not triaged', { skip, timeout: 300_000 }, async (t) => {
  const disk = makeWindowsDisk({ format: 'qcow2', files: { [WINDOWS_DEDICATED_DUMP_FILE]: dedicatedFile(new Date('2021-02-21T01:38:22Z')) } });
  const { result, dir } = await attempt({ workload: 'bugcheck-7e', afterCrash: 'never-back' }, disk);
  t.equal(result.verdict, 'product-crash');
  t.notOk(result.evidence.includes('from-disk/dumps/fleetgate-dump.sys.dmp'), 'not handed to triage');
  const listed = JSON.parse(readFileSync(path.join(dir, 'from-disk', 'collected.json'), 'utf8')) as { files: Array<{ kind: string; stale?: boolean }> };
  t.match(listed.files, [{ kind: 'dedicated-dump', stale: true }], 'but kept and listed as stale');
  t.equal(result.crash?.module, undefined);
});

t.test('the guest never comes back and the provider cannot read its disk: product-crash all the same, the reason kept', async (t) => {
  const { result } = await attempt({ workload: 'bugcheck-7e', afterCrash: 'never-back' }, undefined);
  t.equal(result.verdict, 'product-crash', 'infrastructure trouble collecting never changes the verdict');
  const collect = result.steps.find((s) => s.step === 'collect');
  t.equal(collect?.ok, false);
  t.match(collect?.detail, /did not restart after its crash/);
});
