// Expected verdicts: a file naming, per cell id, the verdict a run must give (matrix/lab.expected.json
// for the lab demo). CI runs the README's main job and holds its run to that file; any difference
// (a cell with another verdict, a cell missing from the run, a cell the file does not know) fails.
import { InputError } from '../lib/errors.ts';
import { compileSchema, errorAt, readSource, validateOrThrow } from '../lib/source-doc.ts';
import { VERDICTS } from '../runfolder/results.ts';
import { cellTitle } from './base.ts';
import type { RunFolder } from './run-folder.ts';

export type ExpectedVerdicts = Record<string, string>;

const schema = {
  type: 'object',
  minProperties: 1,
  propertyNames: { pattern: '^[0-9a-f]{12}$' },
  additionalProperties: { type: 'string', enum: [...VERDICTS] },
} as const;
const validate = compileSchema<ExpectedVerdicts>(schema);

/** Reads an expected-verdicts file; errors name the file, line and column. */
export function loadExpected(file: string): ExpectedVerdicts {
  const src = readSource(file);
  if (!src.value || typeof src.value !== 'object' || Array.isArray(src.value)) {
    throw new InputError({ file, line: 1 }, 'expected an object of cell id (12 hex digits) → verdict');
  }
  for (const key of Object.keys(src.value)) {
    if (!/^[0-9a-f]{12}$/.test(key)) throw errorAt(src, [key], `"${key}" is not a cell id; expected 12 hex digits (as \`fleetgate plan\` prints them)`, { key: true });
  }
  return validateOrThrow(src, validate, {});
}

export interface VerdictDifference {
  id: string;
  title: string | null;
  expected: string | null;
  got: string | null;
}

/** Every cell whose verdict differs from the file's, and the cells only one side has. */
export function compareVerdicts(run: RunFolder, expected: ExpectedVerdicts): VerdictDifference[] {
  const out: VerdictDifference[] = [];
  const byId = new Map(run.cells.map((c) => [c.id, c]));
  for (const [id, verdict] of Object.entries(expected)) {
    const c = byId.get(id);
    if (!c) out.push({ id, title: null, expected: verdict, got: null });
    else if (c.verdict !== verdict) out.push({ id, title: cellTitle(c.coords), expected: verdict, got: c.verdict });
  }
  for (const c of run.cells) if (!(c.id in expected)) out.push({ id: c.id, title: cellTitle(c.coords), expected: null, got: c.verdict });
  return out;
}

export function formatDifferences(diffs: readonly VerdictDifference[], total: number): string {
  if (diffs.length === 0) return `every one of ${total} cells has its expected verdict`;
  const lines = diffs.map((d) => {
    const what = d.got === null ? `not in the run (expected ${d.expected})` : d.expected === null ? `${d.got}, but the file expects nothing of this cell` : `${d.got}, expected ${d.expected}`;
    return `  ${d.id}${d.title ? ` ${d.title}` : ''}: ${what}`;
  });
  return `${diffs.length} cell(s) differ from the expected verdicts:\n${lines.join('\n')}`;
}
