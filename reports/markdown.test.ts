import t from 'tap';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mdText, renderMarkdown } from './markdown.ts';
import { readRunFolder } from './run-folder.ts';
import { writeSyntheticRun } from './synthetic.ts';

const FIXTURE = fileURLToPath(new URL('./testdata/demo1', import.meta.url));

t.test('the lab run: counts, failures first with buckets, latency regressions', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-md-'));
  cpSync(FIXTURE, dir, { recursive: true });
  const md = renderMarkdown(readRunFolder(dir));
  t.match(md, /## fleetgate: lab ❌ failed/);
  t.match(md, /\| ❌ product-crash \| 1 \|\n\| ❌ product-hang \| 1 \|\n\| ❌ perf-regression \| 3 \|/);
  const failures = md.slice(md.indexOf('### Failures'));
  t.ok(failures.indexOf('product-crash') < failures.indexOf('perf-regression'), 'crashes before regressions');
  t.match(md, /linux:BUG: kernel NULL pointer dereference in fgfilter\\_fail\\_oops, ours/);
  t.match(md, /### Latency regressions \(10\)/);
  t.match(md, /\| lab · fgfilter-slow · verifier=none · file-storm \| open-parallel \| 21,983 µs \| 2,836 µs \| \+19,147 µs \|/);
});

t.test('guest text cannot add markup, links or table columns', async (t) => {
  t.equal(mdText('<img src=x onerror=alert(1)> | [a](http://x) `c` *b*'), '&lt;img src=x onerror=alert\\(1\\)&gt; \\| \\[a\\]\\(http://x\\) \\`c\\` \\*b\\*');
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-md-'));
  writeSyntheticRun(dir, [{ verdict: 'product-crash', crash: { title: '<script>alert(1)</script>|x', bucket: 'b|<b>', attribution: 'ours' } }, { verdict: 'infra-error', reason: 'line1\nline2 | col' }], { consoleLogs: false });
  const md = renderMarkdown(readRunFolder(dir));
  t.notMatch(md, '<script>');
  t.notMatch(md, '<b>');
  for (const line of md.split('\n').filter((l) => l.startsWith('| product-crash') || l.startsWith('| infra-error'))) {
    t.equal(line.split(/(?<!\\)\|/).length - 2, 3, `three columns: ${line}`);
  }
});

t.test('a passing run says so; long lists are cut', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-md-'));
  writeSyntheticRun(dir, [{ verdict: 'pass' }, { verdict: 'pass' }], { consoleLogs: false });
  t.match(renderMarkdown(readRunFolder(dir)), /✅ passed/);
  const many = mkdtempSync(path.join(tmpdir(), 'fg-md-'));
  writeSyntheticRun(many, Array.from({ length: 12 }, () => ({ verdict: 'test-error' as const })), { consoleLogs: false });
  const md = renderMarkdown(readRunFolder(many), { maxFailures: 5 });
  t.match(md, /⚠️ inconclusive/);
  t.match(md, /…and 7 more/);
});
