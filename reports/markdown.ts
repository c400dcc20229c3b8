// A run summary for a pull-request comment: counts per verdict, failures first with their bucket,
// and the latency regressions. Guest text is escaped: GitHub renders inline HTML and Markdown in
// comments, so a crash title must not be able to add a link, an image or a table column; control
// characters (ESC, BEL, NUL, CSI) are escaped visibly as \x1b... (lib/printable.ts, issue #16 row 8).
import { writeFileSync } from 'node:fs';
import { cellDetectableP50, cellTitle, countVerdicts, crashBuckets, detectableText, failuresFirst, fmtSignedUs, fmtUs, latencyRegressions, verdictClass, type CellDetectable, type LatencyRegression } from './base.ts';
import type { RunFolder } from './run-folder.ts';
import { escapeControls } from '../lib/printable.ts';

const ICON: Record<string, string> = { passed: '✅', failed: '❌', broken: '⚠️', skipped: '⏭️' };

/** Escapes text for a Markdown table cell or line: HTML, emphasis, links, code and pipes. */
export function mdText(s: string): string {
  return escapeControls(s.replace(/[\r\n\t]+/g, ' '))
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/([\\`*_{}[\]()#+!|~])/g, '\\$1');
}

/** Text for a `code span`: no backtick to close it early, controls escaped. */
function mdCode(s: string): string {
  return `\`${escapeControls(s.replace(/`/g, ''))}\``;
}

export interface MarkdownOptions {
  /** Most failures listed one by one; the rest are counted (a PR comment has a size limit). */
  maxFailures?: number;
  maxRegressions?: number;
  /** Most cells listed with their detectable overhead (pass cells first). */
  maxDetectable?: number;
}

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

/** The detectable column: the figure, or that there is none (never a figure the run did not give). */
function detectableCell(d: CellDetectable | null): string {
  if (!d) return 'no 95% interval recorded: no detectable figure';
  return `${mdText(detectableText(d))}${d.missing.length ? ` (no interval for ${mdText(d.missing.join(', '))})` : ''}`;
}

