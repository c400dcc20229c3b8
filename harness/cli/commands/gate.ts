// `fleetgate gate RUN_DIR [--policy FILE] [--baseline RUN_DIR] [--json]`: applies a gate policy to a
// run. Exit 0 pass, 1 fail, 2 inconclusive, 64 bad usage or a bad policy file (file:line:col).
// Without --policy, the policy the run's matrix names (`gate:`) is used.
import type { Command } from 'commander';
import { UsageError } from '../../../lib/errors.ts';
import { evaluateGate, formatGate, loadPolicy } from '../../../reports/gate/policy.ts';
import { readRunFolder } from '../../../reports/run-folder.ts';

export function registerGate(program: Command): void {
  program
    .command('gate')
    .description('decide pass (0), fail (1) or inconclusive (2) for a run under a gate policy')
    .argument('<run-dir>', 'the run folder to judge')
    .option('--policy <file>', "gate policy YAML (default: the matrix's gate:)")
    .option('--baseline <run-dir>', 'a previous run: compare latency of the same cells')
    .option('--json', 'print the decision as JSON')
    .action((dir: string, o: { policy?: string; baseline?: string; json?: boolean }) => {
      const run = readRunFolder(dir, { steps: false });
      const file = o.policy ?? run.gate;
      if (!file) throw new UsageError(`no --policy given and the run's matrix names no gate policy`);
      const policy = loadPolicy(file);
      const baseline = o.baseline ? readRunFolder(o.baseline, { steps: false }) : null;
      const today = process.env.FLEETGATE_TODAY ? new Date(`${process.env.FLEETGATE_TODAY}T12:00:00Z`) : new Date();
      const result = evaluateGate(run, policy, { baseline, today });
      process.stdout.write(o.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatGate(result)}\n`);
      process.exitCode = result.exitCode;
    });
}
