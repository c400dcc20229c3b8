// Reads the text of a kernel debugger `!analyze -v` (reference windows.md §6): the modern `KEY: value`
// lines, the multi-line STACK_TEXT, and the older header block ("NAME (code)" then "Arguments:" and
// "Arg1: value, meaning") that cut or old outputs still have. Real outputs come cut at any point (issue
// trackers, documentation with "..." elisions, an index that stopped mid-line), so every section is
// optional; only a bugcheck code is required. Pure: text in, value out.
//
// The text comes from a guest or a debugger we do not control (issue #16): it is cut to KD_MAX_CHARS and
// lines to KD_MAX_LINE_CHARS first (the analysis says so in `truncated`), and read line by line with
// patterns anchored at the line start, so the time is linear in the input whatever it holds.
import { InputError } from '../../../lib/errors.ts';
import { boundText, type TextBounds, type Truncation } from '../../../lib/text-bounds.ts';
import { bugcheckName, parseHex } from '../bugchecks.ts';
import { findCodeBanner, isSpaceChar } from './events.ts';

/**
 * Characters of kd output read (4 MiB). An `!analyze -v` is about 10 KB; a whole kd session log with
 * module lists and extension output a few hundred KB. The rest is dropped and reported.
 */
export const KD_MAX_CHARS = 4 * 1024 * 1024;
/** Characters read of each kd output line (4 KiB): the longest real line seen is under 800. */
export const KD_MAX_LINE_CHARS = 4096;
const KD_BOUNDS: TextBounds = { maxChars: KD_MAX_CHARS, maxLineChars: KD_MAX_LINE_CHARS };
/**
 * Lines after a `NAME (code)` header within which its `Arguments:` line must come for the header to be
 * the bugcheck's (the debugger's description of the code sits between them, a dozen lines at most).
 */
export const KD_HEADER_WINDOW_LINES = 40;

export interface KdFrame {
  /** Child-SP (x64) or ChildEBP (x86), `0x…`; absent in elided documentation stacks. */
  childSp?: string;
  returnAddress?: string;
  /** Module as the debugger names it (`nt`, `fltmgr`, `MyDriver`). */
  module?: string;
  /** Absent when the debugger had no symbols (`Driver+0x11b1`). */
  function?: string;
  /** Offset within the function, or within the module when there is no function; `0x…`. */
  offset?: string;
  /** `[path @ line]` the debugger printed, when it had private symbols. */
  source?: string;
  /** 1-based line in the text. */
  line: number;
}

export interface KdAnalysis {
  bugcheck: { code: number; name: string; params: string[] };
  /** Name from the header block ("DRIVER_VERIFIER_DETECTED_VIOLATION"), when present. */
  headerName?: string;
  /** Arg1..Arg4 lines of the header block, with the debugger's explanation of each. */
  args: Array<{ value: string; meaning?: string }>;
  /** Every single-line `KEY: value` (first occurrence), e.g. fields.FAILURE_BUCKET_ID. */
  fields: Record<string, string>;
  /** `Key : X` / `Value: Y` pairs of KEY_VALUES_STRING (Failure.Bucket, Bugcheck.Code.LegacyAPI...). */
  keyValues: Record<string, string>;
  frames: KdFrame[];
  processName?: string;
  /** SYMBOL_NAME, or the first line of FAULTING_IP / FOLLOWUP_IP when there is none. */
  symbol?: string;
  /** The blamed module, without extension. */
  module?: string;
  /** Where `module` came from. */
  moduleSource?: 'MODULE_NAME' | 'IMAGE_NAME' | 'FAULTING_MODULE' | 'symbol' | 'stack';
  /** The blamed function when the symbol has one (`FltpDoInstanceSetupNotification`). */
  function?: string;
  imageName?: string;
  imageVersion?: string;
  failureBucketId?: string;
  failureIdHash?: string;
  osVersion?: string;
  /** OS build number, from OS_VERSION, BUILD_VERSION_STRING or the "Connected to Windows" line. */
  build?: number;
  dvViolatedCondition?: string;
  defaultBucketId?: string;
  bugcheckStr?: string;
  /** No FAILURE_BUCKET_ID: the output was cut before the end of the analysis. */
  cut: boolean;
  /** Present when the text was longer than KD_MAX_CHARS or had lines over KD_MAX_LINE_CHARS: what was dropped. */
  truncated?: Truncation;
}

