// The dashboard's rounds pictures (issue #17) in real Chromium, from a real lab run measured in rounds
// (reports/testdata/rounds1: the demo matrix, its summary, journal, and each cell's console, latency
// and rounds.json), opened from file:// with nothing else loaded: the overhead plot (a bar per step,
// a dot per round, the limit) and the percentile curves (one line per run, every round labelled),
// checked as elements and as pixels of a screenshot.
import t, { type Test } from 'tap';
import { cpSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { writeReports } from '../index.ts';
import { readRunFolder } from '../run-folder.ts';
import { CHROMIUM, CHROMIUM_ARGS } from '../signoff.ts';
import { cellPictures, CURVE_PERCENTILES } from './curves.ts';

const FIXTURE = fileURLToPath(new URL('../testdata/rounds1', import.meta.url));
const GOOD = '69e90d321fda';
const SLOW = 'da2b0a513a49';

/** The runs rounds.json holds for a cell's last attempt, as B1 D1 … labels. */
function runLabels(dir: string, cell: string): string[] {
  const attempts = path.join(dir, 'cells', cell);
  const last = readFileSync(path.join(dir, 'summary.json'), 'utf8');
  const n = (JSON.parse(last) as { cells: Array<{ id: string; attempts: number }> }).cells.find((c) => c.id === cell)!.attempts;
  const doc = JSON.parse(readFileSync(path.join(attempts, `attempt-${n}`, 'rounds.json'), 'utf8')) as { order: Array<{ side: string; round: number }> };
  return doc.order.map((r) => `${r.side === 'baseline' ? 'B' : 'D'}${r.round}`);
}

t.test('cellPictures: curves from rounds.json, overheads from the latency figures; the page budget is said', async (t) => {
  const folder = readRunFolder(FIXTURE);
  const good = folder.cells.find((c) => c.id === GOOD)!;
  const pic = cellPictures(folder, good, true)!;
  t.equal(pic.curvesMissing, null);
  const labels = runLabels(FIXTURE, GOOD);
  for (const st of pic.steps) {
    t.equal(st.runs.length, labels.length, `${st.step}: a curve per run`);
    for (const r of st.runs) {
      t.equal(r[2].length, CURVE_PERCENTILES.length);
      t.ok(r[2].every((v, i) => i === 0 || v >= r[2][i - 1]!), `${st.step} ${r[0]}${r[1]}: a percentile curve never falls`);
    }
    t.ok(st.overheads && st.overheads.ci[0] <= st.overheads.median && st.overheads.median <= st.overheads.ci[1], `${st.step}: the median inside its interval`);
    t.ok(st.judged, `${st.step} judged`);
  }
  const spent = cellPictures(folder, good, false)!;
  t.match(spent.curvesMissing, /CURVE_MAX_CELLS/);
  t.ok(spent.steps.every((s) => s.runs.length === 0 && s.overheads), 'overheads still shown without curves');
  const crash = folder.cells.find((c) => c.verdict === 'product-crash')!;
  t.equal(cellPictures(folder, crash, true), null, 'a cell with no rounds measured has no pictures');
});

if (!existsSync(CHROMIUM)) {
  t.test('rounds pictures in Chromium', { skip: `no Chromium at ${CHROMIUM}` }, () => {});
} else {
  const root = mkdtempSync(path.join(tmpdir(), 'fg-rounds-dash-'));
  const run = path.join(root, 'rounds1');
  cpSync(FIXTURE, run, { recursive: true });
  writeReports(run, { formats: ['html'] });

  let browser: Browser;
  t.before(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  t.teardown(async () => {
    await browser?.close();
  });

  async function cellPage(t: Test, cell: string): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`${pathToFileURL(path.join(run, 'reports', 'index.html')).href}#/cell/${cell}`);
    await page.waitForSelector('#rounds svg.overheads');
    t.same(requests.filter((u) => !u.includes('/reports/index.html')), [], 'from the file system, nothing else loaded');
    return { page, errors };
  }

  /** Pixels of a PNG near each colour, counted by Chromium itself on a blank page. */
  async function colourCounts(png: Buffer, colours: Record<string, [number, number, number]>): Promise<Record<string, number>> {
    const page = await browser.newPage();
    try {
      // Page code as text: this file is type-checked without the DOM's types.
      const count = `async ({ src, colours }) => {
        const img = new Image();
        img.src = src;
        await img.decode();
        const c = document.createElement('canvas');
        c.width = img.width;
        c.height = img.height;
        const g = c.getContext('2d');
        g.drawImage(img, 0, 0);
        const d = g.getImageData(0, 0, c.width, c.height).data;
        const out = {};
        for (const [name, [r, gr, b]] of Object.entries(colours)) {
          let n = 0;
          for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - r) + Math.abs(d[i + 1] - gr) + Math.abs(d[i + 2] - b) < 60) n++;
          out[name] = n;
        }
        return out;
      }`;
      return (await page.evaluate(`(${count})(${JSON.stringify({ src: `data:image/png;base64,${png.toString('base64')}`, colours })})`)) as Record<string, number>;
    } finally {
      await page.close();
    }
  }

  t.test('the good build: a bar per step within its limit, every round a dot, every run a labelled curve', async (t) => {
    const { page, errors } = await cellPage(t, GOOD);
    const steps = Object.keys((JSON.parse(readFileSync(path.join(run, 'summary.json'), 'utf8')) as { cells: Array<{ id: string; latency: Record<string, unknown> }> }).cells.find((c) => c.id === GOOD)!.latency);
    t.equal(await page.locator('svg.overheads line.ci').count(), steps.length, 'an interval bar per step');
    t.equal(await page.locator('svg.overheads line.ci.over').count(), 0, 'none above its limit');
    const labels = runLabels(run, GOOD);
    const rounds = labels.filter((l) => l.startsWith('D')).length;
    t.equal(await page.locator('svg.overheads circle.round').count(), steps.length * rounds, 'a dot per round per step');
    t.equal(await page.locator('svg.curves').count(), steps.length, 'a curve plot per step');
    t.equal(await page.locator('svg.curves polyline.run').count(), steps.length * labels.length, 'a curve per run per step');
    const open = page.locator('svg.curves[data-step="open"]');
    for (const l of labels) t.equal(await open.locator(`polyline[data-run="${l.toLowerCase()}"]`).count(), 1, `run ${l} drawn`);
    t.match(await open.locator('polyline[data-run="d1"] title').textContent(), /^driver run D1: 0% \d[\d,]* µs, 50% /);
    const shot = await page.locator('#rounds').screenshot();
    const px = await colourCounts(shot, { driver: [0xe0, 0x7a, 0x10], baseline: [0x5b, 0x7f, 0xa6], within: [0x1f, 0x5f, 0xa8] });
    t.ok(px.driver! > 500, `driver curves visible (${px.driver} orange pixels)`);
    t.ok(px.baseline! > 500, `baseline curves visible (${px.baseline} blue-grey pixels)`);
    t.ok(px.within! > 100, `within-limit bars visible (${px.within} blue pixels)`);
    t.same(errors, []);
    await page.close();
  });

  t.test('the 2 ms-per-open build: its bars above the limit, in red', async (t) => {
    const { page, errors } = await cellPage(t, SLOW);
    t.ok((await page.locator('svg.overheads line.ci.over').count()) >= 3, 'open, read and write over');
    t.match(await page.locator('svg.overheads line.ci[data-step="open"] title').textContent(), /^open: overhead \+2,\d{3} µs, 95% \+2,\d{3} µs \.\. \+2,\d{3} µs; limit 500 µs: over$/);
    const shot = await page.locator('svg.overheads').screenshot();
    const px = await colourCounts(shot, { over: [0xb3, 0x13, 0x1b] });
    t.ok(px.over! > 50, `red bars visible (${px.over} pixels)`);
    t.same(errors, []);
    await page.close();
  });
}
