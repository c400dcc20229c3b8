// Formatting every writer shares (Playwright's reporters/base.ts): cell titles, verdict order and
// classes, latency regressions. Pure functions of a RunFolder.
import { VERDICT_TABLE, VERDICTS, type OperationLatency } from '../runfolder/results.ts';
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

// ---- what a pass means: the smallest p50 overhead a cell could have detected (issue #17) ----------

/**
 * Detectable overhead per unit of the 95% interval's half-width. Normal approximation: with the
 * interval ±1.96·se, an overhead is told from zero with 80% power (two-sided 5%) once it is
 * (z_.975 + z_.80)·se = (1.96 + 0.84)/1.96 × half-width. The rounds' own figure (a t-based one,
 * workloads/rounds.ts) is preferred when the run recorded it.
 */
export const DETECTABLE_PER_HALF_WIDTH = (1.959964 + 0.841621) / 1.959964;

export interface StepDetectable {
  us: number;
  /** `rounds`: the run's own figure; `interval`: from the recorded 95% interval of the p50 overhead. */
  from: 'rounds' | 'interval';
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** `rounds` and `judged` are newer, optional fields; summary text is untrusted, so read defensively. */
function roundsDetectableP50(l: OperationLatency): number | null {
  const v = (l as { rounds?: { p50?: { detectableUs?: unknown } } }).rounds?.p50?.detectableUs;
  return finite(v) && v >= 0 ? v : null;
}

export type JudgedOutcome = 'within' | 'over' | 'undecided';

/** The cell's own budget's judgement of a step, when the run recorded one. */
export function judgedOutcome(l: OperationLatency): JudgedOutcome | null {
  const j = (l as { judged?: { outcome?: unknown } }).judged;
  if (!j || typeof j !== 'object') return null;
  const o = j.outcome;
  return o === 'within' || o === 'over' || o === 'undecided' ? o : null;
}

/** The smallest p50 overhead this step's measurement would have told from zero, or null when unknown. */
export function stepDetectableP50(l: OperationLatency): StepDetectable | null {
  if (!l || typeof l !== 'object') return null;
  const r = roundsDetectableP50(l);
  if (r !== null) return { us: r, from: 'rounds' };
  const ci = l.overheadP50CiUs;
  if (Array.isArray(ci) && ci.length === 2 && finite(ci[0]) && finite(ci[1]) && ci[0] <= ci[1]) return { us: ((ci[1] - ci[0]) / 2) * DETECTABLE_PER_HALF_WIDTH, from: 'interval' };
  return null;
}

export interface CellDetectable extends StepDetectable {
  /** The step the figure is from (the worst one). */
  op: string;
  /** True when the cell recorded its budget's judgement and only the judged steps were counted. */
  judgedOnly: boolean;
  /** Steps that gave a figure. */
  steps: number;
  /** Steps counted that gave none (the worst over the others may then not be the cell's worst). */
  missing: string[];
}

/**
 * A cell's smallest detectable p50 overhead: the worst (largest) over its judged steps when the run
 * recorded the budget's judgement, else over every recorded step. Null when no step has a figure.
 */
export function cellDetectableP50(cell: Pick<ReportCell, 'latency'>): CellDetectable | null {
  const steps = Object.entries(cell.latency ?? {}).filter(([, l]) => l && typeof l === 'object');
  const judged = steps.filter(([, l]) => judgedOutcome(l) !== null);
  const counted = judged.length ? judged : steps;
  let worst: CellDetectable | null = null;
  const missing: string[] = [];
  let n = 0;
  for (const [op, l] of counted) {
    const d = stepDetectableP50(l);
    if (!d) {
      missing.push(op);
      continue;
    }
    n++;
    if (!worst || d.us > worst.us) worst = { ...d, op, judgedOnly: judged.length > 0, steps: 0, missing };
  }
  return worst ? { ...worst, steps: n, missing } : null;
}

/** `would have detected ≥ 12 µs on open p50` (the figure a pass stands on). */
export function detectableText(d: CellDetectable): string {
  return `would have detected ≥ ${fmtUs(d.us)} on ${d.op} p50`;
}

// ---- latency regressions -------------------------------------------------------------------

export interface LatencyRegression {
  cell: ReportCell;
  op: string;
  /** `regression`: a step of a perf-regression cell; `undecided`: of a latency-inconclusive cell. */
  kind: 'regression' | 'undecided';
  p50Us: number;
  p99Us: number;
  baselineP50Us: number | null;
  baselineP99Us: number | null;
  overheadP50Us: number | null;
  overheadP99Us: number | null;
}

/**
 * Steps the cell itself judged a latency regression (or, as `undecided`, could not clear). A `pass`
 * cell has none by its own judgement, whatever the comparison's `change` says (the good build's
 * noise is not a regression). Within a perf-regression or latency-inconclusive cell: when the run
 * recorded the budget's judgement, the steps judged `over` (resp. `undecided`); in runs from before
 * it, the steps the comparison marked `regressed`.
 */
export function latencyRegressions(folder: RunFolder): LatencyRegression[] {
  const out: LatencyRegression[] = [];
  for (const cell of folder.cells) {
    const kind = cell.verdict === 'perf-regression' ? 'regression' : cell.verdict === 'latency-inconclusive' ? 'undecided' : null;
    if (!kind) continue;
    const steps = Object.entries(cell.latency ?? {}).filter(([, l]) => l && typeof l === 'object');
    const hasJudged = steps.some(([, l]) => judgedOutcome(l) !== null);
    for (const [op, l] of steps) {
      const listed = hasJudged ? judgedOutcome(l) === (kind === 'regression' ? 'over' : 'undecided') : l.change === 'regressed';
      if (!listed) continue;
      out.push({
        cell,
        op,
        kind,
        p50Us: l.p50Us,
        p99Us: l.p99Us,
        baselineP50Us: l.baselineP50Us ?? null,
        baselineP99Us: l.baselineP99Us ?? null,
        overheadP50Us: l.overheadP50Us ?? null,
        overheadP99Us: l.overheadP99Us ?? null,
      });
    }
  }
  return out.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'regression' ? -1 : 1) || (b.overheadP50Us ?? 0) - (a.overheadP50Us ?? 0));
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