const FIELD = /^\s*([A-Z][A-Z0-9_]{2,}):(?:\s(.*)|)$/;
const HEADER = /^\s*([A-Z][A-Z0-9_]{2,}) \(([0-9a-fA-F]{1,8})\)\s*$/;
// The meaning after the comma is trimmed afterwards: `,\s*(.*)` would let two parts take the same spaces.
const ARG = /^\s*Arg([1-4]): ([0-9a-fA-F`]+)(?:,(.*))?$/;
const ARGUMENTS = /^\s*Arguments:\s*$/;
const ARG1 = /^\s*Arg1: /;
const BUGCHECK_CODE = /^\s*BUGCHECK_CODE:/;
// The banner a live debugger prints: `*** Fatal System Error: 0x000000c4 (0x62, 0x..., ...)`.
const FATAL_MARKER = '*** Fatal System Error: 0x';
const KV_KEY = /^\s*Key\s*:\s*(\S+)\s*$/;
const KV_VALUE = /^\s*Value:(.*)$/;
// Fields whose value is on the following lines.
const BLOCKS = new Set(['STACK_TEXT', 'FAULTING_IP', 'FOLLOWUP_IP', 'IP_IN_PAGED_CODE', 'FAILED_INSTRUCTION_ADDRESS']);
// Kernel and verifier plumbing between the bugcheck and the culprit: skipped when the stack alone
// has to name a module.
const PLUMBING_MODULES = new Set(['nt', 'ntoskrnl', 'ntkrnlmp', 'ntkrnlpa', 'ntkrpamp', 'hal', 'verifierext']);

function fatalBanner(text: string): { code: string; params: string } | null {
  return findCodeBanner(text, FATAL_MARKER, { spacesBeforeCode: false, maxCodeDigits: Number.POSITIVE_INFINITY });
}

/**
 * For each line, the index of the first `Arguments:` line at or after it (-1 for none): one pass from
 * the end, so that finding a header's Arguments block costs nothing per header.
 */
function nextArgumentsLines(lines: readonly string[]): Int32Array {
  const next = new Int32Array(lines.length + 1).fill(-1);
  for (let i = lines.length - 1; i >= 0; i--) next[i] = ARGUMENTS.test(lines[i]!) ? i : next[i + 1]!;
  return next;
}

/** The `Arguments:` line that makes line `i`, a `NAME (code)` line, the bugcheck header; -1 when none does. */
function argumentsOfHeader(next: Int32Array, i: number): number {
  const j = next[i + 1]!;
  return j >= 0 && j - i < KD_HEADER_WINDOW_LINES ? j : -1;
}

/**
 * True when the text looks like debugger analysis output: "Bugcheck Analysis", a `BUGCHECK_CODE:`
 * line, the "*** Fatal System Error" banner, or a `NAME (code)` header whose `Arguments:` line follows
 * within KD_HEADER_WINDOW_LINES lines and is followed (blank lines aside) by `Arg1:`. Looks at the part
 * of the text parseKdAnalysis reads (KD_MAX_CHARS, lines cut to KD_MAX_LINE_CHARS), one line at a time:
 * every console log given to `triage` passes through here.
 */
export function looksLikeKdAnalysis(text: string): boolean {
  const body = boundText('kd output', text, KD_BOUNDS).text;
  if (body.includes('Bugcheck Analysis') || fatalBanner(body)) return true;
  const lines = body.split('\n');
  if (lines.some((l) => BUGCHECK_CODE.test(l))) return true;
  const next = nextArgumentsLines(lines);
  for (let i = 0; i < lines.length; i++) {
    if (!HEADER.test(lines[i]!)) continue;
    const j = argumentsOfHeader(next, i);
    if (j < 0) continue;
    let k = j + 1;
    while (k < lines.length && lines[k]!.trim() === '') k++;
    if (k < lines.length && ARG1.test(lines[k]!)) return true;
  }
  return false;
}

function hexValue(text: string): string | undefined {
  const v = parseHex(text);
  return v === undefined ? undefined : `0x${v.toString(16)}`;
}

/** Parses `module!function+offset`, `module+offset`, `module!function [src @ n]`; undefined for an address only. */
export function parseSymbol(text: string): Pick<KdFrame, 'module' | 'function' | 'offset' | 'source'> | undefined {
  let s = text.trim();
  // An elision the documentation adds: `nt!KiPageFault+0x369 ...`.
  if (s.endsWith('...') && s.length > 3 && isSpaceChar(s[s.length - 4]!)) s = s.slice(0, -3).trimEnd();
  let source: string | undefined;
  const src = trailingSource(s);
  if (src) {
    source = src.source;
    s = s.slice(0, src.at).trim();
  }
  const withFn = /^([A-Za-z0-9_.$-]+)!(.+?)(?:\+(?:0x)?([0-9a-fA-F]+))?$/.exec(s);
  if (withFn) {
    return { module: withFn[1]!, function: withFn[2]!, ...(withFn[3] ? { offset: `0x${withFn[3].toLowerCase()}` } : {}), ...(source ? { source } : {}) };
  }
  const modOnly = /^([A-Za-z_][A-Za-z0-9_.$-]*)\+(?:0x)?([0-9a-fA-F]+)$/.exec(s);
  if (modOnly) return { module: modOnly[1]!, offset: `0x${modOnly[2]!.toLowerCase()}`, ...(source ? { source } : {}) };
  return undefined;
}

/**
 * A trailing `[source @ line]` (after a space, nothing after it but the closing bracket): the source
 * and where its opening bracket's whitespace run starts. The earliest `[` after the last inner `]`.
 */
function trailingSource(s: string): { source: string; at: number } | undefined {
  if (!s.endsWith(']')) return undefined;
  const last = s.length - 1;
  for (let open = s.indexOf('[', s.lastIndexOf(']', last - 1) + 1); open >= 0 && open < last - 1; open = s.indexOf('[', open + 1)) {
    if (open > 0 && isSpaceChar(s[open - 1]!)) return { source: s.slice(open + 1, last), at: open };
  }
  return undefined;
}

const HEXW = '[0-9a-fA-F]{8}(?:`[0-9a-fA-F]{8})?';
// x64 `Child-SP RetAddr : Args to Child : Call Site`: the prefix by pattern, the call site after the
// first colon that is followed by a space and more (see callSiteAfterArgs).
const FRAME_X64 = new RegExp(`^\\s*(${HEXW})\\s+(${HEXW})\\s+:`);
const FRAME_X86 = new RegExp(`^\\s*(${HEXW}) (${HEXW})(?: ${HEXW}){3} (.+)$`);
const FRAME_K = new RegExp(`^\\s*[0-9a-fA-F]{2,} (${HEXW}) (${HEXW})\\s(.+)$`);
const FRAME_ELIDED = /^\s*\.\.\.\s+:\s(.*)$/;

/** After `Child-SP RetAddr :`: the call site, after the next colon followed by whitespace and more. */
function callSiteAfterArgs(rest: string): string | undefined {
  // A colon, one or more spaces, then at least one character (`:\s+(.+?)\s*$` as it was written).
  for (let c = rest.indexOf(':'); c >= 0 && c + 2 < rest.length; c = rest.indexOf(':', c + 1)) {
    if (isSpaceChar(rest[c + 1]!)) return rest.slice(c + 1).trim();
  }
  return undefined;
}

function parseFrame(line: string, lineNo: number): KdFrame | undefined {
  let sym: string | undefined;
  const frame: KdFrame = { line: lineNo };
  const x64 = FRAME_X64.exec(line);
  const site = x64 ? callSiteAfterArgs(line.slice(x64[0].length)) : undefined;
  const m = site !== undefined ? x64 : (FRAME_X86.exec(line) ?? FRAME_K.exec(line));
  if (m) {
    frame.childSp = hexValue(m[1]!);
    frame.returnAddress = hexValue(m[2]!);
    sym = site ?? m[3];
  } else {
    const e = FRAME_ELIDED.exec(line);
    if (!e || e[1]!.trim() === '') return undefined;
    sym = e[1];
  }
  const parsed = sym ? parseSymbol(sym) : undefined;
  return parsed ? { ...frame, ...parsed } : frame.childSp ? frame : undefined;
}

function stripExt(name: string): string {
  return name.replace(/\.(sys|exe|dll)$/i, '');
}

function buildFrom(fields: Record<string, string>, keyValues: Record<string, string>, text: string): number | undefined {
  const os = fields.OS_VERSION ?? keyValues['WER.OS.Version'];
  let m = os ? /^\d+\.\d+\.(\d+)/.exec(os) : null;
  if (m) return Number(m[1]);
  m = fields.BUILD_VERSION_STRING ? /^(\d{4,5})\./.exec(fields.BUILD_VERSION_STRING) : null;
  if (m) return Number(m[1]);
  m = /Connected to Windows \S+ (\d{4,5}) /.exec(text);
  return m ? Number(m[1]) : undefined;
}

/**
 * Parses `!analyze -v` output. Throws an InputError (file, line) only when no bugcheck code can be
 * found anywhere; every other section may be missing.
 */
export function parseKdAnalysis(input: string, file = '<kd output>'): KdAnalysis {
  const { text, truncated } = boundText(`kd output ${file}`, input, KD_BOUNDS);
  const lines = text.split(/\r?\n/);
  const nextArguments = nextArgumentsLines(lines);
  const fields: Record<string, string> = {};
  const blocks: Record<string, Array<{ text: string; line: number }>> = {};
  const keyValues: Record<string, string> = {};
  const args: Array<{ value: string; meaning?: string }> = [];
  let headerName: string | undefined;
  let headerCode: number | undefined;

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const h = HEADER.exec(line);
    if (h && headerName === undefined && argumentsOfHeader(nextArguments, i) >= 0) {
      headerName = h[1]!;
      headerCode = Number.parseInt(h[2]!, 16);
      continue;
    }
    const a = ARG.exec(line);
    if (a && headerName !== undefined && args.length === Number(a[1]) - 1) {
      const value = hexValue(a[2]!);
      if (value) args.push({ value, ...(a[3]?.trim() ? { meaning: a[3].trim() } : {}) });
      continue;
    }
    const k = KV_KEY.exec(line);
    if (k) {
      const v = lines[i + 1] === undefined ? null : KV_VALUE.exec(lines[i + 1]!);
      if (v && !(k[1]! in keyValues)) keyValues[k[1]!] = v[1]!.trim();
      continue;
    }
    const f = FIELD.exec(line);
    if (!f) continue;
    const key = f[1]!;
    const value = (f[2] ?? '').trim();
    if (BLOCKS.has(key) && value === '') {
      // The value is the following lines, up to a blank line.
      const body: Array<{ text: string; line: number }> = [];
      let j = i + 1;
      for (; j < lines.length && lines[j]!.trim() !== ''; j++) body.push({ text: lines[j]!, line: j + 1 });
      if (!(key in blocks)) blocks[key] = body;
      i = j - 1;
      continue;
    }
    if (!(key in fields)) fields[key] = value;
  }

  // The bugcheck code: BUGCHECK_CODE, else the header block, else the Key/Value section, else the
  // "*** Fatal System Error" banner a live debugger prints.
  const fatal = fatalBanner(text);
  const codeText = fields.BUGCHECK_CODE ?? (headerCode !== undefined ? headerCode.toString(16) : undefined) ?? keyValues['Bugcheck.Code.KiBugCheckData'] ?? keyValues['Bugcheck.Code.LegacyAPI'] ?? fatal?.code;
  const code = codeText === undefined ? undefined : parseHex(codeText);
  if (code === undefined || code > 0xffffffffn) {
    throw new InputError(
      { file, line: 1 },
      `no bugcheck code found: expected a "BUGCHECK_CODE:" line, a "NAME (code)" header followed by "Arguments:", or a "*** Fatal System Error: 0x…" banner${truncated ? ` (in the part read: ${truncated.note})` : ''}`,
    );
  }
  const codeNum = Number(code);

  let params: string[] = [];
  const p = [1, 2, 3, 4].map((n) => fields[`BUGCHECK_P${n}`]);
  if (p.every((x) => x !== undefined && hexValue(x) !== undefined)) params = p.map((x) => hexValue(x!)!);
  else if (args.length > 0) params = args.map((a) => a.value);
  else if (fatal) params = fatal.params.split(',').map((s) => hexValue(s)).filter((s): s is string => s !== undefined);

  const frames: KdFrame[] = [];
  for (const l of blocks.STACK_TEXT ?? []) {
    const fr = parseFrame(l.text, l.line);
    if (fr) frames.push(fr);
  }
  if (frames.length === 0) {
    // No STACK_TEXT: a `k` command's output ("# Child-SP RetAddr Call Site") is the next best stack.
    const k = lines.findIndex((l) => /^\s*#\s+Child-SP\s+RetAddr\s+Call Site/.test(l));
    if (k >= 0) {
      for (let j = k + 1; j < lines.length && lines[j]!.trim() !== ''; j++) {
        const fr = parseFrame(lines[j]!, j + 1);
        if (fr) frames.push(fr);
      }
    }
  }

  // The first line of a block, without a trailing ` [source @ line]`.
  const firstLine = (key: string): string | undefined => {
    const first = blocks[key]?.[0]?.text.trim();
    if (first === undefined) return undefined;
    for (let open = first.indexOf('['); open >= 0; open = first.indexOf('[', open + 1)) {
      if (open > 0 && isSpaceChar(first[open - 1]!)) return first.slice(0, open).trim();
    }
    return first;
  };
  const symbol = fields.SYMBOL_NAME || firstLine('FOLLOWUP_IP') || firstLine('FAULTING_IP') || undefined;
  const sym = symbol ? parseSymbol(symbol) : undefined;

  let module: string | undefined;
  let moduleSource: KdAnalysis['moduleSource'];
  // `FAULTING_MODULE: fffff80612340000 MyDriver`: the last word.
  const faultingModule = fields.FAULTING_MODULE ? fields.FAULTING_MODULE.trim().split(/\s+/).pop() || undefined : undefined;
  if (fields.MODULE_NAME) [module, moduleSource] = [fields.MODULE_NAME, 'MODULE_NAME'];
  else if (fields.IMAGE_NAME) [module, moduleSource] = [stripExt(fields.IMAGE_NAME), 'IMAGE_NAME'];
  else if (faultingModule) [module, moduleSource] = [stripExt(faultingModule), 'FAULTING_MODULE'];
  else if (sym?.module) [module, moduleSource] = [sym.module, 'symbol'];
  else {
    const culprit = frames.find((f) => f.module && !PLUMBING_MODULES.has(f.module.toLowerCase()));
    if (culprit?.module) [module, moduleSource] = [culprit.module, 'stack'];
  }
  const fn = sym?.function ?? (!symbol && moduleSource === 'stack' ? frames.find((f) => f.module === module)?.function : undefined);

  const out: KdAnalysis = {
    bugcheck: { code: codeNum, name: headerName ?? bugcheckName(codeNum), params },
    args,
    fields,
    keyValues,
    frames,
    cut: fields.FAILURE_BUCKET_ID === undefined,
  };
  if (headerName !== undefined) out.headerName = headerName;
  if (truncated) out.truncated = truncated;
  const opt: Array<[keyof KdAnalysis, string | undefined]> = [
    ['processName', fields.PROCESS_NAME],
    ['symbol', symbol],
    ['module', module],
    ['moduleSource', moduleSource],
    ['function', fn],
    ['imageName', fields.IMAGE_NAME],
    ['imageVersion', fields.IMAGE_VERSION],
    ['failureBucketId', fields.FAILURE_BUCKET_ID ?? keyValues['Failure.Bucket']],
    ['failureIdHash', fields.FAILURE_ID_HASH ?? keyValues['Failure.Hash']],
    ['osVersion', fields.OS_VERSION ?? keyValues['WER.OS.Version']],
    ['dvViolatedCondition', fields.DV_VIOLATED_CONDITION],
    ['defaultBucketId', fields.DEFAULT_BUCKET_ID],
    ['bugcheckStr', fields.BUGCHECK_STR],
  ];
  for (const [k, v] of opt) if (v) (out as unknown as Record<string, unknown>)[k] = v;
  const build = buildFrom(fields, keyValues, text);
  if (build !== undefined) out.build = build;
  return out;
}
