// Mutated real text for the fuzz tests of every untrusted-input reader (issue #16): an arbitrary that
// takes one of the seed texts (real samples) and applies a few line-level mutations to it: insert,
// delete or duplicate lines, a long line, runs of blank lines or spaces, control characters (ESC, NUL,
// BEL, CR, U+2028), cutting the text anywhere, and random characters. Sizes stay bounded (tens of KB)
// so a fuzz file runs in seconds; bench/hostile/ grows inputs to megabytes.
import fc from 'fast-check';

export type Mutation =
  | { op: 'insert'; at: number; line: string }
  | { op: 'delete'; at: number; count: number }
  | { op: 'duplicate'; at: number; count: number; times: number }
  | { op: 'long-line'; at: number; unit: string; times: number }
  | { op: 'blank-run'; at: number; unit: string; times: number }
  | { op: 'control'; at: number; offset: number; chars: string }
  | { op: 'cut'; at: number; offset: number }
  | { op: 'random'; at: number; offset: number; text: string };

const CONTROL = ['\x1b', '\x00', '\x07', '\r', '\u2028', '\t', '\x1b[2J', '\x1b]0;title\x07', '\b', '\x7f'];
const BLANK = ['\n', '\r\n', ' \n', '\t\n', ' ', '\t', '\u00a0'];

function mutation(lineOf: fc.Arbitrary<string>): fc.Arbitrary<Mutation> {
  const at = fc.nat({ max: 10_000 });
  return fc.oneof(
    fc.record({ op: fc.constant('insert' as const), at, line: fc.oneof(lineOf, fc.string({ unit: 'binary', maxLength: 200 })) }),
    fc.record({ op: fc.constant('delete' as const), at, count: fc.integer({ min: 1, max: 20 }) }),
    fc.record({ op: fc.constant('duplicate' as const), at, count: fc.integer({ min: 1, max: 10 }), times: fc.integer({ min: 1, max: 50 }) }),
    fc.record({ op: fc.constant('long-line' as const), at, unit: fc.oneof(fc.constantFrom('x', ' ', '0', 'A', '(', '[', ':', '`', '.', 'ffff', 'Arg1: '), lineOf), times: fc.integer({ min: 100, max: 6_000 }) }),
    fc.record({ op: fc.constant('blank-run' as const), at, unit: fc.constantFrom(...BLANK), times: fc.integer({ min: 10, max: 3_000 }) }),
    fc.record({ op: fc.constant('control' as const), at, offset: fc.nat({ max: 300 }), chars: fc.constantFrom(...CONTROL) }),
    fc.record({ op: fc.constant('cut' as const), at, offset: fc.nat({ max: 300 }) }),
    fc.record({ op: fc.constant('random' as const), at, offset: fc.nat({ max: 300 }), text: fc.string({ unit: 'binary', maxLength: 64 }) }),
  );
}

/** Applies one mutation to the lines of a text (a new array; positions wrap around the length). */
export function applyMutation(lines: readonly string[], m: Mutation): string[] {
  const out = [...lines];
  const i = out.length === 0 ? 0 : m.at % out.length;
  const inLine = (offset: number): number => Math.min(offset, (out[i] ?? '').length);
  switch (m.op) {
    case 'insert':
      out.splice(i, 0, ...m.line.split('\n'));
      break;
    case 'delete':
      out.splice(i, m.count);
      break;
    case 'duplicate': {
      const block = out.slice(i, i + m.count);
      for (let k = 0; k < m.times; k++) out.splice(i, 0, ...block);
      break;
    }
    case 'long-line':
      out.splice(i, 0, m.unit.replace(/\n/g, ' ').repeat(Math.ceil(m.times / Math.max(1, m.unit.length))));
      break;
    case 'blank-run':
      out.splice(i, 0, ...m.unit.repeat(m.times).split('\n'));
      break;
    case 'control': {
      const l = out[i] ?? '';
      out[i] = l.slice(0, inLine(m.offset)) + m.chars + l.slice(inLine(m.offset));
      break;
    }
    case 'cut': {
      out.length = Math.min(out.length, i + 1);
      out[i] = (out[i] ?? '').slice(0, inLine(m.offset));
      break;
    }
    case 'random': {
      const l = out[i] ?? '';
      out[i] = l.slice(0, inLine(m.offset)) + m.text + l.slice(inLine(m.offset));
      break;
    }
  }
  return out;
}

/**
 * Text made from one of `seeds` by up to `maxMutations` mutations. The seed lines are also the pool
 * lines are inserted from, so that headers and markers from one sample turn up in another.
 */
export function mutatedText(seeds: readonly string[], maxMutations = 6): fc.Arbitrary<string> {
  if (seeds.length === 0) throw new Error('mutatedText: no seed texts');
  const allLines = seeds.flatMap((s) => s.split('\n')).filter((l) => l.trim() !== '');
  const lineOf = fc.constantFrom(...(allLines.length ? allLines : ['']));
  return fc
    .tuple(fc.constantFrom(...seeds), fc.array(mutation(lineOf), { maxLength: maxMutations }))
    .map(([seed, ms]) => ms.reduce((lines, m) => applyMutation(lines, m), seed.split('\n')).join('\n'));
}

/** What boundText must say for `text` under these bounds, computed independently: was anything cut? */
export function exceedsBounds(text: string, bounds: { maxChars: number; maxLineChars: number }): boolean {
  if (text.length > bounds.maxChars) return true;
  let start = 0;
  const kept = text.slice(0, bounds.maxChars);
  for (;;) {
    const end = kept.indexOf('\n', start);
    if ((end < 0 ? kept.length : end) - start > bounds.maxLineChars) return true;
    if (end < 0) return false;
    start = end + 1;
  }
}
