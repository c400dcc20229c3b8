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
import { LAB_MACHINE } from '../../images/lab/boot-args.ts';
import type { HostSpec } from './hosts.ts';
import type { CellRunner } from './types.ts';

/**
 * The lab's latency budget: what a filter may add to a step's p50 of the workload, judged for every
 * step from interleaved rounds (the cell's rounds, judged by the 95% interval of each step's p50
 * overhead against max(500 µs, half the step's baseline p50): harness/cell/latency.ts judgeRounds).
 * Under TCG an open costs about 100 µs, so a driver adding 2 ms per open is far over. Before the
 * rounds (issue #17) only open and read were judged: with all baseline runs before all driver runs,
 * create, write, rename and delete swung by half between the two sides on a quiet host; the rounds
 * put a baseline run on each side of every driver run, so a slow phase of the host cancels.
 */
export const LAB_LATENCY_BUDGET = {
  '*': { absUs: 500, rel: 0.5 },
};

/**
 * Driver rounds of a lab cell: at least 3 (B1 D1 … D3 B4, the fewest judgeRounds decides on), up to 6
 * while a step is undecided. Measured on the demo: a round (one baseline and one driver run of
 * file-storm on the isolated CPU) costs about 17 s under TCG; the good build beside the partner filter
 * left open-parallel (parallel opens queued on one CPU, p50 about 2 ms) undecided after 3.
 */
export const LAB_ROUNDS = { min: 3, max: 6 };

function parseStartMode(value: string | undefined): 'auto' | 'cold' | 'warm' {
  if (value === undefined || value === '') return 'auto';
  if (value === 'auto' || value === 'cold' || value === 'warm') return value;
  throw new InfraFailure(`FLEETGATE_START must be auto, cold or warm, got '${value}'`);
}

/**
 * The lab's policy: interleaved rounds on the image's two vCPUs (the agent pinned to the isolated
 * one), its latency budget; two runs a side if the rounds fall back to sequential.
 * FLEETGATE_START=cold|warm|auto overrides warm starts.
 */
export function labPolicy(): CellPolicy {
  return { runs: 2, rounds: LAB_ROUNDS.min, maxRounds: LAB_ROUNDS.max, cpus: LAB_MACHINE.cpus, latencyBudget: LAB_LATENCY_BUDGET, start: parseStartMode(process.env.FLEETGATE_START) };
}

/**
 * The cores an attempt of the cell holds on its host while it runs (the scheduler's coresFor): a
 * cell whose policy measures in rounds holds its VM's vCPUs, so on a 2-core host it runs alone and
 * its measurement CPU is really free; others hold one.
 */
export function coresFor(cell: Cell): number {
  const personality = personalityFor(cell);
  if (!personality) return 1;
  const policy = policyFor(personality);
  return (policy.rounds ?? 0) >= 2 ? (policy.cpus ?? 1) : 1;
}

/** The policy cells of this personality's OS run under. */
function policyFor(personality: GuestPersonality): CellPolicy {
  return personality.family === 'linux' ? labPolicy() : windowsPolicy();
}

/**
 * Windows cells' policy. The heartbeat is one cmd.exe opening a file (windows-guest.ts
 * heartbeatCommand) every 5 s, given 15 s to answer, lost after three misses: a guest slowed down by
 * Driver Verifier still answers in that, and a hung one is found within a minute. Latency is measured
 * the lab's way, in WINDOWS_ROUNDS interleaved rounds (ours out with `fltmc unload` for each baseline
 * run, back with `fltmc load` for each driver run), and reported with each step's interval; no budget
 * judges it in the cell (a Windows budget needs Windows measurements), the gate's policy does. A filter
 * that refuses to unload is measured in one sequential run a side, said in the cell.
 */
export function windowsPolicy(): CellPolicy {
  return { runs: 1, rounds: WINDOWS_ROUNDS, heartbeat: { intervalMs: 5_000, timeoutMs: 15_000, missesBeforeLost: 3 }, monitor: { hangGraceMs: 10_000, nmiPanicMs: 60_000 } };
}

/** Driver rounds of a Windows cell: the fewest an interval is computed from (no budget asks for more). */
export const WINDOWS_ROUNDS = 3;

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
  const policy = policyFor(personality);
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
