// `fleetgate report RUN_DIR [--format LIST] [--out DIR] [--allure] [--no-history]`: every report of a
// run from its folder alone, into RUN_DIR/reports/ (allure-results/, junit.xml, summary.md,
// index.html); --allure also makes the Allure site; the run goes into the history database.
import type { Command } from 'commander';
import path from 'node:path';
import { conflictingEndText } from '../../../runfolder/journal.ts';

// The writers pull in allure-js-commons and better-sqlite3: loaded when the command runs, so
// other commands do not pay for them at start-up.
const FORMATS = ['allure', 'junit', 'markdown', 'html'];

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('write the reports of a run folder (Allure results, JUnit, Markdown, HTML dashboard) into RUN_DIR/reports/')
    .argument('<run-dir>', 'a run folder (run.json, summary.json, journal.ndjson, cells/)')
    .option('--format <list>', `comma-separated formats (${FORMATS.join(', ')})`, FORMATS.join(','))
    .option('--out <dir>', 'where to write (default RUN_DIR/reports)')
    .option('--allure', 'also make the Allure site in RUN_DIR/reports/allure/ (needs Java)')
    .option('--db <file>', 'history database (default FLEETGATE_HISTORY or .cache/history.sqlite)')
    .option('--no-history', 'do not add the run to the history database')
    .action(async (dir: string, o: { format: string; out?: string; allure?: boolean; db?: string; history: boolean }) => {
      const { parseFormats, writeReports } = await import('../../../reports/index.ts');
      const { generateAllureSite } = await import('../../../reports/allure.ts');
      const { HistoryStore, defaultHistoryPath } = await import('../../../reports/history/store.ts');
      const formats = parseFormats(o.format);
      if (o.allure && !formats.includes('allure')) formats.push('allure');
      const r = writeReports(dir, { formats, ...(o.out ? { outDir: o.out } : {}) });
      for (const [f, file] of Object.entries(r.files)) process.stdout.write(`${f}: ${file} (${r.ms[f as keyof typeof r.ms] ?? 0} ms)\n`);
      if (r.folder.rebuiltSummary) process.stdout.write('note: summary.json was missing; verdicts were rebuilt from journal.ndjson\n');
      // A journal with two verdicts for a cell (#16 row 11): the reports use the first; say so here too.
      for (const c of r.folder.conflictingCellEnds) process.stdout.write(`note: ${conflictingEndText(c)}\n`);
      if (o.allure && r.files.allure) {
        const site = await generateAllureSite(r.files.allure, path.join(r.outDir, 'allure'));
        process.stdout.write(`${site.message}\n`);
      }
      if (o.history) {
        const store = new HistoryStore(o.db ?? defaultHistoryPath());
        try {
          const imp = store.importRun(r.folder);
          const fresh = imp.buckets.filter((b) => b.status === 'new');
          process.stdout.write(`history: ${imp.added ? 'added' : 'updated'} run ${imp.runId} in ${store.file}${imp.buckets.length ? `; crash buckets: ${fresh.length} new, ${imp.buckets.length - fresh.length} known` : ''}\n`);
        } finally {
          store.close();
        }
      }
    });
}
