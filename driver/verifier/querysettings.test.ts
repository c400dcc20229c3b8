// /querysettings and !verifier readers on the real samples and on windows.md §2's format block.
import t from 'tap';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../../lib/errors.ts';
import { listSamples, readSample, samplesSkip, SAMPLES_DIR } from '../windows/samples.ts';
import { verifierPlan } from './profiles.ts';
import { checkSettings, parseQuerySettings, parseVerifierExtension, parseVerifierQuery, recogniseVerifierOutput } from './querysettings.ts';

const skip = samplesSkip('verifier');
const REFERENCE = path.resolve(SAMPLES_DIR, '../reference/windows.md');
const refSkip = existsSync(REFERENCE) ? false : `windows.md not found at ${REFERENCE}`;
const WIN11 = { build: 22631, family: 'client' } as const;

t.test('samples: every file is covered below', { skip }, async (t) => {
  t.same(listSamples('verifier'), [
    'safeupload_boot_active_verifier_query_0x1209bb_notloaded.txt',
    'safeupload_locks_verifier_query_0x13b_loaded.txt',
    'safeupload_querysettings_none_plus_query_none.txt',
    'verifier3_extension_c4_0x62.txt',
    'verifier3_extension_ebpf-for-windows1091.txt',
    'verifier_querysettings_low_resources.txt',
  ]);
  t.equal(recogniseVerifierOutput(readSample('verifier', 'safeupload_boot_active_verifier_query_0x1209bb_notloaded.txt')), 'query');
  t.equal(recogniseVerifierOutput(readSample('verifier', 'safeupload_locks_verifier_query_0x13b_loaded.txt')), 'query');
  t.equal(recogniseVerifierOutput(readSample('verifier', 'safeupload_querysettings_none_plus_query_none.txt')), 'querysettings-hex', '/querysettings, then /query\'s one English sentence');
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

t.test('sample querysettings "None" plus query "none" (real spacing: a blank line between each label and its value)', { skip }, async (t) => {
  const text = readSample('verifier', 'safeupload_querysettings_none_plus_query_none.txt');
  const q = parseQuerySettings(text);
  t.equal(q.format, 'hex');
  t.equal(q.verifierFlags, 0);
  t.equal(q.enabledFlags, 0);
  t.equal(q.flagsSource, 'summary');
  t.equal(q.flags.length, 22, 'nine standard and thirteen additional flag lines');
  t.ok(q.flags.every((f) => !f.enabled), 'every flag line is [ ]');
  t.same([q.bootMode, q.bootModeRaw], ['persistent', 'Persistent'], 'the boot mode two lines under its label');
  t.same(q.drivers, [], '"None" is not a driver');
  t.same(q.lowResources, null);
  t.same(q.warnings, []);
  t.same(checkSettings(q, verifierPlan('none', WIN11, { driver: 'SafeUpload.sys' })), { ok: true, problems: [], notes: [] }, 'verifier off: what profile "none" asks for');
  const std = checkSettings(q, verifierPlan('standard', WIN11, { driver: 'SafeUpload.sys', bootMode: 'persistent' }));
  t.equal(std.ok, false);
  t.match(std.problems.join('\n'), /0x00000001 \(special pool\) is expected[\s\S]*SafeUpload\.sys is not among the verified drivers \(none listed\)/);
  t.notMatch(std.problems.join('\n'), /boot mode/, 'the boot mode matches');
  t.throws(() => parseVerifierQuery(text, 'pre-state.txt'), { message: /^pre-state\.txt:1: not verifier \/query output.*read it with parseQuerySettings/ }, 'the /query part is only "No drivers are currently verified."');
});

t.test('sample verifier /query, flags 0x13b, SafeUpload.sys loaded, with pool counters', { skip }, async (t) => {
  const text = readSample('verifier', 'safeupload_locks_verifier_query_0x13b_loaded.txt');
  const q = parseVerifierQuery(text, 'locks-verifier-query.txt');
  t.equal(q.verifierFlags, 0x13b);
  t.equal(q.enabledFlags, 0x13b);
  t.equal(q.flagsSource, 'summary');
  t.same(q.flags.filter((f) => f.enabled).map((f) => f.bit), [0x1, 0x2, 0x8, 0x10, 0x20, 0x100], '[X] lines agree with the value');
  t.equal(q.flags.length, 22);
  t.same(q.statistics, {
    'Raise IRQLs': 0,
    'Acquire Spin Locks': 0,
    'Synchronize Executions': 0,
    Trims: 79256,
    'Pool Allocations Attempted': 2391937,
    'Pool Allocations Succeeded': 2391937,
    'Pool Allocations Succeeded SpecialPool': 180,
    'Pool Allocations With No Tag': 0,
    'Pool Allocations Not Tracked': 2389589,
    'Pool Allocations Failed': 0,
    'Pool Allocations Failed Deliberately': 0,
  });
  t.same(q.modules, [
    {
      name: 'SafeUpload.sys',
      loads: 1,
      unloads: 0,
      loaded: true,
      current: { nonPaged: { allocations: 3, bytes: 24880 }, paged: { allocations: 1, bytes: 176 } },
      peak: { nonPaged: { allocations: 8, bytes: 46032 }, paged: { allocations: 1, bytes: 176 } },
      contiguousBytes: 0,
      peakContiguousBytes: 0,
      line: 54,
    },
  ]);
  t.same(q.warnings, []);
  t.throws(() => parseQuerySettings(text, 'locks-verifier-query.txt'), { message: /^locks-verifier-query\.txt:1: this is verifier \/query output.*parseVerifierQuery/ }, 'not read as /querysettings (it lists no "Verified Drivers")');
});

t.test('sample verifier /query, flags 0x1209bb, SafeUpload.sys listed but not loaded', { skip }, async (t) => {
  const q = parseVerifierQuery(readSample('verifier', 'safeupload_boot_active_verifier_query_0x1209bb_notloaded.txt'));
  t.equal(q.verifierFlags, 0x1209bb, '/standard plus the internal 0x100000');
  t.equal(q.enabledFlags, 0x1209bb);
  t.same(q.flags.filter((f) => f.enabled).map((f) => f.bit), [0x1, 0x2, 0x8, 0x10, 0x20, 0x80, 0x100, 0x800, 0x20000, 0x100000], 'including the Internal Flags block');
  t.equal(q.flags.length, 23);
  t.same([q.statistics['Pool Allocations Attempted'], q.statistics['Pool Allocations Succeeded SpecialPool'], q.statistics['Pool Allocations Not Tracked'], q.statistics.Trims], [237363, 237363, 237361, 0]);
  t.equal(Object.keys(q.statistics).length, 11);
  t.same(q.modules, [{ name: 'SafeUpload.sys', loads: 0, unloads: 0, loaded: false, current: null, peak: null, contiguousBytes: null, peakContiguousBytes: null, line: 58 }], 'listed, never loaded: no pool block');
  t.same(q.warnings, []);
});

t.test('verifier /query read by shape: translated words, hex pool pairs, a cut module', async (t) => {
  const text = [
    'Verifier-Flags: 0x00000009',
    '  Standard-Flags:',
    '    [X] 0x00000001 Spezieller Pool.',
    '    [ ] 0x00000002 IRQL-Überprüfung erzwingen.',
    '    [X] 0x00000008 Poolnachverfolgung.',
    '  Zusammenfassung',
    '    IRQL-Erhöhungen:                         5',
    '    Drehsperren:                             0',
    '    Poolzuordnungen versucht:               42',
    '  Treiberliste',
    '    MODUL: fgfilter.sys (geladen: 2 / entladen: 1)',
    '      Poolzuordnungsstatistik: ( NonPaged / Paged )',
    '        Aktuelle Zuordnungen:  ( 0x2 / 0x0 )',
    '        Aktuelle Bytes:        ( 0x40 / 0x0 )',
    '    MODUL: other.sys (geladen: 1 / entladen: 1)',
  ].join('\r\n');
  t.equal(recogniseVerifierOutput(text), 'query');
  const q = parseVerifierQuery(text);
  t.equal(q.enabledFlags, 0x9);
  t.same(q.statistics, { 'IRQL-Erhöhungen': 5, Drehsperren: 0, 'Poolzuordnungen versucht': 42 });
  t.same(q.modules.map((m) => [m.name, m.loads, m.unloads, m.loaded, m.current?.nonPaged.bytes ?? null, m.peak]), [
    ['fgfilter.sys', 2, 1, true, 0x40, null],
    ['other.sys', 1, 1, false, null, null],
  ]);
  t.match(q.warnings.join('\n'), /fgfilter\.sys \(line 11\): expected 4 pool counter pairs.*found 2/);
  t.throws(() => parseVerifierQuery('nothing useful here'), InputError);
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
  t.throws(() => parseVerifierQuery(readSample('verifier', 'verifier3_extension_c4_0x62.txt')), { message: /parseVerifierExtension/ }, 'not read as verifier /query');
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

t.test("verifier /query with nothing verified: the recorded sentence is nothing verified, not unreadable", { skip }, async (t) => {
  const text = readSample('verifier', 'safeupload_querysettings_none_plus_query_none.txt');
  const sentence = text.split(/\r?\n/).filter((l) => l.trim()).at(-1)!;
  t.equal(sentence, 'No drivers are currently verified.', 'the /query part of the recording');
  const q = parseVerifierQuery(`${sentence}\r\n`);
  t.same(q.modules, []);
  t.equal(q.enabledFlags, 0);
  t.throws(() => parseVerifierQuery('Verifier Flags: 0x00000000\n'), InputError, 'a /querysettings line is still not /query');
});
