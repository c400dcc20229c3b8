// TEST DOUBLE. A guest personality with no guest behind it: each operation follows a script (the
// package refused, the guest crashing as ours loads, a broken workload, a hang, a driver that makes
// opens slower...), so harness/cell/lifecycle.ts can be driven through every verdict in unit tests
// that take seconds. Crashes and hangs are made the way real ones are seen: the fake VM panics or
// the channel's heartbeat stops, and the real monitor decides. Latency comes from seeded synthetic
// histograms, so a regression or a noisy cell is what the real comparison sees.
import { EventEmitter } from 'node:events';
import { encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import type { Cell } from '../../../matrix/index.ts';
import type { AgentResult, StepResult, WorkloadSpec } from '../../../workloads/agent/protocol.ts';
import { seededRng } from '../../../workloads/random.ts';
import { syntheticHistogram } from '../../../workloads/test-helpers/synthetic-runs.ts';
import { STEPS, type Step } from '../../../runfolder/results.ts';
import { bucketLinuxReport } from '../../crash/bucket.ts';
import type { CrashReport } from '../../crash/types.ts';
import type { ExecResult, GuestChannel, GuestChannelEvents, HeartbeatLost, TransferResult } from '../../guest/channel.ts';
import { BootFailure, InfraFailure, PackageRefused, RecordingFailed, TestError, VerifierViolation } from '../failures.ts';
import type { GuestPersonality, GuestSession, HostPackage, PreparedCell, StagedPackage } from '../personality.ts';
import type { FakeVm } from './fake-provider.ts';

export interface FakeLatency {
  /** p50-ish cost of an open without the driver, µs. @default 100 */
  baseUs?: number;
  /** What the driver adds to every sample, µs. @default 0 */
  overheadUs?: number;
  /** With the driver, run i adds runsUs[i % length] more on top (a noisy cell: [0, 3000]). */
  driverRunsUs?: number[];
  /** Every run, either side, is this much slower than the one before it (a host getting busier). */
  driftUsPerRun?: number;
}

export interface FakeGuestScript {
  prepare?: 'refuse-ours' | 'refuse-coexist';
  /** The guest's OS has no in-place upgrade (GuestSession.upgrade absent). */
  noUpgrade?: boolean;
  install?: 'refuse' | 'crash' | 'lose-guest' | 'reset' | 'hang-coexist';
  verifier?: 'violation' | 'no-reboot';
  /** What happens once ours is in and the workload runs. */
  /** bugcheck-c4 / bugcheck-d1: the hypervisor reports a Windows stop code (hv-crash), as Hyper-V does. */
  /** bugcheck-7e: 0x1000007E with the parameters of the real triage dump in ../shared/samples. */
  workload?: 'crash' | 'lockup' | 'hang' | 'broken' | 'vm-gone' | 'bugcheck-c4' | 'bugcheck-d1' | 'bugcheck-7e';
  /** After a crash, the guest restarts and gives back nothing, or never comes back (GuestSession.afterCrash). */
  afterCrash?: 'back' | 'never-back';
  unload?: 'busy';
  /** Between latency rounds: ours refuses to go out (a filter that cannot unload), or the guest has no way to. */
  takeOut?: 'refuse' | 'absent';
  latency?: FakeLatency;
  /** Identity reports another build than the image's. */
  wrongBuild?: boolean;
  /**
   * The guest records the filter stack's callback times (GuestSession.captureFilterDelays): absent
   * (the default, as the lab), a table of ours and one other filter, a recording tool that fails, or
   * a crash during the recorded run.
   */
  filterDelays?: 'table' | 'fails' | 'crash';
}

const FAKE_IMAGE = { dir: '/nonexistent/fake-image', manifest: { os: { build: 'fake-1' } } } as unknown as PreparedCell['image'];

/** The fake's console reports: `FAKE PANIC: <title>`; a LOCKUP in the title is a hang. */
export function parseFakeConsole(text: string): CrashReport | null {
  const m = /FAKE PANIC: (.+)/.exec(text);
  if (!m) return null;
  const title = m[1]!.trim();
  return { kind: /LOCKUP/i.test(title) ? 'HANG' : 'PANIC', title, module: 'fakefilter', frames: [{ function: 'fakefilter_open', module: 'fakefilter' }], startLine: 1, endLine: 1, corrupted: false };
}

/** Every call the lifecycle made, in order, for tests to check the steps' order and what was installed. */
export type FakeCall = { op: string; arg?: string };

export function fakePersonality(script: FakeGuestScript = {}, calls: FakeCall[] = []): GuestPersonality {
  const timeouts = Object.fromEntries(STEPS.map((s) => [s, 5_000])) as Record<Step, number>;
  return {
    family: 'linux',
    timeouts,
    crash: { parseConsole: parseFakeConsole, hostDumpFile: 'memory.kdump', bucket: bucketLinuxReport },
    async prepare(cell: Cell): Promise<PreparedCell> {
      calls.push({ op: 'prepare', arg: cell.driverBuild.path });
      if (script.prepare === 'refuse-ours') throw new PackageRefused('ours', 'fakefilter', 'fakefilter does not build for fake-1 (see build.log)', { file: 'build.log', text: 'error: implicit declaration\n' });
      if (script.prepare === 'refuse-coexist') throw new PackageRefused('coexist', cell.coexist[0] ?? 'partner', 'partner does not build', { file: 'build.log', text: 'error\n' });
      const packages: HostPackage[] = [
        ...cell.coexist.map((name) => ({ role: 'coexist' as const, name, package: name, path: `/nonexistent/${name}.ko` })),
        { role: 'ours', name: 'fakefilter', package: cell.driverBuild.path, path: `${cell.driverBuild.path}/fakefilter.ko` },
      ];
      const from = cell.driverBuild.upgradeFrom;
      return {
        image: FAKE_IMAGE,
        packages,
        ...(from ? { upgradeFrom: { role: 'ours' as const, name: 'fakefilter', package: from.path, path: `${from.path}/fakefilter.ko` } } : {}),
        // As the lab's: a `trigger` parameter is a knob fired as the watched workload starts.
        ...(cell.driverBuild.params.trigger !== undefined ? { trigger: String(cell.driverBuild.params.trigger) } : {}),
        params: Object.fromEntries(Object.entries(cell.driverBuild.params).filter(([k]) => k !== 'trigger')),
        ours: ['fakefilter'],
      };
    },
    async connect(vm): Promise<GuestSession> {
      return new FakeSession(vm as FakeVm, script, calls);
    },
  };
}

/** A channel whose only life is its heartbeat: the session stops it to make a hang. */
class FakeChannel extends EventEmitter<GuestChannelEvents> implements GuestChannel {
  readonly kind = 'fake';
  beating = false;
  async exec(): Promise<ExecResult> {
    throw new InfraFailure('fake channel: no commands');
  }
  async upload(): Promise<TransferResult> {
    throw new InfraFailure('fake channel: no transfers');
  }
  async download(): Promise<TransferResult> {
    throw new InfraFailure('fake channel: no transfers');
  }
  startHeartbeat(): void {
    this.beating = true;
  }
  stopHeartbeat(): void {
    this.beating = false;
  }
  loseHeartbeat(): void {
    const lost: HeartbeatLost = { misses: 3, reason: 'fake: the guest stopped answering' };
    if (this.beating) this.emit('heartbeat-lost', lost);
  }
  async close(): Promise<void> {}
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason); }, { once: true });
  });

