// Fuzz test of the INF reader (issue #16), seeded from the project's two INFs, mutated. Fixed seed,
// bounded sizes: parseInf either returns a parsed INF or refuses with an InputError naming the file and,
// where there is one, a line inside it; nothing else, and never a hang.
import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InputError } from '../../lib/errors.ts';
import { mutatedText } from '../../lib/testdata/mutate.ts';
import { parseInf } from './inf.ts';

const seeds = ['fgfilter/fgfilter.inf', 'partner-av/partnerav.inf'].map((p) => readFileSync(fileURLToPath(new URL(`../packages/${p}`, import.meta.url)), 'utf8'));

t.test('parseInf: mutated real INFs parse or are refused with the file and line', async (t) => {
  let parsed = 0;
  let refused = 0;
  fc.assert(
    fc.property(mutatedText(seeds), fc.boolean(), (text, asBytes) => {
      try {
        const inf = parseInf('fuzz.inf', asBytes ? new TextEncoder().encode(text) : text);
        if (!(inf.sections instanceof Map)) throw new Error('no sections map');
        parsed++;
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        if (e.place.file !== 'fuzz.inf') throw new Error(`error names ${e.place.file}`);
        const lines = text.split(/\r\n|\n|\r/).length; // as the reader counts them: a lone CR ends a line too
        if (e.place.line !== undefined && (e.place.line < 1 || e.place.line > lines)) throw new Error(`line ${e.place.line} of ${lines}`);
        refused++;
      }
    }),
    { seed: 1616, numRuns: 1500 },
  );
  t.ok(parsed > 0 && refused > 0, `${parsed} parsed, ${refused} refused`);
});
