// Fuzz test of the structured-input reader (issue #16 rows 4 and 12), seeded from real files (the
// matrices, the catalog, the CVRF test document), mutated line by line; and generated anchor/alias
// graphs. Fixed seed, bounded sizes: parseSource either returns a value or refuses with an InputError
// naming the file and a line inside it; nothing else, and aliases never expand past their bound.
import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { InputError } from './errors.ts';
import { mutatedText } from './testdata/mutate.ts';
import { parseSource, YAML_MAX_ALIAS_NODES } from './source-doc.ts';

const SEEDS = [
  '../matrix/lab.yaml', '../matrix/nightly.yaml', '../matrix/release-gate.yaml', '../matrix/vendor-signoff.yaml',
  '../matrix/catalog/windows.json', '../matrix/catalog/testdata/cvrf-2026-Sep.json',
].map((p) => readFileSync(new URL(p, import.meta.url), 'utf8'));

function check(file: string, text: string): 'parsed' | 'refused' {
  try {
    parseSource(file, text);
    return 'parsed';
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    if (e.place.file !== file) throw new Error(`error names ${e.place.file}`);
    const lines = text.split(/\r\n|\n|\r|\u2028|\u2029/).length + 1;
    if (e.place.line !== undefined && (e.place.line < 0 || e.place.line > lines)) throw new Error(`line ${e.place.line} of ${lines}`);
    return 'refused';
  }
}

t.test('parseSource: mutated real YAML and JSON parse or are refused with file and line', async (t) => {
  const seen = { parsed: 0, refused: 0 };
  fc.assert(fc.property(mutatedText(SEEDS), (text) => void seen[check('fuzz.yaml', text)]++), { seed: 1616, numRuns: 600 });
  t.ok(seen.parsed > 0 && seen.refused > 0, `${seen.parsed} parsed, ${seen.refused} refused`);
});

/** Nodes of a plain value with shared parts counted at each use (what a consumer walks). */
function expandedNodes(v: unknown, cap: number): number {
  let n = 0;
  const stack = [v];
  while (stack.length > 0 && n <= cap) {
    const x = stack.pop();
    n++;
    if (x && typeof x === 'object') for (const c of Object.values(x)) stack.push(c);
  }
  return n;
}

t.test('parseSource: generated anchors and aliases load within YAML_MAX_ALIAS_NODES or are refused at an alias', async (t) => {
  const seen = { parsed: 0, refused: 0 };
  // Each line anchors a list of aliases to one of the few anchors just before it (or scalars): fan-out
  // and depth at random, so some graphs are bombs and some are not.
  const graph = fc.array(fc.array(fc.oneof(fc.nat({ max: 40 }), fc.constant(-1)), { minLength: 1, maxLength: 12, size: 'medium' }), { minLength: 1, maxLength: 40, size: 'medium' });
  fc.assert(
    fc.property(graph, fc.boolean(), (rows, flow) => {
      const lines = rows.map((refs, i) => {
        const items = refs.map((r) => (r < 0 || i === 0 ? 'x' : `*a${i - 1 - (r % Math.min(i, 3))}`));
        return flow ? `k${i}: &a${i} [${items.join(', ')}]` : `k${i}: &a${i}\n${items.map((x) => `  - ${x}`).join('\n')}`;
      });
      const text = `${lines.join('\n')}\n`;
      const r = check('alias.yaml', text);
      seen[r]++;
      if (r === 'parsed') {
        const nodes = expandedNodes(parseSource('alias.yaml', text).value, 10 * YAML_MAX_ALIAS_NODES);
        if (nodes > YAML_MAX_ALIAS_NODES + text.length) throw new Error(`${nodes} nodes loaded`);
      }
    }),
    { seed: 1616, numRuns: 400 },
  );
  t.ok(seen.parsed > 0 && seen.refused > 0, `${seen.parsed} parsed, ${seen.refused} refused`);
});
