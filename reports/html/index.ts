// The static HTML dashboard: one file (RUN_DIR/reports/index.html) that works from file:// with no
// server and nothing fetched. The run's data is embedded as a JSON script block; the page's code
// (app.js) and style are inlined at write time. The browser code builds every element with
// textContent, never innerHTML, and the page's Content-Security-Policy allows only the inlined
// script (by hash), so a crash title holding markup stays text even if an escape were missed.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cellDetectableP50, cellTitle, crashBuckets, latencyRegressions, stepDetectableP50, type LatencyRegression } from '../base.ts';
import { findEvidence, readTail, type ReportCell, type RunFolder } from '../run-folder.ts';
import type { FilterDelaysRecord } from '../../runfolder/results.ts';
import { cellPictures, CURVE_MAX_CELLS, CURVE_PERCENTILES, type CellPictures } from './curves.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export interface DashboardOptions {
  /** Bytes of console log tail kept per failing cell (passing cells keep a quarter of it). */
  consoleTailBytes?: number;
  /** Shown in the page footer; injectable for reproducible output. */
  generatedAt?: Date;
}

type StepRow = [step: string, startMs: number, ms: number | null, ok: boolean | null, detail: string | null];

interface CellData {
  id: string;
  title: string;
  release: string;
  patch: string | null;
  kb: number | null;
  driver: string;
  verifier: string;
  workloads: string[];
  coexist: string[];
  repeat: number;
  tags: string[];
  verdict: string;
  flaky: boolean;
  reason: string | null;
  crash: ReportCell['crash'] | null;
  /** op → [p50, p99, baseline p50, baseline p99, change, smallest detectable p50 overhead (null: no interval)] */
  latency: Record<string, [number, number, number | null, number | null, string | null, number | null]>;
  /** The cell's smallest detectable p50 overhead (worst judged step); null when no step has an interval. */
  detectable: { us: number; op: string; from: 'rounds' | 'interval'; missing: string[] } | null;
  attempts: Array<{ n: number; host: string; verdict: string; ms: number | null; reason: string | null; start: number | null; steps: StepRow[]; notes: string[] }>;
  console: { text: string; truncated: boolean } | null;
  /** Rounds measured: per step the runs' percentile curves and the per-round overheads (curves.ts). */
  pictures: CellPictures | null;
  /** The OS's recording of the filter stack's callback times (the matrix's filterDelays), per workload. */
  filterDelays: FilterDelaysRecord[] | null;
  triage: string | null;
  evidence: string[];
}

function cellData(folder: RunFolder, c: ReportCell, tailBytes: number, curveBudget: { left: number }): CellData {
  const failing = c.verdict !== 'pass' && c.verdict !== 'skipped';
  const consoleFile = findEvidence(folder, c, 'console.log');
  const triageFile = findEvidence(folder, c, 'triage.json');
  const latency: CellData['latency'] = {};
  for (const [op, l] of Object.entries(c.latency ?? {})) latency[op] = [l.p50Us, l.p99Us, l.baselineP50Us ?? null, l.baselineP99Us ?? null, l.change ?? null, stepDetectableP50(l)?.us ?? null];
  const d = cellDetectableP50(c);
  const pictures = cellPictures(folder, c, curveBudget.left > 0);
  if (pictures && !pictures.curvesMissing) curveBudget.left--;
  return {
    id: c.id,
    title: cellTitle(c.coords),
    release: c.coords.release,
    patch: c.coords.patchLevel,
    kb: c.coords.kb,
    driver: c.coords.driver,
    verifier: c.coords.verifier,
    workloads: c.coords.workloads,
    coexist: c.coords.coexist,
    repeat: c.coords.repeat,
    tags: c.coords.tags,
    verdict: c.verdict,
    flaky: c.flaky,
    reason: c.reason ?? null,
    crash: c.crash ?? null,
    latency,
    detectable: d ? { us: d.us, op: d.op, from: d.from, missing: d.missing } : null,
    attempts: c.attempts.map((a) => {
      const t0 = a.steps[0]?.start ?? null;
      return {
        n: a.attempt,
        host: a.host,
        verdict: a.verdict,
        ms: a.ms,
        reason: a.reason ?? null,
        start: t0,
        steps: a.steps.map((s): StepRow => [String(s.step), t0 === null ? 0 : s.start - t0, s.stop === null ? null : s.stop - s.start, s.ok, s.detail ?? null]),
        notes: a.notes,
      };
    }),
    console: consoleFile ? readTail(consoleFile, failing ? tailBytes : Math.floor(tailBytes / 4)) : null,
    pictures,
    filterDelays: c.measurement?.filterDelays ?? null,
    triage: triageFile ? (readTail(triageFile, 64 * 1024)?.text ?? null) : null,
    evidence: c.evidence,
  };
}

/** JSON that is safe inside <script>: no `<` (so no `</script>` or `<!--`), no line separators. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

export function dashboardData(folder: RunFolder, opts: DashboardOptions = {}): unknown {
  const tail = opts.consoleTailBytes ?? 16 * 1024;
  const index = new Map(folder.cells.map((c, i) => [c.id, i]));
  const regs = latencyRegressions(folder);
  const curveBudget = { left: CURVE_MAX_CELLS };
  const row = (r: LatencyRegression) => ({ cell: index.get(r.cell.id), op: r.op, p50: r.p50Us, p99: r.p99Us, b50: r.baselineP50Us, b99: r.baselineP99Us, o50: r.overheadP50Us, o99: r.overheadP99Us });
  return {
    run: {
      id: folder.runId,
      matrix: folder.matrixName,
      matrixFile: folder.matrixFile,
      started: folder.started,
      ended: folder.ended,
      outcome: folder.outcome,
      exitCode: folder.exitCode,
      tools: folder.tools,
      hosts: folder.hosts,
      generated: (opts.generatedAt ?? new Date()).toISOString(),
    },
    cells: folder.cells.map((c) => cellData(folder, c, tail, curveBudget)),
    percentiles: CURVE_PERCENTILES,
    buckets: crashBuckets(folder),
    // Only steps their cell judged (a pass cell's noise is not listed); undecided ones apart.
    regressions: regs.filter((r) => r.kind === 'regression').map(row),
    undecided: regs.filter((r) => r.kind === 'undecided').map(row),
  };
}

let assets: { js: string; css: string } | null = null;
function loadAssets(): { js: string; css: string } {
  return (assets ??= { js: readFileSync(path.join(HERE, 'app.js'), 'utf8'), css: readFileSync(path.join(HERE, 'style.css'), 'utf8') });
}

const htmlEscape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function renderDashboard(folder: RunFolder, opts: DashboardOptions = {}): string {
  const { js, css } = loadAssets();
  const data = scriptJson(dashboardData(folder, opts));
  const scriptHash = createHash('sha256').update(js).digest('base64');
  const csp = `default-src 'none'; script-src 'sha256-${scriptHash}'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fleetgate ${htmlEscape(folder.matrixName)} ${htmlEscape(folder.runId)}</title>
<style>${css}</style>
</head>
<body>
<header><h1>fleetgate</h1><span id="run-title"></span></header>
<main id="app"><noscript>This dashboard needs JavaScript.</noscript></main>
<script type="application/json" id="fleetgate-data">${data}</script>
<script>${js}</script>
</body>
</html>
`;
}

export function writeDashboard(folder: RunFolder, file: string, opts: DashboardOptions = {}): void {
  writeFileSync(file, renderDashboard(folder, opts));
}
