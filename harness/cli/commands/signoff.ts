// `fleetgate signoff RUN_DIR --vendor NAME [--out FILE]`: the sign-off PDF for a partner vendor
// (matrix, verdicts, driver package hashes, tool versions), printed by the system's Chromium.
import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../../../lib/errors.ts';

export function registerSignoff(program: Command): void {
  program
    .command('signoff')
    .description('write a sign-off PDF of a run for a partner vendor')
    .argument('<run-dir>', 'the run folder')
    .requiredOption('--vendor <name>', 'the vendor the sign-off is for')
    .option('--out <file>', 'the PDF (default RUN_DIR/reports/signoff.pdf)')
    .action(async (dir: string, o: { vendor: string; out?: string }) => {
      if (!o.vendor.trim()) throw new UsageError('--vendor must not be empty');
      // playwright-core is loaded only when a sign-off is made.
      const { readRunFolder } = await import('../../../reports/run-folder.ts');
      const { writeSignoffPdf } = await import('../../../reports/signoff.ts');
      const folder = readRunFolder(dir, { steps: false });
      const file = path.resolve(o.out ?? path.join(folder.dir, 'reports', 'signoff.pdf'));
      mkdirSync(path.dirname(file), { recursive: true });
      await writeSignoffPdf(folder, file, { vendor: o.vendor });
      process.stdout.write(`sign-off for ${o.vendor}: ${file}\n`);
    });
}
