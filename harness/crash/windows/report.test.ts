// The Windows crash report from the hypervisor's record and the guest's dumps (report.ts), with the
// real triage dump of ../shared/samples/dumps/.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { windowsCrashReport } from './report.ts';

const DUMP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../shared/samples/dumps/triage_x64.dmp');
const skip = existsSync(DUMP) ? false : `${DUMP} is not beside the repository`;

t.test('the recorded stop code names the crash; the dump of the same stop blames its driver', { skip }, async (t) => {
  const r = await windowsCrashReport({ code: '0x1000007E', params: ['0xffffffffc0000005', '0x0', '0x0', '0x0'] }, [DUMP]);
  t.match(r, { kind: 'BUGCHECK', title: '0x1000007E SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M in amdppm', module: 'amdppm' });
  t.match(await windowsCrashReport(undefined, [DUMP]), { title: '0x1000007E SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M in amdppm' }, 'the dump alone');
});

t.test('a dump of another stop says nothing about this one', { skip }, async (t) => {
  const r = await windowsCrashReport({ code: '0x80', params: ['0x0', '0x0', '0x0', '0x0'] }, [DUMP]);
  t.same(r?.title, '0x80 NMI_HARDWARE_FAILURE');
  t.notOk(r?.module);
});

t.test('a verifier stop carries its subcode and what it means; files that are not dumps are passed over', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-report-'));
  writeFileSync(path.join(dir, 'notes.txt'), 'not a dump');
  writeFileSync(path.join(dir, 'bad.dmp'), Buffer.concat([Buffer.from('PAGEDU64'), Buffer.alloc(16)]));
  const r = await windowsCrashReport({ code: '0xC4', params: ['0x62', '0xffffa00000000000', '0x0', '0x0'] }, [path.join(dir, 'notes.txt'), path.join(dir, 'bad.dmp')]);
  t.match(r?.title, /^0xC4 DRIVER_VERIFIER_DETECTED_VIOLATION \(0x62: driver unloaded with outstanding allocations/);
  t.equal(await windowsCrashReport(undefined, [path.join(dir, 'notes.txt')]), null, 'nothing says what stopped the system');
});
