// The run journal: journal.ndjson, one JSON event per line, append-only. It is the source of truth
// for --resume and for summary.json. Every event is one write(2) followed by fsync(2) before append()
// returns, so a SIGKILL (or power loss) at any moment loses at most the event being written, and
// that event shows up as a torn last line, which reading tolerates and reports.
import { closeSync, fsyncSync, ftruncateSync, openSync, readFileSync, writeSync, existsSync } from 'node:fs';
import { InputError } from '../lib/errors.ts';
import { escapeControls } from '../lib/printable.ts';
import type { AttemptResult, Step, Verdict } from './results.ts';

export const JOURNAL_FILE = 'journal.ndjson';

/** A cell's coordinates as run.json and summary.json show them (cellJson of commands/plan.ts). */
export type CellCoords = Record<string, unknown> & { id: string };

export interface RunOptionsRecord {
  shard: string | null;
  hosts: string[];
  policy: { maxInfraRetries: number; quarantineAfter: number; inconclusiveFraction: number };
  [key: string]: unknown;
}

export interface MatrixRecord {
  name: string;
  file: string;
  /** Cells of the whole plan (every shard): shards of one matrix share it; merge checks it. */
  totalCells: number;
  /** sha256 of the plan's sorted cell ids: "same matrix" for merge. */
  cellsHash: string;
}

export type RunOutcomeKind = 'passed' | 'failed' | 'inconclusive' | 'interrupted';
export type VerdictCounts = Partial<Record<Verdict | 'unfinished', number>>;

/** Every event of the journal, without the time stamp append() adds. One union, one `type` each. */
export type JournalEventBody =
  | { type: 'run-begin'; runId: string; matrix: MatrixRecord; cells: string[]; coords: CellCoords[]; options: RunOptionsRecord }
  | { type: 'run-resume'; runId: string; resumeCount: number; tornTail: { line: number; bytes: number } | null; hosts: string[] }
  /** What the provider cleanup hook removed before the first attempt (and on resume). */
  | { type: 'cleanup'; removed: string[]; error?: string }
  | { type: 'attempt-begin'; cell: string; attempt: number; host: string; slot: number }
  | { type: 'step-begin'; cell: string; attempt: number; step: Step }
  | { type: 'step-end'; cell: string; attempt: number; step: Step; ms: number; ok: boolean; detail?: string }
  | { type: 'note'; cell: string; attempt: number; message: string }
  /** `interrupted`: the run was stopped (SIGINT) during this attempt and its result is not final. */
  | { type: 'attempt-end'; cell: string; attempt: number; host: string; slot: number; ms: number; result: AttemptResult; interrupted?: boolean }
  /** Found on resume: the attempt began and never ended (the controller died). Not a result. */
  | { type: 'attempt-abandoned'; cell: string; attempt: number; host: string; slot: number }
  | {
      type: 'cell-end';
      cell: string;
      verdict: Verdict;
      /** Attempt numbers used by this cell, abandoned ones included. */
      attempts: number;
      /** The attempt whose result is the verdict (none when no host could run the cell). */
      decidedBy: number | null;
      flaky?: boolean;
      reason?: string;
    }
  | { type: 'host-quarantined'; host: string; reason: string; infraErrorsInRow: number }
  | { type: 'run-stopped'; reason: 'sigint' | 'inconclusive' }
  | { type: 'run-end'; outcome: RunOutcomeKind; exitCode: number; counts: VerdictCounts }
  /** Written by `fleetgate merge` before the events of each merged run. */
  | { type: 'merge'; from: string; runId: string };

export type JournalEvent = JournalEventBody & { at: string };
export type JournalEventType = JournalEvent['type'];
export type EventOf<T extends JournalEventType> = Extract<JournalEvent, { type: T }>;

