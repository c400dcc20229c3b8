// Seeded random numbers for the comparison's bootstrap (and for tests that build synthetic
// histograms): the same seed gives the same confidence intervals, so a verdict can be reproduced.

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  normal(): number;
  /** Gamma(shape, 1), shape >= 1 (Marsaglia & Tsang 2000). */
  gamma(shape: number): number;
  /** Beta(a, b), a, b >= 1. */
  beta(a: number, b: number): number;
}

/** FNV-1a over a string, to derive a seed per (operation, percentile) from the caller's seed: each
 * comparison's numbers then do not depend on which other operations are in the run. */
export function hashSeed(seed: number, ...parts: Array<string | number>): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (const ch of parts.join('\u0000')) {
    h ^= ch.codePointAt(0)!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** mulberry32: small, fast, and plenty for resampling indices and quantiles. */
export function seededRng(seed: number): Rng {
  // Mix the seed first: mulberry32 streams from adjacent raw seeds (1, 2, 3...) start out alike.
  let s = Math.imul((seed ^ (seed >>> 16) ^ 0x9e3779b9) >>> 0, 0x85ebca6b) >>> 0;
  s = (s ^ (s >>> 13)) >>> 0;
  let spare: number | null = null;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = (): number => {
    if (spare !== null) {
      const v = spare;
      spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = next();
    const r = Math.sqrt(-2 * Math.log(u));
    const th = 2 * Math.PI * next();
    spare = r * Math.sin(th);
    return r * Math.cos(th);
  };
  const gamma = (shape: number): number => {
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = next();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    normal,
    gamma,
    beta: (a, b) => {
      const x = gamma(a);
      return x / (x + gamma(b));
    },
  };
}
