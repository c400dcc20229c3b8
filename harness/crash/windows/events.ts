// Crash evidence Windows leaves outside a dump (reference windows.md §4, §5): the System log event
// 1001 (Microsoft-Windows-WER-SystemErrorReporting) written after the reboot, and the Hyper-V
// worker's event 18590 written by the host when the guest reports a bugcheck. Both carry only the code
// and the four parameters; the parameters stay `0x…` strings (64-bit, never numbers).
//
// The text is the guest's or the host's (issue #16): cut to EVENT_TEXT_MAX_CHARS and lines to
// EVENT_TEXT_MAX_LINE_CHARS first (the record says so in `truncated`), then scanned with indexOf and
// anchored patterns, linear in its length.
import { boundText, type TextBounds, type Truncation } from '../../../lib/text-bounds.ts';
import { parseHex } from '../bugchecks.ts';

/**
 * Characters of event text read (64 KiB). An event's message is at most 31,839 characters (the event
 * log's limit for one string); a pasted `Get-WinEvent` listing of a few events fits with room to spare.
 */
export const EVENT_TEXT_MAX_CHARS = 64 * 1024;
/** Characters read of each line of event text: the whole message may be one line. */
export const EVENT_TEXT_MAX_LINE_CHARS = 32 * 1024;
const EVENT_BOUNDS: TextBounds = { maxChars: EVENT_TEXT_MAX_CHARS, maxLineChars: EVENT_TEXT_MAX_LINE_CHARS };

export interface BugcheckEventRecord {
  source: 'event-1001' | 'hyperv-18590';
  code: number;
  params: string[];
  /** Event 1001: where the dump was saved. */
  dumpPath?: string;
  /** Event 1001: WER report id. */
  reportId?: string;
  /** Event 18590: the VM's name. */
  vmName?: string;
  /** Present when the text was over EVENT_TEXT_MAX_CHARS or had longer lines than EVENT_TEXT_MAX_LINE_CHARS. */
  truncated?: Truncation;
}

const SPACE = /\s/;
/** One character of JavaScript's `\s` (spaces, tabs, line ends, Unicode spaces). */
export function isSpaceChar(ch: string): boolean {
  return SPACE.test(ch);
}

