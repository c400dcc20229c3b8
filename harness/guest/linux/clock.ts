// A guest restored from a warm state wakes up with the clock it had when the state was saved (minutes
// or days ago): set it from the host before anything in the cell looks at the time. busybox `date -s
// @<seconds>` only takes whole seconds, so the command is sent so that it lands on a second boundary
// (half a round trip early), then the result is checked against the host.
import { setTimeout as sleep } from 'node:timers/promises';
import { InfraFailure } from '../../../lib/errors.ts';
import type { GuestChannel } from '../channel.ts';

export interface ClockSetResult {
  /** Guest minus host before the set (ms): how stale the restored clock was. */
  readonly staleMs: number;
  /** Guest minus host after the set (ms), measured at the middle of the check's round trip. */
  readonly offsetMs: number;
  /** Half the check's round trip: the measurement's own uncertainty. */
  readonly uncertaintyMs: number;
}

export const CLOCK_TOLERANCE_MS = 2_000;

/** Guest time (ms) minus host time, from `date +%s%N`-like output read over one round trip. */
export async function guestClockOffset(channel: GuestChannel, timeoutMs = 20_000): Promise<{ offsetMs: number; uncertaintyMs: number }> {
  // busybox date has no %N here: /proc/uptime is not wall time either. `adjtimex` prints the kernel's
  // wall clock with microseconds (time.tv_sec / tv_usec); fall back to whole seconds.
  const t0 = Date.now();
  const r = await channel.exec(`adjtimex 2>/dev/null | sed -n 's/^ *time\\.tv_\\(sec\\|usec\\): *//p' | tr '\\n' ' '; echo; date +%s`, { timeoutMs });
  const t1 = Date.now();
  if (r.exitCode !== 0) throw new InfraFailure(`reading the guest clock failed (exit ${r.exitCode ?? r.signal ?? '?'}): ${r.stderr.trim().slice(-300)}`);
  const [precise = '', whole = ''] = r.stdout.split('\n').map((l) => l.trim());
  const [sec, usec] = precise.split(/\s+/).map(Number);
  let guestMs: number;
  let resolutionMs = 0;
  if (sec !== undefined && usec !== undefined && Number.isFinite(sec) && Number.isFinite(usec) && sec > 0) {
    guestMs = sec * 1000 + usec / 1000;
  } else if (/^\d+$/.test(whole)) {
    guestMs = Number(whole) * 1000 + 500;
    resolutionMs = 500;
  } else {
    throw new InfraFailure(`guest clock output not understood: ${JSON.stringify(r.stdout.slice(0, 200))}`);
  }
  const mid = (t0 + t1) / 2;
  return { offsetMs: guestMs - mid, uncertaintyMs: (t1 - t0) / 2 + resolutionMs };
}

/** Sets the guest's wall clock from the host's and checks it is within CLOCK_TOLERANCE_MS. */
export async function setGuestClock(channel: GuestChannel, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<ClockSetResult> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const before = await guestClockOffset(channel, timeoutMs);
  // The one-way delay of a command: half of the round trip just measured (an upper bound, since that
  // trip also ran the command).
  const oneWay = Math.min(before.uncertaintyMs, 1_000);
  let after = before;
  for (let attempt = 1; attempt <= 3; attempt++) {
    options.signal?.throwIfAborted();
    const target = Math.ceil((Date.now() + oneWay + 100) / 1000);
    const wait = target * 1000 - oneWay - Date.now();
    if (wait > 0) await sleep(wait, undefined, options.signal ? { signal: options.signal } : {});
    const r = await channel.exec(`date -u -s @${target} >/dev/null`, { timeoutMs });
    if (r.exitCode !== 0) throw new InfraFailure(`setting the guest clock failed (exit ${r.exitCode ?? r.signal ?? '?'}): ${r.stderr.trim().slice(-300)}`);
    after = await guestClockOffset(channel, timeoutMs);
    if (Math.abs(after.offsetMs) <= CLOCK_TOLERANCE_MS) return { staleMs: before.offsetMs, offsetMs: after.offsetMs, uncertaintyMs: after.uncertaintyMs };
  }
  throw new InfraFailure(`the guest clock is ${Math.round(after.offsetMs)} ms off the host's after setting it (tolerance ${CLOCK_TOLERANCE_MS} ms)`);
}
