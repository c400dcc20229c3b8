// /querysettings and !verifier readers on the real samples and on windows.md §2's format block.
import t from 'tap';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../../lib/errors.ts';
import { listSamples, readSample, samplesSkip, SAMPLES_DIR } from '../windows/samples.ts';
import { verifierPlan } from './profiles.ts';
import { checkSettings, parseQuerySettings, parseVerifierExtension, recogniseVerifierOutput } from './querysettings.ts';

const skip = samplesSkip('verifier');
const REFERENCE = path.resolve(SAMPLES_DIR, '../reference/windows.md');
const refSkip = existsSync(REFERENCE) ? false : `windows.md not found at ${REFERENCE}`;
const WIN11 = { build: 22631, family: 'client' } as const;

t.test('samples: every file is covered below', { skip }, async (t) => {
  t.same(listSamples('verifier'), ['verifier3_extension_c4_0x62.txt', 'verifier3_extension_ebpf-for-windows1091.txt', 'verifier_querysettings_low_resources.txt']);
  t.equal(recogniseVerifierOutput(readSample('verifier', 'verifier3_extension_c4_0x62.txt')), 'debugger-extension');
  t.equal(recogniseVerifierOutput(readSample('verifier', 'verifier3_extension_ebpf-for-windows1091.txt')), 'debugger-extension');
  t.equal(recogniseVerifierOutput(readSample('verifier', 'verifier_querysettings_low_resources.txt')), 'querysettings-labels');
});

t.test('sample querysettings (older label form, low resources)', { skip }, async (t) => {
  const q = parseQuerySettings(readSample('verifier', 'verifier_querysettings_low_resources.txt'));
  t.equal(q.format, 'labels');
  t.equal(q.enabledFlags, 0x4, 'only "Low resources simulation: Enabled"');
  t.equal(q.flagsSource, 'english-labels');
  t.match(q.warnings.join('\n'), /English/);
  t.same(q.drivers, ['blah.sys']);
  t.same(q.lowResources, { probability: 1, poolTags: ['Tag1', 'Tag2'], applications: ['test1.exe', 'test2.exe'], delayMinutes: 2 });
  t.equal(q.bootMode, null, 'this form prints no boot mode');
  const plan = verifierPlan('lowres', WIN11, { driver: 'blah.sys', lowResources: { probability: 1, poolTags: ['Tag1', 'Tag2'], applications: ['test1.exe', 'test2.exe'], delayMinutes: 2 } });
  t.same(checkSettings(q, plan).problems, []);
  const other = checkSettings(q, verifierPlan('lowres', WIN11, { driver: 'fgfilter.sys' }));
  t.same(other.problems, [
    'fgfilter.sys is not among the verified drivers (blah.sys): the settings were not applied to it, or a reboot is still pending',
    'fault probability is 1/10000, expected 600/10000',
    'boot delay is 2 minutes, expected 7',
    'pool tags are [Tag1 Tag2], expected []',
    'applications are [test1.exe test2.exe], expected []',
  ]);
  t.match(checkSettings(q, verifierPlan('standard', WIN11, { driver: 'blah.sys' })).problems.join('\n'), /0x00000001 \(special pool\)/);
  t.throws(() => parseQuerySettings(readSample('verifier', 'verifier3_extension_c4_0x62.txt')), { message: /parseVerifierExtension/ }, 'debugger output is recognised and refused');
});

t.test('sample !verifier 3 (docs, 0xC4/0x62 leak)', { skip }, async (t) => {
  const x = parseVerifierExtension(readSample('verifier', 'verifier3_extension_c4_0x62.txt'));
  t.equal(x.command, '!verifier 3 Mydriver.sys');
  t.equal(x.flagsLevel, 0x209bb, 'the /standard flags');
  t.equal(x.enabledFlags, 0x209bb, '[X] lines agree with the level');
  t.equal(x.statistics['Pool Allocations Attempted'], 0x2db1a);
  t.equal(x.statistics['Pool Allocations Failed'], 0);
  t.equal(x.truncated, false);
  t.equal(x.modules.length, 1);
  const m = x.modules[0]!;
  t.same([m.name, m.address, m.state], ['MyDriver.sys', '0x84226b28', 'Loaded']);
  t.same(m.current, { nonPaged: { allocations: 3, bytes: 0x1058 }, paged: { allocations: 0, bytes: 0 } });
  t.same(m.peak, { nonPaged: { allocations: 0x13, bytes: 0x4a4a0 }, paged: { allocations: 0, bytes: 0 } });
  t.same(m.allocations.map((a) => [a.tag, a.length, a.symbol]), [
    ['VMdl', 0x20, 'MyDriver!DeviceControlDispatch'],
    ['mdrv', 0x1008, 'MyDriver!DeviceControlDispatch'],
    ['Vfwi', 0x30, 'MyDriver!GetNecessaryObjects'],
  ]);
  t.same(x.outstanding, [{ module: 'MyDriver.sys', allocations: 3, bytes: 0x1058 }]);
});

