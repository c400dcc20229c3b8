// The JSON each host script answers with, checked before use: a host's output is outside input
// (DESIGN.md), so a field of the wrong type is an InfraFailure naming the script and the field, not a
// TypeError three calls later.
import { InfraFailure } from '../../../lib/errors.ts';
import type { HyperVScriptName } from './encode-host.ts';

function obj(v: unknown, where: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new InfraFailure(`${where}: expected a JSON object, got ${JSON.stringify(v)?.slice(0, 200)}`);
  return v as Record<string, unknown>;
}

function bad(where: string, key: string, expected: string, v: unknown): never {
  throw new InfraFailure(`${where}: ${key} should be ${expected}, got ${JSON.stringify(v)?.slice(0, 200) ?? 'nothing'}`);
}

function str(o: Record<string, unknown>, key: string, where: string): string {
  const v = o[key];
  if (typeof v !== 'string') bad(where, key, 'a string', v);
  return v;
}

function optStr(o: Record<string, unknown>, key: string, where: string): string | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') bad(where, key, 'a string or null', v);
  return v;
}

function num(o: Record<string, unknown>, key: string, where: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) bad(where, key, 'a number', v);
  return v;
}

/**
 * ConvertTo-Json in Windows PowerShell 5.1 writes a one-element array held in a property as the array,
 * but an empty one may come out as null, and a single object sometimes unwrapped: accept all three.
 */
function list(o: Record<string, unknown>, key: string, where: string): unknown[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

const at = (script: HyperVScriptName) => `${script} result`;

export interface NewVmResult {
  name: string;
  id: string;
  state: string;
  diskPath: string | null;
  created: boolean;
  /** The host's clock when the VM was made: the start of its event window. */
  hostTime: string;
}

export function newVmResult(v: unknown): NewVmResult {
  const w = at('new_cell_vm');
  const o = obj(v, w);
  return { name: str(o, 'name', w), id: str(o, 'id', w), state: str(o, 'state', w), diskPath: optStr(o, 'diskPath', w), created: o.created === true, hostTime: str(o, 'hostTime', w) };
}

export interface VmStateResult {
  exists: boolean;
  name: string;
  id: string | null;
  /** Hyper-V's state by name (windows.md section 5): Running, Off, Paused, Saved, Starting... */
  state: string | null;
  uptimeSeconds: number;
  heartbeat: string | null;
  notes: string | null;
}

export function vmStateResult(v: unknown): VmStateResult {
  const w = at('get_vm_state');
  const o = obj(v, w);
  if (o.exists !== true) return { exists: false, name: str(o, 'name', w), id: null, state: null, uptimeSeconds: 0, heartbeat: null, notes: null };
  return {
    exists: true,
    name: str(o, 'name', w),
    id: str(o, 'id', w),
    state: str(o, 'state', w),
    uptimeSeconds: num(o, 'uptimeSeconds', w),
    heartbeat: optStr(o, 'heartbeat', w),
    notes: optStr(o, 'notes', w),
  };
}

export function addressResult(v: unknown): { ipv4: string | null; addresses: string[] } {
  const w = at('get_vm_address');
  const o = obj(v, w);
  return { ipv4: optStr(o, 'ipv4', w), addresses: list(o, 'addresses', w).filter((a): a is string => typeof a === 'string') };
}

export interface CrashEventRecord {
  recordId: number;
  timeCreated: string | null;
  message: string;
}

export function crashEventsResult(v: unknown): CrashEventRecord[] {
  const w = at('get_crash_events');
  const o = obj(v, w);
  return list(o, 'events', w).map((e, i) => {
    const ew = `${w}.events[${i}]`;
    const eo = obj(e, ew);
    return { recordId: num(eo, 'recordId', ew), timeCreated: optStr(eo, 'timeCreated', ew), message: str(eo, 'message', ew) };
  });
}

export function stopResult(v: unknown): { how: string } {
  const w = at('stop_vm');
  return { how: str(obj(v, w), 'how', w) };
}

export function removedResult(v: unknown): string[] {
  const w = at('remove_cell_vm');
  return list(obj(v, w), 'removed', w).map(String);
}

export interface ListedVm {
  name: string;
  id: string;
  state: string;
  notes: string;
  creationTime: string | null;
}

export function listResult(v: unknown): { vms: ListedVm[]; hostTime: string | null } {
  const w = at('list_cell_vms');
  const o = obj(v, w);
  const vms = list(o, 'vms', w).map((x, i) => {
    const xw = `${w}.vms[${i}]`;
    const xo = obj(x, xw);
    return { name: str(xo, 'name', xw), id: str(xo, 'id', xw), state: str(xo, 'state', xw), notes: optStr(xo, 'notes', xw) ?? '', creationTime: optStr(xo, 'creationTime', xw) };
  });
  return { vms, hostTime: optStr(o, 'hostTime', w) };
}

export interface InVmExecResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  timedOut: boolean;
  durationMs: number;
}

export function inVmExecResult(v: unknown): InVmExecResult {
  const w = at('invoke_in_vm');
  const o = obj(v, w);
  const code = o.exitCode;
  if (code !== null && code !== undefined && typeof code !== 'number') bad(w, 'exitCode', 'a number or null', code);
  return { stdout: optStr(o, 'stdout', w) ?? '', stderr: optStr(o, 'stderr', w) ?? '', exitCode: (code as number | null | undefined) ?? null, timedOut: o.timedOut === true, durationMs: typeof o.durationMs === 'number' ? o.durationMs : 0 };
}

export function copyToVmResult(v: unknown): { sha256: string; bytes: number } {
  const w = at('copy_to_vm');
  const o = obj(v, w);
  return { sha256: str(o, 'sha256', w), bytes: num(o, 'bytes', w) };
}

export function copyFromVmResult(v: unknown): { guestSha256: string; hostSha256: string; bytes: number } {
  const w = at('copy_from_vm');
  const o = obj(v, w);
  return { guestSha256: str(o, 'guestSha256', w), hostSha256: str(o, 'hostSha256', w), bytes: num(o, 'bytes', w) };
}
