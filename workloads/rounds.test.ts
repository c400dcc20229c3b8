// The round statistics (issue #17) on seeded synthetic runs: drift cancels where the unpaired
// comparison is fooled, a disturbed round is outvoted, the interval covers what it claims at small k,
// detectable shrinks with k, the judgement's edges, and bad input.
import t from 'tap';
import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import { InputError } from '../lib/errors.ts';
import { compareResults } from './compare.ts';
import { detectable, judgeStat, mad, median, pairedRoundStat, roundStat, tQuantile } from './rounds.ts';
import { seededRng } from './random.ts';
import { interleavedRuns, syntheticResult } from './test-helpers/synthetic-runs.ts';

const FAST = { iterations: 600, label: 'open' };

t.test('a linear host drift cancels in rounds; the same host in B..B D..D order fools the unpaired comparison', async (t) => {
  // The host slows by 30 µs every run (a CI box getting busier); the driver adds nothing.
  const host = { rounds: 5, overheadUs: 0, driftUsPerRun: 30, spreadUs: 15, samples: 2000 };
  const inter = interleavedRuns({ seed: 11, ...host });
  t.same(inter.order.join(''), 'BDBDBDBDBDB');
  const s = roundStat(inter.baseline, inter.driver, 50, FAST);
  t.ok(Math.abs(s.overheadUs) <= 2, `overhead ${s.overheadUs} µs ≈ 0`);
  t.ok(s.ciUs[0] <= 0 && 0 <= s.ciUs[1], `0 in ${s.ciUs}`);
  t.equal(judgeStat(s, 20), 'within');
  t.equal(s.baselineUs.length, 6);
  t.equal(s.driverUs.length, 5);
  t.ok(s.driverUs[4]! - s.driverUs[0]! > 200, 'the drift is really there: D5 is 240 µs slower than D1');

  const seq = interleavedRuns({ seed: 11, ...host, sequential: true });
  t.same(seq.order.join(''), 'BBBBBBDDDDD');
  const res = (hs: typeof seq.baseline) => hs.map((h) => syntheticResult('file-storm', { open: h }));
  const cmp = compareResults(res(seq.baseline), res(seq.driver), { percentiles: [50], iterations: 600 });
  const p50 = cmp.steps[0]!.percentiles[0]!;
  t.equal(p50.classification, 'regressed', `the unpaired comparison calls the drift a regression: ${p50.reason}`);
  t.ok(p50.overheadUs > 150, `it reads ${p50.overheadUs} µs of overhead that is only drift`);
});

t.test('a known overhead is found, and its interval holds it', async (t) => {
  const r = interleavedRuns({ seed: 12, rounds: 4, overheadUs: 200, runSdUs: 10, spreadUs: 30 });
  const s = roundStat(r.baseline, r.driver, 50, FAST);
  t.ok(Math.abs(s.overheadUs - 200) < 20, `overhead ${s.overheadUs}`);
  t.ok(s.ciUs[0] <= 200 && 200 <= s.ciUs[1], `200 in ${s.ciUs}`);
  t.ok(s.ciUs[0] <= s.bootstrapCiUs[0] && s.ciUs[0] <= s.tCiUs[0] && s.ciUs[1] >= s.bootstrapCiUs[1] && s.ciUs[1] >= s.tCiUs[1], 'the interval is the union');
  t.equal(judgeStat(s, 100), 'over');
  t.same(roundStat(r.baseline, r.driver, 50, FAST), s, 'deterministic for a seed');
  const other = roundStat(r.baseline, r.driver, 50, { ...FAST, seed: 2 });
  t.same(other.overheadsUs, s.overheadsUs, 'the point figures do not depend on the seed');
  // The same figures as rounds with baselines of their own (calibration's shape: copies, not shared
  // runs): the t-interval loses the widening for shared neighbours, √((2k − ½)/(1.5k − ½)) at k = 4.
  const copy = (h: Histogram) => decodeFromCompressedBase64(encodeIntoCompressedBase64(h));
  const own = pairedRoundStat(r.baseline.slice(0, -1), r.driver, r.baseline.slice(1).map(copy), 50, FAST);
  t.same(own.overheadsUs, s.overheadsUs);
  const ratio = (s.tCiUs[1] - s.tCiUs[0]) / (own.tCiUs[1] - own.tCiUs[0]);
  t.ok(Math.abs(ratio - Math.sqrt(7.5 / 5.5)) < 0.01, `shared/own t-interval width ${ratio.toFixed(3)}`);
});

