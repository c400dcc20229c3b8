// The contract between the scheduler (which cells run where, retries, journal, resume) and the cell
// lifecycle (what happens to one cell on one VM). The scheduler never looks inside an attempt; the
// lifecycle never decides about retries.
import type { Cell } from '../../matrix/index.ts';

/** Verdicts of ../shared/DESIGN.md. Infra errors are retried elsewhere; product failures never are. */
export const VERDICTS = [
  'pass',
  'product-crash',
  'product-hang',
  'verifier-violation',
  'boot-failure',
  'install-failure',
  'perf-regression',
  'infra-error',
  'test-error',
  'skipped',
] as const;
export type Verdict = (typeof VERDICTS)[number];

export const PRODUCT_FAILURES: readonly Verdict[] = ['product-crash', 'product-hang', 'verifier-violation', 'boot-failure', 'install-failure', 'perf-regression'];

/** The lifecycle's steps, in order (DESIGN.md "A cell's lifecycle"). */
export const STEPS = [
  'acquire', // clean VM from the image, boot, guest channel up
  'identity', // the guest's build.UBR equals the cell's patch level
  'baseline', // workloads without the driver (when the cell compares)
  'install', // driver package installed, loaded and attached
  'verifier', // verifier profile on, reboot, settings active
  'workload', // workloads with the driver, watched for crashes and hangs
  'unload', // unload and uninstall (leaks are reported here)
  'collect', // dumps, console log, event records, verifier counters
  'triage', // dump header, driver list, bucket, attribution
  'release', // verdict, VM released
] as const;
export type Step = (typeof STEPS)[number];

export interface StepRecord {
  step: Step;
  startedAt: string;
  ms: number;
  ok: boolean;
  detail?: string;
}

export interface CrashSummary {
  title: string;
  bucket: string;
  kind: string;
  module?: string;
  attribution?: 'ours' | 'other-vendor' | 'windows' | 'unknown';
  bugcheck?: { code: number; name: string; params: string[] };
  /** Path of the dump, relative to the run folder. */
  dump?: string;
  dumpBytes?: number;
}

export interface OperationLatency {
  p50Us: number;
  p99Us: number;
  baselineP50Us?: number;
  baselineP99Us?: number;
  change?: 'regressed' | 'improved' | 'no-change';
  overheadP50Us?: number;
  overheadP99Us?: number;
}

export interface AttemptResult {
  verdict: Verdict;
  /** One line saying why, for infra errors and failures. */
  reason?: string;
  crash?: CrashSummary;
  latency?: Record<string, OperationLatency>;
  steps: StepRecord[];
  /** Files of evidence, relative to the run folder. */
  evidence: string[];
  /** How the VM was started and how long it took (cold boot; warm restore later). */
  start?: { kind: 'cold' | 'warm'; ms: number; accel?: string };
  /**
   * Product failures only: the runner checked again (e.g. re-ran the workload on a fresh VM) and the
   * failure did not reproduce. The verdict stays the failure; the summary marks the cell flaky.
   */
  flaky?: boolean;
}

export interface AttemptContext {
  cell: Cell;
  /** 1-based, counting every attempt of this cell in this run (across resumes). */
  attempt: number;
  host: string;
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