t.test('sample !verifier 3 (ebpf-for-windows#1091, cut mid-statistics)', { skip }, async (t) => {
  const x = parseVerifierExtension(readSample('verifier', 'verifier3_extension_ebpf-for-windows1091.txt'));
  t.equal(x.command, '!verifier 3 netebpfext.sys');
  t.equal(x.flagsLevel, 0x1209bb);
  t.equal(x.enabledFlags, 0x1209bb, 'includes the reserved 0x100000 marked [X]');
  t.ok(x.flags.some((f) => f.bit === 0x2000000 && !f.enabled), 'code integrity listed, off');
  t.equal(x.truncated, true, 'no module list: cut excerpt, leaks unknown');
  t.same(x.modules, []);
  t.same(x.statistics, { RaiseIrqls: 0 }, 'the cut "AcquireSpinL" line is not a statistic');
  t.throws(() => parseVerifierExtension(readSample('verifier', 'verifier_querysettings_low_resources.txt')), InputError);
});

t.test('windows.md §2 format block (hex form)', { skip: refSkip }, async (t) => {
  const md = readFileSync(REFERENCE, 'utf8');
  const block = /```\n(Verifier Flags:[\s\S]*?)```/.exec(md)?.[1];
  t.ok(block, 'format block found in windows.md');
  const q = parseQuerySettings(block!);
  t.equal(q.format, 'hex');
  t.equal(q.verifierFlags, 0x0012892b);
  t.same(q.flags.map((f) => [f.bit, f.enabled]), [[1, true], [2, true], [4, false]]);
  t.equal(q.enabledFlags, 0x0012892b, 'the summary value wins over a partial [X] list');
  t.equal(q.bootMode, 'persistent');
  t.same(q.drivers, ['myfilter.sys']);
  t.same(q.warnings, []);
  const c = checkSettings(q, verifierPlan('standard', WIN11, { driver: 'myfilter.sys', bootMode: 'persistent' }));
  t.same(c.problems, [
    'flag 0x00000010 (I/O verification) is expected by profile "standard" on Windows 11 (build 22631) but is not enabled (enabled: 0x0012892b)',
    'flag 0x00000080 (DMA checking) is expected by profile "standard" on Windows 11 (build 22631) but is not enabled (enabled: 0x0012892b)',
  ]);
  t.equal(checkSettings(q, verifierPlan('ddi', WIN11, { driver: 'myfilter.sys' })).ok, true);
  t.match(checkSettings(q, verifierPlan('ddi', WIN11, { driver: 'fgfilter.sys' })).problems[0], /fgfilter\.sys is not among the verified drivers \(myfilter\.sys\)/);
  t.match(checkSettings(q, verifierPlan('none', WIN11, { driver: 'myfilter.sys' })).problems.join('\n'), /expects Driver Verifier off/);
  t.match(checkSettings(q, verifierPlan('ddi', WIN11, { driver: 'myfilter.sys', bootMode: 'oneboot' })).problems.join('\n'), /boot mode is persistent, expected oneboot/);
});

t.test('translated hex form: labels ignored, hex and module names read', async (t) => {
  const text = [
    'Verifier-Flags: 0x000209bb',
    'Standard-Flags:',
    '[X] 0x00000001 Spezieller Pool.',
    '[ ] 0x00000004 Simulation geringer Ressourcen.',
    '[X] Gibt an, dass das Flag aktiviert ist.',
    'Startmodus:',
    'Dauerhaft',
    'Überprüfte Treiber:',
    'fgfilter.sys',
  ].join('\r\n');
  const q = parseQuerySettings(text);
  t.equal(q.enabledFlags, 0x209bb);
  t.same(q.drivers, ['fgfilter.sys']);
  t.equal(q.bootMode, null);
  t.equal(q.bootModeRaw, 'Dauerhaft');
  t.match(q.warnings.join('\n'), /translated/);
  t.same(checkSettings(q, verifierPlan('standard', WIN11, { driver: 'fgfilter.sys' })).problems, []);
  t.match(checkSettings(q, verifierPlan('standard', WIN11, { driver: 'fgfilter.sys', bootMode: 'persistent' })).problems.join(''), /could not be read \(Dauerhaft\)/);
  t.throws(() => parseQuerySettings('nothing useful here'), InputError);
});
