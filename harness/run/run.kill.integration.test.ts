// The controller killed with SIGKILL in the middle of a real lab run (VMs up, workloads running), then
// resumed: every cell ends with exactly one final result, nothing is run twice that had ended, and no
// QEMU is left behind at any point after the kill.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labImageForTests } from '../../images/lab/for-tests.ts';
import { CLI, REPO } from '../cli/run-cli.test-helper.ts';

const image = await labImageForTests();
const skip = (!existsSync('/usr/bin/qemu-system-x86_64') && 'qemu-system-x86_64 is not installed') || ('missing' in image ? image.missing : false);
if (skip) t.comment(`SKIP: ${skip}`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function qemuOf(dir: string): string[] {
  const r = spawnSync('pgrep', ['-a', '-f', `qemu-system.*${dir}`], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean);
}

function journal(dir: string): Array<{ type: string; cell?: string }> {
  if (!existsSync(join(dir, 'journal.ndjson'))) return [];
  return readFileSync(join(dir, 'journal.ndjson'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return []; // a torn last line: exactly what a SIGKILL can leave
      }
    });
}

t.test('SIGKILL mid-run, resume: one final result per cell, no QEMU left', { skip, timeout: 1_200_000 }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'fg-kill-'));
  // A short workload so the test spends its time on the lifecycle, not on file operations.
  writeFileSync(join(work, 'quick.yaml'), 'name: quick\ndescription: a few opens\noperations:\n  - op: create\n    files: 200\n  - op: open\n    count: 400\n    files: 200\n  - op: delete\n    files: 200\n');
  writeFileSync(
    join(work, 'm.yaml'),
    `name: kill-test\nfilters:\n  partnerflt: { path: ${REPO}driver/lab }\naxes:\n  os: [lab]\n  driver:\n    - { name: fgfilter, path: ${REPO}driver/lab }\n    - { name: fgfilter-b, path: ${REPO}driver/lab, params: { delay_us: 1 } }\n  workloads: [quick.yaml]\n  coexist: [[], [partnerflt]]\n`,
  );
  const out = join(work, 'run');
  const env = { ...process.env, CI: '1', FLEETGATE_STATE: join(work, 'state') };
  const child = spawn(process.execPath, [CLI, 'run', join(work, 'm.yaml'), '--out', out, '--slots', '2'], { env, stdio: 'ignore' });
  // Kill once the second attempt is well into its workload (its VM up, its SSH session open). Lab cells
  // measure latency and hold both cores, so they run one at a time: the first has ended by then.
  const deadline = Date.now() + 600_000;
  while (Date.now() < deadline) {
    const ev = journal(out);
    if (ev.filter((e) => e.type === 'step-begin' && (e as { step?: string }).step === 'workload').length >= 2) break;
    await sleep(500);
  }
  t.ok(qemuOf(out).length > 0, 'VMs were running when the controller was killed');
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  // QEMU runs with a parent-death signal: it must be gone within seconds.
  let left = qemuOf(out);
  for (let i = 0; i < 20 && left.length; i++) {
    await sleep(500);
    left = qemuOf(out);
  }
  t.same(left, [], 'no QEMU outlives the killed controller');
  const endedBefore = journal(out).filter((e) => e.type === 'cell-end').map((e) => e.cell);

  const resumed = spawnSync(process.execPath, [CLI, 'run', '--resume', out], { env, encoding: 'utf8', timeout: 900_000 });
  // Exit 2 is a verdict too (a cell whose latency the short workload left undecided: latency-inconclusive);
  // what must not happen is a cell left without one, or one that is the infrastructure's.
  t.ok([0, 1, 2].includes(resumed.status ?? -1), `resume finished with verdicts (exit ${resumed.status}): ${resumed.stderr.slice(-500)}`);
  t.same(qemuOf(out), [], 'no QEMU left after the resumed run');

  const events = journal(out);
  const cellEnds = events.filter((e) => e.type === 'cell-end');
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { cells: Array<{ id: string; verdict: string }> };
  t.equal(summary.cells.length, 4, 'four cells in the summary');
  for (const c of summary.cells) {
    t.equal(cellEnds.filter((e) => e.cell === c.id).length, 1, `cell ${c.id} has exactly one final result (${c.verdict})`);
    t.not(c.verdict, 'infra-error', `cell ${c.id} got a verdict after the resume`);
  }
  for (const id of endedBefore) t.ok(summary.cells.some((c) => c.id === id), `cell ${id}, ended before the kill, kept`);
  t.ok(events.some((e) => e.type === 'attempt-abandoned'), 'the attempts the kill cut short are recorded as abandoned');
});
