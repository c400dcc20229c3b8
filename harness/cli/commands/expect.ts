// `fleetgate expect RUN_DIR FILE [--json]`: holds a run to a file of expected verdicts (cell id →
// verdict, e.g. matrix/lab.expected.json). Exit 0 when every cell has its verdict, 1 on any
// difference (each one printed), 64 for a bad file.
import type { Command } from 'commander';
import { compareVerdicts, formatDifferences, loadExpected } from '../../../reports/expected.ts';
import { readRunFolder } from '../../../reports/run-folder.ts';
import { EXIT } from '../../../lib/errors.ts';

export function registerExpect(program: Command): void {
  program
    .command('expect')
    .description("check a run's verdicts against a file of expected ones (0 same, 1 different)")
    .argument('<run-dir>', 'the run folder')
    .argument('<file>', 'JSON: { "<cell id>": "<verdict>", ... }')
    .option('--json', 'print the differences as JSON')
    .action((dir: string, file: string, o: { json?: boolean }) => {
      const expected = loadExpected(file);
      const run = readRunFolder(dir, { steps: false });
      const diffs = compareVerdicts(run, expected);
      process.stdout.write(o.json ? `${JSON.stringify({ differences: diffs }, null, 2)}\n` : `${formatDifferences(diffs, run.cells.length)}\n`);
      process.exitCode = diffs.length ? EXIT.productFailure : EXIT.ok;
    });
}
