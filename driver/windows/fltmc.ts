// Parsers for `fltmc filters` and `fltmc instances` text (windows.md §3), tested on the real listings in
// shared/samples/fltmc. Pure: text in, rows out, or a FltmcError for fltmc's own error lines.
//
// What real listings do, and how this copes:
//   - column widths differ between Windows versions: columns come from the dashes line under the header;
//   - a value wider than its column pushes every later column right (printf-style): a running drift;
//   - a console narrower than the header wraps header, dashes and rows (PowerShell window): lines cut at
//     the width of the dashes line are joined back;
//   - a listing can arrive without its header (cut excerpts): rows are read by the shape of each value;
//   - header words are translated on non-English Windows: never used; tables are told apart by their
//     number of columns (4 for filters, 5 or more for instances);
//   - pasted listings carry prompts (`PS C:\> fltmc filters`, `C:\>fltmc`, or a bare `>fltmc` when the
//     path was cut off) and markdown back-ticks: tolerated; a prompt line ends the table above it.
//
// fltmc's text is untrusted tool output (issue #16): it is cut to FLTMC_MAX_CHARS and lines to
// FLTMC_MAX_LINE_CHARS before it is read, the cut is reported (readFltmcFilters / readFltmcInstances say
// so; parseFltmc* refuse a cut listing), and every step is linear in the text: no pattern here can
// backtrack over a long run of spaces, and a wrapped row is joined from at most FLTMC_MAX_ROW_LINES lines.
import { EXIT, FleetgateError, InputError } from '../../lib/errors.ts';
import { boundText, type Truncation } from '../../lib/text-bounds.ts';

/** Characters of fltmc output read (1 MiB; a listing of a loaded system is a few KB). */
export const FLTMC_MAX_CHARS = 1024 * 1024;
/** Characters read of each line (fltmc's rows are under 200; a console is at most a few thousand wide). */
export const FLTMC_MAX_LINE_CHARS = 16 * 1024;
/** Console lines joined back into one wrapped row (a 200-character row on a 25-column console is 8). */
export const FLTMC_MAX_ROW_LINES = 8;

/** Rows read from fltmc output, and what was cut from it to FLTMC_MAX_CHARS / FLTMC_MAX_LINE_CHARS. */
export interface FltmcRead<T> {
  rows: T[];
  /** null when the output was read whole. */
  truncated: Truncation | null;
}

const bounded = (text: string) => boundText('fltmc output', text, { maxChars: FLTMC_MAX_CHARS, maxLineChars: FLTMC_MAX_LINE_CHARS });

export interface FltmcFilter {
  name: string;
  /** Number of instances; null for legacy filters, which show none. */
  instances: number | null;
  /** As printed: "385100", legacy "389998.99", or "-". */
  altitude: string;
  /** As printed: "0" or "<Legacy>". */
  frame: string;
  legacy: boolean;
  /** 1-based line in the text given. */
  line: number;
}

export interface FltmcInstance {
  filter: string;
  /** Drive letter, `\Device\...` name, mount-point path, or '' when fltmc printed none. */
  volume: string;
  altitude: string;
  instance: string | null;
  frame: number | null;
  /** SprtFtrs column (hex, Windows 10+), when printed. */
  supportedFeatures?: string;
  /** VlStatus column (e.g. "Detached"), when printed and not empty. */
  volumeStatus?: string;
  /** False when the row was cut before the frame (truncated excerpts). */
  complete: boolean;
  line: number;
}

export type FltmcErrorKind =
  | 'access-denied'
  | 'do-not-detach'
  | 'filter-not-found'
  | 'altitude-collision'
  | 'instance-name-collision'
  | 'file-not-found'
  | 'already-exists'
  | 'code-integrity'
  | 'blocked-by-policy'
  | 'driver-init-failed'
  | 'unknown';

