// Allure results (allure-results/*.json and attachments), written with allure-js-commons' own
// ReporterRuntime and FileSystemWriter so the files follow the format the Allure version we ship
// reads. One test per cell; historyId and testCaseId are the cell id, which is a hash of the cell's
// coordinates, so Allure's history and retries line up across runs.
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, cpSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ContentType, LabelName, Stage, Status, type Label } from 'allure-js-commons';
import { ReporterRuntime, stringifyEnvInfo, type Writer } from 'allure-js-commons/sdk/reporter';
import { escapeControls } from '../lib/printable.ts';
import { cellTitle, judgedOutcome, verdictClass } from './base.ts';
import { failureMessage } from './junit.ts';
import { evidencePath, findEvidence, readTail, type ReportCell, type RunFolder } from './run-folder.ts';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../', import.meta.url));

const STATUS: Record<ReturnType<typeof verdictClass>, Status> = { passed: Status.PASSED, failed: Status.FAILED, broken: Status.BROKEN, skipped: Status.SKIPPED };

/**
 * allure-js-commons' FileSystemWriter, without its fsync and rename per file: it is made for test
 * processes that may die mid-run, and at 30,000 files for a large matrix the fsyncs alone took
 * about 100 s. Our results are made again from the run folder whenever needed, so a plain write
 * is enough. Same file names and contents as FileSystemWriter.
 */
