// The Linux personality (harness/cell/personality.ts): the lab guest as the cell lifecycle sees it.
// Its image is the Debian lab image, its driver packages are lab modules (driver/lab, built for the
// image's kernel on the host), its channel is SSH, its crashes are read from the serial console and
// dumped from the host (QEMU's dump-guest-memory). Coexisting filters are the lab filter's own source
// built under each filter's name: the lab's stand-ins for a partner's driver.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildLabImage } from '../../../images/lab/build.ts';
import { buildLabDriver, LabDriverRejected, type LabDriver } from '../../../driver/lab/build.ts';
import { readLabPackage, type LabPackage } from '../../../driver/lab/package.ts';
import { bundleAgent } from '../../../workloads/agent/bundle.ts';
import type { Cell } from '../../../matrix/index.ts';
import type { Step } from '../../../runfolder/results.ts';
import { bucketLinuxReport } from '../../crash/bucket.ts';
import { parseLinuxConsole } from '../../crash/linux.ts';
import { InfraFailure, PackageRefused } from '../../cell/failures.ts';
import type { CrashStrategy, GuestPersonality, GuestSession, HostPackage, PreparedCell, StagedPackage } from '../../cell/personality.ts';
import type { VmInstance, VmStartInfo } from '../../providers/types.ts';
import { connectSsh, fromManifest } from '../ssh/client.ts';
import type { GuestChannel } from '../channel.ts';
import { setGuestClock } from './clock.ts';
import { DriverLoadRefused, LabGuest, type LabTrigger } from './lab-guest.ts';

/** Per-step limits under TCG (the slowest case); named, never scattered. */
export const LINUX_TIMEOUTS: Readonly<Record<Step, number>> = {
  acquire: 360_000,
  identity: 60_000,
  baseline: 15 * 60_000,
  install: 120_000,
  verifier: 60_000,
  workload: 15 * 60_000,
  unload: 60_000,
  collect: 60_000,
  triage: 60_000,
  verdict: 60_000,
  release: 60_000,
};

/** Driver parameters that fire a knob rather than configure the module: applied when the workload starts. */
const TRIGGER_PARAM = 'trigger';

export const LINUX_CRASH: CrashStrategy = {
  parseConsole: parseLinuxConsole,
  hostDumpFile: 'memory.kdump',
  bucket: bucketLinuxReport,
};

export function isLabCell(cell: Cell): boolean {
  return cell.os.family === 'lab';
}

/**
 * The lab modules a cell loads, in load order: its coexisting filters (the lab filter's own source
 * built under each filter's name), then ours, from the driver build's package.
 */
export function labBuildsOf(cell: Cell, pkg: LabPackage = readLabPackage(cell.driverBuild.path)): Array<{ name: string; source?: string }> {
  return [...cell.coexist.map((name) => ({ name })), { name: pkg.module, source: pkg.source }];
}

export const linuxPersonality: GuestPersonality = {
  family: 'linux',
  timeouts: LINUX_TIMEOUTS,
  crash: LINUX_CRASH,

  async prepare(cell: Cell): Promise<PreparedCell> {
    // Not silently a fresh install: the lab module has no in-place upgrade (rmmod and insmod is not one).
    if (cell.driverBuild.upgradeFrom) throw new InfraFailure(`${cell.id}: upgrade-from ${cell.driverBuild.upgradeFrom.name} is not run on lab cells: the lab module has no in-place upgrade`);
    // The matrix's driver build is what gets installed: its package names the module and its source.
    const pkg = readLabPackage(cell.driverBuild.path);
    // Built once per host before the run (harness/run/prepare.ts); here they come from the cache.
    const img = await buildLabImage();
    const kernelRelease = img.manifest.os.build;
    const builds = labBuildsOf(cell, pkg);
    const packages: HostPackage[] = [];
    for (const [i, b] of builds.entries()) {
      const role = i === builds.length - 1 ? 'ours' : 'coexist';
      let built: LabDriver;
      try {
        built = await buildLabDriver({ ...b, kernelRelease });
      } catch (err) {
        if (!(err instanceof LabDriverRejected)) throw err;
        const message = role === 'ours'
          ? `${err.module}.ko does not build for ${err.kernelRelease} (see build.log)`
          : `coexisting filter ${err.module}.ko does not build for ${err.kernelRelease}: not our driver`;
        throw new PackageRefused(role, err.module, message, { file: 'build.log', text: `${err.message}\n` }, { cause: err });
      }
      packages.push({ role, name: built.name, package: role === 'ours' ? pkg.dir : cell.coexist[i]!, path: built.path });
    }
    const { [TRIGGER_PARAM]: trigger, ...params } = cell.driverBuild.params;
    return { image: img, packages, params, ...(trigger !== undefined ? { trigger: String(trigger) } : {}), ours: [pkg.module] };
  },

  async connect(vm: VmInstance, prepared: PreparedCell, signal: AbortSignal): Promise<GuestSession> {
    const channel = await connectSsh({ ...fromManifest(prepared.image.dir, prepared.image.manifest, vm.ssh), signal });
    return new LinuxSession(channel);
  },
};

