// Hostile-input group: the matrix room's readers (issue #16 rows 3, 4, 7 and 12): matrix YAML loading
// and expansion, the structured-input reader under it (lib/source-doc.ts), and CVRF import. Each
// reader's cases are its real inputs (the project's matrices, the catalog, the CVRF test document)
// grown to the size asked in ways the reader must take apart (more exclude rules, more updates, more
// vulnerabilities), a fuzz corpus (the inputs mutated as the fuzz tests do, fixed seed) grown the same
// way, and the rows' own hostile inputs: the 76.8M-cell cross product, alias bombs, thousands of
// schema errors or includes, deep nesting.
//
// Run directly (`node --import tsx bench/hostile/matrix.ts`) it prints the rows' inputs at their size
// and larger, in milliseconds.
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseDocument } from 'yaml';
import type { BenchReader, HostileCase, IssueRow } from './types.ts';
import { asText, fuzz, grow, KB, medianMs, printRow, repeatTo } from './inputs.ts';
import { aliasBomb } from '../../lib/testdata/yaml-bomb.ts';
import { mutatedText } from '../../lib/testdata/mutate.ts';
import { compileSchema, parseSource, validateOrThrow } from '../../lib/source-doc.ts';
import { loadCatalog, type Catalog } from '../../matrix/catalog/catalog.ts';
import { mergeImport, parseCvrf, readCvrf } from '../../matrix/catalog/cvrf.ts';
import { planMatrix } from '../../matrix/index.ts';
import { matrixSchema } from '../../matrix/schema.ts';

const read = (rel: string): string => readFileSync(new URL(rel, import.meta.url), 'utf8');
const MATRICES = ['lab', 'nightly', 'release-gate', 'vendor-signoff', 'windows-demo'].map((name) => ({ name, text: read(`../../matrix/${name}.yaml`) }));
const CATALOG_TEXT = read('../../matrix/catalog/windows.json');
const CVRF_TEXT = read('../../matrix/catalog/testdata/cvrf-2026-Sep.json');
const catalog = loadCatalog();
const RELEASES8 = catalog.releases.map((r) => r.name);

// ---- matrix: planMatrix reads a file; each input is written to one in a scratch folder
const dir = mkdtempSync(join(tmpdir(), 'fg-bench-matrix-'));
mkdirSync(join(dir, 'pkg'));
const file = join(dir, 'bench.yaml');
function plan(text: string): unknown {
  writeFileSync(file, text);
  return planMatrix(file, { catalog, today: '2026-11-27' }).cells.length;
}

/** A real matrix with exclude rules added (none matches a cell: each is checked and warned about) to about `kb` KB. */
function withRules(text: string, kb: number): string {
  const rules: Array<{ os: string; repeat: number }> = [];
  for (let i = 0, size = text.length; size < kb * KB; i++) {
    rules.push({ os: RELEASES8[i % RELEASES8.length]!, repeat: 1000 + i });
    size += 36;
  }
  try {
    const doc = parseDocument(text);
    if (!doc.has('exclude')) doc.set('exclude', []);
    for (const r of rules) doc.addIn(['exclude'], doc.createNode(r, { flow: true }));
    return String(doc);
  } catch {
    // A mutated matrix that is no mapping, or whose exclude is no list: the rules as text after it.
    return `${text}\nexclude:\n${rules.map((r) => `  - { os: ${r.os}, repeat: ${r.repeat} }`).join('\n')}\n`;
  }
}

/** The generated cross product of issue #16 row 3: os 8 x driver 40 x verifier 12 x workloads 20 x repeat 1000. */
const ROW3 = `axes:
  os: [${RELEASES8.join(', ')}]
  driver: [${Array.from({ length: 40 }, (_, i) => `{ name: d${i}, path: pkg }`).join(', ')}]
  verifier: [${Array(12).fill('none').join(', ')}]
  workloads: [${Array(20).fill('[file-storm]').join(', ')}]
  repeat: 1000
`;

/** The classic alias bomb: 9 levels of 9 aliases. */
const BOMB = aliasBomb();

/** A replacer numbering each match: names made unique, deterministically. */
const numbered = (): (() => string) => {
  let n = 0;
  return () => String(++n);
};