class FakeSession implements GuestSession {
  readonly channel = new FakeChannel();
  private installed = false;
  private run = 0;
  private driverRun = 0;
  constructor(
    private readonly vm: FakeVm,
    private readonly script: FakeGuestScript,
    private readonly calls: FakeCall[],
  ) {}

  async settle(): Promise<string[]> {
    return [];
  }

  async identity(): Promise<{ build: string }> {
    this.calls.push({ op: 'identity' });
    return { build: this.script.wrongBuild ? 'fake-2' : 'fake-1' };
  }

  async runWorkload(spec: WorkloadSpec, o: { timeoutMs: number; signal: AbortSignal }): Promise<AgentResult> {
    this.calls.push({ op: 'workload', arg: this.installed ? 'driver' : 'baseline' });
    if (this.installed) {
      switch (this.script.workload) {
        case 'crash':
          this.vm.panic('FAKE PANIC: BUG: unable to handle page fault in fakefilter_open\n');
          await sleep(20);
          throw new InfraFailure('fake channel: connection lost');
        case 'bugcheck-c4':
        case 'bugcheck-d1': {
          const code = this.script.workload === 'bugcheck-c4' ? '0xc4' : '0xd1';
          this.vm.panic(`FAKE PANIC: stop ${code} in fakefilter\n`, { kind: 'hyper-v', code, params: ['0x62', '0xffffa00000001000', '0x1', '0x0'] });
          await sleep(20);
          throw new InfraFailure('fake channel: connection lost');
        }
        case 'bugcheck-7e':
          this.vm.panic('', { kind: 'hyper-v', code: '0x1000007e', params: ['0xffffffffc0000005', '0xfffff8048b58334c', '0xffff850429891ee8', '0xffff850429891720'] });
          await sleep(20);
          throw new InfraFailure('fake channel: connection lost');
        case 'lockup':
          this.vm.panic('FAKE PANIC: watchdog: soft LOCKUP - CPU#0 stuck in fakefilter_open\n');
          await sleep(20);
          throw new InfraFailure('fake channel: connection lost');
        case 'hang':
          setTimeout(() => this.channel.loseHeartbeat(), 10);
          await sleep(60_000, o.signal);
          throw new InfraFailure('unreachable');
        case 'broken':
          throw new TestError(`the agent could not run ${spec.name}: no such work directory`);
        case 'vm-gone':
          this.vm.kill();
          throw new InfraFailure('fake channel: connection lost');
        default:
          break;
      }
    }
    return this.result(spec);
  }

