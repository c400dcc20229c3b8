// Runs one step: untimed prepare, warm-up iterations (the first of the same sequence, not recorded),
// then the recorded phase, counting errors and stopping once they reach the step's limit.
import { LatencyRecorder, round3 } from './histogram.ts';
import { makeOperation, type Operation, type OperationContext } from './operations.ts';
import type { ErrorSample, StepResult, StepSpec } from './protocol.ts';

/** Per worker: read buffer for `read`. */
const SCRATCH_BYTES = 64 * 1024;
/** Distinct error codes kept per step; more would only repeat the story. */
const MAX_ERROR_KINDS = 10;

export interface Clock {
  now(): bigint;
}
export const hrClock: Clock = { now: () => process.hrtime.bigint() };

class ErrorTally {
  total = 0;
  private byCode = new Map<string, ErrorSample>();
  add(err: unknown): void {
    this.total++;
    const e = err as { code?: unknown; name?: string; message?: string };
    const code = typeof e?.code === 'string' ? e.code : (e?.name ?? 'Error');
    const seen = this.byCode.get(code);
    if (seen) seen.count++;
    else if (this.byCode.size < MAX_ERROR_KINDS) this.byCode.set(code, { code, message: String(e?.message ?? err).slice(0, 500), count: 1 });
  }
  samples(): ErrorSample[] {
    return [...this.byCode.values()];
  }
}

interface Phase {
  first: number;
  /** Exclusive end of the index range (Infinity: until the deadline). */
  end: number;
  /** hrtime ns; null when the phase is bounded by `end` only. */
  deadline: bigint | null;
  recorder: LatencyRecorder | null;
  errors: ErrorTally;
  errorLimit: number;
}

interface PhaseOutcome {
  next: number;
  stoppedByErrors: boolean;
}

/** The tight loop at concurrency 1: no promise, no await between the two clock reads. */
function runSync(op: Operation & { sync: NonNullable<Operation['sync']> }, ph: Phase, clock: Clock): PhaseOutcome {
  const scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  const rec = ph.recorder;
  let i = ph.first;
  while (i < ph.end) {
    const t0 = clock.now();
    if (ph.deadline !== null && t0 >= ph.deadline) break;
    let failed = false;
    try {
      op.sync(i, scratch);
    } catch (err) {
      failed = true;
      ph.errors.add(err);
    }
    const t1 = clock.now();
    i++;
    if (failed) {
      if (ph.errors.total >= ph.errorLimit) return { next: i, stoppedByErrors: true };
    } else if (rec) rec.record(Number(t1 - t0));
  }
  return { next: i, stoppedByErrors: false };
}

async function runAsync(op: Operation, ph: Phase, concurrency: number, clock: Clock): Promise<PhaseOutcome> {
  let next = ph.first;
  let stop = false;
  let stoppedByErrors = false;
  const worker = async (): Promise<void> => {
    const scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
    while (!stop && next < ph.end) {
      const i = next++;
      const t0 = clock.now();
      if (ph.deadline !== null && t0 >= ph.deadline) {
        stop = true;
        break;
      }
      try {
        await op.run(i, scratch);
        ph.recorder?.record(Number(clock.now() - t0));
      } catch (err) {
        ph.errors.add(err);
        if (ph.errors.total >= ph.errorLimit) {
          stop = true;
          stoppedByErrors = true;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { next, stoppedByErrors };
}

function runPhase(op: Operation, step: StepSpec, ph: Phase, clock: Clock): PhaseOutcome | Promise<PhaseOutcome> {
  if (step.concurrency === 1 && op.sync) return runSync(op as Operation & { sync: NonNullable<Operation['sync']> }, ph, clock);
  return runAsync(op, ph, step.concurrency, clock);
}

export interface StepHooks {
  clock?: Clock;
  /** Progress lines (the agent sends them to stderr). */
  progress?: (line: string) => void;
  /** Replaces the step's operation (tests and the agent-cost benchmark time a no-op through the
   * same loop). */
  operation?: Operation;
}

export async function runStep(step: StepSpec, ctx: OperationContext, hooks: StepHooks = {}): Promise<StepResult> {
  const clock = hooks.clock ?? hrClock;
  const op = hooks.operation ?? makeOperation(step, ctx);
  await op.prepare?.();
  const cap = op.maxIterations ?? Infinity;
  const errors = new ErrorTally();
  const warmupErrors = new ErrorTally();
  let stopReason: string | undefined;
  let start = step.warmup;
  if (step.warmup > 0) {
    const warm = await runPhase(op, step, { first: 0, end: Math.min(step.warmup, cap), deadline: null, recorder: null, errors: warmupErrors, errorLimit: step.errorLimit }, clock);
    start = warm.next;
    if (warm.stoppedByErrors) stopReason = `warm-up stopped after ${warmupErrors.total} errors (errorLimit ${step.errorLimit})`;
  }
  const recorder = new LatencyRecorder();
  const t0 = clock.now();
  if (!stopReason) {
    const end = Math.min(step.count === null ? Infinity : start + step.count, cap);
    const deadline = step.durationMs === null ? null : t0 + BigInt(Math.round(step.durationMs * 1e6));
    const out = await runPhase(op, step, { first: start, end, deadline, recorder, errors, errorLimit: step.errorLimit }, clock);
    if (out.stoppedByErrors) stopReason = `stopped after ${errors.total} errors (errorLimit ${step.errorLimit}); first: ${errors.samples()[0]?.code ?? '?'}`;
  }
  const elapsedNs = Number(clock.now() - t0);
  await op.finish?.();
  const elapsedMs = elapsedNs / 1e6;
  const samples = errors.samples();
  for (const w of warmupErrors.samples()) samples.push({ ...w, message: `(warm-up) ${w.message}` });
  return {
    name: step.name,
    op: step.op,
    status: stopReason ? 'error-limit' : 'ok',
    ...(stopReason ? { stopReason } : {}),
    count: recorder.count,
    errors: errors.total,
    warmupErrors: warmupErrors.total,
    errorLimit: step.errorLimit,
    errorSamples: samples,
    warmup: step.warmup,
    concurrency: step.concurrency,
    elapsedMs: round3(elapsedMs),
    opsPerSec: elapsedMs > 0 ? round3((recorder.count * 1000) / elapsedMs) : 0,
    latencyUs: recorder.summary(),
    histogram: recorder.encoded(),
  };
}