t.test('one disturbed round barely moves the median', async (t) => {
  const host = { seed: 13, rounds: 5, overheadUs: 100, runSdUs: 8, spreadUs: 20 };
  const calm = roundStat(interleavedRuns(host).baseline, interleavedRuns(host).driver, 50, FAST);
  // D3 (position 5 in time order) hit by 2 ms of something else on the host.
  const hit = interleavedRuns({ ...host, disturb: { 5: 2000 } });
  const s = roundStat(hit.baseline, hit.driver, 50, FAST);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  t.ok(mean(s.overheadsUs) - mean(calm.overheadsUs) > 300, 'a mean would move by 400 µs');
  t.ok(Math.abs(s.overheadUs - calm.overheadUs) <= 15, `the median moves ${calm.overheadUs} → ${s.overheadUs}`);
});

t.test('coverage: the 95% interval holds the true overhead in ≥ 93% of 600 simulated cells at k = 3, 4, 5', async (t) => {
  // demo1's p50 open moves by 40-90 µs between runs: a per-run offset sd of 30 µs, a drift of 8 µs a
  // run, 60 µs of within-run spread on a 150 µs open, and a true overhead of 50 µs.
  const cells = 600;
  const truth = 50;
  for (const k of [3, 4, 5]) {
    let union = 0;
    let boot = 0;
    for (let c = 0; c < cells; c++) {
      const r = interleavedRuns({ seed: 90_000 + 1000 * k + c, rounds: k, samples: 400, baseUs: 150, overheadUs: truth, spreadUs: 60, runSdUs: 30, driftUsPerRun: 8 });
      const s = roundStat(r.baseline, r.driver, 50, { iterations: 400, label: 'open', seed: c });
      if (s.ciUs[0] <= truth && truth <= s.ciUs[1]) union++;
      if (s.bootstrapCiUs[0] <= truth && truth <= s.bootstrapCiUs[1]) boot++;
    }
    t.comment(`k=${k}: union ${((100 * union) / cells).toFixed(1)}%, bootstrap alone ${((100 * boot) / cells).toFixed(1)}%`);
    t.ok(union / cells >= 0.93, `k=${k}: the union covers ${union}/${cells}`);
    if (k === 3) t.ok(boot / cells < 0.9, `k=3: the bootstrap alone under-covers (${boot}/${cells}), which is why the union exists`);
  }
});

t.test('detectable: the formula, and it shrinks like 1/√k', async (t) => {
  // sd 10, 1.4826·MAD 14.8: s = 14.83; (4.303 + 1.061)·14.826/√3
  t.equal(detectable([-10, 0, 10]), Math.round((5.364 * 14.826) / Math.sqrt(3) * 100) / 100);
  // One outlier does not hide behind the MAD: sd wins.
  t.ok(detectable([0, 0, 0, 0, 100]) > detectable([0, 0, 0, 0, 1]) * 10);
  t.throws(() => detectable([5]), /at least 2/);
  const rng = seededRng(7);
  const avg = (k: number) => {
    let sum = 0;
    for (let c = 0; c < 300; c++) sum += detectable(Array.from({ length: k }, () => 50 + 20 * rng.normal()));
    return sum / 300;
  };
  const d = [3, 4, 5, 8, 16].map(avg);
  for (let i = 1; i < d.length; i++) t.ok(d[i]! < d[i - 1]!, `k step ${i}: ${d[i - 1]!.toFixed(1)} → ${d[i]!.toFixed(1)} µs`);
  t.ok(d[1]! / d[4]! > 2.3 && d[1]! / d[4]! < 3.3, `k 4 → 16 divides it by ${(d[1]! / d[4]!).toFixed(2)} (2 from √k, the rest from t)`);
  // On real rounds: more rounds of the same host, a smaller detectable.
  const host = { seed: 21, overheadUs: 40, runSdUs: 25, spreadUs: 40 };
  const at = (k: number) => roundStat(interleavedRuns({ ...host, rounds: k }).baseline, interleavedRuns({ ...host, rounds: k }).driver, 50, FAST).detectableUs;
  t.ok(at(12) < at(3), `k 3 → 12: ${at(3)} → ${at(12)} µs`);
});

