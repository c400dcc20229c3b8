// A cell's filter-stack recording, OS aside: which of the recorded filters are ours (the lifecycle's
// summary of a FilterDelays table, whichever OS recorded it: harness/guest/windows/filter-delays.ts).
import type { FilterDelays, OursFilterDelays } from '../../runfolder/results.ts';

/** Rows of the recording the cell's summary keeps (the whole table is the attempt's filter-delays-*.json). */
export const FILTER_DELAYS_TOP = 10;

const round = (x: number): number => Math.round(x * 1000) / 1000;

/** Ours among the filters (`fgfilter` matches `fgfilter`, `fgfilter.sys`, `FGFILTER.SYS`, `\\...\\fgfilter.sys`): every operation summed. */
export function oursIn(d: FilterDelays, ours: readonly string[]): OursFilterDelays | null {
  const bare = (n: string) => n.toLowerCase().replace(/^.*\\/, '').replace(/\.sys$/, '');
  const names = new Set(ours.map(bare));
  const rows = d.delays.filter((r) => names.has(bare(r.filter)));
  if (!rows.length) return null;
  const count = rows.reduce((s, r) => s + r.count, 0);
  const totalUs = round(rows.reduce((s, r) => s + r.totalUs, 0));
  const p99 = rows.map((r) => r.p99Us).filter((x): x is number => x !== undefined);
  return { filter: rows[0]!.filter, count, totalUs, meanUs: round(count ? totalUs / count : 0), ...(p99.length === rows.length ? { worstP99Us: Math.max(...p99) } : {}) };
}
