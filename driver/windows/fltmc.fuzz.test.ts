// Fuzz test of the fltmc readers (issue #16), seeded from the real listings in shared/samples/fltmc,
// mutated (lib/testdata/mutate.ts). Fixed seed, bounded sizes: a reader either returns
// well-formed rows, with the cut reported exactly when the text was past its bounds, or refuses with its
// own error (FltmcError for fltmc's error lines, InputError); nothing else, and never a hang.
import t from 'tap';
import fc from 'fast-check';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FleetgateError } from '../../lib/errors.ts';
import { exceedsBounds, mutatedText } from '../../lib/testdata/mutate.ts';
import { FLTMC_MAX_CHARS, FLTMC_MAX_LINE_CHARS, FltmcError, findFltmcError, readFltmcFilters, readFltmcInstances, type FltmcRead } from './fltmc.ts';

const dir = fileURLToPath(new URL('../../../shared/samples/fltmc/', import.meta.url));
const seeds = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.txt')).sort().map((f) => readFileSync(dir + f, 'utf8')) : [];
const bounds = { maxChars: FLTMC_MAX_CHARS, maxLineChars: FLTMC_MAX_LINE_CHARS };
const NEWLINE = /[\n\r\u2028\u2029]/;

function check<T extends { line: number }>(text: string, read: () => FltmcRead<T>, fields: (row: T) => string[]): 'rows' | 'refused' {
  let r: FltmcRead<T>;
  try {
    r = read();
  } catch (e) {
    if (e instanceof FltmcError || e instanceof FleetgateError) return 'refused';
    throw e;
  }
  const lines = text.split(/\r\n|\n|\r/).length; // as the reader counts them: a lone CR ends a line too
  for (const row of r.rows) {
    if (!Number.isInteger(row.line) || row.line < 1 || row.line > lines) throw new Error(`row line ${row.line} of ${lines}`);
    for (const f of fields(row)) if (typeof f !== 'string' || NEWLINE.test(f)) throw new Error(`field ${JSON.stringify(f)}`);
  }
  if (exceedsBounds(text, bounds) !== (r.truncated !== null)) throw new Error(`past the bounds: ${exceedsBounds(text, bounds)}, cut reported: ${r.truncated !== null}`);
  return 'rows';
}

t.test('fltmc readers: mutated real listings give well-formed rows or the reader\'s own refusal', { skip: seeds.length ? false : 'no shared samples' }, async (t) => {
  const seen = { filters: 0, instances: 0, errors: 0, refused: 0 };
  fc.assert(
    fc.property(mutatedText(seeds), (text) => {
      if (check(text, () => readFltmcFilters(text), (f) => [f.name, f.altitude, f.frame]) === 'refused') seen.refused++;
      else seen.filters++;
      check(text, () => readFltmcInstances(text), (i) => [i.filter, i.volume, i.altitude, ...(i.instance === null ? [] : [i.instance])]);
      const err = findFltmcError(text);
      if (err) {
        seen.errors++;
        if (!(err instanceof FltmcError)) throw new Error('findFltmcError returned something else');
      }
      seen.instances++;
    }),
    { seed: 1616, numRuns: 1500 },
  );
  t.ok(seen.filters > 0 && seen.errors > 0, `read ${seen.filters} as listings, found ${seen.errors} error lines, ${seen.refused} refused`);
});
