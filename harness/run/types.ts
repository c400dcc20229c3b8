// The contract between the scheduler (which cells run where, retries, journal, resume) and the cell
// lifecycle (what happens to one cell on one VM). The scheduler never looks inside an attempt; the
// lifecycle never decides about retries.
import type { Cell } from '../../matrix/index.ts';
import type { AttemptResult, Step } from '../../runfolder/results.ts';
import type { HostSpec } from './hosts.ts';

export interface AttemptContext {
  cell: Cell;
  /** 1-based, counting every attempt of this cell in this run (across resumes). */
  attempt: number;
  /** The host's name (hostSpec.name). */
  host: string;
  /** The host the attempt was placed on: its provider is the one the lifecycle starts the VM with. */
  hostSpec: HostSpec;
  slot: number;
  /** The attempt's own folder (cells/<id>/attempt-<n>/), created by the scheduler. */
  attemptDir: string;
  runDir: string;
  /** Aborted on SIGINT: end the attempt cleanly (the VM is released) and return what is known. */
  signal: AbortSignal;
  /** Appends a lifecycle event to the journal (flushed before it returns). */
  emit: (event: LifecycleEvent) => void;
}

export type LifecycleEvent =
  | { type: 'step-begin'; step: Step }
  | { type: 'step-end'; step: Step; ms: number; ok: boolean; detail?: string }
  | { type: 'note'; message: string };

/** Runs one attempt of one cell; never throws for a cell failure (returns an infra-error instead). */
export type CellRunner = (ctx: AttemptContext) => Promise<AttemptResult>;
