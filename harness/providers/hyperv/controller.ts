// Who owns a VM on a Hyper-V host. The host may be another machine, so there is no state folder of
// ours there: the owner travels with the VM, as a tag in its notes (Set-VM -Notes), which
// list_cell_vms.ps1 reads back. cleanupLeftovers() removes the VMs whose controller has died.
import { existsSync } from 'node:fs';
import os from 'node:os';
import { bootId, procStartTime } from '../qemu/process.ts';

export const NOTES_PREFIX = 'fleetgate:';

export interface ControllerId {
  /** os.hostname() of the controller's machine. */
  readonly hostname: string;
  readonly pid: number;
  /** /proc start time where there is /proc, else the process start as epoch ms: tells a reused pid apart. */
  readonly startTime: string;
  /** Linux boot id, when known: a pid from before a reboot is never "alive". */
  readonly bootId?: string;
}

export interface VmTag {
  readonly controller: ControllerId;
  /** ISO time the VM was made for its cell. */
  readonly startedAt: string;
  readonly mode: 'differencing' | 'checkpoint';
  /** Differencing mode: the VM's folder on the host (disk, configuration). */
  readonly vmDir?: string;
  /** Checkpoint mode: the checkpoint a cleanup returns the VM to. */
  readonly checkpointName?: string;
  /** The cell's VM name (spec.name), for messages. */
  readonly cell: string;
}

const hasProc = existsSync('/proc/self/stat');

export function thisControllerId(): ControllerId {
  if (hasProc) {
    const startTime = procStartTime(process.pid);
    if (startTime !== undefined) return { hostname: os.hostname(), pid: process.pid, startTime, bootId: bootId() };
  }
  return { hostname: os.hostname(), pid: process.pid, startTime: String(Math.round(Date.now() - process.uptime() * 1000)) };
}

export function formatTag(tag: VmTag): string {
  return NOTES_PREFIX + JSON.stringify(tag);
}

/** The tag in a VM's notes; null when the notes hold none or an unreadable one. */
export function parseTag(notes: string | null | undefined): VmTag | null {
  if (!notes || !notes.startsWith(NOTES_PREFIX)) return null;
  try {
    const v = JSON.parse(notes.slice(NOTES_PREFIX.length)) as Partial<VmTag>;
    const c = v.controller as Partial<ControllerId> | undefined;
    if (!c || typeof c.hostname !== 'string' || typeof c.pid !== 'number' || typeof c.startTime !== 'string') return null;
    if (typeof v.startedAt !== 'string' || (v.mode !== 'differencing' && v.mode !== 'checkpoint') || typeof v.cell !== 'string') return null;
    return v as VmTag;
  } catch {
    return null;
  }
}

/**
 * Whether the controller that owns a VM is alive: true or false when it ran on this machine,
 * undefined when it ran on another one (which this controller cannot see: its VMs are left alone).
 */
export function isControllerAlive(id: ControllerId): boolean | undefined {
  if (id.hostname !== os.hostname()) return undefined;
  if (hasProc && id.bootId !== undefined) {
    return id.bootId === bootId() && procStartTime(id.pid) === id.startTime;
  }
  // Without /proc (a Windows controller next to its local Hyper-V): whether the pid exists. A pid
  // reused since by another process reads as alive, which errs on the side of leaving a VM.
  if (id.pid === process.pid) return id.startTime === thisControllerId().startTime;
  try {
    process.kill(id.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function sameController(a: ControllerId, b: ControllerId): boolean {
  return a.hostname === b.hostname && a.pid === b.pid && a.startTime === b.startTime;
}