const matrixCases: HostileCase[] = [
  ...MATRICES.map((m) => ({ label: `sample ${m.name}.yaml + exclude rules`, make: (kb: number) => withRules(m.text, kb) })),
  ...fc.sample(mutatedText(MATRICES.map((m) => m.text)), { seed: 1616, numRuns: 6 }).map((text, i) => ({ label: `fuzz corpus #${i} + exclude rules`, make: (kb: number) => withRules(text, kb) })),
  ...fuzz(MATRICES.map((m) => m.text)),
  { label: 'row 3: 76.8M-cell cross product, then comments', make: (kb) => repeatTo('# padding\n', kb, ROW3) },
  { label: 'row 3: driver axis grown', make: (kb) => `axes:\n  os: [win11-24h2]\n  driver:\n${repeatTo('  - { name: dNNN, path: pkg }\n', kb).replace(/NNN/g, numbered())}` },
  { label: 'row 4: alias bomb, then comments', make: (kb) => repeatTo('# padding\n', kb, BOMB) },
  { label: 'row 4: ordinary aliases', make: (kb) => `x: &d { name: cand, path: pkg }\naxes:\n  os: [win11-24h2]\n  driver: [{ name: cand, path: pkg }]\ntags:\n${repeatTo('  - *d\n', kb)}` },
  { label: 'row 12: includes tagging one cell', make: (kb) => `axes:\n  os: [server-2022]\n  driver: [{ name: d, path: pkg }]\ninclude:\n${repeatTo('  - { os: server-2022, tags: [t] }\n', kb)}` },
  { label: 'row 12: unknown top-level keys (schema errors)', make: (kb) => repeatTo('kNNN: 1\n', kb, 'axes: { os: [lab], driver: [{ name: d, path: pkg }] }\n').replace(/NNN/g, numbered()) },
  { label: 'deep flow nesting', make: (kb) => `${'['.repeat((kb * KB) / 2)}${']'.repeat((kb * KB) / 2)}` },
  { label: 'one long line of spaces', make: (kb) => `axes:${' '.repeat(kb * KB)}x\n` },
];

// ---- source-doc: parse with positions, then the matrix schema's errors placed in the text
const validateMatrix = compileSchema(matrixSchema);
const sourceCases: HostileCase[] = [
  { label: 'sample windows.json, updates grown', make: (kb) => growJsonList(CATALOG_TEXT, (d) => (d as { releases: Array<{ updates: unknown[] }> }).releases[0]!.updates, kb) },
  { label: 'sample cvrf-2026-Sep.json, vulnerabilities grown', make: (kb) => growJsonList(CVRF_TEXT, (d) => (d as { Vulnerability: unknown[] }).Vulnerability, kb) },
  ...MATRICES.slice(0, 3).map((m) => ({ label: `sample ${m.name}.yaml + exclude rules`, make: (kb: number) => withRules(m.text, kb) })),
  ...fuzz([...MATRICES.map((m) => m.text), CATALOG_TEXT, CVRF_TEXT]),
  { label: 'row 12: errors in list items', make: (kb) => `axes:\n  os: [lab]\n  driver:\n${repeatTo('  - { name: d, path: ., bogus: 1 }\n', kb)}` },
  { label: 'row 12: unknown keys of one mapping', make: (kb) => repeatTo('kNNN: 1\n', kb).replace(/NNN/g, numbered()) },
  { label: 'row 12: one key written many times', make: (kb) => repeatTo('k: 1\n', kb) },
  { label: 'row 4: alias bomb, then comments', make: (kb) => repeatTo('# padding\n', kb, BOMB) },
  { label: 'row 4: aliases of one anchor', make: (kb) => `x: &d { name: cand, path: pkg }\nlist:\n${repeatTo('  - *d\n', kb)}` },
  { label: 'deep block nesting', make: (kb) => { let s = ''; for (let i = 0; s.length < kb * KB; i++) s += `${' '.repeat(i % 400)}- \n`; return s; } },
  { label: 'deep flow nesting', make: (kb) => `${'{a: '.repeat((kb * KB) / 8)}1${'}'.repeat((kb * KB) / 8)}` },
];

/** A JSON document with one of its lists repeated to about `kb` KB. */
function growJsonList(text: string, list: (doc: unknown) => unknown[], kb: number): string {
  const doc = JSON.parse(text) as unknown;
  const items = list(doc);
  // Sized by the indented text of one copy of the list (whole items: cutting would break the JSON).
  const unit = JSON.stringify(items, null, 1).length;
  const copies = Math.max(1, Math.ceil((kb * KB - text.length) / Math.max(unit, 1)));
  const grown = Array.from({ length: copies }, () => items).flat();
  items.length = 0;
  for (const x of grown) items.push(x);
  return JSON.stringify(doc, null, 1);
}

