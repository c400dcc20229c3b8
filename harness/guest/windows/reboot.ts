// The Windows reboot primitive: restart the guest and wait until it is back, proven by a changed
// LastBootUpTime (a guest that answers with the old one has not rebooted yet: its session outlived
// the restart request). Used after an install whose INF asks for a reboot and after a verifier
// profile is applied. A guest that does not come back in time is a BootFailure: the cell lifecycle
// calls this only once our driver is in.
import { setTimeout as sleep } from 'node:timers/promises';
import { BootFailure, InfraFailure } from '../../cell/failures.ts';
import type { GuestChannel } from '../channel.ts';
import { WindowsGuest, type WindowsIdentity } from './windows-guest.ts';

export interface RebootOptions {
  /** A new channel to the guest (SSH again; the old one dies with the restart). */
  reconnect: (signal: AbortSignal) => Promise<GuestChannel>;
  /** From the restart request until the guest must answer with a new boot time. */
  timeoutMs: number;
  /** Between attempts to reach the rebooted guest. @default 5000 */
  pollMs?: number;
  /** shutdown /t: the restart starts this long after the request. @default 5 */
  delaySeconds?: number;
  signal?: AbortSignal;
}

export interface Rebooted {
  channel: GuestChannel;
  identity: WindowsIdentity;
  /** From the restart request until the guest answered with its new boot time. */
  ms: number;
  previousBoot: string;
}

export async function rebootAndWait(channel: GuestChannel, o: RebootOptions): Promise<Rebooted> {
  const before = await new WindowsGuest(channel).identity();
  const previousBoot = before.lastBootUpTime;
  if (previousBoot === null) {
    throw new InfraFailure(`cannot reboot and prove it: the guest does not report its LastBootUpTime (${before.reasons.lastBootUpTime ?? 'no reason given'})`);
  }
  const delaySeconds = o.delaySeconds ?? 5;
  const t0 = performance.now();
  await new WindowsGuest(channel).runScript('restart', { delaySeconds });
  await channel.close().catch(() => undefined);
  const back = await waitForNewBoot(previousBoot, { ...o, firstWaitMs: delaySeconds * 1000 });
  if ('channel' in back) return { ...back, ms: Math.round(performance.now() - t0) };
  throw new BootFailure(`the guest did not come back within ${Math.round(o.timeoutMs / 1000)} s of its restart (booted last at ${previousBoot}; ${back.last})`);
}

/**
 * Reconnects until the guest answers with a boot time other than `previousBoot` (it restarted on its
 * own after a bugcheck, or because we asked): the new channel and identity, or, when `timeoutMs`
 * passed first, the last thing it answered. Aborted by `o.signal`, it throws.
 */
export async function waitForNewBoot(
  previousBoot: string,
  o: Pick<RebootOptions, 'reconnect' | 'timeoutMs' | 'pollMs' | 'signal'> & { firstWaitMs?: number },
): Promise<Omit<Rebooted, 'ms'> | { last: string }> {
  const deadline = AbortSignal.timeout(o.timeoutMs);
  const signal = o.signal ? AbortSignal.any([o.signal, deadline]) : deadline;
  let last = 'no answer yet';
  await sleep(o.firstWaitMs ?? 0, undefined, { signal }).catch(() => undefined);
  while (!signal.aborted) {
    let next: GuestChannel | undefined;
    try {
      next = await o.reconnect(signal);
      const id = await new WindowsGuest(next).identity();
      if (id.lastBootUpTime !== null && id.lastBootUpTime !== previousBoot) return { channel: next, identity: id, previousBoot };
      last = `the guest still reports the boot of ${id.lastBootUpTime ?? '(none)'}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await next?.close().catch(() => undefined);
    await sleep(o.pollMs ?? 5_000, undefined, { signal }).catch(() => undefined);
  }
  o.signal?.throwIfAborted();
  return { last };
}
