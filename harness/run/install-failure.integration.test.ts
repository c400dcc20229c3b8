// A driver the guest's kernel refuses to load is the cell's install-failure, with the kernel's words
// as evidence: here the lab module with a parameter value the kernel rejects (delay_us=many), for real
// (QEMU, the lab guest, insmod). Host-side work (building, sending the module) is not in the install
// step, so it can never be this verdict.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labImageForTests } from '../../images/lab/for-tests.ts';
import { CLI, REPO } from '../cli/run-cli.test-helper.ts';

const image = await labImageForTests();
const skip = (!existsSync('/usr/bin/qemu-system-x86_64') && 'qemu-system-x86_64 is not installed') || ('missing' in image ? image.missing : false);
if (skip) t.comment(`SKIP: ${skip}`);

t.test('the kernel refusing our module: install-failure, insmod and dmesg in install.txt', { skip, timeout: 1_800_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-install-'));
  writeFileSync(join(dir, 'tiny.yaml'), 'name: tiny\ndefaults: { dir: tiny, files: 20, fileSize: 512 }\noperations:\n  - op: create\n  - op: open\n    count: 40\n');
  writeFileSync(
    join(dir, 'm.yaml'),
    `name: refused\naxes:\n  os: [lab]\n  driver:\n    - { name: fgfilter-badparam, path: ${join(REPO, 'driver', 'lab')}, params: { delay_us: many } }\n  workloads: [./tiny.yaml]\n`,
  );
  const out = join(dir, 'run');
  const r = spawnSync(process.execPath, [CLI, 'run', join(dir, 'm.yaml'), '--out', out, '--no-report'], {
    cwd: REPO,
    env: { ...process.env, CI: '1', FLEETGATE_STATE: join(dir, 'state') },
    encoding: 'utf8',
    timeout: 1_700_000,
  });
  t.equal(r.status, 1, `a product failure: ${r.stderr.slice(-600)}`);
  const cell = (JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { cells: Array<{ id: string; verdict: string; attempts: number; reason?: string; evidence?: string[] }> }).cells[0]!;
  t.equal(cell.verdict, 'install-failure');
  t.equal(cell.attempts, 1, 'never retried');
  t.match(cell.reason, /^install: .*insmod fgfilter refused/);
  const evidence = readFileSync(join(out, 'cells', cell.id, 'attempt-1', 'install.txt'), 'utf8');
  t.match(evidence, /insmod: .*(Invalid|invalid)/, 'insmod says why');
  t.match(evidence, /fgfilter: .*many.*delay_us|delay_us.*many/, "and so does the kernel's log");
});
