// Browser tests of the dashboard: the real index.html from a run folder, opened from file:// in the
// system Chromium through playwright-core (no server, no browser download).
import t, { type Test } from 'tap';
import { cpSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { writeReports } from '../index.ts';
import { CHROMIUM, CHROMIUM_ARGS } from '../signoff.ts';
import { writeSyntheticRun } from '../synthetic.ts';

const FIXTURE = fileURLToPath(new URL('../testdata/demo1', import.meta.url));
/** The page's URL without its #route (indexOf, not a regex: no backtracking on any URL). */
const pageBase = (u: string): string => (u.includes('#') ? u.slice(0, u.indexOf('#')) : u);
const XSS = '<script>alert(1)</script><img src=x onerror=alert(2)>';

if (!existsSync(CHROMIUM)) {
  t.test('dashboard in Chromium', { skip: `no Chromium at ${CHROMIUM}` }, () => {});
} else {
  const root = mkdtempSync(path.join(tmpdir(), 'fg-dash-'));
  // The real lab run, copied (reports go into RUN_DIR/reports/).
  const demo = path.join(root, 'demo1');
  cpSync(FIXTURE, demo, { recursive: true });
  writeReports(demo, { formats: ['html'] });
  // A synthetic run with hostile guest text in every field that reaches the page.
  const hostile = path.join(root, 'hostile');
  const ids = writeSyntheticRun(hostile, [
    {
      release: 'win11-24h2',
      ubr: 2000,
      driver: 'candidate',
      verifier: 'standard',
      verdict: 'pass',
      measurement: {
        method: 'rounds', rounds: 3, vcpus: 2, agentCpus: null, singleThreaded: false, between: 'unload', ms: { warmup: 1, rounds: 2 },
        filterDelays: [
          {
            workload: 'file-storm', captured: true, tool: 'wpr + wpaexporter (minifilter.wpaProfile; recording 1024 bytes)', file: 'filter-delays-file-storm.json', rows: 12, perEvent: true,
            ours: { filter: 'fgfilter.sys', count: 6, totalUs: 255, meanUs: 42.5, worstP99Us: 42.5 },
            top: [
              { filter: 'fgfilter.sys', operation: 'IRP_MJ_CREATE', count: 6, totalUs: 255, meanUs: 42.5, p50Us: 42.5, p99Us: 42.5, maxUs: 42.5 },
              { filter: XSS, operation: '<img src=x onerror=alert(4)>', count: 6, totalUs: 6, meanUs: 1 },
            ],
          },
          { workload: 'smoke', captured: false, why: `the filter-delay recording failed: ${XSS}` },
        ],
      },
    },
    {
      release: 'win11-24h2',
      ubr: 2000,
      driver: 'candidate',
      verifier: 'lowres',
      verdict: 'product-crash',
      reason: XSS,
      crash: { title: XSS, bucket: `win:0x50:${XSS}`, attribution: 'ours' },
      console: `${XSS}\n</pre><script>alert(3)</script>\n`,
      files: { 'triage.json': JSON.stringify({ title: XSS }) },
    },
    { release: 'server-2022', ubr: 3000, driver: 'previous', verifier: 'standard', verdict: 'infra-error', reason: 'host lost' },
  ]);
  writeReports(hostile, { formats: ['html'] });
  // Issue #17: a run with 95% intervals; its passing good build had a `regressed` comparison on open.
  const lat = (over: number, ci: [number, number] | null, change: 'regressed' | 'no-change' = 'no-change') => ({
    p50Us: 100 + over,
    p99Us: 1000,
    baselineP50Us: 100,
    baselineP99Us: 900,
    change,
    overheadP50Us: over,
    overheadP99Us: 50,
    ...(ci ? { overheadP50CiUs: ci } : {}),
  });
  const measured = path.join(root, 'measured');
  const [goodId, slowId, oldId] = writeSyntheticRun(measured, [
    { driver: 'good', verdict: 'pass', latency: { open: lat(31, [24, 38], 'regressed'), read: lat(2, [-3, 7]) } },
    { driver: 'slow', verdict: 'perf-regression', reason: 'open p50 +2600 µs (budget 500 µs)', latency: { open: lat(2600, [2500, 2700], 'regressed'), read: lat(4, [-4, 12]) } },
    { driver: 'old', verdict: 'pass', latency: { open: lat(31, null) } },
  ]);
  writeReports(measured, { formats: ['html'] });

  let browser: Browser;
  t.before(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  t.teardown(async () => {
    await browser?.close();
  });

  async function open(t: Test, dir: string): Promise<{ page: Page; errors: string[]; dialogs: string[] }> {
    const page = await browser.newPage();
    const errors: string[] = [];
    const dialogs: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    // Nothing but the file itself may load: any other request is a bug (CDN, fetch of local files).
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(path.join(dir, 'reports', 'index.html')).href);
    await page.waitForSelector('#heatmap');
    t.same(requests.filter((u) => !u.endsWith('/reports/index.html')), [], 'the page loads nothing else');
    return { page, errors, dialogs };
  }

  t.test('the demo run dashboard loads with no console errors', async (t) => {
    const { page, errors } = await open(t, demo);
    t.same(errors, []);
    t.equal(await page.locator('#cell-list tbody tr').count(), 5);
    t.match(await page.locator('#counts').innerText(), /product-crash\s*1/);
    t.equal(await page.locator('#bucket-table tbody tr').count(), 2, 'two crash buckets');
    t.ok((await page.locator('#regression-table tbody tr').count()) > 0, 'latency regressions listed');
    await page.close();
  });

  t.test('filtering by verdict hides the other cells', async (t) => {
    const { page, errors } = await open(t, demo);
    await page.selectOption('#filter-verdict', 'product-crash');
    const rows = page.locator('#cell-list tbody tr');
    t.equal(await rows.count(), 1);
    t.equal(await rows.first().getAttribute('data-verdict'), 'product-crash');
    t.equal(await page.locator('#heatmap a.square').count(), 1, 'the heatmap shows only the matching square');
    t.match(await page.locator('#shown').innerText(), /^1 of 5/);
    await page.selectOption('#filter-driver', 'fgfilter');
    t.equal(await rows.count(), 0, 'verdict and driver filters combine');
    await page.click('#filter-clear');
    t.equal(await rows.count(), 5);
    await page.selectOption('#filter-driver', 'fgfilter');
    t.equal(await rows.count(), 2, 'the driver filter alone');
    t.same(errors, []);
    await page.close();
  });

  t.test('a heatmap square opens its cell page with timeline, console and latency plot', async (t) => {
    const { page, errors } = await open(t, demo);
    await page.click('#heatmap a.square[data-verdict="product-crash"]');
    await page.waitForSelector('#cell-title');
    t.match(page.url(), /#\/cell\/597f01bc4528$/);
    t.match(await page.locator('#crash').innerText(), /fgfilter_fail_oops/);
    t.ok((await page.locator('.timeline .step').count()) >= 5, 'step timeline drawn');
    t.ok((await page.locator('.timeline .bar.bad').count()) >= 1, 'the failed step is marked');
    t.match(await page.locator('#console').innerText(), /Kernel panic/);
    // A square holding two cells (plain and coexistence) opens the list of both.
    await page.goto(`${pageBase(page.url())}#/`);
    await page.click('#heatmap a.square[data-cells*=" "]');
    await page.waitForSelector('#group-list');
    t.equal(await page.locator('#group-list tbody tr').count(), 2);
    await page.locator('#group-list tbody tr a').first().click();
    await page.waitForSelector('svg.latency-plot');
    t.ok((await page.locator('svg.latency-plot circle').count()) >= 7, 'latency plot has points per operation');
    t.same(errors, []);
    await page.close();
  });

  t.test('the demo run: every latency regression listed is from a perf-regression cell, the slow build among them', async (t) => {
    const { page, errors } = await open(t, demo);
    const hrefs = await page.locator('#regression-table tbody tr td:first-child a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    const verdicts = await page.locator('#cell-list tbody tr').evaluateAll((rs) => Object.fromEntries(rs.map((r) => [r.getAttribute('data-id'), r.getAttribute('data-verdict')])));
    t.ok(hrefs.length > 0);
    for (const h of hrefs) t.equal(verdicts[h!.replace('#/cell/', '')], 'perf-regression', `${h} is a perf-regression cell`);
    t.ok(hrefs.includes('#/cell/da2b0a513a49'), 'the slow build (fgfilter-slow) is listed');
    t.match(await page.locator('#cell-list tbody tr[data-id="da2b0a513a49"] td.detectable').innerText(), /^no interval$/, 'demo1 kept no intervals: no figure claimed');
    t.same(errors, []);
    await page.close();
  });

  t.test('a run with intervals: the pass cell is not a regression, and says what it would have detected', async (t) => {
    const { page, errors } = await open(t, measured);
    const regRows = page.locator('#regression-table tbody tr');
    t.equal(await regRows.count(), 1, 'only the slow cell’s open step');
    const regText = await regRows.first().innerText();
    t.ok(regText.includes('slow') && regText.includes('open'), regText);
    t.equal(await page.locator(`#regression-table a[href="#/cell/${goodId}"]`).count(), 0, 'the passing good build is not listed');
    t.equal(await page.locator(`#regression-table a[href="#/cell/${slowId}"]`).count(), 1);
    // Open's half-width 7 µs × (1.96 + 0.84)/1.96 ≈ 10 µs, the worst of the good cell's steps.
    const good = page.locator(`#cell-list tbody tr[data-id="${goodId}"]`);
    t.equal(await good.locator('td.detectable').innerText(), '≥ 10 µs (open)');
    t.equal(await good.getAttribute('title'), 'would have detected ≥ 10 µs on open p50');
    const old = page.locator(`#cell-list tbody tr[data-id="${oldId}"]`);
    t.equal(await old.locator('td.detectable').innerText(), 'no interval');
    t.equal(await old.getAttribute('title'), 'no 95% interval recorded: no detectable figure');
    await page.goto(`${pageBase(page.url())}#/cell/${goodId}`);
    await page.waitForSelector('#cell-detectable');
    t.equal(await page.locator('#cell-detectable').innerText(), 'would have detected ≥ 10 µs on open p50 (from the 95% interval, normal approximation)');
    t.match(await page.locator('table.latency').innerText(), /≥ 10 µs/);
    await page.goto(`${pageBase(page.url())}#/cell/${oldId}`);
    await page.waitForSelector('#cell-detectable');
    t.equal(await page.locator('#cell-detectable').innerText(), 'No 95% interval recorded: no detectable figure.');
    t.notMatch(await page.locator('table.latency').innerText(), /≥/, 'no figure without an interval');
    t.same(errors, []);
    await page.close();
  });

  t.test('guest text with <script> shows as text and runs nothing', async (t) => {
    const { page, errors, dialogs } = await open(t, hostile);
    t.match(await page.locator('#bucket-table').innerText(), XSS, 'the crash title is shown as text');
    await page.goto(`${pageBase(page.url())}#/cell/${ids[1]}`);
    await page.waitForSelector('#crash');
    t.equal(await page.locator('#crash .crash-title').innerText(), XSS);
    t.match(await page.locator('#console').innerText(), '</pre><script>alert(3)</script>');
    t.equal(await page.locator('main script, main img').count(), 0, 'no element was made from guest text');
    // The filter stack's recording of a Windows cell: ours in bold, the other filters' names as text.
    await page.goto(`${pageBase(page.url())}#/cell/${ids[0]}`);
    await page.waitForSelector('#filter-delays');
    const delays = page.locator('#filter-delays');
    t.match(await delays.innerText(), /file-storm: wpr \+ wpaexporter .*12 rows; ours \(fgfilter\.sys\): 6 callbacks, 255 µs in all, mean 42\.5 µs/);
    t.equal(await delays.locator('tr.ours td').first().innerText(), 'fgfilter.sys');
    t.equal(await delays.locator('tbody tr').nth(1).locator('td').first().innerText(), XSS);
    t.match(await delays.innerText(), /smoke: not recorded: the filter-delay recording failed: /);
    t.equal(await page.locator('main script, main img').count(), 0, 'none from the recording either');
    await page.waitForTimeout(100);
    t.same(dialogs, [], 'no dialog fired');
    t.same(errors, []);
    // The JSON block cannot be closed early by guest text.
    const html = readFileSync(path.join(hostile, 'reports', 'index.html'), 'utf8');
    t.equal(html.split('</script>').length - 1, 2, 'only the page’s own two script blocks are closed');
    t.notMatch(html, '<script>alert(1)');
    await page.close();
  });
}