/** HRESULTs fltmc prints. Names from winerror.h; which fltmc command reports each is marked. */
export const FLTMC_HRESULTS: Readonly<Record<string, { kind: FltmcErrorKind; meaning: string }>> = {
  '0x80070005': { kind: 'access-denied', meaning: 'E_ACCESSDENIED: access denied, fltmc needs an elevated (administrator) session (windows.md §3)' },
  '0x801f0010': { kind: 'do-not-detach', meaning: 'ERROR_FLT_DO_NOT_DETACH: the filter refused to unload (windows.md §3)' },
  '0x801f0013': { kind: 'filter-not-found', meaning: 'ERROR_FLT_FILTER_NOT_FOUND: no such filter is loaded (that fltmc unload reports this is unverified)' },
  '0x801f0011': { kind: 'altitude-collision', meaning: 'ERROR_FLT_INSTANCE_ALTITUDE_COLLISION: an instance already exists at this altitude on the volume' },
  '0x801f0012': { kind: 'instance-name-collision', meaning: 'ERROR_FLT_INSTANCE_NAME_COLLISION: an instance with this name already exists on the volume' },
  '0x80070002': { kind: 'file-not-found', meaning: 'ERROR_FILE_NOT_FOUND: service or driver file not found (unverified for fltmc load)' },
  '0x800700b7': { kind: 'already-exists', meaning: 'ERROR_ALREADY_EXISTS: probably already loaded (unverified for fltmc load)' },
  '0x80070241': { kind: 'code-integrity', meaning: 'ERROR_INVALID_IMAGE_HASH: code integrity refused the driver image, its signature could not be verified (unverified for fltmc load)' },
  '0x800704ec': { kind: 'blocked-by-policy', meaning: 'ERROR_ACCESS_DISABLED_BY_POLICY: a code integrity policy (WDAC, the vulnerable driver blocklist) blocks the driver (unverified for fltmc load)' },
  '0x8007001f': { kind: 'driver-init-failed', meaning: "ERROR_GEN_FAILURE: the driver's DriverEntry failed, e.g. with STATUS_UNSUCCESSFUL (unverified for fltmc load)" },
  '0x8007045a': { kind: 'driver-init-failed', meaning: "ERROR_DLL_INIT_FAILED: the driver's initialization routine failed (unverified for fltmc load)" },
};

/**
 * Load errors that are the driver's own doing once its package installed (the service key and the file
 * are there, the session is elevated): code integrity refusing the image, a policy blocking it, its
 * DriverEntry failing. An HRESULT nobody listed is counted with them: DriverEntry may return any
 * NTSTATUS, and the harness's own causes (not elevated, no such service) have codes of their own.
 */
export const PRODUCT_LOAD_KINDS: ReadonlySet<FltmcErrorKind> = new Set(['code-integrity', 'blocked-by-policy', 'driver-init-failed', 'unknown']);

export function isProductLoadRefusal(err: FltmcError): boolean {
  return err.operation?.toLowerCase() !== 'unload' && PRODUCT_LOAD_KINDS.has(err.kind);
}

/** fltmc printed an error line instead of (or after) its output. */
export class FltmcError extends FleetgateError {
  readonly hresult: string;
  readonly kind: FltmcErrorKind;
  /** English operation word when the line was English ("Filter listing", "Unload", "Load"), else null. */
  readonly operation: string | null;
  readonly rawLine: string;
  constructor(hresult: string, operation: string | null, rawLine: string) {
    const known = FLTMC_HRESULTS[hresult];
    const kind = known?.kind ?? 'unknown';
    const productKind = kind === 'code-integrity' || kind === 'blocked-by-policy' || kind === 'driver-init-failed';
    super(`fltmc ${operation ? `${operation.toLowerCase()} ` : ''}failed with ${hresult}${known ? `: ${known.meaning}` : ''} (fltmc printed: ${rawLine.trim()})`, productKind ? EXIT.productFailure : EXIT.inconclusive);
    this.hresult = hresult;
    this.kind = kind;
    this.operation = operation;
    this.rawLine = rawLine;
  }
}

