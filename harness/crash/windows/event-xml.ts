// System log events as XML (the schema Get-WinEvent's ToXml() and evtxexport -f xml both print), read
// for what a crash leaves behind (reference windows.md §4):
// - 1001 from Microsoft-Windows-WER-SystemErrorReporting (event source BugCheck): the bugcheck, its
//   parameters, the dump's path and the report id, read by the same code as the event's text;
// - 41 from Microsoft-Windows-Kernel-Power: the system rebooted without shutting down cleanly;
//   BugcheckCode is decimal and 0 when no bugcheck was recorded (power lost, a hard hang reset);
// - 6008 from EventLog: "the previous system shutdown was unexpected", with the time it was last
//   seen alive; its strings follow the machine's locale, so the time is read from its binary data;
// - 6 from Microsoft-Windows-FilterManager: a filter loaded and registered (which, and its status).
// A record is the text of one <Event> (or a pasted part of one: without <Event> or <System>).
import { XMLParser } from 'fast-xml-parser';
import { boundText, type TextBounds } from '../../../lib/text-bounds.ts';
import { InputError } from '../../../lib/errors.ts';
import { parseBugcheckEvent1001, type BugcheckEventRecord } from './events.ts';

/** Characters of one event record read: a record's strings are at most 31,839 characters each, and a few of them. */
export const EVENT_XML_MAX_CHARS = 256 * 1024;
const BOUNDS: TextBounds = { maxChars: EVENT_XML_MAX_CHARS, maxLineChars: EVENT_XML_MAX_CHARS };

export interface SystemEvent {
  readonly id: number;
  readonly provider: string;
  readonly recordId?: number;
  /** TimeCreated SystemTime, as written (UTC, ISO 8601). */
  readonly time?: string;
  /** Named <Data> values. */
  readonly data: Readonly<Record<string, string>>;
  /** Unnamed <Data> values in order (classic event sources such as EventLog). */
  readonly strings: readonly string[];
  /** <Binary> as hex, when present. */
  readonly binary?: string;
}

export interface KernelPower41 {
  readonly recordId?: number;
  readonly time?: string;
  /** 0: no bugcheck was recorded for the unclean reboot. */
  readonly bugcheckCode: number;
  readonly params: string[];
}

export interface UnexpectedShutdown {
  readonly recordId?: number;
  readonly time?: string;
  /** When the system was last seen alive, UTC, from the event's binary data (locale-free). */
  readonly lastAliveUtc?: string;
  /** The localized time and date strings as written. */
  readonly strings: readonly string[];
}

export interface FilterLoaded {
  readonly recordId?: number;
  readonly time?: string;
  readonly filter: string;
  readonly status: string;
}

export interface CrashEvents {
  readonly bugchecks: Array<BugcheckEventRecord & { recordId?: number; time?: string }>;
  readonly kernelPower41: KernelPower41[];
  readonly unexpectedShutdowns: UnexpectedShutdown[];
  readonly filterLoads: FilterLoaded[];
}

/** Event ids read here; evtx.ts parses only records that carry one of them. */
export const CRASH_EVENT_IDS: ReadonlySet<number> = new Set([1001, 41, 6008, 6]);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: true,
  isArray: (name) => name === 'Data' || name === 'Event',
});

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);
const textOf = (v: unknown): string => (typeof v === 'string' ? v : isNode(v) && typeof v['#text'] === 'string' ? v['#text'] : '');

function eventOf(node: Node): SystemEvent | null {
  const sys = isNode(node['System']) ? node['System'] : node;
  const idText = textOf(sys['EventID']).trim();
  if (!/^\d{1,5}$/.test(idText)) return null;
  const provider = isNode(sys['Provider']) ? String(sys['Provider']['@Name'] ?? '') : '';
  const rec = textOf(sys['EventRecordID']).trim();
  const time = isNode(sys['TimeCreated']) ? sys['TimeCreated']['@SystemTime'] : undefined;
  const ed = isNode(node['EventData']) ? node['EventData'] : isNode(node['UserData']) ? node['UserData'] : {};
  const data: Record<string, string> = {};
  const strings: string[] = [];
  for (const d of Array.isArray(ed['Data']) ? ed['Data'] : []) {
    const name = isNode(d) && typeof d['@Name'] === 'string' ? d['@Name'] : undefined;
    if (name !== undefined) data[name] = textOf(d);
    else strings.push(textOf(d));
  }
  const binary = textOf(ed['Binary']).trim();
  return {
    id: Number(idText),
    provider,
    ...(/^\d{1,20}$/.test(rec) ? { recordId: Number(rec) } : {}),
    ...(typeof time === 'string' ? { time } : {}),
    data,
    strings,
    ...(/^[0-9A-Fa-f]+$/.test(binary) ? { binary } : {}),
  };
}

