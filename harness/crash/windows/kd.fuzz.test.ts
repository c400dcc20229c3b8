// Fuzz test of the `!analyze -v` reader and the check `triage` runs on every text file (issue #16),
// seeded from the real debugger outputs in the shared samples and a text written from the documented
// keys (§6), mutated (lines inserted, deleted, duplicated, long lines, blank runs, control characters,
// cuts, random characters). Fixed seed, bounded sizes: the same inputs every run.
import t from 'tap';
import fc from 'fast-check';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { InputError } from '../../../lib/errors.ts';
import { KD_MAX_CHARS, KD_MAX_LINE_CHARS, looksLikeKdAnalysis, parseKdAnalysis } from './kd.ts';
import { SAMPLES } from './testdata/build-dump.ts';
import { exceedsBounds, mutatedText } from '../../../lib/testdata/mutate.ts';

const DOCUMENTED = [
  'DRIVER_VERIFIER_DETECTED_VIOLATION (c4)',
  'A device driver attempting to corrupt the system has been caught.',
  'Arguments:',
  'Arg1: 0000000000000062, A driver has forgotten to free its pool allocations prior to unloading.',
  'Arg2: ffffd407b3ac53a0, name of the driver having the issue.',
  'Arg3: ffffd407b3ccbee0, verifier internal structure with driver information.',
  'Arg4: 0000000000000003, total # of (paged+nonpaged) allocations that weren\'t freed.',
  '',
  'KEY_VALUES_STRING: 1',
  '    Key  : Failure.Bucket',
  '    Value: 0xc4_62_LEAKED_POOL_IMAGE_myfilter.sys',
  'BUGCHECK_CODE:  c4',
  'BUGCHECK_P1: 62',
  'STACK_TEXT:  ',
  'ffff8a01`a4b5e6f8 fffff803`4a8a3a5d     : 00000000`00000050 fffff780`00001000 00000000`00000000 ffff8a01`a4b5e970 : nt!KeBugCheckEx',
  '... : myfilter!FilterUnload+0x2a [c:\\src\\filter.c @ 120]',
  '',
  'SYMBOL_NAME:  myfilter!FilterUnload+2a',
  'FAULTING_MODULE: fffff80612340000 myfilter',
  'FAILURE_BUCKET_ID:  0xc4_62_LEAKED_POOL_IMAGE_myfilter.sys',
  '*** Fatal System Error: 0x000000c4 (0x0000000000000062,0xFFFFD407B3AC53A0,0xFFFFD407B3CCBEE0,0x0000000000000003)',
].join('\n');

const dir = `${SAMPLES}kd/`;
const seeds = [DOCUMENTED, ...(existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.txt')).sort().map((f) => readFileSync(dir + f, 'utf8')) : [])];
const HEX = /^0x[0-9a-f]+$/;
const bounds = { maxChars: KD_MAX_CHARS, maxLineChars: KD_MAX_LINE_CHARS };

t.test('kd reader: mutated real outputs never throw anything but InputError, and read well-formed', async (t) => {
  t.ok(seeds.length >= 2 || !existsSync(dir), `${seeds.length} seed texts`);
  let read = 0;
  let refused = 0;
  let cutReported = 0;
  fc.assert(
    fc.property(mutatedText(seeds), (text) => {
      t.type(looksLikeKdAnalysis(text), 'boolean');
      let a;
      try {
        a = parseKdAnalysis(text, 'fuzz.txt');
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        if (!/^fuzz\.txt:1: /.test(err.message)) throw new Error(`error without the file and line: ${err.message}`);
        refused++;
        return;
      }
      read++;
      const lineCount = text.split('\n').length;
      if (!Number.isInteger(a.bugcheck.code) || a.bugcheck.code < 0 || a.bugcheck.code > 0xffffffff) throw new Error(`code ${a.bugcheck.code}`);
      if (typeof a.bugcheck.name !== 'string' || a.bugcheck.name === '') throw new Error('no bugcheck name');
      for (const p of [...a.bugcheck.params, ...a.args.map((x) => x.value)]) if (!HEX.test(p)) throw new Error(`param ${JSON.stringify(p)}`);
      for (const f of a.frames) {
        if (!Number.isInteger(f.line) || f.line < 1 || f.line > lineCount) throw new Error(`frame line ${f.line} of ${lineCount}`);
        if (!f.module && !f.childSp) throw new Error(`frame at line ${f.line} has neither a module nor an address`);
        for (const v of [f.childSp, f.returnAddress, f.offset]) if (v !== undefined && !HEX.test(v)) throw new Error(`frame value ${JSON.stringify(v)}`);
      }
      if (a.build !== undefined && (!Number.isInteger(a.build) || a.build < 0)) throw new Error(`build ${a.build}`);
      if (typeof a.cut !== 'boolean') throw new Error('cut is not a boolean');
      const over = exceedsBounds(text, bounds);
      if (over !== (a.truncated !== undefined)) throw new Error(`over the bounds: ${over}, truncation reported: ${a.truncated !== undefined}`);
      if (a.truncated) cutReported++;
    }),
    { seed: 1616, numRuns: 1500 },
  );
  t.ok(read > 0 && refused > 0, `${read} read, ${refused} refused with an InputError, ${cutReported} with a truncation reported`);
  t.ok(cutReported > 0, 'some inputs had lines over KD_MAX_LINE_CHARS and said so');
});

t.test('kd reader: input over KD_MAX_CHARS is read up to it and said to be cut', async (t) => {
  const text = `${DOCUMENTED}\n${'0: kd> lm\n'.repeat(Math.ceil(KD_MAX_CHARS / 10))}`;
  const a = parseKdAnalysis(text, 'big.txt');
  t.equal(a.bugcheck.code, 0xc4, 'what is before the bound is read');
  t.match(a.truncated, { inputChars: text.length, keptChars: KD_MAX_CHARS, longLines: 0 });
  t.match(a.truncated?.note, /^kd output big\.txt truncated: /);
  const beyond = `${'\n'.repeat(KD_MAX_CHARS)}${DOCUMENTED}`;
  t.notOk(looksLikeKdAnalysis(beyond), 'detection looks where the reader reads');
  t.throws(() => parseKdAnalysis(beyond, 'beyond.txt'), { name: 'InputError', message: /^beyond\.txt:1: no bugcheck code found.*in the part read: kd output beyond\.txt truncated/ }, 'the refusal says the text was cut');
});

t.test('kd reader: ESC, NUL and BEL in the text do not break it', async (t) => {
  const text = DOCUMENTED.replace('MODULE: fffff80612340000 myfilter', 'MODULE: fffff80612340000 my\x1b[31mfil\x00ter\x07');
  const a = parseKdAnalysis(text);
  t.equal(a.bugcheck.code, 0xc4);
  t.equal(a.module, 'my\x1b[31mfil\x00ter\x07', 'read as it is (the sinks neutralise it)');
});
