// The System log's crash events as XML: a real Kernel-Power 41 record as pasted from Event Viewer
// (without its <Event> and <System> wrappers), the real System.evtx from plaso's test data read
// through libevtx's evtxexport (its records checked against the sample's NOTES), and event 1001 in
// the schema Windows writes it, its strings taken from a real 1001 text in the samples.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { crashEventsOf, parseEventXml } from './event-xml.ts';
import { eventIdOf, readEvtx } from './disk/evtx.ts';
import { SAMPLES, samplesMissing } from './testdata/build-dump.ts';
import { InputError } from '../../../lib/errors.ts';

const sample = (rel: string) => readFileSync(`${SAMPLES}${rel}`, 'utf8').replace(/^# [Ss]ource:.*\n/, '');
const EVTX = `${SAMPLES}evtx/plaso_test_data_evtx_System.evtx`;
const evtxMissing = samplesMissing || (spawnSync('sh', ['-c', 'command -v evtxexport']).status === 0 ? false : 'evtxexport is not installed (Debian package libevtx-utils)');

t.test('Kernel-Power 41 as pasted (msdocs #1815): bugcheck 26 = 0x1A with its parameters, record and time', { skip: samplesMissing }, async (t) => {
  const events = parseEventXml('kp41.xml', sample('events/msdocs_issue1815_kernelpower41_xml_bugcheck_0x1a.txt'));
  t.equal(events.length, 1);
  t.match(events[0], { id: 41, provider: 'Microsoft-Windows-Kernel-Power', recordId: 4730, time: '2019-10-15T01:14:02.498048100Z' });
  const c = crashEventsOf(events);
  t.same(c.kernelPower41, [{ recordId: 4730, time: '2019-10-15T01:14:02.498048100Z', bugcheckCode: 0x1a, params: ['0x3470', '0xffffa603e09df000', '0xa6e9fbc8a2515bb0', '0xa669fbc8a2515bb0'] }]);
  t.same(c.bugchecks, []);
});

t.test('the real System.evtx through evtxexport: Kernel-Power 41 twice, 6008 once, Filter Manager 6 eighteen times, no 1001', { skip: evtxMissing, timeout: 120_000 }, async (t) => {
  const c = crashEventsOf(await readEvtx(EVTX));
  t.same(c.kernelPower41.map((k) => [k.recordId, k.time?.slice(0, 23), k.bugcheckCode, k.params]), [
    [325, '2015-08-08T18:08:30.468', 0, ['0x0', '0x0', '0x0', '0x0']],
    [1046, '2015-08-25T15:40:40.453', 0, ['0x0', '0x0', '0x0', '0x0']],
  ]);
  t.equal(c.unexpectedShutdowns.length, 1);
  t.match(c.unexpectedShutdowns[0], { recordId: 1041, time: '2015-08-25T13:41:19.000000000Z', lastAliveUtc: '2015-08-25T13:34:44.796Z' });
  t.same(c.unexpectedShutdowns[0]!.strings, ['1:34:44 PM', '\u200e8/\u200e25/\u200e2015'], 'the localized strings as written, marks and all');
  t.equal(c.filterLoads.length, 18);
  t.same(c.filterLoads[0], { recordId: 71, time: '2015-06-23T06:00:48.625000000Z', filter: 'luafv', status: '0x00000000' });
  t.same([...new Set(c.filterLoads.map((f) => f.filter))].sort(), ['DfsDriver', 'DfsrRo', 'luafv']);
  t.same(c.bugchecks, [], 'the log holds no 1001');
});

t.test('event 1001 in its XML schema reads like its text: code, parameters, dump path, report id', { skip: samplesMissing }, async (t) => {
  // The strings of the dokany #126 event text (a real 1001), put where Windows puts them: param1 the
  // bugcheck, param2 the dump, param3 the report id.
  const text = sample('events/dokany_issue126_1001_bugcheck_0x50.txt');
  const m = /The bugcheck was: (.*?)\. A dump was saved in: (.*?)\. Report Id: ([0-9a-fA-F-]+)/s.exec(text.replace(/\s+/g, ' '));
  t.ok(m, 'the sample is a 1001 text');
  const xml = `<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-WER-SystemErrorReporting" EventSourceName="BugCheck"/><EventID Qualifiers="16384">1001</EventID><TimeCreated SystemTime="2016-01-01T00:00:00.000Z"/><EventRecordID>9</EventRecordID></System><EventData><Data Name="param1">${m![1]}</Data><Data Name="param2">${m![2]}</Data><Data Name="param3">${m![3]}</Data></EventData></Event>`;
  const c = crashEventsOf(parseEventXml('1001.xml', xml));
  t.equal(c.bugchecks.length, 1);
  t.match(c.bugchecks[0], { source: 'event-1001', code: 0x50, dumpPath: m![2], reportId: m![3], recordId: 9 });
  t.equal(c.bugchecks[0]!.params.length, 4);
});

t.test('bad XML is an InputError naming the source; XML without an event is no event', async (t) => {
  t.throws(() => parseEventXml('x.xml', '<Event><System><EventID>41</EventID></System></Event><<<'), InputError);
  t.same(parseEventXml('x.xml', '<Foo>1</Foo>'), []);
  t.same(parseEventXml('x.xml', '<Event><System><EventID>abc</EventID></System></Event>'), []);
  // An entity in a value is decoded once, never expanded into more.
  const [e] = parseEventXml('x.xml', '<Event><System><EventID>6</EventID><Provider Name="Microsoft-Windows-FilterManager"/></System><EventData><Data Name="DeviceName">a&amp;b</Data></EventData></Event>');
  t.equal(crashEventsOf([e!]).filterLoads[0]!.filter, 'a&b');
});

t.test('evtxexport refusing a file that is not an event log: InputError naming it', { skip: evtxMissing }, async (t) => {
  const notLog = existsSync(`${SAMPLES}dumps/triage_x64.dmp`) ? `${SAMPLES}dumps/triage_x64.dmp` : '/etc/hostname';
  await t.rejects(readEvtx(notLog), { name: 'InputError', message: /evtxexport cannot read it as an event log/ });
});

t.test('evtx: the EventID of a record found in one pass, with or without attributes', async (t) => {
  t.equal(eventIdOf('<Event><System><EventID Qualifiers="16384">7036</EventID>'), 7036);
  t.equal(eventIdOf('<EventID>41</EventID>'), 41);
  t.equal(eventIdOf('<EventIDs>41</EventIDs>'), undefined, 'another element');
  t.equal(eventIdOf('<EventID>4x</EventID>'), undefined);
  t.equal(eventIdOf(`${'<EventID\t'.repeat(20000)}I><EventID>0</EventID>`), undefined, 'the redos attack reads in one pass and is no id');
});
