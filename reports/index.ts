// writeReports(runDir): every report of a run, made from its folder alone, into RUN_DIR/reports/.
// The run's own files (run.json, journal, summary, cells/) are only read: reports never change results.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../lib/errors.ts';
import { writeAllureResults } from './allure.ts';
import { writeDashboard, type DashboardOptions } from './html/index.ts';
import { writeJunit } from './junit.ts';
import { writeMarkdown } from './markdown.ts';
import { readRunFolder, type RunFolder } from './run-folder.ts';

export const FORMATS = ['allure', 'junit', 'markdown', 'html'] as const;
export type ReportFormat = (typeof FORMATS)[number];

export interface WriteReportsOptions {
  formats?: readonly ReportFormat[];
  /** Where to write (default RUN_DIR/reports). */
  outDir?: string;
  /** An already-read folder (saves reading it twice). */
  folder?: RunFolder;
  dashboard?: DashboardOptions;
}

export interface WrittenReports {
  outDir: string;
  files: Partial<Record<ReportFormat, string>>;
  /** Milliseconds per format, for the bench and the CLI's summary line. */
  ms: Partial<Record<ReportFormat | 'read', number>>;
  folder: RunFolder;
}

export function parseFormats(list: string): ReportFormat[] {
  const out: ReportFormat[] = [];
  for (const f of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    const name = f === 'md' ? 'markdown' : f === 'xml' ? 'junit' : f;
    if (!(FORMATS as readonly string[]).includes(name)) throw new UsageError(`unknown report format "${f}"; expected one of: ${FORMATS.join(', ')}`);
    out.push(name as ReportFormat);
  }
  return out;
}

export function writeReports(runDir: string, opts: WriteReportsOptions = {}): WrittenReports {
  const ms: WrittenReports['ms'] = {};
  let t = performance.now();
  const lap = (k: ReportFormat | 'read') => {
    const now = performance.now();
    ms[k] = Math.round(now - t);
    t = now;
  };
  const folder = opts.folder ?? readRunFolder(runDir);
  lap('read');
  const outDir = path.resolve(opts.outDir ?? path.join(folder.dir, 'reports'));
  mkdirSync(outDir, { recursive: true });
  const formats = opts.formats ?? FORMATS;
  const files: WrittenReports['files'] = {};
  for (const f of FORMATS) {
    if (!formats.includes(f)) continue;
    switch (f) {
      case 'allure':
        files.allure = path.join(outDir, 'allure-results');
        writeAllureResults(folder, files.allure);
        break;
      case 'junit':
        files.junit = path.join(outDir, 'junit.xml');
        writeJunit(folder, files.junit);
        break;
      case 'markdown':
        files.markdown = path.join(outDir, 'summary.md');
        writeMarkdown(folder, files.markdown);
        break;
      case 'html':
        files.html = path.join(outDir, 'index.html');
        writeDashboard(folder, files.html, opts.dashboard);
        break;
    }
    lap(f);
  }
  return { outDir, files, ms, folder };
}
