// What a run tells the people watching it, like Playwright's reporters: every hook is optional, and a
// multiplexer (multiplexer.ts) calls many reporters so one that throws never stops the run. Reporters
// only watch; the journal is the record.
import type { Cell } from '../../../matrix/index.ts';
import type { HostSpec } from '../hosts.ts';
import type { RunOutcome } from '../../../runfolder/summary.ts';
import { VERDICT_TABLE, VERDICTS, type AttemptResult, type Verdict } from '../../../runfolder/results.ts';
import type { LifecycleEvent } from '../types.ts';

export interface RunBeginInfo {
  runId: string;
  runDir: string;
  matrix: string;
  /** Every cell of the run (the shard), finished ones included. */
  total: number;
  /** Cells already final before this process started (a resume). */
  alreadyDone: number;
  /** Product failures among them. */
  alreadyFailed: number;
  resumed: boolean;
  hosts: readonly HostSpec[];
}

export interface AttemptInfo {
  cell: Cell;
  attempt: number;
  host: string;
  slot: number;
}

export interface StepInfo extends AttemptInfo {
  event: LifecycleEvent;
}

export interface AttemptEndInfo extends AttemptInfo {
  result: AttemptResult;
  ms: number;
  /** The cell goes back in the queue for another slot (an infra error with retries left). */
  willRetry: boolean;
}

export interface CellEndInfo {
  cell: Cell;
  verdict: Verdict;
  attempts: number;
  flaky: boolean;
  reason?: string;
  /** Wall time of this cell's attempts in this process. */
  ms: number;
}

export interface HostQuarantinedInfo {
  host: string;
  reason: string;
}

export interface Reporter {
  onRunBegin?(info: RunBeginInfo): void;
  onAttemptBegin?(info: AttemptInfo): void;
  onStep?(info: StepInfo): void;
  onAttemptEnd?(info: AttemptEndInfo): void;
  onCellEnd?(info: CellEndInfo): void;
  onHostQuarantined?(info: HostQuarantinedInfo): void;
  /** The cleanup hook removed leftovers of dead controllers, or the run stopped scheduling. */
  onNotice?(message: string): void;
  onRunEnd?(outcome: RunOutcome): void;
  /** Called by the multiplexer when another reporter threw. */
  onReporterError?(error: unknown, hook: string): void;
}

export type ReporterHook = Exclude<keyof Reporter, 'onReporterError'>;

/** One glyph per verdict, like Playwright's dot reporter: the run reads at a glance. */
export const VERDICT_GLYPH: Record<Verdict, string> = Object.fromEntries(VERDICTS.map((v) => [v, VERDICT_TABLE[v].glyph])) as Record<Verdict, string>;
export const FLAKY_GLYPH = '±';

export function glyphOf(verdict: Verdict, flaky: boolean): string {
  return flaky ? FLAKY_GLYPH : VERDICT_GLYPH[verdict];
}

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** A short label for a cell in progress output: id and the coordinates that tell cells apart. */
export function cellLabel(c: Cell): string {
  const parts = [c.os.release + (c.os.patchLevel ? `@${c.os.patchLevel}` : ''), c.driver, c.verifier, c.workloads.join('+')];
  if (c.coexist.length) parts.push(`with ${c.coexist.join('+')}`);
  if (c.repeat > 1) parts.push(`#${c.repeat}`);
  return `${c.id} ${parts.join(' ')}`;
}
