// Fuzz test of the event 1001 and Hyper-V 18590 readers (issue #16), seeded from the real event texts
// in the shared samples and the documented formats (§4, §5), mutated. Fixed seed, bounded sizes.
import t from 'tap';
import fc from 'fast-check';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { EVENT_TEXT_MAX_CHARS, EVENT_TEXT_MAX_LINE_CHARS, parseBugcheckEvent1001, parseHyperVEvent18590, type BugcheckEventRecord } from './events.ts';
import { SAMPLES } from './testdata/build-dump.ts';
import { exceedsBounds, mutatedText } from '../../../lib/testdata/mutate.ts';

const DOC_1001 =
  'The computer has rebooted from a bugcheck.  The bugcheck was: 0x0000003b (0x00000000c0000002, 0xfffff8073772810a, 0xffffd4014d9ff1c0, 0x0000000000000000). A dump was saved in: C:\\Windows\\MEMORY.DMP. Report Id: 3f1c2a8e-1b2c-4d5e-8f90-123456789abc.';
const DOC_18590 =
  "'win11-cell-7' has encountered a fatal error.  The guest operating system reported that it failed with the following error codes: ErrorCode0: 0xD1, ErrorCode1: 0xFFFFE609207FD050, ErrorCode2: 0x2, ErrorCode3: 0x0, ErrorCode4: 0xFFFFF80156F612D0.  If the problem persists, contact Product Support for the guest operating system.  (Virtual machine ID 5C0F4C25-0000-0000-0000-000000000000)";
const dir = `${SAMPLES}events/`;
const seeds = [DOC_1001, DOC_18590, ...(existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.txt')).sort().map((f) => readFileSync(dir + f, 'utf8')) : [])];
const bounds = { maxChars: EVENT_TEXT_MAX_CHARS, maxLineChars: EVENT_TEXT_MAX_LINE_CHARS };
const HEX = /^0x[0-9a-f]+$/;

function wellFormed(text: string, r: BugcheckEventRecord | null): void {
  if (r === null) return;
  if (!Number.isInteger(r.code) || r.code < 0 || r.code > 0xffffffff) throw new Error(`code ${r.code}`);
  if (r.params.length > 4 && r.source === 'hyperv-18590') throw new Error(`${r.params.length} params`);
  for (const p of r.params) if (!HEX.test(p)) throw new Error(`param ${JSON.stringify(p)}`);
  for (const v of [r.dumpPath, r.reportId, r.vmName]) if (v !== undefined && typeof v !== 'string') throw new Error('field not a string');
  if (r.dumpPath !== undefined && /[\n\r\u2028\u2029]/.test(r.dumpPath)) throw new Error('a dump path across lines');
  const over = exceedsBounds(text, bounds);
  if (over !== (r.truncated !== undefined)) throw new Error(`over the bounds: ${over}, truncation reported: ${r.truncated !== undefined}`);
}

t.test('event readers: mutated real texts never throw and read well-formed', async (t) => {
  let found1001 = 0;
  let found18590 = 0;
  fc.assert(
    fc.property(mutatedText(seeds), (text) => {
      const a = parseBugcheckEvent1001(text);
      const b = parseHyperVEvent18590(text);
      wellFormed(text, a);
      wellFormed(text, b);
      if (a) found1001++;
      if (b) found18590++;
    }),
    { seed: 1616, numRuns: 2000 },
  );
  t.ok(found1001 > 0 && found18590 > 0, `${found1001} read as event 1001, ${found18590} as event 18590`);
});

t.test('event readers: text over EVENT_TEXT_MAX_CHARS is read up to it and said to be cut', async (t) => {
  const big = `${DOC_1001}\n${'x'.repeat(100)}\n`.repeat(Math.ceil(EVENT_TEXT_MAX_CHARS / 200) + 10);
  const r = parseBugcheckEvent1001(big);
  t.equal(r?.code, 0x3b);
  t.match(r?.truncated, { inputChars: big.length, keptChars: EVENT_TEXT_MAX_CHARS });
  t.match(r?.truncated?.note, /^event 1001 text truncated/);
  const long = `${DOC_18590} ${'y'.repeat(EVENT_TEXT_MAX_LINE_CHARS)}`;
  t.match(parseHyperVEvent18590(long), { code: 0xd1, truncated: { longLines: 1 } }, 'a line over EVENT_TEXT_MAX_LINE_CHARS is cut and said so');
});

t.test('event 1001: the banner and the dump path are found in one pass over hostile repeats', async (t) => {
  // Each was quadratic as a regular expression: many markers with no closing parenthesis, many
  // "A dump was saved in:" with no dot after them.
  const noClose = 'The bugcheck was:0x0('.repeat(2000);
  t.equal(parseBugcheckEvent1001(noClose), null);
  const noDot = `${DOC_1001.replace(/A dump was saved in:.*$/, '')}${'A dump was saved in:'.repeat(2000)}`;
  t.match(parseBugcheckEvent1001(noDot), { code: 0x3b, dumpPath: undefined });
  t.equal(parseBugcheckEvent1001(`${DOC_1001.replace('C:\\Windows\\MEMORY.DMP. Report', 'C:\\Windows\\MEMORY.DMP.   \n  Report')}`)?.dumpPath, 'C:\\Windows\\MEMORY.DMP', 'spaces and a line end before "Report Id:"');
  t.equal(parseBugcheckEvent1001(`${DOC_1001.replace(/ Report Id:.*$/, '  \n')}`)?.dumpPath, 'C:\\Windows\\MEMORY.DMP', 'the path ends the text');
  t.equal(parseBugcheckEvent1001('The bugcheck was:\n  0x0000009f (0x3, 0x0, 0x0, 0x0)')?.code, 0x9f, 'spaces and a line end before the code');
  t.equal(parseBugcheckEvent1001('The bugcheck was: 0x00000000000000009f (0x3)'), null, 'more than 16 digits is not a code');
});
