// `fleetgate lab ...`: build the Linux lab guest image and the lab filter module the harness proves
// its VM lifecycle with. Progress goes to stderr, results to stdout.
import path from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../../lib/errors.ts';
import { MANIFEST_FILE } from '../../../images/manifest.ts';
import { buildLabImage, labImageStatus } from '../../../images/lab/build.ts';
import { buildLabDriver } from '../../../driver/lab/build.ts';
import { labSmoke } from '../../lab/smoke.ts';
import { calibrate } from '../../lab/calibrate.ts';
import { EXIT } from '../../../lib/errors.ts';

function progress(line: string): void {
  process.stderr.write(`lab: ${line}\n`);
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

export function registerLab(program: Command): void {
  const lab = program.command('lab').description('Linux lab guest: image and test filter module');

  lab
    .command('build')
    .description('build (or reuse from the cache) the lab guest image')
    .option('--force', 'rebuild even when an image for the same inputs is cached')
    .option('--json', 'print the manifest path and the manifest as JSON')
    .option('--cache-dir <dir>', 'cache folder (default: $FLEETGATE_CACHE or <repo>/.cache)')
    .action(async (o: { force?: boolean; json?: boolean; cacheDir?: string }) => {
      const r = await buildLabImage({ force: o.force ?? false, cacheDir: o.cacheDir, log: progress });
      const manifestPath = path.join(r.dir, MANIFEST_FILE);
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ manifestPath, cached: r.cached, seconds: r.seconds, manifest: r.manifest }, null, 2)}\n`);
        return;
      }
      const m = r.manifest;
      const lines = [
        `image       ${r.dir}${r.cached ? ' (cached)' : ''}`,
        `kernel      ${m.os.build}`,
        `node        ${m.guest.node.version}`,
        ...m.files
          .filter((f) => [m.disk.path, m.boot.kind === 'kernel' ? m.boot.kernel : '', m.boot.kind === 'kernel' ? m.boot.initrd : ''].includes(f.path))
          .map((f) => `${f.path.padEnd(11)} ${mib(f.bytes)}`),
        `host key    ${m.ssh.hostKeyFingerprint}`,
        `seconds     ${r.seconds.toFixed(1)}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });

  lab
    .command('status')
    .description('say whether a lab image is built for the current inputs')
    .option('--cache-dir <dir>', 'cache folder')
    .action(async (o: { cacheDir?: string }) => {
      const s = await labImageStatus({ cacheDir: o.cacheDir });
      const where = s.dir ? ` ${s.dir}` : '';
      process.stdout.write(`${s.state}${where}${s.reason ? ` (${s.reason})` : ''}\n`);
    });

  lab
    .command('driver')
    .description('build the lab filter kernel module for the lab image kernel')
    .option('--name <name>', 'module name (fgfilter, or e.g. partnerflt for a partner filter)', 'fgfilter')
    .option('--kernel <release>', 'kernel release (default: the current lab image)')
    .option('--force', 'rebuild even when cached')
    .option('--install-headers', 'apt-get install the matching linux-headers package if missing (root)')
    .option('--cache-dir <dir>', 'cache folder')
    .action(async (o: { name: string; kernel?: string; force?: boolean; installHeaders?: boolean; cacheDir?: string }) => {
      let kernelRelease = o.kernel;
      if (!kernelRelease) {
        const s = await labImageStatus({ cacheDir: o.cacheDir });
        kernelRelease = s.manifest?.os.build;
        if (!kernelRelease) {
          throw new UsageError('no lab image built yet: run `fleetgate lab build` first or pass --kernel <release>');
        }
      }
      const r = await buildLabDriver({
        name: o.name,
        kernelRelease,
        cacheDir: o.cacheDir,
        force: o.force ?? false,
        installHeaders: o.installHeaders ?? false,
        log: progress,
      });
      process.stdout.write(`${r.path}\nsha256 ${r.sha256}\n`);
    });

  lab
    .command('smoke')
    .description('self-check: build if needed, boot the lab guest, SSH in, load the lab module, fire its crash knob, check crash event, dump and title')
    .option('--json', 'print the result as JSON')
    .option('--cell-dir <dir>', 'where the console log and dump go (default: a temp folder)')
    .option('--trigger <knob>', 'oops, panic, hang_irqoff or deadlock', 'oops')
    .action(async (o: { json?: boolean; cellDir?: string; trigger: string }) => {
      if (!['oops', 'panic', 'hang_irqoff', 'deadlock'].includes(o.trigger)) {
        throw new UsageError(`--trigger ${o.trigger}: expected oops, panic, hang_irqoff or deadlock`);
      }
      const ac = new AbortController();
      const onSigint = (): void => ac.abort();
      process.once('SIGINT', onSigint);
      try {
        const r = await labSmoke({
          trigger: o.trigger as 'oops',
          log: progress,
          signal: ac.signal,
          ...(o.cellDir ? { cellDir: o.cellDir } : {}),
        });
        if (o.json) {
          process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        } else {
          const lines = [
            `${r.ok ? 'ok' : 'FAILED'}: lab smoke`,
            `accel         ${r.accel ?? '-'}${r.accelReason ? ` (${r.accelReason})` : ''}`,
            `ready         ${r.readySeconds !== null ? `${r.readySeconds.toFixed(1)} s` : '-'}`,
            `crash         ${r.crash ? `${r.crash.title} [${r.crash.module ?? 'no module'}]` : '-'}`,
            `dump          ${r.dumpBytes !== null ? `${r.dumpBytes} bytes ${r.dumpPath}` : '-'}`,
            `console       ${r.consolePath ?? '-'}`,
            ...r.steps.filter((s) => !s.ok).map((s) => `failed step   ${s.name}: ${s.detail ?? ''}`),
          ];
          process.stdout.write(`${lines.join('\n')}\n`);
        }
        process.exitCode = ac.signal.aborted ? EXIT.interrupted : r.ok ? EXIT.ok : EXIT.inconclusive;
      } finally {
        process.off('SIGINT', onSigint);
      }
    });

  lab
    .command('calibrate')
    .description('how precise is the harness here: file-storm with the lab module at delay 0 and at D µs per open, compared')
    .requiredOption('--delay-us <n>', 'delay the lab module adds to every open, in µs')
    .option('--runs <k>', 'rounds, each a delay-0, a delay-D and a delay-0 run', '5')
    .option('--json', 'print the result as JSON')
    .option('--cell-dir <dir>', 'where the console log goes (default: a temp folder)')
    .action(async (o: { delayUs: string; runs: string; json?: boolean; cellDir?: string }) => {
      const delayUs = Number(o.delayUs);
      const runs = Number(o.runs);
      if (!Number.isInteger(delayUs) || delayUs < 0 || delayUs > 100_000) throw new UsageError(`--delay-us ${o.delayUs}: expected a whole number of µs from 0 to 100000`);
      if (!Number.isInteger(runs) || runs < 1 || runs > 50) throw new UsageError(`--runs ${o.runs}: expected a whole number from 1 to 50`);
      const ac = new AbortController();
      const onSigint = (): void => ac.abort();
      process.once('SIGINT', onSigint);
      try {
        const r = await calibrate({ delayUs, runs, log: progress, signal: ac.signal, ...(o.cellDir ? { cellDir: o.cellDir } : {}) });
        const { comparison, ...brief } = r;
        if (o.json) {
          process.stdout.write(`${JSON.stringify({ ...brief, comparison }, null, 2)}\n`);
        } else {
          process.stdout.write(
            [
              `delay        ${r.delayUs} µs per open (${r.runs} rounds, ${r.accel})`,
              `p50 ${r.step.padEnd(8)} ${r.baselineP50Us.toFixed(1)} µs at delay 0, ${r.driverP50Us.toFixed(1)} µs at delay ${r.delayUs}${r.noModuleP50Us !== null ? ` (${r.noModuleP50Us} µs with no module)` : ''}`,
              `overhead     ${r.overheadP50Us.toFixed(1)} µs, median of rounds ${r.roundOverheadsUs.map((x) => x.toFixed(0)).join(', ')} (${r.roundCi95 ? `rounds' 95% interval ${r.roundCi95.low.toFixed(1)}..${r.roundCi95.high.toFixed(1)}, ` : ''}comparison's 95% CI ${r.ci95.low.toFixed(1)}..${r.ci95.high.toFixed(1)}), error ${r.errorPct.toFixed(1)}%`,
              `change       ${r.change} (a repeat at delay 0: ${r.nullChange})`,
              `noise        ${r.noiseP50Us.toFixed(1)} µs from round to round (median absolute deviation)${2 * r.noiseP50Us > 0.15 * r.delayUs ? `: twice that is more than 15% of ${r.delayUs} µs, so a delay this small can't be read within 15% reliably here; try --delay-us ${Math.ceil((2 * r.noiseP50Us) / 0.15 / 100) * 100}` : ''}`,
              `cpus         agent on CPU ${r.cpus.agent ?? 'any'} of ${r.cpus.guest}`,
              `priority     ${r.priority ? `${r.priority.requested} (nice ${r.priority.applied ?? '?'})${r.priority.note ? `: ${r.priority.note}` : ''}` : 'unknown'}`,
            ].join('\n') + '\n',
          );
        }
        process.exitCode = ac.signal.aborted ? EXIT.interrupted : EXIT.ok;
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}
