// Issue #16 row 8: guest text (console lines, dump and debugger module names) may hold ESC, BEL, NUL
// and CSI sequences. Crash titles and bucket ids are made from printable characters only, where they
// are made, so every sink (summary.json, reports, terminals, bucket matching) gets the clean one.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bucketCrash } from './bucket.ts';
import { parseLinuxConsole } from './linux.ts';

// C0 (ESC, BEL, NUL, CR, LF, TAB...), DEL, C1 (U+009B is an 8-bit CSI), line separators, bidi controls.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]/;
const HOSTILE = 'x\u001b[2J\u001b]0;owned\u0007\u0000\u009b31m\u202e';

const PANIC_LOG = readFileSync(fileURLToPath(new URL('./testdata/linux/002-panic.log', import.meta.url)), 'utf8');
const panicLog = (message: string): string => PANIC_LOG.slice(PANIC_LOG.indexOf('\n\n') + 2).replace('fgfilter: panic trigger fired in the open path', message);

t.test('row 8 (#16): a Linux panic message with ESC, BEL, NUL and CSI gives a printable title, escaped visibly', async (t) => {
  const r = parseLinuxConsole(panicLog(`fgfilter: boom ${HOSTILE}`));
  t.ok(r, 'the panic is found');
  t.notMatch(r!.title, UNPRINTABLE, JSON.stringify(r!.title));
  t.match(r!.title, 'kernel panic: fgfilter: boom x\\x1b[2J\\x1b]0;owned\\x07\\x00\\x9b31m\\u202e');
  t.equal(r!.module, 'fgfilter', 'the module is still found');
});

t.test('row 8 (#16): "kernel BUG at <file>" with control characters in the file gives a printable title', async (t) => {
  const r = parseLinuxConsole(`[    1.000000] kernel BUG at fs/\u001b[31mopen\u0007.c:12!\n[    1.000001] ---[ end trace 0000000000000000 ]---\n`);
  t.ok(r);
  t.notMatch(r!.title, UNPRINTABLE, JSON.stringify(r!.title));
  t.match(r!.title, 'kernel BUG at fs/\\x1b[31mopen\\x07.c:12');
});

t.test('row 8 (#16): bucket ids, alternatives and reasons from guest text are printable', async (t) => {
  const linux = bucketCrash({ kind: 'linux-console', title: `kernel panic: ${HOSTILE}`, module: `evil${HOSTILE}`, function: `f${HOSTILE}` }, { ours: [] });
  const win = bucketCrash(
    { kind: 'kd', code: 0x7e, params: ['0xc0000005', `0x1${HOSTILE}`, '0x0', '0x0'], module: `Ours${HOSTILE}.sys`, function: `Fn${HOSTILE}`, frames: [{ module: `ours${HOSTILE}`, function: `g\u0007` }] },
    { ours: [`ours${HOSTILE}`] },
  );
  for (const b of [linux, win]) {
    for (const s of [b.id, ...b.alternatives, b.instance ?? '', b.module ?? '', b.function ?? '', b.ourFrame ?? '', b.attributionReason]) {
      t.notMatch(s, UNPRINTABLE, JSON.stringify(s));
    }
  }
  t.equal(linux.id, 'linux:evilx\\x1b[2j\\x1b]0;owned\\x07\\x00\\x9b31m\\u202e:kernel panic: x\\x1b[2J\\x1b]0;owned\\x07\\x00\\x9b31m\\u202e');
  t.equal(win.id, 'win:0x7E:oursx\\x1b[2j\\x1b]0;owned\\x07\\x00\\x9b31m\\u202e');
  t.equal(win.attribution, 'ours', 'our module is still recognised by its (escaped) name');
  t.equal(win.attributionReason, 'blamed module oursx\\x1b[2j\\x1b]0;owned\\x07\\x00\\x9b31m\\u202e is ours');
});

t.test('row 8 (#16): plain titles and ids are unchanged', async (t) => {
  const r = parseLinuxConsole(panicLog('fgfilter: panic trigger fired in the open path'));
  t.equal(r!.title, 'kernel panic: fgfilter: panic trigger fired in the open path');
  t.equal(bucketCrash({ kind: 'kd', code: 0xc4, params: ['0x62', '0x0', '0x0', '0x0'], module: 'echosrv.sys', function: 'Unload' }, { ours: [] }).id, 'win:0xC4/0x62:echosrv');
});

t.test('row 8 (#16): a Windows crash title naming a dump\'s driver with control characters is printable', async (t) => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  const { triageDump } = await import('./windows/testdata/build-dump.ts');
  const { windowsCrashReport } = await import('./windows/report.ts');
  const base = 0xfffff80010000000n;
  const drivers = [
    { path: '\\SystemRoot\\system32\\ntoskrnl.exe', base: 0xfffff80000000000n, size: 0x1000000, timestamp: 1 },
    { path: '\\SystemRoot\\System32\\drivers\\ev\u001b[2Jil\u0007.sys', base, size: 0x10000, timestamp: 2 },
  ];
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'fg-guest-dump-')), 'triage.dmp');
  writeFileSync(file, triageDump({ drivers, brokenIndex: 1, code: 0x7e, params: [0xc0000005n, base + 0x1234n, 0n, 0n] }));
  const r = await windowsCrashReport({ code: '0x7E', params: ['0xc0000005', `0x${(base + 0x1234n).toString(16)}`, '0x0', '0x0'] }, [file]);
  t.ok(r, 'a report');
  t.notMatch(r!.title, UNPRINTABLE, JSON.stringify(r!.title));
  t.match(r!.title, /^0x7E SYSTEM_THREAD_EXCEPTION_NOT_HANDLED in ev\\x1b\[2jil\\x07$/);
});
