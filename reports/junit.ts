// JUnit XML (the Jenkins/Ant structure CI servers read): one <testsuite> per OS release and patch
// level, one <testcase> per cell. Product failures are <failure>, infrastructure and broken tests
// are <error> (never counted as product failures), skipped cells are <skipped>.
import { writeFileSync } from 'node:fs';
import { cellDetectableP50, cellTitle, DETECTABLE_PER_HALF_WIDTH, detectableText, verdictClass } from './base.ts';
import type { ReportCell, RunFolder } from './run-folder.ts';
import { attrs, xmlText } from './xml.ts';

/** `fleetgate.win11-24h2.26100_2454`: Jenkins splits classnames at the last dot into package/class. */
export function junitClassname(c: ReportCell): string {
  const patch = c.coords.patchLevel ? c.coords.patchLevel.replace(/\./g, '_') : 'image';
  return `fleetgate.${c.coords.release.replace(/\./g, '_')}.${patch}`;
}

/** The one-line message a CI server shows: verdict, bucket and bugcheck when there are any. */
export function failureMessage(c: ReportCell): string {
  const parts: string[] = [c.verdict];
  if (c.flaky) parts.push('flaky');
  if (c.crash) {
    parts.push(`bucket ${c.crash.bucket}`);
    if (c.crash.bugcheck) parts.push(`bugcheck ${c.crash.bugcheck}`);
    if (c.crash.attribution) parts.push(`attribution ${c.crash.attribution}`);
  }
  if (c.reason && !c.crash) parts.push(c.reason);
  return parts.join(': ');
}

function cellSeconds(c: ReportCell): number {
  const ms = c.attempts.reduce((t, a) => t + (a.ms ?? 0), 0);
  return ms / 1000;
}

