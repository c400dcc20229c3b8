import t from 'tap';
import { fakeCells } from '../fake-runner.ts';
import type { HostSpec } from '../hosts.ts';
import { progressReporter } from './index.ts';
import { LineReporter } from './lines.ts';
import { LiveReporter } from './live.ts';
import { ReporterMultiplexer } from './multiplexer.ts';
import type { Reporter } from './reporter.ts';
import { decideScreen } from './screen.ts';

const ANSI = /\u001B\[/;
const hosts: HostSpec[] = [{ name: 'h1', provider: 'qemu', reach: 'local', slots: 2, memoryMiB: 8192, images: ['*'] }];
const [c0, c1] = fakeCells(2);

function drive(r: Reporter): void {
  r.onRunBegin?.({ runId: 'r1', runDir: '/runs/r1', matrix: 'lab', total: 2, alreadyDone: 0, alreadyFailed: 0, resumed: false, hosts });
  r.onAttemptBegin?.({ cell: c0!, attempt: 1, host: 'h1', slot: 1 });
  r.onStep?.({ cell: c0!, attempt: 1, host: 'h1', slot: 1, event: { type: 'step-begin', step: 'workload' } });
  r.onAttemptBegin?.({ cell: c1!, attempt: 1, host: 'h1', slot: 2 });
  r.onAttemptEnd?.({ cell: c0!, attempt: 1, host: 'h1', slot: 1, ms: 1200, willRetry: false, result: { verdict: 'pass', steps: [], evidence: [] } });
  r.onCellEnd?.({ cell: c0!, verdict: 'pass', attempts: 1, flaky: false, ms: 1200 });
  r.onAttemptEnd?.({ cell: c1!, attempt: 1, host: 'h1', slot: 2, ms: 900, willRetry: false, result: { verdict: 'product-crash', reason: 'BUGCHECK 0xD1', steps: [], evidence: [] } });
  r.onCellEnd?.({ cell: c1!, verdict: 'product-crash', attempts: 1, flaky: true, reason: 'BUGCHECK 0xD1', ms: 900 });
  r.onHostQuarantined?.({ host: 'h1', reason: '3 infra errors in a row' });
  r.onRunEnd?.({ runId: 'r1', runDir: '/runs/r1', outcome: 'failed', exitCode: 1, counts: { pass: 1, 'product-crash': 1 }, cells: 2, stopped: null, summaryFile: '/runs/r1/summary.json' });
}

t.test('the screen is decided once from the environment', async (t) => {
  t.equal(decideScreen({}, { isTTY: true }).tty, true);
  t.equal(decideScreen({ CI: '1' }, { isTTY: true }).tty, false, 'CI gets lines');
  t.equal(decideScreen({}, { isTTY: false }).tty, false, 'a pipe gets lines');
  t.equal(decideScreen({ CI: '1', FLEETGATE_FORCE_TTY: '1' }, { isTTY: false }).tty, true, 'forced');
  t.equal(decideScreen({ HARNESS_FORCE_TTY: '1' }, {}).tty, true);
  t.equal(decideScreen({ FLEETGATE_FORCE_TTY: '0' }, { isTTY: true }).tty, false);
  t.equal(decideScreen({ NO_COLOR: '' }, { isTTY: true }).color, false);
});

t.test('the CI reporter prints plain lines, one per event, no ANSI', async (t) => {
  let out = '';
  drive(new LineReporter((s) => (out += s)));
  t.notMatch(out, ANSI);
  const lines = out.trimEnd().split('\n');
  t.match(lines[0], /^run r1 begins: matrix lab, 2 cells, hosts h1×2/);
  t.ok(lines.some((l) => /^\[1\/2\] · pass fake-000 lab fgfilter none file-storm in 1s$/.test(l)));
  t.ok(lines.some((l) => /^\[2\/2\] ± product-crash \(flaky\) fake-001 .*: BUGCHECK 0xD1$/.test(l)));
  t.ok(lines.some((l) => /^host {3}h1 quarantined/.test(l)));
  t.match(lines.at(-1), /^run r1 failed \(exit 1\): pass 1, product-crash 1; summary \/runs\/r1\/summary.json$/);
});

t.test('the live view uses ANSI only when it is chosen', async (t) => {
  let out = '';
  const stream = { isTTY: false, write: (s: string) => ((out += s), true) } as unknown as NodeJS.WritableStream;
  drive(progressReporter(stream, { CI: '1' }));
  t.notMatch(out, ANSI, 'CI: lines');
  out = '';
  const live = progressReporter(stream, { CI: '1', FLEETGATE_FORCE_TTY: '1' });
  t.ok(live instanceof LiveReporter);
  drive(live);
  t.match(out, /\u001B\[\d+F\u001B\[0J/, 'redraws in place');
  t.match(out, /\[2\/2\] r1/);
  t.match(out, /1 failed/);
});

t.test('the live frame shows slots, failures and an ETA from the median cell time', async (t) => {
  let now = 0;
  const live = new LiveReporter({ write: () => {}, screen: { tty: true, columns: 120, color: false }, tickMs: 0, now: () => now });
  live.onRunBegin({ runId: 'r1', runDir: '/r', matrix: 'm', total: 4, alreadyDone: 0, alreadyFailed: 0, resumed: false, hosts });
  live.onAttemptBegin({ cell: c0!, attempt: 2, host: 'h1', slot: 1 });
  live.onCellEnd({ cell: c1!, verdict: 'pass', attempts: 1, flaky: false, ms: 60_000 });
  now = 5000;
  const f = live.frame();
  t.match(f[0], /^\[1\/4\] r1 {2}·$/);
  t.match(f[1], /0 failed · 0 infra · elapsed 5s · ETA 1m30s \(median cell 1m00s\)/);
  t.match(f[2], /h1 +1: fake-000 .* \(attempt 2\) · starting · 5s/);
  t.match(f[3], /2: idle/);
  live.onRunEnd({ runId: 'r1', runDir: '/r', outcome: 'passed', exitCode: 0, counts: {}, cells: 4, stopped: null, summaryFile: '/r/s' });
});

t.test('the multiplexer keeps going when a reporter throws', async (t) => {
  const got: string[] = [];
  const m = new ReporterMultiplexer([
    { onNotice: () => { throw new Error('boom'); } },
    { onNotice: (msg) => got.push(msg), onReporterError: (e, hook) => got.push(`${hook}: ${(e as Error).message}`) },
  ]);
  m.onNotice('hello');
  t.same(got, ['onNotice: boom', 'hello']);
  t.equal(m.errors.length, 1);
});

t.test('row 8 (#16): guest text in reasons reaches the CI log and the live view with its controls escaped', async (t) => {
  const hostile = 'panic\x1b[2J\x1b]0;owned\x07 line\nfake [9/9] pass';
  const feed = (r: Reporter): void => {
    r.onRunBegin?.({ runId: 'r1', runDir: '/runs/r1', matrix: 'lab', total: 1, alreadyDone: 0, alreadyFailed: 0, resumed: false, hosts });
    r.onAttemptEnd?.({ cell: c0!, attempt: 1, host: 'h1', slot: 1, ms: 9, willRetry: true, result: { verdict: 'infra-error', reason: hostile, steps: [], evidence: [] } });
    r.onCellEnd?.({ cell: c0!, verdict: 'product-crash', attempts: 1, flaky: false, reason: hostile, ms: 9 });
    r.onHostQuarantined?.({ host: 'h1', reason: hostile });
  };
  let out = '';
  feed(new LineReporter((s) => (out += s)));
  t.notMatch(out, /[\x00-\x09\x0b-\x1f\x7f]/, 'no control but the line ends');
  t.equal(out.trimEnd().split('\n').length, 4, 'one line per event: the guest cannot start a line of its own');
  t.match(out, 'panic\\x1b[2J\\x1b]0;owned\\x07 line\\x0afake [9/9] pass');
  let live = '';
  const screen = { tty: true, color: false, columns: 200 };
  const r = new LiveReporter({ write: (s) => (live += s), screen, now: () => 0, minRedrawMs: 0 } as ConstructorParameters<typeof LiveReporter>[0]);
  feed(r);
  t.notMatch(live.replace(/\u001b\[\d*[FJ]/g, ''), /\x1b|\x07/, 'the live view draws its own escapes only');
  t.match(live, 'quarantined (panic\\x1b[2J');
});