// ---- CVRF import: plain JSON, the catalog's checks, the merge into a copy of the catalog
const clone = (c: Catalog): Catalog => {
  const releases = structuredClone(c.releases);
  return { file: c.file, releases, byName: new Map(releases.map((r) => [r.name, r])) };
};
const KNOWN_KBS = [...new Set(catalog.releases.flatMap((r) => r.updates.map((u) => String(u.kb))))];
const swapped = fc.sample(
  fc.tuple(fc.constantFrom('5130001', '5130002', '5130003', '5130004', '5130005'), fc.constantFrom(...KNOWN_KBS), fc.integer({ min: 1990, max: 2045 })),
  { seed: 1616, numRuns: 4 },
).map(([from, to, year]) => CVRF_TEXT.split(from).join(to).replace('"2026-Sep"', `"${year}-Sep"`));
const growVulns = (text: string, kb: number): string => growJsonList(text, (d) => (d as { Vulnerability: unknown[] }).Vulnerability, kb);
const manyProducts = (kb: number): string => {
  const doc = JSON.parse(CVRF_TEXT) as { ProductTree: { FullProductName: Array<{ ProductID: string; Value: string }> }; Vulnerability: Array<{ Remediations: Array<{ ProductID: string[] }> }> };
  const n = Math.ceil((kb * KB) / 90);
  for (let i = 0; i < n; i++) doc.ProductTree.FullProductName.push({ ProductID: `9${i}`, Value: `Windows 10 Version 1${i} for x64-based Systems` });
  doc.Vulnerability[0]!.Remediations[0]!.ProductID.push(...Array.from({ length: n }, (_, i) => `9${i}`));
  return JSON.stringify(doc);
};
const cvrfCases: HostileCase[] = [
  { label: 'sample cvrf-2026-Sep.json, vulnerabilities grown', make: (kb) => growVulns(CVRF_TEXT, kb) },
  ...swapped.map((text, i) => ({ label: `fuzz corpus (KB and month swapped) #${i}, grown`, make: (kb: number) => growVulns(text, kb) })),
  ...fuzz([CVRF_TEXT]),
  { label: 'many unmatched products on one remediation', make: manyProducts },
  { label: 'deep array nesting', make: (kb) => `${'['.repeat((kb * KB) / 2)}${']'.repeat((kb * KB) / 2)}` },
  { label: 'one long string', make: (kb) => `{"DocumentTitle": {"Value": "${'x'.repeat(kb * KB)}"}}` },
  { label: 'cut in the middle', make: (kb) => growVulns(CVRF_TEXT, kb).slice(0, (kb * KB) / 2) },
];

const cvrfImport = (text: string): unknown => {
  const cat = clone(catalog);
  return mergeImport(cat, readCvrf(parseCvrf('bench.json', text), cat));
};

export const rows: IssueRow[] = [
  { label: 'row 3: the 76.8M-cell matrix (was 4.7 GB, V8 abort after 130 s)', input: ROW3, read: plan },
  { label: 'row 4: alias bomb (was an internal error, exit 70)', input: BOMB, read: plan },
];

export const readers: BenchReader[] = [
  { name: 'matrix YAML load + expansion (matrix/index.ts planMatrix)', cases: matrixCases, read: (input) => plan(asText(input)) },
  {
    name: 'structured input with positions + schema errors (lib/source-doc.ts parseSource, validateOrThrow)',
    cases: sourceCases,
    read: (input) => validateOrThrow(parseSource('bench.yaml', asText(input)), validateMatrix),
  },
  { name: 'CVRF import (matrix/catalog/cvrf.ts parseCvrf, readCvrf, mergeImport)', cases: cvrfCases, read: (input) => cvrfImport(asText(input)) },
];

// Run directly: the rows' own inputs, at their size and grown, in milliseconds.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log('issue #16 rows 3, 4, 7, 12 (matrix room): median of 5');
  printRow('row 3: 76.8M-cell matrix, plan', ROW3, medianMs(() => plan(ROW3)));
  printRow('row 4: alias bomb, plan', BOMB, medianMs(() => plan(BOMB)));
  const errors20k = `axes:\n  os: [lab]\n  driver:\n${'  - { name: d, path: ., bogus: 1 }\n'.repeat(20_000)}`;
  printRow('row 12: 20k schema errors, plan', errors20k, medianMs(() => plan(errors20k)));
  const includes20k = `axes:\n  os: [server-2022]\n  driver: [{ name: d, path: pkg }]\ninclude:\n${Array.from({ length: 20_000 }, (_, i) => `  - { os: server-2022, tags: [t${i}] }\n`).join('')}`;
  printRow('row 12: 20k includes (refused by count), plan', includes20k, medianMs(() => plan(includes20k)));
  writeFileSync(file, includes20k);
  printRow('row 12: 20k includes, plan --max-cells 1000000', includes20k, medianMs(() => planMatrix(file, { catalog, today: '2026-11-27', maxCells: 1_000_000 })));
  const big = growVulns(CVRF_TEXT, 18 * KB);
  printRow('row 7: 18 MB CVRF document, import', big, medianMs(() => cvrfImport(big)));
  console.log(`  peak resident memory of this run: ${(process.resourceUsage().maxRSS / KB).toFixed(0)} MB (was 1.56 GB for the 18 MB document alone)`);
}
