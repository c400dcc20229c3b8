// Delays between connect attempts while a guest boots: exponential, capped, with a little jitter
// so that many cells started together do not knock on their guests in lockstep.

export interface BackoffOptions {
  /** First delay. @default 250 */
  initialDelayMs?: number;
  /** Growth per attempt. @default 2 */
  factor?: number;
  /** Longest single delay. @default 5000 */
  maxDelayMs?: number;
  /** Fraction of each delay randomised away (0 = none). @default 0.2 */
  jitter?: number;
}

/** Delay after failed attempt number `attempt` (1-based). `random` is injectable for tests. */
export function backoffDelayMs(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const initial = options.initialDelayMs ?? 250;
  const factor = options.factor ?? 2;
  const max = options.maxDelayMs ?? 5000;
  const jitter = options.jitter ?? 0.2;
  const base = Math.min(max, initial * factor ** Math.max(0, attempt - 1));
  return Math.round(base * (1 - jitter * random()));
}
