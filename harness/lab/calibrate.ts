// `fleetgate lab calibrate --delay-us D`: how precise is the harness on this host? The lab module adds
// a known delay to every open; the harness measures file-storm's open step with the module at delay 0
// and at D on the same booted guest and reports how close the measured p50 open overhead comes to D,
// and whether the comparison calls it a change. Choices:
// - the baseline is the module loaded at delay 0, not the guest without it: the kprobe's own cost
//   (large under TCG, where the breakpoint trap is emulated) is real overhead of the hook, not an
//   error of the measurement; the no-module figure is reported beside it;
// - rounds interleave delay 0, delay D and a repeat at delay 0, so drift over time (other work on a
//   shared host) hits every side alike; the repeat against the first delay-0 side must be no-change;
//   the overhead is the median over rounds of each D run against the two delay-0 runs around it
//   (on this shared TCG host a run's p50 moves by up to 2x between runs minutes apart, in phases
//   that every process in the guest sees, so only neighbours are compared);
// - only the steps the open measurement needs run (create, open, delete): the rest of file-storm
//   would multiply the time under TCG without adding to the figure;
// - the files are created with fsync, so no writeback of them competes with the open step (measured
//   at nice -20, where starved writeback showed most: the delay-0 p50 ranged 170-350 µs without it,
//   90-200 µs with it; at normal priority about 85-190 µs either way);
// - the guest has two vCPUs and the agent runs pinned to CPU 1, which the lab kernel keeps free of
//   housekeeping (images/lab/boot-args.ts); with one vCPU the tick and the RCU threads land inside
//   the measured opens, more often the longer an open takes, and a 200 µs delay read 20-40% high;
// - the agent runs at the workload's priority (normal) unless `priority` says otherwise
//   (bench/lab-calibrate BENCH_PRIORITY=both compares; workloads/agent/priority.ts has the figures).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeFromCompressedBase64 } from 'hdr-histogram-js';
import { buildLabImage } from '../../images/lab/build.ts';
import { LAB_MEASURE_CPUS } from '../../images/lab/boot-args.ts';
import { buildLabDriver } from '../../driver/lab/build.ts';
import { bundleAgent } from '../../workloads/agent/bundle.ts';
import { loadWorkload } from '../../workloads/spec.ts';
import { compareResults, type StepComparison, type WorkloadComparison } from '../../workloads/compare.ts';
import { mad, median, pairedRoundStat, roundOverheads } from '../../workloads/rounds.ts';
import type { AgentResult, PriorityOutcome, PriorityRequest } from '../../workloads/agent/protocol.ts';
import { createProvider } from '../providers/index.ts';
import { connectSsh, fromManifest } from '../guest/ssh/client.ts';
import { LabGuest } from '../guest/linux/lab-guest.ts';

