// `npm run demo:windows` end to end: matrix/windows-demo.yaml through the real `fleetgate run` against
// the Windows guest double and two Hyper-V host doubles (harness/run/test-doubles/windows-demo.ts). The
// run ends with exit 1 and one verdict per driver build, each with its evidence; the refusing host's
// attempts are infra errors retried on the other.
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { pwshSkip } from '../../lib/pwsh.ts';
import type { SummaryCell, SummaryJson } from '../../runfolder/summary.ts';
import { sshdMissingReason } from '../guest/ssh/sshd-fixture.ts';
import { SAMPLES } from '../guest/windows/test-doubles/guest-double.ts';
import { runWindowsDemo } from './test-doubles/windows-demo.ts';

const skip = sshdMissingReason() || pwshSkip() || (existsSync(SAMPLES) ? false : `${SAMPLES} is not beside the repository`);

t.test('the Windows demo: pass, product-crash, verifier-violation, product-hang, boot-failure, install-failure; the refusing host retried elsewhere', { skip, timeout: 40 * 60_000 }, async (t) => {
  const work = mkdtempSync(path.join(tmpdir(), 'fg-windemo-'));
  const out = path.join(work, 'run');
  const code = await runWindowsDemo({ out, work: path.join(work, 'doubles') });
  t.equal(code, 1, 'product failures: exit 1, not inconclusive');
  const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')) as SummaryJson;
  const byDriver = new Map<string, SummaryCell>(summary.cells.map((c) => [String(c.coords.driver), c]));
  const verdicts = Object.fromEntries([...byDriver].map(([d, c]) => [d, c.verdict]));
  t.same(verdicts, {
    fgfilter: 'pass',
    'fgfilter-bugcheck': 'product-crash',
    'fgfilter-verifier-c4': 'verifier-violation',
    'fgfilter-hang': 'product-hang',
    'fgfilter-boot-hang': 'boot-failure',
    'fgfilter-unsigned': 'install-failure',
  });
  const evidenceFile = (c: SummaryCell, re: RegExp): string | undefined => c.evidence.find((e) => re.test(e));

  const crash = byDriver.get('fgfilter-bugcheck')!;
  t.equal(crash.crash?.title, '0x1000007E SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M in amdppm', "titled from the hypervisor's record and the dump that blames a driver");
  const dump = evidenceFile(crash, /minidump-.*\.dmp$/);
  t.ok(dump, `the guest's Minidump came back: ${crash.evidence.join(', ')}`);
  if (dump) t.equal(statSync(path.join(out, dump)).size, statSync(path.join(SAMPLES, 'dumps/triage_x64.dmp')).size, 'whole');

  t.match(byDriver.get('fgfilter-verifier-c4')!.crash?.title, /^0xC4 DRIVER_VERIFIER_DETECTED_VIOLATION \(0x0: zero-byte allocation\)/);
  t.equal(byDriver.get('fgfilter-hang')!.crash?.title, '0x80 NMI_HARDWARE_FAILURE', 'the NMI the monitor injected');
  t.match(byDriver.get('fgfilter-boot-hang')!.reason, /did not come back within \d+ s of its restart/);
  t.match(byDriver.get('fgfilter-unsigned')!.reason, /fltmc load fgfilter was refused: .*0x80070241/);

  // hv-b refuses every Start-VM: each cell it took has a refused attempt, retried on hv-a.
  const refused = summary.cells.flatMap((c) => c.attemptLog.filter((a) => a.host === 'hv-b').map((a) => ({ cell: c, a })));
  t.ok(refused.length >= 1, 'hv-b took cells');
  for (const { cell, a } of refused) {
    t.equal(a.verdict, 'infra-error', `${cell.id} on hv-b`);
    t.match(a.reason, /Not enough memory in the system to start the virtual machine/);
    t.ok(cell.attemptLog.some((x) => x.host === 'hv-a' && x.attempt > a.attempt && x.verdict === cell.verdict), `${cell.id} decided on hv-a`);
  }
  t.equal(summary.run.exitCode, 1);
});