export class PlainResultsWriter implements Writer {
  constructor(readonly resultsDir: string) {
    mkdirSync(resultsDir, { recursive: true });
  }
  #path(name: string): string {
    return path.join(this.resultsDir, name);
  }
  writeResult(result: Parameters<Writer['writeResult']>[0]): void {
    writeFileSync(this.#path(`${result.uuid}-result.json`), JSON.stringify(result));
  }
  writeGroup(result: Parameters<Writer['writeGroup']>[0]): void {
    writeFileSync(this.#path(`${result.uuid}-container.json`), JSON.stringify(result));
  }
  writeAttachment(name: string, content: Buffer): void {
    writeFileSync(this.#path(name), content);
  }
  writeAttachmentFromPath(name: string, from: string): void {
    copyFileSync(from, this.#path(name));
  }
  writeEnvironmentInfo(info: Parameters<Writer['writeEnvironmentInfo']>[0]): void {
    writeFileSync(this.#path('environment.properties'), stringifyEnvInfo(info));
  }
  writeCategoriesDefinitions(categories: Parameters<Writer['writeCategoriesDefinitions']>[0]): void {
    writeFileSync(this.#path('categories.json'), JSON.stringify(categories));
  }
  writeGlobals(name: string, info: Parameters<Writer['writeGlobals']>[1]): void {
    writeFileSync(this.#path(name), JSON.stringify(info));
  }
}

/**
 * Guest text (a reason, a title) as Allure shows it (issue #16 row 9): Allure renders `description` as
 * Markdown, so a guest's `![x](http://...)` there made the report fetch that URL when opened. The
 * description goes as HTML instead: the text HTML-escaped inside <pre>, so nothing in it is markup,
 * and control characters escaped visibly (lib/printable.ts). The other fields used (names, step
 * names, statusDetails, labels, parameters) Allure shows as text.
 */
export function plainTextHtml(text: string): string {
  // Lines stay lines in <pre>; every other control is escaped.
  const escaped = text
    .split(/\r?\n/)
    .map(escapeControls)
    .join('\n')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
  return `<pre>${escaped}</pre>`;
}

export interface AllureOptions {
  consoleTailBytes?: number;
}

function labelsOf(folder: RunFolder, c: ReportCell): Label[] {
  const k = c.coords;
  const l: Label[] = [
    { name: LabelName.PARENT_SUITE, value: folder.matrixName },
    { name: LabelName.SUITE, value: k.release },
    { name: LabelName.SUB_SUITE, value: k.patchLevel ?? 'image' },
    { name: LabelName.PACKAGE, value: `fleetgate.${k.release}` },
    { name: 'os.release', value: k.release },
    { name: 'os.patchLevel', value: k.patchLevel ?? 'image' },
    { name: 'kb', value: k.kb !== null ? `KB${k.kb}` : 'none' },
    { name: 'driver', value: k.driver },
    { name: 'verifier', value: k.verifier },
    { name: 'coexist', value: k.coexist.join('+') || 'none' },
    { name: 'workloads', value: k.workloads.join('+') },
    { name: 'verdict', value: c.verdict },
    { name: LabelName.FRAMEWORK, value: 'fleetgate' },
  ];
  for (const t of k.tags) l.push({ name: LabelName.TAG, value: t });
  if (c.flaky) l.push({ name: LabelName.TAG, value: 'flaky' });
  const host = c.attempts.at(-1)?.host;
  if (host) l.push({ name: LabelName.HOST, value: host });
  if (c.crash) l.push({ name: 'bucket', value: c.crash.bucket }, { name: 'attribution', value: c.crash.attribution ?? 'unknown' });
  return l;
}

/** Writes allure-results for every cell into `resultsDir` (emptied first: results of one run only). */
export function writeAllureResults(folder: RunFolder, resultsDir: string, opts: AllureOptions = {}): number {
  rmSync(resultsDir, { recursive: true, force: true });
  mkdirSync(resultsDir, { recursive: true });
  const tail = opts.consoleTailBytes ?? 64 * 1024;
  const rt = new ReporterRuntime({
    writer: new PlainResultsWriter(resultsDir),
    environmentInfo: {
      run: folder.runId,
      matrix: folder.matrixName,
      started: folder.started ?? '',
      outcome: folder.outcome,
      hosts: folder.hosts.join(', '),
      ...Object.fromEntries(Object.entries(folder.tools).map(([k, v]) => [`tool.${k}`, String(v)])),
    },
    categories: [
      { name: 'Crashes attributed to us', messageRegex: '.*product-crash.*attribution ours.*', matchedStatuses: [Status.FAILED] },
      { name: 'Hangs', messageRegex: '^product-hang.*', matchedStatuses: [Status.FAILED] },
      { name: 'Latency regressions', messageRegex: '^perf-regression.*', matchedStatuses: [Status.FAILED] },
      { name: 'Infrastructure (not the product)', messageRegex: '^(infra-error|unfinished).*', matchedStatuses: [Status.BROKEN] },
      { name: 'Broken tests', messageRegex: '^test-error.*', matchedStatuses: [Status.BROKEN] },
    ],
  });
  const fallback = folder.started ? Date.parse(folder.started) : 0;
  for (const c of folder.cells) {
    const cls = c.verdict === 'unfinished' ? 'broken' : verdictClass(c.verdict);
    const allSteps = c.attempts.flatMap((a) => a.steps);
    const start = allSteps[0]?.start ?? fallback;
    const stop = allSteps.reduce((m, s) => Math.max(m, s.stop ?? s.start), start);
    const uuid = rt.startTest({
      name: cellTitle(c.coords),
      fullName: `${folder.matrixName}:${c.id}`,
      historyId: c.id,
      testCaseId: c.id,
      start,
      labels: labelsOf(folder, c),
      parameters: [
        { name: 'release', value: c.coords.release },
        { name: 'patch level', value: c.coords.patchLevel ?? 'image' },
        { name: 'driver', value: c.coords.driver },
        { name: 'verifier', value: c.coords.verifier },
        { name: 'workloads', value: c.coords.workloads.join('+') },
        { name: 'coexist', value: c.coords.coexist.join('+') || 'none' },
        { name: 'repeat', value: String(c.coords.repeat) },
      ],
      descriptionHtml: plainTextHtml(`Cell ${c.id}: ${cellTitle(c.coords)}. Verdict ${c.verdict}${c.reason ? `: ${c.reason}` : ''}.`),
    });
    for (const a of c.attempts) {
      if (!a.steps.length) continue;
      const aStart = a.steps[0]!.start;
      const aStop = a.steps.reduce((m, s) => Math.max(m, s.stop ?? s.start), aStart);
      const aCls = a.verdict === 'abandoned' || a.verdict === 'running' ? 'broken' : verdictClass(a.verdict as ReportCell['verdict']);
      const attemptUuid = rt.startStep(uuid, undefined, {
        name: `attempt ${a.attempt} on ${a.host}: ${a.verdict}`,
        start: aStart,
        status: STATUS[aCls],
        ...(a.reason ? { statusDetails: { message: a.reason } } : {}),
      });
      for (const s of a.steps) {
        const sid = rt.startStep(uuid, attemptUuid, {
          name: String(s.step),
          start: s.start,
          status: s.ok === null ? Status.BROKEN : s.ok ? Status.PASSED : Status.FAILED,
          ...(s.detail ? { statusDetails: { message: s.detail } } : {}),
        });
        if (sid) rt.stopStep(sid, { stop: s.stop ?? s.start });
      }
      if (attemptUuid) rt.stopStep(attemptUuid, { stop: aStop });
    }
    // Console logs of passing cells stay in the run folder: on a 10,000-cell matrix they would be
    // thousands of files nobody opens (and most of the time spent writing results).
    const consoleFile = c.verdict === 'pass' ? null : findEvidence(folder, c, 'console.log');
    if (consoleFile) {
      const t = readTail(consoleFile, tail);
      if (t) rt.writeAttachment(uuid, undefined, t.truncated ? 'console.log (tail)' : 'console.log', Buffer.from(t.text), { contentType: ContentType.TEXT, fileExtension: '.txt' });
    }
    const triage = findEvidence(folder, c, 'triage.json');
    if (triage) rt.writeAttachment(uuid, undefined, 'triage.json', readFileSync(triage), { contentType: ContentType.JSON, fileExtension: '.json' });
    if (c.crash) rt.writeAttachment(uuid, undefined, 'crash.json', Buffer.from(JSON.stringify(c.crash, null, 2)), { contentType: ContentType.JSON, fileExtension: '.json' });
    // Latency figures as a file only where someone will look (a failed cell, or a step its budget did
    // not clear); a passing cell's figures are in the dashboard, and a file per passing cell doubled
    // the files written. Runs from before the budget's judgement was kept: a `regressed` comparison.
    const steps = Object.values(c.latency ?? {}).filter((l) => l && typeof l === 'object');
    const judged = steps.map(judgedOutcome).filter((o) => o !== null);
    const regressed = judged.length ? judged.some((o) => o !== 'within') : steps.some((l) => l.change === 'regressed');
    if (c.latency && (c.verdict !== 'pass' || regressed)) rt.writeAttachment(uuid, undefined, 'latency.json', Buffer.from(JSON.stringify(c.latency, null, 2)), { contentType: ContentType.JSON, fileExtension: '.json' });
    for (const rel of c.evidence.filter((e) => /hist/i.test(path.posix.basename(e)))) {
      const abs = evidencePath(folder, rel);
      if (abs) rt.writeAttachment(uuid, undefined, path.posix.basename(rel), abs, { contentType: rel.endsWith('.json') ? ContentType.JSON : ContentType.TEXT });
    }
    rt.updateTest(uuid, (t) => {
      t.status = STATUS[cls];
      t.stage = Stage.FINISHED;
      if (cls !== 'passed') t.statusDetails = { message: failureMessage(c), trace: [c.reason, c.crash?.title].filter(Boolean).join('\n') };
    });
    rt.stopTest(uuid, { stop });
    rt.writeTest(uuid);
  }
  rt.writeEnvironmentInfo();
  rt.writeCategoriesDefinitions();
  return folder.cells.length;
}

export interface AllureSiteResult {
  made: boolean;
  /** Why no site was made, or where it is. */
  message: string;
}

async function javaVersion(): Promise<string | null> {
  try {
    const r = await run('java', ['-version'], { timeout: 15_000 });
    return (r.stderr || r.stdout).split('\n')[0] ?? 'java';
  } catch {
    return null;
  }
}

/**
 * Runs allure-commandline (a Java program) to turn results into a static site. Skipped, with the
 * reason, when Java or the allure command is missing: the results are still usable elsewhere.
 * When the site already exists, its history/ goes into the results first, so Allure's trend
 * graphs carry on from the previous generation.
 */
export async function generateAllureSite(resultsDir: string, siteDir: string): Promise<AllureSiteResult> {
  const allure = path.join(REPO, 'node_modules', '.bin', 'allure');
  if (!existsSync(allure)) return { made: false, message: `allure site skipped: ${allure} not found (npm install allure-commandline)` };
  if (!(await javaVersion())) return { made: false, message: 'allure site skipped: java not found on PATH (allure-commandline needs Java 8+)' };
  const history = path.join(siteDir, 'history');
  if (existsSync(history)) cpSync(history, path.join(resultsDir, 'history'), { recursive: true });
  try {
    await run(allure, ['generate', resultsDir, '-o', siteDir, '--clean'], { timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return { made: false, message: `allure generate failed: ${(e.stderr || e.message).trim().split('\n').slice(-3).join(' ')}` };
  }
  return { made: true, message: `allure site in ${siteDir}` };
}
