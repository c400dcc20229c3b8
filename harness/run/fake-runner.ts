// TEST DOUBLE. A CellRunner that boots nothing: each cell's attempts follow a script (pass, product
// crash, infra error, a hang that lasts until the attempt is aborted, a slow pass), so the real
// scheduler and journal can be driven through retries, quarantine, SIGINT and crashes in milliseconds.
import type { Cell, Plan } from '../../matrix/index.ts';
import type { AttemptContext, CellRunner } from './types.ts';
import type { AttemptResult, Verdict } from '../../runfolder/results.ts';

export type FakeOutcome =
  | 'pass'
  | 'product-crash'
  | 'product-hang'
  | 'infra-error'
  /** Waits until the attempt's signal is aborted, then ends cleanly as an infra error. */
  | 'hang-until-aborted'
  /** Throws instead of returning (a runner bug): the scheduler must make it an infra error. */
  | 'throw'
  | { verdict: Verdict; delayMs?: number; flaky?: boolean; reason?: string };

export interface FakeRunnerOptions {
  /** Per cell id: one outcome for every attempt, or a list indexed by attempt number (last repeats). */
  script?: Record<string, FakeOutcome | FakeOutcome[]>;
  /** Per host: overrides the script for every attempt on that host (a broken host). */
  hosts?: Record<string, FakeOutcome>;
  /** When the script says nothing about a cell. @default 'pass' */
  fallback?: FakeOutcome;
  /** Wall time of every attempt (sleeping, no CPU), or a function of the attempt. @default 0 */
  delayMs?: number | ((ctx: AttemptContext) => number);
  /** Emit step-begin/step-end events like a real lifecycle. @default true */
  steps?: boolean;
}

export interface FakeCall {
  cell: string;
  attempt: number;
  host: string;
  slot: number;
  verdict: Verdict;
}

export interface FakeRunner extends CellRunner {
  /** Every attempt started, in order, with the verdict it returned (when it has returned). */
  calls: FakeCall[];
  /** Attempts running now. */
  running(): number;
  maxConcurrent: number;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function outcomeFor(o: FakeRunnerOptions, ctx: AttemptContext): FakeOutcome {
  const byHost = o.hosts?.[ctx.host];
  if (byHost) return byHost;
  const s = o.script?.[ctx.cell.id];
  if (s === undefined) return o.fallback ?? 'pass';
  if (!Array.isArray(s)) return s;
  return s[Math.min(ctx.attempt, s.length) - 1] ?? o.fallback ?? 'pass';
}

export function fakeRunner(o: FakeRunnerOptions = {}): FakeRunner {
  const calls: FakeCall[] = [];
  let now = 0;
  const runner = (async (ctx: AttemptContext): Promise<AttemptResult> => {
    const call: FakeCall = { cell: ctx.cell.id, attempt: ctx.attempt, host: ctx.host, slot: ctx.slot, verdict: 'infra-error' };
    calls.push(call);
    now++;
    runner.maxConcurrent = Math.max(runner.maxConcurrent, now);
    try {
      const outcome = outcomeFor(o, ctx);
      const delay = typeof o.delayMs === 'function' ? o.delayMs(ctx) : (o.delayMs ?? 0);
      if (o.steps !== false) ctx.emit({ type: 'step-begin', step: 'workload' });
      if (outcome === 'throw') throw new Error('fake runner blew up');
      if (outcome === 'hang-until-aborted') {
        await new Promise<void>((resolve) => {
          if (ctx.signal.aborted) resolve();
          else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
        });
        call.verdict = 'infra-error';
        return { verdict: 'infra-error', reason: 'aborted while the workload hung', steps: [], evidence: [] };
      }
      const spec = typeof outcome === 'string' ? { verdict: outcome as Verdict } : outcome;
      await sleep(spec.delayMs ?? delay, ctx.signal);
      if (o.steps !== false) ctx.emit({ type: 'step-end', step: 'workload', ms: spec.delayMs ?? delay, ok: spec.verdict === 'pass' });
      if (ctx.signal.aborted && spec.verdict === 'pass') {
        // A real lifecycle cut short has no pass to give.
        call.verdict = 'infra-error';
        return { verdict: 'infra-error', reason: 'aborted', steps: [], evidence: [] };
      }
      call.verdict = spec.verdict;
      const result: AttemptResult = { verdict: spec.verdict, steps: [], evidence: [`cells/${ctx.cell.id}/attempt-${ctx.attempt}/console.log`] };
      if (spec.verdict !== 'pass') result.reason = ('reason' in spec && spec.reason) || `scripted ${spec.verdict}`;
      if ('flaky' in spec && spec.flaky) result.flaky = true;
      if (spec.verdict === 'product-crash') {
        result.crash = { title: 'BUGCHECK 0xD1 in fgfilter', bucket: 'fake-0xD1-fgfilter', kind: 'BUGCHECK', bugcheck: { code: 0xd1, name: 'DRIVER_IRQL_NOT_LESS_OR_EQUAL', params: ['0x0', '0x2', '0x0', '0x0'] } };
      }
      return result;
    } finally {
      now--;
    }
  }) as FakeRunner;
  runner.calls = calls;
  runner.running = () => now;
  runner.maxConcurrent = 0;
  return runner;
}

/** `n` cells with distinct ids (`fake-000`...), on `release` (or a release per cell). */
export function fakeCells(n: number, release: string | ((i: number) => string) = 'lab'): Cell[] {
  return Array.from({ length: n }, (_, i) => {
    const r = typeof release === 'function' ? release(i) : release;
    return {
      id: `fake-${String(i).padStart(3, '0')}`,
      os: { release: r, family: 'lab' as const, build: null, ubr: null, kb: null, month: null, patchLevel: null },
      driver: 'fgfilter',
      driverBuild: { name: 'fgfilter', path: '/nonexistent/driver', upgradeFrom: null, params: {} },
      verifier: 'none',
      workloads: ['file-storm'],
      workloadRefs: ['file-storm'],
      coexist: [],
      repeat: 1,
      tags: [],
      faults: [],
    };
  });
}

export function fakePlan(cells: Cell[], name = 'fake'): Plan {
  return { file: `/nonexistent/${name}.yaml`, name, filters: {}, cells, warnings: [] };
}
