// The matrix room's entry: read a matrix file, check it against the schema and the catalog, expand it.
import { readSource, validateOrThrow, compileSchema, pathLabel } from '../lib/source-doc.ts';
import { closest } from 'fastest-levenshtein';
import { loadCatalog, today as todayIso, type Catalog } from './catalog/catalog.ts';
import { expandMatrix, type Plan } from './expand.ts';
import { AXES, matrixSchema, type RawMatrix } from './schema.ts';

export type { Cell, CellOs, DriverBuild, Plan, PlanWarning } from './expand.ts';
export { parseShard, selectShard, type Shard } from './shard.ts';

const validateMatrix = compileSchema<RawMatrix>(matrixSchema);

export interface PlanOptions {
  catalog?: Catalog;
  today?: string;
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
  return expandMatrix(src, raw, { catalog: opts.catalog ?? loadCatalog(), today: opts.today ?? todayIso() });
}
