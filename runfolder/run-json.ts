// run.json (DESIGN.md "Files a run leaves"): the matrix as resolved, every cell's coordinates, tool
// versions, hosts, start and end. Written by the harness, read by the reports; the run folder's other
// files are journal.ts and summary.ts beside this one.
import { closeSync, fsyncSync, openSync, renameSync, writeFileSync } from 'node:fs';
import type { Cell, Plan } from '../matrix/index.ts';
import type { cellJson } from '../matrix/cell-json.ts';
import type { MatrixRecord } from './journal.ts';

export const RUN_FILE = 'run.json';
export const SUMMARY_FILE = 'summary.json';

export type CellJson = ReturnType<typeof cellJson>;

export interface ToolVersions {
  node: string;
  fleetgate: string;
  qemu: string | null;
}

export interface RunJson {
  runId: string;
  matrix: MatrixRecord & { description: string | null; gate: string | null; filters: Plan['filters'] };
  shard: string | null;
  cells: CellJson[];
  /**
   * The cells exactly as the plan made them (every field, including those cellJson leaves out), so
   * --resume runs the very same cells without reading the matrix file again.
   */
  cellsResolved: Cell[];
  tools: ToolVersions;
  hosts: HostRecord[];
  started: string;
  ended: string | null;
  resumes: Array<{ at: string; tools: ToolVersions; hosts: string[] }>;
  /** Set by `fleetgate merge`: the run folders this one was made from. */
  mergedFrom?: string[];
}

/** A host as run.json records it (harness/run/hosts.ts reads the inventory into these). */
export interface HostRecord {
  name: string;
  /** The provider kind that drives the host's VMs (qemu, hyperv). */
  provider: string;
  /** `local`, or `ssh://user@host[:port]` for a remote hypervisor host. */
  reach: string;
  /** Cells this host runs at once. */
  slots: number;
  /**
   * CPU cores the host's VMs share (absent: one per slot). A cell that measures latency holds as many
   * as its VM has vCPUs (harness/run/runners.ts coresFor), so on a 2-core host it runs alone.
   */
  cores?: number;
  memoryMiB: number;
  /** Release names whose images the host has, or `*` for every release. */
  images: string[];
}

/** Writes JSON so a reader (or a crash) sees the old file or the new one, never half of one. */
export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