/**
 * The events in one piece of XML: one or more <Event> records, or one pasted record without its
 * <Event> wrapper. `file` names the source in errors.
 */
export function parseEventXml(file: string, input: string): SystemEvent[] {
  const { text } = boundText(`${file}: event XML`, input, BOUNDS);
  let doc: unknown;
  try {
    doc = parser.parse(text);
  } catch (err) {
    throw new InputError({ file }, `not event XML: ${(err as Error).message}`);
  }
  if (!isNode(doc)) return [];
  const records = Array.isArray(doc['Event']) ? doc['Event'].filter(isNode) : [doc];
  return records.map(eventOf).filter((e): e is SystemEvent => e !== null);
}

/** SYSTEMTIME (8 little-endian u16: year, month, weekday, day, hour, minute, second, ms) at byte `at` of hex. */
function systemTime(hex: string, at: number): string | undefined {
  if (hex.length < (at + 16) * 2) return undefined;
  const u16 = (i: number) => parseInt(hex.slice((at + 2 * i) * 2, (at + 2 * i) * 2 + 2), 16) | (parseInt(hex.slice((at + 2 * i) * 2 + 2, (at + 2 * i) * 2 + 4), 16) << 8);
  const [y, mo, , d, h, mi, s, ms] = [0, 1, 2, 3, 4, 5, 6, 7].map(u16) as [number, number, number, number, number, number, number, number];
  if (y < 1601 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59 || ms > 999) return undefined;
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(y, 4)}-${p(mo)}-${p(d)}T${p(h)}:${p(mi)}:${p(s)}.${p(ms, 3)}Z`;
}

const hexParam = (v: string | undefined): string => {
  const m = /^\s*0x([0-9a-fA-F]{1,16})\s*$/.exec(v ?? '');
  return m ? `0x${BigInt(`0x${m[1]}`).toString(16)}` : '0x0';
};

/** What the events say about crashes, in the order given. */
export function crashEventsOf(events: readonly SystemEvent[]): CrashEvents {
  const out: CrashEvents = { bugchecks: [], kernelPower41: [], unexpectedShutdowns: [], filterLoads: [] };
  for (const e of events) {
    const at = { ...(e.recordId !== undefined ? { recordId: e.recordId } : {}), ...(e.time ? { time: e.time } : {}) };
    if (e.id === 1001 && /WER-SystemErrorReporting|^BugCheck$/i.test(e.provider)) {
      // The event's message is "The computer has rebooted from a bugcheck.  The bugcheck was: %1. A
      // dump was saved in: %2. Report Id: %3.": read through the same code as its text.
      const p = [e.data['param1'] ?? e.strings[0], e.data['param2'] ?? e.strings[1], e.data['param3'] ?? e.strings[2]];
      if (p[0] === undefined) continue;
      const r = parseBugcheckEvent1001(`The bugcheck was: ${p[0]}.${p[1] ? ` A dump was saved in: ${p[1]}.` : ''}${p[2] ? ` Report Id: ${p[2]}.` : ''}`);
      if (r) out.bugchecks.push({ ...r, ...at });
    } else if (e.id === 41 && /Kernel-Power/i.test(e.provider)) {
      const code = /^\d{1,10}$/.test(e.data['BugcheckCode'] ?? '') ? Number(e.data['BugcheckCode']) : 0;
      out.kernelPower41.push({ ...at, bugcheckCode: code, params: [1, 2, 3, 4].map((i) => hexParam(e.data[`BugcheckParameter${i}`])) });
    } else if (e.id === 6008 && /^EventLog$/i.test(e.provider)) {
      // Binary: two SYSTEMTIMEs, local then UTC (the UTC one is what we keep).
      const utc = e.binary ? systemTime(e.binary, 16) : undefined;
      out.unexpectedShutdowns.push({ ...at, ...(utc ? { lastAliveUtc: utc } : {}), strings: e.strings.slice(0, 2) });
    } else if (e.id === 6 && /FilterManager/i.test(e.provider)) {
      out.filterLoads.push({ ...at, filter: e.data['DeviceName'] ?? '', status: e.data['FinalStatus'] ?? '' });
    }
  }
  return out;
}
