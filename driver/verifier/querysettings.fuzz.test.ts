// Fuzz test of the Driver Verifier text readers (/querysettings, /query, !verifier; issue #16), seeded
// from the real outputs in the shared samples and a translated hex form, mutated (lines inserted,
// deleted, duplicated, long lines, blank runs, control characters, cuts, random characters). Fixed
// seed, bounded sizes.
import t from 'tap';
import fc from 'fast-check';
import { InputError } from '../../lib/errors.ts';
import { listSamples, readSample } from '../windows/samples.ts';
import { exceedsBounds, mutatedText } from '../../lib/testdata/mutate.ts';
import { parseQuerySettings, parseVerifierExtension, parseVerifierQuery, recogniseVerifierOutput, VERIFIER_MAX_CHARS, VERIFIER_MAX_LINE_CHARS, type FlagState } from './querysettings.ts';

const TRANSLATED = [
  'Verifier-Flags: 0x000209bb',
  'Standard-Flags:',
  '[X] 0x00000001 Spezieller Pool.',
  '[ ] (0x00000004) Simulation geringer Ressourcen.',
  'Startmodus:',
  '',
  'Dauerhaft',
  'Überprüfte Treiber:',
  'fgfilter.sys',
].join('\r\n');
const seeds = [TRANSLATED, ...listSamples('verifier').map((f) => readSample('verifier', f))];
const bounds = { maxChars: VERIFIER_MAX_CHARS, maxLineChars: VERIFIER_MAX_LINE_CHARS };
const KINDS = ['querysettings-hex', 'querysettings-labels', 'query', 'debugger-extension', 'unknown'];

function checkFlags(flags: readonly FlagState[], lineCount: number): void {
  for (const f of flags) {
    if (!Number.isInteger(f.bit) || f.bit < 0 || f.bit > 0xffffffff) throw new Error(`flag bit ${f.bit}`);
    if (!Number.isInteger(f.line) || f.line < 1 || f.line > lineCount) throw new Error(`flag line ${f.line} of ${lineCount}`);
  }
}
const count = (n: number | null): void => {
  if (n !== null && (Number.isNaN(n) || n < 0)) throw new Error(`count ${n}`);
};

/** Runs a reader: its result, or null for its own InputError naming the file at line 1. */
function attempt<R>(read: () => R, file: string): R | null {
  try {
    return read();
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    if (!err.message.startsWith(`${file}:1: `)) throw new Error(`error without the file and line: ${err.message}`);
    return null;
  }
}

t.test('verifier readers: mutated real outputs never throw anything but InputError, and read well-formed', async (t) => {
  t.ok(seeds.length >= 1, `${seeds.length} seed texts`);
  const read = { settings: 0, query: 0, extension: 0, truncated: 0 };
  fc.assert(
    fc.property(mutatedText(seeds), (text) => {
      const kind = recogniseVerifierOutput(text);
      if (!KINDS.includes(kind)) throw new Error(`kind ${kind}`);
      const lineCount = text.split(/\r\n|\n|\r/).length;
      const over = exceedsBounds(text, bounds);
      const s = attempt(() => parseQuerySettings(text, 'qs.txt'), 'qs.txt');
      if (s) {
        read.settings++;
        checkFlags(s.flags, lineCount);
        count(s.enabledFlags);
        count(s.verifierFlags);
        if (s.enabledFlags !== null && s.enabledFlags > 0xffffffff) throw new Error(`enabled ${s.enabledFlags}`);
        if (s.drivers.some((d) => !/\.(sys|exe|dll)$/i.test(d))) throw new Error(`drivers ${s.drivers.join(',')}`);
        if (over !== (s.inputTruncated !== undefined) || (over && !s.warnings.includes(s.inputTruncated!.note))) throw new Error(`over the bounds: ${over}, said: ${s.inputTruncated !== undefined}`);
        if (over) read.truncated++;
      }
      const q = attempt(() => parseVerifierQuery(text, 'q.txt'), 'q.txt');
      if (q) {
        read.query++;
        checkFlags(q.flags, lineCount);
        count(q.enabledFlags);
        for (const m of q.modules) {
          count(m.loads);
          count(m.unloads);
          if (m.loaded !== m.loads > m.unloads) throw new Error(`${m.name}: loaded ${m.loaded} with ${m.loads}/${m.unloads}`);
        }
        for (const v of Object.values(q.statistics)) count(v);
        if (over !== (q.inputTruncated !== undefined)) throw new Error(`over the bounds: ${over}, said: ${q.inputTruncated !== undefined}`);
      }
      const x = attempt(() => parseVerifierExtension(text, 'x.txt'), 'x.txt');
      if (x) {
        read.extension++;
        checkFlags(x.flags, lineCount);
        count(x.enabledFlags);
        for (const o of x.outstanding) {
          count(o.allocations);
          count(o.bytes);
        }
        if (typeof x.truncated !== 'boolean') throw new Error('truncated is not a boolean');
        if (over !== (x.inputTruncated !== undefined)) throw new Error(`over the bounds: ${over}, said: ${x.inputTruncated !== undefined}`);
      }
    }),
    { seed: 1616, numRuns: 1500 },
  );
  t.ok(read.settings > 0 && read.query > 0 && read.extension > 0, `read: ${JSON.stringify(read)}`);
  t.ok(read.truncated > 0, 'some inputs were over the bounds and said so');
});

t.test('verifier readers: output over VERIFIER_MAX_CHARS is read up to it and said to be cut', async (t) => {
  const big = `${TRANSLATED}\r\n${'Verified drivers:\r\n'.repeat(Math.ceil(VERIFIER_MAX_CHARS / 19))}`;
  const s = parseQuerySettings(big, 'big.txt');
  t.equal(s.enabledFlags, 0x209bb, 'what is before the bound is read');
  t.match(s.inputTruncated, { inputChars: big.length, keptChars: VERIFIER_MAX_CHARS });
  t.match(s.warnings.at(-1), /^big\.txt output truncated: /, 'the note is among the warnings (checkSettings passes them on)');
  const long = `kd> !verifier 3 x.sys\nVerify Flags Level 0x000209bb\n${'  RaiseIrqls  '.padEnd(VERIFIER_MAX_LINE_CHARS + 10, ' ')}0x5\n`;
  t.match(parseVerifierExtension(long), { command: '!verifier 3 x.sys', inputTruncated: { longLines: 1 } });
});

t.test('verifier readers: a flag value wider than 32 bits is said, not read as a flag', async (t) => {
  const s = parseQuerySettings('[X] 0x00000001 Special pool\n[X] 0x1000000000 Wide\n', 'wide.txt');
  t.same(s.flags.map((f) => f.bit), [1]);
  t.match(s.warnings.join('\n'), /line 2: flag value 0x1000000000 is wider than 32 bits/);
});
