// Child process for the SIGKILL test: runs the real scheduler with the fake runner over 20 cells
// (small random delays, some infra errors and crashes) in the run folder given, fresh or resumed.
// Prints "journal" once the journal exists, so the parent knows when a kill means something.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fakeCells, fakePlan, fakeRunner } from '../fake-runner.ts';
import { runPlan } from '../scheduler.ts';

const [dir, mode] = process.argv.slice(2) as [string, 'fresh' | 'resume'];
const cells = fakeCells(20);
const script = {
  'fake-002': ['infra-error', 'pass'],
  'fake-005': 'product-crash',
  'fake-009': ['infra-error', 'infra-error', 'pass'],
  'fake-013': { verdict: 'product-hang', flaky: true },
  'fake-017': 'infra-error',
} as const;
const hosts = ['h1', 'h2'].map((name) => ({ name, provider: 'qemu' as const, reach: 'local', slots: 2, memoryMiB: 8192, images: ['*'] }));
const watch = setInterval(() => {
  if (existsSync(path.join(dir, 'journal.ndjson'))) {
    process.stdout.write('journal\n');
    clearInterval(watch);
  }
}, 5);
const outcome = await runPlan({
  plan: fakePlan(cells),
  cells,
  runner: fakeRunner({ script: script as never, delayMs: () => 10 + Math.floor(Math.random() * 50) }),
  hosts,
  runDir: dir,
  resume: mode === 'resume',
  tools: { node: process.version, fleetgate: 'test', qemu: null },
  policy: { quarantineAfter: 99 },
  summaryIntervalMs: 50,
});
clearInterval(watch);
process.stdout.write(`outcome ${outcome.outcome} ${outcome.exitCode}\n`);
process.exitCode = outcome.exitCode;
