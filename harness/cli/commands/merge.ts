// `fleetgate merge RUN_DIR... --out DIR [--json]`: shard runs of one matrix into one run folder with
// one summary. Exits with the merged run's code (0 pass, 1 product failure, 2 inconclusive, 130 if a
// shard was interrupted), so CI can gate on the merge.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { mergeRuns } from '../../run/merge.ts';

export function registerMerge(program: Command): void {
  program
    .command('merge')
    .description('combine shard runs of one matrix (disjoint cells) into one run folder')
    .argument('<run-dirs...>', 'run folders to merge')
    .requiredOption('--out <dir>', 'the merged run folder (new or empty)')
    .option('--json', 'print the merged summary.json to stdout')
    .action((dirs: string[], o: { out: string; json?: boolean }) => {
      const r = mergeRuns({ dirs, out: o.out });
      if (o.json) process.stdout.write(readFileSync(r.summaryFile, 'utf8'));
      else {
        const counts = Object.entries(r.counts).map(([k, n]) => `${k} ${n}`).join(', ');
        process.stdout.write(`merged ${dirs.length} runs into ${r.runDir}: ${r.cells} cells, ${r.outcome} (${counts})\n`);
      }
      process.exitCode = r.exitCode;
    });
}
