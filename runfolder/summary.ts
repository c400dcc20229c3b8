// summary.json: what a run found, built from the journal alone (a fold over its events), so a report
// can be made again from a run folder, and a killed run still has a useful summary. Also the one
// place that turns a run's state into its outcome and exit code.
import { EXIT } from '../lib/errors.ts';
import { PRODUCT_FAILURES, VERDICT_TABLE, VERDICTS, type AttemptResult, type Verdict } from './results.ts';
import { readJournal, replay, type CellCoords, type ConflictingEnd, type RunOutcomeKind, type RunState, type VerdictCounts } from './journal.ts';
import { writeJsonAtomic } from './run-json.ts';

export interface RunOutcome {
  runId: string;
  runDir: string;
  outcome: RunOutcomeKind;
  exitCode: number;
  counts: VerdictCounts;
  /** Cells of this run (the shard), finished or not. */
  cells: number;
  stopped: 'sigint' | 'inconclusive' | null;
  summaryFile: string;
}

export interface SummaryAttempt {
  attempt: number;
  host: string;
  slot: number;
  /** `abandoned`: the controller died during the attempt (found on resume); not a result. */
  verdict: Verdict | 'abandoned' | 'running';
  ms: number | null;
  reason?: string;
  interrupted?: boolean;
}

export interface SummaryCell {
  id: string;
  coords: Record<string, unknown>;
  /** null while the cell has no final verdict (run interrupted or stopped before it). */
  verdict: Verdict | null;
  /** Attempt numbers used, abandoned ones included. */
  attempts: number;
  flaky?: boolean;
  /** Why flaky: the runner's own re-check did not reproduce it, or another repeat of it passed. */
  flakyWhy?: string;
  reason?: string;
  crash?: { title: string; bucket: string; bugcheck?: unknown; dump?: string; kind?: string; module?: string; attribution?: string };
  latency?: AttemptResult['latency'];
  /** How the latency was measured (absent in runs before #17). */
  measurement?: AttemptResult['measurement'];
  installed?: AttemptResult['installed'];
  evidence: string[];
  start?: AttemptResult['start'];
  unfinished?: 'not-started' | 'interrupted';
  attemptLog: SummaryAttempt[];
}

export interface SummaryJson {
  run: {
    id: string | null;
    matrix: RunState['matrix'];
    started: string | null;
    ended: string | null;
    /** `incomplete`: the run has not ended (it is running, or its controller died). */
    outcome: RunOutcomeKind | 'incomplete';
    exitCode: number | null;
    stopped: 'sigint' | 'inconclusive' | null;
    counts: VerdictCounts;
    hosts: Array<{ name: string; attempts: number; infraErrors: number; quarantined?: string }>;
    tools: unknown;
    resumes: number;
    mergedFrom?: string[];
    cleanup: string[];
    /** Cells with a second cell-end of another verdict (issue #16 row 11); absent when none. */
    conflictingCellEnds?: ConflictingEnd[];
    /** cell-end records for a cell that already had one, conflicting or not; absent when none. */
    duplicateCellEnds?: number;
  };
  cells: SummaryCell[];
}

const isProductFailure = (v: Verdict | null): boolean => v !== null && PRODUCT_FAILURES.includes(v);

