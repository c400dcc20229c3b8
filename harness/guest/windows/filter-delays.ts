// The Filter Manager's per-callback times, read from a WPA export (issue #17; windows.md section 8).
// A WPR recording with the Minifilter profile holds the time each minifilter's pre- and post-operation
// callbacks took; WPA shows them as the "Mini-Filter Delays" table, and `wpaexporter` writes the
// tables of a .wpaProfile as delimited text, a header row naming the profile's columns. This reads
// such an export: it finds the columns by their names (the filter, the major function, the delay
// with its unit in the header, and a count when the rows are groups rather than single callbacks),
// and sums them per filter and operation, with percentiles when every row is one callback.
//
// A place in an error is the line a row ends on (a quoted field may span lines).
//
// UNVERIFIED: nothing here has read an export made on Windows. The column names below are the ones
// WPA's table is known by; a profile that names them otherwise gets an error listing what its header
// held. The test doubles (test-doubles/bin/wpaexporter.exe) write exports in this shape, which proves
// the path, not the format.
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import { build, type Histogram } from 'hdr-histogram-js';
import { InputError } from '../../../lib/errors.ts';
import type { FilterDelayRow, FilterDelays } from '../../../runfolder/results.ts';

export const FILTER_DELAYS_SCHEMA = 'fleetgate-filter-delays/1';

/** Distinct (filter, major function) pairs an export may hold (docs/limits.md): each keeps a histogram of about 20 KB. */
export const FILTER_DELAYS_MAX_GROUPS = 4096;
/** Longest filter or operation name read (docs/limits.md). */
export const FILTER_DELAYS_MAX_FIELD_CHARS = 1024;
/** Longest record (a row with all its columns) read (docs/limits.md). */
export const FILTER_DELAYS_MAX_RECORD_CHARS = 64 * 1024;

/** The histograms' range in nanoseconds: 1 ns to 100 s. */
const HIST_MAX_NS = 100_000_000_000;

const UNIT_US: Record<string, number> = { ns: 0.001, 'µs': 1, us: 1, 'μs': 1, ms: 1000, s: 1_000_000 };

/** Header names, compared without case, spaces, hyphens or underscores. */
const norm = (h: string): string => h.toLowerCase().replace(/[\s_-]+/g, '');
const FILTER_NAMES = ['minifilter', 'minifilterdriver', 'minifiltername', 'minifilterdrivername', 'filter', 'filtername', 'filterdriver', 'driver', 'drivername'];
const OPERATION_NAMES = ['majorfunction', 'majorfunctionname', 'major', 'irpmajorfunction', 'operation', 'majorfunctioncode'];
const DELAY_NAMES = ['duration', 'delay', 'minifilterdelay', 'totalduration', 'totaldelay', 'callbackduration', 'time', 'sumduration', 'sumdelay'];
const COUNT_NAMES = ['count', 'callbacks', 'events'];

/** A header cell split into its name and the unit in parentheses: `Duration (µs)` → duration, µs. */
function headerName(h: string): { name: string; unit: string | null } {
  // By hand, not a regular expression: a pattern for this backtracks polynomially (lib/redos.test.ts).
  const t = h.trim();
  const open = t.lastIndexOf('(');
  if (!t.endsWith(')') || open < 0) return { name: norm(t), unit: null };
  return { name: norm(t.slice(0, open)), unit: t.slice(open + 1, -1).trim().toLowerCase() };
}

interface Columns {
  filter: number;
  operation: number | null;
  delay: number;
  delayUnitUs: number;
  count: number | null;
}

