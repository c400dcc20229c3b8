// Fuzz test of CVRF import (issue #16 row 7), seeded from the CVRF document in testdata/, mutated as
// text (line by line) and as data (KBs, builds and the month swapped for ones the catalog has, or
// years outside every release's life). Fixed seed, bounded sizes: an import either merges into a
// catalog that still has one month per KB and per build.UBR within each release's life, or is refused
// with an InputError naming the document; nothing else.
import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { InputError } from '../../lib/errors.ts';
import { mutatedText } from '../../lib/testdata/mutate.ts';
import { loadCatalog, UpdateIndex, type Catalog } from './catalog.ts';
import { mergeImport, parseCvrf, readCvrf } from './cvrf.ts';

const SEED = readFileSync(new URL('./testdata/cvrf-2026-Sep.json', import.meta.url), 'utf8');
const base = loadCatalog();
const clone = (c: Catalog): Catalog => {
  const releases = structuredClone(c.releases);
  return { file: c.file, releases, byName: new Map(releases.map((r) => [r.name, r])) };
};
const KNOWN_KBS = [...new Set(base.releases.flatMap((r) => r.updates.map((u) => String(u.kb))))];
const KNOWN_LEVELS = base.releases.flatMap((r) => r.updates.map((u) => `10.0.${r.build}.${u.ubr}`));

/** Refused with the document named, or merged into a catalog that holds together. */
function importOnce(text: string): 'merged' | 'refused' {
  const cat = clone(base);
  try {
    mergeImport(cat, readCvrf(parseCvrf('fuzz.json', text), cat));
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    if (e.place.file !== 'fuzz.json') throw new Error(`error names ${e.place.file}`);
    return 'refused';
  }
  // What loadCatalog checks, on the merged catalog: the index refuses no entry against the others.
  const index = new UpdateIndex();
  for (const r of cat.releases) {
    r.updates.forEach((u, j) => {
      if (j > 0 && r.updates[j - 1]!.month >= u.month) throw new Error(`${r.name}: ${u.month} out of order`);
      const why = index.refusal(r, u);
      if (why) throw new Error(`merged a contradiction: ${why}`);
      index.add(r, u);
    });
  }
  return 'merged';
}

t.test('CVRF import: mutated documents merge consistently or are refused with the file', async (t) => {
  const seen = { merged: 0, refused: 0 };
  fc.assert(fc.property(mutatedText([SEED]), (text) => void seen[importOnce(text)]++), { seed: 1616, numRuns: 400 });
  t.ok(seen.merged > 0 && seen.refused > 0, `${seen.merged} merged, ${seen.refused} refused`);
});

t.test('CVRF import: KBs, builds and months swapped for contradicting ones are refused, never merged', async (t) => {
  const seen = { merged: 0, refused: 0 };
  const swap = fc.oneof(
    fc.record({ from: fc.constantFrom('5130001', '5130002', '5130003', '5130004', '5130005'), to: fc.constantFrom(...KNOWN_KBS) }),
    fc.record({ from: fc.constantFrom('10.0.26100.9010', '10.0.26100.33410', '10.0.20348.5612', '10.0.17763.9230', '10.0.19045.7780'), to: fc.constantFrom(...KNOWN_LEVELS) }),
    fc.record({ from: fc.constant('"2026-Sep"'), to: fc.integer({ min: 1990, max: 2045 }).map((y) => `"${y}-Sep"`) }),
  );
  fc.assert(
    fc.property(fc.array(swap, { minLength: 1, maxLength: 3 }), (swaps) => {
      const text = swaps.reduce((s, w) => s.split(w.from).join(w.to), SEED);
      seen[importOnce(text)]++;
    }),
    { seed: 1616, numRuns: 300 },
  );
  t.ok(seen.merged > 0 && seen.refused > 0, `${seen.merged} merged, ${seen.refused} refused`);
});
