// Stable cell ids: a hash of the cell's coordinates only (never of paths, dates or the machine), so the
// same cell has the same id in tomorrow's run, on another controller, and in another matrix file.
import { createHash } from 'node:crypto';

export interface CellCoordinates {
  os: { release: string; build: number | null; ubr: number | null };
  driver: string;
  upgradeFrom: string | null;
  verifier: string;
  workloads: readonly string[];
  coexist: readonly string[];
  repeat: number;
}

/** Version of the coordinate encoding: bump it only with a migration for stored history. */
const ID_VERSION = 1;
export const CELL_ID_LENGTH = 12;

export function cellId(c: CellCoordinates): string {
  // A fixed field order is the canonical form; JSON.stringify keeps insertion order.
  const canonical = JSON.stringify([
    ID_VERSION,
    c.os.release,
    c.os.build,
    c.os.ubr,
    c.driver,
    c.upgradeFrom,
    c.verifier,
    c.workloads,
    c.coexist,
    c.repeat,
  ]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, CELL_ID_LENGTH);
}