/** The columns this export has, or why it has none of them (a string: what was missing). */
function findColumns(header: string[]): Columns | string {
  const names = header.map(headerName);
  const find = (wanted: string[]) => {
    for (const w of wanted) {
      const i = names.findIndex((n) => n.name === w);
      if (i >= 0) return i;
    }
    return -1;
  };
  const filter = find(FILTER_NAMES);
  const delay = find(DELAY_NAMES);
  if (filter < 0 || delay < 0) {
    const missing = [filter < 0 ? 'a filter column (Mini-Filter Driver, Filter Name, Driver)' : null, delay < 0 ? 'a delay column with its unit (Duration (µs), Delay (ns))' : null].filter(Boolean);
    return `expected ${missing.join(' and ')}`;
  }
  const unit = names[delay]!.unit;
  const delayUnitUs = unit === null ? undefined : UNIT_US[unit];
  if (delayUnitUs === undefined) return `the delay column "${header[delay]}" ${unit === null ? 'names no unit' : `has the unit "${unit}"`}; expected its unit in parentheses: ns, µs, us, ms or s`;
  const operation = find(OPERATION_NAMES);
  const count = find(COUNT_NAMES);
  return { filter, operation: operation < 0 ? null : operation, delay, delayUnitUs, count: count < 0 ? null : count };
}

/** A number as an export writes it: `1234`, `12.5`, `1,234.5` (thousands grouped); null otherwise. */
function exportNumber(text: string): number | null {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
  if (/^\d{1,3}(,\d{3})+(\.\d+)?$/.test(t)) return Number(t.replaceAll(',', ''));
  return null;
}

interface Group {
  filter: string;
  operation: string;
  count: number;
  totalUs: number;
  hist: Histogram | null;
}

/**
 * Reads one export file (delimited text, a header row first; comma unless `delimiter` says). Throws
 * InputError naming the file, the line and what was expected: a header without the columns, a row
 * whose delay or count is not a number, a file with no rows.
 */
