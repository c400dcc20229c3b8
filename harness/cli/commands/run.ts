// `fleetgate run [MATRIX] [--out DIR] [--shard i/n] [--hosts hosts.yaml] [--slots N] [--resume RUN_DIR]
// [--skip-unavailable] [--json]`: runs a matrix's cells to verdicts on the hosts, into a run folder.
// Before the first VM: cells no host can run are an error (exit 64, or `skipped` with
// --skip-unavailable), and the host-side builds are done once (a host that cannot is exit 2). Progress goes to stderr (live on
// a terminal, lines in CI); --json prints the summary to stdout. The exit code is the run's
// (0 pass, 1 product failure, 2 inconclusive, 130 interrupted), set through process.exitCode.
import type { Command } from 'commander';
import { formatPlace, UsageError } from '../../../lib/errors.ts';
import { parseMaxCells, parseShard, planMatrix, selectShard, type Cell, type Plan } from '../../../matrix/index.ts';
import { createProvider, isProviderKind } from '../../providers/index.ts';
import { defaultHosts, loadHosts, parseSlots, withSlots, type HostSpec } from '../../run/hosts.ts';
import { progressReporter } from '../../run/progress/index.ts';
import { cellsOfRun, createRunDir, openRunDir, planFromRunJson } from '../../run/run-dir.ts';
import { SUMMARY_FILE } from '../../../runfolder/run-json.ts';
import { coresFor, runnerFor } from '../../run/runners.ts';
import { runPlan } from '../../run/scheduler.ts';
import { prepareHost, unavailableCells, unavailableError } from '../../run/prepare.ts';
import { applyEvent, emptyState, readJournal } from '../../../runfolder/journal.ts';
import { writeReports } from '../../../reports/index.ts';
import type { CellRunner } from '../../run/types.ts';
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface RunOpts {
  out?: string;
  shard?: string;
  hosts?: string;
  slots?: string;
  resume?: string;
  json?: boolean;
  skipUnavailable?: boolean;
  /** false with --no-report. */
  report?: boolean;
  maxCells?: string;
}

/** Each attempt asks the registry for its cell's runner (a missing one is that attempt's infra error). */
const registryRunner: CellRunner = (ctx) => runnerFor(ctx.cell)(ctx);

/** Leftovers of dead controllers, for every local provider the hosts use. */
function cleanupHook(hosts: readonly HostSpec[]): () => Promise<string[]> {
  const kinds = [...new Set(hosts.filter((h) => h.reach === 'local').map((h) => h.provider))];
  return async () => {
    const removed: string[] = [];
    for (const kind of kinds) if (isProviderKind(kind)) removed.push(...(await createProvider(kind).cleanupLeftovers()));
    return removed;
  };
}