export interface CalibrateOptions {
  delayUs: number;
  /** Rounds, each a delay-0, a delay-D and a delay-0 run (default 5). */
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
  /** Median over the rounds of roundOverheadsUs. */
  overheadP50Us: number;
  /** Per round: p50 of the delay-D run − the mean p50 of the delay-0 runs before and after it. */
  roundOverheadsUs: number[];
  /** (measured overhead − D) / D × 100. */
  errorPct: number;
  /** How much one round's overhead varies on this host: the median absolute deviation of
   * roundOverheadsUs from their median. A D whose 15% is not well above this can't be read within 15%
   * reliably. */
  noiseP50Us: number;
  change: 'regressed' | 'improved' | 'no-change';
  /** The unpaired comparison's interval (compareResults over the delay-0 and delay-D runs). */
  ci95: { low: number; high: number };
  /** The paired interval from the rounds (workloads/rounds.ts, the method a cell uses); null with one round. */
  roundCi95: { low: number; high: number } | null;
  /** The repeat at delay 0 against the first delay-0 side: must be no-change. */
  nullChange: 'regressed' | 'improved' | 'no-change';
  /** p50 of the open step with no module loaded (one run): what the hook itself costs. */
  noModuleP50Us: number | null;
  accel: string;
  /** What the agent asked for and got (from the first recorded run). */
  priority: PriorityOutcome | null;
  /** The guest's vCPUs and the CPUs the agent ran on (from the first recorded run). */
  cpus: { guest: number; agent: string | null };
  comparison: StepComparison;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/**
 * The figures of the rounds from each run's p50: each round's overhead is its delay-D run against the
 * mean of the two delay-0 runs around it, so a slow phase of the shared host that spans a round
 * cancels; the overhead is the median over the rounds, so one disturbed round moves it little; the
 * noise is the rounds' median absolute deviation from that median.
 */
export function roundFigures(zero: number[], delayed: number[], repeat: number[]): { roundOverheadsUs: number[]; overheadUs: number; noiseUs: number } {
  if (!zero.length || zero.length !== delayed.length || zero.length !== repeat.length) {
    throw new Error(`calibration rounds: ${zero.length} delay-0, ${delayed.length} delay-D and ${repeat.length} repeat runs; expected the same number, at least 1`);
  }
  const roundOverheadsUs = roundOverheads(zero, delayed, repeat);
  return { roundOverheadsUs, overheadUs: median(roundOverheadsUs), noiseUs: round2(mad(roundOverheadsUs)) };
}

/** The paired 95% interval of the rounds' p50 overhead of `step`, from each run's histogram; null with one round. */
export function roundInterval(zero: AgentResult[], delayed: AgentResult[], repeat: AgentResult[], step: string): { low: number; high: number } | null {
  if (delayed.length < 2) return null;
  const hist = (r: AgentResult) => {
    const s = r.steps.find((x) => x.name === step);
    if (!s) throw new Error(`calibration: a run has no ${step} step`);
    return decodeFromCompressedBase64(s.histogram);
  };
  const st = pairedRoundStat(zero.map(hist), delayed.map(hist), repeat.map(hist), 50, { label: step, file: 'calibration runs' });
  return { low: st.ciUs[0], high: st.ciUs[1] };
}

export async function calibrate(opts: CalibrateOptions): Promise<CalibrateResult> {
  const log = opts.log ?? (() => undefined);
  const runs = opts.runs ?? 5;
  const stepName = opts.step ?? 'open';
  const full = loadWorkload(opts.workload ?? 'file-storm');
  const needed = new Set(['create', stepName, 'delete']);
  // The files are created with fsync, so no writeback of them is left to compete with the open step.
  const operations = full.operations.filter((o) => needed.has(o.name)).map((o) => (o.op === 'create' ? { ...o, fsync: true } : o));
  const spec = { ...full, ...(opts.priority ? { priority: opts.priority } : {}), operations };
  if (!spec.operations.some((o) => o.name === stepName)) throw new Error(`step ${stepName} not in ${full.name}`);
  const cellDir = opts.cellDir ?? (await mkdtemp(join(tmpdir(), 'fleetgate-calibrate-')));
  const image = await buildLabImage({ log });
  const driver = await buildLabDriver({ name: 'fgfilter', kernelRelease: image.manifest.os.build, log });
  const agent = await bundleAgent();
  const provider = createProvider('qemu');
  await provider.cleanupLeftovers();
  log('booting the lab guest');
  await using vm = await provider.start({ name: `calibrate-${process.pid}`, cellDir, image, cpus: LAB_MEASURE_CPUS, ...(opts.signal ? { signal: opts.signal } : {}) });
  const channel = await connectSsh(fromManifest(image.dir, image.manifest, vm.ssh));
  try {
    const guest = new LabGuest(channel);
    const timeoutMs = 15 * 60_000;
    const p50Of = (r: AgentResult) => r.steps.find((x) => x.name === stepName)?.latencyUs.p50 ?? null;
    log(`run of ${spec.name} (${spec.operations.map((o) => o.name).join(', ')}) with no module`);
    const noModule = p50Of(await guest.runWorkload(agent.path, spec, { timeoutMs }));
    log(`no module: p50 ${stepName} ${noModule ?? '?'} µs`);
    await guest.installDriver(driver.path, { delay_us: 0 });
    const zero: AgentResult[] = [];
    const delayed: AgentResult[] = [];
    const repeat: AgentResult[] = [];
    // One warm-up run with the module (page cache, JIT, dentries), not recorded.
    await guest.runWorkload(agent.path, spec, { timeoutMs });
    for (let i = 0; i < runs; i++) {
      for (const [side, delay] of [[zero, 0], [delayed, opts.delayUs], [repeat, 0]] as const) {
        await guest.setParam('fgfilter', 'delay_us', delay);
        const r = await guest.runWorkload(agent.path, spec, { timeoutMs });
        side.push(r);
        log(`round ${i + 1}/${runs}: delay ${delay} µs: p50 ${stepName} ${p50Of(r) ?? '?'} µs`);
      }
    }
    const cmp: WorkloadComparison = compareResults(zero, delayed, { percentiles: [50, 99] });
    const step = cmp.steps.find((s) => s.name === stepName)!;
    const p50 = step.percentiles.find((p) => p.percentile === 50)!;
    const nullStep = compareResults(zero, repeat, { percentiles: [50] }).steps.find((s) => s.name === stepName);
    const p50s = (side: AgentResult[]) => side.map((r) => {
      const v = p50Of(r);
      if (v === null) throw new Error(`calibration: a run has no ${stepName} step`);
      return v;
    });
    const figures = roundFigures(p50s(zero), p50s(delayed), p50s(repeat));
    return {
      delayUs: opts.delayUs,
      step: stepName,
      runs,
      baselineP50Us: median(p50.baseline.runs),
      driverP50Us: median(p50.driver.runs),
      overheadP50Us: figures.overheadUs,
      roundOverheadsUs: figures.roundOverheadsUs,
      errorPct: opts.delayUs > 0 ? ((figures.overheadUs - opts.delayUs) / opts.delayUs) * 100 : 0,
      noiseP50Us: figures.noiseUs,
      change: p50.classification,
      ci95: { low: p50.ci.low, high: p50.ci.high },
      roundCi95: roundInterval(zero, delayed, repeat, stepName),
      nullChange: nullStep?.classification ?? 'no-change',
      noModuleP50Us: noModule,
      accel: vm.accel,
      priority: zero[0]?.priority ?? null,
      cpus: { guest: LAB_MEASURE_CPUS, agent: zero[0]?.host.cpus.allowed ?? null },
      comparison: step,
    };
  } finally {
    await channel.close().catch(() => undefined);
  }
}
