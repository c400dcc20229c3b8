// The cell lifecycle for lab cells: the Linux lab guest under QEMU, the lab module as our driver and
// its second build as a partner's filter. Steps follow DESIGN.md; each has its own timeout and is
// journaled. What goes wrong before our driver is in is infrastructure (retried elsewhere); what goes
// wrong after is the product's (never retried into a pass).
import { writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { InfraFailure } from '../../lib/errors.ts';
import type { Cell } from '../../matrix/index.ts';
import { buildLabImage, type LabManifest } from '../../images/lab/build.ts';
import { buildLabDriver, LabDriverRejected, type LabDriver } from '../../driver/lab/build.ts';
import { readLabPackage, type LabPackage } from '../../driver/lab/package.ts';
import { bundleAgent } from '../../workloads/agent/bundle.ts';
import { loadWorkload } from '../../workloads/spec.ts';
import { compareResults } from '../../workloads/compare.ts';
import type { AgentResult } from '../../workloads/agent/protocol.ts';
import { createProvider } from '../providers/index.ts';
import type { VmInstance } from '../providers/types.ts';
import { connectSsh, fromManifest } from '../guest/ssh/client.ts';
import type { GuestChannel } from '../guest/channel.ts';
import { DriverLoadRefused, LabGuest, WorkloadError, type LabTrigger, type StagedDriver } from '../guest/linux/lab-guest.ts';
import { watchCell, type MonitorOutcome } from '../cell/monitor.ts';
import { bucketLinuxReport } from '../crash/bucket.ts';
import { setGuestClock } from '../guest/linux/clock.ts';
import type { AttemptContext, CellRunner } from './types.ts';
import type { AttemptResult, CrashSummary, OperationLatency, Step, StepRecord } from '../../runfolder/results.ts';

/** Per-step limits under TCG (the slowest case); named, never scattered. */
export const LAB_TIMEOUTS = {
  acquire: 360_000,
  identity: 60_000,
  baseline: 15 * 60_000,
  install: 120_000,
  workload: 15 * 60_000,
  unload: 60_000,
  collect: 60_000,
} as const;

export interface LabRunnerOptions {
  /** Workload runs per side for the baseline comparison (default 2). */
  runs?: number;
  /**
   * What a driver may add to a step's p50 before a `regressed` step fails the cell: both the absolute
   * overhead (µs) and the relative one must be exceeded. Keyed by step name, `*` for the rest. The
   * relative part keeps a slow operation (a directory listing of thousands of files) from failing on
   * noise worth more microseconds than a whole open takes. Steps it names neither way (no entry, no
   * `*`) are measured and reported but never fail a cell.
   */
  latencyBudget?: Record<string, { absUs: number; rel: number }>;
  /** Our module names, for attribution (default the driver build's module name, fgfilter). */
  ourModules?: string[];
}

/** Driver parameters that fire a knob rather than configure the module: applied when the workload starts. */
const TRIGGER_PARAM = 'trigger';

class StepFailed extends Error {
  constructor(readonly step: Step, readonly verdict: AttemptResult['verdict'], message: string) {
    super(message);
  }
}

function parseStartMode(value: string | undefined): 'auto' | 'cold' | 'warm' {
  if (value === undefined || value === '') return 'auto';
  if (value === 'auto' || value === 'cold' || value === 'warm') return value;
  throw new InfraFailure(`FLEETGATE_START must be auto, cold or warm, got '${value}'`);
}

export function labRunner(opts: LabRunnerOptions = {}): CellRunner {
  return (ctx) => runLabAttempt(ctx, opts);
}

async function runLabAttempt(ctx: AttemptContext, opts: LabRunnerOptions): Promise<AttemptResult> {
  const { cell } = ctx;
  const steps: StepRecord[] = [];
  const evidence: string[] = [];
  const result: AttemptResult = { verdict: 'pass', steps, evidence };
  const rel = (p: string) => relative(ctx.runDir, p);
  const faultAt = new Set(cell.faults.filter((f) => f.kind === 'kill-vm' && f.attempts.includes(ctx.attempt)).map((f) => f.at));
  let vm: VmInstance | undefined;
  let channel: GuestChannel | undefined;

  type OnFail = AttemptResult['verdict'] | ((err: unknown) => AttemptResult['verdict']);
  const step = async <T>(name: Step, fn: (signal: AbortSignal) => Promise<T>, onFail: OnFail = 'infra-error'): Promise<T> => {
    const startedAt = new Date().toISOString();
    const t0 = performance.now();
    ctx.emit({ type: 'step-begin', step: name });
    const timeout = AbortSignal.timeout(LAB_TIMEOUTS[name as keyof typeof LAB_TIMEOUTS] ?? 120_000);
    const signal = AbortSignal.any([ctx.signal, timeout]);
    try {
      if (faultAt.has(name as never) && vm) {
        // An injected infrastructure fault: the VM's process is killed for real, mid-step.
        ctx.emit({ type: 'note', message: `injected fault: killing QEMU (pid ${vm.pid ?? '?'}) during ${name}` });
        if (vm.pid) process.kill(vm.pid, 'SIGKILL');
      }
      const v = await fn(signal);
      const ms = performance.now() - t0;
      steps.push({ step: name, startedAt, ms, ok: true });
      ctx.emit({ type: 'step-end', step: name, ms, ok: true });
      return v;
    } catch (err) {
      const ms = performance.now() - t0;
      const why = ctx.signal.aborted ? 'interrupted' : timeout.aborted ? `timed out after ${LAB_TIMEOUTS[name as keyof typeof LAB_TIMEOUTS] / 1000} s` : err instanceof Error ? err.message : String(err);
      steps.push({ step: name, startedAt, ms, ok: false, detail: why });
      ctx.emit({ type: 'step-end', step: name, ms, ok: false, detail: why });
      if (err instanceof StepFailed) throw err;
      const verdict = err instanceof WorkloadError ? 'test-error' : typeof onFail === 'function' ? onFail(err) : onFail;
      throw new StepFailed(name, verdict, `${name}: ${why}`);
    }
  };

  try {
    // The matrix's driver build is what gets installed: its package names the module and its source.
    const pkg = readLabPackage(cell.driverBuild.path);
    const ourModule = pkg.module;
    // Host-side work first, outside any step: the image and the modules are built (or, after the
    // run's preparation, taken from the cache) before a VM exists. A host that cannot build them
    // fails the attempt as infrastructure; the compiler refusing our source for this release's
    // headers is this cell's install failure, found without booting anything.
    const img = await buildLabImage();
    const modules = await buildModules(cell, img.manifest.os.build, pkg);
    if ('rejected' in modules) {
      const log = join(ctx.attemptDir, 'build.log');
      await writeFile(log, `${modules.rejected.message}\n`);
      evidence.push(rel(log));
      steps.push({ step: 'install', startedAt: new Date().toISOString(), ms: 0, ok: false, detail: modules.rejected.message });
      ctx.emit({ type: 'step-end', step: 'install', ms: 0, ok: false, detail: modules.rejected.message });
      result.verdict = modules.rejected.module === ourModule ? 'install-failure' : 'infra-error';
      result.reason = modules.rejected.module === ourModule
        ? `install: ${modules.rejected.module}.ko does not build for ${modules.rejected.kernelRelease} (see build.log)`
        : `coexisting filter ${modules.rejected.module}.ko does not build for ${modules.rejected.kernelRelease}: not our driver`;
      return result;
    }
    const image = await step('acquire', async (signal) => {
      // Warm (a saved, booted VM restored on a fresh overlay) when a state exists or can be made;
      // otherwise a cold boot, with the reason journaled. FLEETGATE_START=cold|warm|auto overrides.
      const startMode = parseStartMode(process.env.FLEETGATE_START);
      vm = await createProvider('qemu').start({ name: `cell-${cell.id}-a${ctx.attempt}-${process.pid}`, cellDir: ctx.attemptDir, image: img, signal, start: startMode });
      const how = vm.start ?? { kind: 'cold' as const, ms: 0 };
      result.start = { kind: how.kind, ms: 0, accel: vm.accel };
      if (how.fallbackReason) ctx.emit({ type: 'note', message: `cold boot instead of a warm start: ${how.fallbackReason}` });
      channel = await connectSsh({ ...fromManifest(img.dir, img.manifest, vm.ssh), signal });
      if (how.kind === 'warm') {
        // The restored guest's clock is the one it had when the state was saved.
        const clock = await setGuestClock(channel, { signal });
        ctx.emit({ type: 'note', message: `warm start in ${how.ms} ms; guest clock was ${(clock.staleMs / 1000).toFixed(1)} s behind, set to within ${Math.round(Math.abs(clock.offsetMs))} ms of the host` });
      }
      // Cells whose steps reboot the guest still reboot it (a cold boot inside the same VM): nothing
      // in the lab's steps does today.
      return img;
    });
    const t = steps.at(-1)!;
    result.start = { ...result.start!, ms: t.ms };
    if (faultAt.has('acquire') && vm?.pid) process.kill(vm.pid, 'SIGKILL');
    const guest = new LabGuest(channel!);
    const manifest: LabManifest = image.manifest;

    await step('identity', async () => {
      const id = await guest.identity();
      if (id.kernel !== manifest.os.build) throw new Error(`guest runs ${id.kernel}, the image says ${manifest.os.build}`);
    });

    const agent = await bundleAgent();
    const specs = (cell.workloadRefs ?? cell.workloads).map((w) => loadWorkload(w));
    const runs = opts.runs ?? 2;
    const runAll = async (signal: AbortSignal): Promise<Map<string, AgentResult[]>> => {
      const out = new Map<string, AgentResult[]>();
      for (let i = 0; i < runs; i++) {
        for (const spec of specs) {
          const r = await guest.runWorkload(agent.path, spec, { timeoutMs: LAB_TIMEOUTS.workload, signal });
          out.set(spec.name, [...(out.get(spec.name) ?? []), r]);
        }
      }
      return out;
    };

    // One unrecorded run first: page cache, dentries and Node's JIT warm up before the baseline, or the
    // baseline (always first) would look slower than the driver runs after it.
    const baseline = await step('baseline', async (signal) => {
      for (const spec of specs) await guest.runWorkload(agent.path, spec, { timeoutMs: LAB_TIMEOUTS.workload, signal });
      return runAll(signal);
    });
    await writeFile(join(ctx.attemptDir, 'baseline.json'), JSON.stringify(Object.fromEntries(baseline)));
    evidence.push(rel(join(ctx.attemptDir, 'baseline.json')));

    // Sending the modules is the host's and the channel's work: never the product's verdict.
    let staged: { coexist: StagedDriver[]; ours: StagedDriver };
    try {
      staged = {
        coexist: await Promise.all(modules.coexist.map((ko) => guest.uploadDriver(ko.path))),
        ours: await guest.uploadDriver(modules.ours.path),
      };
    } catch (err) {
      throw new InfraFailure(`sending the modules to the guest: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }

    // Install: coexisting filters first (they are already on the machine when ours arrives), then ours.
    // Only what the guest does with them counts: the kernel refusing ours is an install failure; the
    // guest lost while ours loads, a boot failure; a partner's filter refused is not ours to answer for.
    const { [TRIGGER_PARAM]: trigger, ...params } = cell.driverBuild.params;
    let loading: string = ourModule;
    await step('install', async () => {
      for (const f of staged.coexist) {
        loading = f.name;
        await guest.loadDriver(f);
      }
      loading = ourModule;
      try {
        await guest.loadDriver(staged.ours, params);
        result.installed = [
          ...modules.coexist.map((ko, i) => ({ role: 'coexist' as const, name: ko.name, package: cell.coexist[i]!, sha256: staged.coexist[i]!.sha256 })),
          { role: 'ours' as const, name: ourModule, package: pkg.dir, sha256: staged.ours.sha256 },
        ];
      } catch (err) {
        if (err instanceof DriverLoadRefused) {
          await writeFile(join(ctx.attemptDir, 'install.txt'), `insmod: ${err.insmod}\n\ndmesg:\n${err.dmesg}\n`);
          evidence.push(rel(join(ctx.attemptDir, 'install.txt')));
        }
        throw err;
      }
    }, (err) => (loading !== ourModule ? 'infra-error' : err instanceof DriverLoadRefused ? 'install-failure' : 'boot-failure'));

    // Lab guests have no Driver Verifier; a profile other than none is recorded, not applied.
    await step('verifier', async () => {
      if (cell.verifier !== 'none') ctx.emit({ type: 'note', message: `verifier profile ${cell.verifier} has no lab equivalent; not applied` });
    });

    // Workload with our driver, watched: the monitor decides crash / hang / VM gone.
    channel!.startHeartbeat({ intervalMs: 2_000, timeoutMs: 3_000, missesBeforeLost: 3 });
    const watchEnd = new AbortController();
    const watching = watchCell(vm!, channel!, { cellDir: ctx.attemptDir, signal: watchEnd.signal });
    let withDriver: Map<string, AgentResult[]> | undefined;
    let outcome: MonitorOutcome = { kind: 'quiet' };
    try {
      withDriver = await step('workload', async (signal) => {
        if (trigger !== undefined) await guest.trigger(ourModule, String(trigger) as LabTrigger);
        const work = runAll(signal).then((r) => ({ r }) as const, (e: unknown) => ({ e }) as const);
        const first = await Promise.race([work, watching.then((o) => ({ o }) as const)]);
        if ('o' in first) {
          outcome = first.o;
          throw new Error(`the guest ${first.o.kind === 'vm-gone' ? 'went away' : first.o.kind === 'quiet' ? 'stopped answering' : first.o.kind === 'hang-no-dump' ? 'hung' : first.o.kind === 'hang' ? 'hung' : 'crashed'} during the workload`);
        }
        if ('e' in first) {
          // The workload failed: give the monitor a moment, a crash may be why.
          const late = await Promise.race([watching, new Promise<null>((r) => setTimeout(r, 15_000, null))]);
          if (late && late.kind !== 'quiet') {
            outcome = late;
            throw new Error(`the guest ${late.kind === 'vm-gone' ? 'went away' : late.kind.startsWith('hang') ? 'hung' : 'crashed'} during the workload`);
          }
          throw first.e;
        }
        return first.r;
      }, 'infra-error');
    } catch (err) {
      if (!(err instanceof StepFailed)) throw err;
      const o = outcome as MonitorOutcome;
      if (o.kind === 'crash' || o.kind === 'hang') {
        const report = o.evidence.report;
        const bucket = report ? bucketLinuxReport(report, { ours: opts.ourModules ?? [ourModule] }) : undefined;
        const crash: CrashSummary = {
          title: report?.title ?? (o.kind === 'hang' ? 'hang: heartbeat lost, NMI forced a panic' : 'guest panic without console text'),
          bucket: bucket?.id ?? `linux:${o.kind}`,
          kind: report?.kind ?? (o.kind === 'hang' ? 'HANG' : 'PANIC'),
          ...(report?.module ? { module: report.module } : {}),
          ...(bucket ? { attribution: bucket.attribution } : {}),
          ...(o.evidence.dump ? { dump: rel(o.evidence.dump.path), dumpBytes: o.evidence.dump.bytes } : {}),
        };
        result.crash = crash;
        if (o.evidence.dump) evidence.push(rel(o.evidence.dump.path));
        result.verdict = o.kind === 'hang' || crash.kind === 'HANG' ? 'product-hang' : 'product-crash';
        result.reason = crash.title;
        return result;
      }
      if (o.kind === 'hang-no-dump') {
        result.verdict = 'product-hang';
        result.reason = o.reason;
        return result;
      }
      // VM gone (QEMU killed, host trouble) or the workload itself failed: not the product's doing.
      result.verdict = err.verdict;
      result.reason = o.kind === 'vm-gone' ? `the VM went away during the workload (${JSON.stringify(o.event)})` : err.message;
      return result;
    } finally {
      watchEnd.abort();
      channel?.stopHeartbeat();
    }
    await writeFile(join(ctx.attemptDir, 'workload.json'), JSON.stringify(Object.fromEntries(withDriver)));
    evidence.push(rel(join(ctx.attemptDir, 'workload.json')));

    await step('unload', () => guest.unloadDriver(ourModule));

    await step('collect', async () => {
      const dmesg = await guest.kernelLog();
      await writeFile(join(ctx.attemptDir, 'dmesg.txt'), dmesg);
      evidence.push(rel(join(ctx.attemptDir, 'dmesg.txt')));
    });

    // Latency: baseline against our driver, per step, p50 and p99.
    const latency: Record<string, OperationLatency> = {};
    const regressed: string[] = [];
    await step('triage', async () => {
      for (const spec of specs) {
        const cmp = compareResults(baseline.get(spec.name) ?? [], withDriver!.get(spec.name) ?? [], { percentiles: [50, 99] });
        for (const s of cmp.steps) {
          const p50 = s.percentiles.find((p) => p.percentile === 50)!;
          const p99 = s.percentiles.find((p) => p.percentile === 99)!;
          const key = specs.length > 1 ? `${spec.name}/${s.name}` : s.name;
          latency[key] = {
            p50Us: p50.driver.mean,
            p99Us: p99.driver.mean,
            baselineP50Us: p50.baseline.mean,
            baselineP99Us: p99.baseline.mean,
            change: p50.classification,
            overheadP50Us: p50.overheadUs,
            overheadP99Us: p99.overheadUs,
          };
          const budget = opts.latencyBudget?.[s.name] ?? opts.latencyBudget?.['*'];
          const rel = p50.relative ?? Infinity;
          // A step the budget does not name is reported, never a verdict: the policy says what matters.
          const over = budget !== undefined && p50.overheadUs > budget.absUs && rel > budget.rel;
          if (p50.classification === 'regressed' && over) {
            regressed.push(`${key} p50 +${p50.overheadUs.toFixed(0)} µs (+${(rel * 100).toFixed(0)}%)${budget ? ` over the budget of ${budget.absUs} µs and ${(budget.rel * 100).toFixed(0)}%` : ''}`);
          }
        }
      }
      await writeFile(join(ctx.attemptDir, 'latency.json'), JSON.stringify(latency, null, 2));
    });
    result.latency = latency;
    evidence.push(rel(join(ctx.attemptDir, 'latency.json')));
    if (regressed.length) {
      result.verdict = 'perf-regression';
      result.reason = regressed.join('; ');
    }
    await step('release', async () => undefined);
    return result;
  } catch (err) {
    if (err instanceof StepFailed) {
      result.verdict = ctx.signal.aborted ? 'infra-error' : err.verdict;
      result.reason = ctx.signal.aborted ? 'interrupted' : err.message;
      return result;
    }
    result.verdict = 'infra-error';
    result.reason = err instanceof Error ? err.message : String(err);
    return result;
  } finally {
    await channel?.close().catch(() => undefined);
    if (vm) await vm[Symbol.asyncDispose]().catch(() => undefined);
    evidence.push(rel(join(ctx.attemptDir, 'console.log')));
  }
}

/** The modules a lab cell loads, built for the image's kernel; a rejection by the compiler is returned. */
async function buildModules(cell: Cell, kernelRelease: string, pkg: LabPackage): Promise<{ coexist: LabDriver[]; ours: LabDriver } | { rejected: LabDriverRejected }> {
  try {
    const builds = labBuildsOf(cell, pkg);
    const coexist: LabDriver[] = [];
    for (const b of builds.slice(0, -1)) coexist.push(await buildLabDriver({ ...b, kernelRelease }));
    return { coexist, ours: await buildLabDriver({ ...builds.at(-1)!, kernelRelease }) };
  } catch (err) {
    if (err instanceof LabDriverRejected) return { rejected: err };
    throw err;
  }
}

/**
 * The lab modules a cell loads, in load order: its coexisting filters (the lab's stand-ins, the lab
 * filter's own source built under each filter's name), then ours, from the driver build's package.
 */
export function labBuildsOf(cell: Cell, pkg: LabPackage = readLabPackage(cell.driverBuild.path)): Array<{ name: string; source?: string }> {
  return [...cell.coexist.map((name) => ({ name })), { name: pkg.module, source: pkg.source }];
}

export function isLabCell(cell: Cell): boolean {
  return cell.os.release === 'lab';
}

