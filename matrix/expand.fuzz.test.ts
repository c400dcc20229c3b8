// Fuzz test of matrix loading and expansion (issue #16 rows 3 and 4), seeded from the project's real
// matrices, mutated line by line, plus generated axis sizes around MATRIX_MAX_CELLS. Fixed seed,
// bounded sizes: planMatrix either returns a plan of at most MATRIX_MAX_CELLS cells or refuses with
// an InputError naming the matrix file; nothing else (no internal error, no runaway expansion).
import t from 'tap';
import fc from 'fast-check';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { InputError } from '../lib/errors.ts';
import { mutatedText } from '../lib/testdata/mutate.ts';
import { loadCatalog } from './catalog/catalog.ts';
import { MATRIX_MAX_CELLS, planMatrix } from './index.ts';

const SEEDS = ['lab', 'nightly', 'release-gate', 'vendor-signoff', 'windows-demo'].map((f) => readFileSync(new URL(`./${f}.yaml`, import.meta.url), 'utf8'));
const catalog = loadCatalog();
const dir = mkdtempSync(join(tmpdir(), 'fg-matrix-fuzz-'));
mkdirSync(join(dir, 'pkg'));
let n = 0;

function plan(text: string, maxCells?: number): { cells: number } | InputError {
  const file = join(dir, `m${++n}.yaml`);
  writeFileSync(file, text);
  try {
    return { cells: planMatrix(file, { catalog, today: '2026-11-27', ...(maxCells !== undefined ? { maxCells } : {}) }).cells.length };
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    if (e.place.file !== file) throw new Error(`error names ${e.place.file}, not the matrix`);
    return e;
  }
}

t.test('planMatrix: mutated real matrices plan or are refused with the file', async (t) => {
  let planned = 0;
  let refused = 0;
  fc.assert(
    fc.property(mutatedText(SEEDS), (text) => {
      const r = plan(text);
      if (r instanceof InputError) refused++;
      else {
        if (r.cells > MATRIX_MAX_CELLS) throw new Error(`${r.cells} cells`);
        planned++;
      }
    }),
    { seed: 1616, numRuns: 300 },
  );
  t.ok(planned > 0 && refused > 0, `${planned} planned, ${refused} refused`);
});

t.test('planMatrix: generated axis sizes are refused exactly when their product passes the limit', async (t) => {
  const releases = ['win10-22h2', 'win11-23h2', 'win11-24h2', 'server-2019', 'server-2022', 'server-2025'];
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 5000 }),
      (os, drivers, verifiers, repeat, maxCells) => {
        const text = `axes:\n  os: [${releases.slice(0, os).join(', ')}]\n  driver: [${Array.from({ length: drivers }, (_, i) => `{ name: d${i}, path: pkg }`).join(', ')}]\n  verifier: [${Array(verifiers).fill('none').join(', ')}]\n  repeat: ${repeat}\n`;
        const count = os * drivers * verifiers * repeat;
        const r = plan(text, maxCells);
        if (count > maxCells) {
          if (!(r instanceof InputError) || !r.message.includes(`= ${count.toLocaleString('en-US')} cell`)) throw new Error(`${count} > ${maxCells} not refused: ${String(r instanceof InputError ? r.message : r.cells)}`);
        } else if (r instanceof InputError) throw r;
        else if (r.cells !== count) throw new Error(`${r.cells} cells, expected ${count}`);
      },
    ),
    { seed: 1616, numRuns: 150 },
  );
  t.pass('refusal and plans agree with the product of the axes');
});
