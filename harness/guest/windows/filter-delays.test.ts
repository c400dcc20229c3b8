// Reading a WPA export of the Mini-Filter Delays table (filter-delays.ts). The exports here are written
// by the tests in the shape the reader is built for; no export made on Windows is recorded, so this
// checks the reading rules (columns by name, units, groups, errors with their place), not WPA itself.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InputError } from '../../../lib/errors.ts';
import { oursIn } from '../../cell/filter-delays.ts';
import { FILTER_DELAYS_MAX_FIELD_CHARS, FILTER_DELAYS_MAX_GROUPS, readFilterDelays, readFilterDelaysFrom } from './filter-delays.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'fg-filter-delays-'));
let n = 0;
const exportFile = (text: string, name = `export-${++n}.csv`): string => {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
};

t.test('one row per callback: sums, means and percentiles per filter and major function, largest total first', async (t) => {
  const rows = ['Mini-Filter Driver,Major Function,Process,Duration (µs)'];
  for (let i = 1; i <= 100; i++) rows.push(`fgfilter.sys,IRP_MJ_CREATE,node.exe,${i}`);
  for (let i = 0; i < 10; i++) rows.push('WdFilter.sys,IRP_MJ_CREATE,node.exe,2.5');
  rows.push('fgfilter.sys,IRP_MJ_CLEANUP,node.exe,0.4');
  const d = await readFilterDelays(exportFile(`${rows.join('\r\n')}\r\n`));
  t.equal(d.rows, 111);
  t.equal(d.perEvent, true);
  t.same(d.columns, { filter: 'Mini-Filter Driver', operation: 'Major Function', delay: 'Duration (µs)', count: null });
  t.same(d.delays.map((r) => `${r.filter} ${r.operation}`), ['fgfilter.sys IRP_MJ_CREATE', 'WdFilter.sys IRP_MJ_CREATE', 'fgfilter.sys IRP_MJ_CLEANUP']);
  const create = d.delays[0]!;
  t.equal(create.count, 100);
  t.equal(create.totalUs, 5050);
  t.equal(create.meanUs, 50.5);
  const near = (x: number | undefined, want: number) => x !== undefined && Math.abs(x - want) <= 0.01 * want;
  t.ok(near(create.p50Us, 50), `p50 ${create.p50Us} within 1% of 50`);
  t.ok(near(create.p99Us, 99), `p99 ${create.p99Us} within 1% of 99`);
  t.ok(near(create.maxUs, 100), `max ${create.maxUs} within 1% of 100`);
  t.ok(near(d.delays[2]!.p50Us, 0.4), 'a callback under a microsecond keeps its time (nanoseconds inside)');
  t.same(oursIn(d, ['fgfilter']), { filter: 'fgfilter.sys', count: 101, totalUs: 5050.4, meanUs: 50.004, worstP99Us: create.p99Us });
  t.equal(oursIn(d, ['partnerflt']), null);
});

t.test('grouped rows with a count; the unit from the header; names as WPA variants write them; a BOM, quotes and grouped thousands', async (t) => {
  const d = await readFilterDelays(exportFile('\ufeff"Minifilter","Major Function Name","Count","Total Delay (ms)"\n"FGFILTER.SYS","IRP_MJ_CREATE","1,200","3.5"\n"luafv.sys","IRP_MJ_READ","10","0.25"\n'));
  t.equal(d.perEvent, false);
  t.same(d.columns, { filter: 'Minifilter', operation: 'Major Function Name', delay: 'Total Delay (ms)', count: 'Count' });
  t.same(d.delays[0], { filter: 'FGFILTER.SYS', operation: 'IRP_MJ_CREATE', count: 1200, totalUs: 3500, meanUs: 2.917 });
  t.equal(d.delays[1]!.totalUs, 250);
  t.same(oursIn(d, ['fgfilter']), { filter: 'FGFILTER.SYS', count: 1200, totalUs: 3500, meanUs: 2.917 }, 'no p99 from groups');
  const ns = await readFilterDelays(exportFile('Filter Name;Duration (ns)\nfgfilter;1500\n'), { delimiter: ';' });
  t.equal(ns.delays[0]!.totalUs, 1.5, 'nanoseconds, another delimiter; no operation column: every operation together');
  t.equal(ns.delays[0]!.operation, '*');
});

