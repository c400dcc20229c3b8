// QEMU provider figures on the lab guest: boot to SSH banner (median of 3), time to a clean VM for
// the next cell (dispose one, start the next to its banner), and QEMU's RSS, for one VM and for two
// at once.   node --import tsx bench/qemu-boot.ts [--runs 3]
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { rssKiB } from '../harness/providers/qemu/process.ts';
import { QemuProvider } from '../harness/providers/qemu/qemu.ts';
import { findLabImage } from '../harness/providers/qemu/testdata/lab-image.ts';
import type { VmInstance, VmSpec } from '../harness/providers/types.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' } } });
const runs = Number(values.runs);
const out = (line: string): void => void process.stdout.write(`${line}\n`);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const mib = async (vm: VmInstance): Promise<string> => `${Math.round(((await rssKiB(vm.pid ?? -1)) ?? 0) / 1024)} MiB`;

const image = await findLabImage();
if ('missing' in image) {
  out(`qemu-boot: skipped: ${image.missing}`);
  process.exitCode = 2;
} else {
  const root = await mkdtemp(path.join(os.tmpdir(), 'fg-bench-qemu-'));
  const provider = new QemuProvider({ stateDir: path.join(root, 'state') });
  const spec = (name: string): VmSpec => ({ name, cellDir: path.join(root, name), image });
  const started = new Set<VmInstance>();
  const timed = async (name: string): Promise<{ vm: VmInstance; ms: number }> => {
    const t0 = performance.now();
    const vm = await provider.start(spec(name));
    started.add(vm);
    return { vm, ms: performance.now() - t0 };
  };
  try {
    // Warm the page cache and the acceleration decision so run 1 is not an outlier.
    await (await timed('warmup')).vm[Symbol.asyncDispose]();

    const boots: number[] = [];
    const next: number[] = [];
    let prev: VmInstance | undefined;
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      if (prev) await prev[Symbol.asyncDispose]();
      const { vm, ms } = await timed(`one-${i}`);
      if (prev) next.push(performance.now() - t0);
      boots.push(ms);
      out(`run ${i + 1}: boot to SSH banner ${secs(ms)}, ${vm.accel}, QEMU RSS ${await mib(vm)}`);
      prev = vm;
    }
    await prev?.[Symbol.asyncDispose]();
    out(`accel: ${prev?.accel} (${prev?.accelReason.split('\n')[0]})`);
    out(`one VM:  boot to SSH banner median ${secs(median(boots))} of ${runs}`);
    out(`one VM:  next clean VM (dispose + start to banner) median ${secs(median(next))} of ${next.length}`);

    const t0 = performance.now();
    const pair = await Promise.all([timed('two-a'), timed('two-b')]);
    out(`two VMs: both at SSH banner after ${secs(performance.now() - t0)} (${pair.map((p) => secs(p.ms)).join(', ')})`);
    out(`two VMs: QEMU RSS ${(await Promise.all(pair.map((p) => mib(p.vm)))).join(', ')}`);
    const d0 = performance.now();
    await Promise.all(pair.map((p) => p.vm[Symbol.asyncDispose]()));
    out(`two VMs: dispose both ${secs(performance.now() - d0)}`);
  } finally {
    await Promise.all([...started].map((vm) => vm[Symbol.asyncDispose]()));
    await rm(root, { recursive: true, force: true });
  }
}