class LinuxSession implements GuestSession {
  private readonly guest: LabGuest;
  /** Modules rmmod'ed between latency rounds and not put back. */
  private readonly takenOut = new Set<string>();
  constructor(readonly channel: GuestChannel) {
    this.guest = new LabGuest(channel);
  }

  async settle(start: VmStartInfo, signal: AbortSignal): Promise<string[]> {
    if (start.kind !== 'warm') return [];
    // A restored guest's clock is the one it had when the state was saved.
    const clock = await setGuestClock(this.channel, { signal });
    return [`warm start in ${start.ms} ms; guest clock was ${(clock.staleMs / 1000).toFixed(1)} s behind, set to within ${Math.round(Math.abs(clock.offsetMs))} ms of the host`];
  }

  async identity(): Promise<{ build: string }> {
    return { build: (await this.guest.identity()).kernel };
  }

  async runWorkload(spec: Parameters<GuestSession['runWorkload']>[0], o: { timeoutMs: number; signal: AbortSignal }) {
    const agent = await bundleAgent();
    return this.guest.runWorkload(agent.path, spec, o);
  }

  async stage(pkg: HostPackage): Promise<StagedPackage> {
    const staged = await this.guest.uploadDriver(pkg.path);
    if (staged.name !== pkg.name) throw new InfraFailure(`lab module ${pkg.path} is named ${staged.name}, expected ${pkg.name}`);
    return { ...pkg, remote: staged.remote, sha256: staged.sha256 };
  }

  async install(pkg: StagedPackage, params: Record<string, string | number>): Promise<void> {
    try {
      await this.guest.loadDriver({ name: pkg.name, remote: pkg.remote, sha256: pkg.sha256 }, params);
    } catch (err) {
      if (!(err instanceof DriverLoadRefused)) throw err;
      throw new PackageRefused(pkg.role, pkg.name, err.message, { file: 'install.txt', text: `insmod: ${err.insmod}\n\ndmesg:\n${err.dmesg}\n` }, { cause: err });
    }
  }

  // Lab guests have no Driver Verifier; a profile other than none is recorded, not applied.
  async applyVerifier(profile: string): Promise<{ applied: boolean; note?: string }> {
    return { applied: false, note: `verifier profile ${profile} has no lab equivalent; not applied` };
  }

  async fire(pkg: StagedPackage, knob: string): Promise<void> {
    await this.guest.trigger(pkg.name, knob as LabTrigger);
  }

  /** rmmod between latency rounds; a module that will not go (in use) is said, not thrown. */
  async takeOut(pkg: StagedPackage): Promise<{ out: true } | { out: false; why: string }> {
    try {
      await this.guest.unloadDriver(pkg.name);
    } catch (err) {
      // Still loaded: the module refused (in use, no exit function). The channel failing is thrown on.
      if (!(await this.guest.isLoaded(pkg.name))) throw err;
      return { out: false, why: err instanceof Error ? err.message : String(err) };
    }
    this.takenOut.add(pkg.name);
    return { out: true };
  }

  async putBack(pkg: StagedPackage, params: Record<string, string | number>): Promise<void> {
    await this.install(pkg, params);
    this.takenOut.delete(pkg.name);
  }

  async unload(pkg: StagedPackage): Promise<void> {
    // Taken out after the last round: there is nothing loaded to unload (a lab module installs nothing).
    if (this.takenOut.delete(pkg.name)) return;
    await this.guest.unloadDriver(pkg.name);
  }

  async collect(dir: string): Promise<string[]> {
    const file = join(dir, 'dmesg.txt');
    await writeFile(file, await this.guest.kernelLog());
    return [file];
  }

  async close(): Promise<void> {
    await this.channel.close();
  }
}
