// Crash evidence Windows leaves outside a dump (reference windows.md §4, §5): the System log event
// 1001 (Microsoft-Windows-WER-SystemErrorReporting) written after the reboot, and the Hyper-V
// worker's event 18590 written by the host when the guest reports a bugcheck. Both carry only the code
// and the four parameters; the parameters stay `0x…` strings (64-bit, never numbers).
import { parseHex } from '../bugchecks.ts';

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
}

function hexParam(s: string): string | undefined {
  const v = parseHex(s.trim());
  return v === undefined ? undefined : `0x${v.toString(16)}`;
}

// §4: "The computer has rebooted from a bugcheck.  The bugcheck was: 0x0000003b (0x00000000c0000002,
// 0xfffff8073772810a, ...). A dump was saved in: C:\Windows\MEMORY.DMP. Report Id: <guid>."
const EVENT_1001 = /The bugcheck was:\s*0x([0-9a-fA-F]{1,16})\s*\(([^)]*)\)/;

/** Reads the text of event 1001; null when the text is not one. */
export function parseBugcheckEvent1001(text: string): BugcheckEventRecord | null {
  const m = EVENT_1001.exec(text);
  if (!m) return null;
  const code = parseHex(m[1]!);
  if (code === undefined || code > 0xffffffffn) return null;
  const params = m[2]!.split(',').map(hexParam);
  if (params.some((p) => p === undefined)) return null;
  const out: BugcheckEventRecord = { source: 'event-1001', code: Number(code), params: params as string[] };
  // The path ends at ". " before "Report Id", or at the end; paths themselves contain dots.
  const dump = /A dump was saved in:\s*(.+?)\.(?:\s+Report Id:|\s*$)/.exec(text);
  if (dump) out.dumpPath = dump[1]!.trim();
  const report = /Report Id:\s*([0-9a-fA-F-]{8,})/.exec(text);
  if (report) out.reportId = report[1]!;
  return out;
}

// §5: "'<VM>' has encountered a fatal error.  The guest operating system reported that it failed with
// the following error codes: ErrorCode0: 0xD1, ErrorCode1: 0x..., ErrorCode2: 0x2, ErrorCode3: 0x0,
// ErrorCode4: 0x...."  ErrorCode0 is the bugcheck code, 1..4 the parameters.
const EVENT_18590_CODE = /ErrorCode([0-4]):\s*0x([0-9a-fA-F]{1,16})/g;

/** Reads the text of Hyper-V event 18590; null when the text is not one. */
export function parseHyperVEvent18590(text: string): BugcheckEventRecord | null {
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
  return out;
}
