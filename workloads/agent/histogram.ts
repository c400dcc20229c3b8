// The latency recorder every step uses: an HdrHistogram in microseconds plus exact running figures
// (min, max, sum, sum of squares) from the nanosecond measurements, because at host speeds (an open is
// 2-3 µs) whole microseconds alone would blur the mean.
import { build, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import type { LatencySummary } from './protocol.ts';

/** One hour: nothing a workload step does legitimately takes longer; slower values are clamped. */
export const HIGHEST_TRACKABLE_US = 3_600_000_000;

export function newLatencyHistogram(): Histogram {
  // Plain JS (useWebAssembly false, and the bundle leaves the WASM build out): the guest's Node may
  // be any build, and a fixed range keeps recordValue free of resize work inside the timed loop.
  return build({
    bitBucketSize: 32,
    autoResize: false,
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_TRACKABLE_US,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

export class LatencyRecorder {
  readonly histogram = newLatencyHistogram();
  count = 0;
  private minNs = Infinity;
  private maxNs = 0;
  private sumNs = 0;
  private sumSqUs = 0;

  /** Records one successful iteration that took `ns` nanoseconds. */
  record(ns: number): void {
    const us = ns / 1000;
    this.histogram.recordValue(us >= HIGHEST_TRACKABLE_US ? HIGHEST_TRACKABLE_US : Math.round(us));
    this.count++;
    if (ns < this.minNs) this.minNs = ns;
    if (ns > this.maxNs) this.maxNs = ns;
    this.sumNs += ns;
    this.sumSqUs += us * us;
  }

  summary(): LatencySummary {
    if (this.count === 0) return { min: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0, stddev: 0 };
    const mean = this.sumNs / 1000 / this.count;
    const variance = Math.max(0, this.sumSqUs / this.count - mean * mean);
    const h = this.histogram;
    // A percentile is its bucket's highest equivalent value (3 significant digits), which in the top
    // bucket can pass the exact maximum by up to 0.1%: capped, so p99.9 never reads above max.
    const cap = Math.ceil(this.maxNs / 1000);
    const at = (p: number): number => Math.min(h.getValueAtPercentile(p), cap);
    return {
      min: round3(this.minNs / 1000),
      p50: at(50),
      p90: at(90),
      p99: at(99),
      p999: at(99.9),
      max: round3(this.maxNs / 1000),
      mean: round3(mean),
      stddev: round3(Math.sqrt(variance)),
    };
  }

  encoded(): string {
    return encodeIntoCompressedBase64(this.histogram);
  }
}

export const round3 = (x: number): number => Math.round(x * 1000) / 1000;
