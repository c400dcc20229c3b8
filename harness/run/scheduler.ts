// The scheduler: takes a plan's cells to verdicts over the hosts' slots. It decides where an attempt
// runs, whether an infra error is retried (elsewhere), when a host is quarantined and when the run
// stops; it never looks inside an attempt (that is the CellRunner's job, types.ts). Everything it
// decides is journaled before it acts on it, so a controller killed at any moment can --resume with
// nothing lost or run twice.
import PQueue from 'p-queue';
import { UsageError } from '../../lib/errors.ts';
import type { Cell, Plan } from '../../matrix/index.ts';
import type { HostSpec } from './hosts.ts';
import {
  applyEvent, emptyState, JournalWriter, openAttempts, readJournal, type JournalEvent, type JournalRead, type RunState,
} from '../../runfolder/journal.ts';
import { PendingCells, placeCells, type HostView, type PendingEntry } from './placement.ts';
import { ReporterMultiplexer } from './progress/multiplexer.ts';
import type { Reporter } from './progress/reporter.ts';
import { createRunDir, makeAttemptDir, openRunDir, updateRunJson, type RunDir } from './run-dir.ts';
import type { ToolVersions } from '../../runfolder/run-json.ts';
import { buildSummary, outcomeOf, writeSummary, type RunOutcome } from '../../runfolder/summary.ts';
import { PRODUCT_FAILURES, VERDICTS, type AttemptResult } from '../../runfolder/results.ts';
import type { AttemptContext, CellRunner, LifecycleEvent } from './types.ts';
import { existsSync } from 'node:fs';

export interface RunPolicy {
  /** Infra-error attempts retried per cell (on another slot, another host if there is one). @default 2 */
  maxInfraRetries: number;
  /** Infra errors in a row on one host before it runs nothing more in this run. @default 3 */
  quarantineAfter: number;
  /** More than this share of the run's cells ending as infra errors stops the run as inconclusive. @default 1/3 */
  inconclusiveFraction: number;
}

export const DEFAULT_POLICY: RunPolicy = { maxInfraRetries: 2, quarantineAfter: 3, inconclusiveFraction: 1 / 3 };

export interface RunPlanOptions {
  plan: Plan;
  /** The cells to run (after --shard). On resume: must be the journal's cells. */
  cells: readonly Cell[];
  runner: CellRunner;
  hosts: readonly HostSpec[];
  /** A run folder (createRunDir/openRunDir), or a path: opened on resume, created otherwise. */
  runDir: RunDir | string;
  resume?: boolean;
  /** Aborted on SIGINT: stop scheduling, abort running attempts, write what is known. */
  signal?: AbortSignal;
  reporter?: Reporter;
  policy?: Partial<RunPolicy>;
  /** Removes leftovers of dead controllers (Provider.cleanupLeftovers); what it returns is journaled. */
  beforeRun?: () => Promise<string[]>;
  shard?: string | null;
  /** Cells that cannot run here (cell id → why): they end `skipped` with that reason, never attempted. */
  skip?: ReadonlyMap<string, string>;
  /** summary.json is rewritten after a cell ends at most this often (and always at the end). @default 1000 */
  summaryIntervalMs?: number;
  tools?: ToolVersions;
}

interface HostRuntime extends HostView {
  queue: PQueue;
  freeSlots: number[];
  infraInRow: number;
}

const isProductFailure = (r: AttemptResult): boolean => PRODUCT_FAILURES.includes(r.verdict);

/** What an attempt that threw (or returned nonsense) becomes: the harness failed, not the product. */
function infraResult(reason: string): AttemptResult {
  return { verdict: 'infra-error', reason, steps: [], evidence: [] };
}

