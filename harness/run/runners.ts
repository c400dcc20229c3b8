// Which lifecycle runs a cell: every cell runs harness/cell/lifecycle.ts, with the guest personality
// of its OS family and the provider of the host it was placed on. The only per-OS knowledge here is
// which personality and which policy: the lab's latency budget below. Windows cells get the Windows
// personality (harness/guest/windows/personality.ts); a cell whose golden image is not in the store is
// unavailable at plan time (prepare.ts) and, reached anyway, an infra error saying so.
import { InfraFailure } from '../../lib/errors.ts';
import type { Cell } from '../../matrix/index.ts';
import { runCell, type CellPolicy } from '../cell/lifecycle.ts';
import type { GuestPersonality } from '../cell/personality.ts';
import { linuxPersonality } from '../guest/linux/personality.ts';
import { windowsPersonality } from '../guest/windows/personality.ts';
import { hostFromReach, type HyperVHost } from '../providers/hyperv/host.ts';
import type { HyperVProviderOptions } from '../providers/hyperv/hyperv.ts';
import { createProvider } from '../providers/index.ts';
import type { HostSpec } from './hosts.ts';
import type { CellRunner } from './types.ts';

/**
 * The lab's latency budget: what a filter's open path costs, per file. A regressed step fails its
 * cell when its p50 grew by more than 500 µs and by more than half; under TCG an open costs about
 * 100 µs, so a driver adding 2 ms per open is far over. Judged: the steps whose cost is the open path
 * (open, and read, which opens each file). Reported, not judged: steps that also wait on the page
 * cache and the ext4 journal (create, write, rename, delete), whose p50 moves by half or more
 * between runs under TCG even on a quiet host (the good build beside the partner filter once
 * measured create +643 µs, +60%, with nothing else running); and bulk steps (a listing of thousands
 * of files, parallel opens contending for one vCPU through Node's thread pool).
 */
export const LAB_LATENCY_BUDGET = {
  open: { absUs: 500, rel: 0.5 },
  read: { absUs: 500, rel: 0.5 },
};

function parseStartMode(value: string | undefined): 'auto' | 'cold' | 'warm' {
  if (value === undefined || value === '') return 'auto';
  if (value === 'auto' || value === 'cold' || value === 'warm') return value;
  throw new InfraFailure(`FLEETGATE_START must be auto, cold or warm, got '${value}'`);
}

/** The lab's policy: two runs a side, its latency budget; FLEETGATE_START=cold|warm|auto overrides warm starts. */
export function labPolicy(): CellPolicy {
  return { runs: 2, latencyBudget: LAB_LATENCY_BUDGET, start: parseStartMode(process.env.FLEETGATE_START) };
}

/**
 * Windows cells' policy. The heartbeat is one cmd.exe opening a file (windows-guest.ts
 * heartbeatCommand) every 5 s, given 15 s to answer, lost after three misses: a guest slowed down by
 * Driver Verifier still answers in that, and a hung one is found within a minute. One run a side:
 * Windows cells have no latency budget yet (a Windows budget needs Windows measurements).
 */
export function windowsPolicy(): CellPolicy {
  return { runs: 1, heartbeat: { intervalMs: 5_000, timeoutMs: 15_000, missesBeforeLost: 3 }, monitor: { hangGraceMs: 10_000, nmiPanicMs: 60_000 } };
}

/** The personality of a cell's OS family, or null when there is none yet. */
export function personalityFor(cell: Cell): GuestPersonality | null {
  switch (cell.os.family) {
    case 'lab':
      return linuxPersonality;
    case 'client':
    case 'server':
      return windowsPersonality();
  }
}

/** Is there a runner for this cell's OS? (Checked at plan time: harness/run/prepare.ts.) */
export function hasRunner(cell: Cell): boolean {
  return personalityFor(cell) !== null;
}

export function runnerFor(cell: Cell): CellRunner {
  const personality = personalityFor(cell);
  if (!personality) {
    throw new InfraFailure(`no runner for ${cell.os.release} cells`);
  }
  const policy = personality.family === 'linux' ? labPolicy() : windowsPolicy();
  return async (ctx) => {
    const options = providerOptionsFor(ctx.hostSpec);
    try {
      return await runCell(ctx, { provider: createProvider(ctx.hostSpec.provider, options), personality }, policy);
    } finally {
      // The attempt's connection to a Hyper-V host ends with it.
      await options?.host.close().catch(() => undefined);
    }
  };
}

/** What an inventory entry says about how its provider reaches the host (Hyper-V: reach, keys, folders). */
export function providerOptionsFor(spec: HostSpec): (HyperVProviderOptions & { host: HyperVHost }) | undefined {
  if (spec.provider !== 'hyperv') return undefined;
  const h = spec.hyperv ?? {};
  const options = {
    host: hostFromReach(spec.reach, { hostKey: h.hostKey, identity: h.identity, hostName: spec.name }),
    ...(h.imageRoot !== undefined ? { imageRoot: h.imageRoot } : {}),
    ...(h.vmRoot !== undefined ? { vmRoot: h.vmRoot } : {}),
    ...(h.switch !== undefined ? { switchName: h.switch } : {}),
    ...(h.guestSshPort !== undefined ? { guestSshPort: h.guestSshPort } : {}),
  };
  return options;
}
