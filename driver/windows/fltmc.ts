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
import { EXIT, FleetgateError } from '../../lib/errors.ts';

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
  /** Exactly the width a wrapped console cut its table at: the row may go on in the next line. */
  cut?: boolean;
}

const DASHES = /^\s*-{2,}(?:\s+-+)*\s*$/;
// A command prompt: `PS C:\>`, `PS>`, `C:\Users\x>`, or a bare `>` left when the path was cut off. No row
// starts with `>` (rows start with the filter name).
const PROMPT = /^(?:PS(?: [^>]*)?>|[A-Za-z]:\\[^>]*>|\s*>)/;
const HEX_ERROR = /(?:^|[\s:])(0x8[0-9a-f]{7})\s*\.?\s*$/i;
const ENGLISH_ERROR = /^\s*(.*?)\s+failed with error:\s*(0x[0-9a-f]{1,8})/i;

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

/** The first fltmc error line in `text`, or null. Recognised by its HRESULT, so any language works. */
export function findFltmcError(text: string): FltmcError | null {
  for (const l of cleanLines(text)) {
    if (PROMPT.test(l.text)) continue;
    const en = ENGLISH_ERROR.exec(l.text);
    if (en) return new FltmcError(normalizeHresult(en[2]!), en[1] || null, l.text);
    const hex = HEX_ERROR.exec(l.text);
    // A table row never ends in an 0x8....... value (SprtFtrs is printed without 0x).
    if (hex && !/^\s*-/.test(l.text)) return new FltmcError(normalizeHresult(hex[1]!), null, l.text);
  }
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

function splitListing(text: string): Listing {
  const lines = cleanLines(text);
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
    if (/^[ -]*-[ -]*$/.test(cont) && cont.trimEnd().length < dashes.length) {
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
    if (!l.text.trim().length || PROMPT.test(l.text) || findFltmcError(l.text)) {
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
    if (current && prev && /^\s/.test(row.text)) {
      prev.text += row.text;
      prev.cut = cut;
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
  for (const r of rows) {
    const p = parse(r);
    // The row before was cut at the console width and is not whole: this line is its rest, even when it
    // would pass for a row of its own (the cut fell inside a value: `4000` | `0  A  1 ...`).
    if (prev?.cut && incomplete(out[out.length - 1])) {
      const joined: Line = { text: prev.text + r.text, no: prev.no, ...(r.cut ? { cut: true } : {}) };
      const q = parse(joined);
      if (q !== null && !incomplete(q)) {
        out[out.length - 1] = q;
        prev = joined;
        continue;
      }
    }
    if (p === null && prev) {
      const joined: Line = { text: prev.text + r.text, no: prev.no };
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

/** Rows of the `fltmc filters` table in `text` (which may hold other output too). */
export function parseFltmcFilters(text: string): FltmcFilter[] {
  const err = findFltmcError(text);
  if (err) throw err;
  const { tables, orphans } = splitListing(text);
  const out: FltmcFilter[] = [];
  const filterTables = tables.filter((t) => t.spans.length === 4);
  for (const t of filterTables) out.push(...parseRows(t.rows, (r) => filterFromCells(byPosition(r.text, t.spans), r.no)));
  if (!filterTables.length) out.push(...parseRows(orphans, filterByShape));
  return out;
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

/** Rows of the `fltmc instances` table in `text`; without a header, every row shaped like one. */
export function parseFltmcInstances(text: string): FltmcInstance[] {
  const err = findFltmcError(text);
  if (err) throw err;
  const { tables, orphans } = splitListing(text);
  const out: FltmcInstance[] = [];
  const instTables = tables.filter((t) => t.spans.length >= 5);
  for (const t of instTables) out.push(...parseRows(t.rows, (r) => instanceByPosition(r, t.spans)));
  if (!instTables.length && !tables.length) out.push(...parseRows(orphans, instanceByShape));
  return out;
}