// ---------------------------------------------------------------- lines

interface Line {
  text: string;
  no: number;
  /** Console lines this row was joined from (1 when it was not wrapped). */
  parts?: number;
  /** Exactly the width a wrapped console cut its table at: the row may go on in the next line. */
  cut?: boolean;
}

const DASHES = /^\s*-{2,}(?:\s+-+)*\s*$/;
// A command prompt: `PS C:\>`, `PS>`, `C:\Users\x>`, or a bare `>` left when the path was cut off. No row
// starts with `>` (rows start with the filter name).
const PROMPT = /^(?:PS(?: [^>]*)?>|[A-Za-z]:\\[^>]*>|\s*>)/;
// An HRESULT ending the line, once trailing spaces and a full stop are taken off (hexAtEnd): the pattern
// runs on the last 11 characters only.
const HEX_ERROR = /(?:^|[\s:])(0x8[0-9a-f]{7})$/i;
// `<operation> failed with error: 0x...`: the phrase is found by itself, then what is around it is read by
// position (the old one-pattern form backtracked in the cube of a run of spaces: row 2 of #16).
const FAILED_WITH_ERROR = /failed with error:/gi;
const HRESULT_START = /^0x[0-9a-f]{1,8}/i;
const WHITESPACE = /\s/;
const LINE_BREAK = /[\n\r\u2028\u2029]/;

function hexAtEnd(text: string): string | null {
  let t = text.trimEnd();
  if (t.endsWith('.')) t = t.slice(0, -1).trimEnd();
  return HEX_ERROR.exec(t.slice(-11))?.[1] ?? null;
}

/** `<operation> failed with error: <hresult>`: the operation ('' when none) and the HRESULT, or null. */
function englishError(text: string): { operation: string; hresult: string } | null {
  FAILED_WITH_ERROR.lastIndex = 0;
  for (let m = FAILED_WITH_ERROR.exec(text); m; m = FAILED_WITH_ERROR.exec(text)) {
    const at = m.index;
    // The phrase follows at least one space; the operation is what comes before it, trimmed, on one line.
    if (at === 0 || !WHITESPACE.test(text[at - 1]!)) continue;
    const operation = text.slice(0, at).trim();
    if (LINE_BREAK.test(operation)) return null;
    const code = HRESULT_START.exec(text.slice(at + m[0].length).trimStart());
    if (code) return { operation, hresult: code[0] };
  }
  return null;
}