// Checked on read: the fields replay relies on, per type, to the depth replay reads them (a hand-made or
// hostile journal must be refused with its line, not crash the fold: issue #16). Anything else is
// carried as written.
type FieldKind = 'string' | 'number' | 'object' | 'boolean' | 'string[]' | 'coords';
const REQUIRED: { [K in JournalEventType]: Record<string, FieldKind> } = {
  'run-begin': { runId: 'string', matrix: 'object', cells: 'string[]', coords: 'coords', options: 'object' },
  'run-resume': { runId: 'string', resumeCount: 'number', hosts: 'string[]' },
  cleanup: { removed: 'string[]' },
  'attempt-begin': { cell: 'string', attempt: 'number', host: 'string', slot: 'number' },
  'step-begin': { cell: 'string', attempt: 'number', step: 'string' },
  'step-end': { cell: 'string', attempt: 'number', step: 'string', ms: 'number', ok: 'boolean' },
  note: { cell: 'string', attempt: 'number', message: 'string' },
  'attempt-end': { cell: 'string', attempt: 'number', host: 'string', slot: 'number', result: 'object' },
  'attempt-abandoned': { cell: 'string', attempt: 'number' },
  'cell-end': { cell: 'string', verdict: 'string', attempts: 'number' },
  'host-quarantined': { host: 'string', reason: 'string' },
  'run-stopped': { reason: 'string' },
  'run-end': { outcome: 'string', exitCode: 'number' },
  merge: { from: 'string', runId: 'string' },
};

export function isJournalEventType(t: unknown): t is JournalEventType {
  return typeof t === 'string' && Object.hasOwn(REQUIRED, t);
}

/** Checks one parsed line; returns what is wrong with it, or null. */
function problemOf(v: unknown): string | null {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'expected a JSON object';
  const o = v as Record<string, unknown>;
  if (!isJournalEventType(o.type)) return `unknown event type ${JSON.stringify(o.type)}`;
  if (typeof o.at !== 'string') return `${o.type} event without "at"`;
  for (const [key, kind] of Object.entries(REQUIRED[o.type])) {
    if (!isKind(o[key], kind)) return `${o.type} event: "${key}" should be ${KIND_TEXT[kind]}`;
  }
  // Nested fields replay reads: the run's hosts.
  if (o.type === 'run-begin' && !isKind((o.options as Record<string, unknown>).hosts, 'string[]')) return `run-begin event: "options.hosts" should be ${KIND_TEXT['string[]']}`;
  return null;
}

const KIND_TEXT: Record<FieldKind, string> = {
  string: 'a string', number: 'a number', boolean: 'a boolean', object: 'a JSON object', 'string[]': 'an array of strings',
  coords: 'an array of objects with a string "id"',
};

function isKind(v: unknown, kind: FieldKind): boolean {
  switch (kind) {
    case 'object':
      return v !== null && typeof v === 'object' && !Array.isArray(v);
    case 'string[]':
      return Array.isArray(v) && v.every((x) => typeof x === 'string');
    case 'coords':
      return Array.isArray(v) && v.every((x) => isKind(x, 'object') && typeof (x as { id?: unknown }).id === 'string');
    default:
      return typeof v === kind;
  }
}

export interface TornTail {
  /** 1-based line number of the torn line. */
  line: number;
  /** Byte offset where the torn line starts (everything before it is whole events). */
  offset: number;
  bytes: number;
}

export interface JournalRead {
  events: JournalEvent[];
  /** The last line was cut while being written (no newline and not a whole event). */
  torn: TornTail | null;
  /** Bytes of whole events, i.e. where the next event goes once a torn tail is cut off. */
  goodBytes: number;
}

/**
 * Reads a journal. A torn last line is reported in `torn`, not thrown; any other line that is not a
 * whole event is an InputError naming the file and line.
 */
export function readJournal(file: string): JournalRead {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError({ file }, code === 'ENOENT' ? 'journal not found' : `cannot read journal (${code ?? String(err)})`);
  }
  return parseJournal(file, buf);
}

export function parseJournal(file: string, buf: Buffer): JournalRead {
  const events: JournalEvent[] = [];
  let start = 0;
  let line = 0;
  while (start < buf.length) {
    line++;
    const nl = buf.indexOf(0x0a, start);
    const last = nl === -1;
    const end = last ? buf.length : nl;
    const text = buf.subarray(start, end).toString('utf8');
    let parsed: unknown;
    let problem: string | null;
    try {
      parsed = JSON.parse(text);
      problem = problemOf(parsed);
    } catch (err) {
      problem = `not JSON (${(err as Error).message})`;
    }
    if (problem !== null) {
      // Only the last line can be torn: it was the write in flight when the controller died.
      if (last) return { events, torn: { line, offset: start, bytes: buf.length - start }, goodBytes: start };
      throw new InputError({ file, line }, `bad journal line: ${problem}`);
    }
    if (last) {
      // A whole event whose newline was not written: keep it; the writer adds the newline first.
      events.push(parsed as JournalEvent);
      return { events, torn: null, goodBytes: buf.length };
    }
    events.push(parsed as JournalEvent);
    start = nl + 1;
  }
  return { events, torn: null, goodBytes: buf.length };
}

