// Command lines per profile and release (windows.md §2), and the checks on their options.
import t from 'tap';
import { UsageError } from '../../lib/errors.ts';
import { FULL_FLAGS, STANDARD_FLAGS, VERIFIER_PROFILE_NAMES, interpretVerifierExit, releaseName, verifierPlan, type WindowsRelease } from './profiles.ts';

const WIN10: WindowsRelease = { build: 19045, family: 'client' };
const WIN11: WindowsRelease = { build: 26100, family: 'client' };
const SRV2019: WindowsRelease = { build: 17763, family: 'server' };
const SRV2022: WindowsRelease = { build: 20348, family: 'server' };
const SRV2025: WindowsRelease = { build: 26100, family: 'server' };
const d = { driver: 'fgfilter.sys' };

t.test('profile names the matrix uses are unchanged', async (t) => {
  t.same(VERIFIER_PROFILE_NAMES, ['none', 'standard', 'filter', 'lowres', 'ddi', 'full']);
});

t.test('release names by build', async (t) => {
  t.match(releaseName(WIN10), /^Windows 10/);
  t.match(releaseName({ build: 22000, family: 'client' }), /^Windows 11/);
  t.match(releaseName(SRV2019), /^Windows Server 2019/);
  t.match(releaseName(SRV2022), /^Windows Server 2022/);
  t.match(releaseName(SRV2025), /^Windows Server 2025/);
});

t.test('command lines', async (t) => {
  t.same(verifierPlan('standard', WIN10, d).commandLines, ['verifier /standard /driver fgfilter.sys']);
  t.equal(verifierPlan('standard', WIN10, d).expectedFlags, STANDARD_FLAGS);
  t.same(verifierPlan('filter', WIN11, d).commandLines, ['verifier /ruleclasses 5 37 /driver fgfilter.sys']);
  t.same(verifierPlan('filter', WIN11, d).expectedRuleClasses, [5, 37]);
  t.same(verifierPlan('filter', WIN10, d).commandLines, ['verifier /flags 0x10 /driver fgfilter.sys']);
  t.same(verifierPlan('filter', SRV2022, d).commandLines, ['verifier /flags 0x10 /driver fgfilter.sys'], 'Server 2022 is a Windows 10 code base');
  t.same(verifierPlan('filter', SRV2025, d).commands[0]?.slice(0, 3), ['/ruleclasses', '5', '37']);
  t.same(verifierPlan('ddi', WIN11, d).commandLines, ['verifier /flags 0x00020000 /driver fgfilter.sys']);
  t.same(verifierPlan('full', WIN11, d).commandLines, [`verifier /flags 0x${FULL_FLAGS.toString(16).padStart(8, '0')} /driver fgfilter.sys`]);
  t.equal(FULL_FLAGS & 0x4, 0, 'full never includes randomized low resources');
  t.equal(FULL_FLAGS & STANDARD_FLAGS, STANDARD_FLAGS, 'full includes standard');
  t.same(verifierPlan('lowres', WIN10, d).commandLines, ['verifier /faults 600 "" "" 7 /driver fgfilter.sys'], 'defaults: 600/10000, 7 minutes');
  const lr = verifierPlan('lowres', WIN11, { ...d, lowResources: { probability: 50, poolTags: ['Fgf1', 'Fgf2'], applications: ['build.exe'], delayMinutes: 2 } });
  t.same(lr.commands, [['/faults', '50', 'Fgf1 Fgf2', 'build.exe', '2', '/driver', 'fgfilter.sys']]);
  t.equal(lr.expectedFlags, 0x4);
  t.same(verifierPlan('none', WIN11, d).commands, [], 'none on a fresh image: nothing');
  t.same(verifierPlan('none', WIN11, { ...d, reset: true }).commandLines, ['verifier /reset']);
  t.same(verifierPlan('standard', WIN11, { ...d, bootMode: 'oneboot' }).commandLines, ['verifier /standard /driver fgfilter.sys', 'verifier /bootmode oneboot']);
});

t.test('ntoskrnl with the filter before build 25126 is refused', async (t) => {
  t.throws(() => verifierPlan('filter', WIN10, { ...d, alsoVerify: ['ntoskrnl.exe'] }), UsageError);
  t.throws(() => verifierPlan('standard', { build: 22631, family: 'client' }, { ...d, alsoVerify: ['ntoskrnl.exe'] }), /25126/);
  t.same(verifierPlan('filter', WIN11, { ...d, alsoVerify: ['ntoskrnl.exe'] }).drivers, ['fgfilter.sys', 'ntoskrnl.exe']);
  t.match(verifierPlan('filter', WIN10, d).notes.join('\n'), /25126/);
});

t.test('bad options', async (t) => {
  t.throws(() => verifierPlan('lowres', WIN11, { ...d, lowResources: { probability: 0 } }), UsageError);
  t.throws(() => verifierPlan('lowres', WIN11, { ...d, lowResources: { probability: 10001 } }), UsageError);
  t.throws(() => verifierPlan('lowres', WIN11, { ...d, lowResources: { poolTags: ['toolong'] } }), UsageError);
  t.throws(() => verifierPlan('lowres', WIN11, { ...d, lowResources: { applications: ['a b.exe'] } }), UsageError);
  t.throws(() => verifierPlan('standard', WIN11, { driver: 'fg filter.sys' }), UsageError);
  t.throws(() => verifierPlan('standard', WIN11, { driver: 'x.sys & calc' }), UsageError);
  t.throws(() => verifierPlan('standard', WIN11, { ...d, bootMode: 'always' as never }), UsageError);
  t.throws(() => verifierPlan('nope' as never, WIN11, d), UsageError);
});

t.test('exit codes: 2 is reboot required, not a failure', async (t) => {
  t.same(interpretVerifierExit(0), { ok: true, rebootRequired: false, meaning: 'success' });
  t.equal(interpretVerifierExit(2).ok, true);
  t.equal(interpretVerifierExit(2).rebootRequired, true);
  t.equal(interpretVerifierExit(1).ok, false);
  t.equal(interpretVerifierExit(5).ok, false);
});
