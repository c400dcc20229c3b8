// Reports for a large run: a synthetic 10,000-cell run folder (run.json, summary.json, a journal with
// a few steps per cell, console logs), then the time to read it and write Allure results, JUnit,
// Markdown and the HTML dashboard (not the Allure site or the PDF; target: all of it under 10 s), and
// the dashboard's load time in Chromium (navigation to the load event, median of 3).
// Run: npm run bench -- reports   (or node --import tsx bench/reports.ts [cells])
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { writeReports } from '../reports/index.ts';
import { CHROMIUM, CHROMIUM_ARGS } from '../reports/signoff.ts';
import { gridCells, writeSyntheticRun } from '../reports/synthetic.ts';

const N = Number(process.argv[2] ?? 10_000);
// FLEETGATE_BENCH_TMP: where the synthetic run goes (e.g. /dev/shm to take a slow disk out of the figures).
const dir = mkdtempSync(path.join(process.env.FLEETGATE_BENCH_TMP || tmpdir(), 'fg-bench-reports-'));
try {
  let t = performance.now();
  writeSyntheticRun(dir, gridCells(N));
  console.log(`synthetic run: ${N} cells in ${dir} (${Math.round(performance.now() - t)} ms to generate; journal ${(statSync(path.join(dir, 'journal.ndjson')).size / 1e6).toFixed(1)} MB)`);

  t = performance.now();
  const r = writeReports(dir);
  const total = performance.now() - t;
  const size = (f: string | undefined) => (f && existsSync(f) && statSync(f).isFile() ? ` ${(statSync(f).size / 1e6).toFixed(1)} MB` : '');
  for (const [k, ms] of Object.entries(r.ms)) console.log(`  ${k.padEnd(9)} ${String(ms).padStart(6)} ms${size(r.files[k as keyof typeof r.files])}`);
  console.log(`every report: ${(total / 1000).toFixed(2)} s (target < 10 s) ${total < 10_000 ? 'OK' : 'OVER'}`);

  if (!existsSync(CHROMIUM)) console.log(`dashboard load: skipped (no Chromium at ${CHROMIUM})`);
  else {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const page = await browser.newPage();
      await page.goto(pathToFileURL(r.files.html!).href, { waitUntil: 'load' });
      await page.waitForSelector('#heatmap');
      // A string: the page's DOM types are not in this project's TypeScript lib.
      const nav = await page.evaluate(`(() => { const e = performance.getEntriesByType('navigation')[0]; return e.loadEventEnd - e.startTime; })()`);
      times.push(Number(nav));
      await page.close();
    }
    await browser.close();
    times.sort((a, b) => a - b);
    console.log(`dashboard load (navigation → load event, ${N} cells): median ${Math.round(times[1]!)} ms (runs: ${times.map((x) => Math.round(x)).join(', ')} ms)`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