/** Appends events, each flushed to disk before append() returns. */
export class JournalWriter {
  readonly file: string;
  #fd: number | null;
  #listeners: Array<(e: JournalEvent) => void> = [];
  readonly #now: () => Date;

  private constructor(file: string, fd: number, now: () => Date) {
    this.file = file;
    this.#fd = fd;
    this.#now = now;
  }

  /** A new journal; refuses to overwrite one. */
  static create(file: string, opts: { now?: () => Date } = {}): JournalWriter {
    const fd = openSync(file, 'wx');
    return new JournalWriter(file, fd, opts.now ?? (() => new Date()));
  }

  /**
   * Opens an existing journal for appending after reading it: a torn tail is cut off (it was never
   * a whole event) and a missing final newline is added, so the next event starts its own line.
   */
  static reopen(file: string, read: JournalRead, opts: { now?: () => Date } = {}): JournalWriter {
    const fd = openSync(file, existsSync(file) ? 'r+' : 'w+');
    ftruncateSync(fd, read.goodBytes);
    closeSync(fd);
    const afd = openSync(file, 'a');
    const w = new JournalWriter(file, afd, opts.now ?? (() => new Date()));
    if (read.goodBytes > 0) {
      const raw = readFileSync(file);
      if (raw[raw.length - 1] !== 0x0a) w.#writeLine('\n');
    }
    return w;
  }

  /** Called with every event after it is on disk (the live summary and state follow the journal). */
  onAppend(listener: (e: JournalEvent) => void): void {
    this.#listeners.push(listener);
  }

