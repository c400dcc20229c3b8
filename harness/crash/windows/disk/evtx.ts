// A System.evtx copied off a disk, read with libevtx's evtxexport (Debian libevtx-utils) as XML, one
// <Event> at a time: only records whose EventID is one event-xml.ts reads are parsed, so a 20 MB log
// (Windows' default size) streams through in one pass without holding its XML.
import { spawn } from 'node:child_process';
import { InfraFailure, InputError } from '../../../../lib/errors.ts';
import { CRASH_EVENT_IDS, EVENT_XML_MAX_CHARS, parseEventXml, type SystemEvent } from '../event-xml.ts';

/** Records kept from one log; a System log of Windows' default 20 MB holds about 40,000 records in all. */
export const EVTX_MAX_EVENTS = 100_000;

/** The record's EventID, found by hand (one pass, no backtracking): `<EventID ...>41</EventID>`. */
export function eventIdOf(record: string): number | undefined {
  const at = record.indexOf('<EventID');
  if (at < 0) return undefined;
  const after = record[at + 8];
  if (after !== '>' && after !== ' ' && after !== '\t' && after !== '\n' && after !== '\r') return undefined;
  const open = record.indexOf('>', at + 8);
  const close = record.indexOf('</EventID>', open + 1);
  if (open < 0 || close < 0) return undefined;
  const text = record.slice(open + 1, close).trim();
  return /^\d{1,5}$/.test(text) ? Number(text) : undefined;
}

/** The crash-related events of an .evtx file, in log order. */
export function readEvtx(file: string, timeoutMs = 10 * 60_000): Promise<SystemEvent[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('evtxexport', ['-f', 'xml', file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C.UTF-8' } });
    const events: SystemEvent[] = [];
    let pending = '';
    let stderr = '';
    let failure: Error | undefined;
    const timer = setTimeout(() => {
      failure = new InfraFailure(`evtxexport ${file} did not finish within ${Math.round(timeoutMs / 1000)} s`);
      child.kill('SIGKILL');
    }, timeoutMs);
    const take = (record: string) => {
      const id = eventIdOf(record);
      if (id === undefined || !CRASH_EVENT_IDS.has(id)) return;
      events.push(...parseEventXml(file, record));
      if (events.length > EVTX_MAX_EVENTS) throw new InputError({ file }, `more than EVTX_MAX_EVENTS (${EVTX_MAX_EVENTS}) crash-related events; not a System log Windows keeps`);
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (failure) return;
      pending += chunk;
      try {
        for (;;) {
          const start = pending.indexOf('<Event ');
          if (start < 0) {
            // Keep a tail that could be the start of a tag cut by the chunk boundary.
            pending = pending.slice(-16);
            break;
          }
          const end = pending.indexOf('</Event>', start);
          if (end < 0) {
            pending = pending.slice(start);
            if (pending.length > EVENT_XML_MAX_CHARS) throw new InputError({ file }, `an event record longer than EVENT_XML_MAX_CHARS (${EVENT_XML_MAX_CHARS}) characters of XML`);
            break;
          }
          take(pending.slice(start, end + '</Event>'.length));
          pending = pending.slice(end + '</Event>'.length);
        }
      } catch (err) {
        failure = err as Error;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString('utf8');
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject((err as NodeJS.ErrnoException).code === 'ENOENT' ? new InfraFailure('evtxexport is not installed (Debian package libevtx-utils); reading a System log needs it') : err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (failure) reject(failure);
      else if (code !== 0) reject(new InputError({ file }, `evtxexport cannot read it as an event log (exit ${code}): ${stderr.trim().split('\n').slice(-1)[0] ?? ''}`));
      else resolve(events);
    });
  });
}
