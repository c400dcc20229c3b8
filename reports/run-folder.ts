// Reads a finished (or killed) run folder into the one shape every writer uses. Reports are made
// from the folder alone (DESIGN.md "Files a run leaves"): run.json for the plan and tool versions,
// summary.json for verdicts (rebuilt from the journal when it is missing), the journal for step
// timelines. Nothing here writes into the run folder: reports must not change results.
import { closeSync, existsSync, openSync, readFileSync, readSync, fstatSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { InputError, UsageError } from '../lib/errors.ts';
import { readJournal, replay, type JournalEvent } from '../runfolder/journal.ts';
import { buildSummary, type SummaryCell, type SummaryJson } from '../runfolder/summary.ts';
import type { InstalledDriver, MeasurementRecord, OperationLatency, Step, Verdict } from '../runfolder/results.ts';
import type { RunJson } from '../runfolder/run-json.ts';

/** A cell's verdict for reports: a cell the run never finished is `unfinished` (no verdict). */
export type ReportVerdict = Verdict | 'unfinished';

export interface ReportCoords {
  release: string;
  /** `build.UBR`, or null (the lab: whatever its image has). */
  patchLevel: string | null;
  build: number | null;
  ubr: number | null;
  kb: number | null;
  family: string | null;
  driver: string;
  driverPath: string | null;
  verifier: string;
  workloads: string[];
  coexist: string[];
  repeat: number;
  tags: string[];
}

export interface StepSpan {
  step: Step | string;
  /** ms since the epoch. */
  start: number;
  stop: number | null;
  ok: boolean | null;
  detail?: string;
}

export interface ReportAttempt {
  attempt: number;
  host: string;
  verdict: string;
  ms: number | null;
  reason?: string;
  steps: StepSpan[];
  notes: string[];
}

export interface ReportCrash {
  title: string;
  bucket: string;
  kind?: string;
  module?: string;
  attribution?: string;
  /** `0x7E (SYSTEM_THREAD_EXCEPTION_NOT_HANDLED)` when the crash had a bugcheck. */
  bugcheck?: string;
  dump?: string;
}

export interface ReportCell {
  id: string;
  coords: ReportCoords;
  verdict: ReportVerdict;
  flaky: boolean;
  flakyWhy?: string;
  reason?: string;
  crash?: ReportCrash;
  latency?: Record<string, OperationLatency>;
  /** What the deciding attempt installed, by hash (the sign-off's record of the build that ran). */
  installed?: InstalledDriver[];
  /** How the deciding attempt measured latency (rounds or sequential; absent in runs before #17). */
  measurement?: MeasurementRecord;
  evidence: string[];
  attempts: ReportAttempt[];
}

export interface RunFolder {
  dir: string;
  runId: string;
  matrixName: string;
  matrixFile: string | null;
  /** Absolute path of the gate policy the matrix named, if any. */
  gate: string | null;
  started: string | null;
  ended: string | null;
  outcome: string;
  exitCode: number | null;
  tools: Record<string, unknown>;
  hosts: string[];
  cells: ReportCell[];
  /** Set when summary.json was missing or unreadable and was rebuilt from the journal. */
  rebuiltSummary: boolean;
  /** Cells whose journal has a second cell-end of another verdict (summary.json run.conflictingCellEnds). */
  conflictingCellEnds: Array<{ cell: string; kept: string; ignored: string }>;
}

function readJson<T>(file: string): T {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError({ file }, `cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new InputError({ file }, `not JSON (${(err as Error).message})`);
  }
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);

/** Coordinates from summary.json's coords (cellJson without id), whatever was recorded. */
export function coordsFrom(c: Record<string, unknown>): ReportCoords {
  const os = (c.os && typeof c.os === 'object' ? c.os : {}) as Record<string, unknown>;
  return {
    release: str(os.release) ?? 'unknown',
    patchLevel: str(os.patchLevel),
    build: num(os.build),
    ubr: num(os.ubr),
    kb: num(os.kb),
    family: str(os.family),
    driver: str(c.driver) ?? 'unknown',
    driverPath: str(c.driverPath),
    verifier: str(c.verifier) ?? 'none',
    workloads: strs(c.workloads),
    coexist: strs(c.coexist),
    repeat: num(c.repeat) ?? 1,
    tags: strs(c.tags),
  };
}

function bugcheckText(b: unknown): string | undefined {
  if (!b || typeof b !== 'object') return undefined;
  const o = b as { code?: unknown; codeHex?: unknown; name?: unknown };
  const hex = typeof o.codeHex === 'string' ? o.codeHex : typeof o.code === 'number' ? `0x${o.code.toString(16).toUpperCase()}` : null;
  if (!hex) return undefined;
  return typeof o.name === 'string' && o.name ? `${hex} (${o.name})` : hex;
}

/** Step spans per `cell/attempt` from the journal's step-begin/step-end and notes. */
function stepsFromJournal(events: readonly JournalEvent[]): Map<string, { steps: StepSpan[]; notes: string[] }> {
  const out = new Map<string, { steps: StepSpan[]; notes: string[] }>();
  const slot = (cell: string, attempt: number) => {
    const key = `${cell}/${attempt}`;
    let s = out.get(key);
    if (!s) out.set(key, (s = { steps: [], notes: [] }));
    return s;
  };
  for (const e of events) {
    if (e.type === 'step-begin') {
      slot(e.cell, e.attempt).steps.push({ step: e.step, start: Date.parse(e.at), stop: null, ok: null });
    } else if (e.type === 'step-end') {
      const s = slot(e.cell, e.attempt);
      const open = [...s.steps].reverse().find((x) => x.step === e.step && x.stop === null);
      const stop = Date.parse(e.at);
      if (open) {
        open.stop = stop;
        open.ok = e.ok;
        if (e.detail) open.detail = e.detail;
      } else {
        // A step-end without its begin (journal from a merge): its length says where it began.
        s.steps.push({ step: e.step, start: stop - e.ms, stop, ok: e.ok, ...(e.detail ? { detail: e.detail } : {}) });
      }
    } else if (e.type === 'note') {
      slot(e.cell, e.attempt).notes.push(e.message);
    }
  }
  return out;
}

export function cellFromSummary(c: SummaryCell, steps: Map<string, { steps: StepSpan[]; notes: string[] }>): ReportCell {
  const cell: ReportCell = {
    id: c.id,
    coords: coordsFrom(c.coords),
    verdict: c.verdict ?? 'unfinished',
    flaky: c.flaky === true,
    evidence: Array.isArray(c.evidence) ? c.evidence.map(String) : [],
    attempts: (c.attemptLog ?? []).map((a) => {
      const s = steps.get(`${c.id}/${a.attempt}`);
      return {
        attempt: a.attempt,
        host: a.host,
        verdict: a.verdict,
        ms: a.ms,
        ...(a.reason ? { reason: a.reason } : {}),
        steps: s?.steps ?? [],
        notes: s?.notes ?? [],
      };
    }),
  };
  if (c.flakyWhy) cell.flakyWhy = c.flakyWhy;
  if (c.reason) cell.reason = c.reason;
  if (c.crash) {
    const k = c.crash;
    const bc = bugcheckText(k.bugcheck);
    cell.crash = {
      title: String(k.title),
      bucket: String(k.bucket),
      ...(k.kind ? { kind: k.kind } : {}),
      ...(k.module ? { module: k.module } : {}),
      ...(k.attribution ? { attribution: k.attribution } : {}),
      ...(bc ? { bugcheck: bc } : {}),
      ...(k.dump ? { dump: k.dump } : {}),
    };
  }
  if (c.latency && typeof c.latency === 'object') cell.latency = readLatency(c.latency);
  if (Array.isArray(c.installed)) cell.installed = c.installed;
  if (c.measurement && typeof c.measurement === 'object' && (c.measurement.method === 'rounds' || c.measurement.method === 'sequential')) cell.measurement = c.measurement;
  return cell;
}

/** A latency interval from summary.json: two finite numbers, low ≤ high, or nothing. The gate judges
 * limits by it, so a malformed one is dropped (its step falls back to point figures), never trusted. */
function intervalOf(v: unknown): [number, number] | undefined {
  if (!Array.isArray(v) || v.length !== 2) return undefined;
  const [lo, hi] = v as unknown[];
  return typeof lo === 'number' && typeof hi === 'number' && Number.isFinite(lo) && Number.isFinite(hi) && lo <= hi ? [lo, hi] : undefined;
}

/** A cell's latency with its intervals read typed; the point figures are kept as written. */
function readLatency(raw: Record<string, OperationLatency>): Record<string, OperationLatency> {
  // fromEntries: a step named "__proto__" stays an own key, never the object's prototype.
  return Object.fromEntries(
    Object.entries(raw).map(([op, l]) => {
      if (!l || typeof l !== 'object') return [op, l];
      const { overheadP50CiUs, overheadP99CiUs, ...rest } = l;
      const c50 = intervalOf(overheadP50CiUs);
      const c99 = intervalOf(overheadP99CiUs);
      return [op, { ...rest, ...(c50 ? { overheadP50CiUs: c50 } : {}), ...(c99 ? { overheadP99CiUs: c99 } : {}) }];
    }),
  );
}

export interface ReadRunFolderOptions {
  /** Skip the journal (no step timelines); for callers that need verdicts only (gate, history). */
  steps?: boolean;
}

/** Reads a run folder; UsageError when it is not one, InputError when a file in it is broken. */
export function readRunFolder(dirArg: string, opts: ReadRunFolderOptions = {}): RunFolder {
  const dir = path.resolve(dirArg);
  const runFile = path.join(dir, 'run.json');
  const summaryFile = path.join(dir, 'summary.json');
  const journalFile = path.join(dir, 'journal.ndjson');
  if (!existsSync(runFile) && !existsSync(summaryFile)) throw new UsageError(`${dir} is not a run folder (no run.json or summary.json)`);
  const run: Partial<RunJson> = existsSync(runFile) ? readJson<Partial<RunJson>>(runFile) : {};
  let events: JournalEvent[] | null = null;
  const journal = (): JournalEvent[] => (events ??= existsSync(journalFile) ? readJournal(journalFile).events : []);

  let summary: SummaryJson;
  let rebuilt = false;
  if (existsSync(summaryFile)) {
    summary = readJson<SummaryJson>(summaryFile);
    if (!summary || typeof summary !== 'object' || !Array.isArray(summary.cells) || !summary.run) {
      throw new InputError({ file: summaryFile }, 'expected a summary.json with "run" and "cells"');
    }
  } else if (existsSync(journalFile)) {
    summary = buildSummary(replay(journal()));
    rebuilt = true;
  } else {
    throw new UsageError(`${dir} has neither summary.json nor journal.ndjson: nothing to report`);
  }

  const steps = opts.steps === false ? new Map() : stepsFromJournal(journal());
  const tools = (run.tools ?? summary.run.tools ?? {}) as Record<string, unknown>;
  return {
    dir,
    runId: run.runId ?? summary.run.id ?? path.basename(dir),
    matrixName: run.matrix?.name ?? summary.run.matrix?.name ?? 'unknown',
    matrixFile: run.matrix?.file ?? summary.run.matrix?.file ?? null,
    gate: run.matrix?.gate ?? null,
    started: summary.run.started ?? run.started ?? null,
    ended: summary.run.ended ?? run.ended ?? null,
    outcome: summary.run.outcome,
    exitCode: summary.run.exitCode ?? null,
    tools: tools && typeof tools === 'object' ? tools : {},
    hosts: (summary.run.hosts ?? []).map((h) => h.name),
    cells: summary.cells.map((c) => cellFromSummary(c, steps)),
    rebuiltSummary: rebuilt,
    conflictingCellEnds: conflictsFrom(summary.run.conflictingCellEnds),
  };
}

/** summary.json's run.conflictingCellEnds, whatever was recorded: entries without a cell are dropped. */
function conflictsFrom(v: unknown): RunFolder['conflictingCellEnds'] {
  if (!Array.isArray(v)) return [];
  return v
    .filter((c): c is Record<string, unknown> => c !== null && typeof c === 'object' && typeof (c as Record<string, unknown>).cell === 'string')
    .map((c) => ({ cell: String(c.cell), kept: String(c.kept), ignored: String(c.ignored) }));
}

/**
 * The absolute path of an evidence file, or null when it is missing or would leave the run folder
 * (evidence paths are data: `../../etc/passwd` must not be read into a report).
 */
export function evidencePath(folder: Pick<RunFolder, 'dir'>, rel: string): string | null {
  if (path.isAbsolute(rel)) return null;
  const abs = path.resolve(folder.dir, rel);
  const root = path.resolve(folder.dir) + path.sep;
  if (!abs.startsWith(root) || !existsSync(abs)) return null;
  try {
    // A symbolic link inside the folder may still point outside it.
    const real = realpathSync(abs);
    if (!real.startsWith(realpathSync(folder.dir) + path.sep)) return null;
  } catch {
    return null;
  }
  return abs;
}

/** The last `maxBytes` of a file as text (console logs can be large), or null when unreadable. */
export function readTail(file: string, maxBytes: number): { text: string; truncated: boolean } | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, maxBytes);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    let text = buf.toString('utf8');
    // Cut at a line start so the tail does not begin with half a line (or half a UTF-8 sequence).
    if (size > len) text = text.slice(text.indexOf('\n') + 1);
    return { text, truncated: size > len };
  } finally {
    closeSync(fd);
  }
}

/** Evidence of a cell with this base name (console.log, latency.json, triage.json), last attempt first. */
export function findEvidence(folder: RunFolder, cell: ReportCell, baseName: string): string | null {
  for (const rel of [...cell.evidence].reverse()) {
    if (path.posix.basename(rel) !== baseName) continue;
    const abs = evidencePath(folder, rel);
    if (abs) return abs;
  }
  return null;
}
