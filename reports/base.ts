// Formatting every writer shares (Playwright's reporters/base.ts): cell titles, verdict order and
// classes, latency regressions. Pure functions of a RunFolder.
import { VERDICT_TABLE, VERDICTS } from '../runfolder/results.ts';
import type { ReportCell, ReportCoords, ReportVerdict, RunFolder } from './run-folder.ts';

/** Worst first: what a heatmap square shows when several cells fall in it (the verdict table's order). */
export const VERDICT_ORDER: readonly ReportVerdict[] = [...VERDICTS.filter((v) => v !== 'skipped' && v !== 'pass'), 'unfinished', 'skipped', 'pass'];

export function severity(v: ReportVerdict): number {
  const i = VERDICT_ORDER.indexOf(v);
  return i === -1 ? VERDICT_ORDER.length : i;
}

export function worstVerdict(vs: Iterable<ReportVerdict>): ReportVerdict | null {
  let worst: ReportVerdict | null = null;
  for (const v of vs) if (worst === null || severity(v) < severity(worst)) worst = v;
  return worst;
}

export type VerdictClass = 'passed' | 'failed' | 'broken' | 'skipped';

/** KernelCI/LAVA: infrastructure trouble is never a test failure (runfolder/results.ts VERDICT_TABLE). */
export function verdictClass(v: ReportVerdict): VerdictClass {
  return v === 'unfinished' ? 'broken' : VERDICT_TABLE[v].class;
}

export const isProductFailure = (v: ReportVerdict): boolean => verdictClass(v) === 'failed';

/** `lab 26100.2454` or just the release when it has no patch level. */
export function osLabel(c: ReportCoords): string {
  return c.patchLevel ? `${c.release} ${c.patchLevel}` : c.release;
}

export function driverLabel(c: ReportCoords): string {
  return `${c.driver} / ${c.verifier}`;
}

/** A readable, stable name from the coordinates (the id is the stable key; this is for people). */
export function cellTitle(c: ReportCoords): string {
  const parts = [osLabel(c), c.driver, `verifier=${c.verifier}`, c.workloads.join('+') || 'no-workload'];
  if (c.coexist.length) parts.push(`with ${c.coexist.join('+')}`);
  if (c.repeat !== 1) parts.push(`#${c.repeat}`);
  return parts.join(' · ');
}

export function countVerdicts(cells: readonly ReportCell[]): Array<[ReportVerdict, number]> {
  const m = new Map<ReportVerdict, number>();
  for (const c of cells) m.set(c.verdict, (m.get(c.verdict) ?? 0) + 1);
  return [...m].sort((a, b) => severity(a[0]) - severity(b[0]));
}

/** Failures first (worst verdict first), then the rest; stable within a verdict. */
export function failuresFirst(cells: readonly ReportCell[]): ReportCell[] {
  return cells
    .map((c, i) => [c, i] as const)
    .sort((a, b) => severity(a[0].verdict) - severity(b[0].verdict) || a[1] - b[1])
    .map(([c]) => c);
}

export interface LatencyRegression {
  cell: ReportCell;
  op: string;
  p50Us: number;
  p99Us: number;
  baselineP50Us: number | null;
  baselineP99Us: number | null;
  overheadP50Us: number | null;
  overheadP99Us: number | null;
}

/** Operations the run itself marked `regressed` against the cell's own no-driver baseline. */
export function latencyRegressions(folder: RunFolder): LatencyRegression[] {
  const out: LatencyRegression[] = [];
  for (const cell of folder.cells) {
    for (const [op, l] of Object.entries(cell.latency ?? {})) {
      if (l.change !== 'regressed') continue;
      out.push({
        cell,
        op,
        p50Us: l.p50Us,
        p99Us: l.p99Us,
        baselineP50Us: l.baselineP50Us ?? null,
        baselineP99Us: l.baselineP99Us ?? null,
        overheadP50Us: l.overheadP50Us ?? null,
        overheadP99Us: l.overheadP99Us ?? null,
      });
    }
  }
  return out.sort((a, b) => (b.overheadP50Us ?? 0) - (a.overheadP50Us ?? 0));
}

export interface BucketRow {
  bucket: string;
  title: string;
  count: number;
  cells: string[];
  attribution: string | null;
  /** Earliest start of a step in a cell that hit it, else the run's start. */
  firstSeen: string | null;
}

export function crashBuckets(folder: RunFolder): BucketRow[] {
  const m = new Map<string, BucketRow>();
  for (const c of folder.cells) {
    if (!c.crash) continue;
    let row = m.get(c.crash.bucket);
    if (!row) m.set(c.crash.bucket, (row = { bucket: c.crash.bucket, title: c.crash.title, count: 0, cells: [], attribution: c.crash.attribution ?? null, firstSeen: null }));
    row.count++;
    row.cells.push(c.id);
    const t = firstFailure(c);
    const seen = t !== null ? new Date(t).toISOString() : folder.started;
    if (seen && (row.firstSeen === null || seen < row.firstSeen)) row.firstSeen = seen;
  }
  return [...m.values()].sort((a, b) => b.count - a.count || a.bucket.localeCompare(b.bucket));
}

/** When the failing step of the deciding attempt ended (the crash was seen then). */
function firstFailure(c: ReportCell): number | null {
  for (const a of c.attempts) {
    const bad = a.steps.find((s) => s.ok === false);
    if (bad) return bad.stop ?? bad.start;
  }
  return null;
}

export const fmtUs = (us: number | null | undefined): string => (us === null || us === undefined ? '–' : `${Math.round(us).toLocaleString('en-US')} µs`);
export const fmtSignedUs = (us: number | null | undefined): string => (us === null || us === undefined ? '–' : `${us >= 0 ? '+' : '−'}${Math.round(Math.abs(us)).toLocaleString('en-US')} µs`);