t.test('judgeStat: over only when the whole interval is above, within when all of it is at or below', async (t) => {
  const s = { ciUs: [10, 20] as [number, number] };
  t.equal(judgeStat(s, 9.99), 'over');
  t.equal(judgeStat(s, 10), 'undecided', 'low equal to the limit is not over');
  t.equal(judgeStat(s, 19.99), 'undecided');
  t.equal(judgeStat(s, 20), 'within', 'high equal to the limit is within');
  t.equal(judgeStat({ ciUs: [-30, -5] }, 0), 'within');
  t.throws(() => judgeStat(s, Number.NaN), /not a number/);
});

t.test('tQuantile matches a numeric integration of the t density', async (t) => {
  // ln Γ by Lanczos (g = 7), enough for a check to 1e-6.
  const C = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  const lgamma = (z: number): number => {
    z -= 1;
    let x = C[0]!;
    for (let i = 1; i < 9; i++) x += C[i]! / (z + i);
    const tt = z + 7.5;
    return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(tt) - tt + Math.log(x);
  };
  const cdf = (x: number, v: number): number => {
    const c = Math.exp(lgamma((v + 1) / 2) - lgamma(v / 2)) / Math.sqrt(v * Math.PI);
    const f = (u: number) => c * (1 + (u * u) / v) ** (-(v + 1) / 2);
    const n = 4000;
    const h = x / n;
    let s = f(0) + f(x);
    for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * f(i * h);
    return 0.5 + (s * h) / 3;
  };
  for (const q of [0.8, 0.95, 0.975]) {
    for (let df = 1; df <= 30; df++) {
      const err = Math.abs(cdf(tQuantile(df, q), df) - q);
      if (err > 3e-4) t.fail(`t(${df}, ${q}) = ${tQuantile(df, q)} is off by ${err}`);
    }
  }
  t.equal(tQuantile(31, 0.975), 1.96, 'the normal beyond the table');
  t.throws(() => tQuantile(3, 0.9), /not in the table/);
  t.throws(() => tQuantile(0, 0.975), /df 0/);
  t.equal(median([3, 1, 2]), 2);
  t.equal(mad([1, 2, 3, 4, 100]), 1);
});

t.test('bad input is a clear error', async (t) => {
  const r = interleavedRuns({ seed: 5, rounds: 3 });
  const err = (fn: () => unknown, re: RegExp) => {
    try {
      fn();
      t.fail(`expected ${re}`);
    } catch (e) {
      t.ok(e instanceof InputError, `an InputError: ${String(e)}`);
      t.match((e as Error).message, re);
    }
  };
  err(() => roundStat(r.baseline.slice(0, 3), r.driver, 50, { label: 'open', file: 'rounds.json' }), /^rounds\.json: step open p50: 3 baseline runs for 3 driver runs; expected driver runs \+ 1/);
  err(() => roundStat(r.baseline, r.driver.slice(0, 2), 99), /4 baseline runs for 2 driver runs/);
  err(() => roundStat(r.baseline.slice(0, 2), r.driver.slice(0, 1), 50), /1 driver round\(s\); expected at least 2/);
  const empty = build();
  err(() => roundStat([r.baseline[0]!, empty, r.baseline[2]!, r.baseline[3]!], r.driver, 50, { label: 'read' }), /step read p50: run B2 recorded nothing/);
  err(() => roundStat(r.baseline, [r.driver[0]!, r.driver[1]!, empty], 50), /p50: run D3 recorded nothing/);
  // Unshared rounds (calibration's) name the run by its round.
  err(() => pairedRoundStat(r.baseline.slice(0, 3), r.driver, [r.baseline[1]!, empty, r.baseline[3]!], 50), /the run after driver round 2 recorded nothing/);
  err(() => pairedRoundStat(r.baseline.slice(0, 2), r.driver, r.baseline.slice(1), 50), /2 runs before, 3 driver runs and 3 after/);
});