  /** One run's result: two steps (open, read), 2,000 samples each, seeded by the run's number. */
  private result(spec: WorkloadSpec): AgentResult {
    const l = this.script.latency ?? {};
    const base = l.baseUs ?? 100;
    const rng = seededRng(1000 + this.run);
    const runs = l.driverRunsUs ?? [0];
    const level = (this.installed ? (l.overheadUs ?? 0) + runs[this.driverRun++ % runs.length]! : 0) + (l.driftUsPerRun ?? 0) * this.run;
    this.run++;
    const step = (name: string): StepResult => {
      const h = syntheticHistogram(rng, { samples: 2_000, baseUs: base, levelUs: level });
      return {
        name, op: 'open', status: 'ok', count: 2_000, errors: 0, warmupErrors: 0, errorLimit: 100, errorSamples: [], warmup: 0, concurrency: 1,
        elapsedMs: 1, opsPerSec: 1, latencyUs: { min: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0, stddev: 0 },
        histogram: encodeIntoCompressedBase64(h),
      };
    };
    return {
      schema: 'fleetgate-agent-result/1', workload: spec.name, workdir: '/fake', startedAt: '', finishedAt: '', durationMs: 1, ok: true,
      priority: { requested: 'high', applied: -20, note: null },
      host: { node: process.version, platform: 'linux', arch: 'x64', release: 'fake-1', hostname: 'fake', cpus: { count: 1, model: 'fake' }, totalMemBytes: 1 },
      steps: [step('open'), step('read')],
    };
  }

  async stage(pkg: HostPackage): Promise<StagedPackage> {
    this.calls.push({ op: 'stage', arg: pkg.path });
    return { ...pkg, remote: `/tmp/${pkg.name}.ko`, sha256: `sha256-of-${pkg.name}` };
  }

  /** Present unless the script says this guest has no in-place upgrade. */
  get upgrade(): GuestSession['upgrade'] {
    if (this.script.noUpgrade) return undefined;
    return async (from: StagedPackage, to: StagedPackage) => {
      this.calls.push({ op: 'upgrade', arg: `${from.package} -> ${to.package}` });
    };
  }