t.test('bad exports: the file, the line and what was expected', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['no filter column', 'Process,Duration (µs)\nnode.exe,3\n', /export-\d+\.csv:1: the header \("Process", "Duration \(µs\)"\) is not a Mini-Filter Delays table: expected a filter column/],
    ['no unit', 'Mini-Filter Driver,Duration\nfgfilter,3\n', /:1: .*the delay column "Duration" names no unit; expected its unit in parentheses/],
    ['an unknown unit', 'Mini-Filter Driver,Duration (ticks)\nfgfilter,3\n', /has the unit "ticks"/],
    ['a delay that is no number', 'Mini-Filter Driver,Major Function,Duration (µs)\nfgfilter,IRP_MJ_CREATE,3\nfgfilter,IRP_MJ_CREATE,n/a\n', /export-\d+\.csv:3:3: Duration \(µs\) is "n\/a"; expected a number/],
    ['a negative delay', 'Mini-Filter Driver,Duration (µs)\nfgfilter,-3\n', /:2:2: .*expected a number/],
    ['a count that is no whole number', 'Mini-Filter Driver,Count,Duration (µs)\nfgfilter,1.5,3\n', /:2:2: Count is "1.5"; expected a whole number/],
    ['an empty filter name', 'Mini-Filter Driver,Duration (µs)\n,3\n', /:2:1: Mini-Filter Driver is empty/],
    ['a header and no rows', 'Mini-Filter Driver,Duration (µs)\n', /:2: the export has a header and no rows/],
    ['an empty file', '', /the export is empty/],
    ['an unclosed quote', 'Mini-Filter Driver,Duration (µs)\n"fgfilter,3\n', /not delimited text a WPA export writes/],
  ];
  for (const [what, text, re] of cases) {
    const err = await readFilterDelays(exportFile(text)).catch((e: unknown) => e);
    t.type(err, InputError, what);
    t.match((err as Error).message, re, what);
  }
  const many = ['Mini-Filter Driver,Major Function,Duration (µs)', ...Array.from({ length: FILTER_DELAYS_MAX_GROUPS + 1 }, (_, i) => `f${i},IRP_MJ_CREATE,1`)].join('\n');
  const tooMany = await readFilterDelays(exportFile(many)).catch((e: unknown) => e);
  t.match((tooMany as Error).message, new RegExp(`:${FILTER_DELAYS_MAX_GROUPS + 2}:1: more than FILTER_DELAYS_MAX_GROUPS`), 'the pairs are bounded (docs/limits.md)');
  const long = await readFilterDelays(exportFile(`Mini-Filter Driver,Duration (µs)\n${'x'.repeat(FILTER_DELAYS_MAX_FIELD_CHARS + 1)},1\n`)).catch((e: unknown) => e);
  t.match((long as Error).message, /:2:1: Mini-Filter Driver is 1025 characters long; expected a name of at most FILTER_DELAYS_MAX_FIELD_CHARS/);
  const missing = await readFilterDelays(path.join(dir, 'nope.csv')).catch((e: unknown) => e);
  t.match((missing as Error).message, /nope\.csv: cannot read the export/);
});

t.test('several exports (a file per table of the profile): the Mini-Filter Delays one is read; none: every file and why', async (t) => {
  const other = exportFile('Process,CPU Usage (ms)\nnode.exe,12\n', 'CPU_Usage.csv');
  const delays = exportFile('Mini-Filter Driver,Duration (µs)\nfgfilter,3\n', 'Mini-Filter_Delays.csv');
  const d = await readFilterDelaysFrom([other, delays]);
  t.equal(d.source, delays);
  const lookalike = exportFile('Driver,Time (ms)\ndisk.sys,3\n', 'Disk_Delays_by_Driver.csv');
  t.equal((await readFilterDelaysFrom([lookalike, delays])).source, delays, 'another table with a Driver and a Time: the one named for Mini-Filter Delays is taken');
  const err = await readFilterDelaysFrom([other]).catch((e: unknown) => e);
  t.match((err as Error).message, /no export is a Mini-Filter Delays table: .*CPU_Usage\.csv:1: the header/);
  const none = await readFilterDelaysFrom([]).catch((e: unknown) => e);
  t.match((none as Error).message, /wpaexporter wrote no file/);
});