function sameCells(a: readonly Cell[], b: readonly Cell[]): boolean {
  if (a.length !== b.length) return false;
  const ids = new Set(a.map((c) => c.id));
  return b.every((c) => ids.has(c.id));
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run a matrix: every cell to a verdict on the hosts, into a run folder (resumable)')
    .argument('[matrix]', 'matrix YAML file (optional with --resume)')
    .option('--out <dir>', 'run folder (default runs/<run-id>/)')
    .option('--shard <i/n>', 'only the cells of shard i of n')
    .option('--hosts <file>', 'host inventory (hosts.yaml); default: this machine')
    .option('--slots <n>', 'cells at once on every host (overrides the inventory)')
    .option('--resume <run-dir>', 'carry on a run that was interrupted or killed, from its journal')
    .option('--json', 'print summary.json to stdout at the end')
    .option('--skip-unavailable', 'cells no host here can run (no runner, no image) end skipped instead of stopping the run')
    .option('--max-cells <n>', 'refuse a matrix that could expand to more than N cells (default MATRIX_MAX_CELLS, 10,000)')
    .option('--no-report', 'do not write the reports (dashboard, JUnit, Markdown, Allure results) at the end')
    .action(async (matrixFile: string | undefined, o: RunOpts) => {
      if (!matrixFile && !o.resume) throw new UsageError('run needs a matrix file (or --resume RUN_DIR)');
      if (o.resume && (o.out || o.shard)) throw new UsageError('--resume carries on a run as it was: --out and --shard do not apply');
      const slots = o.slots !== undefined ? parseSlots(o.slots) : undefined;
      const planOpts = o.maxCells !== undefined ? { maxCells: parseMaxCells(o.maxCells) } : {};
      const hosts = withSlots(o.hosts ? loadHosts(o.hosts) : defaultHosts(), slots);

      let plan: Plan;
      let cells: Cell[];
      let runDir;
      // What can run here, decided before anything starts (and again on resume: hosts may differ).
      const settle = (all: readonly Cell[], ended: ReadonlySet<string>, matrixName: string): { skip: Map<string, string>; runnable: Cell[] } => {
        const unavailable = unavailableCells(all.filter((c) => !ended.has(c.id)), hosts);
        if (unavailable.length && !o.skipUnavailable) throw unavailableError(unavailable, all.length, matrixName);
        const skip = new Map(unavailable.map((u) => [u.cell.id, u.reason]));
        return { skip, runnable: all.filter((c) => !ended.has(c.id) && !skip.has(c.id)) };
      };
      const prepare = (runnable: readonly Cell[]) => prepareHost(runnable, (l) => process.stderr.write(`prepare: ${l}\n`));
      let skip: Map<string, string>;
      if (o.resume) {
        runDir = openRunDir(o.resume);
        plan = planFromRunJson(runDir.runJson);
        cells = cellsOfRun(runDir.runJson);
        if (matrixFile) {
          // The matrix named again must still give the same cells; a changed matrix is a new run.
          const fresh = planMatrix(matrixFile, planOpts);
          const shard = runDir.runJson.shard ? parseShard(runDir.runJson.shard) : undefined;
          const now = shard ? selectShard(fresh.cells, shard) : fresh.cells;
          if (!sameCells(now, cells)) {
            throw new UsageError(`${matrixFile} no longer gives the cells of ${runDir.dir}; start a new run instead of resuming`);
          }
        }
        const state = emptyState();
        try {
          for (const e of readJournal(runDir.journalFile).events) applyEvent(state, e);
        } catch {
          // No journal yet (killed before its first event): every cell is unfinished.
        }
        const ended = new Set([...state.cells].filter(([, c]) => c.end).map(([id]) => id));
        const settled = settle(cells, ended, matrixFile ?? runDir.runJson.matrix.file ?? runDir.dir);
        skip = settled.skip;
        await prepare(settled.runnable);
      } else {
        const shard = o.shard !== undefined ? parseShard(o.shard) : undefined;
        plan = planMatrix(matrixFile!, planOpts);
        for (const w of plan.warnings) process.stderr.write(`warning: ${formatPlace(w.place)}: ${w.message}\n`);
        cells = shard ? selectShard(plan.cells, shard) : plan.cells;
        const settled = settle(cells, new Set(), matrixFile!);
        skip = settled.skip;
        await prepare(settled.runnable);
        runDir = createRunDir({ plan, cells, hosts, shard: shard ? `${shard.index}/${shard.total}` : null, ...(o.out ? { out: o.out } : {}) });
      }

      const ac = new AbortController();
      let interrupts = 0;
      const onSigint = (): void => {
        interrupts++;
        if (interrupts === 1) {
          process.stderr.write('\nfleetgate: interrupted; ending running attempts (Ctrl-C again to kill; --resume carries on)\n');
          ac.abort(new Error('SIGINT'));
        } else {
          // Let the default action kill us: the journal is consistent at every event.
          process.off('SIGINT', onSigint);
          process.kill(process.pid, 'SIGINT');
        }
      };
      process.on('SIGINT', onSigint);
      try {
        const outcome = await runPlan({
          plan,
          cells,
          runner: registryRunner,
          coresFor,
          hosts,
          runDir,
          resume: o.resume !== undefined,
          signal: ac.signal,
          reporter: progressReporter(process.stderr),
          beforeRun: cleanupHook(hosts),
          skip,
          shard: runDir.runJson.shard,
        });
        if (o.report !== false && outcome.outcome !== 'interrupted') {
          // The run folder is the contract: the same reports can be made again later with `fleetgate report`.
          const written = writeReports(outcome.runDir);
          process.stderr.write(`reports: ${Object.values(written.files).join(', ')}\n`);
        }
        if (o.json) process.stdout.write(readFileSync(path.join(outcome.runDir, SUMMARY_FILE), 'utf8'));
        process.exitCode = outcome.exitCode;
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}