export function verdictCounts(s: RunState): VerdictCounts {
  const counts: VerdictCounts = {};
  for (const c of s.cells.values()) {
    const k = c.end ? c.end.verdict : 'unfinished';
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

/**
 * The outcome and exit code (lib/errors.ts EXIT): interrupted 130; a product failure found 1 (even
 * when the run stopped as inconclusive: infrastructure trouble never hides a found crash);
 * infrastructure or a broken test kept a cell from a verdict 2; every cell passed (or skipped) 0.
 */
export function outcomeOf(s: RunState): { outcome: RunOutcomeKind; exitCode: number; counts: VerdictCounts } {
  const counts = verdictCounts(s);
  if (s.stopped === 'sigint') return { outcome: 'interrupted', exitCode: EXIT.interrupted, counts };
  let product = false;
  let noVerdict = s.stopped === 'inconclusive';
  for (const c of s.cells.values()) {
    const v = c.end?.verdict ?? null;
    if (isProductFailure(v)) product = true;
    else if (v === null || VERDICT_TABLE[v].run === 'inconclusive') noVerdict = true;
  }
  if (product) return { outcome: 'failed', exitCode: EXIT.productFailure, counts };
  if (noVerdict) return { outcome: 'inconclusive', exitCode: EXIT.inconclusive, counts };
  return { outcome: 'passed', exitCode: EXIT.ok, counts };
}

/** Cells that differ only in their repeat index. */
function repeatKey(c: CellCoords | undefined): string | null {
  if (!c) return null;
  const { id: _id, repeat: _repeat, tags: _tags, ...rest } = c;
  return JSON.stringify(rest);
}

function coordsOf(c: CellCoords | undefined): Record<string, unknown> {
  if (!c) return {};
  const { id: _id, ...rest } = c;
  return rest;
}

export function buildSummary(s: RunState): SummaryJson {
  // A failure whose other repeats passed did not repeat: flaky (and still a failure).
  const passedRepeats = new Map<string, number[]>();
  for (const c of s.cells.values()) {
    const key = repeatKey(s.coords.get(c.id));
    if (key !== null && c.end?.verdict === 'pass') {
      const list = passedRepeats.get(key) ?? [];
      list.push(Number(s.coords.get(c.id)?.repeat ?? 0));
      passedRepeats.set(key, list);
    }
  }

  const hostStats = new Map<string, { attempts: number; infraErrors: number }>();
  for (const h of s.hosts) hostStats.set(h, { attempts: 0, infraErrors: 0 });

  const cells: SummaryCell[] = [];
  for (const id of s.order) {
    const c = s.cells.get(id)!;
    const coords = s.coords.get(id);
    const attempts = [...c.attempts].sort((a, b) => a.attempt - b.attempt);
    const attemptLog: SummaryAttempt[] = attempts.map((a) => {
      const st = hostStats.get(a.host) ?? { attempts: 0, infraErrors: 0 };
      hostStats.set(a.host, st);
      st.attempts++;
      if (a.result?.verdict === 'infra-error') st.infraErrors++;
      return {
        attempt: a.attempt,
        host: a.host,
        slot: a.slot,
        verdict: a.abandoned ? 'abandoned' : (a.result?.verdict ?? 'running'),
        ms: a.ms,
        ...(a.result?.reason ? { reason: a.result.reason } : {}),
        ...(a.interrupted ? { interrupted: true } : {}),
      };
    });
    const evidence = [...new Set(attempts.flatMap((a) => a.result?.evidence ?? []))];
    const cell: SummaryCell = { id, coords: coordsOf(coords), verdict: c.end?.verdict ?? null, attempts: c.maxAttempt, evidence, attemptLog };
    const decided = c.end?.decidedBy != null ? attempts.find((a) => a.attempt === c.end!.decidedBy)?.result : undefined;
    if (c.end) {
      if (c.end.reason) cell.reason = c.end.reason;
      if (c.end.flaky) {
        cell.flaky = true;
        cell.flakyWhy = 'did not reproduce when the runner checked again';
      } else if (isProductFailure(c.end.verdict)) {
        const key = repeatKey(coords);
        const mine = Number(coords?.repeat ?? 0);
        const passed = key !== null ? passedRepeats.get(key)?.filter((r) => r !== mine) : undefined;
        if (passed?.length) {
          cell.flaky = true;
          cell.flakyWhy = `repeat ${passed.sort((a, b) => a - b).join(', ')} of the same cell passed`;
        }
      }
    } else {
      cell.unfinished = attempts.some((a) => a.interrupted) ? 'interrupted' : 'not-started';
    }
    if (decided?.crash) {
      const k = decided.crash;
      cell.crash = {
        title: k.title,
        bucket: k.bucket,
        kind: k.kind,
        ...(k.bugcheck ? { bugcheck: { ...k.bugcheck, codeHex: `0x${k.bugcheck.code.toString(16).toUpperCase()}` } } : {}),
        ...(k.dump ? { dump: k.dump } : {}),
        ...(k.module ? { module: k.module } : {}),
        ...(k.attribution ? { attribution: k.attribution } : {}),
      };
    }
    if (decided?.latency) cell.latency = decided.latency;
    if (decided?.measurement) cell.measurement = decided.measurement;
    if (decided?.installed) cell.installed = decided.installed;
    if (decided?.start) cell.start = decided.start;
    cells.push(cell);
  }

  const o = s.end ? { outcome: s.end.outcome, exitCode: s.end.exitCode } : { outcome: 'incomplete' as const, exitCode: null };
  return {
    run: {
      id: s.runId,
      matrix: s.matrix,
      started: s.began,
      ended: s.end?.at ?? null,
      outcome: o.outcome,
      exitCode: o.exitCode,
      stopped: s.stopped,
      counts: sortCounts(verdictCounts(s)),
      hosts: [...hostStats].map(([name, st]) => ({ name, ...st, ...(s.quarantined.has(name) ? { quarantined: s.quarantined.get(name)! } : {}) })),
      tools: s.options?.tools ?? null,
      resumes: s.resumes,
      ...(s.merged.length ? { mergedFrom: s.merged } : {}),
      cleanup: s.cleanups,
      ...(s.conflictingEnds.length ? { conflictingCellEnds: s.conflictingEnds.map((c) => ({ ...c })) } : {}),
      ...(s.duplicateEnds ? { duplicateCellEnds: s.duplicateEnds } : {}),
    },
    cells,
  };
}

function sortCounts(c: VerdictCounts): VerdictCounts {
  const out: VerdictCounts = {};
  for (const v of [...VERDICTS, 'unfinished'] as const) if (c[v]) out[v] = c[v];
  return out;
}

export function summaryFromJournal(file: string): SummaryJson {
  return buildSummary(replay(readJournal(file).events));
}

export function writeSummary(file: string, summary: SummaryJson): void {
  writeJsonAtomic(file, summary);
}
