// Progress as plain lines, one per event, no ANSI: for CI logs and pipes. Every kind of line has its
// formatter in one table typed over the event union, so a new event does not compile until it has
// a line.
import { escapeControls } from '../../../lib/printable.ts';
import type { RunOutcome } from '../../../runfolder/summary.ts';
import {
  cellLabel, formatMs, glyphOf, type AttemptEndInfo, type AttemptInfo, type CellEndInfo, type HostQuarantinedInfo, type Reporter,
  type RunBeginInfo, type StepInfo,
} from './reporter.ts';

export type LineEvent =
  | { kind: 'run-begin'; info: RunBeginInfo }
  | { kind: 'attempt-begin'; info: AttemptInfo }
  | { kind: 'step'; info: StepInfo }
  | { kind: 'attempt-end'; info: AttemptEndInfo }
  | { kind: 'cell-end'; info: CellEndInfo; done: number; total: number }
  | { kind: 'host-quarantined'; info: HostQuarantinedInfo }
  | { kind: 'notice'; message: string }
  | { kind: 'run-end'; outcome: RunOutcome }
  | { kind: 'reporter-error'; hook: string; error: unknown };

type LineFormatters = { [K in LineEvent['kind']]: (e: Extract<LineEvent, { kind: K }>) => string | null };

const where = (i: AttemptInfo): string => `${i.host}/${i.slot}`;

export const LINE_FORMATTERS: LineFormatters = {
  'run-begin': ({ info: i }) =>
    `run ${i.runId} ${i.resumed ? 'resumed' : 'begins'}: matrix ${i.matrix}, ${i.total} cells${i.alreadyDone ? ` (${i.alreadyDone} already done)` : ''}, ` +
    `hosts ${i.hosts.map((h) => `${h.name}×${h.slots}`).join(', ')}; folder ${i.runDir}`,
  'attempt-begin': ({ info: i }) => `start  ${cellLabel(i.cell)} attempt ${i.attempt} on ${where(i)}`,
  // Steps are in the journal; a line each would drown a CI log. Only failed steps are shown.
  step: ({ info: i }) => (i.event.type === 'step-end' && !i.event.ok ? `step   ${i.cell.id} ${i.event.step} failed${i.event.detail ? `: ${i.event.detail}` : ''}` : null),
  'attempt-end': ({ info: i }) =>
    i.result.verdict === 'infra-error'
      ? `infra  ${i.cell.id} attempt ${i.attempt} on ${where(i)}: ${i.result.reason ?? 'infra error'}${i.willRetry ? ' (retrying elsewhere)' : ''}`
      : null,
  'cell-end': ({ info: i, done, total }) =>
    `[${done}/${total}] ${glyphOf(i.verdict, i.flaky)} ${i.verdict}${i.flaky ? ' (flaky)' : ''} ${cellLabel(i.cell)} in ${formatMs(i.ms)}` +
    `${i.attempts > 1 ? ` after ${i.attempts} attempts` : ''}${i.reason && i.verdict !== 'pass' ? `: ${i.reason}` : ''}`,
  'host-quarantined': ({ info: i }) => `host   ${i.host} quarantined for the rest of the run: ${i.reason}`,
  notice: ({ message }) => `note   ${message}`,
  'run-end': ({ outcome: o }) =>
    `run ${o.runId} ${o.outcome} (exit ${o.exitCode}): ${Object.entries(o.counts).map(([k, n]) => `${k} ${n}`).join(', ') || 'no cells'}; summary ${o.summaryFile}`,
  'reporter-error': ({ hook, error }) => `note   a reporter failed in ${hook}: ${error instanceof Error ? error.message : String(error)}`,
};

/**
 * The line for one event. Reasons and details carry guest text (a console's panic message, a script's
 * stderr): controls are escaped visibly here, where every progress line is made (#16 row 8), so a
 * guest cannot move the cursor of the terminal or the CI log, and one event stays one line.
 */
export function formatLine(e: LineEvent): string | null {
  const line = (LINE_FORMATTERS[e.kind] as (e: LineEvent) => string | null)(e);
  return line === null ? null : escapeControls(line);
}

export class LineReporter implements Reporter {
  readonly #write: (text: string) => void;
  #done = 0;
  #total = 0;

  constructor(write: (text: string) => void) {
    this.#write = write;
  }

  #emit(e: LineEvent): void {
    const line = formatLine(e);
    if (line !== null) this.#write(`${line}\n`);
  }

  onRunBegin(info: RunBeginInfo): void {
    this.#done = info.alreadyDone;
    this.#total = info.total;
    this.#emit({ kind: 'run-begin', info });
  }
  onAttemptBegin(info: AttemptInfo): void {
    this.#emit({ kind: 'attempt-begin', info });
  }
  onStep(info: StepInfo): void {
    this.#emit({ kind: 'step', info });
  }
  onAttemptEnd(info: AttemptEndInfo): void {
    this.#emit({ kind: 'attempt-end', info });
  }
  onCellEnd(info: CellEndInfo): void {
    this.#done++;
    this.#emit({ kind: 'cell-end', info, done: this.#done, total: this.#total });
  }
  onHostQuarantined(info: HostQuarantinedInfo): void {
    this.#emit({ kind: 'host-quarantined', info });
  }
  onNotice(message: string): void {
    this.#emit({ kind: 'notice', message });
  }
  onRunEnd(outcome: RunOutcome): void {
    this.#emit({ kind: 'run-end', outcome });
  }
  onReporterError(error: unknown, hook: string): void {
    this.#emit({ kind: 'reporter-error', hook, error });
  }
}