function isHexCode(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/**
 * Finds the first `<marker>0x<code> (<params>)` in `text` (event 1001's "The bugcheck was: 0x…
 * (…)", kd's "*** Fatal System Error: 0x… (…)") in one pass: the code is 1 to `maxCodeDigits` hex
 * digits, spaces may stand between it and the parenthesis, and the parameters run to the next `)`.
 * With `spacesBeforeCode`, spaces may also stand between the marker and `0x` (then the marker must not
 * end in `0x`).
 */
export function findCodeBanner(text: string, marker: string, opts: { spacesBeforeCode: boolean; maxCodeDigits: number }): { code: string; params: string } | null {
  let close = -1; // the first `)` at or after the place looked at; only ever moves forward
  for (let at = text.indexOf(marker); at >= 0; at = text.indexOf(marker, at + 1)) {
    let p = at + marker.length;
    if (opts.spacesBeforeCode) {
      while (p < text.length && isSpaceChar(text[p]!)) p++;
      if (!text.startsWith('0x', p)) continue;
      p += 2;
    }
    const codeStart = p;
    while (p < text.length && p - codeStart <= opts.maxCodeDigits && isHexCode(text.charCodeAt(p))) p++;
    const digits = p - codeStart;
    if (digits === 0 || digits > opts.maxCodeDigits) continue;
    const codeEnd = p;
    while (p < text.length && isSpaceChar(text[p]!)) p++;
    if (text[p] !== '(') continue;
    if (close <= p) close = text.indexOf(')', p + 1);
    // No `)` after this one: none after any later marker either.
    if (close < 0) return null;
    return { code: text.slice(codeStart, codeEnd), params: text.slice(p + 1, close) };
  }
  return null;
}

function hexParam(s: string): string | undefined {
  const v = parseHex(s.trim());
  return v === undefined ? undefined : `0x${v.toString(16)}`;
}

/**
 * Event 1001's dump path: after "A dump was saved in:", up to the first `.` that is followed by
 * spaces and "Report Id:", or by nothing but spaces to the end of the text. Within one line; a path
 * holds dots of its own.
 */
function dumpPathOf(text: string): string | undefined {
  const MARKER = 'A dump was saved in:';
  let lastText = text.length - 1;
  while (lastText >= 0 && isSpaceChar(text[lastText]!)) lastText--;
  let lineEndSeen = -1; // the end of the line of a marker already scanned without success
  for (let at = text.indexOf(MARKER); at >= 0; at = text.indexOf(MARKER, at + 1)) {
    // A later marker on a line already scanned has the same dots after it: it cannot do better.
    if (at < lineEndSeen) continue;
    let start = at + MARKER.length;
    while (start < text.length && isSpaceChar(text[start]!)) start++;
    let end = start;
    while (end < text.length && !'\n\r\u2028\u2029'.includes(text[end]!)) end++;
    for (let dot = text.indexOf('.', start + 1); dot >= 0 && dot < end; dot = text.indexOf('.', dot + 1)) {
      if (dot >= lastText) return text.slice(start, dot).trim();
      let q = dot + 1;
      while (q < text.length && isSpaceChar(text[q]!)) q++;
      if (q > dot + 1 && text.startsWith('Report Id:', q)) return text.slice(start, dot).trim();
    }
    lineEndSeen = end;
  }
  return undefined;
}

// §4: "The computer has rebooted from a bugcheck.  The bugcheck was: 0x0000003b (0x00000000c0000002,
// 0xfffff8073772810a, ...). A dump was saved in: C:\Windows\MEMORY.DMP. Report Id: <guid>."
const EVENT_1001_MARKER = 'The bugcheck was:';

/** Reads the text of event 1001; null when the text is not one. */
export function parseBugcheckEvent1001(input: string): BugcheckEventRecord | null {
  const { text, truncated } = boundText('event 1001 text', input, EVENT_BOUNDS);
  const m = findCodeBanner(text, EVENT_1001_MARKER, { spacesBeforeCode: true, maxCodeDigits: 16 });
  if (!m) return null;
  const code = parseHex(m.code);
  if (code === undefined || code > 0xffffffffn) return null;
  const params = m.params.split(',').map(hexParam);
  if (params.some((p) => p === undefined)) return null;
  const out: BugcheckEventRecord = { source: 'event-1001', code: Number(code), params: params as string[] };
  const dump = dumpPathOf(text);
  if (dump !== undefined) out.dumpPath = dump;
  const report = /Report Id:\s*([0-9a-fA-F-]{8,})/.exec(text);
  if (report) out.reportId = report[1]!;
  if (truncated) out.truncated = truncated;
  return out;
}

// §5: "'<VM>' has encountered a fatal error.  The guest operating system reported that it failed with
// the following error codes: ErrorCode0: 0xD1, ErrorCode1: 0x..., ErrorCode2: 0x2, ErrorCode3: 0x0,
// ErrorCode4: 0x...."  ErrorCode0 is the bugcheck code, 1..4 the parameters.
const EVENT_18590_CODE = /ErrorCode([0-4]):\s*0x([0-9a-fA-F]{1,16})/g;

/** Reads the text of Hyper-V event 18590; null when the text is not one. */
export function parseHyperVEvent18590(input: string): BugcheckEventRecord | null {
  const { text, truncated } = boundText('Hyper-V event 18590 text', input, EVENT_BOUNDS);
  const codes = new Map<number, string>();
  for (const m of text.matchAll(EVENT_18590_CODE)) {
    const n = Number(m[1]);
    if (!codes.has(n)) codes.set(n, m[2]!);
  }
  const code0 = codes.get(0);
  if (code0 === undefined) return null;
  const code = parseHex(code0)!;
  if (code > 0xffffffffn) return null;
  const params: string[] = [];
  for (let i = 1; i <= 4 && codes.has(i); i++) params.push(hexParam(codes.get(i)!)!);
  const out: BugcheckEventRecord = { source: 'hyperv-18590', code: Number(code), params };
  const vm = /^\s*'([^']*)' has encountered a fatal error/.exec(text);
  if (vm) out.vmName = vm[1]!;
  if (truncated) out.truncated = truncated;
  return out;
}
