// Benchmark: what the run controller itself costs.
// 1. Its CPU time per cell as a share of the cell's wall time (target < 2%): the real scheduler,
//    journal (fsync per event), live progress view and summary, over cells whose runner only sleeps
//    2 s while emitting a lifecycle's worth of step events.
// 2. Planning and placing 10,000 cells on hosts' queues without running them (target < 2 s).
import { generatedMatrix } from './generated-matrix.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadCatalog } from '../matrix/catalog/catalog.ts';
import { planMatrix } from '../matrix/index.ts';
import { fakeCells, fakePlan } from '../harness/run/fake-runner.ts';
import type { HostSpec } from '../harness/run/hosts.ts';
import { placeCells } from '../harness/run/placement.ts';
import { LiveReporter } from '../harness/run/progress/live.ts';
import { runPlan } from '../harness/run/scheduler.ts';
import { STEPS } from '../runfolder/results.ts';
import type { CellRunner } from '../harness/run/types.ts';

const CELL_MS = Number(process.env.BENCH_CELL_MS ?? 2000);
const CELLS = Number(process.env.BENCH_CELLS ?? 16);
const SLOTS = Number(process.env.BENCH_SLOTS ?? 4);

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/** Sleeps through every lifecycle step, emitting step-begin/step-end like the real lifecycle. */
const idleRunner: CellRunner = async (ctx) => {
  const per = CELL_MS / STEPS.length;
  for (const step of STEPS) {
    ctx.emit({ type: 'step-begin', step });
    await sleep(per, ctx.signal);
    ctx.emit({ type: 'step-end', step, ms: per, ok: true });
  }
  return { verdict: 'pass', steps: [], evidence: [] };
};

async function controllerShare(): Promise<void> {
  const cells = fakeCells(CELLS);
  const hosts: HostSpec[] = [{ name: 'bench', provider: 'qemu', reach: 'local', slots: SLOTS, memoryMiB: 65536, images: ['*'] }];
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'fg-bench-run-')), 'run');
  const reporter = new LiveReporter({ write: () => {}, screen: { tty: true, columns: 120, color: true } });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await runPlan({ plan: fakePlan(cells), cells, runner: idleRunner, hosts, runDir: dir, reporter, tools: { node: process.version, fleetgate: 'bench', qemu: null } });
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const perCellCpu = cpuMs / CELLS;
  console.log(
    `run-overhead: ${CELLS} cells of ${CELL_MS} ms on ${SLOTS} slots (${STEPS.length * 2} step events each): wall ${(wallMs / 1000).toFixed(2)} s, ` +
      `controller CPU ${cpuMs.toFixed(0)} ms (user ${(cpu.user / 1000).toFixed(0)}, sys ${(cpu.system / 1000).toFixed(0)}); ` +
      `per cell ${perCellCpu.toFixed(1)} ms = ${((perCellCpu / CELL_MS) * 100).toFixed(2)}% of the cell's wall time; target < 2%`,
  );
}

function planAndPlace(): void {
  const file = generatedMatrix(mkdtempSync(path.join(tmpdir(), 'fg-bench-')));
  const catalog = loadCatalog();
  const hosts = [
    { spec: { name: 'hv-1', provider: 'hyperv' as const, reach: 'ssh://f@hv-1', slots: 8, memoryMiB: 262144, images: ['*'] }, quarantined: false },
    { spec: { name: 'hv-2', provider: 'hyperv' as const, reach: 'ssh://f@hv-2', slots: 8, memoryMiB: 262144, images: ['win11-24h2', 'win11-23h2', 'server-2022'] }, quarantined: false },
    { spec: { name: 'lab', provider: 'qemu' as const, reach: 'local', slots: 2, memoryMiB: 24576, images: ['server-2019', 'win10-22h2'] }, quarantined: false },
  ];
  const t0 = performance.now();
  const plan = planMatrix(file, { catalog, today: '2026-11-27' });
  const t1 = performance.now();
  const { pending, unplaceable } = placeCells(plan.cells, hosts);
  // Deal every cell to a slot, as if each slot freed up in turn, to time the pulling path too.
  let dealt = 0;
  for (let progress = true; progress; ) {
    progress = false;
    for (const h of hosts) {
      for (let slot = 1; slot <= h.spec.slots; slot++) {
        if (pending.take(h, slot)) {
          dealt++;
          progress = true;
        }
      }
    }
  }
  const t2 = performance.now();
  console.log(
    `run-overhead: plan ${plan.cells.length} cells ${(t1 - t0).toFixed(0)} ms + place and deal to slots ${(t2 - t1).toFixed(0)} ms ` +
      `(${dealt} dealt, ${unplaceable.length} unplaceable) = ${((t2 - t0) / 1000).toFixed(2)} s; target < 2 s`,
  );
}

planAndPlace();
await controllerShare();