export function renderMarkdown(folder: RunFolder, opts: MarkdownOptions = {}): string {
  const maxFailures = opts.maxFailures ?? 50;
  const maxRegs = opts.maxRegressions ?? 30;
  const maxDet = opts.maxDetectable ?? 50;
  const out: string[] = [];
  const failed = folder.cells.filter((c) => c.verdict !== 'pass' && c.verdict !== 'skipped');
  const headline = folder.cells.some((c) => verdictClass(c.verdict === 'unfinished' ? 'infra-error' : c.verdict) === 'failed') ? '❌ failed' : failed.length ? '⚠️ inconclusive' : '✅ passed';
  out.push(`## fleetgate: ${mdText(folder.matrixName)} ${headline}`, '');
  out.push(`Run ${mdCode(folder.runId)} · ${folder.cells.length} cells · started ${mdText(folder.started ?? 'unknown')} · outcome ${mdText(folder.outcome)}`, '');

  // A journal with two verdicts for one cell (issue #16 row 11): the first decided; both are said.
  const conflicts = folder.conflictingCellEnds;
  for (const c of conflicts.slice(0, maxFailures)) {
    out.push(`⚠️ journal: conflicting cell-end records for cell ${mdCode(c.cell)}: kept ${mdText(c.kept)} (the first), ignored ${mdText(c.ignored)} (a later one)`, '');
  }
  if (conflicts.length > maxFailures) out.push(`⚠️ journal: …and ${conflicts.length - maxFailures} more conflicting cell-end records (summary.json run.conflictingCellEnds).`, '');

  out.push('| verdict | cells |', '|---|---:|');
  for (const [v, n] of countVerdicts(folder.cells)) out.push(`| ${ICON[v === 'unfinished' ? 'broken' : verdictClass(v)]} ${mdText(v)} | ${n} |`);
  out.push('');

  if (failed.length) {
    out.push(`### Failures (${failed.length})`, '', '| verdict | cell | bucket / reason |', '|---|---|---|');
    const list = failuresFirst(failed);
    for (const c of list.slice(0, maxFailures)) {
      const why = c.crash ? `${c.crash.bucket}${c.crash.bugcheck ? ` (${c.crash.bugcheck})` : ''}${c.crash.attribution ? `, ${c.crash.attribution}` : ''}` : (c.reason ?? '');
      out.push(`| ${c.verdict}${c.flaky ? ' (flaky)' : ''} | ${mdText(cellTitle(c.coords))} ${mdCode(c.id)} | ${mdText(why)} |`);
    }
    if (list.length > maxFailures) out.push('', `…and ${list.length - maxFailures} more (see the dashboard).`);
    out.push('');
  }

  const buckets = crashBuckets(folder);
  if (buckets.length) {
    out.push(`### Crash buckets (${buckets.length})`, '', '| bucket | title | cells | attribution |', '|---|---|---:|---|');
    for (const b of buckets) out.push(`| ${mdText(b.bucket)} | ${mdText(b.title)} | ${b.count} | ${mdText(b.attribution ?? 'unknown')} |`);
    out.push('');
  }

  const all = latencyRegressions(folder);
  const table = (title: string, regs: LatencyRegression[]): void => {
    if (!regs.length) return;
    out.push(`### ${title} (${regs.length})`, '', '| cell | operation | p50 | baseline p50 | overhead p50 | p99 | overhead p99 |', '|---|---|---:|---:|---:|---:|---:|');
    for (const r of regs.slice(0, maxRegs)) {
      out.push(`| ${mdText(cellTitle(r.cell.coords))} | ${mdText(r.op)} | ${fmtUs(r.p50Us)} | ${fmtUs(r.baselineP50Us)} | ${fmtSignedUs(r.overheadP50Us)} | ${fmtUs(r.p99Us)} | ${fmtSignedUs(r.overheadP99Us)} |`);
    }
    if (regs.length > maxRegs) out.push('', `…and ${regs.length - maxRegs} more.`);
    out.push('');
  };
  // Only steps the cell judged: a pass cell's `regressed` comparison is noise its budget cleared.
  table('Latency regressions', all.filter((r) => r.kind === 'regression'));
  table('Latency undecided', all.filter((r) => r.kind === 'undecided'));

  // What a pass means: the smallest p50 overhead each measuring cell would have detected.
  const measured = folder.cells.filter((c) => c.latency && Object.keys(c.latency).length);
  if (measured.length) {
    const rows = [...measured.filter((c) => c.verdict === 'pass'), ...measured.filter((c) => c.verdict !== 'pass')].map((c) => [c, cellDetectableP50(c)] as const);
    const passes = rows.filter(([c]) => c.verdict === 'pass');
    const withFig = passes.filter(([, d]) => d !== null);
    out.push('### Smallest detectable p50 overhead', '');
    if (passes.length && withFig.length) {
      const worst = Math.max(...withFig.map(([, d]) => d!.us));
      const none = passes.length - withFig.length;
      out.push(`Pass cells would have detected p50 overheads ≥ ${fmtUs(worst)} (the worst of ${plural(withFig.length, 'pass cell', 'pass cells')} with an interval${none ? `; ${plural(none, 'pass cell has', 'pass cells have')} none` : ''}).`, '');
    } else if (passes.length) {
      out.push('No pass cell recorded a 95% interval: what their pass could have detected is not known.', '');
    }
    out.push('| verdict | cell | detectable |', '|---|---|---|');
    for (const [c, d] of rows.slice(0, maxDet)) out.push(`| ${mdText(c.verdict)} | ${mdText(cellTitle(c.coords))} ${mdCode(c.id)} | ${detectableCell(d)} |`);
    if (rows.length > maxDet) out.push('', `…and ${rows.length - maxDet} more (see the dashboard).`);
    out.push('', "From the run's own figure where it recorded one, else (1.96 + 0.84)/1.96 × the half-width of the p50 overhead's 95% interval (normal approximation, 80% power at two-sided 5%); the worst of the steps the budget judged, else of all measured steps.", '');
  }
  return out.join('\n');
}

export function writeMarkdown(folder: RunFolder, file: string): void {
  writeFileSync(file, renderMarkdown(folder));
}