  append<E extends JournalEventBody>(body: E): E & { at: string } {
    const event = { ...body, at: this.#now().toISOString() } as E & { at: string };
    this.#writeLine(`${JSON.stringify(event)}\n`);
    for (const l of this.#listeners) l(event as JournalEvent);
    return event;
  }

  #writeLine(text: string): void {
    if (this.#fd === null) throw new Error(`journal ${this.file} is closed`);
    const buf = Buffer.from(text, 'utf8');
    // One write(2) for the whole line (O_APPEND): a crash leaves at most this line torn.
    let done = writeSync(this.#fd, buf, 0, buf.length);
    while (done < buf.length) done += writeSync(this.#fd, buf, done, buf.length - done);
    fsyncSync(this.#fd);
  }

  close(): void {
    if (this.#fd !== null) {
      closeSync(this.#fd);
      this.#fd = null;
    }
  }
}

// Replay ----------------------------------------------------------------------------------------

export interface AttemptState {
  attempt: number;
  host: string;
  slot: number;
  began: string;
  ended: string | null;
  ms: number | null;
  result: AttemptResult | null;
  abandoned: boolean;
  interrupted: boolean;
}

export interface CellState {
  id: string;
  attempts: AttemptState[];
  /** Highest attempt number seen (began, ended or abandoned): the next attempt is this + 1. */
  maxAttempt: number;
  end: EventOf<'cell-end'> | null;
}

export interface RunState {
  runId: string | null;
  matrix: MatrixRecord | null;
  /** Cell ids in plan order (merged runs: each part's order, one after another). */
  order: string[];
  coords: Map<string, CellCoords>;
  options: RunOptionsRecord | null;
  cells: Map<string, CellState>;
  began: string | null;
  lastAt: string | null;
  end: EventOf<'run-end'> | null;
  stopped: EventOf<'run-stopped'>['reason'] | null;
  quarantined: Map<string, string>;
  cleanups: string[];
  resumes: number;
  hosts: Set<string>;
  merged: string[];
  /** cell-end events for a cell that already had one (never written by the scheduler; counted). */
  duplicateEnds: number;
  /**
   * The duplicates whose verdict differs from the first (issue #16 row 11): the first still decides
   * (it is what the scheduler acted on), and these are reported, in the run's output and summary.
   */
  conflictingEnds: ConflictingEnd[];
}

export interface ConflictingEnd {
  cell: string;
  /** The first cell-end's verdict: the cell's verdict. */
  kept: Verdict;
  /** The later cell-end's verdict, not used. */
  ignored: Verdict;
  keptAt: string;
  ignoredAt: string;
}

export function emptyState(): RunState {
  return {
    runId: null, matrix: null, order: [], coords: new Map(), options: null, cells: new Map(), began: null, lastAt: null,
    end: null, stopped: null, quarantined: new Map(), cleanups: [], resumes: 0, hosts: new Set(), merged: [], duplicateEnds: 0,
    conflictingEnds: [],
  };
}

function cellOf(s: RunState, id: string): CellState {
  let c = s.cells.get(id);
  if (!c) {
    c = { id, attempts: [], maxAttempt: 0, end: null };
    s.cells.set(id, c);
    s.order.push(id);
  }
  return c;
}

function attemptOf(c: CellState, n: number, host: string, slot: number, at: string): AttemptState {
  let a = c.attempts.find((x) => x.attempt === n);
  if (!a) {
    a = { attempt: n, host, slot, began: at, ended: null, ms: null, result: null, abandoned: false, interrupted: false };
    c.attempts.push(a);
  }
  c.maxAttempt = Math.max(c.maxAttempt, n);
  return a;
}

/** Folds one event into the state. The scheduler's live state and every reader use this same fold. */
export function applyEvent(s: RunState, e: JournalEvent): void {
  s.lastAt = e.at;
  switch (e.type) {
    case 'run-begin':
      // A merged journal has one run-begin per part: cells add up rather than replace.
      s.runId ??= e.runId;
      s.matrix ??= e.matrix;
      s.options ??= e.options;
      s.began ??= e.at;
      for (const c of e.coords) s.coords.set(c.id, c);
      for (const id of e.cells) cellOf(s, id);
      for (const h of e.options.hosts) s.hosts.add(h);
      s.end = null;
      return;
    case 'run-resume':
      s.resumes++;
      s.end = null;
      s.stopped = null;
      // Quarantine holds for one controller's life: a resumed run starts with every host usable.
      s.quarantined.clear();
      for (const h of e.hosts) s.hosts.add(h);
      return;
    case 'cleanup':
      s.cleanups.push(...e.removed);
      return;
    case 'attempt-begin':
      attemptOf(cellOf(s, e.cell), e.attempt, e.host, e.slot, e.at);
      s.hosts.add(e.host);
      return;
    case 'step-begin':
    case 'step-end':
    case 'note':
      return;
    case 'attempt-end': {
      const a = attemptOf(cellOf(s, e.cell), e.attempt, e.host, e.slot, e.at);
      a.ended = e.at;
      a.ms = e.ms;
      a.result = e.result;
      a.interrupted = e.interrupted === true;
      return;
    }
    case 'attempt-abandoned': {
      const c = cellOf(s, e.cell);
      const a = attemptOf(c, e.attempt, e.host ?? '?', e.slot ?? 0, e.at);
      a.abandoned = true;
      return;
    }
    case 'cell-end': {
      const c = cellOf(s, e.cell);
      if (!c.end) c.end = e;
      else {
        s.duplicateEnds++;
        if (c.end.verdict !== e.verdict) s.conflictingEnds.push({ cell: e.cell, kept: c.end.verdict, ignored: e.verdict, keptAt: c.end.at, ignoredAt: e.at });
      }
      return;
    }
    case 'host-quarantined':
      s.quarantined.set(e.host, e.reason);
      return;
    case 'run-stopped':
      s.stopped = e.reason;
      return;
    case 'run-end':
      s.end = e;
      return;
    case 'merge':
      s.merged.push(e.from);
      return;
    default: {
      const never: never = e;
      throw new Error(`unhandled journal event ${JSON.stringify(never)}`);
    }
  }
}

export function replay(events: readonly JournalEvent[]): RunState {
  const s = emptyState();
  for (const e of events) applyEvent(s, e);
  return s;
}

/** One line for a conflicting cell-end, the same in the run's output and in summary.md. */
export function conflictingEndText(c: { cell: string; kept: string; ignored: string }): string {
  // A hand-made journal may hold anything: for a terminal, controls escaped visibly (#16 row 8).
  return escapeControls(`conflicting cell-end records for cell ${c.cell}: kept ${c.kept} (the first), ignored ${c.ignored} (a later one)`);
}

/** Attempts that began and neither ended nor were marked abandoned: the controller died in them. */
export function openAttempts(s: RunState): Array<{ cell: string } & AttemptState> {
  const out: Array<{ cell: string } & AttemptState> = [];
  for (const c of s.cells.values()) for (const a of c.attempts) if (a.ended === null && !a.abandoned) out.push({ cell: c.id, ...a });
  return out;
}
