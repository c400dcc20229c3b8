// `fleetgate merge`: shard runs of one matrix (each a run folder with disjoint cells) become one run
// folder: journals concatenated behind merge markers, cell folders copied, a new summary. Refuses
// runs of different matrices and runs that share a cell: either would make the merged verdicts lie.
import { cpSync, existsSync, readdirSync, writeSync, openSync, fsyncSync, closeSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../../lib/errors.ts';
import { JOURNAL_FILE, readJournal, replay, type JournalEvent } from '../../runfolder/journal.ts';
import { newRunId, openRunDir } from './run-dir.ts';
import { writeJsonAtomic, RUN_FILE, SUMMARY_FILE, type RunJson } from '../../runfolder/run-json.ts';
import { buildSummary, outcomeOf, writeSummary, type RunOutcome } from '../../runfolder/summary.ts';

export interface MergeOptions {
  dirs: string[];
  out: string;
  now?: Date;
}

export function mergeRuns(o: MergeOptions): RunOutcome {
  if (o.dirs.length < 2) throw new UsageError('merge needs at least two run folders');
  const out = path.resolve(o.out);
  if (existsSync(out) && readdirSync(out).length > 0) throw new UsageError(`--out ${out} is not empty`);
  const parts = o.dirs.map((d) => {
    const rd = openRunDir(d);
    const read = readJournal(rd.journalFile);
    const begin = read.events.find((e) => e.type === 'run-begin');
    if (!begin) throw new UsageError(`${rd.dir}: the journal has no run-begin (the run never started)`);
    return { rd, read };
  });

  const first = parts[0]!.rd.runJson.matrix;
  for (const p of parts.slice(1)) {
    const m = p.rd.runJson.matrix;
    if (m.cellsHash !== first.cellsHash) {
      throw new UsageError(
        `${p.rd.dir} is a run of another matrix than ${parts[0]!.rd.dir}: ${m.name} (${m.totalCells} cells, ${m.cellsHash.slice(0, 12)}) ` +
          `vs ${first.name} (${first.totalCells} cells, ${first.cellsHash.slice(0, 12)})`,
      );
    }
  }
  const owner = new Map<string, string>();
  const overlaps: string[] = [];
  for (const p of parts) {
    for (const c of p.rd.runJson.cells) {
      const prev = owner.get(c.id);
      if (prev !== undefined) overlaps.push(`${c.id} (in ${prev} and ${p.rd.dir})`);
      else owner.set(c.id, p.rd.dir);
    }
  }
  if (overlaps.length) {
    throw new UsageError(`the runs share ${overlaps.length} cell(s), so they are not shards of one run: ${overlaps.slice(0, 5).join(', ')}${overlaps.length > 5 ? ', ...' : ''}`);
  }

  mkdirSync(path.join(out, 'cells'), { recursive: true });
  for (const p of parts) {
    const cells = path.join(p.rd.dir, 'cells');
    if (existsSync(cells)) cpSync(cells, path.join(out, 'cells'), { recursive: true, errorOnExist: true, force: false });
  }

  const now = o.now ?? new Date();
  const runId = newRunId(now);
  const hosts = new Map<string, RunJson['hosts'][number]>();
  for (const p of parts) for (const h of p.rd.runJson.hosts) if (!hosts.has(h.name)) hosts.set(h.name, h);
  const runJson: RunJson = {
    runId,
    matrix: first,
    shard: null,
    cells: parts.flatMap((p) => p.rd.runJson.cells),
    cellsResolved: parts.flatMap((p) => p.rd.runJson.cellsResolved ?? []),
    tools: parts[0]!.rd.runJson.tools,
    hosts: [...hosts.values()],
    started: parts.map((p) => p.rd.runJson.started).sort()[0]!,
    ended: parts.map((p) => p.rd.runJson.ended ?? '').sort().at(-1) || null,
    resumes: [],
    mergedFrom: parts.map((p) => p.rd.dir),
  };
  writeJsonAtomic(path.join(out, RUN_FILE), runJson);

  // One write for the whole journal: the merged run-begin, then each part behind its marker.
  const at = now.toISOString();
  const firstBegin = parts[0]!.read.events.find((e) => e.type === 'run-begin')!;
  const lines: string[] = [];
  const events: JournalEvent[] = [];
  const add = (e: JournalEvent): void => {
    events.push(e);
    lines.push(JSON.stringify(e));
  };
  add({
    type: 'run-begin', at, runId, matrix: firstBegin.type === 'run-begin' ? firstBegin.matrix : { name: first.name, file: first.file, totalCells: first.totalCells, cellsHash: first.cellsHash },
    cells: runJson.cells.map((c) => c.id), coords: runJson.cells,
    options: { ...(firstBegin.type === 'run-begin' ? firstBegin.options : { policy: { maxInfraRetries: 2, quarantineAfter: 3, inconclusiveFraction: 1 / 3 } }), shard: null, hosts: [...hosts.keys()], merged: runJson.mergedFrom },
  });
  for (const p of parts) {
    add({ type: 'merge', at, from: p.rd.dir, runId: p.rd.runId });
    for (const e of p.read.events) add(e);
  }
  const state = replay(events);
  const { outcome, exitCode, counts } = outcomeOf(state);
  add({ type: 'run-end', at, outcome, exitCode, counts });
  const fd = openSync(path.join(out, JOURNAL_FILE), 'wx');
  try {
    writeSync(fd, `${lines.join('\n')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const summaryFile = path.join(out, SUMMARY_FILE);
  writeSummary(summaryFile, buildSummary(replay(readJournal(path.join(out, JOURNAL_FILE)).events)));
  return { runId, runDir: out, outcome, exitCode, counts, cells: runJson.cells.length, stopped: state.stopped, summaryFile };
}

