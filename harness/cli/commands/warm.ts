// `fleetgate warm [--image lab]`: make (or show) the warm state of an image: a booted, ready VM saved
// once so cells restore it instead of booting (harness/providers/qemu/warm.ts). Cells make it on first
// use too; this makes it ahead of a run, for other machine options, or anew with --force.
import type { Command } from 'commander';
import { UsageError } from '../../../lib/errors.ts';
import { buildLabImage } from '../../../images/lab/build.ts';
import { listWarmStates } from '../../../images/warm/store.ts';
import { QemuProvider } from '../../providers/qemu/qemu.ts';

function progress(line: string): void {
  process.stderr.write(`warm: ${line}\n`);
}

function int(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive integer, got '${value}'`);
  return n;
}

export function registerWarm(program: Command): void {
  program
    .command('warm')
    .description('make (or reuse) the saved, booted VM state cells of an image restore instead of booting')
    .option('--image <name>', 'image to warm (only the lab guest so far)', 'lab')
    .option('--memory <MiB>', "guest memory (default: the image's)")
    .option('--cpus <n>', "guest CPUs (default: the image's)")
    .option('--force', 'make it anew even when one exists')
    .option('--list', 'list the warm states of the image and make nothing')
    .option('--json', 'print the state as JSON')
    .action(async (o: { image: string; memory?: string; cpus?: string; force?: boolean; list?: boolean; json?: boolean }) => {
      if (o.image !== 'lab') throw new UsageError(`--image ${o.image}: only the lab image can be warmed (Windows saved states are not implemented)`);
      const image = await buildLabImage({ log: progress });
      if (o.list) {
        const states = await listWarmStates(image.dir);
        if (o.json) {
          process.stdout.write(`${JSON.stringify(states, null, 2)}\n`);
          return;
        }
        for (const s of states) {
          const r = s.record;
          process.stdout.write(`${r.key.slice(0, 12)}  ${r.memoryMiB} MiB  ${r.cpus} cpu  ${r.accel}  ${(r.files.state / 2 ** 20).toFixed(1)} MiB  ${r.savedAt}\n`);
        }
        if (!states.length) process.stdout.write(`no warm states for ${image.dir}\n`);
        return;
      }
      const ac = new AbortController();
      const onSigint = (): void => ac.abort(new Error('interrupted'));
      process.once('SIGINT', onSigint);
      try {
        const memoryMiB = int('memory', o.memory);
        const cpus = int('cpus', o.cpus);
        const provider = new QemuProvider();
        if (!o.json) progress(o.force ? 'making the warm state anew (cold boot, then save)' : 'looking for the warm state (made now if missing: cold boot, then save)');
        const r = await provider.ensureWarmState(
          { image, ...(memoryMiB ? { memoryMiB } : {}), ...(cpus ? { cpus } : {}), signal: ac.signal },
          { force: o.force ?? false },
        );
        const rec = r.state.record;
        if (o.json) {
          process.stdout.write(`${JSON.stringify({ made: r.made, madeMs: Math.round(r.madeMs), dir: r.state.dir, record: rec }, null, 2)}\n`);
          return;
        }
        const lines = [
          `state       ${r.state.dir}${r.made ? '' : ' (existing)'}`,
          `key         ${rec.key}`,
          `machine     ${rec.memoryMiB} MiB, ${rec.cpus} cpu, ${rec.accel}; ${rec.hypervisor}`,
          `state.gz    ${(rec.files.state / 2 ** 20).toFixed(1)} MiB`,
          `overlay     ${(rec.files.disk / 2 ** 20).toFixed(1)} MiB`,
          `made        ${rec.savedAt} (boot to ready ${(rec.bootMs / 1000).toFixed(1)} s, save ${(rec.saveMs / 1000).toFixed(1)} s)`,
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}
