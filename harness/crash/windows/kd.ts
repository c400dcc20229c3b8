// Reads the text of a kernel debugger `!analyze -v` (reference windows.md §6): the modern `KEY: value`
// lines, the multi-line STACK_TEXT, and the older header block ("NAME (code)" then "Arguments:" and
// "Arg1: value, meaning") that cut or old outputs still have. Real outputs come cut at any point (issue
// trackers, documentation with "..." elisions, an index that stopped mid-line), so every section is
// optional; only a bugcheck code is required. Pure: text in, value out.
import { InputError } from '../../../lib/errors.ts';
import { bugcheckName, parseHex } from '../bugchecks.ts';

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
}

const FIELD = /^\s*([A-Z][A-Z0-9_]{2,}):(?:\s(.*)|)$/;
const HEADER = /^\s*([A-Z][A-Z0-9_]{2,}) \(([0-9a-fA-F]{1,8})\)\s*$/;
const ARG = /^\s*Arg([1-4]): ([0-9a-fA-F`]+)(?:,\s*(.*))?$/;
const FATAL = /\*\*\* Fatal System Error: 0x([0-9a-fA-F]+)\s*\(([^)]*)\)/;
const KV_KEY = /^\s*Key\s*:\s*(\S+)\s*$/;
const KV_VALUE = /^\s*Value:\s*(.*?)\s*$/;
// Fields whose value is on the following lines.
const BLOCKS = new Set(['STACK_TEXT', 'FAULTING_IP', 'FOLLOWUP_IP', 'IP_IN_PAGED_CODE', 'FAILED_INSTRUCTION_ADDRESS']);
// Kernel and verifier plumbing between the bugcheck and the culprit: skipped when the stack alone
// has to name a module.
const PLUMBING_MODULES = new Set(['nt', 'ntoskrnl', 'ntkrnlmp', 'ntkrnlpa', 'ntkrpamp', 'hal', 'verifierext']);

/** True when the text looks like debugger analysis output. */
export function looksLikeKdAnalysis(text: string): boolean {
  return (
    /Bugcheck Analysis/.test(text) ||
    /^\s*BUGCHECK_CODE:/m.test(text) ||
    FATAL.test(text) ||
    /^\s*[A-Z][A-Z0-9_]{2,} \([0-9a-fA-F]{1,8}\)\s*\n(?:.*\n){0,30}?\s*Arguments:\s*\n\s*Arg1: /m.test(text)
  );
}

function hexValue(text: string): string | undefined {
  const v = parseHex(text);
  return v === undefined ? undefined : `0x${v.toString(16)}`;
}

/** Parses `module!function+offset`, `module+offset`, `module!function [src @ n]`; undefined for an address only. */
export function parseSymbol(text: string): Pick<KdFrame, 'module' | 'function' | 'offset' | 'source'> | undefined {
  let s = text.trim().replace(/\s+\.\.\.$/, '');
  let source: string | undefined;
  const src = /\s+\[([^\]]+)\]\s*$/.exec(s);
  if (src) {
    source = src[1];
    s = s.slice(0, src.index).trim();
  }
  const withFn = /^([A-Za-z0-9_.$-]+)!(.+?)(?:\+(?:0x)?([0-9a-fA-F]+))?$/.exec(s);
  if (withFn) {
    return { module: withFn[1]!, function: withFn[2]!, ...(withFn[3] ? { offset: `0x${withFn[3].toLowerCase()}` } : {}), ...(source ? { source } : {}) };
  }
  const modOnly = /^([A-Za-z_][A-Za-z0-9_.$-]*)\+(?:0x)?([0-9a-fA-F]+)$/.exec(s);
  if (modOnly) return { module: modOnly[1]!, offset: `0x${modOnly[2]!.toLowerCase()}`, ...(source ? { source } : {}) };
  return undefined;
}

const HEXW = '[0-9a-fA-F]{8}(?:`[0-9a-fA-F]{8})?';
const FRAME_X64 = new RegExp(`^\\s*(${HEXW})\\s+(${HEXW})\\s+:.*?:\\s+(.+?)\\s*$`);
const FRAME_X86 = new RegExp(`^\\s*(${HEXW}) (${HEXW})(?: ${HEXW}){3} (.+?)\\s*$`);
const FRAME_K = new RegExp(`^\\s*[0-9a-fA-F]{2,} (${HEXW}) (${HEXW})\\s+(.+?)\\s*$`);
const FRAME_ELIDED = /^\s*\.\.\.\s+:\s+(.+?)\s*$/;

function parseFrame(line: string, lineNo: number): KdFrame | undefined {
  let m = FRAME_X64.exec(line) ?? FRAME_X86.exec(line) ?? FRAME_K.exec(line);
  let sym: string | undefined;
  const frame: KdFrame = { line: lineNo };
  if (m) {
    frame.childSp = hexValue(m[1]!);
    frame.returnAddress = hexValue(m[2]!);
    sym = m[3];
  } else if ((m = FRAME_ELIDED.exec(line))) {
    sym = m[1];
  } else {
    return undefined;
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
export function parseKdAnalysis(text: string, file = '<kd output>'): KdAnalysis {
  const lines = text.split(/\r?\n/);
  const fields: Record<string, string> = {};
  const blocks: Record<string, Array<{ text: string; line: number }>> = {};
  const keyValues: Record<string, string> = {};
  const args: Array<{ value: string; meaning?: string }> = [];
  let headerName: string | undefined;
  let headerCode: number | undefined;

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const h = HEADER.exec(line);
    if (h && headerName === undefined && lines.slice(i + 1, i + 40).some((l) => /^\s*Arguments:\s*$/.test(l))) {
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
      if (v && !(k[1]! in keyValues)) keyValues[k[1]!] = v[1]!;
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
  const fatal = FATAL.exec(text);
  const codeText = fields.BUGCHECK_CODE ?? (headerCode !== undefined ? headerCode.toString(16) : undefined) ?? keyValues['Bugcheck.Code.KiBugCheckData'] ?? keyValues['Bugcheck.Code.LegacyAPI'] ?? fatal?.[1];
  const code = codeText === undefined ? undefined : parseHex(codeText);
  if (code === undefined || code > 0xffffffffn) {
    throw new InputError(
      { file, line: 1 },
      'no bugcheck code found: expected a "BUGCHECK_CODE:" line, a "NAME (code)" header followed by "Arguments:", or a "*** Fatal System Error: 0x…" banner',
    );
  }
  const codeNum = Number(code);

  let params: string[] = [];
  const p = [1, 2, 3, 4].map((n) => fields[`BUGCHECK_P${n}`]);
  if (p.every((x) => x !== undefined && hexValue(x) !== undefined)) params = p.map((x) => hexValue(x!)!);
  else if (args.length > 0) params = args.map((a) => a.value);
  else if (fatal) params = fatal[2]!.split(',').map((s) => hexValue(s)).filter((s): s is string => s !== undefined);

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

  const firstLine = (key: string): string | undefined => blocks[key]?.[0]?.text.trim().split(/\s+\[/)[0]?.trim();
  const symbol = fields.SYMBOL_NAME || firstLine('FOLLOWUP_IP') || firstLine('FAULTING_IP') || undefined;
  const sym = symbol ? parseSymbol(symbol) : undefined;

  let module: string | undefined;
  let moduleSource: KdAnalysis['moduleSource'];
  const faultingModule = fields.FAULTING_MODULE ? /(\S+)\s*$/.exec(fields.FAULTING_MODULE)?.[1] : undefined;
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
