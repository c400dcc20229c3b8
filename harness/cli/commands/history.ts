// `fleetgate history [--db FILE] [--json] [--matrix NAME]`: recent runs, crash buckets (new or known)
// and the nightly view (first patch level where a cell's result changed); `fleetgate history add
// RUN_DIR...` imports runs (idempotent).
import type { Command } from 'commander';

// better-sqlite3 is loaded when the command runs (start-up of other commands stays quick).
const load = () => Promise.all([import('../../../reports/history/store.ts'), import('../../../reports/run-folder.ts')]);

export function registerHistory(program: Command): void {
  const history = program
    .command('history')
    .description('run history: recent runs, crash buckets, and where results changed between patch levels')
    .option('--db <file>', 'history database (default FLEETGATE_HISTORY or .cache/history.sqlite)')
    .option('--json', 'print as JSON')
    .option('--matrix <name>', 'only runs of this matrix')
    .option('--limit <n>', 'runs to list', '20')
    .action(async (o: { db?: string; json?: boolean; matrix?: string; limit: string }) => {
      const [{ HistoryStore, defaultHistoryPath }] = await load();
      const store = new HistoryStore(o.db ?? defaultHistoryPath());
      try {
        const runs = store.runs({ limit: Math.max(1, Number(o.limit) || 20), ...(o.matrix ? { matrix: o.matrix } : {}) });
        const latest = runs[0];
        const buckets = latest ? store.bucketsOfRun(latest.runId) : [];
        const nightly = store.nightly(o.matrix ? { matrix: o.matrix } : {});
        if (o.json) {
          process.stdout.write(`${JSON.stringify({ db: store.file, runs, latestBuckets: buckets, nightly }, null, 2)}\n`);
          return;
        }
        const out: string[] = [`history ${store.file}: ${runs.length} run(s)`];
        for (const r of runs) out.push(`  ${r.runId}  ${r.matrix}  ${r.started ?? '–'}  ${r.outcome}  ${Object.entries(r.counts).map(([k, n]) => `${k} ${n}`).join(', ')}`);
        if (latest && buckets.length) {
          out.push(`crash buckets of ${latest.runId}:`);
          for (const b of buckets) out.push(`  ${b.status.padEnd(5)} ${b.bucket} (${b.cells} cell(s); first seen ${b.firstSeen} in ${b.firstRunId})`);
        }
        if (nightly.length) {
          out.push('first patch level where a result changed (patch N against N-1):');
          for (const n of nightly) out.push(`  ${n.release} ${n.previousPatch} → ${n.patch}: ${n.key.driver}/${n.key.verifier}/${n.key.workloads}${n.key.coexist ? ` with ${n.key.coexist}` : ''}: ${n.previousVerdict} → ${n.verdict} (run ${n.runId})`);
        }
        process.stdout.write(`${out.join('\n')}\n`);
      } finally {
        store.close();
      }
    });
  history
    .command('add')
    .description('import run folders into the history (the same run twice adds nothing)')
    .argument('<run-dirs...>', 'run folders')
    .option('--db <file>', 'history database (default FLEETGATE_HISTORY or .cache/history.sqlite)')
    .action(async (dirs: string[], o: { db?: string }, cmd: Command) => {
      const [{ HistoryStore, defaultHistoryPath }, { readRunFolder }] = await load();
      const db = o.db ?? (cmd.parent?.opts() as { db?: string } | undefined)?.db ?? defaultHistoryPath();
      const store = new HistoryStore(db);
      try {
        for (const d of dirs) {
          const r = store.importRun(readRunFolder(d, { steps: false }));
          const fresh = r.buckets.filter((b) => b.status === 'new').map((b) => b.bucket);
          process.stdout.write(`${r.added ? 'added' : 'already there, updated'} ${r.runId}: ${r.cells} cell(s)${fresh.length ? `; new crash buckets: ${fresh.join('; ')}` : ''}\n`);
        }
      } finally {
        store.close();
      }
    });
}
