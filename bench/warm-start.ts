// Cold boot against warm start on the lab guest, side by side in one run: from start() to the SSH
// banner and to a command answered over SSH (the pinned key; `true`), runs interleaved cold/warm so
// load drifts hit both alike; medians, the warm/cold ratio (target: warm at most 60% of cold), the
// clock set a warm start needs on top, and the state's size. One VM at a time.
//   node --import tsx bench/warm-start.ts [--runs 5]
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { connectSsh, fromManifest } from '../harness/guest/ssh/client.ts';
import { QemuProvider } from '../harness/providers/qemu/qemu.ts';
import { findLabImage } from '../harness/providers/qemu/testdata/lab-image.ts';
import { setGuestClock } from '../harness/guest/linux/clock.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const runs = Number(values.runs);
const out = (line: string): void => void process.stdout.write(`${line}\n`);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const load = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' ');

const image = await findLabImage();
if ('missing' in image) {
  out(`warm-start: skipped: ${image.missing}`);
  process.exitCode = 2;
} else {
  const root = await mkdtemp(path.join(os.tmpdir(), 'fg-bench-warm-'));
  const provider = new QemuProvider({ stateDir: path.join(root, 'state') });
  const loadBefore = load();
  try {
    const ensured = await provider.ensureWarmState({ image });
    const rec = ensured.state.record;
    out(`warm state  ${ensured.state.dir}${ensured.made ? ` (made now in ${secs(ensured.madeMs)})` : ' (existing)'}`);

    const sample = { cold: { banner: [] as number[], ready: [] as number[] }, warm: { banner: [] as number[], ready: [] as number[], clock: [] as number[] } };
    const once = async (kind: 'cold' | 'warm', i: number): Promise<void> => {
      const name = `${kind}-${i}`;
      const t0 = performance.now();
      const vm = await provider.start({ name, cellDir: path.join(root, name), image, start: kind });
      try {
        const banner = performance.now() - t0;
        const ch = await connectSsh(fromManifest(image.dir, image.manifest, vm.ssh));
        try {
          const r = await ch.exec('true', { timeoutMs: 30_000 });
          if (r.exitCode !== 0) throw new Error(`${name}: 'true' exited ${r.exitCode}`);
          const ready = performance.now() - t0;
          sample[kind].banner.push(banner);
          sample[kind].ready.push(ready);
          let extra = '';
          if (kind === 'warm') {
            const c0 = performance.now();
            await setGuestClock(ch);
            sample.warm.clock.push(performance.now() - c0);
            extra = `, clock set ${secs(performance.now() - c0)}`;
          }
          out(`${name.padEnd(7)} banner ${secs(banner)}, command answered ${secs(ready)}${extra}`);
        } finally {
          await ch.close();
        }
      } finally {
        await vm[Symbol.asyncDispose]();
      }
    };
    // Warm-up: page cache (image, state file) and the acceleration decision.
    await once('cold', 0);
    await once('warm', 0);
    sample.cold = { banner: [], ready: [] };
    sample.warm = { banner: [], ready: [], clock: [] };
    for (let i = 1; i <= runs; i++) {
      await once('cold', i);
      await once('warm', i);
    }
    const cold = median(sample.cold.ready);
    const warm = median(sample.warm.ready);
    const ratio = warm / cold;
    out('');
    out(`runs                    ${runs} each, interleaved, ${rec.accel}, ${rec.memoryMiB} MiB, ${rec.cpus} cpu`);
    out(`cold boot to banner     ${secs(median(sample.cold.banner))} (median)`);
    out(`warm start to banner    ${secs(median(sample.warm.banner))} (median)`);
    out(`cold to command         ${secs(cold)} (median)`);
    out(`warm to command         ${secs(warm)} (median)`);
    out(`warm / cold             ${(ratio * 100).toFixed(0)}% (target <= 60%: ${ratio <= 0.6 ? 'met' : 'NOT met'})`);
    out(`warm + clock set        ${secs(median(sample.warm.ready.map((r, i) => r + (sample.warm.clock[i] ?? 0))))} (median)`);
    out(`state file              ${(rec.files.state / 2 ** 20).toFixed(1)} MiB gzip (${rec.memoryMiB} MiB guest), overlay ${(rec.files.disk / 2 ** 20).toFixed(1)} MiB`);
    out(`load average            before ${loadBefore}; after ${load()} (${os.cpus().length} cores)`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
