// Named limits with one slowdown factor for slow targets (syzkaller's targets.Timeouts.Scale): TCG
// emulates every instruction, so everything that waits on the guest waits longer by the same factor.
import type { Accel, ProviderTimeouts } from './types.ts';

export const SLOWDOWN: Record<Accel, number> = { kvm: 1, tcg: 3 };

export function resolveTimeouts(
  defaults: ProviderTimeouts,
  overrides: Partial<ProviderTimeouts> | undefined,
  slowdown: number,
): ProviderTimeouts {
  const merged = { ...defaults, ...overrides };
  for (const [name, value] of Object.entries(merged)) {
    if (!Number.isFinite(value) || value <= 0) {
      throw new TypeError(`Expected timeouts.${name} to be a finite number of milliseconds > 0, got ${String(value)}`);
    }
  }
  return {
    boot: merged.boot * slowdown,
    command: merged.command * slowdown,
    stop: merged.stop * slowdown,
    dump: merged.dump * slowdown,
  };
}

/** A deadline error that says what was awaited and for how long. */
export class TimeoutError extends Error {
  readonly timeoutMs: number;
  constructor(what: string, timeoutMs: number) {
    super(`${what}: no answer within ${timeoutMs} ms`);
    this.name = 'TimeoutError';
    this.timeoutMs = timeoutMs;
  }
}