function checkResult(r: unknown): AttemptResult {
  const o = r as Partial<AttemptResult> | null | undefined;
  if (!o || typeof o !== 'object' || !VERDICTS.includes(o.verdict as never)) {
    return infraResult(`the cell runner returned no verdict (${JSON.stringify(o)?.slice(0, 200)})`);
  }
  return { ...o, steps: Array.isArray(o.steps) ? o.steps : [], evidence: Array.isArray(o.evidence) ? o.evidence : [] } as AttemptResult;
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}` : String(err);
}

function openJournal(rd: RunDir, resume: boolean): { writer: JournalWriter; read: JournalRead | null } {
  if (!resume) return { writer: JournalWriter.create(rd.journalFile), read: null };
  // A controller killed between writing run.json and its first event leaves no journal: start it.
  if (!existsSync(rd.journalFile)) return { writer: JournalWriter.create(rd.journalFile), read: null };
  const read = readJournal(rd.journalFile);
  return { writer: JournalWriter.reopen(rd.journalFile, read), read };
}

export async function runPlan(o: RunPlanOptions): Promise<RunOutcome> {
  const policy: RunPolicy = { ...DEFAULT_POLICY, ...o.policy };
  const resume = o.resume === true;
  const rd: RunDir =
    typeof o.runDir !== 'string'
      ? o.runDir
      : resume || existsSync(`${o.runDir}/run.json`)
        ? openRunDir(o.runDir)
        : createRunDir({ plan: o.plan, cells: o.cells, hosts: o.hosts, shard: o.shard ?? null, out: o.runDir, ...(o.tools ? { tools: o.tools } : {}) });
  const reporter = new ReporterMultiplexer(o.reporter ? [o.reporter] : []);
  const signal = o.signal ?? new AbortController().signal;
  const cellsById = new Map(o.cells.map((c) => [c.id, c]));
  if (o.hosts.length === 0) throw new UsageError('no hosts to run cells on');

  // ---- journal: open (or replay), and keep the live state as the fold of what is written
  const { writer, read } = openJournal(rd, resume);
  const state: RunState = emptyState();
  for (const e of read?.events ?? []) applyEvent(state, e);
  const alreadyBegun = state.runId !== null;
  writer.onAppend((e: JournalEvent) => applyEvent(state, e));

  const summaryInterval = o.summaryIntervalMs ?? 1000;
  let lastSummary = 0;
  let summaryTimer: NodeJS.Timeout | null = null;
  const writeSummaryNow = (): void => {
    if (summaryTimer) clearTimeout(summaryTimer);
    summaryTimer = null;
    lastSummary = Date.now();
    writeSummary(rd.summaryFile, buildSummary(state));
  };
  const summaryAfterCell = (): void => {
    const wait = lastSummary + summaryInterval - Date.now();
    if (wait <= 0) writeSummaryNow();
    else if (!summaryTimer) summaryTimer = setTimeout(writeSummaryNow, wait).unref();
  };

  try {
    const tools = o.tools ?? rd.runJson.tools;
    const hostNames = o.hosts.map((h) => h.name);
    if (!alreadyBegun) {
      writer.append({
        type: 'run-begin',
        runId: rd.runId,
        matrix: { name: rd.runJson.matrix.name, file: rd.runJson.matrix.file, totalCells: rd.runJson.matrix.totalCells, cellsHash: rd.runJson.matrix.cellsHash },
        cells: o.cells.map((c) => c.id),
        coords: rd.runJson.cells.filter((c) => cellsById.has(c.id)),
        options: { shard: o.shard ?? rd.runJson.shard, hosts: hostNames, policy, tools },
      });
    } else {
      const journalCells = new Set(state.order);
      const missing = o.cells.filter((c) => !journalCells.has(c.id)).map((c) => c.id);
      const extra = state.order.filter((id) => !cellsById.has(id));
      if (missing.length || extra.length) {
        throw new UsageError(
          `the cells to run are not the cells of ${rd.journalFile}` +
            `${missing.length ? `; not in the journal: ${missing.slice(0, 5).join(', ')}` : ''}` +
            `${extra.length ? `; missing from this run: ${extra.slice(0, 5).join(', ')}` : ''}`,
        );
      }
      writer.append({
        type: 'run-resume',
        runId: rd.runId,
        resumeCount: state.resumes + 1,
        tornTail: read?.torn ? { line: read.torn.line, bytes: read.torn.bytes } : null,
        hosts: hostNames,
      });
      // The controller died during these: not a result, not an infra retry; their numbers stay used.
      for (const a of openAttempts(state)) writer.append({ type: 'attempt-abandoned', cell: a.cell, attempt: a.attempt, host: a.host, slot: a.slot });
      updateRunJson(rd, (r) => {
        r.ended = null;
        r.resumes.push({ at: new Date().toISOString(), tools, hosts: hostNames });
      });
    }

    if (o.beforeRun) {
      try {
        const removed = await o.beforeRun();
        writer.append({ type: 'cleanup', removed });
        if (removed.length) reporter.onNotice(`removed ${removed.length} leftover(s) of dead controllers`);
      } catch (err) {
        writer.append({ type: 'cleanup', removed: [], error: errorText(err) });
        reporter.onNotice(`cleanup of leftovers failed: ${errorText(err)}`);
      }
    }

    return await schedule();
  } finally {
    if (summaryTimer) clearTimeout(summaryTimer);
    writer.close();
  }

  async function schedule(): Promise<RunOutcome> {
    const total = o.cells.length;
    const hosts: HostRuntime[] = o.hosts.map((spec) => ({
      spec,
      quarantined: false,
      queue: new PQueue({ concurrency: spec.slots }),
      freeSlots: Array.from({ length: spec.slots }, (_, i) => i + 1),
      infraInRow: 0,
    }));
    const unfinished = o.cells.filter((c) => !state.cells.get(c.id)?.end);
    const skipped = unfinished.filter((c) => o.skip?.has(c.id) && !state.cells.get(c.id)?.maxAttempt);
    const skippedIds = new Set(skipped.map((c) => c.id));
    const todo = unfinished.filter((c) => !skippedIds.has(c.id));
    const failedBefore = o.cells.filter((c) => {
      const v = state.cells.get(c.id)?.end?.verdict;
      return v !== undefined && PRODUCT_FAILURES.includes(v);
    }).length;
    reporter.onRunBegin({
      runId: rd.runId, runDir: rd.dir, matrix: rd.runJson.matrix.name, total, alreadyDone: total - unfinished.length,
      alreadyFailed: failedBefore, resumed: alreadyBegun, hosts: o.hosts,
    });

    const pending = new PendingCells(hosts);
    const cellMs = new Map<string, number>();
    let running = 0;
    let stopping: 'sigint' | 'inconclusive' | null = null;
    let fatal: unknown = null;
    let wake: () => void = () => {};
    const drained = new Promise<void>((resolve) => {
      wake = resolve;
    });
    const attemptAborts = new Set<AbortController>();

    const infraFinals = (): number => {
      let n = 0;
      for (const c of state.cells.values()) if (c.end?.verdict === 'infra-error') n++;
      return n;
    };

    const stop = (reason: 'sigint' | 'inconclusive'): void => {
      if (stopping === 'sigint' || stopping === reason) return;
      stopping = reason;
      writer.append({ type: 'run-stopped', reason });
      pending.drain();
      if (reason === 'sigint') {
        for (const ac of attemptAborts) ac.abort(signal.reason);
        reporter.onNotice('interrupted: no new attempts; running ones are ending');
      } else {
        reporter.onNotice(`more than ${Math.round(policy.inconclusiveFraction * 100)}% of cells failed on infrastructure: run stopped as inconclusive; running attempts finish`);
      }
    };

    const endCell = (cell: Cell, e: { verdict: AttemptResult['verdict']; decidedBy: number | null; flaky?: boolean; reason?: string }): void => {
      const cs = state.cells.get(cell.id);
      const attempts = cs?.maxAttempt ?? 0;
      writer.append({
        type: 'cell-end', cell: cell.id, verdict: e.verdict, attempts, decidedBy: e.decidedBy,
        ...(e.flaky ? { flaky: true } : {}), ...(e.reason ? { reason: e.reason } : {}),
      });
      reporter.onCellEnd({ cell, verdict: e.verdict, attempts, flaky: e.flaky === true, ...(e.reason ? { reason: e.reason } : {}), ms: cellMs.get(cell.id) ?? 0 });
      summaryAfterCell();
      if (!stopping && infraFinals() > total * policy.inconclusiveFraction) stop('inconclusive');
    };

    const strand = (entries: PendingEntry[]): void => {
      const quarantined = hosts.filter((h) => h.quarantined).map((h) => h.spec.name);
      for (const e of entries) {
        endCell(e.cell, {
          verdict: 'infra-error',
          decidedBy: null,
          reason: `no host left with an image for ${e.cell.os.release}${quarantined.length ? ` (quarantined: ${quarantined.join(', ')})` : ''}`,
        });
      }
    };

    const quarantine = (h: HostRuntime): void => {
      h.quarantined = true;
      const reason = `${h.infraInRow} infra errors in a row`;
      writer.append({ type: 'host-quarantined', host: h.spec.name, reason, infraErrorsInRow: h.infraInRow });
      reporter.onHostQuarantined({ host: h.spec.name, reason });
      strand(pending.takeStranded());
    };

    const runAttempt = async (h: HostRuntime, slot: number, entry: PendingEntry): Promise<void> => {
      const cell = entry.cell;
      const attempt = (state.cells.get(cell.id)?.maxAttempt ?? 0) + 1;
      const attemptDir = makeAttemptDir(rd.dir, cell.id, attempt);
      const host = h.spec.name;
      writer.append({ type: 'attempt-begin', cell: cell.id, attempt, host, slot });
      reporter.onAttemptBegin({ cell, attempt, host, slot });
      const ac = new AbortController();
      attemptAborts.add(ac);
      if (stopping === 'sigint') ac.abort(signal.reason);
      let ended = false;
      const ctx: AttemptContext = {
        cell, attempt, host, hostSpec: h.spec, slot, attemptDir, runDir: rd.dir, signal: ac.signal,
        emit: (ev: LifecycleEvent) => {
          // Events after the attempt's end would be read as part of a later attempt: dropped.
          if (ended) return;
          writer.append({ ...ev, cell: cell.id, attempt });
          reporter.onStep({ cell, attempt, host, slot, event: ev });
        },
      };
      const t0 = performance.now();
      let result: AttemptResult;
      try {
        result = checkResult(await o.runner(ctx));
      } catch (err) {
        result = infraResult(`the cell runner threw: ${errorText(err)}`);
      }
      ended = true;
      attemptAborts.delete(ac);
      const ms = Math.round(performance.now() - t0);
      cellMs.set(cell.id, (cellMs.get(cell.id) ?? 0) + ms);
      // Cut short by SIGINT: only a product failure found before the stop is a result.
      const interrupted = ac.signal.aborted && !isProductFailure(result);
      writer.append({ type: 'attempt-end', cell: cell.id, attempt, host, slot, ms, result, ...(interrupted ? { interrupted: true } : {}) });

      if (interrupted) {
        reporter.onAttemptEnd({ cell, attempt, host, slot, result, ms, willRetry: false });
        return;
      }
      if (result.verdict !== 'infra-error') {
        h.infraInRow = 0;
        reporter.onAttemptEnd({ cell, attempt, host, slot, result, ms, willRetry: false });
        const flaky = result.flaky === true && isProductFailure(result);
        endCell(cell, { verdict: result.verdict, decidedBy: attempt, flaky, ...(result.reason ? { reason: result.reason } : {}) });
        return;
      }
      h.infraInRow++;
      const infraAttempts = (state.cells.get(cell.id)?.attempts ?? []).filter((a) => a.result?.verdict === 'infra-error' && !a.interrupted).length;
      const exhausted = infraAttempts > policy.maxInfraRetries;
      const willRetry = !exhausted && !stopping;
      reporter.onAttemptEnd({ cell, attempt, host, slot, result, ms, willRetry });
      // Retries used up: the cell's verdict is settled, stopped run or not. With retries left in a
      // stopped run, the cell stays without a verdict, like the cells never started.
      if (exhausted) endCell(cell, { verdict: 'infra-error', decidedBy: attempt, reason: `${infraAttempts} infra errors; last: ${result.reason ?? 'no reason given'}` });
      if (!h.quarantined && h.infraInRow >= policy.quarantineAfter) quarantine(h);
      if (willRetry && !stopping) {
        pending.add({ cell, seq: entry.seq, avoid: { host, slot } });
        strand(pending.takeStranded());
      }
    };

    const pump = (): void => {
      if (!stopping && fatal === null) {
        for (const h of hosts) {
          while (!h.quarantined && h.freeSlots.length > 0 && !stopping) {
            let taken: { slot: number; entry: PendingEntry } | null = null;
            for (const slot of h.freeSlots) {
              const entry = pending.take(h, slot);
              if (entry) {
                taken = { slot, entry };
                break;
              }
            }
            if (!taken) break;
            const { slot, entry } = taken;
            h.freeSlots.splice(h.freeSlots.indexOf(slot), 1);
            running++;
            // The host's queue holds the attempt; it has a free slot, so the attempt starts at once.
            void h.queue
              .add(() => runAttempt(h, slot, entry))
              .catch((err: unknown) => {
                // A bug or a journal that cannot be written: abort everything (without journaling:
                // the journal may be what failed) and throw once the running attempts are gone.
                fatal ??= err;
                pending.drain();
                for (const ac of attemptAborts) ac.abort(err);
              })
              .finally(() => {
                running--;
                h.freeSlots.push(slot);
                h.freeSlots.sort((a, b) => a - b);
                pump();
              });
          }
        }
      }
      if (running === 0 && (stopping !== null || fatal !== null || pending.size === 0)) wake();
    };

      // Resume: an attempt whose result was journaled but whose cell-end was not (the controller died
      // between the two) already decided its cell. Running it again could retry a product failure.
      const settled = new Set<string>();
      const retryOf = new Map<string, { host: string; slot: number }>();
      for (const cell of todo) {
        const attempts = (state.cells.get(cell.id)?.attempts ?? []).filter((a) => a.result && !a.interrupted && !a.abandoned);
        const decisive = attempts.find((a) => a.result!.verdict !== 'infra-error');
        const infra = attempts.filter((a) => a.result!.verdict === 'infra-error');
        const last = infra.sort((a, b) => a.attempt - b.attempt).at(-1);
        if (decisive) {
          const r = decisive.result!;
          const flaky = r.flaky === true && isProductFailure(r);
          endCell(cell, { verdict: r.verdict, decidedBy: decisive.attempt, flaky, ...(r.reason ? { reason: r.reason } : {}) });
          settled.add(cell.id);
        } else if (last && infra.length > policy.maxInfraRetries) {
          endCell(cell, { verdict: 'infra-error', decidedBy: last.attempt, reason: `${infra.length} infra errors; last: ${last.result!.reason ?? 'no reason given'}` });
          settled.add(cell.id);
        } else if (last) {
          retryOf.set(cell.id, { host: last.host, slot: last.slot });
        }
      }
      const { unplaceable } = placeCells(
        todo.filter((c) => !settled.has(c.id) && !retryOf.has(c.id) && !stopping),
        hosts,
        pending,
      );
      todo.forEach((cell, seq) => {
        const avoid = retryOf.get(cell.id);
        if (avoid && !stopping) pending.add({ cell, seq, avoid });
      });

    for (const cell of skipped) endCell(cell, { verdict: 'skipped', decidedBy: null, reason: o.skip!.get(cell.id)! });

    const onSigint = (): void => stop('sigint');
    if (signal.aborted) stop('sigint');
    else signal.addEventListener('abort', onSigint, { once: true });
    try {
      strand(unplaceable.map((cell, i) => ({ cell, seq: -1 - i })));
      pump();
      await drained;
    } finally {
      signal.removeEventListener('abort', onSigint);
    }
    if (fatal !== null) throw fatal;

    const { outcome, exitCode, counts } = outcomeOf(state);
    writer.append({ type: 'run-end', outcome, exitCode, counts });
    writeSummaryNow();
    updateRunJson(rd, (r) => {
      r.ended = new Date().toISOString();
    });
    const result: RunOutcome = { runId: rd.runId, runDir: rd.dir, outcome, exitCode, counts, cells: total, stopped: state.stopped, summaryFile: rd.summaryFile };
    reporter.onRunEnd(result);
    return result;
  }
}
