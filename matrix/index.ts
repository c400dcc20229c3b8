// The matrix room's entry: read a matrix file, check it against the schema and the catalog, expand it.
import { readSource, validateOrThrow, compileSchema, pathLabel } from '../lib/source-doc.ts';
import { closest } from 'fastest-levenshtein';
import { loadCatalog, today as todayIso, type Catalog } from './catalog/catalog.ts';
import { UsageError } from '../lib/errors.ts';
import { expandMatrix, MATRIX_MAX_CELLS, type Plan } from './expand.ts';
import { AXES, matrixSchema, type RawMatrix } from './schema.ts';

export type { Cell, CellOs, DriverBuild, FilterDelaysCapture, Plan, PlanWarning } from './expand.ts';
export { parseShard, selectShard, type Shard } from './shard.ts';
export { MATRIX_MAX_CELLS } from './expand.ts';

const validateMatrix = compileSchema<RawMatrix>(matrixSchema);

export interface PlanOptions {
  catalog?: Catalog;
  today?: string;
  /** Cells a matrix may expand to (default MATRIX_MAX_CELLS, matrix/expand.ts; the `--max-cells` flag). */
  maxCells?: number;
}

export function planMatrix(file: string, opts: PlanOptions = {}): Plan {
  const src = readSource(file);
  const raw = validateOrThrow(src, validateMatrix, {
    unknownKey: (parent, key) => {
      const where = pathLabel(parent);
      if (where === 'axes') return `unknown axis "${key}"; did you mean "${closest(key, [...AXES])}"? Axes: ${AXES.join(', ')}`;
      return undefined;
    },
  });
  return expandMatrix(src, raw, {
    catalog: opts.catalog ?? loadCatalog(),
    today: opts.today ?? todayIso(),
    ...(opts.maxCells !== undefined ? { maxCells: opts.maxCells } : {}),
  });
}

/** `--max-cells N`: a whole number of at least 1 (commas and underscores allowed: 100,000). */
export function parseMaxCells(text: string): number {
  const digits = text.trim().replace(/[,_]/g, '');
  const n = /^\d{1,15}$/.test(digits) ? Number(digits) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--max-cells ${text}: expected a whole number of cells, at least 1 (default MATRIX_MAX_CELLS, ${MATRIX_MAX_CELLS.toLocaleString('en-US')})`);
  return n;
}
