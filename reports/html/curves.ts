// The dashboard's latency pictures (issue #17), from what a cell measured in rounds: per step, every
// run's percentile curve (the way HdrHistogram's plots draw one: latency against percentile on a
// scale that spreads the tail, 90%, 99%, 99.9%...), baseline runs and driver runs each visible by
// round, and the per-round p50 overheads with their 95% interval against the limit the cell judged.
// The curves come from rounds.json's histograms, sampled at CURVE_PERCENTILES; the overheads from the
// cell's latency figures (summary.json). Bounded: a rounds.json over ROUNDS_FILE_MAX_BYTES is not
// read, and only the first CURVE_MAX_CELLS cells with rounds get curves (the page says so).
import { readFileSync, statSync } from 'node:fs';
import { decodeFromCompressedBase64 } from 'hdr-histogram-js';
import type { OperationLatency } from '../../runfolder/results.ts';
import { findEvidence, type ReportCell, type RunFolder } from '../run-folder.ts';

/** Where each curve is sampled (percent); 100 is the maximum. */
export const CURVE_PERCENTILES = [0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100] as const;
/** A rounds.json larger than this is not read for pictures (a real one is tens of KB per round). */
export const ROUNDS_FILE_MAX_BYTES = 16 * 1024 * 1024;
/** Cells whose curves are embedded in the page; the rest show their overheads only. */
export const CURVE_MAX_CELLS = 500;

/** One run's curve: side (b: ours out, d: ours in), its round, latency µs at each CURVE_PERCENTILES. */
export type CurveRun = [side: 'b' | 'd', round: number, us: number[]];

export interface StepPicture {
  /** The step's key as the cell's latency has it (`workload/step` with several workloads). */
  step: string;
  runs: CurveRun[];
  /** Per-round p50 overheads, their median and 95% interval (absent: no rounds recorded). */
  overheads: { us: number[]; median: number; ci: [number, number] } | null;
  judged: { limitUs: number; outcome: string } | null;
}

export interface CellPictures {
  steps: StepPicture[];
  /** Why there are no curves (no rounds.json, too large, over CURVE_MAX_CELLS); null when they are there. */
  curvesMissing: string | null;
}

interface RoundsFile {
  order?: Array<{ side?: unknown; round?: unknown; workload?: unknown; result?: { steps?: Array<{ name?: unknown; count?: unknown; histogram?: unknown }> } }>;
}

/** Curves per latency key from a rounds.json, or why there are none. */
function readCurves(file: string, multiWorkload: boolean): Map<string, CurveRun[]> | string {
  const bytes = statSync(file).size;
  if (bytes > ROUNDS_FILE_MAX_BYTES) return `rounds.json is ${bytes} bytes, over ROUNDS_FILE_MAX_BYTES (${ROUNDS_FILE_MAX_BYTES})`;
  let doc: RoundsFile;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8')) as RoundsFile;
  } catch (e) {
    return `rounds.json does not parse: ${(e as Error).message}`;
  }
  const out = new Map<string, CurveRun[]>();
  for (const r of Array.isArray(doc.order) ? doc.order : []) {
    const side = r.side === 'baseline' ? 'b' : r.side === 'driver' ? 'd' : null;
    if (!side || typeof r.round !== 'number' || typeof r.workload !== 'string') continue;
    for (const s of Array.isArray(r.result?.steps) ? r.result.steps : []) {
      if (typeof s.name !== 'string' || typeof s.histogram !== 'string' || s.count === 0) continue;
      let us: number[];
      try {
        const h = decodeFromCompressedBase64(s.histogram);
        us = CURVE_PERCENTILES.map((p) => (p === 100 ? h.maxValue : h.getValueAtPercentile(p)));
      } catch {
        continue;
      }
      const key = multiWorkload ? `${r.workload}/${s.name}` : s.name;
      out.set(key, [...(out.get(key) ?? []), [side, r.round, us]]);
    }
  }
  return out;
}

function overheadsOf(l: OperationLatency): StepPicture['overheads'] {
  const p50 = l.rounds?.p50;
  if (!p50) return null;
  return { us: p50.overheadsUs, median: p50.overheadUs, ci: p50.ciUs };
}

/** The pictures of one cell; `withCurves` false: overheads only (the page's curve budget is spent). */
export function cellPictures(folder: RunFolder, c: ReportCell, withCurves: boolean): CellPictures | null {
  const lat = c.latency ?? {};
  const keys = Object.keys(lat);
  if (!keys.some((k) => lat[k]!.rounds)) return null;
  const file = findEvidence(folder, c, 'rounds.json');
  let curves: Map<string, CurveRun[]> | string;
  if (!withCurves) curves = `curves are embedded for the first ${CURVE_MAX_CELLS} cells measured in rounds (CURVE_MAX_CELLS)`;
  else if (!file) curves = 'no rounds.json among the evidence';
  else curves = readCurves(file, c.coords.workloads.length > 1);
  return {
    steps: keys.map((k) => {
      const l = lat[k]!;
      return {
        step: k,
        runs: typeof curves === 'string' ? [] : (curves.get(k) ?? []),
        overheads: overheadsOf(l),
        judged: l.judged ? { limitUs: l.judged.limitUs, outcome: l.judged.outcome } : null,
      };
    }),
    curvesMissing: typeof curves === 'string' ? curves : null,
  };
}