function cleanLines(text: string): Line[] {
  return text.split(/\r\n|\n|\r/).map((raw, i) => {
    // Trailing spaces are kept: a wrapped console cuts lines at a fixed width, spaces included.
    let t = raw;
    // Markdown residue in pasted listings: fences and back-ticks at the line ends.
    if (/^\s*```/.test(t)) t = '';
    t = t.replace(/^`/, '').replace(/`\s*$/, '');
    return { text: t, no: i + 1 };
  });
}

/**
 * The first fltmc error line in `text`, or null. Recognised by its HRESULT, so any language works. Reads
 * the text within FLTMC_MAX_CHARS / FLTMC_MAX_LINE_CHARS (an error line is short and comes first).
 */
export function findFltmcError(text: string): FltmcError | null {
  return errorIn(cleanLines(bounded(text).text));
}

function errorIn(lines: Line[]): FltmcError | null {
  for (const l of lines) {
    const e = lineError(l.text);
    if (e) return e;
  }
  return null;
}

function lineError(text: string): FltmcError | null {
  if (PROMPT.test(text)) return null;
  const en = englishError(text);
  if (en) return new FltmcError(normalizeHresult(en.hresult), en.operation || null, text);
  const hex = hexAtEnd(text);
  // A table row never ends in an 0x8....... value (SprtFtrs is printed without 0x).
  if (hex && !/^\s*-/.test(text)) return new FltmcError(normalizeHresult(hex), null, text);
  return null;
}

function normalizeHresult(h: string): string {
  return `0x${h.slice(2).toLowerCase().padStart(8, '0')}`;
}

// ---------------------------------------------------------------- tables

interface Span {
  start: number;
  end: number;
}
interface Table {
  spans: Span[];
  rows: Line[];
  /** The console width the table was cut at, when its dashes line wrapped. */
  width: number | null;
}
interface Listing {
  tables: Table[];
  /** Rows outside any table (a listing without its header). */
  orphans: Line[];
}

function spansOf(dashes: string): Span[] {
  return [...dashes.matchAll(/-+/g)].map((m) => ({ start: m.index, end: m.index + m[0].length }));
}

function splitListing(lines: Line[]): Listing {
  const tables: Table[] = [];
  const orphans: Line[] = [];
  // Header lines are skipped by position (the line(s) just before the dashes), never by their words.
  const headerLines = new Set<number>();
  const tableStarts = new Map<number, { spans: Span[]; next: number; width: number | null }>();
  for (let k = 0; k < lines.length; k++) {
    if (!DASHES.test(lines[k]!.text)) continue;
    let dashes = lines[k]!.text;
    let next = k + 1;
    let width: number | null = null;
    // Wrapped console: the dashes line continues on the next line (dashes and spaces only, shorter than
    // the first part), cut at the console width.
    const cont = lines[next]?.text ?? '';
    if (cont.includes('-') && /^[ -]*$/.test(cont) && cont.trimEnd().length < dashes.length) {
      width = dashes.length;
      dashes += lines[next]!.text;
      next++;
      headerLines.add(k - 1);
      if (k >= 2 && lines[k - 2]!.text.length === width) headerLines.add(k - 2);
    } else if (k >= 1) {
      headerLines.add(k - 1);
    }
    tableStarts.set(k, { spans: spansOf(dashes), next, width });
    k = next - 1;
  }
  let current: Table | null = null;
  let i = 0;
  while (i < lines.length) {
    const start = tableStarts.get(i);
    if (start) {
      current = { spans: start.spans, rows: [], width: start.width };
      tables.push(current);
      i = start.next;
      continue;
    }
    const l = lines[i]!;
    if (!l.text.trim().length || PROMPT.test(l.text) || lineError(l.text)) {
      current = null;
      i++;
      continue;
    }
    if (headerLines.has(i)) {
      i++;
      continue;
    }
    const row = l;
    const rows = current ? current.rows : orphans;
    const prev = rows[rows.length - 1];
    // Every row starts with the filter name in column 0: a line starting with a space inside a table is
    // the rest of a row the console wrapped.
    // A cut line's rest may start with anything: the cut can fall inside a value.
    const cut = current?.width != null && row.text.length === current.width;
    if (current && prev && /^\s/.test(row.text) && (prev.parts ?? 1) < FLTMC_MAX_ROW_LINES) {
      prev.text += row.text;
      prev.cut = cut;
      prev.parts = (prev.parts ?? 1) + 1;
    } else rows.push({ ...row, cut });
    i++;
  }
  return { tables, orphans };
}

interface Chunk {
  text: string;
  start: number;
  end: number;
}

/** Values separated by two or more spaces (fltmc pads columns with at least two). */
function chunksOf(row: string): Chunk[] {
  return [...row.matchAll(/\S+(?: \S+)*/g)].map((m) => ({ text: m[0], start: m.index, end: m.index + m[0].length }));
}

/** Assigns values to columns by position, letting an over-wide value push later columns right. */
function byPosition(row: string, spans: Span[]): Array<string | undefined> {
  const cells: Array<string | undefined> = new Array(spans.length).fill(undefined);
  let drift = 0;
  let col = 0;
  for (const c of chunksOf(row)) {
    while (col < spans.length - 1 && c.start >= spans[col]!.end + drift) col++;
    if (col >= spans.length) break;
    cells[col] = cells[col] === undefined ? c.text : `${cells[col]}  ${c.text}`;
    const over = c.end - (spans[col]!.end + drift);
    if (over > 0) drift += over;
    col++;
    if (col >= spans.length) col = spans.length - 1;
  }
  return cells;
}

// Altitudes are printed without leading zeros (SprtFtrs, which has them, must not pass for one).
const ALTITUDE = /^(?:[1-9]\d*(?:\.\d+)?|-)$/;
const looksLikeVolume = (s: string): boolean => /[:\\]/.test(s);

/**
 * Parses rows; a line that is no row by itself is taken as the wrapped rest of the row before it (a
 * console narrower than the listing, when the dashes line did not wrap and so gave no width).
 */
function parseRows<T>(rows: Line[], parse: (l: Line) => T | null): T[] {
  const out: T[] = [];
  let prev: Line | null = null;
  const incomplete = (t: T | undefined): boolean => (t as { complete?: boolean } | undefined)?.complete === false;
  // A row joined from FLTMC_MAX_ROW_LINES lines takes no more: each join re-reads the joined row, so
  // unbounded joins would be quadratic in the lines.
  const parts = (l: Line): number => l.parts ?? 1;
  for (const r of rows) {
    const p = parse(r);
    const joinable = prev !== null && parts(prev) + parts(r) <= FLTMC_MAX_ROW_LINES;
    // The row before was cut at the console width and is not whole: this line is its rest, even when it
    // would pass for a row of its own (the cut fell inside a value: `4000` | `0  A  1 ...`).
    if (joinable && prev?.cut && incomplete(out[out.length - 1])) {
      const joined: Line = { text: prev.text + r.text, no: prev.no, parts: parts(prev) + parts(r), ...(r.cut ? { cut: true } : {}) };
      const q = parse(joined);
      if (q !== null && !incomplete(q)) {
        out[out.length - 1] = q;
        prev = joined;
        continue;
      }
    }
    if (p === null && prev && joinable) {
      const joined: Line = { text: prev.text + r.text, no: prev.no, parts: parts(prev) + parts(r) };
      const q = parse(joined);
      if (q !== null) {
        out[out.length - 1] = q;
        prev = joined;
        continue;
      }
    }
    if (p !== null) {
      out.push(p);
      prev = r;
    }
  }
  return out;
}

// ---------------------------------------------------------------- fltmc filters

function filterFromCells(cells: Array<string | undefined>, line: number): FltmcFilter | null {
  const [name, count, altitude, frame] = cells;
  if (!name || altitude === undefined || !ALTITUDE.test(altitude)) return null;
  if (count !== undefined && !/^\d+$/.test(count)) return null;
  // The frame is a number or `<Legacy>` (in whatever language); anything else is not a filter row.
  if (frame !== undefined && !/^(?:\d+|<[^<>]+>)$/.test(frame)) return null;
  const f = frame ?? '';
  return { name, instances: count === undefined ? null : Number(count), altitude, frame: f, legacy: /^<.*>$/.test(f), line };
}

function filterByShape(row: Line): FltmcFilter | null {
  const c = chunksOf(row.text).map((x) => x.text);
  if (c.length === 4) return filterFromCells(c, row.no);
  if (c.length === 3) return filterFromCells([c[0], undefined, c[1], c[2]], row.no);
  return null;
}

/**
 * Rows of the `fltmc filters` table in `text` (which may hold other output too), read within the bounds;
 * `truncated` says what was cut. Throws FltmcError when fltmc printed an error line.
 */
export function readFltmcFilters(text: string): FltmcRead<FltmcFilter> {
  const b = bounded(text);
  const lines = cleanLines(b.text);
  const err = errorIn(lines);
  if (err) throw err;
  const { tables, orphans } = splitListing(lines);
  const out: FltmcFilter[] = [];
  const filterTables = tables.filter((t) => t.spans.length === 4);
  for (const t of filterTables) pushAll(out, parseRows(t.rows, (r) => filterFromCells(byPosition(r.text, t.spans), r.no)));
  if (!filterTables.length) pushAll(out, parseRows(orphans, filterByShape));
  return { rows: out, truncated: b.truncated };
}

/** Rows of the `fltmc filters` table; throws InputError rather than answer from a cut listing. */
export function parseFltmcFilters(text: string): FltmcFilter[] {
  return whole(readFltmcFilters(text));
}

function whole<T>(read: FltmcRead<T>): T[] {
  if (read.truncated) throw new InputError({ file: 'fltmc output' }, `${read.truncated.note.replace(/^fltmc output /, '')}; a listing past these bounds is not a real one`);
  return read.rows;
}

/** `out.push(...rows)` without spreading (a spread of a long array overflows the stack). */
function pushAll<T>(out: T[], rows: T[]): void {
  for (const r of rows) out.push(r);
}

// ---------------------------------------------------------------- fltmc instances

function instanceByShape(row: Line): FltmcInstance | null {
  const c = chunksOf(row.text).map((x) => x.text);
  let i = 0;
  const filter = c[i++];
  if (!filter) return null;
  let volume = '';
  if (c[i] !== undefined && !(ALTITUDE.test(c[i]!) && !looksLikeVolume(c[i]!))) volume = c[i++]!;
  const altitude = c[i++];
  if (altitude === undefined || !ALTITUDE.test(altitude)) return null;
  let instance: string | null = null;
  if (c[i] !== undefined && !/^\d+$/.test(c[i]!)) instance = c[i++]!;
  const frame = c[i] !== undefined && /^\d+$/.test(c[i]!) ? Number(c[i++]) : null;
  const out: FltmcInstance = { filter, volume, altitude, instance, frame, complete: frame !== null, line: row.no };
  if (c[i] !== undefined && /^[0-9a-f]{8}$/i.test(c[i]!)) out.supportedFeatures = c[i++]!;
  if (c[i] !== undefined) out.volumeStatus = c.slice(i).join('  ');
  return out;
}

function instanceByPosition(row: Line, spans: Span[]): FltmcInstance | null {
  const cells = byPosition(row.text, spans);
  const [filter, volume, altitude, instance, frame, sprt, status] = cells;
  if (!filter || altitude === undefined || !ALTITUDE.test(altitude)) return null;
  if (frame !== undefined && !/^\d+$/.test(frame)) return null;
  const out: FltmcInstance = {
    filter,
    volume: volume ?? '',
    altitude,
    instance: instance ?? null,
    frame: frame === undefined ? null : Number(frame),
    complete: frame !== undefined && (spans.length < 6 || sprt !== undefined),
    line: row.no,
  };
  if (sprt !== undefined) out.supportedFeatures = sprt;
  if (status !== undefined) out.volumeStatus = status;
  return out;
}

/**
 * Rows of the `fltmc instances` table in `text`; without a header, every row shaped like one. Read within
 * the bounds; `truncated` says what was cut. Throws FltmcError when fltmc printed an error line.
 */
export function readFltmcInstances(text: string): FltmcRead<FltmcInstance> {
  const b = bounded(text);
  const lines = cleanLines(b.text);
  const err = errorIn(lines);
  if (err) throw err;
  const { tables, orphans } = splitListing(lines);
  const out: FltmcInstance[] = [];
  const instTables = tables.filter((t) => t.spans.length >= 5);
  for (const t of instTables) pushAll(out, parseRows(t.rows, (r) => instanceByPosition(r, t.spans)));
  if (!instTables.length && !tables.length) pushAll(out, parseRows(orphans, instanceByShape));
  return { rows: out, truncated: b.truncated };
}

/** Rows of the `fltmc instances` table; throws InputError rather than answer from a cut listing. */
export function parseFltmcInstances(text: string): FltmcInstance[] {
  return whole(readFltmcInstances(text));
}
