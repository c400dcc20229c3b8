// The run folder (DESIGN.md "Files a run leaves"): runs/<run-id>/ with run.json (the matrix as
// resolved, tool versions, hosts, start/end), journal.ndjson, summary.json and cells/<id>/attempt-<n>/.
// run.json holds every cell's coordinates, so a run can be resumed and reported from its folder alone.
import { execFileSync } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { InputError, UsageError } from '../../lib/errors.ts';
import type { Cell, Plan } from '../../matrix/index.ts';
import { cellJson } from '../../matrix/cell-json.ts';
import { JOURNAL_FILE, type JournalEvent, type MatrixRecord } from '../../runfolder/journal.ts';
import type { HostSpec } from './hosts.ts';
import { RUN_FILE, SUMMARY_FILE, writeJsonAtomic, type CellJson, type RunJson, type ToolVersions } from '../../runfolder/run-json.ts';

export const DEFAULT_RUNS_ROOT = 'runs';

/** `20261127T101500Z-3f9a1c`: sorts by time, unique enough for two controllers in one second. */
export function newRunId(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

let cachedTools: ToolVersions | null = null;

/** Versions of what ran the cells; qemu is looked up once per process (null when not installed). */
export function toolVersions(): ToolVersions {
  if (cachedTools) return cachedTools;
  let qemu: string | null = null;
  try {
    const out = execFileSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
    qemu = /version\s+(\S+)/.exec(out)?.[1] ?? out.split('\n')[0]?.trim() ?? null;
  } catch {
    qemu = null;
  }
  let fleetgate = '0.0.0';
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    fleetgate = pkg.version ?? fleetgate;
  } catch {
    // a missing package.json only loses the version
  }
  cachedTools = { node: process.version, fleetgate, qemu };
  return cachedTools;
}

export function matrixRecord(plan: Plan): MatrixRecord {
  const ids = plan.cells.map((c) => c.id).sort();
  return {
    name: plan.name,
    file: plan.file,
    totalCells: plan.cells.length,
    cellsHash: createHash('sha256').update(ids.join('\n')).digest('hex'),
  };
}

export interface CreateRunDirOptions {
  plan: Plan;
  cells: readonly Cell[];
  hosts: readonly HostSpec[];
  shard: string | null;
  /** The folder to use (`--out`); default runs/<run-id>/ under `root`. */
  out?: string;
  root?: string;
  tools?: ToolVersions;
  now?: Date;
}

export interface RunDir {
  dir: string;
  runId: string;
  journalFile: string;
  summaryFile: string;
  runJson: RunJson;
}

/** Makes a new run folder and its run.json; refuses a folder that already holds a run. */
export function createRunDir(o: CreateRunDirOptions): RunDir {
  const now = o.now ?? new Date();
  const runId = newRunId(now);
  const dir = path.resolve(o.out ?? path.join(o.root ?? DEFAULT_RUNS_ROOT, runId));
  if (existsSync(path.join(dir, JOURNAL_FILE)) || existsSync(path.join(dir, RUN_FILE))) {
    throw new UsageError(`${dir} already holds a run; resume it with --resume ${dir} or choose another --out`);
  }
  mkdirSync(path.join(dir, 'cells'), { recursive: true });
  const runJson: RunJson = {
    runId,
    matrix: {
      ...matrixRecord(o.plan),
      description: o.plan.description ?? null,
      gate: o.plan.gate ?? null,
      filters: o.plan.filters,
    },
    shard: o.shard,
    cells: o.cells.map(cellJson),
    cellsResolved: o.cells.map((c) => structuredClone(c)),
    tools: o.tools ?? toolVersions(),
    hosts: [...o.hosts],
    started: now.toISOString(),
    ended: null,
    resumes: [],
  };
  writeJsonAtomic(path.join(dir, RUN_FILE), runJson);
  return { dir, runId, journalFile: path.join(dir, JOURNAL_FILE), summaryFile: path.join(dir, SUMMARY_FILE), runJson };
}

/** Opens an existing run folder (for --resume, merge and reports). */
export function openRunDir(dirArg: string): RunDir {
  const dir = path.resolve(dirArg);
  const file = path.join(dir, RUN_FILE);
  if (!existsSync(file)) throw new UsageError(`${dir} is not a run folder (no ${RUN_FILE})`);
  let runJson: RunJson;
  try {
    runJson = JSON.parse(readFileSync(file, 'utf8')) as RunJson;
  } catch (err) {
    throw new InputError({ file }, `not JSON (${(err as Error).message})`);
  }
  if (typeof runJson.runId !== 'string' || !Array.isArray(runJson.cells) || typeof runJson.matrix !== 'object') {
    throw new InputError({ file }, 'expected a run.json with runId, matrix and cells');
  }
  runJson.resumes ??= [];
  return { dir, runId: runJson.runId, journalFile: path.join(dir, JOURNAL_FILE), summaryFile: path.join(dir, SUMMARY_FILE), runJson };
}

