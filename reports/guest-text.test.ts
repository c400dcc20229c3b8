// Issue #16 rows 8 and 9: guest text in the reports. summary.md (row 8): control characters are
// escaped visibly (\x1b...). Allure (row 9): guest text goes in as plain text (HTML-escaped in
// descriptionHtml), never as Markdown Allure would render: an image there is fetched when the
// report is opened.
import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeAllureResults } from './allure.ts';
import { mdText, renderMarkdown } from './markdown.ts';
import { readRunFolder } from './run-folder.ts';
import { writeSyntheticRun } from './synthetic.ts';

const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const HOSTILE = 'x\u001b[2J\u001b]0;owned\u0007\u0000\u009b31m\u202e';

t.test('row 8 (#16): summary.md escapes ESC, BEL, NUL and CSI from crash titles, buckets and reasons', async (t) => {
  t.equal(mdText('a\u001b[31mb\u0007\u0000'), 'a\\\\x1b\\[31mb\\\\x07\\\\x00');
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-guest-md-'));
  writeSyntheticRun(
    dir,
    [
      { verdict: 'product-crash', crash: { title: `panic ${HOSTILE}`, bucket: `linux:${HOSTILE}`, attribution: 'ours' } },
      { verdict: 'infra-error', reason: `host said ${HOSTILE}` },
    ],
    { consoleLogs: false, matrix: `lab${HOSTILE}`, runId: `run${HOSTILE}` },
  );
  const md = renderMarkdown(readRunFolder(dir));
  t.notMatch(md, UNSAFE, JSON.stringify(md));
  t.match(md, 'host said x\\\\x1b\\[2J\\\\x1b\\]0;owned\\\\x07\\\\x00\\\\x9b31m\\\\u202e');
  t.match(md, '`runx\\x1b[2J\\x1b]0;owned\\x07\\x00\\x9b31m\\u202e`', 'the run id in its code span, escaped');
});

interface AllureResult {
  historyId: string;
  description?: string;
  descriptionHtml?: string;
  [key: string]: unknown;
}

function results(dir: string): AllureResult[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('-result.json'))
    .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as AllureResult);
}

// What Allure renders as Markdown: an image or a link with a URL, or raw HTML that loads one.
const MD_IMAGE = /!\[[^\]]*\]\(\s*<?(?:https?:)?\/\//i;
const MD_LINK = /\[[^\]]*\]\(\s*<?(?:https?:)?\/\//i;

t.test('row 9 (#16): guest Markdown images and HTML reach Allure as plain text only', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-guest-allure-'));
  const evil = '![x](http://attacker.example/track.png) [click](https://attacker.example/) <img src="http://attacker.example/i.png"> & done';
  writeSyntheticRun(dir, [
    { id: 'i', verdict: 'infra-error', reason: evil },
    { id: 'c', verdict: 'product-crash', reason: evil, crash: { title: evil, bucket: 'b', attribution: 'ours' } },
    { id: 'p', verdict: 'pass' },
  ], { consoleLogs: false });
  const out = path.join(dir, 'ar');
  writeAllureResults(readRunFolder(dir), out);
  const rs = results(out);
  t.equal(rs.length, 3);
  for (const r of rs) {
    // `description` is Markdown to Allure (its plugin turns it into HTML): no guest text there at all.
    t.equal(r.description, undefined, `${r.historyId}: no Markdown description`);
    t.notMatch(r.description ?? '', MD_IMAGE);
    t.notMatch(r.description ?? '', MD_LINK);
    t.match(r.descriptionHtml, /^<pre>[^]*<\/pre>$/, `${r.historyId}: the description as preformatted text`);
    t.notMatch(r.descriptionHtml, /<(?!\/?pre>)/, `${r.historyId}: no tag but <pre>`);
  }
  const i = rs.find((r) => r.historyId === 'i')!;
  t.match(i.descriptionHtml, '![x](http://attacker.example/track.png) [click](https://attacker.example/) &lt;img src=&quot;http://attacker.example/i.png&quot;&gt; &amp; done', 'the text is kept, escaped');
});