function details(c: ReportCell): string {
  const lines: string[] = [`cell ${c.id}: ${cellTitle(c.coords)}`, `verdict: ${c.verdict}${c.flaky ? ` (flaky: ${c.flakyWhy ?? 'did not repeat'})` : ''}`];
  if (c.reason) lines.push(`reason: ${c.reason}`);
  if (c.latency && Object.keys(c.latency).length) {
    const d = cellDetectableP50(c);
    lines.push(d ? `latency: ${detectableText(d)} (${d.from === 'rounds' ? "the run's own figure" : `${DETECTABLE_PER_HALF_WIDTH.toFixed(2)} × the 95% interval's half-width, normal approximation`})` : 'latency: no 95% interval recorded, no detectable figure');
  }
  if (c.crash) {
    lines.push(`crash: ${c.crash.title}`, `bucket: ${c.crash.bucket}`);
    if (c.crash.bugcheck) lines.push(`bugcheck: ${c.crash.bugcheck}`);
    if (c.crash.module) lines.push(`module: ${c.crash.module}`);
    if (c.crash.attribution) lines.push(`attribution: ${c.crash.attribution}`);
    if (c.crash.dump) lines.push(`dump: ${c.crash.dump}`);
  }
  for (const a of c.attempts) {
    lines.push(`attempt ${a.attempt} on ${a.host}: ${a.verdict}${a.reason ? ` (${a.reason})` : ''}`);
    for (const s of a.steps) {
      const ms = s.stop !== null ? `${Math.round(s.stop - s.start)} ms` : 'did not end';
      lines.push(`  ${s.step}: ${s.ok === null ? 'running' : s.ok ? 'ok' : 'FAILED'} ${ms}${s.detail ? ` (${s.detail})` : ''}`);
    }
  }
  return lines.join('\n');
}

function testcase(c: ReportCell): string {
  // The cell id goes in the name: the schema has no id attribute on testcase, and titles can repeat.
  const head = `    <testcase${attrs({ name: `${cellTitle(c.coords)} [${c.id}]`, classname: junitClassname(c), time: cellSeconds(c).toFixed(3) })}>\n`;
  let body = '';
  // What a pass stands on, for CI servers and scripts that read testcase properties (pytest writes
  // them in the same place); absent when the run recorded no interval, never a guessed figure.
  const d = cellDetectableP50(c);
  if (d) {
    body +=
      `      <properties>\n` +
      [
        ['latency.detectableP50Us', String(Math.round(d.us * 10) / 10)],
        ['latency.detectableP50Step', d.op],
        ['latency.detectableP50From', d.from],
      ]
        .map(([k, v]) => `        <property${attrs({ name: k, value: v })}/>\n`)
        .join('') +
      `      </properties>\n`;
  }
  const cls = c.verdict === 'unfinished' ? 'broken' : verdictClass(c.verdict);
  const msg = failureMessage(c);
  if (cls === 'failed') body += `      <failure${attrs({ message: msg, type: c.verdict })}>${xmlText(c.reason ?? msg)}</failure>\n`;
  else if (cls === 'broken') body += `      <error${attrs({ message: msg, type: c.verdict })}>${xmlText(c.reason ?? (c.verdict === 'unfinished' ? 'the run ended before this cell had a verdict' : msg))}</error>\n`;
  else if (cls === 'skipped') body += `      <skipped${attrs({ message: c.reason ?? 'skipped' })}/>\n`;
  body += `      <system-out>${xmlText(details(c))}</system-out>\n`;
  return `${head}${body}    </testcase>\n`;
}

export function renderJunit(folder: RunFolder): string {
  const suites = new Map<string, ReportCell[]>();
  for (const c of folder.cells) {
    const key = junitClassname(c);
    const list = suites.get(key) ?? [];
    list.push(c);
    suites.set(key, list);
  }
  const total = { tests: 0, failures: 0, errors: 0, skipped: 0, time: 0 };
  const parts: string[] = [];
  let id = 0;
  const timestamp = (folder.started ?? new Date(0).toISOString()).replace(/\.\d+Z$/, '').replace(/Z$/, '');
  for (const [name, cells] of suites) {
    const n = { tests: cells.length, failures: 0, errors: 0, skipped: 0, time: 0 };
    for (const c of cells) {
      const cls = c.verdict === 'unfinished' ? 'broken' : verdictClass(c.verdict);
      if (cls === 'failed') n.failures++;
      else if (cls === 'broken') n.errors++;
      else if (cls === 'skipped') n.skipped++;
      n.time += cellSeconds(c);
    }
    for (const k of Object.keys(total) as Array<keyof typeof total>) total[k] += n[k];
    const first = cells[0]!.coords;
    parts.push(
      `  <testsuite${attrs({ name, tests: n.tests, failures: n.failures, errors: n.errors, skipped: n.skipped, time: n.time.toFixed(3), timestamp, hostname: folder.hosts.join(',') || 'localhost', id: id++, package: `fleetgate.${first.release}` })}>\n` +
        `    <properties>\n` +
        [
          ['run', folder.runId],
          ['matrix', folder.matrixName],
          ['release', first.release],
          ['patchLevel', first.patchLevel ?? 'image'],
          ['kb', first.kb !== null ? `KB${first.kb}` : 'none'],
        ]
          .map(([k, v]) => `      <property${attrs({ name: k, value: v })}/>\n`)
          .join('') +
        `    </properties>\n` +
        cells.map(testcase).join('') +
        `    <system-out/>\n    <system-err/>\n  </testsuite>\n`,
    );
  }
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    // No `skipped` here: the Jenkins schema has it on <testsuite> only.
    `<testsuites${attrs({ name: `fleetgate ${folder.matrixName} ${folder.runId}`, tests: total.tests, failures: total.failures, errors: total.errors, time: total.time.toFixed(3) })}>\n` +
    parts.join('') +
    `</testsuites>\n`
  );
}

export function writeJunit(folder: RunFolder, file: string): void {
  writeFileSync(file, renderJunit(folder));
}
