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
  applyEvent, conflictingEndText, emptyState, JournalWriter, openAttempts, readJournal, type JournalEvent, type JournalRead, type RunState,
} from '../../runfolder/journal.ts';
import { PendingCells, placeCells, type HostView, type PendingEntry } from './placement.ts';
import { ReporterMultiplexer } from './progress/multiplexer.ts';
import type { Reporter } from './progress/reporter.ts';
import { checkResumeIdentity, createRunDir, makeAttemptDir, openRunDir, updateRunJson, type RunDir } from './run-dir.ts';
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

/** Conflicting cell-end records named one by one in the run's output; the rest are counted. */
export const CONFLICTS_SHOWN = 10;

export const DEFAULT_POLICY: RunPolicy = { maxInfraRetries: 2, quarantineAfter: 3, inconclusiveFraction: 1 / 3 };

export interface RunPlanOptions {
  plan: Plan;
  /** The cells to run (after --shard). On resume: must be the journal's cells. */
  cells: readonly Cell[];
  runner: CellRunner;
  /**
   * CPU cores an attempt of the cell holds on its host (HostSpec.cores) while it runs: a cell that
   * measures latency its VM's vCPUs, so nothing else runs on the CPUs it measures on. @default 1 each
   */
  coresFor?: (cell: Cell) => number;
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
  /** Cores the running attempts hold (RunPlanOptions.coresFor), of spec.cores (default: slots). */
  coresHeld: number;
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
  // Before the journal is reopened (a torn tail cut off): a refused folder is left as it was.
  checkResumeIdentity(rd, read.events);
  return { writer: JournalWriter.reopen(rd.journalFile, read), read };
}

/** summary.json rewritten after a cell ends at most every `intervalMs` (and on demand). */
class SummaryWriter {
  private last = 0;
  private timer: NodeJS.Timeout | null = null;
  constructor(
    private readonly file: string,
    private readonly state: RunState,
    private readonly intervalMs: number,
  ) {}

  now(): void {
    this.cancel();
    this.last = Date.now();
    writeSummary(this.file, buildSummary(this.state));
  }

