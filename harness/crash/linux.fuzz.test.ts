// Fuzz test of the Linux console reader (issue #16), seeded from the golden console logs in
// testdata/linux, mutated (lines inserted, deleted, duplicated, long lines, blank runs, control
// characters, cuts, random characters). Fixed seed, bounded sizes.
import t from 'tap';
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LINUX_CONSOLE_MAX_CHARS, LINUX_CONSOLE_MAX_LINE_CHARS, parseLinuxConsole, readLinuxConsole } from './linux.ts';
import { CRASH_KINDS } from './types.ts';
import { exceedsBounds, mutatedText } from '../../lib/testdata/mutate.ts';

const dir = fileURLToPath(new URL('./testdata/linux/', import.meta.url));
// Each golden file: header lines, a blank line, then the console log.
const seeds = readdirSync(dir).filter((f) => f.endsWith('.log')).sort().map((f) => {
  const text = readFileSync(join(dir, f), 'utf8');
  return text.slice(text.indexOf('\n\n') + 2);
});
const bounds = { maxChars: LINUX_CONSOLE_MAX_CHARS, maxLineChars: LINUX_CONSOLE_MAX_LINE_CHARS };

t.test('console reader: mutated real logs never throw, and reports are well-formed', async (t) => {
  t.ok(seeds.length >= 5, `${seeds.length} seed logs`);
  let reports = 0;
  let none = 0;
  let cut = 0;
  fc.assert(
    fc.property(mutatedText(seeds), (text) => {
      const { report: r, truncated } = readLinuxConsole(text);
      const over = exceedsBounds(text, bounds);
      if (over !== (truncated !== null)) throw new Error(`over the bounds: ${over}, said: ${truncated !== null}`);
      if (over) cut++;
      if (!r) {
        none++;
        return;
      }
      reports++;
      const lineCount = text.split('\n').length;
      if (!(CRASH_KINDS as readonly string[]).includes(r.kind)) throw new Error(`kind ${r.kind}`);
      if (typeof r.title !== 'string' || r.title === '' || r.title.includes('\n')) throw new Error(`title ${JSON.stringify(r.title)}`);
      if (!(r.startLine >= 1 && r.startLine <= r.endLine && r.endLine <= lineCount)) throw new Error(`lines ${r.startLine}-${r.endLine} of ${lineCount}`);
      for (const f of r.frames) if (typeof f.function !== 'string' || f.function === '') throw new Error('a frame without a function');
      if (typeof r.corrupted !== 'boolean') throw new Error('corrupted is not a boolean');
      if (over !== (r.truncated !== undefined)) throw new Error(`report: over the bounds ${over}, said ${r.truncated !== undefined}`);
    }),
    { seed: 1616, numRuns: 1500 },
  );
  t.ok(reports > 0 && none > 0 && cut > 0, `${reports} reports, ${none} logs without a crash, ${cut} cut to the bounds`);
});

t.test('console reader: a log over LINUX_CONSOLE_MAX_CHARS is read up to it and said to be cut', async (t) => {
  const filler = '[    1.000000] systemd[1]: Started Journal Service.\n';
  const crashFirst = `${seeds[0]}\n${filler.repeat(Math.ceil(LINUX_CONSOLE_MAX_CHARS / filler.length))}`;
  const r = parseLinuxConsole(crashFirst);
  t.ok(r, 'the crash before the bound is found');
  t.match(r?.truncated, { inputChars: crashFirst.length, keptChars: LINUX_CONSOLE_MAX_CHARS });
  t.match(r?.truncated?.note, /^console log truncated: /);
  const crashAfter = `${filler.repeat(Math.ceil(LINUX_CONSOLE_MAX_CHARS / filler.length))}${seeds[0]}`;
  const late = readLinuxConsole(crashAfter);
  t.equal(late.report, null, 'a crash after the bound is not read');
  t.ok(late.truncated, 'and the reader says the log was cut');
});

t.test('console reader: ESC, NUL and BEL in a panic message do not break it', async (t) => {
  const r = parseLinuxConsole('[    5.000000] Kernel panic - not syncing: fg\x1b[2Jfilter:\x00 bad\x07 state\n[    5.000001] ---[ end Kernel panic - not syncing ]---\n');
  t.equal(r?.kind, 'PANIC');
  // Row 8 (#16): read as it is, and the title made from printable characters (controls as \x1b...).
  t.equal(r?.title, 'kernel panic: fg\\x1b[2Jfilter:\\x00 bad\\x07 state', 'controls in the title escaped visibly');
  t.equal(r?.corrupted, false);
});

t.test('console reader: many panic markers on one long line are read once', async (t) => {
  // As a regular expression (`Kernel panic - not syncing: (.*)$`) each marker rescanned the rest of the line.
  const line = 'Kernel panic - not syncing: '.repeat(100);
  const r = parseLinuxConsole(line);
  t.equal(r?.kind, 'PANIC');
  t.equal(r?.title, `kernel panic: ${'Kernel panic - not syncing: '.repeat(99).trim()}`);
});
