// A run summary for a pull-request comment: counts per verdict, failures first with their bucket,
// and the latency regressions. Guest text is escaped: GitHub renders inline HTML and Markdown in
// comments, so a crash title must not be able to add a link, an image or a table column; control
// characters (ESC, BEL, NUL, CSI) are escaped visibly as \x1b... (lib/printable.ts, issue #16 row 8).
import { writeFileSync } from 'node:fs';
import { cellTitle, countVerdicts, crashBuckets, failuresFirst, fmtSignedUs, fmtUs, latencyRegressions, verdictClass } from './base.ts';
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
}

export function renderMarkdown(folder: RunFolder, opts: MarkdownOptions = {}): string {
  const maxFailures = opts.maxFailures ?? 50;
  const maxRegs = opts.maxRegressions ?? 30;
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

  const regs = latencyRegressions(folder);
  if (regs.length) {
    out.push(`### Latency regressions (${regs.length})`, '', '| cell | operation | p50 | baseline p50 | overhead p50 | p99 | overhead p99 |', '|---|---|---:|---:|---:|---:|---:|');
    for (const r of regs.slice(0, maxRegs)) {
      out.push(`| ${mdText(cellTitle(r.cell.coords))} | ${mdText(r.op)} | ${fmtUs(r.p50Us)} | ${fmtUs(r.baselineP50Us)} | ${fmtSignedUs(r.overheadP50Us)} | ${fmtUs(r.p99Us)} | ${fmtSignedUs(r.overheadP99Us)} |`);
    }
    if (regs.length > maxRegs) out.push('', `…and ${regs.length - maxRegs} more.`);
    out.push('');
  }
  return out.join('\n');
}

export function writeMarkdown(folder: RunFolder, file: string): void {
  writeFileSync(file, renderMarkdown(folder));
}
