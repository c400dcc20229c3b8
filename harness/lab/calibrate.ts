// `fleetgate lab calibrate --delay-us D`: how precise is the harness on this host? The lab module adds
// a known delay to every open; the harness measures file-storm's open step with the module at delay 0
// and at D on the same booted guest and reports how close the measured p50 open overhead comes to D,
// and whether the comparison calls it a change. Choices:
// - the baseline is the module loaded at delay 0, not the guest without it: the kprobe's own cost
//   (large under TCG, where the breakpoint trap is emulated) is real overhead of the hook, not an
//   error of the measurement; the no-module figure is reported beside it;
// - rounds interleave delay 0, delay D and a repeat at delay 0, so drift over time (other work on a
//   shared host) hits every side alike; the repeat against the first delay-0 side must be no-change;
// - only the steps the open measurement needs run (create, open, delete): the rest of file-storm
//   would multiply the time under TCG without adding to the figure;
// - the agent measures at high priority (the workload default, workloads/agent/priority.ts): at normal
//   priority the guest's RCU and softirq threads preempt the measuring thread inside its intervals, in
//   proportion to how long each open takes, which inflated a 200 µs delay to 250-330 µs under TCG.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLabImage } from '../../images/lab/build.ts';
import { buildLabDriver } from '../../driver/lab/build.ts';
import { bundleAgent } from '../../workloads/agent/bundle.ts';
import { loadWorkload } from '../../workloads/spec.ts';
import { compareResults, type StepComparison, type WorkloadComparison } from '../../workloads/compare.ts';
import type { AgentResult, PriorityOutcome, PriorityRequest } from '../../workloads/agent/protocol.ts';
import { createProvider } from '../providers/index.ts';
import { connectSsh, fromManifest } from '../guest/ssh/client.ts';
import { LabGuest } from '../guest/linux/lab-guest.ts';

export interface CalibrateOptions {
  delayUs: number;
  /** Runs per side (default 3). */
  runs?: number;
  /** The step whose p50 is reported (default `open`: one open+close per iteration). */
  step?: string;
  workload?: string;
  /** Overrides the workload's priority (bench/lab-calibrate compares both). */
  priority?: PriorityRequest;
  cellDir?: string;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export interface CalibrateResult {
  delayUs: number;
  step: string;
  runs: number;
  /** Median over the runs of each run's p50 (µs). */
  baselineP50Us: number;
  driverP50Us: number;
  /** driverP50Us − baselineP50Us. */
  overheadP50Us: number;
  /** (measured overhead − D) / D × 100. */
  errorPct: number;
  change: 'regressed' | 'improved' | 'no-change';
  ci95: { low: number; high: number };
  /** The repeat at delay 0 against the first delay-0 side: must be no-change. */
  nullChange: 'regressed' | 'improved' | 'no-change';
  /** p50 of the open step with no module loaded (one run): what the hook itself costs. */
  noModuleP50Us: number | null;
  accel: string;
  /** What the agent asked for and got (from the first recorded run). */
  priority: PriorityOutcome | null;
  comparison: StepComparison;
}

export async function calibrate(opts: CalibrateOptions): Promise<CalibrateResult> {
  const log = opts.log ?? (() => undefined);
  const runs = opts.runs ?? 3;
  const stepName = opts.step ?? 'open';
  const full = loadWorkload(opts.workload ?? 'file-storm');
  const needed = new Set(['create', stepName, 'delete']);
  const spec = { ...full, ...(opts.priority ? { priority: opts.priority } : {}), operations: full.operations.filter((o) => needed.has(o.name)) };
  if (!spec.operations.some((o) => o.name === stepName)) throw new Error(`step ${stepName} not in ${full.name}`);
  const cellDir = opts.cellDir ?? (await mkdtemp(join(tmpdir(), 'fleetgate-calibrate-')));
  const image = await buildLabImage({ log });
  const driver = await buildLabDriver({ name: 'fgfilter', kernelRelease: image.manifest.os.build, log });
  const agent = await bundleAgent();
  const provider = createProvider('qemu');
  await provider.cleanupLeftovers();
  log('booting the lab guest');
  await using vm = await provider.start({ name: `calibrate-${process.pid}`, cellDir, image, ...(opts.signal ? { signal: opts.signal } : {}) });
  const channel = await connectSsh(fromManifest(image.dir, image.manifest, vm.ssh));
  try {
    const guest = new LabGuest(channel);
    const timeoutMs = 15 * 60_000;
    const p50Of = (r: AgentResult) => r.steps.find((x) => x.name === stepName)?.latencyUs.p50 ?? null;
    log(`run of ${spec.name} (${spec.operations.map((o) => o.name).join(', ')}) with no module`);
    const noModule = p50Of(await guest.runWorkload(agent.path, spec, { timeoutMs }));
    await guest.installDriver(driver.path, { delay_us: 0 });
    const zero: AgentResult[] = [];
    const delayed: AgentResult[] = [];
    const repeat: AgentResult[] = [];
    // One warm-up run with the module (page cache, JIT, dentries), not recorded.
    await guest.runWorkload(agent.path, spec, { timeoutMs });
    for (let i = 0; i < runs; i++) {
      for (const [side, delay] of [[zero, 0], [delayed, opts.delayUs], [repeat, 0]] as const) {
        await guest.setParam('fgfilter', 'delay_us', delay);
        log(`round ${i + 1}/${runs}: delay ${delay} µs`);
        side.push(await guest.runWorkload(agent.path, spec, { timeoutMs }));
      }
    }
    const cmp: WorkloadComparison = compareResults(zero, delayed, { percentiles: [50, 99] });
    const step = cmp.steps.find((s) => s.name === stepName)!;
    const p50 = step.percentiles.find((p) => p.percentile === 50)!;
    const nullStep = compareResults(zero, repeat, { percentiles: [50] }).steps.find((s) => s.name === stepName);
    // Medians of the runs' p50s: one run disturbed by other work on a shared host moves a mean, not a median.
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
    const base = median(p50.baseline.runs);
    const drv = median(p50.driver.runs);
    return {
      delayUs: opts.delayUs,
      step: stepName,
      runs,
      baselineP50Us: base,
      driverP50Us: drv,
      overheadP50Us: drv - base,
      errorPct: opts.delayUs > 0 ? ((drv - base - opts.delayUs) / opts.delayUs) * 100 : 0,
      change: p50.classification,
      ci95: { low: p50.ci.low, high: p50.ci.high },
      nullChange: nullStep?.classification ?? 'no-change',
      noModuleP50Us: noModule,
      accel: vm.accel,
      priority: zero[0]?.priority ?? null,
      comparison: step,
    };
  } finally {
    await channel.close().catch(() => undefined);
  }
}