export async function readFilterDelays(file: string, o: { delimiter?: string } = {}): Promise<FilterDelays> {
  const source = createReadStream(file);
  // A record is bounded (an unclosed quote would otherwise buffer the rest of the file).
  const parser = source.pipe(parse({ bom: true, delimiter: o.delimiter ?? ',', info: true, skip_empty_lines: true, relax_column_count: true, trim: true, max_record_size: FILTER_DELAYS_MAX_RECORD_CHARS }));
  // pipe() forwards no error: a file that cannot be read ends the reading with its own error.
  source.on('error', (e) => parser.destroy(e));
  let cols: Columns | null = null;
  let header: string[] = [];
  let rows = 0;
  const groups = new Map<string, Group>();
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (!cols) {
        header = record;
        const found = findColumns(record);
        if (typeof found === 'string') throw new InputError({ file, line: info.lines }, `the header (${record.map((h) => JSON.stringify(h)).join(', ')}) is not a Mini-Filter Delays table: ${found}`);
        cols = found;
        continue;
      }
      const cell = (i: number) => record[i] ?? '';
      const at = (i: number) => ({ file, line: info.lines, column: i + 1 });
      const raw = exportNumber(cell(cols.delay));
      if (raw === null) throw new InputError(at(cols.delay), `${header[cols.delay]} is ${JSON.stringify(cell(cols.delay))}; expected a number`);
      let count = 1;
      if (cols.count !== null) {
        const c = exportNumber(cell(cols.count));
        if (c === null || !Number.isInteger(c)) throw new InputError(at(cols.count), `${header[cols.count]} is ${JSON.stringify(cell(cols.count))}; expected a whole number`);
        count = c;
      }
      const filter = cell(cols.filter);
      if (filter === '') throw new InputError(at(cols.filter), `${header[cols.filter]} is empty; expected a filter's name`);
      const operation = cols.operation === null ? '*' : cell(cols.operation) || '?';
      for (const [i, v] of [[cols.filter, filter], [cols.operation, operation]] as const) {
        if (i !== null && v.length > FILTER_DELAYS_MAX_FIELD_CHARS) throw new InputError(at(i), `${header[i]} is ${v.length} characters long; expected a name of at most FILTER_DELAYS_MAX_FIELD_CHARS (${FILTER_DELAYS_MAX_FIELD_CHARS})`);
      }
      rows++;
      const key = `${filter}\u0000${operation}`;
      let g = groups.get(key);
      if (!g) {
        if (groups.size >= FILTER_DELAYS_MAX_GROUPS) throw new InputError(at(cols.filter), `more than FILTER_DELAYS_MAX_GROUPS (${FILTER_DELAYS_MAX_GROUPS}) distinct filter and operation pairs; expected the Mini-Filter Delays table of one machine`);
        // Nanoseconds from 1 to 100 s at 2 significant digits (1%), 32-bit counts: about 20 KB a pair.
        const hist = cols.count === null ? build({ lowestDiscernibleValue: 1, highestTrackableValue: HIST_MAX_NS, numberOfSignificantValueDigits: 2, bitBucketSize: 32 }) : null;
        groups.set(key, (g = { filter, operation, count: 0, totalUs: 0, hist }));
      }
      const us = raw * cols.delayUnitUs;
      g.count += count;
      g.totalUs += us;
      // Nanoseconds in the histogram (a callback often takes less than a microsecond), clamped to its range.
      g.hist?.recordValue(Math.min(HIST_MAX_NS, Math.max(1, Math.round(us * 1000))));
    }
  } catch (e) {
    if (e instanceof InputError) throw e;
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT' || code === 'EACCES') throw new InputError({ file }, `cannot read the export: ${(e as Error).message}`, { cause: e });
    const line = (e as { lines?: number }).lines;
    throw new InputError({ file, ...(line !== undefined ? { line } : {}) }, `not delimited text a WPA export writes: ${(e as Error).message}`, { cause: e });
  } finally {
    // Stopped early (a header that is not this table, a bad row): the file is closed all the same.
    source.destroy();
  }
  if (!cols) throw new InputError({ file }, 'the export is empty; expected a header row and a row per callback or group');
  if (rows === 0) throw new InputError({ file, line: 2 }, 'the export has a header and no rows: the recording held no callbacks (was the Minifilter profile recording?)');
  const delays: FilterDelayRow[] = [...groups.values()].map((g) => {
    const row: FilterDelayRow = { filter: g.filter, operation: g.operation, count: g.count, totalUs: round(g.totalUs), meanUs: round(g.count ? g.totalUs / g.count : 0) };
    if (g.hist) {
      // A percentile is its bucket's highest value (within 1%), so never above the largest seen.
      const max = g.hist.maxValue;
      row.p50Us = round(Math.min(max, g.hist.getValueAtPercentile(50)) / 1000);
      row.p99Us = round(Math.min(max, g.hist.getValueAtPercentile(99)) / 1000);
      row.maxUs = round(max / 1000);
      g.hist.destroy();
    }
    return row;
  });
  delays.sort((a, b) => b.totalUs - a.totalUs || a.filter.localeCompare(b.filter) || a.operation.localeCompare(b.operation));
  return {
    schema: FILTER_DELAYS_SCHEMA,
    source: file,
    columns: { filter: header[cols.filter]!, operation: cols.operation === null ? null : header[cols.operation]!, delay: header[cols.delay]!, count: cols.count === null ? null : header[cols.count]! },
    rows,
    perEvent: cols.count === null,
    delays,
  };
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * The export among several (wpaexporter writes one file per table of the profile) that is a
 * Mini-Filter Delays table: the first that reads, those named for it tried first. None: the error
 * names every file and why.
 */
export async function readFilterDelaysFrom(files: readonly string[]): Promise<FilterDelays> {
  const why: string[] = [];
  // A file named for the table first: another table of the profile could have a "Driver" and a "Time".
  const named = (f: string) => (/mini.?filter/i.test(f.replace(/^.*[\\/]/, '')) ? 0 : 1);
  for (const f of [...files].sort((a, b) => named(a) - named(b))) {
    try {
      return await readFilterDelays(f);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      why.push(e.message);
    }
  }
  throw new InputError({ file: files[0] ?? '(no export)' }, files.length ? `no export is a Mini-Filter Delays table: ${why.join('; ')}` : 'wpaexporter wrote no file: expected the profile to export the Mini-Filter Delays table');
}