  afterCell(): void {
    const wait = this.last + this.intervalMs - Date.now();
    if (wait <= 0) this.now();
    else if (!this.timer) this.timer = setTimeout(() => this.now(), wait).unref();
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

function openRun(o: RunPlanOptions): RunDir {
  if (typeof o.runDir !== 'string') return o.runDir;
  if (o.resume === true || existsSync(`${o.runDir}/run.json`)) return openRunDir(o.runDir);
  return createRunDir({ plan: o.plan, cells: o.cells, hosts: o.hosts, shard: o.shard ?? null, out: o.runDir, ...(o.tools ? { tools: o.tools } : {}) });
}

/** Journals the run's begin, or on resume checks the cells are the journal's and closes what the dead controller left open. */
function beginOrResume(o: RunPlanOptions, rd: RunDir, writer: JournalWriter, read: JournalRead | null, state: RunState, policy: RunPolicy): void {
  const tools = o.tools ?? rd.runJson.tools;
  const hostNames = o.hosts.map((h) => h.name);
  const cellsById = new Set(o.cells.map((c) => c.id));
  if (state.runId === null) {
    writer.append({
      type: 'run-begin',
      runId: rd.runId,
      matrix: { name: rd.runJson.matrix.name, file: rd.runJson.matrix.file, totalCells: rd.runJson.matrix.totalCells, cellsHash: rd.runJson.matrix.cellsHash },
      cells: o.cells.map((c) => c.id),
      coords: rd.runJson.cells.filter((c) => cellsById.has(c.id)),
      options: { shard: o.shard ?? rd.runJson.shard, hosts: hostNames, policy, tools },
    });
    return;
  }
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

async function cleanupLeftovers(o: RunPlanOptions, writer: JournalWriter, reporter: ReporterMultiplexer): Promise<void> {
  if (!o.beforeRun) return;
  try {
    const removed = await o.beforeRun();
    writer.append({ type: 'cleanup', removed });
    if (removed.length) reporter.onNotice(`removed ${removed.length} leftover(s) of dead controllers`);
  } catch (err) {
    writer.append({ type: 'cleanup', removed: [], error: errorText(err) });
    reporter.onNotice(`cleanup of leftovers failed: ${errorText(err)}`);
  }
}

type CellEnd = { verdict: AttemptResult['verdict']; decidedBy: number | null; flaky?: boolean; reason?: string };

/**
 * Resume: what the journal already decides about the cells still to do. An attempt whose result was
 * journaled but whose cell-end was not (the controller died between the two) already decided its
 * cell: running it again could retry a product failure. A cell whose last attempt was an infra error
 * is retried away from that slot.
 */
export function resumeDecisions(todo: readonly Cell[], state: RunState, policy: RunPolicy): { settled: Map<string, CellEnd>; retryOf: Map<string, { host: string; slot: number }> } {
  const settled = new Map<string, CellEnd>();
  const retryOf = new Map<string, { host: string; slot: number }>();
  for (const cell of todo) {
    const attempts = (state.cells.get(cell.id)?.attempts ?? []).filter((a) => a.result && !a.interrupted && !a.abandoned);
    const decisive = attempts.find((a) => a.result!.verdict !== 'infra-error');
    const infra = attempts.filter((a) => a.result!.verdict === 'infra-error');
    const last = infra.sort((a, b) => a.attempt - b.attempt).at(-1);
    if (decisive) {
      const r = decisive.result!;
      const flaky = r.flaky === true && isProductFailure(r);
      settled.set(cell.id, { verdict: r.verdict, decidedBy: decisive.attempt, flaky, ...(r.reason ? { reason: r.reason } : {}) });
    } else if (last && infra.length > policy.maxInfraRetries) {
      settled.set(cell.id, { verdict: 'infra-error', decidedBy: last.attempt, reason: `${infra.length} infra errors; last: ${last.result!.reason ?? 'no reason given'}` });
    } else if (last) {
      retryOf.set(cell.id, { host: last.host, slot: last.slot });
    }
  }
  return { settled, retryOf };
}

export async function runPlan(o: RunPlanOptions): Promise<RunOutcome> {
  const policy: RunPolicy = { ...DEFAULT_POLICY, ...o.policy };
  const rd = openRun(o);
  const reporter = new ReporterMultiplexer(o.reporter ? [o.reporter] : []);
  if (o.hosts.length === 0) throw new UsageError('no hosts to run cells on');

  // The journal, opened (or replayed); the live state is the fold of what is written.
  const { writer, read } = openJournal(rd, o.resume === true);
  const state: RunState = emptyState();
  for (const e of read?.events ?? []) applyEvent(state, e);
  const resumed = state.runId !== null;
  writer.onAppend((e: JournalEvent) => applyEvent(state, e));
  const summary = new SummaryWriter(rd.summaryFile, state, o.summaryIntervalMs ?? 1000);
  try {
    beginOrResume(o, rd, writer, read, state, policy);
    await cleanupLeftovers(o, writer, reporter);
    return await new RunScheduler(o, policy, rd, writer, state, reporter, summary).run(resumed);
  } finally {
    summary.cancel();
    writer.close();
  }
}

/**
 * Cells to slots until every cell has a verdict or the run stops. The parts, one at a time:
 * `run` (what to do, resume decisions, start), `pump` (free slots take pending cells), `runAttempt`
 * (one attempt, journaled), `afterAttempt` (its result: the cell's end, a retry, a quarantine),
 * `endCell`, `stop`.
 */
class RunScheduler {
  private readonly hosts: HostRuntime[];
  private readonly pending: PendingCells;
  private readonly signal: AbortSignal;
  private readonly cellMs = new Map<string, number>();
  private readonly attemptAborts = new Set<AbortController>();
  private running = 0;
  private stopping: 'sigint' | 'inconclusive' | null = null;
  private fatal: unknown = null;
  private wake: () => void = () => {};

  constructor(
    private readonly o: RunPlanOptions,
    private readonly policy: RunPolicy,
    private readonly rd: RunDir,
    private readonly writer: JournalWriter,
    private readonly state: RunState,
    private readonly reporter: ReporterMultiplexer,
    private readonly summary: SummaryWriter,
  ) {
    this.signal = o.signal ?? new AbortController().signal;
    this.hosts = o.hosts.map((spec) => ({
      spec,
      quarantined: false,
      queue: new PQueue({ concurrency: spec.slots }),
      freeSlots: Array.from({ length: spec.slots }, (_, i) => i + 1),
      infraInRow: 0,
      coresHeld: 0,
    }));
    this.pending = new PendingCells(this.hosts);
  }

  async run(resumed: boolean): Promise<RunOutcome> {
    const { o, state } = this;
    const total = o.cells.length;
    const unfinished = o.cells.filter((c) => !state.cells.get(c.id)?.end);
    const skipped = unfinished.filter((c) => o.skip?.has(c.id) && !state.cells.get(c.id)?.maxAttempt);
    const skippedIds = new Set(skipped.map((c) => c.id));
    const todo = unfinished.filter((c) => !skippedIds.has(c.id));
    const failedBefore = o.cells.filter((c) => {
      const v = state.cells.get(c.id)?.end?.verdict;
      return v !== undefined && PRODUCT_FAILURES.includes(v);
    }).length;
    this.reporter.onRunBegin({
      runId: this.rd.runId, runDir: this.rd.dir, matrix: this.rd.runJson.matrix.name, total, alreadyDone: total - unfinished.length,
      alreadyFailed: failedBefore, resumed, hosts: o.hosts,
    });
    this.reportConflictingEnds();
    const drained = new Promise<void>((resolve) => {
      this.wake = resolve;
    });

    const { settled, retryOf } = resumeDecisions(todo, state, this.policy);
    for (const cell of todo) {
      const end = settled.get(cell.id);
      if (end) this.endCell(cell, end);
    }
    const { unplaceable } = placeCells(todo.filter((c) => !settled.has(c.id) && !retryOf.has(c.id) && !this.stopping), this.hosts, this.pending);
    todo.forEach((cell, seq) => {
      const avoid = retryOf.get(cell.id);
      if (avoid && !this.stopping) this.pending.add({ cell, seq, avoid });
    });
    for (const cell of skipped) this.endCell(cell, { verdict: 'skipped', decidedBy: null, reason: o.skip!.get(cell.id)! });

    const onSigint = (): void => this.stop('sigint');
    if (this.signal.aborted) this.stop('sigint');
    else this.signal.addEventListener('abort', onSigint, { once: true });
    try {
      this.strand(unplaceable.map((cell, i) => ({ cell, seq: -1 - i })));
      this.pump();
      await drained;
    } finally {
      this.signal.removeEventListener('abort', onSigint);
    }
    if (this.fatal !== null) throw this.fatal;

    const { outcome, exitCode, counts } = outcomeOf(state);
    this.writer.append({ type: 'run-end', outcome, exitCode, counts });
    this.summary.now();
    updateRunJson(this.rd, (r) => {
      r.ended = new Date().toISOString();
    });
    const result: RunOutcome = { runId: this.rd.runId, runDir: this.rd.dir, outcome, exitCode, counts, cells: total, stopped: state.stopped, summaryFile: this.rd.summaryFile };
    this.reporter.onRunEnd(result);
    return result;
  }

  /**
   * A resumed journal with two cell-ends of different verdicts for a cell (a hand-edited or
   * concatenated journal: the scheduler writes one): the first decides, and the run says so
   * (issue #16 row 11). The first CONFLICTS_SHOWN are named; summary.json has them all.
   */
  private reportConflictingEnds(): void {
    const all = this.state.conflictingEnds;
    for (const c of all.slice(0, CONFLICTS_SHOWN)) this.reporter.onNotice(`journal ${this.rd.journalFile}: ${conflictingEndText(c)}`);
    if (all.length > CONFLICTS_SHOWN) this.reporter.onNotice(`journal ${this.rd.journalFile}: ${all.length - CONFLICTS_SHOWN} more conflicting cell-end records (summary.json run.conflictingCellEnds lists them all)`);
  }

  /** Free slots take pending cells; when nothing runs and nothing can start, the run is drained. */
  private pump(): void {
    if (!this.stopping && this.fatal === null) {
      for (const h of this.hosts) {
        while (!h.quarantined && h.freeSlots.length > 0 && !this.stopping) {
          let taken: { slot: number; entry: PendingEntry } | null = null;
          const fits = (e: PendingEntry): boolean => h.coresHeld + this.coresOf(h, e.cell) <= (h.spec.cores ?? h.spec.slots);
          for (const slot of h.freeSlots) {
            const entry = this.pending.take(h, slot, fits);
            if (entry) {
              taken = { slot, entry };
              break;
            }
          }
          if (!taken) break;
          const { slot, entry } = taken;
          const cores = this.coresOf(h, entry.cell);
          h.coresHeld += cores;
          h.freeSlots.splice(h.freeSlots.indexOf(slot), 1);
          this.running++;
          // The host's queue holds the attempt; it has a free slot, so the attempt starts at once.
          void h.queue
            .add(() => this.runAttempt(h, slot, entry))
            .catch((err: unknown) => {
              // A bug or a journal that cannot be written: abort everything (without journaling:
              // the journal may be what failed) and throw once the running attempts are gone.
              this.fatal ??= err;
              this.pending.drain();
              for (const ac of this.attemptAborts) ac.abort(err);
            })
            .finally(() => {
              this.running--;
              h.coresHeld -= cores;
              h.freeSlots.push(slot);
              h.freeSlots.sort((a, b) => a - b);
              this.pump();
            });
        }
      }
    }
    if (this.running === 0 && (this.stopping !== null || this.fatal !== null || this.pending.size === 0)) this.wake();
  }

  /** Capped at the host's cores, so a cell needing more than the host has runs there alone. */
  private coresOf(h: HostRuntime, cell: Cell): number {
    return Math.min(this.o.coresFor?.(cell) ?? 1, h.spec.cores ?? h.spec.slots);
  }

  /** One attempt: journaled begin, the runner, journaled end. The runner's throw is an infra error. */
  private async runAttempt(h: HostRuntime, slot: number, entry: PendingEntry): Promise<void> {
    const cell = entry.cell;
    const attempt = (this.state.cells.get(cell.id)?.maxAttempt ?? 0) + 1;
    const attemptDir = makeAttemptDir(this.rd.dir, cell.id, attempt);
    const host = h.spec.name;
    this.writer.append({ type: 'attempt-begin', cell: cell.id, attempt, host, slot });
    this.reporter.onAttemptBegin({ cell, attempt, host, slot });
    const ac = new AbortController();
    this.attemptAborts.add(ac);
    if (this.stopping === 'sigint') ac.abort(this.signal.reason);
    let ended = false;
    const ctx: AttemptContext = {
      cell, attempt, host, hostSpec: h.spec, slot, attemptDir, runDir: this.rd.dir, signal: ac.signal,
      emit: (ev: LifecycleEvent) => {
        // Events after the attempt's end would be read as part of a later attempt: dropped.
        if (ended) return;
        this.writer.append({ ...ev, cell: cell.id, attempt });
        this.reporter.onStep({ cell, attempt, host, slot, event: ev });
      },
    };
    const t0 = performance.now();
    let result: AttemptResult;
    try {
      result = checkResult(await this.o.runner(ctx));
    } catch (err) {
      result = infraResult(`the cell runner threw: ${errorText(err)}`);
    }
    ended = true;
    this.attemptAborts.delete(ac);
    const ms = Math.round(performance.now() - t0);
    this.cellMs.set(cell.id, (this.cellMs.get(cell.id) ?? 0) + ms);
    // Cut short by SIGINT: only a product failure found before the stop is a result.
    const interrupted = ac.signal.aborted && !isProductFailure(result);
    this.writer.append({ type: 'attempt-end', cell: cell.id, attempt, host, slot, ms, result, ...(interrupted ? { interrupted: true } : {}) });
    this.afterAttempt(h, entry, { attempt, slot, ms, result, interrupted });
  }

  /** What an attempt's result makes of its cell: its verdict, a retry elsewhere, the host quarantined. */
  private afterAttempt(h: HostRuntime, entry: PendingEntry, a: { attempt: number; slot: number; ms: number; result: AttemptResult; interrupted: boolean }): void {
    const { cell } = entry;
    const { attempt, slot, ms, result } = a;
    const host = h.spec.name;
    if (a.interrupted) {
      this.reporter.onAttemptEnd({ cell, attempt, host, slot, result, ms, willRetry: false });
      return;
    }
    if (result.verdict !== 'infra-error') {
      h.infraInRow = 0;
      this.reporter.onAttemptEnd({ cell, attempt, host, slot, result, ms, willRetry: false });
      const flaky = result.flaky === true && isProductFailure(result);
      this.endCell(cell, { verdict: result.verdict, decidedBy: attempt, flaky, ...(result.reason ? { reason: result.reason } : {}) });
      return;
    }
    h.infraInRow++;
    const infraAttempts = (this.state.cells.get(cell.id)?.attempts ?? []).filter((x) => x.result?.verdict === 'infra-error' && !x.interrupted).length;
    const exhausted = infraAttempts > this.policy.maxInfraRetries;
    const willRetry = !exhausted && !this.stopping;
    this.reporter.onAttemptEnd({ cell, attempt, host, slot, result, ms, willRetry });
    // Retries used up: the cell's verdict is settled, stopped run or not. With retries left in a
    // stopped run, the cell stays without a verdict, like the cells never started.
    if (exhausted) this.endCell(cell, { verdict: 'infra-error', decidedBy: attempt, reason: `${infraAttempts} infra errors; last: ${result.reason ?? 'no reason given'}` });
    if (!h.quarantined && h.infraInRow >= this.policy.quarantineAfter) this.quarantine(h);
    if (willRetry && !this.stopping) {
      this.pending.add({ cell, seq: entry.seq, avoid: { host, slot } });
      this.strand(this.pending.takeStranded());
    }
  }

  private endCell(cell: Cell, e: CellEnd): void {
    const attempts = this.state.cells.get(cell.id)?.maxAttempt ?? 0;
    this.writer.append({
      type: 'cell-end', cell: cell.id, verdict: e.verdict, attempts, decidedBy: e.decidedBy,
      ...(e.flaky ? { flaky: true } : {}), ...(e.reason ? { reason: e.reason } : {}),
    });
    this.reporter.onCellEnd({ cell, verdict: e.verdict, attempts, flaky: e.flaky === true, ...(e.reason ? { reason: e.reason } : {}), ms: this.cellMs.get(cell.id) ?? 0 });
    this.summary.afterCell();
    if (!this.stopping && this.infraFinals() > this.o.cells.length * this.policy.inconclusiveFraction) this.stop('inconclusive');
  }

  private infraFinals(): number {
    let n = 0;
    for (const c of this.state.cells.values()) if (c.end?.verdict === 'infra-error') n++;
    return n;
  }

  /** Cells no host left can take end as infra errors. */
  private strand(entries: PendingEntry[]): void {
    const quarantined = this.hosts.filter((h) => h.quarantined).map((h) => h.spec.name);
    for (const e of entries) {
      this.endCell(e.cell, {
        verdict: 'infra-error',
        decidedBy: null,
        reason: `no host left with an image for ${e.cell.os.release}${quarantined.length ? ` (quarantined: ${quarantined.join(', ')})` : ''}`,
      });
    }
  }

  private quarantine(h: HostRuntime): void {
    h.quarantined = true;
    const reason = `${h.infraInRow} infra errors in a row`;
    this.writer.append({ type: 'host-quarantined', host: h.spec.name, reason, infraErrorsInRow: h.infraInRow });
    this.reporter.onHostQuarantined({ host: h.spec.name, reason });
    this.strand(this.pending.takeStranded());
  }

  private stop(reason: 'sigint' | 'inconclusive'): void {
    if (this.stopping === 'sigint' || this.stopping === reason) return;
    this.stopping = reason;
    this.writer.append({ type: 'run-stopped', reason });
    this.pending.drain();
    if (reason === 'sigint') {
      for (const ac of this.attemptAborts) ac.abort(this.signal.reason);
      this.reporter.onNotice('interrupted: no new attempts; running ones are ending');
    } else {
      this.reporter.onNotice(`more than ${Math.round(this.policy.inconclusiveFraction * 100)}% of cells failed on infrastructure: run stopped as inconclusive; running attempts finish`);
    }
  }
}