  async install(pkg: StagedPackage, _params: Record<string, string | number>, signal: AbortSignal): Promise<void> {
    this.calls.push({ op: 'install', arg: pkg.name });
    if (pkg.role === 'ours') {
      if (this.script.install === 'refuse') throw new PackageRefused('ours', pkg.name, `insmod ${pkg.name} refused: Unknown symbol`, { file: 'install.txt', text: 'insmod: ERROR: could not insert module: Unknown symbol in module\n' });
      if (this.script.install === 'crash') {
        this.vm.panic('FAKE PANIC: BUG: kernel NULL pointer dereference in fakefilter_init\n');
        await sleep(20);
        throw new InfraFailure('fake channel: connection lost');
      }
      if (this.script.install === 'lose-guest') throw new InfraFailure('fake channel: connection lost');
      if (this.script.install === 'reset') {
        this.vm.events.push({ type: 'reset', at: new Date().toISOString(), guest: true, reason: 'guest-reset' });
        await sleep(20);
        throw new InfraFailure('fake channel: connection lost');
      }
      this.installed = true;
    } else if (this.script.install === 'hang-coexist') {
      await sleep(60_000, signal);
    }
  }

  async applyVerifier(profile: string): Promise<{ applied: boolean; note?: string }> {
    this.calls.push({ op: 'verifier', arg: profile });
    if (this.script.verifier === 'no-reboot') throw new BootFailure(`the guest did not come back after the ${profile} verifier reboot`);
    if (this.script.verifier === 'violation') throw new VerifierViolation(`verifier ${profile}: fakefilter freed pool it did not own`);
    return { applied: true };
  }

  async fire(pkg: StagedPackage, knob: string): Promise<void> {
    this.calls.push({ op: 'fire', arg: `${pkg.name}.${knob}` });
  }

  get takeOut(): GuestSession['takeOut'] {
    if (this.script.takeOut === 'absent') return undefined;
    return async (pkg: StagedPackage) => {
      this.calls.push({ op: 'take-out', arg: pkg.name });
      if (this.script.takeOut === 'refuse') return { out: false, why: `${pkg.name} does not support unload` };
      this.installed = false;
      return { out: true };
    };
  }

  get captureFilterDelays(): GuestSession['captureFilterDelays'] {
    const mode = this.script.filterDelays;
    if (!mode) return undefined;
    return async (spec, o) => {
      this.calls.push({ op: 'capture', arg: this.installed ? 'driver' : 'baseline' });
      if (mode === 'fails') throw new RecordingFailed('fake recorder: no recorder on this guest');
      if (mode === 'crash') {
        this.vm.panic('FAKE PANIC: BUG: unable to handle page fault in fakefilter_open\n');
        await sleep(20);
        throw new InfraFailure('fake channel: connection lost');
      }
      const result = await this.runWorkload(spec, o);
      const row = (filter: string, operation: string, count: number, meanUs: number) => ({ filter, operation, count, totalUs: count * meanUs, meanUs, p50Us: meanUs, p99Us: meanUs, maxUs: meanUs });
      const delays = {
        schema: 'fleetgate-filter-delays/1' as const,
        source: 'fake-export.csv',
        columns: { filter: 'Mini-Filter Driver', operation: 'Major Function', delay: 'Duration (µs)', count: null },
        rows: 40,
        perEvent: true,
        delays: [row('fakefilter.sys', 'IRP_MJ_CREATE', 20, 12), row('WdFilter.sys', 'IRP_MJ_CREATE', 20, 3)],
      };
      return { result, delays, files: [], tool: 'fake recorder' };
    };
  }

  get putBack(): GuestSession['putBack'] {
    if (this.script.takeOut === 'absent') return undefined;
    return async (pkg: StagedPackage) => {
      this.calls.push({ op: 'put-back', arg: pkg.name });
      this.installed = true;
    };
  }

  async unload(pkg: StagedPackage): Promise<void> {
    this.calls.push({ op: 'unload', arg: pkg.name });
    if (this.script.unload === 'busy') throw new InfraFailure(`rmmod ${pkg.name}: Module is in use`);
  }

  async collect(): Promise<string[]> {
    this.calls.push({ op: 'collect' });
    return [];
  }

  /** Only where the script says the guest writes its own dump (Windows): absent otherwise, as the lab's. */
  get afterCrash(): GuestSession['afterCrash'] {
    const how = this.script.afterCrash;
    if (!how) return undefined;
    return async () => {
      this.calls.push({ op: 'after-crash', arg: how });
      if (how === 'never-back') throw new InfraFailure('fake: the guest did not restart after its crash within 1 s: its dump stays on the disk');
      return [];
    };
  }

  async close(): Promise<void> {
    this.calls.push({ op: 'close' });
  }
}
