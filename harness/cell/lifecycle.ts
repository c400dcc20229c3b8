// The cell lifecycle: one attempt of one cell, for every OS and every provider. DESIGN.md's steps in
// order (runfolder/results.ts STEPS), each with its limit and its journal records, run against three
// seams and nothing else: the provider the host names, the guest OS personality (personality.ts), and
// the cell monitor (monitor.ts) given that personality's crash strategy. Whose fault a failure was is
// decided at each step boundary by failures.ts; nothing here knows which OS or hypervisor it drives.
import { writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { HeartbeatOptions } from '../guest/channel.ts';
import { hasOfflineDisk, type Provider, type VmInstance } from '../providers/types.ts';
import type { AttemptContext } from '../run/types.ts';
import { loadWorkload } from '../../workloads/spec.ts';
import type { AgentResult, WorkloadSpec } from '../../workloads/agent/protocol.ts';
import type { AttemptResult, CrashSummary, FilterDelaysRecord, MeasurementRecord, Step, StepRecord } from '../../runfolder/results.ts';
import { safeFileName } from '../../lib/safe-name.ts';
import { FILTER_DELAYS_TOP, oursIn } from './filter-delays.ts';
import { BootFailure, decideFailure, GuestCrashed, InfraFailure, PackageRefused, RecordingFailed, VmGone, type FailureDecision, type GuestFinding } from './failures.ts';
import { judgeLatency, judgeRounds, type LatencyBudget, type LatencyJudgement, type RoundRun } from './latency.ts';
import { hashSeed } from '../../workloads/random.ts';
import { watchCell, type WatchOptions } from './monitor.ts';
import type { GuestPersonality, GuestSession, PreparedCell, StagedPackage } from './personality.ts';

export interface CellSeams {
  /** The provider of the host the scheduler placed the attempt on (the registry made it). */
  provider: Provider;
  personality: GuestPersonality;
}

/** What a cell is held to, and how it is run: the lab's and a Windows fleet's differ only here. */
export interface CellPolicy {
  /** Workload runs per side (baseline, with our driver) when measuring sequentially. @default 2 */
  runs?: number;
  /**
   * Driver rounds k of interleaved measurement (issue #17): with a guest that can take ours out, the
   * workload step runs B1 D1 B2 … Dk B(k+1), ours taken out for each B and put back for each D, and
   * each step's figures come from the per-round overheads (latency.ts judgeRounds), judged when the
   * policy has a latency budget.
   * Absent or below 2: sequential (all baseline runs, then all driver runs).
   */
  rounds?: number;
  /**
   * More rounds, up to this many, while a judged step is undecided and none is over: a noisy step
   * gets the rounds it needs, a clear cell stops at `rounds`. @default rounds
   */
  maxRounds?: number;
  /** The VM's vCPUs (absent: the image's); a measuring VM's second vCPU is the agent's. */
  cpus?: number;
  /** Steps the policy judges; the rest are measured and reported. */
  latencyBudget?: LatencyBudget;
  /** Warm restore, cold boot, or warm when it can (the default). */
  start?: 'auto' | 'cold' | 'warm';
  heartbeat?: HeartbeatOptions;
  /** After the workload failed, how long the monitor has to say a crash was why. @default 15000 */
  lateCrashMs?: number;
  monitor?: Pick<WatchOptions, 'hangGraceMs' | 'nmiPanicMs'>;
  /** Overrides of the personality's per-step limits. */
  timeouts?: Partial<Record<Step, number>>;
}

/**
 * What the workload step's rounds gave: every run in time order, and either the rounds' judgement (the
 * one that decided to stop, which is the verdict's) or why they became sequential.
 */
type RoundsMeasured = { order: RoundRun[]; judgement: LatencyJudgement; fallback?: undefined } | { order: RoundRun[]; fallback: string };

/** A step ended without its work done; its verdict was decided at the boundary. */
class StepFailed extends Error {
  constructor(readonly decision: FailureDecision, options?: { cause?: unknown }) {
    super(decision.reason, options);
  }
}


const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Resolves null after `ms`, never holding the process open. */
const lateLimit = (ms: number): Promise<null> => new Promise<null>((r) => setTimeout(r, ms, null).unref());

/** Runs one attempt; never throws for a cell's failure (the verdict says it). */
export async function runCell(ctx: AttemptContext, seams: CellSeams, policy: CellPolicy = {}): Promise<AttemptResult> {
  return new CellAttempt(ctx, seams, policy).run();
}

class CellAttempt {
  private readonly steps: StepRecord[] = [];
  private readonly evidence: string[] = [];
  /** An upgrade-from cell's previous build, staged beside ours. */
  private previous: StagedPackage | undefined;
  /** What the guest gave back after its crash (its own dumps), for triage. */
  private readonly guestCrashFiles: string[] = [];
  /** When this attempt began: a dump read off the disk from before it is an earlier crash's. */
  private readonly begun = new Date();
  private readonly result: AttemptResult = { verdict: 'pass', steps: this.steps, evidence: this.evidence };
  private readonly personality: GuestPersonality;
  private readonly faults: Set<string>;
  private vm: VmInstance | undefined;
  private session: GuestSession | undefined;
  /** Our package is being installed right now: the guest lost then is a boot failure (failures.ts). */
  private oursLoading = false;
  /** The filter-delay recordings of this attempt (the matrix's filterDelays), in the measurement. */
  private capturedDelays: FilterDelaysRecord[] | undefined;
  /** Module names attribution treats as ours (from the prepared cell). */
  private ours: string[] = [];
  /** The VM's vCPUs: the policy's, else the image's. */
  private vcpus = 1;

  constructor(
    private readonly ctx: AttemptContext,
    private readonly seams: CellSeams,
    private readonly policy: CellPolicy,
  ) {
    this.personality = seams.personality;
    this.faults = new Set(ctx.cell.faults.filter((f) => f.kind === 'kill-vm' && f.attempts.includes(ctx.attempt)).map((f) => f.at));
  }

  async run(): Promise<AttemptResult> {
    try {
      const prepared = await this.prepare();
      this.ours = prepared.ours;
      this.vcpus = this.policy.cpus ?? (prepared.image.manifest as { machine?: { cpus?: number } }).machine?.cpus ?? 1;
      await this.acquire(prepared);
      await this.step('identity', (s) => this.checkIdentity(prepared, s));
      const specs = (this.ctx.cell.workloadRefs ?? this.ctx.cell.workloads).map((w) => loadWorkload(w));
      const k = this.roundsWanted();
      const t0 = performance.now();
      const baseline = await this.step('baseline', (s) => (k ? this.runWorkloads(specs, s, 1) : this.measureBaseline(specs, s)));
      const warmupMs = performance.now() - t0;
      await this.keep('baseline.json', JSON.stringify(Object.fromEntries(baseline)));
      const staged = await this.stageAll(prepared);
      await this.step('install', (s) => this.install(prepared, staged, s));
      if (this.ctx.cell.verifier !== 'none') await this.step('verifier', (s) => this.applyVerifier(s));
      const ours = staged.at(-1)!;
      if (k) {
        const t1 = performance.now();
        const measured = await this.step('workload', (s) => this.watchRounds(specs, prepared, ours, { min: k, max: Math.max(k, this.policy.maxRounds ?? k) }, s));
        await this.keep('rounds.json', JSON.stringify({ schema: 'fleetgate-rounds/1', order: measured.order, ...(measured.fallback ? { fallback: measured.fallback } : {}) }));
        this.measured(measured, { warmup: warmupMs, rounds: performance.now() - t1 });
        await this.step('unload', (s) => this.session!.unload(ours, s));
        await this.step('collect', (s) => this.collect(s));
        await this.step('verdict', async () => this.judgeMeasured(specs, baseline, measured));
        return this.result;
      }
      const withDriver = await this.step('workload', (s) => this.watchWorkload(specs, prepared, ours, s));
      await this.keep('workload.json', JSON.stringify(Object.fromEntries(withDriver)));
      await this.step('unload', (s) => this.session!.unload(ours, s));
      await this.step('collect', (s) => this.collect(s));
      await this.step('verdict', async () => this.judgeLatency(specs, baseline, withDriver));
      return this.result;
    } catch (err) {
      this.judge(err instanceof StepFailed ? err.decision : decideFailure('acquire', err, { interrupted: this.ctx.signal.aborted }));
      // A crash or hang while ours loaded or ran: the verdict is the crash's; what follows only
      // gathers and reads its evidence.
      if (err instanceof StepFailed && err.cause instanceof GuestCrashed && (this.result.verdict === 'product-crash' || this.result.verdict === 'product-hang' || this.result.verdict === 'verifier-violation')) {
        const finding = err.cause.finding;
        await this.step('collect', async (s) => this.collectCrashEvidence(finding, s)).catch(() => undefined);
        await this.step('triage', async () => this.triage(finding)).catch(() => undefined);
      }
      return this.result;
    } finally {
      await this.release();
    }
  }

  // -- the steps ---------------------------------------------------------------------------------

  /**
   * Host-side work, before a VM exists (not a step of its own: a cell that cannot be prepared never
   * acquired anything). Ours refused by its compiler or packager is the install step's failure.
   */
  private async prepare(): Promise<PreparedCell> {
    try {
      return await this.personality.prepare(this.ctx.cell, { attemptDir: this.ctx.attemptDir, signal: this.ctx.signal });
    } catch (err) {
      if (!(err instanceof PackageRefused)) throw err;
      if (err.evidence) await this.keep(err.evidence.file, err.evidence.text);
      this.record({ step: 'install', startedAt: new Date().toISOString(), ms: 0, ok: false, detail: err.message });
      throw new StepFailed(decideFailure('install', err));
    }
  }

  private async acquire(prepared: PreparedCell): Promise<void> {
    const t0 = performance.now();
    await this.step('acquire', async (signal) => {
      // The VM lives as long as the attempt (its signal tears it down); the step's limit applies only
      // while it starts.
      const lifetime = new AbortController();
      const end = (): void => lifetime.abort(this.ctx.signal.reason);
      if (this.ctx.signal.aborted) end();
      else this.ctx.signal.addEventListener('abort', end, { once: true });
      const startLimit = (): void => lifetime.abort(signal.reason);
      signal.addEventListener('abort', startLimit, { once: true });
      let vm: VmInstance;
      try {
        vm = await this.seams.provider.start({
          name: `cell-${this.ctx.cell.id}-a${this.ctx.attempt}-${process.pid}`,
          cellDir: this.ctx.attemptDir,
          image: prepared.image,
          signal: lifetime.signal,
          start: this.policy.start ?? 'auto',
          ...(this.policy.cpus !== undefined ? { cpus: this.policy.cpus } : {}),
        });
      } finally {
        signal.removeEventListener('abort', startLimit);
      }
      this.vm = vm;
      const how = vm.start ?? { kind: 'cold' as const, ms: 0 };
      this.result.start = { kind: how.kind, ms: 0, accel: vm.accel };
      if (how.fallbackReason) this.note(`cold boot instead of a warm start: ${how.fallbackReason}`);
      this.session = await this.personality.connect(vm, prepared, signal);
      for (const line of await this.session.settle(how, signal)) this.note(line);
    });
    this.result.start = { ...this.result.start!, ms: Math.round(performance.now() - t0) };
    // A fault "at acquire" strikes a VM that just came up: the next step finds it gone.
    if (this.faults.has('acquire')) await this.killVm('acquire');
  }

  private async checkIdentity(prepared: PreparedCell, signal: AbortSignal): Promise<void> {
    const id = await this.session!.identity(signal);
    // The patch level where the image has one (Windows build.UBR), else the build (the lab's kernel release).
    const os = prepared.image.manifest.os;
    const want = os.ubr !== undefined ? `${os.build}.${os.ubr}` : os.build;
    if (String(id.build) !== String(want)) throw new InfraFailure(`the guest runs ${id.build}, the image says ${want}`);
  }

  /** One unrecorded run first (caches and the agent's JIT warm up), then `runs` recorded ones. */
  private async measureBaseline(specs: WorkloadSpec[], signal: AbortSignal): Promise<Map<string, AgentResult[]>> {
    for (const spec of specs) await this.session!.runWorkload(spec, { timeoutMs: this.limit('workload'), signal });
    return this.runWorkloads(specs, signal);
  }

  private async runWorkloads(specs: WorkloadSpec[], signal: AbortSignal, runs = this.policy.runs ?? 2): Promise<Map<string, AgentResult[]>> {
    const out = new Map<string, AgentResult[]>();
    for (let i = 0; i < runs; i++) {
      for (const spec of specs) {
        const r = await this.session!.runWorkload(spec, { timeoutMs: this.limit('workload'), signal });
        out.set(spec.name, [...(out.get(spec.name) ?? []), r]);
      }
    }
    return out;
  }

  /** Sending the packages is the host's and the channel's work: never the product's verdict. */
  private async stageAll(prepared: PreparedCell): Promise<StagedPackage[]> {
    const signal = AbortSignal.any([this.ctx.signal, AbortSignal.timeout(this.limit('install'))]);
    try {
      const staged: StagedPackage[] = [];
      for (const p of prepared.packages) staged.push(await this.session!.stage(p, signal));
      if (prepared.upgradeFrom) this.previous = await this.session!.stage(prepared.upgradeFrom, signal);
      return staged;
    } catch (err) {
      throw new StepFailed(decideFailure('install', new InfraFailure(`sending the packages to the guest: ${errorText(err)}`, { cause: err }), { interrupted: this.ctx.signal.aborted }));
    }
  }

  /**
   * Coexisting filters first (they are on the machine before ours arrives), then ours, watched: a
   * driver that crashes the guest as it loads is a product crash with its dump. Only what the guest
   * does with ours counts: refused is the install failure, the guest lost a boot failure; a partner's
   * filter failing in any way is not ours to answer for.
   */
  private async install(prepared: PreparedCell, staged: StagedPackage[], signal: AbortSignal): Promise<void> {
    const session = this.session!;
    for (const pkg of staged.filter((p) => p.role === 'coexist')) {
      try {
        await session.install(pkg, {}, signal);
      } catch (err) {
        if (err instanceof PackageRefused && err.evidence) await this.keep(err.evidence.file, err.evidence.text);
        throw err instanceof PackageRefused ? err : new PackageRefused('coexist', pkg.name, `coexisting filter ${pkg.name}: ${errorText(err)}`, undefined, { cause: err });
      }
    }
    const ours = staged.at(-1)!;
    if (this.previous && !session.upgrade) throw new InfraFailure(`${this.personality.family} cells have no in-place upgrade: ${this.ctx.cell.id} cannot run upgrade-from ${this.previous.package}`);
    await this.underWatch(`the load of ${ours.name}`, signal, async (s) => {
      this.oursLoading = true;
      try {
        if (this.previous && session.upgrade) {
          // An upgrade-from cell: the previous build is what the machine has; ours arrives over it.
          await session.install(this.previous, prepared.params, s);
          await session.upgrade(this.previous, ours, prepared.params, s);
        } else {
          await session.install(ours, prepared.params, s);
        }
        this.oursLoading = false;
      } catch (err) {
        this.oursLoading = false;
        if (err instanceof PackageRefused) {
          if (err.evidence) await this.keep(err.evidence.file, err.evidence.text);
          throw err;
        }
        if (s.aborted || err instanceof VmGone) throw err;
        throw new BootFailure(`the guest was lost while ${ours.name} loaded: ${errorText(err)}`, { cause: err });
      }
    }, { explainRefusals: false });
    this.result.installed = staged.map((p) => ({ role: p.role, name: p.name, package: p.package, sha256: p.sha256 }));
    if (this.previous) this.note(`upgraded in place from ${this.previous.package} (${this.previous.sha256}) to ${ours.package} (${ours.sha256})`);
  }

  private async applyVerifier(signal: AbortSignal): Promise<void> {
    const profile = this.ctx.cell.verifier;
    const r = await this.session!.applyVerifier(profile, signal);
    if (r.note) this.note(r.note);
  }

  /** Our driver in, the workloads run again while the monitor watches for a crash, a hang or the VM gone. */
  private async watchWorkload(specs: WorkloadSpec[], prepared: PreparedCell, ours: StagedPackage, signal: AbortSignal): Promise<Map<string, AgentResult[]>> {
    return this.underWatch('the workload', signal, async (s) => {
      if (prepared.trigger !== undefined) await this.session!.fire(ours, prepared.trigger);
      return this.runWorkloads(specs, s);
    });
  }

  /**
   * Rounds k when this cell's policy measures in rounds (with a budget, judged; without one, reported
   * for the gate to judge); 0: sequential. A guest that cannot take ours out falls back in watchRounds.
   */
  private roundsWanted(): number {
    const k = this.policy.rounds ?? 0;
    return k >= 2 ? k : 0;
  }

  /**
   * Interleaved rounds under one watch: B1 D1 B2 … Dk B(k+1), ours taken out before each baseline
   * run and put back before each driver run; a trigger fires as D1 starts. From k = min on, the rounds
   * so far are judged after each baseline run, and another round is run only while a judged step is
   * undecided, none is over and k < max. Ours refusing to go out (or a guest with no way to take it
   * out) ends the rounds: the driver runs still owed are run sequentially and the verdict compares
   * them unpaired (judgeMeasured), saying why.
   */
  private async watchRounds(specs: WorkloadSpec[], prepared: PreparedCell, ours: StagedPackage, k: { min: number; max: number }, signal: AbortSignal): Promise<RoundsMeasured> {
    const session = this.session!;
    return this.underWatch('the workload', signal, async (s) => {
      const order: RoundRun[] = [];
      const runAll = async (side: RoundRun['side'], round: number): Promise<void> => {
        for (const spec of specs) order.push({ side, round, workload: spec.name, result: await session.runWorkload(spec, { timeoutMs: this.limit('workload'), signal: s }) });
      };
      const fire = async (): Promise<void> => {
        if (prepared.trigger !== undefined) await session.fire(ours, prepared.trigger);
      };
      const putBack = async (): Promise<void> => {
        this.oursLoading = true;
        await session.putBack!(ours, prepared.params, s);
        this.oursLoading = false;
      };
      for (let i = 1; ; i++) {
        const out = session.takeOut && session.putBack ? await session.takeOut(ours, s) : { out: false as const, why: `${this.personality.family} guests cannot take a driver out between rounds` };
        if (!out.out) {
          // Ours is still in: the driver runs still owed, one after another.
          if (i === 1) await fire();
          const owed = i === 1 ? (this.policy.runs ?? 2) : 0;
          for (let j = 0; j < owed; j++) await runAll('driver', j + 1);
          await this.captureFilterDelays(specs, s);
          return { order, fallback: `ours could not be taken out before baseline run ${i} (${out.why}): measured sequentially` };
        }
        await runAll('baseline', i);
        const done = i - 1;
        if (done >= k.min) {
          const judgement = this.judgeRoundsSoFar(specs, order);
          if (!this.wantsAnotherRound(judgement, done, k.max)) {
            // Ours was out for the last baseline run: back in for the recorded run.
            if (this.ctx.cell.filterDelays && session.captureFilterDelays) await putBack();
            await this.captureFilterDelays(specs, s);
            return { order, judgement };
          }
        }
        await putBack();
        if (i === 1) await fire();
        await runAll('driver', i);
      }
    });
  }

  /**
   * The matrix's filterDelays: one more run of each workload with ours in, recorded by the OS's own
   * tracing of the filter stack, after the rounds (so the recording's cost is in no measured run).
   * Not captured (a guest with no such recording, the tool failing as the guest says, an export that
   * does not read) is said in the measurement and the journal, never a verdict; a crash or a lost
   * channel during the run is the watch's, as in any run.
   */
  private async captureFilterDelays(specs: WorkloadSpec[], signal: AbortSignal): Promise<void> {
    const want = this.ctx.cell.filterDelays;
    if (!want) return;
    const session = this.session!;
    for (const spec of specs) {
      let record: FilterDelaysRecord;
      if (!session.captureFilterDelays) {
        record = { workload: spec.name, captured: false, why: `${this.personality.family} guests have no recording of the filter stack's callback times` };
      } else {
        try {
          const c = await session.captureFilterDelays(spec, { ...want, dir: this.ctx.attemptDir, timeoutMs: this.limit('workload'), signal });
          const file = `filter-delays-${safeFileName(spec.name)}.json`;
          await this.keep(file, JSON.stringify(c.delays));
          record = { workload: spec.name, captured: true, tool: c.tool, file, rows: c.delays.rows, perEvent: c.delays.perEvent, ours: oursIn(c.delays, this.ours), top: c.delays.delays.slice(0, FILTER_DELAYS_TOP) };
          this.note(`filter delays of ${spec.name} recorded (${c.tool}): ${record.ours ? `${record.ours.filter} ${record.ours.count} callbacks, ${record.ours.totalUs.toFixed(0)} µs in all, mean ${record.ours.meanUs.toFixed(1)} µs` : 'ours is not among the filters the export names'}`);
        } catch (err) {
          // Only a recording the guest says failed is "not recorded"; a failed run, a lost channel or a
          // crash goes to the watch, and an interrupted attempt stays interrupted.
          if (this.ctx.signal.aborted || !(err instanceof RecordingFailed)) throw err;
          record = { workload: spec.name, captured: false, why: errorText(err) };
        }
      }
      if (!record.captured) this.note(`filter delays of ${spec.name} not recorded: ${record.why}`);
      (this.capturedDelays ??= []).push(record);
    }
  }

  /** The rounds' judgement; seeded by the cell, so judging the same runs again gives the same figures. */
  private judgeRoundsSoFar(specs: WorkloadSpec[], order: RoundRun[]): LatencyJudgement {
    return judgeRounds(specs, order, this.policy.latencyBudget, { seed: hashSeed(1, this.ctx.cell.id) });
  }

  /** After `done` rounds judged `j`: is a judged step undecided with none over, and is there a round left to run? */
  private wantsAnotherRound(j: LatencyJudgement, done: number, max: number): boolean {
    if (done >= max || j.regressed.length || !j.inconclusive.length) return false;
    this.note(`latency undecided after ${done} rounds (${j.inconclusive[0]}${j.inconclusive.length > 1 ? `; and ${j.inconclusive.length - 1} more` : ''}): one more round`);
    return true;
  }

  /** The measurement's shape, from what the agent reported and what the rounds did. */
  private measured(m: RoundsMeasured, ms: { warmup: number; rounds: number }): void {
    const first = m.order[0]?.result.host.cpus;
    const record: MeasurementRecord = {
      method: m.fallback ? 'sequential' : 'rounds',
      rounds: m.order.filter((r) => r.side === 'driver' && r.workload === m.order[0]?.workload).length,
      vcpus: this.vcpus,
      agentCpus: first?.allowed ?? null,
      // The lab guest runs the agent with --single-threaded exactly when it pins it, and it pins it to one CPU.
      singleThreaded: first?.allowed !== undefined && !first.allowed.includes(',') && !first.allowed.includes('-'),
      between: m.fallback ? 'none' : 'unload',
      ...(m.fallback ? { fallback: m.fallback } : {}),
      ms: { warmup: Math.round(ms.warmup), rounds: Math.round(ms.rounds) },
      ...(this.capturedDelays ? { filterDelays: this.capturedDelays } : {}),
    };
    this.result.measurement = record;
    if (m.fallback) this.note(m.fallback);
  }

  /**
   * Runs `fn` while the monitor watches the VM and the channel's heartbeat. The monitor's finding
   * wins: a crash or hang is GuestCrashed, the VM gone without a panic VmGone. When `fn` fails on
   * its own, the monitor gets a moment to say a crash was why. Work still running when the watch
   * ends is aborted.
   */
  private async underWatch<T>(during: string, signal: AbortSignal, fn: (signal: AbortSignal) => Promise<T>, o: { explainRefusals?: boolean } = {}): Promise<T> {
    const session = this.session!;
    const workEnd = new AbortController();
    session.channel.startHeartbeat(this.policy.heartbeat ?? { intervalMs: 2_000, timeoutMs: 3_000, missesBeforeLost: 3 });
    const end = new AbortController();
    const vm = this.vm!;
    const since = vm.events.history().length;
    // A VM already gone (killed between steps) is not watched: the monitor counts only later events.
    const exited = vm.events.history().find((e) => e.type === 'exited');
    if (exited) throw new VmGone(`the VM was gone before ${during} (${JSON.stringify(exited)})`);
    const watching = watchCell(vm, session.channel, { cellDir: this.ctx.attemptDir, crash: this.personality.crash, signal: end.signal, ...this.policy.monitor }).catch((err: unknown) => {
      throw new InfraFailure(`the cell monitor failed during ${during}: ${errorText(err)}`, { cause: err });
    });
    try {
      const work = fn(AbortSignal.any([signal, workEnd.signal])).then((r) => ({ r }) as const, (e: unknown) => ({ e }) as const);
      const first = await Promise.race([work, watching.then((w) => ({ w }) as const)]);
      if ('r' in first) return first.r;
      if ('e' in first && first.e instanceof PackageRefused && o.explainRefusals === false) throw first.e;
      // A panic already reported is waited for whole (its evidence takes seconds to collect); otherwise
      // the monitor has a moment, unless the attempt is being interrupted.
      const panicked = vm.events.history().slice(since).some((e) => e.type === 'panicked');
      const w = 'w' in first ? first.w : panicked ? await watching : this.ctx.signal.aborted ? null : await Promise.race([watching, lateLimit(this.policy.lateCrashMs ?? 15_000)]);
      if (w && (w.kind === 'crash' || w.kind === 'hang' || w.kind === 'hang-no-dump')) throw new GuestCrashed(w, during);
      if (w?.kind === 'vm-gone') {
        const e = w.event;
        // The guest reset or powered off by itself (a triple fault, a reboot it did on its own) with
        // ours in: it did not stay up. The host killing or resetting the VM is the host's.
        if ((e.type === 'reset' || e.type === 'shutdown') && e.guest) throw new BootFailure(`the guest ${e.type === 'reset' ? 'reset itself' : 'shut itself down'} (${e.reason}) during ${during}`);
        throw new VmGone(`the VM went away during ${during} (${JSON.stringify(e)})`);
      }
      throw 'e' in first ? first.e : new InfraFailure(`the monitor ended its watch of ${during} without a finding`);
    } finally {
      workEnd.abort();
      end.abort();
      session.channel.stopHeartbeat();
    }
  }

  /**
   * The monitor already wrote the host's dump and the console is the provider's: both become evidence.
   * A guest that writes its own dump (no host dump) is waited for and asked for it.
   */
  private async collectCrashEvidence(o: GuestFinding, signal: AbortSignal): Promise<void> {
    if (o.kind !== 'hang-no-dump' && o.evidence.dump) this.evidence.push(this.rel(o.evidence.dump.path));
    if (o.kind === 'hang-no-dump' || o.evidence.dump || !this.session?.afterCrash) return;
    let files: string[];
    try {
      files = await this.session.afterCrash(this.ctx.attemptDir, signal);
    } catch (err) {
      // The guest never came back to hand over its dump: what the crash wrote is still on its disk.
      const fromDisk = await this.crashEvidenceFromDisk(signal);
      if (!fromDisk) throw err;
      this.note(`the guest did not come back after its crash (${errorText(err)}): evidence read off its disk`);
      files = fromDisk;
    }
    for (const file of files) {
      this.guestCrashFiles.push(file);
      this.evidence.push(this.rel(file));
    }
  }

  /** The stopped VM's disk read by the OS's crash strategy; null when this provider or OS cannot. */
  private async crashEvidenceFromDisk(signal: AbortSignal): Promise<string[] | null> {
    const vm = this.vm;
    const read = this.personality.crash.fromDisk;
    if (!vm || !read || !hasOfflineDisk(vm)) return null;
    await vm.stop({ graceful: false });
    const disk = vm.offlineDisk();
    if (!disk) return null;
    return read(disk, { dir: this.ctx.attemptDir, notBefore: this.begun, signal });
  }

  /** What the crash was: its report's title, its bucket and whose it is (ours, another vendor's, the OS's). */
  private async triage(o: GuestFinding): Promise<void> {
    if (o.kind === 'hang-no-dump') {
      this.result.reason = o.reason;
      return;
    }
    const report = o.evidence.report ?? (await this.personality.crash.reportFrom?.(o.panic.info, this.guestCrashFiles)) ?? null;
    const bucket = report ? this.personality.crash.bucket(report, { ours: this.ours }) : undefined;
    const crash: CrashSummary = {
      title: report?.title ?? (o.kind === 'hang' ? 'hang: heartbeat lost, NMI forced a panic' : 'guest panic without console text'),
      bucket: bucket?.id ?? `${this.personality.family}:${o.kind}`,
      kind: report?.kind ?? (o.kind === 'hang' ? 'HANG' : 'PANIC'),
      ...(report?.module ? { module: report.module } : {}),
      ...(bucket ? { attribution: bucket.attribution } : {}),
      ...(o.evidence.dump ? { dump: this.rel(o.evidence.dump.path), dumpBytes: o.evidence.dump.bytes } : {}),
    };
    this.result.crash = crash;
    this.result.reason = crash.title;
  }

  private async collect(signal: AbortSignal): Promise<void> {
    for (const file of await this.session!.collect(this.ctx.attemptDir, signal)) this.evidence.push(this.rel(file));
  }

  private async judgeLatency(specs: WorkloadSpec[], baseline: Map<string, AgentResult[]>, withDriver: Map<string, AgentResult[]>): Promise<void> {
    await this.applyLatency(judgeLatency(specs, baseline, withDriver, this.policy.latencyBudget));
  }

  /** A latency judgement becomes the cell's figures, latency.json, and its verdict when a step failed or was undecided. */
  private async applyLatency(j: LatencyJudgement): Promise<void> {
    this.result.latency = j.latency;
    await this.keep('latency.json', JSON.stringify(j.latency, null, 2));
    if (j.regressed.length) this.judge({ verdict: 'perf-regression', reason: j.regressed.join('; ') });
    else if (j.inconclusive.length) this.judge({ verdict: 'latency-inconclusive', reason: j.inconclusive.join('; ') });
  }

  /** The rounds' verdict (judgeRounds); after a fallback, the unpaired one over what was run. */
  private async judgeMeasured(specs: WorkloadSpec[], before: Map<string, AgentResult[]>, m: RoundsMeasured): Promise<void> {
    let j: LatencyJudgement;
    if (!('judgement' in m)) {
      const side = (which: RoundRun['side']) => {
        const out = new Map<string, AgentResult[]>();
        for (const r of m.order.filter((x) => x.side === which)) out.set(r.workload, [...(out.get(r.workload) ?? []), r.result]);
        return out;
      };
      const b = side('baseline');
      // No baseline run with ours out: the one before anything was installed.
      j = judgeLatency(specs, b.size ? b : before, side('driver'), this.policy.latencyBudget);
    } else {
      j = m.judgement;
      if (j.detectableUs !== undefined && this.result.measurement) this.result.measurement.detectableUs = j.detectableUs;
    }
    await this.applyLatency(j);
  }

  /** Always, whatever came before: the channel closed, the VM stopped, its throw-away files gone. */
  private async release(): Promise<void> {
    const session = this.session;
    const vm = this.vm;
    if (vm || session) {
      // Not under the attempt's signal: an interrupted attempt still releases its VM.
      const t0 = performance.now();
      const startedAt = new Date().toISOString();
      this.ctx.emit({ type: 'step-begin', step: 'release' });
      let detail: string | undefined;
      await session?.close().catch((err: unknown) => { detail = `closing the guest channel: ${String(err)}`; });
      if (vm) {
        const timeout = new Promise<'late'>((r) => setTimeout(r, this.limit('release'), 'late').unref());
        const disposing = vm[Symbol.asyncDispose]().then(() => 'ok' as const, (err: unknown) => { detail = `releasing the VM: ${String(err)}`; return 'ok' as const; });
        if ((await Promise.race([disposing, timeout])) === 'late') {
          // The slot is not given back with a VM still running on it: kill what can be killed, then wait.
          detail = `releasing the VM took over ${this.limit('release') / 1000} s; killed`;
          if (vm.pid) {
            try {
              process.kill(vm.pid, 'SIGKILL');
            } catch {
              // already gone
            }
          }
          await disposing;
        }
      }
      const ms = performance.now() - t0;
      // The product's verdict stands whatever the release did: a VM that would not stop is the host's trouble.
      this.record({ step: 'release', startedAt, ms, ok: detail === undefined, ...(detail ? { detail } : {}) });
    }
    if (vm) this.evidence.push(this.rel(vm.consolePath));
  }

  // -- the step boundary ---------------------------------------------------------------------------

  /** Runs one step under its limit, journals it, and on failure decides its verdict (failures.ts). */
  private async step<T>(name: Step, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const startedAt = new Date().toISOString();
    const t0 = performance.now();
    const limitMs = this.limit(name);
    this.ctx.emit({ type: 'step-begin', step: name });
    const timeout = AbortSignal.timeout(limitMs);
    const signal = AbortSignal.any([this.ctx.signal, timeout]);
    try {
      if (name !== 'acquire' && this.faults.has(name)) await this.killVm(name);
      const v = await fn(signal);
      this.record({ step: name, startedAt, ms: performance.now() - t0, ok: true });
      return v;
    } catch (err) {
      const interrupted = this.ctx.signal.aborted;
      const decision = decideFailure(name, err, { interrupted, oursLoading: this.oursLoading, ...(timeout.aborted && !interrupted ? { timedOutMs: limitMs } : {}) });
      this.record({ step: name, startedAt, ms: performance.now() - t0, ok: false, detail: decision.reason.slice(name.length + 2) });
      throw new StepFailed(decision, { cause: err });
    }
  }

  private record(r: StepRecord): void {
    this.steps.push(r);
    this.ctx.emit({ type: 'step-end', step: r.step, ms: r.ms, ok: r.ok, ...(r.detail ? { detail: r.detail } : {}) });
  }

  /** The first failure is the verdict: a product failure found is never replaced by what follows it. */
  private judge(d: FailureDecision): void {
    if (this.result.verdict !== 'pass') return;
    this.result.verdict = d.verdict;
    this.result.reason = d.reason;
  }

  private limit(step: Step): number {
    return this.policy.timeouts?.[step] ?? this.personality.timeouts[step];
  }

  private note(message: string): void {
    this.ctx.emit({ type: 'note', message });
  }

  private rel(p: string): string {
    return relative(this.ctx.runDir, p);
  }

  private async keep(file: string, text: string): Promise<void> {
    const path = join(this.ctx.attemptDir, file);
    await writeFile(path, text);
    this.evidence.push(this.rel(path));
  }

  /** An injected infrastructure fault: the VM is killed for real, mid-step. */
  private async killVm(step: string): Promise<void> {
    const vm = this.vm;
    if (!vm) return;
    this.note(`injected fault: killing the VM${vm.pid ? ` (pid ${vm.pid})` : ''} during ${step}`);
    try {
      if (vm.pid) process.kill(vm.pid, 'SIGKILL');
      else await vm.stop({ graceful: false });
    } catch (err) {
      this.note(`injected fault: the VM could not be killed: ${errorText(err)}`);
    }
  }
}