/** How far a matrix hash is shown in the refusal: enough to tell two apart, short enough to read. */
const HASH_SHOWN = 12;

/**
 * Resume (issue #16 row 6): the journal about to be adopted, run.json and the folder's summary.json
 * must name one run (run id and matrix hash). Cell ids alone are not enough: two runs of one matrix
 * have the same cells, and adopting the other's journal makes summary.json name one run and run.json,
 * JUnit and Markdown another. Throws, saying which file names which run, when they differ.
 * A summary.json that cannot be read is not evidence either way (it is rewritten from the journal).
 */
export function checkResumeIdentity(rd: RunDir, events: readonly JournalEvent[]): void {
  const seen: Array<{ file: string; runId: string | null; hash: string | null }> = [];
  seen.push({ file: RUN_FILE, runId: rd.runJson.runId, hash: typeof rd.runJson.matrix?.cellsHash === 'string' ? rd.runJson.matrix.cellsHash : null });
  // The journal's own run: its first run-begin (a merged journal's later ones are its parts), and
  // every run-resume the scheduler wrote (each with the run id it resumed under).
  const begin = events.find((e) => e.type === 'run-begin');
  if (begin) seen.push({ file: JOURNAL_FILE, runId: begin.runId, hash: typeof begin.matrix?.cellsHash === 'string' ? begin.matrix.cellsHash : null });
  for (const e of events) {
    if (e.type === 'run-resume' && e.runId !== begin?.runId) seen.push({ file: `${JOURNAL_FILE} (run-resume at ${e.at})`, runId: e.runId, hash: null });
  }
  const summaryFile = path.join(rd.dir, SUMMARY_FILE);
  if (existsSync(summaryFile)) {
    try {
      const s = JSON.parse(readFileSync(summaryFile, 'utf8')) as { run?: { id?: unknown; matrix?: { cellsHash?: unknown } | null } };
      const id = typeof s.run?.id === 'string' ? s.run.id : null;
      const hash = typeof s.run?.matrix?.cellsHash === 'string' ? s.run.matrix.cellsHash : null;
      if (id !== null || hash !== null) seen.push({ file: SUMMARY_FILE, runId: id, hash });
    } catch {
      // unreadable: rewritten from the journal once the run resumes
    }
  }
  const ids = new Set(seen.map((x) => x.runId).filter((x) => x !== null));
  const hashes = new Set(seen.map((x) => x.hash).filter((x) => x !== null));
  if (ids.size <= 1 && hashes.size <= 1) return;
  const what = seen.map((x) => `${x.file}: run ${x.runId ?? '(none)'}${x.hash !== null ? `, matrix hash ${x.hash.slice(0, HASH_SHOWN)}` : ''}`).join('; ');
  throw new InputError({ file: path.join(rd.dir, JOURNAL_FILE) }, `the files of ${rd.dir} do not belong to one run (${what}); refusing to resume: resume the folder each came from, or start a new run`);
}

export function updateRunJson(rd: RunDir, change: (r: RunJson) => void): void {
  change(rd.runJson);
  writeJsonAtomic(path.join(rd.dir, RUN_FILE), rd.runJson);
}

/** A Cell back from its coordinates (run.json files written before cellsResolved existed). */
export function cellFromJson(j: CellJson): Cell {
  return {
    id: j.id,
    os: { ...j.os },
    driver: j.driver,
    driverBuild: { name: j.driver, path: j.driverPath, upgradeFrom: j.upgradeFrom, params: {} },
    verifier: j.verifier,
    workloads: [...j.workloads],
    workloadRefs: [...j.workloads],
    coexist: [...j.coexist],
    repeat: j.repeat,
    tags: [...j.tags],
    faults: [],
  };
}

/** The run's cells, as the plan made them. */
export function cellsOfRun(r: RunJson): Cell[] {
  return Array.isArray(r.cellsResolved) && r.cellsResolved.length === r.cells.length ? r.cellsResolved : r.cells.map(cellFromJson);
}

/** The plan as run.json recorded it (its cells are the run's cells: the shard, not the whole plan). */
export function planFromRunJson(r: RunJson): Plan {
  return {
    file: r.matrix.file,
    name: r.matrix.name,
    ...(r.matrix.description !== null ? { description: r.matrix.description } : {}),
    ...(r.matrix.gate !== null ? { gate: r.matrix.gate } : {}),
    filters: r.matrix.filters ?? {},
    cells: cellsOfRun(r),
    warnings: [],
  };
}

export function cellDir(runDir: string, cellId: string): string {
  return path.join(runDir, 'cells', cellId);
}

/** Creates and returns cells/<id>/attempt-<n>/. */
export function makeAttemptDir(runDir: string, cellId: string, attempt: number): string {
  const d = path.join(cellDir(runDir, cellId), `attempt-${attempt}`);
  mkdirSync(d, { recursive: true });
  return d;
}
